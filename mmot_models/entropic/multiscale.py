r"""Coarse-to-fine entropic solver on sparse kernels (Benamou-Carlier-Nenna, section 3.4).

1. *Hierarchy.*  Each marginal is coarsened by binning its points into cells whose side doubles at
   every level (any point cloud; on a Cartesian grid of ``n`` points per axis the coarse grid has
   ``ceil(n/2)``); a coarse point is the barycentre of its cell, its weight the cell's mass.
   Coarsening stops at ``coarse_size`` points (default 4096 for ``N = 2``, 64 for ``N = 3``).
2. *Coarsest level.*  Dense pair-factorised Sinkhorn with eps-scaling down to the target ``eps``.
3. *Refinement.*  For every pair ``(i, j)`` the coarse pair marginal ``P_ij`` is thresholded:
   a coarse cell pair ``(S, T)`` is kept when ``P_ij(S, T) >= threshold * max(P_ij(S, :))`` or
   ``>= threshold * max(P_ij(:, T))`` (default ``threshold = 1e-8``: entries down to
   ``e^{-18}`` of the row or column maximum, i.e. cost excesses up to ``~18 eps``), then dilated
   by one cell (``(S', T)`` and ``(S, T')`` for cells ``S'``, ``T'`` touching ``S``, ``T``) so that a
   support resolved too coarsely on the coarse grid is not cut off (default in 1D and 2D; in 3D the
   ``3^3``-fold growth of the pattern costs more than it buys, ``dilate=True`` forces it).  The fine
   pattern is every pair of children of kept cell pairs; the costs are evaluated on that pattern
   only and the fine kernels are ``scipy.sparse`` CSR matrices (:class:`.kernels.SparsePattern`).
4. *Fine level.*  Sinkhorn at the target ``eps`` on the sparse kernels, warm-started from the
   coarse potentials (``u_fine(s) = u_coarse(parent(s))``: with potentials taken relative to
   ``mu`` the plan mass of a cell pair is preserved).  Steps 3-4 repeat down to the given grid.

*eps tied to the level* (``level_eps_factor=q > 1``; Schmitzer 2019, paper sec. 3.4): level ``k``
is solved at ``eps * q**k``, each finer level runs eps-scaling from the coarser level's eps down to
its own, warm-started from the coarse potentials (linearly interpolated in 1D), and coarse levels
stop at ``max(tol, stage_tol)``.  ``q = 4`` keeps ``eps ~ h^2``, i.e. the support width constant in
cells.  For ``N = 3`` the sparse engine stores the kernel of every kept triple in the log domain
(:meth:`.kernels.PairEngine.absorb`); ``q = 4`` is the default for ``N = 3``.

*Inner solver* (``solver``): Sinkhorn sweeps, or damped Newton on the dual (:mod:`.newton`).  With
eps tied to the grid, Sinkhorn needs ``O(1/eps)`` sweeps per level (measured: about 4x more per
level), i.e. ``O(l^3)`` work in 1D; Newton needs 5-9 steps per level up to l = 16384 and 29 on
the l = 65536 level (coarse levels stop at ``stage_tol``), each a sparse LU of the ``(sum_i l_i)``-square Hessian, so the work grows
about linearly in ``l`` (docs/entropic.md).

The result is the entropic solution of the problem *restricted to the final sparse support*: a
plan with the given marginals (within ``tol``), so its rounded cost is still a valid upper bound;
the dropped entries carried relative mass below ``threshold`` on the coarser level.  Memory is
``O(nnz)`` instead of ``O(l^2)``.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem
from ..solution import Status
from .kernels import PairEngine, SparsePattern
from .newton import run_newton
from .sinkhorn import SinkhornOptions, SinkhornRecord, run_sinkhorn

__all__ = ["Level", "coarsen", "hierarchy", "refine_pattern", "solve_multiscale"]


@dataclass
class Level:
    """One marginal at one level: points, weights and the parent of each point on the next coarser level."""

    points: np.ndarray
    weights: np.ndarray
    parent: np.ndarray | None = None   # (l,) index into the coarser level
    cells: np.ndarray | None = None    # (l, d) integer cell coordinates of this (coarse) level
    counts: np.ndarray | None = None   # cells per axis

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs ``(a, b)`` of points in cells that touch (including ``a == b``), as index arrays."""
        L, d = self.cells.shape
        counts = self.counts.astype(np.int64)
        keys = np.ravel_multi_index(self.cells.T, tuple(int(c) for c in counts))
        order = np.argsort(keys)
        sk = keys[order]
        offs = np.stack(np.meshgrid(*[np.array([-1, 0, 1])] * d, indexing="ij"), axis=-1).reshape(-1, d)
        A, B = [], []
        for o in offs:
            c = self.cells + o
            ok = np.all((c >= 0) & (c < counts), axis=1)
            k = np.ravel_multi_index(c[ok].T, tuple(int(x) for x in counts))
            j = np.minimum(np.searchsorted(sk, k), L - 1)
            hit = sk[j] == k
            A.append(np.nonzero(ok)[0][hit])
            B.append(order[j[hit]])
        return np.concatenate(A), np.concatenate(B)


def _axis_counts(points: np.ndarray) -> np.ndarray:
    return np.array([min(np.unique(points[:, k]).size, points.shape[0]) for k in range(points.shape[1])])


def coarsen(points: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> tuple[Level, np.ndarray]:
    """Bin points into ``counts`` cells per axis; return the coarse level and each point's parent."""
    lo = points.min(axis=0)
    ext = np.maximum(points.max(axis=0) - lo, 1e-300)
    cell = np.minimum(np.floor((points - lo) / ext * counts).astype(np.int64), counts - 1)
    key = np.ravel_multi_index(cell.T, tuple(int(c) for c in counts))
    uniq, parent = np.unique(key, return_inverse=True)
    parent = parent.reshape(-1)
    L = uniq.size
    cells = np.stack(np.unravel_index(uniq, tuple(int(c) for c in counts)), axis=1)
    w = np.bincount(parent, weights=weights, minlength=L)
    cnt = np.bincount(parent, minlength=L)
    d = points.shape[1]
    pts = np.empty((L, d))
    for k in range(d):
        sw = np.bincount(parent, weights=weights * points[:, k], minlength=L)
        sm = np.bincount(parent, weights=points[:, k], minlength=L)
        pts[:, k] = np.where(w > 0, sw / np.where(w > 0, w, 1.0), sm / cnt)
    return Level(pts, w, cells=cells, counts=np.asarray(counts)), parent


def hierarchy(marginal: Marginal, coarse_size: int) -> list[Level]:
    """Levels from fine (index 0) to coarse, each halving the cells per axis."""
    levels = [Level(np.asarray(marginal.points), np.asarray(marginal.weights))]
    counts = _axis_counts(levels[0].points)
    while levels[-1].points.shape[0] > coarse_size and np.any(counts > 1):
        counts = np.maximum(1, (counts + 1) // 2)
        lev, parent = coarsen(levels[-1].points, levels[-1].weights, counts)
        levels[-1].parent = parent
        levels.append(lev)
    return levels


def _children(parent: np.ndarray, n_coarse: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR-like child lists: ``order[ptr[S]:ptr[S+1]]`` are the children of coarse point ``S``."""
    order = np.argsort(parent, kind="stable")
    ptr = np.zeros(n_coarse + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent, minlength=n_coarse), out=ptr[1:])
    return order, ptr


def refine_pattern(P, threshold: float, fine_i: Level, fine_j: Level, n_ci: int, n_cj: int,
                   cost, coarse_i: Level | None = None, coarse_j: Level | None = None) -> SparsePattern:
    """Fine sparse pattern (with costs) from the coarse pair marginal ``P`` (dense or sparse).

    With ``coarse_i``/``coarse_j`` given, every kept coarse pair ``(S, T)`` is dilated to
    ``(S', T)`` and ``(S, T')`` for the cells ``S'``, ``T'`` touching ``S``, ``T``.
    """
    P = sp.csr_matrix(P)
    P.eliminate_zeros()
    rmax = np.asarray(P.max(axis=1).toarray()).reshape(-1)
    cmax = np.asarray(P.max(axis=0).toarray()).reshape(-1)
    Pc = P.tocoo()
    keep = (Pc.data >= threshold * rmax[Pc.row]) | (Pc.data >= threshold * cmax[Pc.col])
    S, T = Pc.row[keep], Pc.col[keep]
    if coarse_i is not None and coarse_i.cells is not None and coarse_j is not None and coarse_j.cells is not None:
        na, nb = coarse_i.neighbours()
        ma, mb = coarse_j.neighbours()
        # (S, T) -> (S', T) for S' touching S
        ptr = np.zeros(n_ci + 1, dtype=np.int64)
        np.cumsum(np.bincount(na, minlength=n_ci), out=ptr[1:])
        ordn = np.argsort(na, kind="stable")
        deg = ptr[S + 1] - ptr[S]
        e = np.repeat(np.arange(S.size), deg)
        off = np.arange(e.size) - np.repeat(np.cumsum(deg) - deg, deg)
        S1, T1 = nb[ordn[ptr[S[e]] + off]], T[e]
        ptr = np.zeros(n_cj + 1, dtype=np.int64)
        np.cumsum(np.bincount(ma, minlength=n_cj), out=ptr[1:])
        ordm = np.argsort(ma, kind="stable")
        deg = ptr[T + 1] - ptr[T]
        e = np.repeat(np.arange(T.size), deg)
        off = np.arange(e.size) - np.repeat(np.cumsum(deg) - deg, deg)
        S2, T2 = S[e], mb[ordm[ptr[T[e]] + off]]
        key = np.unique(np.concatenate([S1, S2]).astype(np.int64) * n_cj + np.concatenate([T1, T2]))
        S, T = key // n_cj, key % n_cj
    oi, pi = _children(fine_i.parent, n_ci)
    oj, pj = _children(fine_j.parent, n_cj)
    nS = pi[S + 1] - pi[S]
    nT = pj[T + 1] - pj[T]
    tot = nS * nT
    rep = np.repeat(np.arange(S.size), tot)
    k = np.arange(int(tot.sum())) - np.repeat(np.cumsum(tot) - tot, tot)
    a = k // nT[rep]
    b = k % nT[rep]
    rows = oi[pi[S[rep]] + a]
    cols = oj[pj[T[rep]] + b]
    diff = fine_i.points[rows] - fine_j.points[cols]
    r = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        c = cost.of_distance(r)
    return SparsePattern.from_coo(rows, cols, np.asarray(c, dtype=float),
                                  (fine_i.points.shape[0], fine_j.points.shape[0]))


def level_eps(eps: float, n_levels: int, level_eps_factor: float) -> list[float]:
    """Target eps of every level, finest (index 0) first: ``eps * level_eps_factor**k`` on level ``k``."""
    return [float(eps) * float(level_eps_factor) ** k for k in range(n_levels)]


def _prolong(u: np.ndarray, coarse: Level, fine: Level, interpolate: bool) -> np.ndarray:
    """Coarse potential on the fine points: the parent's value, or in 1D (``interpolate``) the linear
    interpolation between coarse points.  With eps tied to ``h^2`` the cost changes across a cell by
    ``~ |c'| h >> eps``, so piecewise-constant potentials would put most of a cell's mass on its edge."""
    if interpolate and fine.points.shape[1] == 1 and coarse.points.shape[0] > 1:
        xc = coarse.points[:, 0]
        order = np.argsort(xc)
        ok = np.isfinite(u[order])
        if ok.sum() >= 2:
            xs, us = xc[order][ok], u[order][ok]
            xf = fine.points[:, 0]
            out = np.interp(xf, xs, us)
            # linear extrapolation beyond the outermost coarse points (constant extrapolation there
            # misses the potential by ~ h |u'|, which is >> eps when eps ~ h^2)
            lo, hi = xf < xs[0], xf > xs[-1]
            out[lo] = us[0] + (xf[lo] - xs[0]) * (us[1] - us[0]) / (xs[1] - xs[0])
            out[hi] = us[-1] + (xf[hi] - xs[-1]) * (us[-1] - us[-2]) / (xs[-1] - xs[-2])
            return out
    return u[fine.parent]


def solve_multiscale(problem: MMOTProblem, opts: SinkhornOptions, coarse_size: int | None = None,
                     threshold: float = 1e-8, dilate: bool | None = None,
                     level_eps_factor: float | None = None, solver: str = "sinkhorn",
                     sweeps_per_step: int = 1) -> tuple[PairEngine, SinkhornRecord, dict[str, Any]]:
    """Coarse-to-fine Sinkhorn (module docstring); returns the finest engine, its record and level info.

    ``level_eps_factor`` (``q``, default 1): level ``k`` (``k`` halvings above the given grid) is
    solved at ``eps_k = eps * q**k`` and each finer level runs eps-scaling from ``eps_{k+1}`` down to
    ``eps_k`` (factor ``opts.eps_factor``), warm-started from the prolonged coarse potentials.
    ``q = 4`` ties eps to the squared grid spacing (``eps_k ~ h_k^2``; Schmitzer 2019), which keeps
    the support width, in cells, the same on every level; ``q = 1`` solves every level at the target eps.
    """
    N = problem.n_marginals
    if not problem.is_pair_cost or N not in (2, 3):
        raise MMOTInputError("multiscale needs a pair cost and N = 2 or 3")
    try:
        problem.cost.of_distance(np.ones(1))
    except NotImplementedError:
        raise MMOTInputError("multiscale needs a radial pair cost (of_distance); user matrix costs are not supported") from None
    # N = 3: eps tied to the level by default (q = 4 keeps the support a few cells wide on every
    # level, so the triple list stays O(l)); N = 2: every level at the target eps
    q = (4.0 if N == 3 else 1.0) if level_eps_factor is None else float(level_eps_factor)
    if not (q >= 1.0 and np.isfinite(q)):
        raise MMOTInputError(f"multiscale level_eps_factor must be a finite number >= 1, got {level_eps_factor}")
    if solver not in ("sinkhorn", "newton"):
        raise MMOTInputError(f"multiscale solver must be 'sinkhorn' or 'newton', got {solver!r}")
    if not (0 < threshold < 1):
        raise MMOTInputError(f"multiscale threshold must be in (0, 1), got {threshold}")
    coarse_size = int(coarse_size or (4096 if N == 2 else 64))
    if dilate is None:
        dilate = problem.dim <= 2
    t0 = time.perf_counter()
    hier: list[list[Level]] = []
    for i, m in enumerate(problem.marginals):
        same = next((k for k in range(i) if problem.marginals[k] is m or problem.marginals[k].same_as(m)), None)
        hier.append(hier[same] if same is not None else hierarchy(m, coarse_size))
    n_levels = min(len(h) for h in hier)
    # align: use the same number of levels for every marginal (drop extra coarse levels)
    top = n_levels - 1
    eps_lev = level_eps(opts.eps, n_levels, q)
    coarse = MMOTProblem(tuple(Marginal(h[top].points, h[top].weights, normalize=True) for h in hier),
                         problem.cost, name=f"{problem.name}-coarse")
    costs = {(i, j): coarse.pair_matrix(i, j) for i in range(N) for j in range(i + 1, N)}
    mus = [h[top].weights for h in hier]
    engine = PairEngine(costs, mus)
    iters = 0
    levels_info = []
    # coarse levels only feed the pattern and the warm start: with eps tied to the level they stop at
    # max(tol, stage_tol); the given grid is always solved to tol
    coarse_tol = max(opts.tol, opts.stage_tol) if q > 1 else opts.tol
    budget = replace(opts, eps=eps_lev[top], tol=coarse_tol if top > 0 else opts.tol,
                     eps_start=max(eps_lev[top], opts.eps_start or eps_lev[top]))
    rec = run_sinkhorn(engine, mus, budget)
    iters += rec.iterations
    levels_info.append({"level": top, "eps": eps_lev[top], "sizes": [len(w) for w in mus], "nnz": int(sum(m.size for m in costs.values())),
                        "iterations": rec.iterations, "status": rec.status.value, "time_s": rec.time_s})
    history = list(rec.history)
    if opts.verbose:
        print(f"multiscale level {top}: {levels_info[-1]}", file=sys.stderr, flush=True)
    for lev in range(top - 1, -1, -1):
        if rec.status not in (Status.CONVERGED,):
            break
        v = rec.v(mus)
        pats = {}
        for i in range(N):
            for j in range(i + 1, N):
                P = engine.pair_marginal(i, j, v)
                pats[(i, j)] = refine_pattern(P, threshold, hier[i][lev], hier[j][lev], len(mus[i]), len(mus[j]),
                                              problem.cost, *((hier[i][lev + 1], hier[j][lev + 1]) if dilate else ()))
        u0 = [_prolong(rec.u[i], hier[i][lev + 1], hier[i][lev], interpolate=q > 1) for i in range(N)]
        mus = [h[lev].weights for h in hier]
        engine = PairEngine(pats, mus)
        left = None if opts.time_limit is None else max(0.0, opts.time_limit - (time.perf_counter() - t0))
        budget = replace(opts, eps=eps_lev[lev], tol=coarse_tol if lev > 0 else opts.tol,
                         max_iter=max(0, opts.max_iter - iters), time_limit=left,
                         eps_start=eps_lev[lev + 1])
        if solver == "newton":
            rec = run_newton(engine, mus, budget, u0=u0, eps_start=eps_lev[lev + 1], sweeps_per_step=sweeps_per_step)
        else:
            rec = run_sinkhorn(engine, mus, budget, u0=u0, eps_start=eps_lev[lev + 1])
        iters += rec.iterations
        history.extend(rec.history)
        levels_info.append({"level": lev, "eps": eps_lev[lev], "sizes": [len(w) for w in mus],
                            "nnz": int(sum(p.nnz for p in pats.values())), "iterations": rec.iterations,
                            "status": rec.status.value, "time_s": rec.time_s})
        if opts.verbose:
            print(f"multiscale level {lev}: {levels_info[-1]}", file=sys.stderr, flush=True)
    final_level = levels_info[-1]["level"]
    if final_level != 0:
        rec.message = (f"multiscale stopped at level {final_level} (coarse grid {levels_info[-1]['sizes']}): "
                       f"{rec.message}")
    rec.iterations = iters
    rec.history = history
    rec.time_s = time.perf_counter() - t0
    info = {"multiscale_levels": levels_info, "multiscale_complete": final_level == 0, "multiscale_final_nnz": levels_info[-1]["nnz"],
            "multiscale_n_levels": len(levels_info)}
    return engine, rec, info
