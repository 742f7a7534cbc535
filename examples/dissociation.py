"""Dissociation of a two-electron 1D molecule in SCE-DFT, and the paper's limit fractions.

Bouchitte, Buttazzo, Champion, De Pascale: as the nuclei separate (R -> infinity, equivalently
eps -> 0 in their rescaling), the minimising density splits into pieces near the nuclei; with
equal charges each nucleus keeps exactly one electron (Remarks 5.10, 5.11), with unequal charges
the split is fractional and becomes "both electrons on the stronger nucleus" past a transition.

Writes three PNGs (default into the current directory):

* ``dissociation_curve.png``: F(R) and the total energy N F + V_nn for charges (1, 1) and (1, Z2);
* ``dissociation_fractions.png``: electrons near each nucleus vs R, with the R -> infinity limit
  (the joint convex program for (5.5)) as dashed lines;
* ``dissociation_transition.png``: limit fraction on the stronger nucleus vs Z2/Z1, 1D soft-Coulomb
  and 3D radial (exact Coulomb) models.

Run:  python examples/dissociation.py [OUTDIR] [--spacing 0.4] [--z2 0.6] [--distances 1.2,2,4]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmot_models.studies.dissociation import limit_fractions, scan_distances


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=".", help="where to write the PNGs (default: cwd)")
    ap.add_argument("--z2", type=float, default=0.6, help="second charge of the unequal molecule (Z1 = 1)")
    ap.add_argument("--spacing", type=float, default=0.4, help="1D grid spacing (default 0.4)")
    ap.add_argument("--distances", default="1.2,2,2.8,4,6,8,12,16,24",
                    help="internuclear distances (multiples of the spacing keep the local grid fixed)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmot_models.plotting import save_figure

    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    R = [float(t) for t in args.distances.split(",")]
    t0 = time.perf_counter()
    cases = {"Z = (1, 1)": [1.0, 1.0], f"Z = (1, {args.z2:g})": [1.0, args.z2]}
    scans = {k: scan_distances(z, R, spacing=args.spacing, progress=not args.no_progress) for k, z in cases.items()}
    limits = {k: limit_fractions(z, spacing=args.spacing) for k, z in cases.items()}

    print(f"{'case':<14} {'R':>6} {'F':>10} {'total':>10} {'C':>8} {'C_lo(2.2)':>9} {'C_up(2.1)':>9}  electrons")
    for k, rows in scans.items():
        for d, res in rows:
            t = res.terms()
            print(f"{k:<14} {d:6.1f} {t['energy']:10.5f} {t['total_energy']:10.5f} {t['transport']:8.5f} "
                  f"{t['prop22_lower']:9.5f} {t['prop21_upper']:9.5f}  "
                  f"[{', '.join(f'{e:.3f}' for e in t['electrons'])}]  {t['status']}")
        lim = limits[k]
        print(f"{k:<14} {'inf':>6} {lim.energy:10.5f} {'':>10} {'':>8} {'':>9} {'':>9}  "
              f"[{', '.join(f'{2 * a:.3f}' for a in lim.fractions)}]  {lim.status.value}")

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for k, rows in scans.items():
        ax[0].plot(R, [r.energy for _, r in rows], "o-", label=k)
        ax[0].axhline(limits[k].energy, ls="--", lw=0.8, color=ax[0].lines[-1].get_color())
        ax[1].plot(R, [r.terms()["total_energy"] for _, r in rows], "o-", label=k)
    ax[0].set(xlabel="R", ylabel="min F (per electron)", title="F_1 vs R (dashed: R -> inf limit)")
    ax[1].set(xlabel="R", ylabel="N F + V_nn", title="dissociation curve")
    for a in ax:
        a.legend()
    save_figure(fig, out / "dissociation_curve.png")

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, rows in scans.items():
        el = np.array([r.electrons for _, r in rows])
        for j in range(el.shape[1]):
            line, = ax.plot(R, el[:, j], "o-", label=f"{k}, nucleus {j + 1}")
            ax.axhline(2 * limits[k].fractions[j], ls="--", lw=0.8, color=line.get_color())
    ax.set(xlabel="R", ylabel="electrons near nucleus", title="electron fraction per nucleus (dashed: limit)",
           xscale="log")
    ax.legend(fontsize=7)
    save_figure(fig, out / "dissociation_fractions.png")

    ratios = np.round(np.linspace(0.2, 1.0, 9), 3)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for geom, kw in (("line", dict(spacing=args.spacing)), ("radial", dict(n_points=40, extent=20.0))):
        alpha = [limit_fractions([1.0, z], geometry=geom, **kw).fractions[0] for z in ratios]
        ax.plot(ratios, 2 * np.array(alpha), "o-", label="1D soft Coulomb" if geom == "line" else "3D radial")
        pairs = ", ".join(f"{z:g}: {2 * a:.4f}" for z, a in zip(ratios, alpha))
        print(f"{geom}: limit electrons on nucleus 1 vs Z2/Z1: {pairs}")
    ax.set(xlabel="Z2 / Z1", ylabel="electrons on the stronger nucleus (R -> inf)",
           title="fractional electrons and the transition (N = 2)")
    ax.legend()
    save_figure(fig, out / "dissociation_transition.png")
    print(f"wrote {out / 'dissociation_curve.png'}, {out / 'dissociation_fractions.png'}, "
          f"{out / 'dissociation_transition.png'} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
