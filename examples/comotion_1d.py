"""1D co-motion functions from the exact multiset LP vs the closed form (uniform and Gaussian, N=2,3,4).

For each density and N the symmetric LP (or column generation, as ``auto`` decides) is solved on a
grid of cell midpoints; the co-motion maps f_2..f_N are read off the sparse optimal plan
(:func:`mmot_models.physics.comotion.comotion_from_solution`) and compared with the closed form
``f_k(x) = Q(F(x) + (k-1)/N mod 1)`` (:func:`mmot_models.physics.reference.comotion_functions_1d`).
Writes two figures: the maps (LP dots, closed form lines) and the Kantorovich potentials.

    python examples/comotion_1d.py [--out comotion_1d.png] [--points 60]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import mmot_models as mm
from mmot_models.physics.comotion import comotion_from_solution, kantorovich_potential
from mmot_models.physics.reference import comotion_functions_1d


def densities(n_points: int) -> dict[str, mm.Marginal]:
    return {
        "uniform": mm.uniform(mm.line(0.0, 1.0, n_points, midpoints=True)),
        "gaussian": mm.gaussian(mm.line(-4.0, 4.0, n_points, midpoints=True)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="comotion_1d.png", help="PNG of the co-motion maps")
    ap.add_argument("--points", type=int, default=60, help="grid points per density")
    args = ap.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mmot_models.plotting import save_figure

    margs = densities(args.points)
    Ns = (2, 3, 4)
    fig, axes = plt.subplots(len(margs), len(Ns), figsize=(12, 7.5), squeeze=False)
    fig_u, axes_u = plt.subplots(1, len(margs), figsize=(10, 3.8), squeeze=False)
    print(f"{'density':<9} {'N':>2} {'method':<9} {'value':>14} {'rel. gap':>9} {'support':>7} "
          f"{'median |f-f_ref|/h':>18} {'95%':>6} {'max':>6}  time")
    for r, (name, marg) in enumerate(margs.items()):
        x = marg.points[:, 0]
        h = float(x[1] - x[0])
        for c, N in enumerate(Ns):
            prob = mm.MMOTProblem.symmetric(marg, N, mm.Coulomb(), name=f"{name}-N{N}")
            sol = mm.solve(prob)  # auto: enumerated multiset LP, or column generation when large
            if not sol.status.ok:
                raise SystemExit(f"{name} N={N}: not certified ({sol.status.value}: {sol.message})")
            cm = comotion_from_solution(sol)
            ref = comotion_functions_1d(x, marg.weights, N)
            dev = cm.deviations(ref) / h
            print(f"{name:<9} {N:>2} {sol.method:<9} {sol.value:>14.10f} {sol.relative_gap:>9.1e} "
                  f"{sol.info['multiset_support']:>7} {np.median(dev):>18.2f} {np.quantile(dev, 0.95):>6.2f} "
                  f"{dev.max():>6.2f}  {sol.wall_time_s:.2f} s")
            ax = axes[r, c]
            colors = plt.cm.viridis(np.linspace(0, 0.85, N - 1))
            for k in range(1, N):
                ax.plot(x, ref[k], "-", color=colors[k - 1], lw=1.2, alpha=0.7)
                ax.plot(cm.x, cm.maps[k], ".", color=colors[k - 1], ms=3.5, label=f"f_{k + 1}")
            ax.set_title(f"{name}, N={N}: V={sol.value:.5f}", fontsize=9)
            ax.set_xlabel("x")
            if c == 0:
                ax.set_ylabel("f_k(x)  (dots: LP, lines: closed form)")
            ax.legend(fontsize=7, loc="lower right")
            u = kantorovich_potential(sol)
            axes_u[0, r].plot(x, u, "-", label=f"N={N}")
        axes_u[0, r].set_title(f"Kantorovich potential u, {name}", fontsize=9)
        axes_u[0, r].set_xlabel("x")
        axes_u[0, r].legend(fontsize=7)
    fig.tight_layout()
    out = Path(args.out)
    save_figure(fig, out)
    out_u = out.with_name(out.stem + "_potential" + out.suffix)
    fig_u.tight_layout()
    save_figure(fig_u, out_u)
    print(f"wrote {out} and {out_u}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
