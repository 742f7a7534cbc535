"""The ``mmot`` command.

Exit codes: 0 success; 2 bad input (one line ``error: ...`` on stderr, nothing written);
3 the solver did not reach a certified / converged answer (the result is still printed);
143 terminated by SIGTERM (temporary files removed, nothing half written).  Every output path is
checked (:func:`check_outputs`) before a subcommand does any work.

Standard output carries only what this package prints: while a command runs, file descriptor 1
is pointed at standard error, so banners and logs that native libraries (HiGHS, Clarabel, SCS,
Pyomo solvers) write to the C-level stdout land on stderr.  Under ``--json`` a command hands its
one document to :func:`emit_json`, and :func:`main` prints it on the real stdout after the
command has finished: stdout is then exactly one JSON document.

The other subcommands live in :mod:`mmot_models.commands`; :data:`mmot_models.commands.COMMANDS`
holds their ``register_cli(subparsers)`` functions (each adds a parser whose ``func`` attribute runs
the command and returns an exit code).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "build_parser", "emit_json", "methods_document", "OPTIONS_HELP", "write_json_atomic",
           "check_outputs", "solution_exit_code", "EXIT_OK", "EXIT_BAD_INPUT", "EXIT_NOT_CERTIFIED",
           "EXIT_TERMINATED", "PLANLESS_METHODS", "TERM_GRACE_S"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_NOT_CERTIFIED = 0, 2, 3

def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    from .errors import MMOTInputError

    out: dict[str, Any] = {}
    for item in pairs or []:
        if "=" not in item:
            raise MMOTInputError(f"--option expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def write_json_atomic(data: Any, path: str | os.PathLike, *, what: str = "--output") -> None:
    """Write ``data`` as JSON to ``path`` through :func:`mmot_models.fileio.atomic_write_text`."""
    from .fileio import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1, default=_json_default) + "\n", what=what)


class _JsonChannel:
    """The pending JSON document of the running command (one per command)."""

    def __init__(self) -> None:
        self.documents: list[str] = []


_CHANNEL: _JsonChannel | None = None


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout.

    Inside :func:`main` the document is held back and written to the real stdout when the command
    has finished (after native libraries can no longer write there); outside it is printed at once.
    """
    text = json.dumps(data, indent=1, allow_nan=False, default=_json_default)
    if _CHANNEL is None:
        print(text)
        return
    if _CHANNEL.documents:
        raise RuntimeError("a command may emit only one JSON document")
    _CHANNEL.documents.append(text)


@contextlib.contextmanager
def _stdout_reserved(json_mode: bool):
    """Point file descriptor 1 at stderr for the duration of a command.

    Native code (HiGHS's banner, solver logs) then writes to stderr.  In ``json_mode`` Python-level
    writes to ``sys.stdout`` go to stderr too and :func:`emit_json` documents are collected in the
    yielded channel; otherwise ``sys.stdout`` keeps writing to the original stdout.
    """
    global _CHANNEL
    channel = _JsonChannel()
    saved = None
    human_stdout = None
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - closed streams
        pass
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no fd 1 or fd 2 (a daemon): nothing to protect
        if saved is not None:
            os.close(saved)
        saved = None
    old_stdout, old_channel = sys.stdout, _CHANNEL
    on_fd1 = saved is not None and _is_process_stdout(old_stdout)
    if on_fd1 and not json_mode:
        # the package's own human output still goes to the original stdout
        human_stdout = io.TextIOWrapper(io.FileIO(os.dup(saved), "w"), encoding=old_stdout.encoding,
                                        errors=old_stdout.errors, line_buffering=True)
        sys.stdout = human_stdout
    elif json_mode and not on_fd1:
        # sys.stdout is not fd 1 (a test's capture, a notebook): Python-level writes go to stderr.
        # (On fd 1 it already writes to stderr; making it the stderr object itself would confuse
        # Pyomo's fd-level output capture, which then deadlocks.)
        sys.stdout = sys.stderr
    _CHANNEL = channel if json_mode else None
    try:
        yield channel
    finally:
        _CHANNEL = old_channel
        if human_stdout is not None:
            human_stdout.flush()
        sys.stdout = old_stdout
        if saved is not None:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):  # pragma: no cover
                pass
            _flush_c_stdio()  # text a native library left in the C stdout buffer goes to stderr too
            os.dup2(saved, 1)
            os.close(saved)
        if human_stdout is not None:
            human_stdout.close()


def _flush_c_stdio() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # pragma: no cover - no C library to flush
        pass


def _is_process_stdout(stream: Any) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):
        return False


def _headless_matplotlib() -> None:
    """Let the CLI draw without a display: Agg unless the user chose a backend (``MPLBACKEND``)
    or pyplot is already in use.  Library imports never switch the backend."""
    if os.environ.get("MPLBACKEND") or "matplotlib.pyplot" in sys.modules:
        return
    if "matplotlib" in sys.modules:
        import matplotlib
        matplotlib.use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def solution_exit_code(sol) -> int:
    return EXIT_OK if sol.status.ok else EXIT_NOT_CERTIFIED


#: Where the per-method options are listed (used in the help of the solving commands).
OPTIONS_HELP = ("Each method declares its options (name, type, default, domain): list them with "
                "`mmot methods` (or `mmot methods --json`); give any of them as --option KEY=VALUE. "
                "Unknown, misspelt or out-of-domain options are an error (exit 2).")


def _method_names() -> str:
    from .solve import METHODS

    return ", ".join(["auto", *METHODS])


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="auto", help=f"one of {_method_names()} (default: auto)")
    p.add_argument("--backend", default="highs", choices=["highs", "pyomo"], help="LP backend (default highs)")
    p.add_argument("--pyomo-solver", default=None,
                   help="Pyomo solver name for --backend pyomo (default appsi_highs)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds")
    p.add_argument("--threads", type=int, default=None, help="solver threads (1 to the number of CPUs)")
    p.add_argument("--memory-limit-gb", type=float, default=None, help="refuse LPs estimated above this size")
    p.add_argument("--eps", type=float, default=None, help="entropic regularisation (method entropic)")
    p.add_argument("--k", type=int, default=None, help="k of the k-representability relaxation (method krep)")
    p.add_argument("--tol", type=float, default=None,
                   help="the method's stopping tolerance (colgen: relative gap; entropic: L1 marginal error; "
                        "see `mmot methods`)")
    p.add_argument("--moments", default=None, metavar="SPEC",
                   help="test functions of method mcot/moments, e.g. hats:20, cells:n, relu:n, monomials:k")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any option the method declares (see `mmot methods`); the value is parsed as JSON when "
                        "possible, then checked against the method's schema; repeatable")
    p.add_argument("--verbose", action="store_true", help="show solver logs")


def _collect_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for name in ("time_limit", "threads", "memory_limit_gb", "eps", "k", "tol", "moments"):
        v = getattr(args, name, None)
        if v is not None:
            opts[name] = v
    if getattr(args, "pyomo_solver", None) is not None:
        opts["pyomo_solver"] = args.pyomo_solver
    if args.verbose:
        opts["verbose"] = True
    opts.update(_parse_options(args.option))
    return opts


def check_outputs(*outputs: tuple[str, str | None, bool]) -> None:
    """Validate every output path of a subcommand before any work: ``(option, path, is_plot)`` triples.

    Raises :class:`~mmot_models.errors.MMOTInputError` for a missing or unwritable directory, a
    directory given as a file, an unknown figure format, or two options naming the same file.
    """
    from .fileio import check_distinct_outputs, check_output_path

    for what, path, plot in outputs:
        if path is not None:
            check_output_path(path, what=what, plot=plot)
    check_distinct_outputs(*[(what, path) for what, path, _ in outputs])


#: Methods whose solution carries no plan (bounds only): ``--plot`` and the demo figure need a plan.
PLANLESS_METHODS = ("krep", "sdp", "meanfield", "variance")


def _cmd_solve(args: argparse.Namespace) -> int:
    from .errors import MMOTInputError
    from .io import load_problem
    from .solve import solve

    check_outputs(("--output", args.output, False), ("--plot", args.plot, True))
    problem = load_problem(args.file)
    if args.plot:
        if problem.dim != 1:
            raise MMOTInputError(f"--plot draws 1D plans and this problem is {problem.dim}D: drop --plot "
                                 "(--output writes the plan as JSON)")
        if args.method in PLANLESS_METHODS:
            raise MMOTInputError(f"--plot needs a plan and method {args.method!r} computes a bound only; "
                                 "drop --plot or use a method with a plan (auto, symmetric, primal, colgen, entropic)")
    sol = solve(problem, method=args.method, backend=args.backend, **_collect_options(args))
    if args.output:
        write_json_atomic(sol.to_dict(include_plan=True), args.output)
    if args.plot:
        from .plotting import plot_comotion_1d
        if sol.has_plan:
            plot_comotion_1d(sol, args.plot)
        else:
            print(f"note: {sol.method} returned no plan ({sol.status.value}); nothing plotted", file=sys.stderr)
    if args.json:
        emit_json(sol.summary())
    else:
        print(sol)
    return solution_exit_code(sol)


DEMO_POINTS = 60
DEMO_ELECTRONS = 3


def demo_problem():
    """The embedded default: 3 electrons, Gaussian density on 60 midpoints of [-4, 4], Coulomb."""
    from .problem import MMOTProblem, gaussian, line

    return MMOTProblem.symmetric(gaussian(line(-4.0, 4.0, DEMO_POINTS, midpoints=True)), DEMO_ELECTRONS,
                                 "coulomb", name="demo-gaussian-N3")


def _support_text(sol, l: int) -> str:
    ms = sol.info.get("multiset_support")
    if ms is not None:
        return f"{ms} multisets (<= l = {l}: an optimal vertex), {sol.support_size} ordered tuples"
    return f"{sol.support_size} ordered tuples"


def _cmd_demo(args: argparse.Namespace) -> int:
    from .physics.reference import comotion_functions_1d, cyclic_quantile_plan
    from .plotting import plot_comotion_1d
    from .solve import solve

    check_outputs(("--output", args.output, True))
    problem = demo_problem()
    sol = solve(problem, method=args.method, backend=args.backend)
    marg = problem.marginals[0]
    idx, w = cyclic_quantile_plan(marg.weights, problem.n_marginals)
    quantile_value = float(problem.tuple_costs(idx) @ w)
    rows = [
        ("problem", f"N={problem.n_marginals} electrons, Gaussian on {marg.size} points of [-4,4], Coulomb"),
        ("method / backend", f"{sol.method} / {sol.backend}"),
        ("status", sol.status.value),
        ("value", f"{sol.value:.10f}"),
        ("certified lower", f"{sol.lower_bound:.10f}"),
        ("certified upper", f"{sol.upper_bound:.10f}"),
        ("gap", f"{sol.gap:.3e}"),
        ("max marginal error", f"{sol.max_marginal_error:.3e}"),
        ("support size", _support_text(sol, marg.size)),
        ("cyclic co-motion plan", f"{quantile_value:.10f} (1D closed-form construction)"),
        ("wall time", f"{sol.wall_time_s:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    out: Path | None = Path(args.output)
    if sol.has_plan:
        x = marg.points[:, 0]
        ref = comotion_functions_1d(x, marg.weights, problem.n_marginals)
        plot_comotion_1d(sol, out, reference=ref, x_ref=x,
                         title=f"demo: N={problem.n_marginals} Gaussian, Coulomb, value {sol.value:.6f}")
    else:
        out = None
        print(f"note: method {sol.method!r} returns a bound without a plan; nothing plotted "
              "(plans come from auto, primal, dual, symmetric, colgen, entropic, mcot)", file=sys.stderr)
    if args.json:
        d = sol.summary()
        d["cyclic_quantile_value"] = quantile_value
        d["plot"] = None if out is None else str(out)
        emit_json(d)
    else:
        print(f"mmot demo: {demo_heading(sol)} on an embedded problem")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        print(f"  {'plot':<{width}}  {out if out is not None else '(no plan to plot)'}")
    return solution_exit_code(sol)


def demo_heading(sol) -> str:
    """What the demo's number is, worded from the solution's status and bound direction."""
    from .solution import Bound, Status

    if sol.status == Status.NO_BOUND:
        return f"no finite bound from method {sol.method!r} for the SCE value"
    if not sol.status.ok:
        return f"unfinished run ({sol.status.value}; see the bounds) of the SCE problem"
    return {Bound.EXACT: "exact SCE value", Bound.LOWER: "certified lower bound on the SCE value",
            Bound.UPPER: "certified upper bound on the SCE value",
            Bound.ESTIMATE: "estimate (no certified direction) of the SCE value"}[sol.bound]


def methods_document() -> dict[str, Any]:
    """``{method: {"available", "doc", "options": [{name, type, default, domain, doc, ...}]}}`` for every
    method of :data:`mmot_models.solve.METHODS` (what ``mmot methods --json`` prints)."""
    from .errors import MethodNotAvailableError
    from .solve import METHODS, method_schema

    out: dict[str, Any] = {}
    for name in METHODS:
        try:
            schema = method_schema(name)
        except MethodNotAvailableError:
            out[name] = {"available": False, "doc": "", "options": []}
            continue
        entry: dict[str, Any] = {"available": True, **schema.to_dict()}
        if schema.method != name:
            entry["alias_of"] = schema.method
        out[name] = entry
    return out


def _cmd_methods(args: argparse.Namespace) -> int:
    if args.markdown:
        from .options import options_markdown
        from .solve import all_schemas

        print(options_markdown(all_schemas()), end="")
        return EXIT_OK
    doc = methods_document()
    if args.json:
        emit_json(doc)
        return EXIT_OK
    from .options import COMMON, OptionSchema
    from .solve import method_schema

    common = {o.name for o in COMMON}
    print("Options of every method (run-level):")
    for line in OptionSchema("common", COMMON).describe("    "):
        print(line)
    print()
    for name, entry in doc.items():
        if not entry["available"]:
            print(f"{name}: not in this version")
            continue
        if "alias_of" in entry:
            print(f"{name}: alias of {entry['alias_of']}")
            continue
        schema = method_schema(name)
        print(f"{name}: {entry['doc']}")
        idle = [o.name for o in schema.options if o.name in common and not o.used]
        if idle:
            print(f"    (no effect here: {', '.join(idle)})")
        own = OptionSchema(name, tuple(o for o in schema.options if o.name not in common))
        for line in own.describe("    "):
            print(line)
        print()
    print("Give options as solve(problem, method, **options) or `mmot solve --option KEY=VALUE`; "
          "`mmot methods --json` lists every option of every method.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmot", description="Multi-marginal optimal transport (SCE) solver")
    parser.add_argument("--version", action="version", version="mmot_models 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve a problem file (.json or .npz)", epilog=OPTIONS_HELP)
    p.add_argument("file")
    _add_solver_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--output", help="write the full solution (plan, potentials) as JSON")
    p.add_argument("--plot", help="write a PNG of the plan (1D)")
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("demo", help="solve the embedded default problem and plot it")
    p.add_argument("--method", default="auto")
    p.add_argument("--backend", default="highs", choices=["highs", "pyomo"])
    p.add_argument("--output", default="mmot_demo.png", help="PNG path (default mmot_demo.png)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("methods", help="list the methods and their options (name, type, default, domain)")
    p.add_argument("--json", action="store_true", help="print one JSON document {method: {options: [...]}}")
    p.add_argument("--markdown", action="store_true", help="print the options as Markdown tables (docs/options.md)")
    p.set_defaults(func=_cmd_methods)

    # imported here, not at the top: the command modules import this module's helpers (emit_json, ...)
    from .commands import COMMANDS

    for register in COMMANDS:
        register(sub)
    return parser


EXIT_TERMINATED = 128 + int(signal.SIGTERM)


#: Seconds the main thread gets to turn SIGTERM into a clean exit before the watchdog ends the process
#: (a native solver call, e.g. a HiGHS run, only returns to Python when it is done).
TERM_GRACE_S = 2.0


def _raise_terminated(signum: int, frame: Any) -> None:
    from .fileio import Terminated

    raise Terminated(signum)


class _SigtermGuard:
    """SIGTERM -> :class:`~mmot_models.fileio.Terminated` in the main thread, with a watchdog.

    Python runs signal handlers between bytecodes, so inside a long native call (a HiGHS solve)
    the exception would wait for the call to return.  The interpreter also writes the signal
    number to a wake-up pipe at once; a watchdog thread reads it and, if the main thread has not
    finished within :data:`TERM_GRACE_S`, removes the temporary files of writes in progress and
    ends the process with status 143, as an unhandled SIGTERM would.
    """

    def __init__(self) -> None:
        import threading

        self.active = threading.current_thread() is threading.main_thread()
        if not self.active:
            return
        self.done = threading.Event()
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.wfd, False)
        try:
            self.old_wakeup = signal.set_wakeup_fd(self.wfd, warn_on_full_buffer=False)
        except ValueError:  # pragma: no cover - not the main thread of the main interpreter
            os.close(self.rfd)
            os.close(self.wfd)
            self.active = False
            return
        self.previous = signal.signal(signal.SIGTERM, _raise_terminated)
        if self.previous is None:  # installed outside Python: restore the default
            self.previous = signal.SIG_DFL
        self.thread = threading.Thread(target=self._watch, name="mmot-sigterm-watchdog", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        from .fileio import remove_temporaries

        while True:
            try:
                data = os.read(self.rfd, 64)
            except OSError:
                return
            if not data:
                return
            if int(signal.SIGTERM) in data:
                break
        if self.done.wait(TERM_GRACE_S):
            return
        remove_temporaries()
        try:
            os.write(2, b"error: terminated (SIGTERM) during a solver call; no output file was written\n")
        finally:
            os._exit(EXIT_TERMINATED)

    def close(self) -> None:
        if not self.active:
            return
        self.done.set()
        signal.signal(signal.SIGTERM, self.previous)
        signal.set_wakeup_fd(self.old_wakeup)
        os.close(self.wfd)
        self.thread.join(timeout=1.0)
        os.close(self.rfd)


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import MMOTInputError
    from .fileio import Terminated, remove_temporaries

    parser = build_parser()
    args = parser.parse_args(argv)
    json_mode = bool(getattr(args, "json", False))
    env_backend = os.environ.get("MPLBACKEND")
    _headless_matplotlib()
    guard = _SigtermGuard()
    try:
        with _stdout_reserved(json_mode) as channel:
            code = int(args.func(args))
        try:
            for text in channel.documents:
                print(text, flush=True)
        except BrokenPipeError:  # `mmot ... --json | head`: the reader left; no traceback
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        return code
    except MMOTInputError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("error: out of memory; use a smaller grid or method='entropic'", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Terminated:
        print("error: terminated (SIGTERM); no output file was left half written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:  # pragma: no cover
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        if env_backend is None:  # the choice was for this command only (matplotlib has read it)
            os.environ.pop("MPLBACKEND", None)
        remove_temporaries()
        guard.close()


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (the CLI contract: exactly one ``error:`` line)."""
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    # ``python -m mmot_models.cli``: run the imported module's main, so that subcommands of other
    # modules (which import ``mmot_models.cli``) share its JSON channel with this entry point
    from mmot_models.cli import main as _package_main

    sys.exit(_package_main())
