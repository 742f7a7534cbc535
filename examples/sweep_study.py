"""A study at scale: sweep grid sizes x methods on a local Dask cluster, print the table, draw the
summary plot, then check results independently (a library certificate, a POT plan).

    python examples/sweep_study.py [--workers 2] [--sizes 12] [--serial] [--out sweep_study.png]

Rerunning resumes: finished tasks (rows in ``sweep_study.results/``) are not recomputed.
"""
from __future__ import annotations

import argparse

import numpy as np

import mmot_models as mm
from mmot_models.bench import get_instance, load_certificate
from mmot_models.plotting import plot_sweep
from mmot_models.studies import report_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2, help="workers of the local Dask cluster")
    ap.add_argument("--sizes", type=int, default=12, help="how many grid sizes to sweep")
    ap.add_argument("--serial", action="store_true", help="run in this process instead of on Dask")
    ap.add_argument("--out", default="sweep_study.png")
    args = ap.parse_args()

    # 1. the sweep: N = 3 electrons, Gaussian density, grid sizes x {exact LP, colgen, entropic}
    spec = {
        "name": "gaussian-N3",
        "problem": {"density": "gaussian", "n_points": [int(n) for n in np.linspace(12, 60, args.sizes)],
                    "n_marginals": 3, "domain": [-5.0, 5.0]},
        "methods": ["symmetric", {"method": "colgen", "options": {"tol": 1e-9}},
                    {"method": "entropic", "options": {"eps": 0.05}, "label": "entropic eps=0.05"}],
        "options": {"time_limit": 60},
    }
    res = mm.sweep(spec, "sweep_study.results", serial=args.serial, n_workers=args.workers, progress=True)
    print(f"{res.n_tasks} tasks: {res.n_skipped} already done, {res.n_run} run in {res.wall_time_s:.1f} s")
    print(report_table(res.rows))
    plot_sweep(res.rows, args.out, x="n_points")
    print(f"summary plot: {args.out}")

    # 2. an independent check of a shipped certificate, and of a solution made here
    cert = load_certificate("gaussian-1d-l24-N3")
    v = mm.verify(cert.problem, plan=(cert.plan_indices, cert.plan_weights), potentials=cert.potential,
                  value=cert.value, gap_tol=1e-7)
    print(f"library instance {cert.name}: certified value {cert.value:.12f}; verifier ok={v.ok}, "
          f"bracket [{v.lower_bound:.12f}, {v.upper_bound:.12f}] ({v.dual_check})")
    problem = get_instance("gaussian-1d-l24-N2").problem()
    try:
        import ot
    except ImportError:  # POT is optional
        return
    w = problem.marginals[0].weights
    C = problem.pair_matrix(0, 0)
    plan = ot.emd(w, w, np.where(np.isfinite(C), C, 1e12))
    v2 = mm.verify(problem, plan)
    print(f"POT ot.emd plan for {problem.name}: ok={v2.ok}, certified upper bound {v2.upper_bound:.12f} "
          f"(library value {load_certificate('gaussian-1d-l24-N2').value:.12f})")


if __name__ == "__main__":
    main()
