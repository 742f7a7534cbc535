"""Validation of the entropic solver on the 1D uniform density (Benamou-Carlier-Nenna, section 4).

For N = 2 and N = 3 electrons with the uniform density on [0, 1] (l midpoints, Coulomb cost) this
script solves the entropic problem for decreasing eps and prints the error of the transport cost
against the exact discrete optimum (multiset LP) and the continuum SCE value (2 and 7.5), with
iteration counts -- the analogue of Tables 1-2 of the paper.  It writes three pictures:

* ``entropic_comotion_N2.png`` / ``entropic_comotion_N3.png``: the support of the plan at the
  smallest eps against the closed-form co-motion functions, and the potential;
* ``entropic_pair_density_N3.png``: the two-marginal projection ``P_12`` of the N = 3 plan (Fig. 8).

    python examples/entropic_1d_validation.py [OUTPUT_DIR]      # about 30 s
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import mmot_models as mm  # noqa: E402
from mmot_models.entropic import solve_entropic  # noqa: E402
from mmot_models.physics.reference import comotion_functions_1d, uniform_sce_value  # noqa: E402
from mmot_models.plotting import plot_comotion_1d, plot_pair_density  # noqa: E402

CASES = {2: (100, [0.256, 0.128, 0.064, 0.032, 0.016, 0.008]), 3: (45, [0.32, 0.16, 0.08, 0.04, 0.02])}


def main(out_dir: Path, eps_steps: int | None = None) -> None:
    """Run both cases; ``eps_steps`` keeps only the first (largest) eps values of each (a quick run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for N, (l, eps_list) in CASES.items():
        eps_list = eps_list[:eps_steps] if eps_steps else eps_list
        marg = mm.uniform(mm.line(0.0, 1.0, l, midpoints=True))
        p = mm.MMOTProblem.symmetric(marg, N, "coulomb", name=f"uniform-N{N}")
        exact = mm.solve(p, method="symmetric")
        cont = uniform_sce_value(N)
        print(f"\nN = {N}, uniform on {l} midpoints of [0, 1]: exact LP {exact.value:.6f} "
              f"(continuum SCE {cont:g})")
        print(f"{'eps':>7} {'<c,gamma>':>10} {'err vs LP':>10} {'err vs SCE':>10} {'iters':>6} "
              f"{'lower':>9} {'upper':>9} {'status':>10} {'time':>6}")
        sol = None
        for eps in eps_list:
            t0 = time.perf_counter()
            sol = solve_entropic(p, eps=eps, tol=1e-6, time_limit=20)
            print(f"{eps:7.3f} {sol.value:10.5f} {abs(sol.value - exact.value):10.2e} {abs(sol.value - cont):10.2e} "
                  f"{sol.info['history'][-1]['iterations']:6d} {sol.lower_bound:9.5f} {sol.upper_bound:9.5f} "
                  f"{sol.status.value:>10} {time.perf_counter() - t0:5.1f}s")
        x = marg.points[:, 0]
        ref = comotion_functions_1d(x, marg.weights, N)
        # the entropic co-motion estimate: sorted conditional quantiles of P_12(x, .)
        est = sol.info["comotion"]
        dev = np.nanmax(np.abs(np.sort(ref[1:], axis=0) - est)[:, 2:-2])
        print(f"co-motion estimate vs closed form (sorted, interior points): max deviation {dev:.3f} "
              f"(grid step {1 / l:.3f})")
        fig = plot_comotion_1d(sol, None, reference=ref, x_ref=x,
                                title=f"entropic N={N}, eps={sol.info['eps']:g}: value {sol.value:.4f}")
        from mmot_models.plotting import save_figure
        save_figure(fig, out_dir / f"entropic_comotion_N{N}.png")
        print(f"wrote {out_dir / f'entropic_comotion_N{N}.png'}")
        if N == 3:
            P = sol.pair_density(0, 1)
            fig = plot_pair_density(P, extent=(0, 1, 0, 1),
                                    title=f"pair density P_12, N=3 uniform, eps={sol.info['eps']:g}")
            save_figure(fig, out_dir / "entropic_pair_density_N3.png")
            print(f"wrote {out_dir / 'entropic_pair_density_N3.png'}")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", nargs="?", default=".", help="directory for the PNGs (default: cwd)")
    ap.add_argument("--eps-steps", type=int, default=None,
                    help="only the first (largest) eps values of each case (default: all)")
    args = ap.parse_args()
    main(Path(args.out_dir), args.eps_steps)
