"""Issue 15 targets: certified column generation at scale, against the colgen of a base commit.

Each case runs in a fresh subprocess (its own peak RSS), first with this checkout, then with the
package as it is at ``--baseline`` (a git ref, extracted with ``git archive`` into a temporary
directory), with the same time limit, one at a time.  Results go to docs/benchmarks.md between
``<!-- BEGIN colgen-scale -->`` and ``<!-- END colgen-scale -->`` (the entropic rows between
``<!-- BEGIN colgen-scale-entropic -->`` and its END marker; each section is written only when it ran).

    nice -n 10 python benchmarks/bench_colgen_scale.py --baseline <ref>          # all targets
    nice -n 10 python benchmarks/bench_colgen_scale.py --only u5,u6 --no-write    # a subset
    nice -n 10 python benchmarks/bench_colgen_scale.py --only '' --entropic 4096,16384,65536   # entropic rows only
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: case -> (description, time limit of the issue's target in seconds)
CASES = {
    "u5": ("uniform on [0,1], Coulomb, N=5, l=321", 60.0),
    "u6": ("uniform on [0,1], Coulomb, N=6, l=193", 60.0),
    "g10": ("Gaussian on [-4,4], Coulomb, N=10, l=100", 60.0),
    "g20": ("Gaussian on [-4,4], Coulomb, N=20, l=80", 300.0),
    "s30": ("soft Coulomb a=0.1, N=30, l=120, density ~ 0.2 + sin^2", 600.0),
    "d2": ("2D Gaussian on [-4,4]^2, 32x32 grid, Coulomb, N=3", 600.0),
}

_CHILD = r'''
import json, resource, sys, time
import numpy as np
import mmot_models as mm
case, tl = sys.argv[1], float(sys.argv[2])
def make(case):
    if case == "u5": return mm.MMOTProblem.symmetric(mm.uniform(mm.line(0.0, 1.0, 321)), 5, "coulomb")
    if case == "u6": return mm.MMOTProblem.symmetric(mm.uniform(mm.line(0.0, 1.0, 193)), 6, "coulomb")
    if case == "g10": return mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4.0, 4.0, 100)), 10, "coulomb")
    if case == "g20": return mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4.0, 4.0, 80)), 20, "coulomb")
    if case == "s30":
        i = np.arange(1, 121)
        marg = mm.Marginal(np.linspace(0.0, 1.0, 120), 0.2 + np.sin(np.pi * i / 121) ** 2, normalize=True)
        return mm.MMOTProblem.symmetric(marg, 30, mm.SoftCoulomb(0.1))
    if case == "d2":
        return mm.MMOTProblem.symmetric(mm.gaussian(mm.box([-4.0, -4.0], [4.0, 4.0], [32, 32])), 3, "coulomb")
p = make(case)
t0 = time.perf_counter()
s = mm.solve(p, method="colgen", time_limit=tl)
t = time.perf_counter() - t0
h = s.info["history"]
print(json.dumps({"package": mm.__file__, "status": s.status.value, "upper": s.upper_bound, "lower": s.lower_bound,
                  "rel_gap": s.relative_gap, "time_s": t, "rounds": len(h), "cols": s.info["n_cols"],
                  "pricer": s.info.get("exact_pricer"),
                  "pricing_s": sum(r.get("pricing_s", 0.0) for r in h) if h and "pricing_s" in h[0] else None,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
'''

_ENTROPIC_CHILD = r'''
import json, math, resource, sys, time
import numpy as np
import mmot_models as mm
from mmot_models.entropic.api import solve_entropic
from mmot_models.entropic.lower_bound import pruned_ctransform_lower_bound
from mmot_models.physics.reference import cyclic_quantile_plan
l = int(sys.argv[1])
m = mm.uniform(mm.line(0, 1, l, midpoints=True))
p = mm.MMOTProblem.symmetric(m, 3, "coulomb")
idx, w = cyclic_quantile_plan(m.weights, 3)
ref = float(np.sum(p.tuple_costs(idx) * w))
del idx, w
t0 = time.perf_counter()
s = solve_entropic(p, eps=40.0 / l ** 2, tol=1e-5, multiscale=True, solver="newton", max_iter=200000,
                   time_limit=3600, plan=False, upper_bound=True,
                   multiscale_options={"coarse_size": 64, "level_eps_factor": 4.0})
t = time.perf_counter() - t0
lbi = s.info.get("lower_bound_search", {})
print(json.dumps({"l": l, "time_s": t, "lower": s.lower_bound, "upper": s.upper_bound, "reference": ref,
                  "lb_s": lbi.get("seconds"), "lb_nodes": lbi.get("nodes"), "complete": lbi.get("complete"),
                  "status": s.status.value, "value": s.value, "ub_s": s.info.get("rounding_seconds"),
                  "delta": s.info.get("rounding_deficit_mass"), "theta": s.info.get("rounding_mix", 0.0),
                  "coupling": s.info.get("rounding_coupling"), "ub_note": s.info.get("rounding_note"),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
'''


def _extract(ref: str) -> str:
    """Package tree of git ``ref`` in a temporary directory (returned path is its root)."""
    tmp = tempfile.mkdtemp(prefix="mmot-baseline-")
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "mmot_models"], check=True,
                          capture_output=True).stdout
    tar = Path(tmp) / "src.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as tf:
        tf.extractall(tmp, filter="data")
    return tmp


def _child(code: str, args: list[str], pythonpath: str, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    try:
        # cwd = the package root: ``python -c`` puts the cwd first on sys.path
        out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=pythonpath)
    except subprocess.TimeoutExpired:
        return {"status": "killed", "time_s": timeout}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"status": "crashed", "stderr": out.stderr[-400:]}
    return json.loads(lines[-1])


def _fmt(r: dict, key: str, spec: str) -> str:
    v = r.get(key)
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="issue 15: certified colgen at scale vs a base commit")
    ap.add_argument("--baseline", default=None, help="git ref of today's colgen (omit: no baseline runs)")
    ap.add_argument("--only", default=",".join(CASES), help="comma list of cases: " + ",".join(CASES))
    ap.add_argument("--time-cap", type=float, default=None, help="cap every case's time limit (s)")
    ap.add_argument("--entropic", default="", help="comma list of l for the entropic N=3 bracket rows")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    from _common import command, machine, write_section

    base_path = _extract(args.baseline) if args.baseline else None
    lines = ["## Certified column generation at scale (issue 15)", "", f"Machine: {machine()}  ",
             f"Command: `{command()}`", "",
             "`solve(method='colgen', time_limit=T)` with default options; *baseline* is the same call on the "
             f"package at `{args.baseline}` (pricing='auto' as it was), run right after in the same session. "
             "Every run is a fresh process; *peak MB* is its peak RSS (HiGHS included). "
             "*rel. gap* is (U - L) / max(1, |U|) of the certified bracket [L, U].", "",
             "| case | T (s) | status | upper U | certified lower L | rel. gap | time (s) | rounds | columns | "
             "pricing (s) | peak MB | baseline status | baseline rel. gap | baseline time (s) | time ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case in [c for c in args.only.split(",") if c]:
        desc, tl = CASES[case]
        if args.time_cap:
            tl = min(tl, args.time_cap)
        r = _child(_CHILD, [case, str(tl)], str(ROOT), 3 * tl + 120)
        print(case, r, flush=True)
        b = _child(_CHILD, [case, str(tl)], base_path, 3 * tl + 120) if base_path else {}
        if b:
            print(case, "baseline", b, flush=True)
        ratio = (f"{b['time_s'] / r['time_s']:.1f}x" if b.get("status") == "optimal" and r.get("time_s")
                 else ("baseline not certified" if b else "-"))
        lines.append(f"| {desc} | {tl:.0f} | {r.get('status')} | {_fmt(r, 'upper', '.10g')} | "
                     f"{_fmt(r, 'lower', '.10g')} | {_fmt(r, 'rel_gap', '.1e')} | {_fmt(r, 'time_s', '.1f')} | "
                     f"{r.get('rounds', '-')} | {r.get('cols', '-')} | {_fmt(r, 'pricing_s', '.1f')} | "
                     f"{_fmt(r, 'peak_mb', '.0f')} | {b.get('status', '-')} | {_fmt(b, 'rel_gap', '.1e')} | "
                     f"{_fmt(b, 'time_s', '.1f')} | {ratio} |")
    cases = [c for c in args.only.split(",") if c]
    ent = [int(v) for v in args.entropic.split(",") if v]
    elines: list[str] = []
    if ent:
        elines = ["## Entropic N = 3, uniform on [0, 1] (l midpoints), Coulomb: certified bracket (issue 15)", "",
                  f"Machine: {machine()}  ", f"Command: `{command()}`", "",
                  "Multiscale Newton (eps = 40 h^2, tol 1e-5, as in the entropic-n3 section); the lower bound is "
                  "the c-transform bound computed by pruned search (`entropic/lower_bound.py`, the default when l^3 "
                  "exceeds `lower_bound_max_entries` = 2e8), the upper bound the certified cost of the entropic plan "
                  "rounded to exact marginals (`entropic/plan.py`, `rounded_plan`: scaled down, mixed with weight "
                  "theta, deficits coupled by a quantile coupling). *rel. width* is (upper - lower) / reference; "
                  "*reference* is the cost of the cyclic co-motion plan (feasible, a cross-check, not part of the "
                  "bracket). Every l is a fresh process; *peak MB* is its peak RSS.", "",
                  "| l | lower | upper | rel. width | reference | deficit mass delta | theta | status | "
                  "solve + bounds (s) | lower-bound search (s) | upper bound (s) | search nodes | peak MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for l in ent:
            r = _child(_ENTROPIC_CHILD, [str(l)], str(ROOT), 7200)
            print("entropic", r, flush=True)
            width = (r["upper"] - r["lower"]) / abs(r["reference"]) if "upper" in r else None
            elines.append(f"| {l} | {_fmt(r, 'lower', '.10f')} | {_fmt(r, 'upper', '.10f')} | "
                          f"{'-' if width is None else format(width, '.1e')} | {_fmt(r, 'reference', '.10f')} | "
                          f"{_fmt(r, 'delta', '.1e')} | {_fmt(r, 'theta', '.1e')} | {r.get('status', '-')} | "
                          f"{_fmt(r, 'time_s', '.0f')} | {_fmt(r, 'lb_s', '.1f')} | {_fmt(r, 'ub_s', '.1f')} | "
                          f"{_fmt(r, 'lb_nodes', '.3g')} | {_fmt(r, 'peak_mb', '.0f')} |")
    if not args.no_write and cases:
        write_section("colgen-scale", "\n".join(lines) + "\n")
    if not args.no_write and elines:
        write_section("colgen-scale-entropic", "\n".join(elines) + "\n")
    print("\n".join(lines + [""] + elines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
