"""Quick start: build a problem, solve it exactly with the primal and dual LPs on HiGHS and Pyomo,
check the certificate against the 1D closed form, and plot the optimal plan.

    python examples/quickstart.py [--out quickstart.png]
"""
from __future__ import annotations

import argparse

import mmot_models as mm
from mmot_models.physics.reference import comotion_functions_1d, uniform_sce_value
from mmot_models.plotting import plot_comotion_1d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="quickstart.png")
    args = ap.parse_args()

    # 3 electrons, uniform density on [0, 1] discretised by 12 cell midpoints, Coulomb repulsion
    marginal = mm.uniform(mm.line(0.0, 1.0, 12, midpoints=True))
    problem = mm.MMOTProblem.symmetric(marginal, 3, mm.Coulomb())
    print(problem)
    print(f"closed form (continuum and this grid): {uniform_sce_value(3)}")
    for method in ("primal", "dual"):
        for backend in ("highs", "pyomo"):
            sol = mm.solve(problem, method=method, backend=backend)
            print(f"{method:>6} / {sol.backend:<17} value {sol.value:.12f}  "
                  f"bracket [{sol.lower_bound:.12f}, {sol.upper_bound:.12f}]  status {sol.status.value}")

    # unequal marginals, any dimension: a 2D three-marginal problem with soft Coulomb repulsion
    grid = mm.box([-1, -1], [1, 1], [4, 4])
    p2 = mm.MMOTProblem((mm.gaussian(grid, [0.3, 0.0], 0.5), mm.uniform(grid), mm.gaussian(grid, [-0.3, 0.2], 0.3)),
                        mm.SoftCoulomb(0.2))
    s2 = mm.solve(p2)
    print(f"2D, 3 unequal marginals: {s2.method} value {s2.value:.10f}, gap {s2.gap:.2e}, "
          f"support {s2.support_size}, marginal error {s2.max_marginal_error:.1e}")

    sol = mm.solve(problem, method="primal")
    x = marginal.points[:, 0]
    plot_comotion_1d(sol, args.out, reference=comotion_functions_1d(x, marginal.weights, 3), x_ref=x)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
