"""Regenerate the shipped certificates: ``python -m mmot_models.bench.generate [NAME ...]``.

Each shipped instance is generated from its specification, solved by its exact method, checked by
the independent verifier and written to ``mmot_models/bench/data/<name>.npz``.
"""
from __future__ import annotations

import sys
import time

from .library import CERT_GAP_TOL, DATA_DIR, INSTANCES, save_certificate


def solve_complement_lp(problem):
    """Exact multiset LP for N electrons on l sites with a singular diagonal and ``l - N`` small: the
    distinct N-subsets are enumerated as complements of (l-N)-subsets (the package's level-by-level
    enumeration would hold ``binom(l, l/2)`` rows), solved by HiGHS through ``scipy.optimize.linprog``;
    the plan is expanded by cyclic shifts and the row duals are the potential."""
    import math as _m

    import numpy as np
    import scipy.sparse as sp
    from scipy.optimize import linprog

    from ..solution import Bound, Termination, assemble_solution
    from ..studies.verifier import _iter_all_multisets

    l, N = problem.marginals[0].size, problem.n_marginals
    ms = np.concatenate(list(_iter_all_multisets(l, N, True, 1 << 20)))
    c = problem.tuple_costs(ms)
    A = sp.csr_matrix((np.ones(ms.size), (ms.reshape(-1), np.repeat(np.arange(ms.shape[0]), N))),
                      shape=(l, ms.shape[0]))
    t0 = time.perf_counter()
    res = linprog(c, A_eq=A, b_eq=N * problem.marginals[0].weights, bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise RuntimeError(f"complement LP failed: {res.message}")
    y = np.asarray(res.eqlin.marginals, dtype=float)
    x = np.maximum(res.x, 0.0)
    keep = x > 0
    shifts = [np.roll(ms[keep], k, axis=1) for k in range(N)]
    idx = np.concatenate(shifts)
    w = np.tile(x[keep] / N, N)
    dual = float(N * y @ problem.marginals[0].weights)
    return assemble_solution(problem=problem, method="complement-lp", backend="scipy-highs",
                             termination=Termination.OPTIMAL, value=float(res.fun), lower_bound=dual,
                             upper_bound=float(res.fun), bound=Bound.EXACT, plan_indices=idx, plan_weights=w,
                             potentials=tuple([y] * N), t0=t0) if _m.isfinite(res.fun) else None


def main(argv: list[str] | None = None) -> int:
    from ..solve import solve
    from ..studies.verifier import verify

    names = set(argv if argv is not None else sys.argv[1:])
    bad = 0
    for inst in INSTANCES:
        if not inst.shipped or (names and inst.name not in names):
            continue
        problem = inst.generate()
        t0 = time.perf_counter()
        if inst.method == "complement-lp":
            sol = solve_complement_lp(problem)
        else:
            sol = solve(problem, method=inst.method, time_limit=120, **inst.options)
        t1 = time.perf_counter() - t0
        v = verify(problem, sol, gap_tol=CERT_GAP_TOL)
        print(f"{inst.name:32s} {sol.status.value:9s} {sol.value:.12g} solve {t1:.2f} s verify ok={v.ok} "
              f"{'; '.join(v.failures)[:200]}", file=sys.stderr, flush=True)
        if v.ok:
            save_certificate(inst.name, problem, sol, DATA_DIR / f"{inst.name}.npz")
        else:
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
