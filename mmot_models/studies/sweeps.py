"""Parameter sweeps: problems x methods x options, run as tasks on Dask, streamed to a result table.

A sweep specification (TOML, YAML or JSON file, or a dict)::

    name = "gaussian-grids"
    backend = "highs"                 # default
    output = "gaussian-grids.results" # result directory (default: <spec name>.results)
    format = "parquet"                # or "jsonl"
    x = "n_points"                    # parameter of the summary plot (default: the most varied one)

    [problem]                         # a grid: every list is swept (cartesian product)
    density = "gaussian"
    n_points = [10, 20, 30]
    n_marginals = [2, 3]
    cost = "coulomb"

    [options]                         # options for every method
    time_limit = 60

    [[methods]]
    method = "symmetric"
    [[methods]]
    method = "colgen"
    options = { tol = 1e-8 }
    label = "colgen-tight"

``problems = [{...}, {...}]`` gives a list of grids instead of one ``[problem]``; ``methods`` may
also be a list of names.  Problem keys are those of :mod:`mmot_models.studies.problems`
(``domain`` is swept when given as a list of ``[low, high]`` pairs).

Every option is validated against the method's declared schema
(:func:`mmot_models.solve.method_schema`) *before any task starts*: a misspelt option is an
:class:`~mmot_models.errors.MMOTInputError` naming the method and the closest valid name.

Each task is keyed by a hash of (problem specification, method, backend, options); a rerun with the
same output directory skips the keys already there, so an interrupted sweep resumes where it
stopped and nothing finished is lost.  A task that raises records its error in its row and the sweep
goes on; a task whose worker dies is retried by Dask on another worker.

Threads: every task on a Dask worker runs HiGHS with ``threads=1`` (unless the options say otherwise) and the local
cluster starts one single-threaded worker process per core with ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` set to 1, so tasks never oversubscribe the cores.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import platform
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import MMOTInputError
from .problems import normalize_spec, spec_hash
from .store import ResultStore, read_rows

__all__ = ["SweepSpec", "SweepResult", "Task", "load_spec", "parse_spec", "sweep", "run_task", "report_table",
           "THREAD_ENV"]

#: Environment of every worker: one BLAS/OpenMP thread per task.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
_TOP_KEYS = {"name", "backend", "output", "format", "x", "problem", "problems", "methods", "options"}


@dataclass(frozen=True)
class Task:
    """One unit of work: a problem specification, a method and its (validated) options."""

    key: str
    sweep: str
    label: str
    method: str
    backend: str
    params: dict[str, Any]
    options: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "sweep": self.sweep, "label": self.label, "method": self.method,
                "backend": self.backend, "params": self.params, "options": self.options}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep specification (:func:`parse_spec`)."""

    name: str
    tasks: tuple[Task, ...]
    output: str
    fmt: str = "parquet"
    x: str | None = None
    backend: str = "highs"


@dataclass
class SweepResult:
    """What :func:`sweep` did: rows of every task of the spec present in ``path`` afterwards."""

    path: Path
    rows: list[dict[str, Any]]
    n_tasks: int
    n_run: int
    n_skipped: int
    n_failed: int = 0
    wall_time_s: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- spec
def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    """Read a sweep specification from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    p = Path(path)
    if not p.is_file():
        raise MMOTInputError(f"cannot read the sweep spec {p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib
            with open(p, "rb") as fh:
                data = tomllib.load(fh)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise MMOTInputError("YAML specs need PyYAML (pip install pyyaml); or write the spec as TOML/JSON") \
                    from None
            with open(p, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        elif suffix == ".json":
            with open(p, encoding="utf-8") as fh:
                data = json.load(fh)
        else:
            raise MMOTInputError(f"cannot read the sweep spec {p}: use a .toml, .yaml or .json file")
    except MMOTInputError:
        raise
    except Exception as exc:  # parse errors of the three formats
        raise MMOTInputError(f"cannot parse the sweep spec {p}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise MMOTInputError(f"sweep spec {p}: the top level must be a table/object")
    data.setdefault("name", p.stem)
    data.setdefault("output", str(p.with_suffix(".results")))
    return data


def _grid(block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    if not isinstance(block, Mapping):
        raise MMOTInputError(f"{where} must be a table of problem parameters")
    axes: list[tuple[str, list[Any]]] = []
    for k, v in block.items():
        if k == "domain" and isinstance(v, list) and v and not isinstance(v[0], list):
            v = [v]
        elif not isinstance(v, list):
            v = [v]
        if not v:
            raise MMOTInputError(f"{where}: {k} is an empty list; give at least one value")
        axes.append((k, v))
    return [dict(zip([a[0] for a in axes], combo)) for combo in itertools.product(*[a[1] for a in axes])]


def _methods(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    methods = data.get("methods")
    if methods is None:
        raise MMOTInputError('the sweep spec needs "methods": a list of method names or {method, options, label}')
    if isinstance(methods, str):
        methods = [methods]
    out = []
    for i, m in enumerate(methods):
        if isinstance(m, str):
            m = {"method": m}
        if not isinstance(m, Mapping) or "method" not in m:
            raise MMOTInputError(f"methods[{i}] must be a name or a table with a 'method' key")
        extra = set(m) - {"method", "options", "label"}
        if extra:
            raise MMOTInputError(f"methods[{i}]: unknown key(s) {', '.join(sorted(extra))}; use method, options, label")
        out.append(dict(m))
    return out


def _validate_options(method: str, options: dict[str, Any], backend: str, where: str) -> dict[str, Any]:
    from ..solve import METHODS, _COMMON_SCHEMA, _takers, all_schemas, method_schema

    if method == "auto":
        takers = _takers(all_schemas())
        for k in options:
            if k not in takers:
                from ..options import suggest
                raise MMOTInputError(f"{where}: unknown option {k!r} for method auto;{suggest(k, takers)} "
                                     "`mmot methods` lists the options of each method")
        _COMMON_SCHEMA.validate({k: v for k, v in options.items() if k in _COMMON_SCHEMA}, context={"backend": backend})
        return dict(options)
    if method not in METHODS:
        from ..options import suggest
        raise MMOTInputError(f"{where}: unknown method {method!r};{suggest(method, METHODS)} choose one of auto, "
                             f"{', '.join(METHODS)}")
    try:
        method_schema(method).validate(options, context={"backend": backend})
    except MMOTInputError as exc:
        raise MMOTInputError(f"{where}: {exc}") from None
    return dict(options)


def parse_spec(data: Mapping[str, Any], output: str | os.PathLike | None = None) -> SweepSpec:
    """Validate a specification mapping and expand it into tasks (nothing runs).

    Raises :class:`~mmot_models.errors.MMOTInputError` for unknown keys, bad problem parameters,
    unknown methods and options that the method's schema rejects.
    """
    if not isinstance(data, Mapping):
        raise MMOTInputError("a sweep spec must be a mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        from ..options import suggest
        k = sorted(unknown)[0]
        raise MMOTInputError(f"sweep spec: unknown key {k!r};{suggest(k, _TOP_KEYS)} keys are {', '.join(sorted(_TOP_KEYS))}")
    name = str(data.get("name", "sweep"))
    backend = str(data.get("backend", "highs"))
    if backend not in ("highs", "pyomo", "cvxpy"):
        raise MMOTInputError(f"sweep spec: unknown backend {backend!r}; choose highs, pyomo or cvxpy")
    fmt = str(data.get("format", "parquet"))
    if "problem" in data and "problems" in data:
        raise MMOTInputError('sweep spec: give either "problem" (one grid) or "problems" (a list), not both')
    blocks = data.get("problems", [data["problem"]] if "problem" in data else None)
    if not isinstance(blocks, list) or not blocks:
        raise MMOTInputError('sweep spec: needs "problem" (a table of parameters) or "problems" (a list of them)')
    params: list[dict[str, Any]] = []
    for b, block in enumerate(blocks):
        where = "problem" if "problem" in data else f"problems[{b}]"
        for p in _grid(block, where):
            params.append(normalize_spec(p, where))
    common = data.get("options", {}) or {}
    if not isinstance(common, Mapping):
        raise MMOTInputError("sweep spec: options must be a table of option values")
    tasks: list[Task] = []
    seen: set[str] = set()
    for i, m in enumerate(_methods(data)):
        method = str(m["method"])
        opts = {**common, **(m.get("options") or {})}
        opts = _validate_options(method, opts, backend, f"methods[{i}] ({method})")
        label = str(m.get("label", method))
        for p in params:
            key = spec_hash({"problem": p, "method": method, "backend": backend, "options": opts})
            if key in seen:
                continue
            seen.add(key)
            tasks.append(Task(key, name, label, method, backend, p, opts))
    x = data.get("x")
    out = str(output if output is not None else data.get("output", f"{name}.results"))
    return SweepSpec(name=name, tasks=tuple(tasks), output=out, fmt=fmt, x=x, backend=backend)


# ---------------------------------------------------------------------------- one task
def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("mmot_models", "numpy", "scipy", "highspy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "?"
    return out


def _reset_peak_rss() -> None:
    try:  # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except (ImportError, OSError):  # pragma: no cover
        return math.nan


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def run_task(task: Task | Mapping[str, Any], single_thread: bool = True) -> dict[str, Any]:
    """Solve one task and return its row (never raises for a failing solve: the error is recorded).

    With ``single_thread`` (on Dask workers) ``threads=1`` is passed to methods that use it unless
    the task's options set it, and the BLAS/OpenMP thread variables of :data:`THREAD_ENV` are set if
    still unset.  Serial runs in the caller's process leave its thread settings alone (HiGHS 1.16
    refuses a ``threads`` value changed after an earlier solve in the same process).
    """
    from ..solve import method_schema, solve
    from .problems import build_problem

    t = task.to_dict() if isinstance(task, Task) else dict(task)
    if single_thread:
        for k, v in THREAD_ENV.items():
            os.environ.setdefault(k, v)
    row: dict[str, Any] = {k: t[k] for k in ("key", "sweep", "label", "method", "backend")}
    row["params"] = json.dumps(t["params"], sort_keys=True)
    row["options"] = json.dumps(t["options"], sort_keys=True)
    row.update(worker=socket.gethostname(), pid=os.getpid(), versions=json.dumps(_versions(), sort_keys=True))
    options = dict(t["options"])
    start = time.time()
    t0 = time.perf_counter()
    _reset_peak_rss()
    try:
        problem = build_problem(t["params"])
        if single_thread and "threads" not in options and t["method"] != "auto":
            spec = method_schema(t["method"])
            if "threads" in spec and spec["threads"].used:
                options["threads"] = 1
        sol = solve(problem, method=t["method"], backend=t["backend"], **options)
        s = sol.summary()
        row.update({k: s.get(k) for k in ("value", "lower_bound", "upper_bound", "gap", "relative_gap",
                                          "max_marginal_error", "wall_time_s", "solver_time_s", "message")})
        row.update(status=s["status"], bound=s["bound"], error=None)
        if t["method"] == "auto":
            row["message"] = (f"auto chose {sol.method}; " + (row.get("message") or "")).rstrip("; ")
    except Exception as exc:  # the sweep goes on: the row records the failure
        row.update(status="failed", bound=None, error=f"{type(exc).__name__}: {exc}",
                   message=traceback.format_exc(limit=3)[-2000:])
    row["task_time_s"] = time.perf_counter() - t0
    row["peak_rss_mb"] = _peak_rss_mb()
    row["started"], row["finished"] = _iso(start), _iso(time.time())
    return row


# ---------------------------------------------------------------------------- running
def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, disable=not enabled, unit="task",
                desc="sweep", dynamic_ncols=True)


def _lost_row(task: Task, exc: BaseException) -> dict[str, Any]:
    return {**task.to_dict(), "status": "failed", "error": f"{type(exc).__name__}: {exc}",
            "message": "the task's worker failed repeatedly (dask gave up on it)", "finished": _iso(time.time())}


def _worker_setup() -> None:
    for k, v in THREAD_ENV.items():
        os.environ[k] = v


def local_cluster(n_workers: int | None = None, **kwargs: Any):
    """A ``dask.distributed.LocalCluster`` without oversubscription: ``n_workers`` (default: the
    number of cores) single-threaded worker processes whose environment sets BLAS/OpenMP threads
    to 1; no dashboard.  Extra keyword arguments go to ``LocalCluster``."""
    import dask
    from dask.distributed import LocalCluster

    from ..options import cpu_count

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.update(THREAD_ENV)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        return LocalCluster(n_workers=n_workers or cpu_count(), threads_per_worker=1, processes=True,
                            dashboard_address=None, **kwargs)


def _run_dask(todo: list[Task], store: ResultStore, bar: Any, scheduler: Any, n_workers: int | None,
              on_row: Callable[[dict[str, Any]], None] | None) -> int:
    from dask.distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        cluster = local_cluster(n_workers)
        client = Client(cluster)
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise MMOTInputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    else:  # an existing Client
        client = scheduler
    failed = 0
    futures = []
    try:
        client.run(_worker_setup)
        by_key = {}
        for t in todo:
            f = client.submit(run_task, t, key=f"mmot-task-{t.key}", pure=False, retries=2)
            futures.append(f)
            by_key[f.key] = t
        for f in as_completed(futures):
            try:
                row = f.result()
            except Exception as exc:  # KilledWorker after the allowed failures, cancelled, ...
                row = _lost_row(by_key[f.key], exc)
            failed += row.get("status") == "failed"
            store.write(row)
            f.release()
            bar.update(1)
            if on_row is not None:
                on_row(row)
    finally:
        if futures:
            try:
                client.cancel(futures)
            except Exception:  # pragma: no cover - the client may already be closing
                pass
        if not (scheduler is not None and not isinstance(scheduler, str)):
            client.close()
        if cluster is not None:
            cluster.close()
    return failed


def sweep(spec: Mapping[str, Any] | str | os.PathLike | SweepSpec, output: str | os.PathLike | None = None, *,
          scheduler: Any = None, n_workers: int | None = None, serial: bool = False, progress: bool = False,
          on_row: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run a sweep (resuming an earlier run in the same output directory).

    Parameters
    ----------
    spec : mapping, path or SweepSpec
        The specification (see the module docstring) or a ``.toml``/``.yaml``/``.json`` file.
    output : path, optional
        Result directory (default: the spec's ``output``).
    scheduler : str or dask.distributed.Client, optional
        Address of a running Dask scheduler (``tcp://host:8786``) or a client; default: a
        :func:`local_cluster` sized to the machine.
    n_workers : int, optional
        Workers of the local cluster (default: the number of cores).
    serial : bool
        Run the tasks one after the other in this process (no Dask).
    progress : bool
        Show a progress bar on stderr.
    on_row : callable, optional
        Called with each row as it is written.

    Returns
    -------
    SweepResult
        The rows of the spec's tasks found in the directory afterwards (finished earlier or now).
    """
    if isinstance(spec, SweepSpec):
        parsed = spec if output is None else SweepSpec(spec.name, spec.tasks, str(output), spec.fmt, spec.x,
                                                       spec.backend)
    else:
        data = load_spec(spec) if isinstance(spec, (str, os.PathLike)) else spec
        parsed = parse_spec(data, output)
    store = ResultStore(parsed.output, parsed.fmt)
    store.create()
    done = store.done_keys()
    todo = [t for t in parsed.tasks if t.key not in done]
    t0 = time.perf_counter()
    bar = _progress(len(parsed.tasks), len(parsed.tasks) - len(todo), progress)
    failed = 0
    try:
        if todo and serial:
            for t in todo:
                row = run_task(t, single_thread=False)
                failed += row["status"] == "failed"
                store.write(row)
                bar.update(1)
                if on_row is not None:
                    on_row(row)
        elif todo:
            failed = _run_dask(todo, store, bar, scheduler, n_workers, on_row)
    finally:
        bar.close()
    keys = {t.key for t in parsed.tasks}
    rows = [r for r in store.rows() if r["key"] in keys]
    return SweepResult(path=store.path, rows=rows, n_tasks=len(parsed.tasks), n_run=len(todo),
                       n_skipped=len(parsed.tasks) - len(todo), n_failed=failed,
                       wall_time_s=time.perf_counter() - t0)


# ---------------------------------------------------------------------------- reporting
def _varying(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    params = [json.loads(r["params"]) for r in rows]
    keys = sorted({k for p in params for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for p in params}) > 1]


def report_table(rows: Sequence[Mapping[str, Any]] | str | os.PathLike) -> str:
    """The rows as an aligned text table: varying parameters, label, status, value, bracket, times."""
    if isinstance(rows, (str, os.PathLike)):
        rows = read_rows(rows)
    if not rows:
        return "(no rows)"
    vary = _varying(rows)
    head = vary + ["label", "status", "value", "lower", "upper", "rel.gap", "time s", "peak MB"]

    def num(v: Any, fmt: str = ".10g") -> str:
        return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)
    body = []
    def order(r: Mapping[str, Any]) -> tuple:
        p = json.loads(r["params"])
        return (r["label"], [(0, p[k], "") if isinstance(p.get(k), (int, float)) else (1, 0, json.dumps(p.get(k)))
                             for k in vary])
    for r in sorted(rows, key=order):
        p = json.loads(r["params"])
        body.append([json.dumps(p.get(k)) if not isinstance(p.get(k), (int, float, str)) else str(p.get(k))
                     for k in vary] + [
            r["label"], r["status"] if not r.get("error") else f"{r['status']}: {r['error'][:60]}",
            num(r.get("value")), num(r.get("lower_bound")), num(r.get("upper_bound")),
            num(r.get("relative_gap"), ".2e"), num(r.get("task_time_s"), ".3f"), num(r.get("peak_rss_mb"), ".0f")])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(lines)
