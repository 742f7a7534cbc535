"""SCE energies of He, Li and Be from their shipped Hartree-Fock densities (radial reduction).

For each atom: the exact radial LP on an equal-mass grid (certified bounds), the SGS co-motion
plan on the same grid (a feasible plan: the LP can only be lower or equal), the continuum
co-motion value (exact map for He, SGS ansatz for Li/Be) and the published SGS value.  One PNG
per atom: radial density, co-motion functions with the LP plan's support, Kantorovich potential
with its (N-1)/r tail.

Run:  python examples/atoms.py [OUTPUT_DIR] [--points-he 120 --points-li 30 --points-be 12] [--atoms He,Li,Be]
(fast defaults, well under a minute).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmot_models.physics.atoms import PUBLISHED_SGS
from mmot_models.physics.densities import load_atomic_density
from mmot_models.physics.radial import sgs_grid_plan
from mmot_models.plotting import plot_atom
from mmot_models.studies.atoms import sce_energy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output", nargs="?", default=".", help="directory for the PNGs (default: cwd)")
    ap.add_argument("--points-he", type=int, default=120)
    ap.add_argument("--points-li", type=int, default=30)
    ap.add_argument("--points-be", type=int, default=12)
    ap.add_argument("--atoms", default="He,Li,Be", help="comma-separated subset of He,Li,Be (default: all three)")
    args = ap.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    points = {"He": args.points_he, "Li": args.points_li, "Be": args.points_be}
    chosen = [a.strip() for a in args.atoms.split(",") if a.strip()]
    if not chosen or any(a not in points for a in chosen):
        ap.error(f"--atoms takes a comma-separated subset of He,Li,Be, got {args.atoms!r}")
    for sym, L in ((a, points[a]) for a in chosen):
        t0 = time.perf_counter()
        d = load_atomic_density(sym)
        sol = sce_energy(sym, points=L, grid="quantile")  # equal mass: the SGS plan is a grid plan
        idx, w = sgs_grid_plan(L, d.n_electrons)
        sgs_grid = float(sol.problem.tuple_costs(idx) @ w)
        png = plot_atom(d, sol, out / f"atom_{sym}.png",
                        title=f"{sym} ({d.meta['method']}/{d.meta['basis']}): radial LP on {L} points, "
                              f"V = {sol.value:.5f}")
        rows.append((sym, d.n_electrons, L, sol, sgs_grid, sol.info.get("comotion_value"), PUBLISHED_SGS.get(sym),
                     time.perf_counter() - t0, png))
    head = (f"{'atom':<4} {'N':>2} {'L':>4} {'LP value':>10} {'certified [lower, upper]':>26} "
            f"{'SGS plan on grid':>16} {'continuum':>10} {'published':>9} {'time':>6}")
    print(head)
    print("-" * len(head))
    for sym, N, L, sol, sg, cont, pub, dt, _ in rows:
        pub_s = f"{pub:.4f}" if pub is not None else "-"
        print(f"{sym:<4} {N:>2} {L:>4} {sol.value:>10.6f} [{sol.lower_bound:.8f}, {sol.upper_bound:.8f}] "
              f"{sg:>16.6f} {cont:>10.6f} {pub_s:>9} {dt:>5.1f}s")
    print("\ncontinuum: exact radial map (He), SGS ansatz value (Li, Be; an upper bound of V_ee^SCE).")
    print("The LP equals the SGS plan on the grid to ~1e-12 (SGS is optimal among grid plans); the LP minus")
    print("the continuum value is the grid's quadrature error and shrinks as L grows.")
    for *_, png in rows:
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
