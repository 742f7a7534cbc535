"""Certified c-transform lower bound for large 1D three-marginal runs, by pruned search.

For potentials ``u_0, u_1, u_2`` the dual value with the last potential c-transformed,

.. math::
    L = \\langle \\mu_0, u_0\\rangle + \\langle \\mu_1, u_1\\rangle + \\langle \\mu_2, u_2^c\\rangle,\\qquad
    u_2^c(z) = \\min_{x, y}\\; c(x, y, z) - u_0(x) - u_1(y),

is a lower bound on the optimum for any potentials (:func:`.plan.ctransform_lower_bound` computes it
with ``l^3`` work).  Here ``u_2^c(z) - u_2(z) = \\min_{x,y} r(x, y, z)`` with the reduced cost
``r = c - u_0 - u_1 - u_2`` is computed for every ``z`` by branch and bound on a dyadic block
hierarchy of the three sorted site lists (the same pricing problem as column generation, with
pruning).  A block triple ``(I, J, K)`` is bounded below by

.. math:: \\sum_{\\text{pairs}} f(\\text{largest distance between the two intervals})
          - \\max_I u_0 - \\max_J u_1 - \\max_K u_2

(valid for pair costs ``f(|x - y|)`` with ``f`` non-increasing: Coulomb, soft Coulomb), and by the
second-order bound ``r(centres) + sum_i delta_i - sum_i M_i h_i``: ``delta_i`` is the exact minimum over
the block of ``-(u_i - a_i x)`` relative to its centre value (``a_i`` the chord slope of ``u_i``),
``M_i`` bounds ``|d/dx_i (c - sum_j a_j x_j)|`` over the block triple (closed-form force ranges for
separated blocks) and ``h_i`` is the half width.  The larger of the two is used; a node is pruned
when this exceeds ``max_{z in K}`` of the best value already found for ``z`` minus a ``slack``.
Incumbents come first from the quantile co-motion guess refined by a windowed local search.  The
search only descends near the co-motion curve: measured about linear in ``l`` instead of ``l^3``.
Pruning with ``slack`` (and nodes left open at the deadline, whose bounds are folded in) keep
the result a valid lower bound: ``u_2^c(z) - u_2(z) >= min(best(z), open bounds) - slack``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np

from ..costs import Coulomb, SoftCoulomb
from ..problem import MMOTProblem

__all__ = ["supports_pruned_bound", "pruned_ctransform_lower_bound"]


def supports_pruned_bound(problem: MMOTProblem) -> bool:
    """``True`` for three 1D marginals with a non-increasing radial pair cost (Coulomb, soft Coulomb)."""
    return (problem.n_marginals == 3 and problem.dim == 1 and problem.is_pair_cost
            and isinstance(problem.cost, (Coulomb, SoftCoulomb)))


def _block_max(v: np.ndarray, L: int) -> list[np.ndarray]:
    """``out[k][j] = max v[j 2^(L-k) : (j+1) 2^(L-k)]`` for k = 0..L (``v`` has length 2^L)."""
    out = [v]
    for _ in range(L):
        out.append(np.maximum(out[-1][0::2], out[-1][1::2]))
    return out[::-1]


def pruned_ctransform_lower_bound(problem: MMOTProblem, u: Sequence[np.ndarray], *, slack: float | None = None,
                                  deadline: float = math.inf, start_level: int = 6, chunk: int = 2_000_000,
                                  window: int = 24, sweeps: int = 3) -> tuple[float, dict[str, Any]]:
    """The c-transform lower bound (last potential transformed) by pruned branch and bound.

    Parameters
    ----------
    problem : three 1D marginals, Coulomb or soft Coulomb (:func:`supports_pruned_bound`).
    u : the three potentials (entries on zero-mass sites are ignored).
    slack : pruning slack in cost units (default ``1e-9 * max(1, |sum_i <mu_i, u_i>|)``); the bound
        is lowered by it, so it stays valid.
    deadline : ``time.perf_counter()`` value; nodes still open then contribute their block bounds.

    Returns
    -------
    (lower_bound, info) with ``info``: nodes evaluated, levels, open nodes at the deadline, seconds.
    """
    if not supports_pruned_bound(problem):
        raise ValueError("pruned c-transform bound: needs N=3, d=1 and a Coulomb/soft Coulomb cost")
    t0 = time.perf_counter()
    f = problem.cost.of_distance
    mus = [np.asarray(m.weights, dtype=float) for m in problem.marginals]
    xs, us, ws = [], [], []
    for i in range(3):
        supp = np.nonzero(mus[i] > 0)[0]
        x = problem.marginals[i].points[supp, 0]
        o = np.argsort(x, kind="stable")
        xs.append(x[o])
        us.append(np.asarray(u[i], dtype=float)[supp][o])
        ws.append(mus[i][supp][o])
    base = float(ws[0] @ us[0] + ws[1] @ us[1] + ws[2] @ us[2])
    if not all(np.all(np.isfinite(v)) for v in us):
        return -math.inf, {"reason": "non-finite potentials"}
    slack = 1e-9 * max(1.0, abs(base)) if slack is None else float(slack)
    lmax = max(v.size for v in xs)
    L = max(1, int(math.ceil(math.log2(lmax))))
    n = 2 ** L
    # pad to 2^L: repeated last coordinate, potential -inf (reduced cost +inf, never chosen)
    xp = [np.concatenate([x, np.full(n - x.size, x[-1])]) for x in xs]
    up = [np.concatenate([v, np.full(n - v.size, -np.inf)]) for v in us]
    umax = [_block_max(v, L) for v in up]
    lo = [[x[np.arange(2 ** k) * 2 ** (L - k)] for k in range(L + 1)] for x in xp]
    hi = [[x[np.arange(1, 2 ** k + 1) * 2 ** (L - k) - 1] for k in range(L + 1)] for x in xp]
    lz = xs[2].size

    def exact(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            r = (f(np.abs(xp[0][a] - xp[1][b])) + f(np.abs(xp[0][a] - xp[2][c])) + f(np.abs(xp[1][b] - xp[2][c]))
                 - up[0][a] - up[1][b] - up[2][c])
        return np.where(np.isnan(r), np.inf, r)

    # ---- incumbents: quantile co-motion guess, then windowed coordinate descent (vectorised over z)
    z = np.arange(lz)
    F = [np.cumsum(w) - 0.5 * w for w in ws]
    best = np.full(lz, np.inf)
    cand = []
    for s1, s2 in ((1 / 3, 2 / 3), (2 / 3, 1 / 3)):
        a = np.clip(np.searchsorted(F[0], (F[2] + s1) % 1.0), 0, xs[0].size - 1)
        b = np.clip(np.searchsorted(F[1], (F[2] + s2) % 1.0), 0, xs[1].size - 1)
        cand.append((a, b))
    offs = np.arange(-window, window + 1)
    for a, b in cand:
        for _ in range(sweeps):
            A = np.clip(a[:, None] + offs[None, :], 0, xs[0].size - 1)
            v = exact(A, b[:, None], z[:, None])
            a = A[z, np.argmin(v, axis=1)]
            Bm = np.clip(b[:, None] + offs[None, :], 0, xs[1].size - 1)
            v = exact(a[:, None], Bm, z[:, None])
            b = Bm[z, np.argmin(v, axis=1)]
        best = np.minimum(best, exact(a, b, z))
    best_p = np.concatenate([best, np.full(n - lz, -np.inf)])  # padded z: nothing to compute

    # second-order data per block: centre site, chord slope of u, half width, and
    # delta = min_block(-(u - a x)) - (-(u(centre) - a x_centre)) <= 0 (exact, discrete)
    cen, slope, halfw, delta = [], [], [], []
    for i in range(3):
        ci_, sl_, hw_, de_ = [], [], [], []
        li = xs[i].size
        for k in range(L + 1):
            w = 2 ** (L - k)
            first = np.arange(2 ** k) * w
            last = np.minimum(first + w, li) - 1
            last = np.maximum(last, np.minimum(first, li - 1))
            c = (np.minimum(first, li - 1) + last) // 2
            x0, x1 = xp[i][np.minimum(first, li - 1)], xp[i][last]
            with np.errstate(invalid="ignore", divide="ignore"):
                a = np.where(x1 > x0, (up[i][last] - up[i][np.minimum(first, li - 1)]) / (x1 - x0), 0.0)
            a = np.where(np.isfinite(a), a, 0.0)
            g = -(up[i] - np.repeat(a, w) * xp[i])  # +inf on padding
            gmin = g.reshape(2 ** k, w).min(axis=1)
            with np.errstate(invalid="ignore"):
                de = gmin - g[c]
            ci_.append(c)
            sl_.append(a)
            hw_.append(np.maximum(xp[i][c] - x0, x1 - xp[i][c]))
            de_.append(np.where(np.isnan(de), -np.inf, de))
        cen.append(ci_)
        slope.append(sl_)
        halfw.append(hw_)
        delta.append(de_)
    dstar = problem.cost.a / math.sqrt(2.0) if isinstance(problem.cost, SoftCoulomb) else 0.0

    def fprime(d: np.ndarray) -> np.ndarray:
        if isinstance(problem.cost, SoftCoulomb):
            return -d / (d * d + problem.cost.a ** 2) ** 1.5
        return -1.0 / (d * d)

    def node_lb(k: int, I: np.ndarray, J: np.ndarray, K: np.ndarray) -> np.ndarray:
        B = (I, J, K)

        def fmin(p: int, q: int, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
            d = np.maximum(np.abs(hi[q][k][Q] - lo[p][k][P]), np.abs(hi[p][k][P] - lo[q][k][Q]))
            return f(d)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            r = fmin(0, 1, I, J) + fmin(0, 2, I, K) + fmin(1, 2, J, K) - umax[0][k][I] - umax[1][k][J] - umax[2][k][K]
            # second-order bound: exact value at the centres + exact curvature of u - gradient x half width
            c = [cen[i][k][B[i]] for i in range(3)]
            rc = exact(c[0], c[1], c[2])
            glo = [np.zeros(I.size) for _ in range(3)]
            ghi = [np.zeros(I.size) for _ in range(3)]
            for p_, q_ in ((0, 1), (0, 2), (1, 2)):
                P, Q = B[p_], B[q_]
                left = hi[p_][k][P] < lo[q_][k][Q]    # block p entirely left of block q
                right = hi[q_][k][Q] < lo[p_][k][P]
                dmin = np.where(left, lo[q_][k][Q] - hi[p_][k][P], lo[p_][k][P] - hi[q_][k][Q])
                dmax = np.where(left, hi[q_][k][Q] - lo[p_][k][P], hi[p_][k][P] - lo[q_][k][Q])
                fl = fprime(np.clip(dstar, dmin, dmax))
                fh = np.maximum(fprime(dmin), fprime(dmax))
                sep = left | right
                fl = np.where(sep, fl, -np.inf)
                fh = np.where(sep, fh, np.inf)
                # d/dx_p f(|x_p - x_q|) = -f'(d) if p left of q, +f'(d) if right; d/dx_q the opposite
                lo_p, hi_p = np.where(left, -fh, fl), np.where(left, -fl, fh)
                glo[p_] += lo_p
                ghi[p_] += hi_p
                glo[q_] -= hi_p
                ghi[q_] -= lo_p
            r2 = rc.copy()
            for i in range(3):
                a = slope[i][k][B[i]]
                M = np.maximum(np.abs(glo[i] - a), np.abs(ghi[i] - a))
                hw = halfw[i][k][B[i]]
                r2 = r2 + delta[i][k][B[i]] - np.where(hw > 0, M * hw, 0.0)
            r2 = np.where(np.isnan(r2), -np.inf, r2)
            r = np.maximum(np.where(np.isnan(r), -np.inf, r), r2)
        return np.where(np.isnan(r), np.inf, r)

    k0 = min(start_level, L)
    g = np.arange(2 ** k0)
    I0, J0, K0 = (a.ravel() for a in np.meshgrid(g, g, g, indexing="ij"))
    stack: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = [(k0, I0, J0, K0)]
    floors = [np.full(2 ** k, np.inf) for k in range(L + 1)]  # bounds of nodes left open
    nodes, open_nodes = 0, 0
    per_level = np.zeros(L + 1, dtype=np.int64)
    bmax_cache: dict[int, np.ndarray] = {}
    while stack:
        k, I, J, K = stack.pop()
        if I.size > chunk:
            stack.append((k, I[chunk:], J[chunk:], K[chunk:]))
            I, J, K = I[:chunk], J[:chunk], K[:chunk]
        nodes += I.size
        per_level[k] += I.size
        if k == L:
            v = exact(I, J, K)
            np.minimum.at(best_p, K, v)
            bmax_cache.clear()
            continue
        lb = node_lb(k, I, J, K)
        if k not in bmax_cache:
            bmax_cache[k] = _block_max(best_p, L)[k]
        live = lb < bmax_cache[k][K] - slack
        I, J, K, lb = I[live], J[live], K[live], lb[live]
        if I.size == 0:
            continue
        if time.perf_counter() > deadline:
            np.minimum.at(floors[k], K, lb)
            open_nodes += I.size
            continue
        o = np.arange(8)
        ci = (2 * I[:, None] + (o >> 2 & 1)[None, :]).ravel()
        cj = (2 * J[:, None] + (o >> 1 & 1)[None, :]).ravel()
        ck = (2 * K[:, None] + (o & 1)[None, :]).ravel()
        stack.append((k + 1, ci, cj, ck))
    m = best_p[:lz]
    for k in range(L + 1):
        if np.isfinite(floors[k]).any():
            m = np.minimum(m, np.repeat(floors[k], 2 ** (L - k))[:lz])
    m = m - slack
    info = {"nodes": int(nodes), "levels": L, "nodes_per_level": per_level[k0:].tolist(),
            "open_nodes": int(open_nodes), "slack": slack,
            "seconds": time.perf_counter() - t0, "complete": open_nodes == 0}
    if not np.all(np.isfinite(m)):
        return -math.inf, info
    return base + float(ws[2] @ m), info
