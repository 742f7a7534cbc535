"""Exact pricing on ordered sites (1D): branch and bound with chain dynamic-programming bounds.

On a line the sites of a multiset can be listed in increasing coordinate, ``x_{m_0} <= ... <=
x_{m_{N-1}}`` (strictly increasing site indices when sites must be distinct).  The reduced cost of a
sorted multiset ``m`` is

.. math:: \\bar c(m) = \\sum_{a<b} C[m_a, m_b] - \\sum_a u[m_a].

**Affine minorants.**  For a pair of positions ``a < b`` with ``b - a >= 2`` the cost is bounded
below by an affine function of the coordinate difference,

.. math:: C[s, t] \\ge \\alpha_{ab} + \\beta_{ab}\\,(x_t - x_s)\\quad\\text{for all admissible } s < t,

valid for *any* pair matrix: ``(alpha, beta)`` is a supporting line of the lower convex hull of the
points ``{(x_t - x_s, C[s, t])}`` over the pairs that positions ``a, b`` can take (index gap
``t - s >= b - a`` for distinct sites, ``t >= s`` otherwise), touching at the typical distance
``d_ab`` between positions ``a`` and ``b`` in the master's support (for Coulomb, the tangent of
``1/d`` at ``d_ab``).  Consecutive pairs ``(a, a+1)`` stay exact.

**Chain DP.**  Once the non-consecutive pairs are replaced by their minorants the remaining
objective is a chain: site terms ``-u_t + w_b x_t`` plus consecutive pair costs.  Its minimum over
all sorted completions is a dynamic programme over positions computed once per pricing call,

.. math:: D_{N-1}(t) = -u_t + w_{N-1}x_t,\\qquad D_b(t) = -u_t + w_b x_t + E_{b+1}(t),\\qquad
          E_{b}(s) = \\min_{t > s} \\big(C[s, t] + D_b(t)\\big)

(``t >= s`` with repetitions), ``O(N l^2)`` time and ``O(N l)`` memory.

**Branch and bound.**  A node fixes the first ``k`` sites; a child appends site ``s`` at position
``k``.  All pairs inside ``prefix + s`` are exact; every non-consecutive pair ``(a, b)`` with
``b > k`` is minorised; the completion is the chain from position ``k+1`` on.  So

.. math:: \\bar c \\ge V(\\text{prefix}+s) - \\sum_{a\\le k}(u_{m_a} + P_k(a)\\,x_{m_a}) + A_k + E_{k+1}(s)

with ``P_k(a) = sum_{c >= max(a+2, k+1)} beta_ac`` and ``A_k = sum_{b >= max(a+2, k+1)} alpha_ab``:
one vectorised evaluation per (node, site).  The root bound (``k = 0``) is already a global lower
bound on the minimum; leaves are evaluated exactly.  Nodes are explored depth first, best children
on top, and pruned against ``min(incumbent, k-th best found)``, so the returned minimum is exact, or
with a node budget / deadline a *valid lower bound* (least bound of the unexplored nodes).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .pricing import PricingResult, _TopK

__all__ = ["OrderedPricer", "price_ordered", "lower_hull_lines"]


def lower_hull_lines(dx: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines ``(intercepts, slopes)`` of the edges of the lower convex hull of points ``(dx, c)``.

    Every returned line lies below every point (up to rounding, which is removed by lowering each
    intercept to the exact minimum of ``c - slope * dx`` over the points).  A single point (or all
    points at one ``dx``) gives one horizontal line through the lowest point.
    """
    fin = np.isfinite(c)
    dx, c = dx[fin], c[fin]
    if dx.size == 0:
        return np.array([math.inf]), np.array([0.0])
    order = np.lexsort((c, dx))
    dx, c = dx[order], c[order]
    first = np.concatenate([[True], dx[1:] != dx[:-1]])  # lowest point per distinct dx
    dx, c = dx[first], c[first]
    if dx.size == 1:
        return np.array([c[0]]), np.array([0.0])
    hull: list[int] = []
    for i in range(dx.size):  # monotone chain, lower hull
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            cross = (dx[i1] - dx[i0]) * (c[i] - c[i0]) - (c[i1] - c[i0]) * (dx[i] - dx[i0])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    h = np.asarray(hull)
    slopes = np.diff(c[h]) / np.diff(dx[h])
    # exact validity: intercept = min over all points of c - slope * dx
    inter = np.array([float(np.min(c - s * dx)) for s in slopes])
    return inter, slopes


@dataclass
class _Chain:
    alpha: np.ndarray  # (l, N, N) minorant intercepts per first site (0 where not minorised)
    beta: np.ndarray   # (l, N, N) slopes
    E: np.ndarray      # (l, N, l): E[s0, b] for b = 1..N-1 (b = 0 unused)
    A: np.ndarray      # (l, N) constant A_k per first site
    P: np.ndarray      # (l, N, N) P[s0, k, a]


class OrderedPricer:
    """Exact pricer for a pair cost on 1D sites (sorted-order branch and bound).

    The lower hulls of the pair-cost point clouds are computed once here and reused by every call.

    Parameters
    ----------
    C : (l, l) symmetric pair-cost matrix (``+inf`` diagonal allowed when ``distinct``).
    x : (l,) site coordinates.
    N : number of marginals (multiset size).
    distinct : sites of a multiset must be distinct (singular diagonal, e.g. Coulomb).
    """

    def __init__(self, C: np.ndarray, x: np.ndarray, N: int, distinct: bool) -> None:
        x = np.asarray(x, dtype=float).reshape(-1)
        self.l, self.N, self.distinct = x.size, int(N), bool(distinct)
        self.perm = np.argsort(x, kind="stable")
        self.x = x[self.perm]
        Cs = np.asarray(C, dtype=float)[np.ix_(self.perm, self.perm)]
        if distinct:
            Cs = Cs.copy()
            np.fill_diagonal(Cs, np.inf)
        self.C = Cs
        l = self.l
        bad = np.tril(np.ones((l, l), dtype=bool), k=(1 if distinct else 0) - 1)  # t < s + off not allowed
        self._Cmask = np.where(bad, np.inf, Cs)
        iu, ju = np.triu_indices(l, k=0 if not distinct else 1)
        gap = ju - iu
        dxs = self.x[ju] - self.x[iu]
        cs = Cs[iu, ju]
        self._hulls: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        gaps = range(2, N) if distinct else [0]
        for g in gaps:
            sel = gap >= g
            self._hulls[g] = lower_hull_lines(dxs[sel], cs[sel])

    # ------------------------------------------------------------------ bounds
    def _minorants(self, g: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Supporting lines of hull ``g`` touching at distances ``d`` (any shape): (alpha, beta)."""
        inter, slopes = self._hulls[g if self.distinct else 0]
        dd = np.maximum(np.asarray(d, dtype=float), 0.0)
        j = np.argmax(inter[None, :] + slopes[None, :] * dd.reshape(-1, 1), axis=1)
        return inter[j].reshape(dd.shape), slopes[j].reshape(dd.shape)

    def typical_distances(self, support: np.ndarray | None, weights: np.ndarray | None) -> np.ndarray:
        """Tangent distances ``d[s0, a, b]`` per first site ``s0`` (sorted order).

        For each first site the support multiset (original site ids) whose first coordinate is
        nearest gives the coordinate gaps between positions; without support, equispaced positions.
        """
        N, l = self.N, self.l
        if support is None or len(support) == 0:
            span = float(self.x[-1] - self.x[0])
            pos = np.linspace(0.0, span, N)
            return np.broadcast_to(pos[None, :] - pos[:, None], (l, N, N))
        inv = np.empty(l, dtype=np.int64)
        inv[self.perm] = np.arange(l)
        xs = np.sort(self.x[inv[np.asarray(support, dtype=np.int64)]], axis=1)
        xs = xs[np.argsort(xs[:, 0], kind="stable")]
        j = np.searchsorted(xs[:, 0], self.x)
        j0, j1 = np.clip(j - 1, 0, xs.shape[0] - 1), np.clip(j, 0, xs.shape[0] - 1)
        pick = np.where(np.abs(xs[j0, 0] - self.x) <= np.abs(xs[j1, 0] - self.x), j0, j1)
        rows = xs[pick]  # (l, N)
        return rows[:, None, :] - rows[:, :, None]

    def chain(self, u_sorted: np.ndarray, dist: np.ndarray, firsts: np.ndarray | None = None
              ) -> tuple[_Chain, np.ndarray, np.ndarray]:
        """Chain-DP tables per first site: ``A (l, N)``, ``P (l, N, N)``, ``E (l, N, l)``.

        Only the first sites ``firsts`` (default all) are computed (others: ``-inf`` bounds).  Also
        returns the root bound per first site and the minimising chain (sorted site indices) of each.
        """
        N, l = self.N, self.l
        firsts = np.arange(l) if firsts is None else np.asarray(firsts, dtype=np.intp)
        alpha = np.zeros((l, N, N))
        beta = np.zeros((l, N, N))
        for a in range(N):
            for b in range(a + 2, N):
                alpha[firsts, a, b], beta[firsts, a, b] = self._minorants(b - a, dist[firsts, a, b])
        # w_b = sum_{a <= b-2} beta_ab - sum_{c >= b+2} beta_bc
        w = beta.sum(axis=1) - beta.sum(axis=2)  # (l, N)
        E = np.full((l, N, l), -np.inf)
        x = self.x
        Cmask = self._Cmask
        path = np.zeros((l, N), dtype=np.intp)
        for s0 in firsts.tolist():
            D = -u_sorted + w[s0, N - 1] * x
            arg = np.zeros((N, l), dtype=np.intp)
            for b in range(N - 1, 0, -1):
                # E_b(s) = min_{t > s (>= s)} C[s, t] + D_b(t)
                M = Cmask + D[None, :]
                arg[b] = np.argmin(M, axis=1)
                E[s0, b] = M[np.arange(l), arg[b]]
                if b - 1 >= 1:
                    D = -u_sorted + w[s0, b - 1] * x + E[s0, b]
            path[s0, 0] = s0
            for b in range(1, N):
                path[s0, b] = arg[b, path[s0, b - 1]]
        A = np.zeros((l, N))
        P = np.zeros((l, N, N))
        for k in range(N):
            for a in range(N):
                lo = max(a + 2, k + 1)
                if lo < N:
                    A[:, k] += alpha[:, a, lo:].sum(axis=1)
                    P[:, k, a] = beta[:, a, lo:].sum(axis=1)
        ch = _Chain(alpha, beta, E, A, P)
        s = np.arange(l)
        with np.errstate(invalid="ignore"):
            rb = -u_sorted - P[s, 0, 0] * x + A[s, 0] + E[s, 1, s]
        rb = np.where(np.isnan(rb), -np.inf, rb)
        return ch, rb, path

    def refined_chain(self, u_sorted: np.ndarray, dist: np.ndarray, thr: float, rounds: int = 8,
                      deadline: float = math.inf) -> tuple[_Chain, np.ndarray]:
        """Tables whose tangent distances are refined per first site (Lagrangian ascent on the root).

        The root bound of a first site is a concave function of the slopes; each round moves every
        tangent distance to the geometric mean of itself and the distance in the chain's minimiser
        (a subgradient step) for the first sites whose bound is still below ``thr``, and keeps, per
        first site, the tables of the best bound seen.  Every table is valid, so any choice is.
        """
        ch, rb, path = self.chain(u_sorted, dist)
        dist = np.array(dist, dtype=float, copy=True)
        x = self.x
        for it in range(rounds):
            live = np.nonzero(rb < thr)[0]
            if live.size == 0 or time.perf_counter() > deadline:
                break
            xp = x[path[live]]
            dp = np.maximum(xp[:, None, :] - xp[:, :, None], 0.0)
            theta = 1.0 / (2.0 + 0.5 * it)  # diminishing steps (geometric interpolation)
            dist[live] = np.maximum(dist[live], 1e-300) ** (1.0 - theta) * np.maximum(dp, 1e-300) ** theta
            ch2, rb2, path2 = self.chain(u_sorted, dist, live)
            better = live[rb2[live] > rb[live]]
            if better.size:
                ch.alpha[better], ch.beta[better] = ch2.alpha[better], ch2.beta[better]
                ch.E[better], ch.A[better], ch.P[better] = ch2.E[better], ch2.A[better], ch2.P[better]
                rb[better] = rb2[better]
            path[live] = path2[live]
        return ch, rb

    def root_bound(self, u: np.ndarray, support: np.ndarray | None = None,
                   weights: np.ndarray | None = None, refine: int = 0) -> float:
        """The global lower bound of the chain relaxation (no branching)."""
        us = np.asarray(u, dtype=float)[self.perm]
        if self.N == 1:
            return float((-us).min())
        ch, rb = self.refined_chain(us, self.typical_distances(support, weights), math.inf, rounds=refine)
        return float(rb.min())

    # ------------------------------------------------------------------ search
    def price(self, u: np.ndarray, *, n_best: int = 100, incumbent: float = 0.0, node_budget: float = 5e9,
              deadline: float = math.inf, support: np.ndarray | None = None, weights: np.ndarray | None = None,
              chunk_elems: int = 4_000_000, max_stack_rows: int = 4_000_000, refine: int = 16) -> PricingResult:
        """Minimum reduced cost ``sum_{a<b} C[m_a, m_b] - sum_a u[m_a]`` over multisets of size N.

        Returns the ``n_best`` most negative multisets below ``min(incumbent, ...)`` (original site
        ids, sorted rows) and ``lower``: the exact minimum when ``exact``, else a valid lower bound
        (budget or deadline hit); in both cases ``lower <= min(true minimum, incumbent)``.
        """
        N, l, x, Cm = self.N, self.l, self.x, self.C
        us = np.asarray(u, dtype=float)[self.perm]
        dist = self.typical_distances(support, weights)
        pool = _TopK(n_best, N)
        thr_cap = float(incumbent)
        ch = self.refined_chain(us, dist, thr_cap, rounds=refine, deadline=deadline)[0] if N >= 2 else None
        off = 1 if self.distinct else 0
        sites = np.arange(l)
        if N == 1:
            rc = -us
            sel = np.nonzero(rc < thr_cap)[0]
            pool.add(sites[sel][:, None], rc[sel])
            ms, rc = pool.result()
            return self._result(min(pool.best, thr_cap), True, ms, rc, l)
        pdtype = np.int16 if l < 2**15 else np.int32
        # stack entries: (prefix (P,k), V (P,), lb (P,)) with V = exact pair sum inside the prefix
        stack: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
            (np.empty((1, 0), dtype=pdtype), np.zeros(1), np.array([-np.inf]))]
        stack_rows = 1
        max_pop = max(16, int(chunk_elems) // (4 * l))
        nodes = 0
        budget_lb = math.inf
        exact = True
        while stack:
            pref, V, lb = stack.pop()
            stack_rows -= pref.shape[0]
            if pref.shape[0] > max_pop:
                stack.append((pref[:-max_pop], V[:-max_pop], lb[:-max_pop]))
                stack_rows += pref.shape[0] - max_pop
                pref, V, lb = pref[-max_pop:], V[-max_pop:], lb[-max_pop:]
            thr = min(thr_cap, pool.kth)
            live = lb < thr
            if not np.any(live):
                continue
            pref, V, lb = pref[live], V[live], lb[live]
            P, k = pref.shape
            if nodes > node_budget or stack_rows > max_stack_rows or (
                    deadline < math.inf and time.perf_counter() > deadline):
                budget_lb = min(budget_lb, float(lb.min()))
                exact = False
                continue
            nodes += P * l
            pi = pref.astype(np.intp)
            G = np.zeros((P, l))
            for b in range(k):
                G += Cm[pi[:, b]]
            if k > 0:
                allowed = sites[None, :] >= (pi[:, -1:] + off)
            else:
                allowed = np.ones((1, l), dtype=bool)
            usum = us[pi].sum(axis=1) if k else np.zeros(P)
            if k == N - 1:  # leaves: exact reduced cost
                with np.errstate(invalid="ignore"):
                    R = np.where(allowed, V[:, None] + G - usum[:, None] - us[None, :], np.inf)
                R = np.where(np.isnan(R), np.inf, R)
                cand = np.nonzero(R < thr)
                if cand[0].size:
                    ms = np.concatenate([pi[cand[0]], cand[1][:, None]], axis=1)
                    pool.add(ms, R[cand])
                continue
            with np.errstate(invalid="ignore"):
                if k == 0:  # root: the first site s selects its own tables
                    child = (ch.A[sites, 0] - us - ch.P[sites, 0, 0] * x + ch.E[sites, 1, sites])[None, :]
                else:
                    f = pi[:, 0]
                    pk = ch.P[f, k]  # (P, N)
                    S = V - usum - (x[pi] * pk[:, :k]).sum(axis=1) + ch.A[f, k]
                    child = (S[:, None] + G) - us[None, :] - pk[:, k:k + 1] * x[None, :] + ch.E[f, k + 1]
                child = np.where(allowed, child, np.inf)
                child = np.where(np.isnan(child), np.inf, child)
            ci, cs = np.nonzero(child < thr)
            if ci.size == 0:
                continue
            clb = child[ci, cs]
            order = np.argsort(-clb, kind="stable")
            ci, cs, clb = ci[order], cs[order], clb[order]
            cpref = np.concatenate([pref[ci], cs[:, None].astype(pdtype)], axis=1)
            cV = V[ci] + G[ci, cs]
            stack.append((cpref, cV, clb))
            stack_rows += ci.size
        ms, rc = pool.result()
        lower = min(pool.best, budget_lb, thr_cap)
        return self._result(lower, exact, ms, rc, nodes)

    def _result(self, lower: float, exact: bool, ms: np.ndarray, rc: np.ndarray, nodes: int) -> PricingResult:
        ms = np.sort(self.perm[ms.astype(np.int64)], axis=1) if ms.size else ms.astype(np.int64)
        neg = rc < 0
        return PricingResult(lower=float(lower), exact=exact, multisets=ms[neg], rcs=rc[neg], nodes=int(nodes),
                             method="ordered")


def price_ordered(C: np.ndarray, x: np.ndarray, u: np.ndarray, N: int, distinct: bool, **kw) -> PricingResult:
    """One-shot :meth:`OrderedPricer.price` (builds the hulls; reuse an :class:`OrderedPricer` across rounds)."""
    return OrderedPricer(C, x, N, distinct).price(u, **kw)
