"""``mmot sweep``: run or report a parameter sweep (application layer over
:mod:`mmot_models.studies.sweeps`; nothing heavy is imported until the command runs)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register_cli"]


def _emit_json(data: Any) -> None:
    from ..cli import emit_json
    emit_json(data)


# ---------------------------------------------------------------------------- sweep
def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..errors import MMOTInputError
    from ..plotting import plot_sweep
    from ..studies.store import read_rows
    from ..studies.sweeps import load_spec, parse_spec, report_table, sweep

    spec = parse_spec(load_spec(args.spec), args.output)
    if args.report:
        keys = {t.key for t in spec.tasks}
        rows = [r for r in read_rows(spec.output) if r["key"] in keys]
        missing = len(keys) - len(rows)
    else:
        if args.scheduler and (args.serial or args.workers):
            raise MMOTInputError("--scheduler runs on an existing cluster; drop --serial/--workers")
        if args.workers is not None and args.workers < 1:
            raise MMOTInputError(f"--workers must be at least 1, got {args.workers}")
        try:
            res = sweep(spec, scheduler=args.scheduler, n_workers=args.workers, serial=args.serial,
                        progress=not args.no_progress)
        except KeyboardInterrupt:
            from ..studies.store import ResultStore
            n = len(ResultStore(spec.output, spec.fmt).done_keys() & {t.key for t in spec.tasks})
            print(f"interrupted: {n} of {len(spec.tasks)} tasks are saved in {spec.output}; run the same command "
                  "again to finish the others", file=sys.stderr)
            return 130
        rows, missing = res.rows, res.n_tasks - len(res.rows)
        print(f"sweep {spec.name}: {res.n_tasks} tasks, {res.n_skipped} already done, {res.n_run} run "
              f"({res.n_failed} failed) in {res.wall_time_s:.1f} s; results in {res.path}", file=sys.stderr)
    if args.plot:
        plot_sweep(rows, args.plot, x=args.x or spec.x)
    failed = sum(r["status"] == "failed" for r in rows)
    if args.json:
        _emit_json({"sweep": spec.name, "output": str(spec.output), "n_tasks": len(spec.tasks), "missing": missing,
                    "failed": failed, "rows": rows})
    else:
        print(report_table(rows))
        if missing:
            print(f"{missing} of {len(spec.tasks)} tasks have no row yet (run `mmot sweep {args.spec}`)")
    return 3 if (failed or missing) else 0


def register_cli(sub: Any) -> None:
    """Add ``mmot sweep``."""
    p = sub.add_parser("sweep", help="run a parameter sweep (problems x methods x options) on Dask",
                       description="Run the tasks of a sweep spec (TOML, YAML or JSON) on a local Dask cluster "
                                   "or an existing one; rows stream to a result directory, and a rerun skips "
                                   "finished tasks. See docs/sweeps.md.")
    p.add_argument("spec", help="sweep specification (.toml, .yaml, .json)")
    p.add_argument("--output", help="result directory (default: the spec's output, else SPEC.results)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing dask.distributed scheduler")
    p.add_argument("--workers", type=int, default=None, help="workers of the local cluster (default: cores)")
    p.add_argument("--serial", action="store_true", help="run in this process, one task after another (no Dask)")
    p.add_argument("--report", action="store_true", help="print the table of finished rows; run nothing")
    p.add_argument("--plot", metavar="PNG", help="write the summary plot (value and bracket against x)")
    p.add_argument("--x", help="parameter on the plot's x axis (default: the spec's x, else the most varied one)")
    p.add_argument("--json", action="store_true", help="print one JSON document with every row")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_cmd_sweep)

