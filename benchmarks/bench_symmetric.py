"""Benchmarks of the exact symmetric solvers (issue 3): multiset LP and certified column generation.

Targets
-------
A. Gaussian on 100 equispaced points of [-4, 4], N=3, Coulomb: column generation (and the
   enumerated multiset LP of this package) vs the enumerated multiset LP solved by
   ``scipy.optimize.linprog(method="highs")`` -- same value, end-to-end speed ratio.  A 2D row
   (10x10 grid) shows a case where column generation needs several rounds.
B. Certified optima (relative gap <= 1e-9) at sizes whose enumerated LP does not fit in memory:
   N=3 l=1000, N=4 l=200, N=6 l=60 (1D Gaussian, Coulomb) and 2D counterparts.
C. Large N: N=30, l=120, 1D soft Coulomb a=0.1 on [0, 1], marginal ~ 0.2 + sin^2(pi i/(l+1)):
   upper bound, certified lower bound, gap, time.

Each case runs in a fresh process so that its peak resident memory (``ru_maxrss``, includes
HiGHS) is its own.  Results go to docs/benchmarks.md between ``<!-- BEGIN symmetric -->`` and
``<!-- END symmetric -->``.

    python benchmarks/bench_symmetric.py            # full targets (several minutes)
    python benchmarks/bench_symmetric.py --quick    # small sizes, ~1 minute
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _gauss_problem(l: int, N: int, d: int, cost="coulomb"):
    import mmot_models as mm
    if d == 1:
        marg = mm.gaussian(mm.line(-4.0, 4.0, l))
    else:
        k = int(round(l ** 0.5))
        marg = mm.gaussian(mm.box([-4.0, -4.0], [4.0, 4.0], [k, k]))
    return mm.MMOTProblem.symmetric(marg, N, cost, name=f"gauss{d}d-l{marg.size}-N{N}")


def _sin_problem(l: int, N: int, a: float):
    import numpy as np
    import mmot_models as mm
    i = np.arange(1, l + 1)
    marg = mm.Marginal(np.linspace(0.0, 1.0, l), 0.2 + np.sin(np.pi * i / (l + 1)) ** 2, normalize=True)
    return mm.MMOTProblem.symmetric(marg, N, mm.SoftCoulomb(a), name=f"sin-l{l}-N{N}")


def case_peer(l: int, N: int, d: int) -> dict:
    """Target A: colgen / symmetric LP vs scipy linprog(highs) on the enumerated multiset LP."""
    import numpy as np
    from scipy.optimize import linprog
    from mmot_models import solve
    from mmot_models.formulations.multisets import multisets, occupation_matrix, multiset_pair_costs

    prob = _gauss_problem(l, N, d)
    l = prob.sizes[0]
    # peer: enumerate (distinct sites: Coulomb), build, linprog(highs)
    t0 = time.perf_counter()
    C = prob.pair_matrix(0, 0)
    ms = multisets(l, N, distinct=True)
    c = multiset_pair_costs(C, ms)
    A = occupation_matrix(ms, l)
    b = N * prob.marginals[0].weights
    res = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    t_peer = time.perf_counter() - t0
    assert res.status == 0, res.message
    t0 = time.perf_counter()
    cg = solve(prob, method="colgen")
    t_cg = time.perf_counter() - t0
    t0 = time.perf_counter()
    sym = solve(prob, method="symmetric")
    t_sym = time.perf_counter() - t0
    return {"case": prob.name, "columns": int(ms.shape[0]), "peer_value": float(res.fun), "peer_s": t_peer,
            "colgen_value": cg.value, "colgen_status": cg.status.value, "colgen_s": t_cg,
            "colgen_rounds": cg.info["rounds"], "colgen_gap": cg.relative_gap,
            "sym_value": sym.value, "sym_s": t_sym, "peak_mb": _peak_mb()}


def case_certified(l: int, N: int, d: int, time_limit: float) -> dict:
    """Target B: certified optimum by column generation."""
    from mmot_models import solve
    from mmot_models.formulations.symmetric import symmetric_size

    prob = _gauss_problem(l, N, d)
    size = symmetric_size(prob)
    t0 = time.perf_counter()
    sol = solve(prob, method="colgen", time_limit=time_limit)
    t = time.perf_counter() - t0
    return {"case": prob.name, "enum_columns": size.n_cols, "enum_gib": size.bytes / 2**30,
            "status": sol.status.value, "value": sol.value, "lower": sol.lower_bound, "upper": sol.upper_bound,
            "rel_gap": sol.relative_gap, "time_s": t, "rounds": sol.info["rounds"], "cols": sol.info["n_cols"],
            "support": sol.info.get("multiset_support"), "pricer": sol.info["exact_pricer"], "peak_mb": _peak_mb()}


def case_large(l: int, N: int, a: float, time_limit: float) -> dict:
    """Target C: large N with heuristic pricing and a certified (relaxation) lower bound."""
    from mmot_models import solve
    from mmot_models.formulations.symmetric import symmetric_size
    from mmot_models.physics.reference import cyclic_quantile_plan

    prob = _sin_problem(l, N, a)
    idx, w = cyclic_quantile_plan(prob.marginals[0].weights, N)
    start = float(prob.tuple_costs(idx) @ w)
    t0 = time.perf_counter()
    sol = solve(prob, method="colgen", time_limit=time_limit)
    t = time.perf_counter() - t0
    hist = sol.info["history"]
    return {"case": prob.name, "enum_columns": symmetric_size(prob).n_cols, "status": sol.status.value,
            "start": start, "upper": sol.upper_bound, "lower": sol.lower_bound, "gap": sol.gap,
            "rel_gap": sol.relative_gap, "time_s": t, "rounds": len(hist), "cols": sol.info["n_cols"],
            "peak_mb": _peak_mb()}


def _run(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="symmetric MMOT benchmarks (issue 3)")
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--large-time", type=float, default=None, help="time limit of target C (s)")
    args = ap.parse_args(argv)
    from _common import command, machine, write_section

    if args.quick:
        peer_cases = [(40, 3, 1), (36, 3, 2)]
        cert_cases = [(200, 3, 1), (60, 4, 1), (30, 6, 1), (64, 4, 2)]
        large = (40, 10, 0.1, args.large_time or 20.0)
    else:
        peer_cases = [(100, 3, 1), (100, 3, 2)]
        cert_cases = [(1000, 3, 1), (200, 4, 1), (60, 6, 1), (400, 3, 2), (196, 4, 2), (64, 6, 2)]
        large = (120, 30, 0.1, args.large_time or 300.0)

    lines = ["## Exact symmetric MMOT: multiset LP and certified column generation (issue 3)", "",
             f"Machine: {machine()}  ", f"Command: `{command()}`", "",
             "Every case ran in a fresh process; *peak MB* is its peak resident memory (`ru_maxrss`, "
             "HiGHS included).", ""]

    print("A. colgen vs scipy linprog(highs) on the enumerated multiset LP")
    lines += ["### A. Column generation vs the enumerated multiset LP on scipy's HiGHS", "",
              "Gaussian on l equispaced points of [-4, 4] (1D) or a k x k grid of [-4, 4]^2 (2D), N = 3, "
              "Coulomb. Peer: enumerate the distinct-site multisets, build the occupation matrix, "
              "`scipy.optimize.linprog(method='highs')`; all times end to end.", "",
              "| case | multisets | linprog (s) | colgen (s) | speed-up | colgen rounds | abs. value diff | "
              "symmetric LP (s) | peak MB |", "|---|---|---|---|---|---|---|---|---|"]
    for l, N, d in peer_cases:
        r = _run(case_peer, l, N, d)
        diff = abs(r["colgen_value"] - r["peer_value"])
        print(r)
        lines.append(f"| {r['case']} | {r['columns']:,} | {r['peer_s']:.2f} | {r['colgen_s']:.3f} | "
                     f"{r['peer_s'] / r['colgen_s']:.0f}x | {r['colgen_rounds']} | {diff:.1e} | {r['sym_s']:.2f} | "
                     f"{r['peak_mb']:.0f} |")
    lines += ["", "In 1D the cyclic-quantile initial columns are already optimal for the Coulomb cost "
              "(the SCE co-motion structure), so column generation needs one master solve plus one exact "
              "pricing that certifies it; the 2D row shows a run where columns must really be generated.", ""]

    print("B. certified optima")
    lines += ["### B. Certified optima at sizes where the enumerated LP is too large", "",
              "Gaussian, Coulomb (distinct sites), `solve(method='colgen')` with the default tolerance "
              "(relative gap <= 1e-9). *enumerated* is the size of the full multiset LP and its estimated "
              "memory (the package refuses LPs above half the available memory; the 1D targets would need 19-41 GiB on this 24 GiB machine).", "",
              "| case | enumerated columns | enumerated GiB (est.) | status | value | rel. gap | time (s) | "
              "rounds | columns used | support | peak MB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for l, N, d in cert_cases:
        r = _run(case_certified, l, N, d, 600.0)
        print(r)
        lines.append(f"| {r['case']} | {r['enum_columns']:,} | {r['enum_gib']:.1f} | {r['status']} | "
                     f"{r['value']:.10f} | {r['rel_gap']:.1e} | {r['time_s']:.1f} | {r['rounds']} | {r['cols']:,} | "
                     f"{r['support']} | {r['peak_mb']:.0f} |")

    print("C. large N")
    l, N, a, tl = large
    r = _run(case_large, l, N, a, tl)
    print(r)
    lines += ["", f"### C. Large N: N = {N}, l = {l}, soft Coulomb a = {a}", "",
              f"Sites: {l} equispaced points of [0, 1]; marginal proportional to 0.2 + sin^2(pi i/(l+1)); "
              f"time limit {tl:.0f} s. The upper bound is the restricted master's value (a feasible plan); the "
              "lower bound is N<u, mu> plus a certified lower bound on the minimal reduced cost (the convex "
              "occupation-number relaxation, soft Coulomb being a positive-definite kernel, or the branch-and-bound "
              "frontier), maximised over rounds.", "",
              "| case | multisets | cyclic-quantile start | upper bound | certified lower bound | gap | rel. gap | "
              "status | time (s) | rounds | columns | peak MB |", "|---|---|---|---|---|---|---|---|---|---|---|---|",
              f"| {r['case']} | {r['enum_columns']:.3g} | {r['start']:.6f} | {r['upper']:.6f} | {r['lower']:.6f} | "
              f"{r['gap']:.3g} | {r['rel_gap']:.1e} | {r['status']} | {r['time_s']:.0f} | {r['rounds']} | "
              f"{r['cols']:,} | {r['peak_mb']:.0f} |", "",
              "What limits growth at large N: the exact pricing problem (a quadratic integer program over "
              "occupation numbers) has no exact certificate at this size; the lower bound comes from a convex "
              "relaxation whose integrality gap (fractional occupations), not the master LP, sets most of the "
              "reported gap; the heuristic pricer's upper bound settles much earlier."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("symmetric", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
