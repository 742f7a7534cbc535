"""``mmot bench list|run|verify``: the certified instance library from the command line (application
layer over :mod:`mmot_models.bench`)."""
from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["register_cli"]


def _select(args: argparse.Namespace, generated: bool) -> list[str]:
    from ..bench.library import get_instance, instance_names

    if args.instances:
        for n in args.instances:
            get_instance(n)
        return list(args.instances)
    return instance_names() if generated else instance_names(shipped=True)


def _cmd_list(args: argparse.Namespace) -> int:
    from ..bench.library import INSTANCES, DATA_DIR, load_certificate

    rows = []
    for inst in INSTANCES:
        row = inst.describe()
        if inst.shipped:
            c = load_certificate(inst.name)
            row.update(value=c.value, lower_bound=c.lower_bound, upper_bound=c.upper_bound,
                       support=int(c.plan_weights.size), kb=round((DATA_DIR / f"{inst.name}.npz").stat().st_size / 1024, 1))
        rows.append(row)
    if args.json:
        from ..cli import emit_json
        emit_json(rows)
        return 0
    print(f"{'name':32s} {'N':>3s} {'sites':>5s} {'d':>2s} {'cost':14s} {'certified value':>18s}  method")
    for inst, r in zip(INSTANCES, rows):
        p = inst.problem() if inst.shipped else inst.generate()
        val = f"{r['value']:.12g}" if "value" in r else "(generated)"
        print(f"{inst.name:32s} {p.n_marginals:3d} {p.marginals[0].size:5d} {p.dim:2d} "
              f"{getattr(p.cost, 'kind', '?'):14s} {val:>18s}  {inst.method}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..bench.check import verify_instance

    names = _select(args, args.generated)
    out, bad = [], 0
    for n in names:
        r = verify_instance(n, generated=args.generated)
        out.append(r)
        if r.get("ok") is False:
            bad += 1
        if not args.json:
            if r.get("ok") is None:
                print(f"{n:32s} skipped ({r['skipped']})")
                continue
            status = "OK  " if r["ok"] else "FAIL"
            print(f"{n:32s} {status} value {r['value']:.12g} bracket [{r['lower_bound']:.12g}, {r['upper_bound']:.12g}] "
                  f"{r['time_s']:.2f} s")
            for f in r["failures"]:
                print(f"    {f}")
    if args.json:
        from ..cli import emit_json
        emit_json({"ok": bad == 0, "instances": out})
    else:
        checked = sum(r.get("ok") is not None for r in out)
        print(f"{checked - bad} of {checked} certificates verified" + (f"; {bad} FAILED" if bad else ""))
    return 3 if bad else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ..cli import _parse_options
    from ..errors import MMOTInputError
    from ..bench.library import get_instance, load_certificate

    names = _select(args, False)
    names = [n for n in names if get_instance(n).shipped]
    options = _parse_options(args.option)
    if args.time_limit is not None:
        options["time_limit"] = args.time_limit
    from ..studies.sweeps import _validate_options
    _validate_options(args.method, options, "highs", f"--method {args.method}")
    rows: list[dict[str, Any]] = []
    if args.dask or args.scheduler:
        import tempfile
        from ..studies.sweeps import sweep
        spec = {"name": f"bench-{args.method}", "problems": [{"instance": n} for n in names],
                "methods": [{"method": args.method, "options": options}], "format": "jsonl"}
        out = args.output or tempfile.mkdtemp(prefix="mmot-bench-")
        res = sweep(spec, out, scheduler=args.scheduler, n_workers=args.workers, progress=not args.json)
        import json
        by_inst = {json.loads(r["params"])["instance"]: r for r in res.rows}
        for n in names:
            r = by_inst.get(n, {})
            rows.append({"name": n, "status": r.get("status"), "value": r.get("value"),
                         "lower_bound": r.get("lower_bound"), "upper_bound": r.get("upper_bound"),
                         "time_s": r.get("task_time_s"), "error": r.get("error")})
    else:
        from ..solve import solve
        for n in names:
            problem = load_certificate(n).problem
            t0 = time.perf_counter()
            try:
                sol = solve(problem, method=args.method, **options)
                s = sol.summary()
                rows.append({"name": n, "status": s["status"], "value": s["value"], "lower_bound": s["lower_bound"],
                             "upper_bound": s["upper_bound"], "time_s": time.perf_counter() - t0, "error": None})
            except MMOTInputError as exc:
                rows.append({"name": n, "status": "failed", "value": None, "lower_bound": None, "upper_bound": None,
                             "time_s": time.perf_counter() - t0, "error": str(exc)})
    for r in rows:
        ref = load_certificate(r["name"]).value
        r["certified"] = ref
        r["error_abs"] = None if r["value"] is None else r["value"] - ref
        r["error_rel"] = None if r["value"] is None else (r["value"] - ref) / max(1.0, abs(ref))
        lo, hi = r["lower_bound"], r["upper_bound"]
        r["bracket_ok"] = None if r["value"] is None else (
            (lo is None or lo <= ref * (1 + 1e-9) + 1e-12) and (hi is None or hi >= ref * (1 - 1e-9) - 1e-12))
    if args.json:
        from ..cli import emit_json
        emit_json({"method": args.method, "rows": rows})
    else:
        print(f"{'instance':32s} {'status':10s} {'value':>16s} {'certified':>16s} {'rel. error':>10s} {'bracket':7s} {'time s':>7s}")
        for r in rows:
            v = "-" if r["value"] is None else f"{r['value']:.10g}"
            e = "-" if r["error_rel"] is None else f"{r['error_rel']:.2e}"
            b = "-" if r["bracket_ok"] is None else ("ok" if r["bracket_ok"] else "WRONG")
            t = "-" if r["time_s"] is None else f"{r['time_s']:.2f}"
            print(f"{r['name']:32s} {str(r['status']):10s} {v:>16s} {r['certified']:>16.10g} {e:>10s} {b:7s} {t:>7s}")
            if r.get("error"):
                print(f"    {r['error'][:160]}")
    wrong = sum(r["bracket_ok"] is False for r in rows)
    return 3 if wrong else 0


def register_cli(sub: Any) -> None:
    """Add ``mmot bench`` with ``list``, ``run`` and ``verify``."""
    p = sub.add_parser("bench", help="the library of certified instances: list, run a method, verify certificates")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    q = bsub.add_parser("list", help="list the instances and their certified values")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_list)
    q = bsub.add_parser("verify", help="check every shipped certificate with the independent verifier")
    q.add_argument("instances", nargs="*", help="instance names (default: all shipped)")
    q.add_argument("--generated", action="store_true",
                   help="also generate the larger instances from their seed, certify and verify them")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_verify)
    q = bsub.add_parser("run", help="run a method over the library; print its error against the certified values")
    q.add_argument("instances", nargs="*", help="instance names (default: all shipped)")
    q.add_argument("--method", required=True, help="any method of `mmot methods` (or auto)")
    q.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a method option (repeatable)")
    q.add_argument("--time-limit", type=float, default=None, help="seconds per instance")
    q.add_argument("--dask", action="store_true", help="run the instances as a sweep on a local Dask cluster")
    q.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler")
    q.add_argument("--workers", type=int, default=None, help="workers of the local cluster")
    q.add_argument("--output", help="result directory of the Dask run (default: a temporary directory)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_run)
