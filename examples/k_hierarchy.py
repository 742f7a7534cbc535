"""The k-hierarchy picture of the slides: optimal cost per particle pair against k, approaching mean field.

Left: the two-site model (closed form, lines; k-representability LP, markers) for a few densities
``mu = (1-t) A + t B``.  Right: soft Coulomb on a 1D Gaussian grid, ``V_k / binom(N, 2)`` (independent of N)
from the LP, with the mean-field value ``<mu, C mu>`` it approaches from below.  ``V_k`` for ``k = N``
is the exact N-electron value per pair, so it lies above the Jensen lower bound of the k-electron problem
(soft Coulomb is positive definite: Hartree minus self-interaction, ``physics.reference.psd_lower_bound``),
which approaches the same mean field as ``k`` grows.

Run: ``python examples/k_hierarchy.py [--out k_hierarchy.png] [--k-max 10]`` (about 10 s).
"""
from __future__ import annotations

import argparse
import math
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mmot_models import MMOTProblem, gaussian, line, solve  # noqa: E402
from mmot_models.physics.reference import psd_lower_bound  # noqa: E402
from mmot_models.physics.two_site import (two_site_krep_per_pair, two_site_mean_field_per_pair,  # noqa: E402
                                          two_site_problem)
from mmot_models.plotting import save_figure  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="k_hierarchy.png", help="PNG path (default: k_hierarchy.png in the cwd)")
    ap.add_argument("--k-max", type=int, default=10, help="largest k for the soft Coulomb LPs (default 10)")
    ap.add_argument("--points", type=int, default=10, help="grid points of the Gaussian (default 10)")
    args = ap.parse_args(argv)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3))
    u_diag, u_ab, N = 1.0, 0.25, 2
    ks_cf = np.arange(2, 41)
    for t, c in ((0.5, "tab:blue"), (0.3, "tab:orange"), (0.1, "tab:green")):
        ax1.plot(ks_cf, [two_site_krep_per_pair(int(k), t, u_diag, u_ab) for k in ks_cf], "-", color=c, lw=1,
                 label=f"closed form, t={t}")
        ks_lp = np.arange(2, 13)
        lp = [solve(two_site_problem(t, N, u_diag, u_ab), method="krep", k=int(k)).info["per_pair"] for k in ks_lp]
        ax1.plot(ks_lp, lp, "o", color=c, ms=4)
        ax1.axhline(two_site_mean_field_per_pair(t, u_diag, u_ab), color=c, ls="--", lw=0.8)
    ax1.set_xlabel("k")
    ax1.set_ylabel("optimal cost per pair")
    ax1.set_title(f"two-site model (U_diag={u_diag}, U_AB={u_ab})\nmarkers: LP, dashed: mean field")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)

    marg = gaussian(line(-3.0, 3.0, args.points, midpoints=True))
    p = MMOTProblem.symmetric(marg, 2, {"kind": "soft_coulomb", "a": 0.5})
    mu = np.asarray(marg.weights)
    mf = float(mu @ p.pair_matrix(0, 0) @ mu)
    rows = []
    for k in range(2, args.k_max + 1):
        t0 = time.perf_counter()
        s = solve(p, method="krep", k=k)
        jensen = psd_lower_bound(MMOTProblem.symmetric(marg, k, p.cost)).value / math.comb(k, 2)
        if jensen > s.info["per_pair"] + 1e-9:
            raise SystemExit(f"k={k}: Jensen bound {jensen} above the exact k-electron value {s.info['per_pair']}")
        rows.append((k, s.info["per_pair"], jensen, s.info["n_multisets"], time.perf_counter() - t0))
    ks = [r[0] for r in rows]
    ax2.plot(ks, [r[1] for r in rows], "o-", label="$V_k/\\binom{N}{2}$ (k-representable LP)")
    ax2.plot(ks, [r[2] for r in rows], "s:", ms=3, label="Jensen lower bound, k electrons")
    ax2.axhline(mf, color="k", ls="--", label=f"mean field <mu,C mu> = {mf:.5f}")
    ax2.set_xlabel("k  (= N: exact N-electron value per pair)")
    ax2.set_ylabel("optimal cost per pair")
    ax2.set_title(f"soft Coulomb (a=0.5), Gaussian on {args.points} points")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    save_figure(fig, args.out)
    print(f"{'k':>3} {'V_k per pair':>14} {'mean field - V_k':>17} {'V_k - Jensen':>13} {'multisets':>10} "
          f"{'time (s)':>9}")
    for k, v, j, m, t in rows:
        print(f"{k:>3} {v:>14.8f} {mf - v:>17.3e} {v - j:>13.3e} {m:>10} {t:>9.3f}")
    print(f"mean field per pair {mf:.8f}; plot written to {args.out}")


if __name__ == "__main__":
    main()
