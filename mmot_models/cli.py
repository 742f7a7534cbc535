"""The ``mmot`` command.

Exit codes: 0 success; 2 bad input (one line ``error: ...`` on stderr, nothing written);
3 the solver did not reach a certified / converged answer (the result is still printed).

Subcommands provided by optional modules register themselves through :data:`EXTENSIONS`
(``"name": "module:register"``, where ``register(subparsers)`` adds a parser whose ``func``
attribute runs it and returns an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "EXTENSIONS", "emit_json", "methods_document", "OPTIONS_HELP", "write_json_atomic", "solution_exit_code", "EXIT_OK",
           "EXIT_BAD_INPUT", "EXIT_NOT_CERTIFIED"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_NOT_CERTIFIED = 0, 2, 3

#: Subcommands living in other modules (looked up lazily; absent modules are skipped).
EXTENSIONS: dict[str, str] = {
    "compare": "mmot_models.report:register_cli",
    "atom": "mmot_models.physics.atoms:register_cli",
    "dissociate": "mmot_models.physics.dissociation:register_cli",
}


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


def write_json_atomic(data: Any, path: str | os.PathLike) -> None:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=1, allow_nan=False, default=_json_default))


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


def _cmd_solve(args: argparse.Namespace) -> int:
    from .io import load_problem
    from .solve import solve

    problem = load_problem(args.file)
    sol = solve(problem, method=args.method, backend=args.backend, **_collect_options(args))
    if args.output:
        write_json_atomic(sol.to_dict(include_plan=True), args.output)
    if args.plot:
        from .plotting import plot_comotion_1d
        if problem.dim == 1 and sol.has_plan:
            plot_comotion_1d(sol, args.plot)
        else:
            print("note: --plot draws 1D plans only; nothing plotted", file=sys.stderr)
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
    import numpy as np

    from .physics.reference import comotion_functions_1d, cyclic_quantile_plan
    from .plotting import plot_comotion_1d
    from .solve import solve

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
    out = Path(args.output)
    x = marg.points[:, 0]
    ref = comotion_functions_1d(x, marg.weights, problem.n_marginals)
    plot_comotion_1d(sol, out, reference=ref, x_ref=x,
                     title=f"demo: N={problem.n_marginals} Gaussian, Coulomb, value {sol.value:.6f}")
    if args.json:
        d = sol.summary()
        d["cyclic_quantile_value"] = quantile_value
        d["plot"] = str(out)
        emit_json(d)
    else:
        print("mmot demo: exact SCE on an embedded problem")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        print(f"  {'plot':<{width}}  {out}")
    return solution_exit_code(sol)


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

    for name, target in EXTENSIONS.items():
        mod, fn = target.split(":")
        try:
            register = getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError):
            continue
        register(sub)
    from .studies.cli import register as register_studies  # sweep, bench, verify

    register_studies(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import MMOTInputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MMOTInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("error: out of memory; use a smaller grid or method='entropic'", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
