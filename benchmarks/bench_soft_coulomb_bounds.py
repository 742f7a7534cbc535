"""Lower bounds for soft Coulomb a=0.1, N=30, l=120 (issue 15's one missed target), at late duals.

Runs column generation for ``--colgen-time`` seconds, re-solves the master on the final plan's
columns for its duals ``u``, and prints, as lower bounds on the optimum (``N <u, mu> + min`` of a
relaxed pricing problem, or closed forms):

* the Lagrangian bound with the convex QP relaxation of pricing (``price_qp_bound``);
* the Jensen bound of the positive-definite kernel (``psd_lower_bound``);
* with ``--sdp``: the Lagrangian bound with the doubly non-negative SDP relaxation of pricing
  (cvxpy + Clarabel; minutes), and the smallest long-range fluctuation of the master's plan over
  positive semidefinite kernels equal to the cost beyond D sites (one small SDP per D): what a
  Jensen bound on a smooth part must lose even with the short-range rest priced exactly.

    python benchmarks/bench_soft_coulomb_bounds.py --colgen-time 300 --sdp
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.linalg import toeplitz

import mmot_models as mm
from mmot_models.algorithms.colgen import _MASTER_OPTIONS, _master_lp
from mmot_models.algorithms.pricing import price_qp_bound
from mmot_models.backends.highs import solve_lp
from mmot_models.formulations.multisets import occupation_matrix
from mmot_models.formulations.symmetric import multiset_costs
from mmot_models.physics.reference import psd_lower_bound


def problem() -> mm.MMOTProblem:
    i = np.arange(1, 121)
    marg = mm.Marginal(np.linspace(0.0, 1.0, 120), 0.2 + np.sin(np.pi * i / 121) ** 2, normalize=True)
    return mm.MMOTProblem.symmetric(marg, 30, mm.SoftCoulomb(0.1))


def dnn_pricing_min(C: np.ndarray, u: np.ndarray, N: int) -> float:
    """min of the doubly non-negative relaxation of ``1/2 n^T C n - 1/2 diag(C)^T n - u^T n`` (an estimate:
    the solver's value, not a rigorous dual bound)."""
    import cvxpy as cp

    l = C.shape[0]
    Y = cp.Variable((l + 1, l + 1), PSD=True)
    n, X = Y[0, 1:], Y[1:, 1:]
    cons = [Y[0, 0] == 1, cp.sum(n) == N, cp.sum(X, axis=1) == N * n, cp.diag(X) >= n, cp.diag(X) >= 3 * n - 2,
            X >= 0]
    pr = cp.Problem(cp.Minimize(0.5 * cp.sum(cp.multiply(C, X)) - 0.5 * np.diag(C) @ n - u @ n), cons)
    pr.solve(solver="CLARABEL")
    return float(pr.value)


def split_fluctuation(C_row: np.ndarray, occ: np.ndarray, w: np.ndarray, Nmu: np.ndarray, D: int) -> float:
    """min over PSD Toeplitz K_L equal to the cost beyond D sites of E_w[1/2 (n - N mu)^T K_L (n - N mu)]."""
    import cvxpy as cp

    l = C_row.size
    dev = occ - Nmu
    M = np.einsum("c,ci,cj->ij", w / w.sum(), dev, dev)
    s = cp.Variable(D)
    KL = toeplitz(C_row) - sum(s[k] * toeplitz(np.eye(l)[k]) for k in range(D))
    pr = cp.Problem(cp.Minimize(0.5 * cp.sum(cp.multiply(M, KL))), [KL >> 0])
    pr.solve(solver="CLARABEL")
    return float(pr.value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--colgen-time", type=float, default=300.0, help="column generation time limit (s)")
    ap.add_argument("--sdp", action="store_true", help="also the SDP rows (several minutes)")
    args = ap.parse_args()
    p = problem()
    N, mu = p.n_marginals, np.asarray(p.marginals[0].weights)
    C = p.pair_matrix(0, 0)
    t0 = time.perf_counter()
    s = mm.solve(p, method="colgen", time_limit=args.colgen_time)
    print(f"colgen {time.perf_counter() - t0:.0f} s: status {s.status.value}, rounds {s.info['rounds']}, "
          f"upper {s.upper_bound:.6f}, certified lower {s.lower_bound:.6f}")
    ms = np.unique(np.sort(s.info["multisets"], axis=1), axis=0)
    cost = multiset_costs(p, ms, C)
    res = solve_lp(_master_lp(p, ms, cost), options=dict(_MASTER_OPTIONS))
    u = np.asarray(res.row_dual)
    base = N * float(u @ mu)
    rows = [("master value (upper)", base)]
    rows.append(("Lagrangian bound, QP relaxation", base + min(price_qp_bound(C, u, N, False).lower, 0.0)))
    rows.append(("Jensen bound (Hartree - self-interaction)", psd_lower_bound(p).value))
    if args.sdp:
        t = time.perf_counter()
        dnn = base + min(dnn_pricing_min(C, u, N), 0.0)
        rows.append((f"Lagrangian bound, DNN SDP relaxation ({time.perf_counter() - t:.0f} s)", dnn))
        occ = occupation_matrix(ms, p.sizes[0]).T.toarray()
        x = np.maximum(np.asarray(res.x), 0.0)
        for D in (8, 12, 16):
            rows.append((f"Jensen on a smooth part, range {D} sites exact: at best", base - split_fluctuation(
                C[0], occ, x, N * mu, D)))
    for name, v in rows:
        print(f"{name:<62} {v:.6f}   below the plan: {base - v:.4f}")


if __name__ == "__main__":
    main()
