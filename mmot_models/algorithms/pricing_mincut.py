"""Pricing bound on ordered sites (1D) by one minimum cut: exact for costs convex in the distance.

On a line a multiset is a sorted labelling ``x_0 <= ... <= x_{N-1}`` of site indices (strictly
increasing when sites must be distinct) and its reduced cost is

.. math:: \\bar c(x) = \\sum_a -u(x_a) + \\sum_{a<b} C[x_a, x_b].

Replace every pair cost by its *convex minorant in the coordinate difference*,
``h_g(s, t) = \\max_k (\\alpha_k + \\beta_k (x_t - x_s)) <= C[s, t]`` for all pairs with index gap
``t - s >= g`` (the lower convex hull of the points ``(x_t - x_s, C[s, t])``,
:func:`~mmot_models.algorithms.pricing_ordered.lower_hull_lines`; ``g = b - a`` for positions
``a < b`` of distinct sites).  For Coulomb ``1/d`` (convex) the hull passes through every point, so
nothing is lost.  A function of ``x_t - x_s`` that is convex is *submodular* on the product of the
label chains (``h(i,j) + h(i',j') <= h(i,j') + h(i',j)`` for ``i < i'``, ``j < j'``), and the sum of
arbitrary unary terms and submodular pair terms over chain-ordered labels is minimised exactly by
one minimum s-t cut (Ishikawa 2003; Schlesinger and Flach 2006): each position ``a`` gets a chain of
nodes ``v_{a,1..l-1}`` (``x_a >= p`` iff ``v_{a,p}`` is on the source side), and with the mixed second
differences ``\\Delta(p, q) = h(p,q) - h(p-1,q) - h(p,q-1) + h(p-1,q-1) <= 0``

.. math:: h(i, j) = h(i, 0) + h(0, j) - h(0, 0) - \\sum_{p \\le i} R(p)
          + \\sum_{p, q} |\\Delta(p, q)|\\,\\mathbf{1}(x_a \\ge p)\\,\\mathbf{1}(x_b < q),\\qquad
          R(p) = \\sum_q |\\Delta(p, q)|,

so pair ``(a, b)`` becomes edges ``v_{a,p} -> v_{b,q}`` of capacity ``|Delta(p, q)|`` plus unary terms;
orderings and chain monotonicity are infinite edges.  The graph does not depend on the duals: it is
built once, and each call only rewrites the unary (chain) capacities.

**Certified value with an integer max-flow.**  ``scipy.sparse.csgraph.maximum_flow`` takes 32-bit
integer capacities.  Any flow of the graph with capacities ``floor(K c_e) / K <= c_e`` is a flow of
the real graph, and a flow's value is a lower bound on every cut (weak duality), hence on the
minimum of the relaxed reduced cost.  The search refines in levels: level ``k`` routes a flow on the
floor-scaled *residual* capacities of the previous levels, with ``K_k = 2^29 / F_k`` where ``F_k`` =
(cut of the best labelling found) - (flow so far) bounds the flow still to route (capacities above
``F_k`` are clipped, which changes no cut below ``F_k``).  The sum of the level flows is a feasible
flow of the real graph; after a few levels it matches the best labelling's cut to ~1e-12 relative.
Rounding of the graph's float data is charged a-priori (``gamma`` bounds), residuals are rounded
down.  The best labelling (the source side of the last cut) is returned as a column.
"""
from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from ..certificate import EPS, gamma
from .pricing import PricingResult
from .pricing_ordered import lower_hull_lines

__all__ = ["MinCutPricer", "MINCUT_MAX_EDGES", "MINCUT_MAX_TABLE_BYTES"]

#: Refuse to build a graph with more pair edges than this (memory ~ 40 bytes per edge).
MINCUT_MAX_EDGES = 30_000_000
#: Refuse the per-gap-class ``l x l`` tables (minorant, second differences) above this many bytes.
MINCUT_MAX_TABLE_BYTES = 2 * 2 ** 30
#: Largest finite integer capacity of a level (and bound on its flow value).
_CAP = 2 ** 29
#: "Infinite" integer capacity (orderings, chain monotonicity); ``_INF + _CAP < 2**31``.
_INF = 2 ** 30


def _sum4(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``a + b + c + d`` by compensated summation (Ogita-Rump-Oishi Sum2, TwoSum cascade).

    Error ``<= EPS |exact| + gamma_3^2 (|a| + |b| + |c| + |d|)``: the mixed second differences of a
    smooth matrix are tiny against its entries, so plain summation would lose them.
    """
    s, err = a, np.zeros_like(a)
    for y in (b, c, d):
        t = s + y
        z = t - s
        err = err + ((s - (t - z)) + (y - z))
        s = t
    return s + err


def _hull_eval(inter: np.ndarray, slopes: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``max_k inter_k + slopes_k d`` (the hull lines, slopes increasing), evaluated per entry.

    The piece is located by the breakpoints and the maximum taken over it and its two neighbours,
    which is the maximum over all lines up to rounding of the breakpoints.
    """
    if inter.size == 1:
        return inter[0] + slopes[0] * d
    bp = (inter[:-1] - inter[1:]) / (slopes[1:] - slopes[:-1])  # intersection of lines k, k+1
    k = np.searchsorted(bp, d)
    out = np.full(d.shape, -np.inf)
    for off in (-1, 0, 1):
        j = np.clip(k + off, 0, inter.size - 1)
        out = np.maximum(out, inter[j] + slopes[j] * d)
    return out


class MinCutPricer:
    """Lower bound (exact for costs convex in the distance) on the minimal reduced cost, 1D sites.

    Parameters
    ----------
    C : (l, l) symmetric pair-cost matrix (``+inf`` diagonal allowed when ``distinct``).
    x : (l,) site coordinates.
    N : number of marginals (multiset size).
    distinct : sites of a multiset must be distinct (singular diagonal, e.g. Coulomb).

    Attributes
    ----------
    exact_relaxation : bool
        Every pair cost equals its convex minorant (up to ``1e-12`` relative): the bound is then
        the minimum itself up to the certified rounding charge.
    n_edges : int
        Edges of the cut graph (0 until the first :meth:`price` call builds it).
    """

    def __init__(self, C: np.ndarray, x: np.ndarray, N: int, distinct: bool) -> None:
        x = np.asarray(x, dtype=float).reshape(-1)
        l, N = x.size, int(N)
        n_classes = (N - 1) if distinct else 1
        if 3 * n_classes * l * l * 8 > MINCUT_MAX_TABLE_BYTES:
            raise MemoryError(f"minimum-cut tables for N={N} on {l} sites would take "
                              f"{3 * n_classes * l * l * 8 / 2**30:.1f} GiB")
        self.l, self.N, self.distinct = l, N, bool(distinct)
        self.perm = np.argsort(x, kind="stable")
        self.x = xs = x[self.perm]
        Cs = np.asarray(C, dtype=float)[np.ix_(self.perm, self.perm)]
        off = 1 if distinct else 0
        self.off = off
        self.lo = np.arange(N) * off
        self.hi = l - 1 - (N - 1 - np.arange(N)) * off
        iu, ju = np.triu_indices(l, k=off)
        gapi = ju - iu
        dxs = xs[ju] - xs[iu]
        cs = Cs[iu, ju]
        D = xs[None, :] - xs[:, None]
        classes = range(1, N) if distinct else [0]
        self._h: dict[int, np.ndarray] = {}
        self._W: dict[int, np.ndarray] = {}
        self._cumR: dict[int, np.ndarray] = {}
        worst = 0.0
        scale = 0.0
        pair_err = 0.0
        line_mag = 0.0
        for g in classes:
            sel = gapi >= g
            inter, slopes = lower_hull_lines(dxs[sel], cs[sel])
            if not np.all(np.isfinite(inter)):
                raise ValueError("minimum-cut pricing needs finite pair costs between admissible sites")
            h = _hull_eval(inter, slopes, D)
            fin = np.isfinite(cs[sel])
            if fin.any():
                env = h[iu[sel][fin], ju[sel][fin]]
                cf = cs[sel][fin]
                worst = max(worst, float(np.max(cf - env)))
                scale = max(scale, float(np.max(np.abs(cf))))
            line_mag = max(line_mag, float(np.max(np.abs(inter) + np.abs(slopes) * (abs(D).max()))))
            delta = _sum4(h[1:, 1:], -h[:-1, 1:], -h[1:, :-1], h[:-1, :-1])
            W = np.maximum(-delta, 0.0)
            npairs = (N - g) if distinct else N * (N - 1) // 2
            # The graph represents h'(i,j) = h(i,0) + h(0,j) - h(0,0) - sum_{p<=i,q<=j} W(p,q) (exactly, for the
            # float W and exact row sums).  Against the float h: dropped positive differences only lower h'
            # (safe); the compensated differences' error and the row sums' rounding can raise it by at most
            # EPS sum|delta| + gamma_3^2 * 4 sum|h| + gamma_2l sum W per pair.
            habs = float(np.abs(h).sum())
            pair_err += npairs * 1.01 * (EPS * float(np.abs(delta).sum()) + gamma(3) ** 2 * 4.0 * habs
                                         + gamma(2 * l + 2) * float(W.sum()))
            self._h[g] = h
            self._W[g] = W
            self._cumR[g] = np.concatenate([[0.0], np.cumsum(W.sum(axis=1))])
        self.exact_relaxation = bool(worst <= 1e-12 * max(1.0, scale))
        self._pair_err = pair_err
        self._line_mag = line_mag
        self._built = False
        self.n_edges = 0
        # pair edges the graph will hold (refused above MINCUT_MAX_EDGES before anything is allocated)
        n_pair = 0
        for a in range(N):
            for b in range(a + 1, N):
                W = self._W[(b - a) if distinct else 0]
                n_pair += int(np.count_nonzero(W[:min(self.hi[a], l - 1), self.lo[b]:] > 0))
        if n_pair > MINCUT_MAX_EDGES:
            raise MemoryError(f"minimum-cut graph would hold {n_pair} pair edges (limit {MINCUT_MAX_EDGES})")
        self.n_pair_edges = n_pair

    def _build(self) -> None:
        """Graph pattern (independent of the duals), built on the first :meth:`price` call."""
        l, N, distinct, off = self.l, self.N, self.distinct, self.off
        n = 2 + N * (l - 1)
        self.n_nodes = n
        S, T = 0, 1

        def node(a: int, p: np.ndarray) -> np.ndarray:
            p = np.asarray(p)
            return np.where(p <= 0, S, np.where(p >= l, T, 2 + a * (l - 1) + p - 1))

        rows, cols, caps, inf = [], [], [], []
        # chain (unary) edges: label i of position a <-> edge node(a, i) -> node(a, i+1), feasible i only
        self._chain_slices = []
        start = 0
        for a in range(N):
            i = np.arange(self.lo[a], self.hi[a] + 1)
            rows.append(node(a, i))
            cols.append(node(a, i + 1))
            caps.append(np.zeros(i.size))
            inf.append(np.zeros(i.size, dtype=bool))
            self._chain_slices.append((start, i))
            start += i.size
        self._n_chain = start
        # chain monotonicity: v_{a,p+1} -> v_{a,p}
        for a in range(N):
            p = np.arange(1, l - 1)
            rows.append(node(a, p + 1))
            cols.append(node(a, p))
            caps.append(np.zeros(p.size))
            inf.append(np.ones(p.size, dtype=bool))
        # ordering x_{a+1} >= x_a + off: v_{a,p} -> node(a+1, p + off), p = 0..l-1
        for a in range(N - 1):
            p = np.arange(0, l)
            src, dst = node(a, p), node(a + 1, p + off)
            keep = (src != dst) & (src != T) & (dst != S)
            rows.append(src[keep])
            cols.append(dst[keep])
            caps.append(np.zeros(int(keep.sum())))
            inf.append(np.ones(int(keep.sum()), dtype=bool))
        # pair edges v_{a,p} -> v_{b,q}, weight W_g[p-1, q-1], only where some feasible labelling cuts them
        n_pair = 0
        for a in range(N):
            for b in range(a + 1, N):
                g = (b - a) if distinct else 0
                W = self._W[g]
                P = np.arange(1, min(self.hi[a], l - 1) + 1)
                Q = np.arange(self.lo[b] + 1, l)
                sub = W[np.ix_(P - 1, Q - 1)]
                pi, qi = np.nonzero(sub > 0)
                n_pair += pi.size
                if n_pair > MINCUT_MAX_EDGES:
                    raise MemoryError(f"minimum-cut graph exceeds {MINCUT_MAX_EDGES} edges")
                rows.append(2 + a * (l - 1) + P[pi] - 1)
                cols.append(2 + b * (l - 1) + Q[qi] - 1)
                caps.append(sub[pi, qi])
                inf.append(np.zeros(pi.size, dtype=bool))
        r = np.concatenate(rows).astype(np.int64)
        c = np.concatenate(cols).astype(np.int64)
        cap = np.concatenate(caps)
        isinf = np.concatenate(inf)
        # canonical pattern: union of both directions, duplicates merged
        key = np.concatenate([r * n + c, c * n + r])
        ukey, inv = np.unique(key, return_inverse=True)
        self._keys = ukey
        self._rows, self._cols = ukey // n, ukey % n
        m = ukey.size
        self._edge_of = inv[:r.size]  # original edge -> pattern slot
        self._chain_slot = self._edge_of[:self._n_chain]
        base = np.zeros(m)
        np.add.at(base, self._edge_of[self._n_chain:], np.where(isinf[self._n_chain:], 0.0, cap[self._n_chain:]))
        self._base = base
        self._inf = np.zeros(m, dtype=bool)
        self._inf[self._edge_of[isinf]] = True
        self._indptr = np.searchsorted(self._rows, np.arange(n + 1)).astype(np.int32)
        self._indices = self._cols.astype(np.int32)
        self.n_edges = int(m)
        self._built = True

    # ------------------------------------------------------------------ energy helpers
    def unaries(self, us: np.ndarray) -> np.ndarray:
        """``U[a, i]``: unary term of position ``a`` at label ``i`` (sorted order), pair terms folded in."""
        N = self.N
        U = np.tile(-us, (N, 1))
        for a in range(N):
            for b in range(a + 1, N):
                g = (b - a) if self.distinct else 0
                h = self._h[g]
                U[a] += h[:, 0] - self._cumR[g]
                U[b] += h[0, :]
        return U

    def relaxed_energy(self, us: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``sum_a -u(x_a) + sum_{a<b} h(x_a, x_b)`` for sorted-label rows ``X`` (relaxed reduced cost)."""
        N = self.N
        E = -us[X].sum(axis=1)
        for a in range(N):
            for b in range(a + 1, N):
                g = (b - a) if self.distinct else 0
                E = E + self._h[g][X[:, a], X[:, b]]
        return E

    # ------------------------------------------------------------------ pricing
    def price(self, u: np.ndarray, *, C: np.ndarray | None = None, support: np.ndarray | None = None,
              max_levels: int = 8, rel_target: float = 1e-13, deadline: float = math.inf) -> PricingResult:
        """Certified lower bound on ``min_m sum_{a<b} C[m_a, m_b] - sum_a u[m_a]`` (+ the best labelling).

        ``lower`` is always valid; ``exact`` is set when the relaxation is exact and the flow matches
        the best labelling's relaxed cost to ``rel_target`` (then ``lower`` is the minimum up to the
        certified rounding charge).  ``C`` (original order) evaluates the returned column's true
        reduced cost; ``support`` (original site ids, rows) seeds the first level's scale.
        """
        if not self._built:
            self._build()
        N, l = self.N, self.l
        us = np.asarray(u, dtype=float)[self.perm]
        U = self.unaries(us)
        shift = np.array([U[a, self.lo[a]:self.hi[a] + 1].min() for a in range(N)])
        cap = self._base.copy()
        chain_caps = np.concatenate([U[a, i] - shift[a] for a, (_, i) in enumerate(self._chain_slices)])
        np.add.at(cap, self._chain_slot, chain_caps)
        const = -sum(float(self._h[(b - a) if self.distinct else 0][0, 0]) for a in range(N) for b in range(a + 1, N))
        const_total = const + float(shift.sum())
        umax = float(np.max(np.abs(us), initial=0.0))
        hmax = max(float(np.max(np.abs(h))) for h in self._h.values())
        rmax = max(float(np.max(cr)) for cr in self._cumR.values())
        # a-priori rounding charge of the relation "cut(x) + const_total = relaxed cost of x":
        # pair edges (see __init__), the N chain capacities a labelling cuts (unary sums of 2N terms, shift),
        # the constant, and the hull lines' validity (intercept and evaluation, per pair)
        shift_abs = float(np.abs(shift).sum())
        err = (self._pair_err
               + N * gamma(2 * N + 8) * (umax + N * (hmax + rmax) + float(np.abs(shift).max()))
               + gamma(N * N + N + 4) * (N * N * hmax + shift_abs + abs(const_total))
               + N * N * 5 * EPS * self._line_mag)
        # candidate labellings: support columns (sorted), else the leftmost labelling
        inv = np.empty(l, dtype=np.int64)
        inv[self.perm] = np.arange(l)
        cands = [self.lo[None, :].astype(np.int64)]
        if support is not None and len(support):
            X = np.sort(inv[np.asarray(support, dtype=np.int64)], axis=1)
            okr = np.all(np.diff(X, axis=1) >= self.off, axis=1)
            if okr.any():
                cands.append(X[okr])
        X = np.concatenate(cands)
        Ecand = self.relaxed_energy(us, X)
        jbest = int(np.argmin(Ecand))
        best_x, best_E = X[jbest].copy(), float(Ecand[jbest])
        fin = ~self._inf
        R = cap.copy()  # residual real capacities (pattern order)
        R_abs = cap.copy()  # magnitude bookkeeping for the residual's rounding charge
        flow_lb = 0.0
        flow_terms = 0
        n = self.n_nodes
        target = rel_target * max(1.0, abs(best_E))
        from scipy.sparse.csgraph import breadth_first_order, maximum_flow  # lazy: ~70 ms at import

        levels = 0
        for lev in range(max_levels):
            remaining = (best_E - const_total) - flow_lb
            if remaining <= max(target, err) or time.perf_counter() > deadline:
                break
            F_ub = remaining + 4 * err + 1e-300
            levels += 1
            K = _CAP / F_ub
            Rs = R - (2 * lev + 4) * EPS * R_abs
            ci = np.where(self._inf, _INF, np.floor(K * np.clip(Rs, 0.0, F_ub))).astype(np.int32)
            G = sp.csr_matrix((ci.copy(), self._indices.copy(), self._indptr.copy()), shape=(n, n))
            G.eliminate_zeros()
            res = maximum_flow(G, 0, 1, method="dinic")
            fv = int(res.flow_value)
            fl = res.flow.tocoo()
            fkey = fl.row.astype(np.int64) * n + fl.col.astype(np.int64)
            pos = np.minimum(np.searchsorted(self._keys, fkey), self._keys.size - 1)
            hit = self._keys[pos] == fkey
            if np.any(fl.data[~hit] != 0):
                raise RuntimeError("maximum_flow returned flow on an edge outside the graph")
            f = np.zeros(self._keys.size)
            f[pos[hit]] = fl.data[hit]
            flow_lb += fv / K
            flow_terms += 1
            R = np.where(fin, R - f / K, R)
            R_abs = R_abs + np.abs(f) / K
            # the source side of this level's cut (residual > 0) is a labelling
            resid = (ci.astype(np.int64) - f.astype(np.int64)) > 0
            Gr = sp.csr_matrix((resid.astype(np.int8), self._indices.copy(), self._indptr.copy()), shape=(n, n))
            Gr.eliminate_zeros()
            reach = breadth_first_order(Gr, 0, directed=True, return_predecessors=False)
            inS = np.zeros(n, dtype=bool)
            inS[reach] = True
            lab = inS[2:].reshape(N, l - 1).sum(axis=1).astype(np.int64)

            if np.all(np.diff(lab) >= self.off) and lab[0] >= 0 and lab[-1] <= l - 1:
                E = float(self.relaxed_energy(us, lab[None, :])[0])
                if E < best_E:
                    best_E, best_x = E, lab
        # the flow (sum of level flows) is feasible for the real graph: its value bounds every cut
        lower_cut = flow_lb * (1.0 - 4 * (flow_terms + 1) * EPS)
        lower = lower_cut + const_total - err - gamma(4) * abs(const_total)
        gap = (best_E - const_total) - flow_lb
        exact = self.exact_relaxation and gap <= max(target, 8 * err)
        ms = np.sort(self.perm[best_x])[None, :]
        if C is not None:
            a, b = np.triu_indices(N, k=1)
            rc = np.array([float(np.asarray(C)[ms[0, a], ms[0, b]].sum() - np.asarray(u)[ms[0]].sum())])
        else:
            rc = np.array([best_E])
        lower = min(lower, float(rc[0])) if self.exact_relaxation else lower
        neg = rc < 0
        res = PricingResult(lower=float(lower), exact=bool(exact), multisets=ms[neg], rcs=rc[neg], nodes=levels,
                            method="mincut")
        return res
