"""The modelling workflow: a transport model with a user row, solved on three backends, extended in Pyomo.

Three electrons, Gaussian density on a 1D grid, Coulomb repulsion.  The SCE optimum keeps the
electrons apart; a user row forces pairs to come close with probability at least ``t``:

    E_plan[ fraction of pairs with |x_i - x_j| < r ] >= t

and the script traces the certified optimal value as ``t`` grows (the price of that constraint).

    python examples/modeling.py [--out modeling.png] [--l 24]
"""
from __future__ import annotations

import argparse

import numpy as np

import mmot_models as mm

#: Distance below which two electrons count as "close".
R_CLOSE = 1.0


def close_pairs(P: np.ndarray) -> np.ndarray:
    """Fraction of the N(N-1)/2 pairs closer than R_CLOSE, for configurations P of shape (K, N, d)."""
    N = P.shape[1]
    d = np.abs(P[:, :, None, 0] - P[:, None, :, 0])
    iu = np.triu_indices(N, 1)
    return (d[:, iu[0], iu[1]] < R_CLOSE).mean(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="modeling.png")
    ap.add_argument("--l", type=int, default=24, help="grid points")
    args = ap.parse_args()

    problem = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4, 4, args.l, midpoints=True)), 3, mm.Coulomb())

    # 1. the model: the multiset LP, a user row, solved on every backend with the same certificate
    free = mm.Model(problem, formulation="symmetric").solve()
    m = mm.Model(problem, formulation="symmetric")
    closeness = m.plan.expectation(close_pairs, symmetric=True)
    t0 = closeness.value(np.bincount([m.plan.index(t) for t in free.info["multisets"].tolist()],
                                     weights=free.info["multiset_weights"], minlength=m.n_cols))
    print(f"free optimum {free.value:.10f}, E[close pairs] = {t0:.4f}")
    m.add_constraint(closeness >= 0.2, name="close")
    for backend in ("highs", "pyomo", "cvxpy"):
        s = m.solve(backend=backend)
        print(f"{backend:>6}: value {s.value:.10f}  bracket [{s.lower_bound:.10f}, {s.upper_bound:.10f}]  "
              f"{s.status.value}")

    # 2. extend the Pyomo model by hand: at most half of the mass on configurations whose three
    #    electrons fit in a quarter of the grid (multisets are sorted: spread = last - first site)
    import pyomo.environ as pyo

    pm = m.to_pyomo()
    pm.spread = pyo.Constraint(expr=sum(pm.plan[t] for t in pm.T if t[-1] - t[0] <= args.l // 4) <= 0.5)
    s = m.solve_pyomo(pm)
    print(f" pyomo + user Pyomo row: value {s.value:.10f}, gap {s.gap:.1e}, {s.status.value}")

    # 3. the price of closeness: certified value as the threshold t grows
    ts = np.linspace(t0, 0.6, 9)
    vals = []
    for t in ts:
        mt = mm.Model(problem, formulation="symmetric")
        mt.add_constraint(mt.plan.expectation(close_pairs, symmetric=True) >= t)
        s = mt.solve()
        assert s.status == mm.Status.OPTIMAL, s.message
        vals.append(s.value)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ts, vals, "o-")
    ax.set_xlabel(f"t: required E[fraction of pairs closer than {R_CLOSE:g}]")
    ax.set_ylabel("certified optimal Coulomb energy")
    ax.set_title(f"N = 3, Gaussian density, l = {args.l}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
