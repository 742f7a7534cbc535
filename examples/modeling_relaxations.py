"""Relaxations through the modelling layer: bracket the exact SCE value with k-body models.

Three electrons, Gaussian density on a 1D grid, Coulomb repulsion.  ``Model(problem, "krep", k=k)``
optimises over symmetric k-body plans with the right one-body marginal; its certified value ``V_k``
is a lower bound of the exact value for ``k < N`` and an upper bound for ``k > N``
(``V_2 <= V_3 = exact <= V_4 <= V_5``).  Order-3 k-representability cuts tighten the k = 2 bound, and a
``"moments"`` model (marginal rows replaced by hat-function moment rows) gives another lower bound.
Every number is the certified bracket of its own LP; ``sol.bound`` says how it bounds the exact value.

    python examples/modeling_relaxations.py [--out relaxations.png] [--l 16]
"""
from __future__ import annotations

import argparse

import mmot_models as mm
from mmot_models.modeling import interval_bipartitions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="relaxations.png")
    ap.add_argument("--l", type=int, default=16, help="grid points")
    args = ap.parse_args()

    N = 3
    problem = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4, 4, args.l, midpoints=True)), N, mm.Coulomb())
    exact = mm.Model(problem, formulation="symmetric").solve()
    print(f"exact (N = {N} multiset LP): {exact.value:.10f}  [{exact.status.value}, {exact.bound.value}]")

    rows = []   # (label, k, value, direction)
    for k in (2, 3, 4, 5):
        sol = mm.Model(problem, formulation="krep", k=k).solve()
        assert sol.status == mm.Status.OPTIMAL, sol.message
        rows.append((f"krep k={k}", k, sol.value, sol.bound.value))
        print(f"krep k={k}: {sol.value:.10f}  {sol.bound.value:>5} bound  "
              f"(own LP bracket [{sol.info['lp_lower']:.10f}, {sol.info['lp_upper']:.10f}])")

    m = mm.Model(problem, formulation="krep", k=2)
    m.add(mm.KRepresentabilityCuts(k=3, signs=interval_bipartitions(args.l)))   # all 2^(l-1) are too many
    cut = m.solve()
    print(f"krep k=2 + order-3 cuts: {cut.value:.10f}  {cut.bound.value} bound")

    mom = mm.Model(problem, formulation="moments")
    mom.add(mm.MomentRows(mm.hats(args.l // 4)))
    msol = mom.solve()
    print(f"moments (hats:{args.l // 4}): {msol.value:.10f}  {msol.bound.value} bound")

    lower = max(v for _, k, v, d in rows if d == "lower")
    upper = min(v for _, k, v, d in rows if d == "upper")
    assert lower <= exact.value + 1e-9 <= upper + 2e-9 and cut.value <= exact.value + 1e-9
    print(f"bracket of the exact value from k-body models: [{max(lower, cut.value):.10f}, {upper:.10f}]")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ks = [k for _, k, _, _ in rows]
    ax.plot(ks, [v for _, _, v, _ in rows], "o-", label="$V_k$ (krep model)")
    ax.axhline(exact.value, color="k", lw=0.8, ls="--", label="exact ($k = N$)")
    ax.plot([2], [cut.value], "s", label="$k = 2$ + order-3 cuts")
    ax.plot([2], [msol.value], "^", label="moments model")
    ax.set_xlabel("k (bodies of the representing plan)")
    ax.set_ylabel("certified value")
    ax.set_title(f"N = {N}, Gaussian density, l = {args.l}: lower for k < N, upper for k > N")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
