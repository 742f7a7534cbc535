"""Pricing for symmetric column generation: multisets of most negative reduced cost.

For the multiset master LP with row duals ``u`` the reduced cost of a multiset ``m`` is

.. math::
    \\bar c(m) = c(m) - \\sum_s n_s(m)\\,u_s
    = \\sum_{a<b} B[m_a, m_b],\\qquad B = C - \\frac{u\\,1^T + 1\\,u^T}{N-1}

for a pair cost ``C`` (each site of ``m`` is in ``N-1`` pairs).  Three pricers:

* :func:`price_enumerate` -- exact, chunked enumeration of all multisets (any cost, bounded memory);
* :func:`price_bnb` -- exact branch and bound over sorted multisets for pair costs, vectorised
  level by level; with a node budget it returns a *valid lower bound* on the minimum (the least
  bound of the unexplored nodes) instead of the exact minimum;
* :func:`price_local_search` -- heuristic: steepest descent over single-site swaps for a population
  of multisets (vectorised across the population) with random restarts/perturbations, as in genetic
  column generation.  It finds negative columns fast but certifies nothing.

Bound used by the branch and bound.  A node is a sorted prefix ``p`` of ``k`` sites with value
``V = sum_{pairs in p} B`` and ``G = sum_{b in p} B[:, p_b]``.  A child appends site ``s``; its
``r = N-k-1`` further sites ``t_j`` lie in ``T(s) = {t >= s}`` (``t > s`` when distinct), so

.. math::
    \\bar c \\ge V + G_s + r\\,\\min_{t\\in T(s)}\\big(G_t + B_{ts} + \\tfrac12 H^{(r)}_t\\big)

where ``H^{(r)}_t`` is the sum of the ``r-1`` smallest entries of row ``t`` of ``B`` (each remaining
site interacts with ``r-1`` others), bounded below using suffix minima.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..formulations.symmetric import min_reduced_cost_enumerated
from ..problem import MMOTProblem

__all__ = ["reduced_cost_matrix", "price_enumerate", "price_bnb", "price_local_search", "price_qp_bound",
           "PricingResult"]


@dataclass
class PricingResult:
    """Outcome of one pricing call.

    ``lower`` is a valid lower bound on the minimal reduced cost over all multisets (``exact``
    says whether it is the minimum itself; ``-inf`` for heuristics); ``multisets``/``rcs`` are the
    negative columns found, most negative first.
    """

    lower: float
    exact: bool
    multisets: np.ndarray
    rcs: np.ndarray
    nodes: int = 0
    method: str = ""


def reduced_cost_matrix(C: np.ndarray, u: np.ndarray, N: int, distinct: bool) -> np.ndarray:
    """``B = C - (u_i + u_j)/(N-1)``; diagonal ``+inf`` when sites must be distinct."""
    B = C - (u[:, None] + u[None, :]) / (N - 1)
    if distinct:
        np.fill_diagonal(B, np.inf)
    return B


def price_enumerate(problem: MMOTProblem, u: np.ndarray, n_best: int, C: np.ndarray | None = None,
                    max_rows: int = 1_000_000, deadline: float = math.inf) -> PricingResult:
    """Exact pricing by chunked enumeration (any symmetric cost).

    Past ``deadline`` (a ``time.perf_counter()`` value) the enumeration stops between chunks: the
    columns found so far are returned with ``lower = -inf`` and ``exact = False``.
    """
    best, ms, rc = min_reduced_cost_enumerated(problem, u, n_best=n_best, C=C, max_rows=max_rows,
                                               deadline=deadline)
    return PricingResult(lower=best, exact=best > -math.inf, multisets=ms, rcs=rc, method="enumerate")


def _suffix_min(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``out[..., i] = min(a[..., i:])``."""
    return np.flip(np.minimum.accumulate(np.flip(a, axis=axis), axis=axis), axis=axis)


class _TopK:
    """Running pool of the ``k`` most negative complete multisets (below ``cap``)."""

    def __init__(self, k: int, N: int) -> None:
        self.k = max(int(k), 1)
        self.ms = np.empty((0, N), dtype=np.int64)
        self.rc = np.empty(0)

    def add(self, ms: np.ndarray, rc: np.ndarray, unique: bool = False) -> None:
        if rc.size == 0:
            return
        self.ms = np.concatenate([self.ms, ms.astype(np.int64)])
        self.rc = np.concatenate([self.rc, rc])
        if unique:  # rows are sorted multisets: keep each once
            self.ms, first = np.unique(self.ms, axis=0, return_index=True)
            self.rc = self.rc[first]
        if self.rc.size > 2 * self.k:
            sel = np.argpartition(self.rc, self.k - 1)[:self.k]
            self.ms, self.rc = self.ms[sel], self.rc[sel]

    @property
    def best(self) -> float:
        return float(self.rc.min()) if self.rc.size else math.inf

    @property
    def kth(self) -> float:
        if self.rc.size < self.k:
            return math.inf
        return float(np.partition(self.rc, self.k - 1)[self.k - 1])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.rc, kind="stable")[:self.k]
        return self.ms[order], self.rc[order]


def price_bnb(B: np.ndarray, N: int, distinct: bool, *, n_best: int = 100, node_budget: float = 5e8,
              chunk_elems: int = 4_000_000, incumbent: float = 0.0, max_stack_rows: int = 4_000_000,
              deadline: float = math.inf) -> PricingResult:
    """Exact minimum of ``sum_{a<b} B[m_a, m_b]`` over sorted multisets of size N (branch and bound).

    Parameters
    ----------
    B : (l, l) symmetric reduced-cost pair matrix (:func:`reduced_cost_matrix`).
    n_best : how many negative multisets to return (the pruning threshold is
        ``min(incumbent, k-th best found)``, so the minimum itself is always exact).
    node_budget : maximal number of (node, candidate site) pairs to evaluate; when exceeded the
        search stops and ``lower`` is the least bound of the unexplored nodes (still valid).
    max_stack_rows : cap on stored open nodes (memory bound); reaching it also ends the search
        with a valid bound.
    deadline : ``time.perf_counter()`` value after which the search stops like an exhausted budget.
    incumbent : only multisets with reduced cost below this value are of interest (``0``: the
        bound ``lower`` is then ``min(true minimum, incumbent)``, all the certificate needs).
    """
    l = B.shape[0]
    Bw = B.copy()
    if distinct:
        np.fill_diagonal(Bw, np.inf)
    # H[r][t]: sum of the (r-1) smallest entries of row t (other remaining sites' partners)
    srt = np.sort(np.where(np.isfinite(Bw), Bw, np.inf), axis=1)
    if not distinct:
        # with repetition a partner may be chosen repeatedly: (r-1) * row minimum
        rowmin = srt[:, 0]
    cums = np.concatenate([np.zeros((l, 1)), np.cumsum(np.where(np.isfinite(srt), srt, 0.0), axis=1)], axis=1)
    finite_count = np.isfinite(srt).sum(axis=1)

    def H(r: int) -> np.ndarray:
        if r <= 1:
            return np.zeros(l)
        if not distinct:
            return (r - 1) * rowmin
        h = cums[:, min(r - 1, l)].copy()
        h[finite_count < r - 1] = np.inf
        return h

    Hs = [H(r) for r in range(N + 1)]
    off = 1 if distinct else 0
    # rowsuf[s] = min_{t in T(s)} B[s, t]
    rowsuf = np.where(np.triu(np.ones((l, l), dtype=bool), k=off), Bw, np.inf).min(axis=1)
    pool = _TopK(n_best, N)
    thr_cap = float(incumbent)

    def threshold() -> float:
        return min(thr_cap, pool.kth)

    # stack of chunks (prefix (P,k), V (P,), lb (P,)); G = sum_b B[:, p_b] is recomputed on pop,
    # so the stack holds O(k) numbers per node.  Chunks are sorted worst-first: the best on top.
    pdtype = np.int16 if l < 2**15 else np.int32
    stack: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
        (np.empty((1, 0), dtype=pdtype), np.zeros(1), np.array([-np.inf]))]
    stack_rows = 1
    max_pop = max(16, int(chunk_elems) // (4 * l))
    nodes = 0
    sites = np.arange(l)
    budget_lb = math.inf
    exact = True
    while stack:
        pref, V, lb = stack.pop()
        stack_rows -= pref.shape[0]
        if pref.shape[0] > max_pop:  # split: keep the worst part on the stack, work on the best part
            stack.append((pref[:-max_pop], V[:-max_pop], lb[:-max_pop]))
            stack_rows += pref.shape[0] - max_pop
            pref, V, lb = pref[-max_pop:], V[-max_pop:], lb[-max_pop:]
        thr = threshold()
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
        G = np.zeros((P, l))
        for b in range(k):
            G += Bw[pref[:, b].astype(np.intp)]
        last = pref[:, -1].astype(np.int64) if k > 0 else np.full(P, -1)
        allowed = sites[None, :] >= (last[:, None] + (off if k > 0 else 0))
        if k == N - 1:  # leaves: exact completion
            R = np.where(allowed, V[:, None] + G, np.inf)
            cand = np.nonzero(R < thr)
            if cand[0].size:
                ms = np.concatenate([pref[cand[0]].astype(np.int64), cand[1][:, None]], axis=1)
                pool.add(ms, R[cand])
            continue
        r = N - k - 1
        with np.errstate(invalid="ignore"):
            # bound on the completion after appending s: r * min_{t in T(s)} (G_t + B_ts + H_t/2)
            W = G + 0.5 * Hs[r][None, :]
            Wsuf = _suffix_min(W, axis=1)
            if off:
                Wsuf = np.concatenate([Wsuf[:, 1:], np.full((P, 1), np.inf)], axis=1)
            child_lb = V[:, None] + G + r * (Wsuf + rowsuf[None, :])
            child_lb = np.where(allowed & np.isfinite(G), child_lb, np.inf)
            child_lb = np.where(np.isnan(child_lb), np.inf, child_lb)
        ci, cs = np.nonzero(child_lb < thr)
        if ci.size == 0:
            continue
        clb = child_lb[ci, cs]
        order = np.argsort(-clb, kind="stable")  # worst first: the best children end on top
        ci, cs, clb = ci[order], cs[order], clb[order]
        cpref = np.concatenate([pref[ci], cs[:, None].astype(pdtype)], axis=1)
        cV = V[ci] + G[ci, cs]
        stack.append((cpref, cV, clb))
        stack_rows += ci.size
    ms, rc = pool.result()
    neg = rc < 0
    lower = min(pool.best, budget_lb, thr_cap)
    return PricingResult(lower=lower, exact=exact, multisets=ms[neg], rcs=rc[neg], nodes=nodes, method="bnb")


def price_local_search(B: np.ndarray, N: int, distinct: bool, starts: np.ndarray, *, n_best: int = 100,
                       rng: np.random.Generator | None = None, n_random: int = 64, max_steps: int = 200,
                       n_kicks: int = 2, deadline: float = math.inf) -> PricingResult:
    """Heuristic pricing: steepest single-site-swap descent from ``starts`` plus random multisets.

    Every member of the population moves to its best neighbour (one site replaced) while that
    lowers the reduced cost; the local minima are then perturbed (``n_kicks`` rounds of random
    one- or two-site replacements) and descended again.  Returns the distinct negative multisets.
    Past ``deadline`` (``time.perf_counter()``) the descent stops and what was found is returned.
    """
    rng = rng or np.random.default_rng(0)
    l = B.shape[0]
    Bp = B.copy()
    if distinct:
        np.fill_diagonal(Bp, 0.0)  # occupied sites are masked explicitly
    diag = np.diag(Bp).copy()
    pop = [np.sort(np.asarray(starts, dtype=np.int64).reshape(-1, N), axis=1)] if len(starts) else []
    pop.append(_random_multisets(rng, n_random, l, N, distinct))
    X = np.concatenate(pop, axis=0)
    pool = _TopK(n_best, N)
    # every improving single-site swap of the starting multisets is a candidate column too
    pool.add(*_improving_neighbours(X, Bp, diag, distinct, n_best), unique=True)
    for kick in range(n_kicks + 1):
        X = _descend(X, Bp, diag, distinct, max_steps, deadline)
        rc = _pair_sum(X, Bp, diag)
        pool.add(np.sort(X, axis=1), rc, unique=True)
        if time.perf_counter() > deadline:
            break
        if kick < n_kicks:
            X = _perturb(X, rng, l, distinct)
    ms, rc = pool.result()
    ms = np.sort(ms, axis=1)
    ms, first = np.unique(ms, axis=0, return_index=True)
    rc = rc[first]
    order = np.argsort(rc, kind="stable")
    ms, rc = ms[order], rc[order]
    neg = rc < 0
    return PricingResult(lower=-math.inf, exact=False, multisets=ms[neg], rcs=rc[neg], method="local")


def _improving_neighbours(X: np.ndarray, Bp: np.ndarray, diag: np.ndarray, distinct: bool, k: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most negative multisets one swap away from the rows of ``X`` (sorted rows)."""
    P, N = X.shape
    l = Bp.shape[0]
    G = Bp[X].sum(axis=1)
    Gm = np.take_along_axis(G, X, axis=1)
    rc0 = 0.5 * (Gm.sum(axis=1) - diag[X].sum(axis=1))
    delta = G[:, None, :] - Bp[X] - (Gm - diag[X])[:, :, None]
    if distinct:
        occ = np.zeros((P, l), dtype=bool)
        occ[np.arange(P)[:, None], X] = True
        delta = np.where(occ[:, None, :], np.inf, delta)
    val = rc0[:, None, None] + delta
    flat = val.reshape(-1)
    cand = np.flatnonzero(flat < 0)
    if cand.size > 4 * k:
        cand = cand[np.argpartition(flat[cand], 4 * k - 1)[:4 * k]]
    p, rest = np.divmod(cand, N * l)
    a, t = np.divmod(rest, l)
    Y = X[p].copy()
    Y[np.arange(p.size), a] = t
    return np.sort(Y, axis=1), flat[cand]


def _random_multisets(rng: np.random.Generator, n: int, l: int, N: int, distinct: bool) -> np.ndarray:
    if distinct:
        keys = rng.random((n, l))
        return np.sort(np.argpartition(keys, N - 1, axis=1)[:, :N], axis=1)
    return np.sort(rng.integers(0, l, size=(n, N)), axis=1)


def _pair_sum(X: np.ndarray, Bp: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """``sum_{a<b} B[x_a, x_b]`` per row (``Bp`` has the true diagonal, or 0 when distinct)."""
    G = Bp[X].sum(axis=1)  # (P, l): sum_b B[x_b, :]
    tot = np.take_along_axis(G, X, axis=1).sum(axis=1) - diag[X].sum(axis=1)
    return 0.5 * tot


def _descend(X: np.ndarray, Bp: np.ndarray, diag: np.ndarray, distinct: bool, max_steps: int,
             deadline: float = math.inf) -> np.ndarray:
    X = X.copy()
    P, N = X.shape
    l = Bp.shape[0]
    active = np.ones(P, dtype=bool)
    for _ in range(max_steps):
        idx = np.flatnonzero(active)
        if idx.size == 0 or time.perf_counter() > deadline:
            break
        Xa = X[idx]
        G = Bp[Xa].sum(axis=1)                                   # (p, l)
        Gm = np.take_along_axis(G, Xa, axis=1)                   # (p, N): G at the members
        # delta(a, t) = G_t - B[t, x_a] - G_{x_a} + B[x_a, x_a]
        delta = G[:, None, :] - Bp[Xa] - (Gm - diag[Xa])[:, :, None]
        if distinct:
            occ = np.zeros((idx.size, l), dtype=bool)
            occ[np.arange(idx.size)[:, None], Xa] = True
            delta = np.where(occ[:, None, :], np.inf, delta)
        flat = delta.reshape(idx.size, -1)
        j = np.argmin(flat, axis=1)
        best = flat[np.arange(idx.size), j]
        improve = best < -1e-13
        if not np.any(improve):
            break
        a, t = np.divmod(j[improve], l)
        sel = idx[improve]
        X[sel, a] = t
        active[:] = False
        active[sel] = True
    return np.sort(X, axis=1)


def _perturb(X: np.ndarray, rng: np.random.Generator, l: int, distinct: bool) -> np.ndarray:
    """Replace one or two random sites of every row (keeping sites distinct when required)."""
    Y = X.copy()
    P, N = Y.shape
    for _ in range(2):
        a = rng.integers(0, N, size=P)
        t = rng.integers(0, l, size=P)
        if distinct:
            clash = (Y == t[:, None]).any(axis=1)
            t = np.where(clash, Y[np.arange(P), a], t)
        Y[np.arange(P), a] = t
    return np.sort(Y, axis=1)


def _project_capped_simplex(y: np.ndarray, total: float, cap: float) -> np.ndarray:
    """Euclidean projection onto ``{0 <= n <= cap, sum n = total}`` (bisection on the shift)."""
    lo, hi = float(y.min() - cap - 1.0), float(y.max() + 1.0)
    for _ in range(60):
        tau = 0.5 * (lo + hi)
        if np.clip(y - tau, 0.0, cap).sum() > total:
            lo = tau
        else:
            hi = tau
    return np.clip(y - 0.5 * (lo + hi), 0.0, cap)


def _project_simplex(y: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection onto ``{n >= 0, sum n = total}`` (sort-based, exact)."""
    srt = np.sort(y)[::-1]
    css = np.cumsum(srt) - total
    k = np.arange(1, y.size + 1)
    rho = np.nonzero(srt - css / k > 0)[0][-1]
    return np.maximum(y - css[rho] / (rho + 1), 0.0)


_EIG_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _eigenvalues(A: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of the symmetric ``A``; the last matrix's are cached (column
    generation prices with the same cost matrix every round, and ``eigvalsh`` is O(l^3))."""
    hit = _EIG_CACHE.get("last")
    if hit is not None and hit[0].shape == A.shape and np.array_equal(hit[0], A):
        return hit[1]
    eigs = np.linalg.eigvalsh(A)
    _EIG_CACHE["last"] = (A.copy(), eigs)
    return eigs


def price_qp_bound(C: np.ndarray, u: np.ndarray, N: int, distinct: bool, *, iters: int = 3000,
                   psd_tol: float = 1e-10, gap_tol: float = 1e-10, deadline: float = math.inf) -> PricingResult:
    """Valid lower bound on the minimal reduced cost from a convex relaxation in occupation numbers.

    With occupation numbers ``n`` (``sum n = N``) the reduced cost is
    ``r(n) = 1/2 n^T C n - 1/2 diag(C)^T n - u^T n``.  The function

    .. math:: f(n) = r(n) + \\tfrac12 \\textstyle\\sum_t D_t\\,n_t(n_t - 1)

    equals ``r`` on binary ``n`` for any diagonal ``D`` and is ``<= r`` on integer ``n`` when
    ``D <= 0``.  For distinct sites (``n`` binary) ``D = -lambda_min(C_0)`` (``C_0``: ``C`` with zero
    diagonal) makes ``f`` convex.  Otherwise ``D = -delta`` with ``0 <= delta <= lambda_min(C)`` keeps
    both the lower bound and convexity, so ``C`` must be positive semidefinite (soft Coulomb,
    Gaussian, Yukawa kernels are), else ``-inf`` is returned.  ``f`` is minimised over the relaxed set
    ``S = {0 <= n <= cap, sum n = N}`` (``cap = 1`` if distinct, else ``N``) by accelerated projected
    gradient, and the Frank--Wolfe bound ``f(n) + min_{m in S} grad f(n)^T (m - n)`` (valid for any
    feasible ``n``, however inexact the solve) is returned.  Past ``deadline``
    (``time.perf_counter()``) the iteration stops and the best bound so far is returned (still valid).
    """
    l = C.shape[0]
    if time.perf_counter() > deadline:
        return PricingResult(-math.inf, False, np.empty((0, N), dtype=np.int64), np.empty(0), method="qp")
    Cd = np.array(C, dtype=float)
    if distinct:
        np.fill_diagonal(Cd, 0.0)  # n_t^2 = n_t on binaries: the diagonal only enters through D
    eigs = _eigenvalues(Cd)
    lam_min = float(eigs[0])
    if distinct:
        D = max(0.0, -lam_min) + 1e-12
        shift = D
        H = Cd + D * np.eye(l)
        lin = -u - 0.5 * D
    else:
        if not np.all(np.isfinite(Cd)) or lam_min < -psd_tol * max(1.0, float(np.abs(Cd).max())):
            return PricingResult(-math.inf, False, np.empty((0, N), dtype=np.int64), np.empty(0), method="qp")
        # integers satisfy n_t^2 >= n_t: subtracting delta/2 sum(n_t^2 - n_t) keeps a lower bound and,
        # with delta = lambda_min(C) >= 0, convexity; it penalises fractional occupations
        delta = max(0.0, lam_min) * (1.0 - 1e-9)
        shift = -delta
        H = Cd - delta * np.eye(l)
        lin = -u - 0.5 * np.diag(Cd) + 0.5 * delta
    cap = 1.0 if distinct else float(N)

    def f(n: np.ndarray) -> float:
        return float(0.5 * n @ H @ n + lin @ n)

    L = max(float(eigs[-1]) + shift, 1e-12)   # H = Cd + shift * I
    full, rest = divmod(float(N), cap)

    def fw_bound(n: np.ndarray) -> float:
        g = H @ n + lin
        order = np.argsort(g)  # min over S of g^T m: fill the smallest gradients up to cap
        m = np.zeros(l)
        m[order[:int(full)]] = cap
        if rest > 0 and int(full) < l:
            m[order[int(full)]] = rest
        return f(n) + float(g @ (m - n))

    project = (lambda y: _project_simplex(y, float(N))) if cap >= N else (
        lambda y: _project_capped_simplex(y, float(N), cap))
    n = project(np.full(l, N / l))
    z, t = n.copy(), 1.0
    bound = -math.inf
    for it in range(1, iters + 1):
        g = H @ z + lin
        n_new = project(z - g / L)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        z = n_new + ((t - 1.0) / t_new) * (n_new - n)
        n, t = n_new, t_new
        if it % 25 == 0 or it == iters:
            bound = max(bound, fw_bound(n))
            if f(n) - bound <= gap_tol * max(1.0, abs(bound)) or time.perf_counter() > deadline:
                break
    return PricingResult(bound, False, np.empty((0, N), dtype=np.int64), np.empty(0), method="qp")
