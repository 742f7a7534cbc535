r"""Post-processing of an entropic plan: sparse extraction, rounding to exact marginals, dual bound.

* :func:`extract_plan` -- the plan as ``(indices (K, N), weights (K,))``, streamed in blocks (the
  ``l^N`` tensor is never held for ``N = 3``), keeping the largest entries so that the dropped mass
  is at most ``truncate_mass`` (and at most ``max_entries`` entries; the dropped mass is reported).
* :func:`rounded_upper_bound` -- Altschuler-Weed-Rigollet rounding generalised to N marginals:
  scale the plan along axis ``i = 1..N`` by ``min(1, mu_i / m_i)`` (a diagonal scaling, so it only
  changes the vectors ``v_i``), after which every marginal is ``<= mu_i`` with the same deficit mass
  ``delta``; adding any coupling of the deficits ``e_i`` gives a plan with exactly the marginals
  ``mu_i``.  Two couplings are tried and the cheaper one kept: the product
  :math:`\otimes_i e_i / \delta^{N-1}` (AWR; cost :math:`\sum_{i<j} e_i^T C_{ij} e_j / \delta`,
  ``+inf`` under Coulomb when two deficits share a site) and the *cyclic quantile coupling*
  ``(Q_1(t), Q_2(t + 1/N), ..., Q_N(t + (N-1)/N))`` of the normalised deficits along a fixed site
  order (first coordinate, then a few random orders), which usually avoids coincident sites.
  When both are infinite (Coulomb: the deficit sits on the same sites in every marginal), the
  plan is first scaled by ``1 - theta`` so that the deficit is spread like the marginals
  (:func:`_mixed_rounding`).  The cost of the rounded plan is a valid upper bound on the discrete optimum.
* :func:`ctransform_lower_bound` -- replace the last potential by its c-transform
  :math:`u_N^c(x_N) = \min_{x_{-N}} c(x) - \sum_{i<N} u_i(x_i)`; then the potentials are feasible
  for the dual LP and :math:`\sum_{i<N}\langle u_i,\mu_i\rangle + \langle u_N^c, \mu_N\rangle` is a
  valid lower bound (cost ``O(prod l_i)``, chunked).
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from ..problem import MMOTProblem
from .kernels import TensorEngine

__all__ = ["plan_blocks", "extract_plan", "rounded_upper_bound", "ctransform_lower_bound", "bilinear_cost"]

_BLOCK = 4_000_000  # entries per streamed block


def _csr(K) -> sp.csr_matrix:
    return K if sp.issparse(K) else sp.csr_matrix(K)


def plan_blocks(engine, v: Sequence[np.ndarray]) -> Iterator[tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]]:
    """Yield ``(weights (k,), index_of)`` blocks covering every plan entry; ``index_of(mask)`` returns
    the ``(m, N)`` index tuples of the entries selected by the boolean ``mask`` (lazy, so a dense block
    is never expanded into index tuples)."""
    N = engine.N

    def dense(B: np.ndarray, offset: int):
        def index_of(mask: np.ndarray) -> np.ndarray:
            idx = np.stack(np.unravel_index(np.flatnonzero(mask), B.shape), axis=1)
            idx[:, 0] += offset
            return idx
        return B.reshape(-1), index_of

    if isinstance(engine, TensorEngine):
        yield dense(engine.plan(v), 0)
        return
    sizes = engine.sizes
    if N == 2:
        K = engine.K[(0, 1)]
        if sp.issparse(K):
            r = np.repeat(np.arange(sizes[0]), np.diff(K.indptr))
            w = K.data * v[0][r] * v[1][K.indices]
            yield w, (lambda mask: np.stack([r[mask], K.indices[mask]], axis=1))
            return
        step = max(1, _BLOCK // sizes[1])
        for s0 in range(0, sizes[0], step):
            yield dense(v[0][s0:s0 + step, None] * K[s0:s0 + step] * v[1][None, :], s0)
        return
    # N = 3
    if not engine.sparse:
        K01, K02, K12 = engine.K[(0, 1)], engine.K[(0, 2)], engine.K[(1, 2)]
        step = max(1, _BLOCK // (sizes[1] * sizes[2]))
        A12 = K12 * v[1][:, None] * v[2][None, :]
        for s0 in range(0, sizes[0], step):
            if engine.unsafe:
                B = engine.log_plan_block(s0, s0 + step, v)
            else:
                B = (v[0][s0:s0 + step, None, None] * K01[s0:s0 + step, :, None] * K02[s0:s0 + step, None, :]) * A12[None]
            yield dense(B, s0)
        return
    T = engine.triples()
    w = engine._triple_values(v)
    for s0 in range(0, w.size, _BLOCK):
        sl = slice(s0, s0 + _BLOCK)
        yield w[sl], (lambda mask, sl=sl: np.stack([T["s"][sl][mask], T["t"][sl][mask], T["r"][sl][mask]], axis=1))


_E0, _DE, _NB = -1100.0, 0.25, 4600  # log2-histogram bins of extract_plan


def _late(deadline: float) -> bool:
    return deadline < math.inf and time.perf_counter() > deadline


def extract_plan(engine, v: Sequence[np.ndarray], truncate_mass: float, max_entries: int,
                 deadline: float = math.inf) -> tuple[np.ndarray | None, np.ndarray | None, dict]:
    """Sparse plan keeping the largest entries; dropped mass ``<= truncate_mass`` unless
    ``max_entries`` forces a higher threshold (the actual dropped mass is returned in ``info``).

    Two streamed passes: a mass histogram of ``log2(weight)`` (bins of 1/4) picks the threshold,
    the second pass keeps the entries at or above it.  Past ``deadline`` (``time.perf_counter()``,
    checked between blocks) the extraction is abandoned: ``(None, None, {"plan_skipped": ...})``.
    """
    skipped = (None, None, {"plan_skipped": "time limit reached during plan extraction"})
    mass = np.zeros(_NB + 1)
    count = np.zeros(_NB + 1, dtype=np.int64)
    total = 0.0
    for w, _ in plan_blocks(engine, v):
        if _late(deadline):
            return skipped
        w = w[w > 0]
        k = np.clip(np.floor((np.log2(w) - _E0) / _DE).astype(np.int64) + 1, 0, _NB)
        mass += np.bincount(k, weights=w, minlength=_NB + 1)
        count += np.bincount(k, minlength=_NB + 1)
        total += float(w.sum())
    # keeping bins k..end drops bins 0..k-1
    dropped = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
    kept_cnt = count[::-1].cumsum()[::-1]
    cand = np.nonzero(dropped <= truncate_mass)[0]
    k = int(cand[-1]) if cand.size else 0
    if kept_cnt[k] > max_entries:
        k = int(np.nonzero(kept_cnt <= max_entries)[0][0])
    thr = 0.0 if k == 0 else 2.0 ** (_E0 + (k - 1) * _DE)
    idx_parts, w_parts = [], []
    for w, index_of in plan_blocks(engine, v):
        if _late(deadline):
            return skipped
        mask = (w >= thr) & (w > 0)
        idx_parts.append(index_of(mask).astype(np.int64))
        w_parts.append(w[mask])
    idx = np.concatenate(idx_parts, axis=0) if idx_parts else np.zeros((0, engine.N), dtype=np.int64)
    w = np.concatenate(w_parts) if w_parts else np.zeros(0)
    info = {"plan_threshold": float(thr), "plan_dropped_mass": float(max(total - w.sum(), 0.0)),
            "plan_total_mass": total, "plan_entries": int(w.size)}
    return idx, w, info


def bilinear_cost(problem: MMOTProblem, i: int, j: int, a: np.ndarray, b: np.ndarray, block: int = _BLOCK,
                  deadline: float = math.inf) -> float:
    """``a^T C_ij b`` for non-negative ``a, b`` over their supports only (chunked; ``0 * inf = 0``).

    ``nan`` when ``deadline`` (``time.perf_counter()``) passes between chunks."""
    ia, ib = np.nonzero(a > 0)[0], np.nonzero(b > 0)[0]
    if ia.size == 0 or ib.size == 0:
        return 0.0
    xa, xb = problem.marginals[i].points[ia], problem.marginals[j].points[ib]
    step = max(1, block // ib.size)
    total = 0.0
    for s0 in range(0, ia.size, step):
        if _late(deadline):
            return math.nan
        C = problem.cost.matrix(xa[s0:s0 + step], xb)
        total += float(a[ia[s0:s0 + step]] @ C @ b[ib])
    return total


def rounded_upper_bound(engine, problem: MMOTProblem, mus: Sequence[np.ndarray], v: Sequence[np.ndarray],
                        max_entries: float = 2e8, deadline: float = math.inf) -> tuple[float, dict]:
    """Cost of the plan rounded to exact marginals (see the module docstring) and diagnostics.

    ``inf`` (no bound, ``rounding_note`` says why) when ``deadline`` passes before it is complete."""
    N = engine.N
    late = (math.inf, {"rounding_note": "time limit reached before the rounded upper bound was complete"})
    if _late(deadline):
        return late
    v = [x.copy() for x in v]
    for i in range(N):
        m = v[i] * engine.weights(i, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(m > mus[i], mus[i] / m, 1.0)
        v[i] = v[i] * scale
    marg = [v[i] * engine.weights(i, v) for i in range(N)]
    e = [np.maximum(mus[i] - marg[i], 0.0) for i in range(N)]
    delta = float(np.mean([x.sum() for x in e]))
    if _late(deadline):
        return late
    base = engine.transport_cost(v)
    corr = 0.0
    corr_q = math.inf
    if delta > 0:
        corr_q = _quantile_correction(problem, e, delta)
        nz = [int(np.count_nonzero(x > 0)) for x in e]
        if problem.is_pair_cost and max(nz[i] * nz[j] for i in range(N) for j in range(i + 1, N)) > max_entries:
            return math.inf, {"rounding_deficit_mass": delta, "rounding_correction": math.inf,
                              "rounding_note": "deficit supports too large to evaluate the correction"}
        if problem.is_pair_cost:
            for i in range(N):
                for j in range(i + 1, N):
                    corr += bilinear_cost(problem, i, j, e[i], e[j], deadline=deadline) / delta
            if math.isnan(corr):
                return late
        else:
            # N-ary: evaluate the product correction on the full tensor (tensor engine only)
            P = e[0] / delta
            for i in range(1, N):
                P = np.multiply.outer(P, e[i] / delta)
            mask = P > 0
            corr = float(np.sum(P[mask] * engine.C[mask])) * delta
    extra: dict = {}
    if delta > 0:
        if not np.isfinite(corr) or corr_q < corr:
            corr = corr_q
        if not np.isfinite(corr) and not _late(deadline):
            # every coupling of the deficits meets an infinite cost (Coulomb: the deficit sits on the same
            # few sites in every marginal, so any coupling of it puts coincident sites together)
            base, corr, theta = _mixed_rounding(problem, base, marg, e, delta, deadline)
            if np.isfinite(corr):
                extra["rounding_mix"] = theta
    ub = base + corr
    return (ub if np.isfinite(ub) else math.inf), {"rounding_deficit_mass": delta, "rounding_correction": corr,
                                                    **extra}


#: first mixing weights tried by :func:`_mixed_rounding` grow by this factor (up to 1)
_MIX_GROWTH = 4.0


def _mixed_rounding(problem: MMOTProblem, base: float, marg: Sequence[np.ndarray], e: Sequence[np.ndarray],
                    delta: float, deadline: float) -> tuple[float, float, float]:
    """Spread the deficit before coupling it: ``(1 - theta) gamma_r + coupling(e_i + theta m_i)``.

    ``gamma_r`` is the rounded plan (marginals ``m_i = mu_i - e_i``, cost ``base``).  Scaling it by
    ``1 - theta`` turns the deficits into ``e_i + theta m_i`` (mass ``delta + theta (1 - delta)``),
    which for ``theta >> delta`` is spread like ``mu_i``: no site then holds ``1/N`` of it when no
    site of ``mu_i`` does, and the cyclic quantile coupling avoids coincident sites.  The smallest
    ``theta`` (from ``max(delta, theta_0)``, times :data:`_MIX_GROWTH` up to 1, where ``theta_0`` makes
    every normalised deficit atom ``< 1/N`` for equal marginals) with a finite cost is kept: the
    bound loses ``O(theta)`` times the cost spread.  Returns ``(base', correction, theta)``; the
    correction is ``inf`` when even ``theta = 1`` (the quantile coupling of the marginals) is infinite.
    """
    N = len(e)
    theta0 = 0.0
    for i in range(N):
        mu = np.asarray(marg[i]) + np.asarray(e[i])
        room = 1.0 / N - mu
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(room > 0, (np.asarray(e[i]) - delta / N) / room, 0.0)
        theta0 = max(theta0, float(np.max(need, initial=0.0)))
    theta = min(1.0, max(delta, 2.0 * theta0))
    while True:
        if _late(deadline):
            return base, math.inf, theta
        ee = [np.asarray(e[i]) + theta * np.asarray(marg[i]) for i in range(N)]
        mass = delta + theta * (1.0 - delta)
        corr = _quantile_correction(problem, ee, mass)
        if np.isfinite(corr):
            return (1.0 - theta) * base, corr, theta
        if theta >= 1.0:
            return base, math.inf, theta
        theta = min(1.0, theta * _MIX_GROWTH)


def _quantile_correction(problem: MMOTProblem, e: Sequence[np.ndarray], delta: float, tries: int = 4) -> float:
    """Cost of the cyclic quantile coupling of the deficits (mass ``delta``); ``inf`` if every order
    tried meets an infinite cost."""
    N = len(e)
    rng = np.random.default_rng(0)
    best = math.inf
    for attempt in range(tries):
        cums, orders = [], []
        for i in range(N):
            pts = problem.marginals[i].points
            order = np.argsort(pts[:, 0], kind="stable") if attempt == 0 else rng.permutation(pts.shape[0])
            c = np.cumsum(e[i][order] / delta)
            c[-1] = 1.0
            cums.append(c)
            orders.append(order)
        shifts = np.arange(N) / N
        bp = np.unique(np.concatenate([[0.0, 1.0]] + [np.mod(cums[i] - shifts[i], 1.0) for i in range(N)]))
        lengths = np.diff(bp)
        keep = lengths > 1e-15
        mids = 0.5 * (bp[:-1] + bp[1:])[keep]
        lengths = lengths[keep]
        idx = np.stack([orders[i][np.minimum(np.searchsorted(cums[i], np.mod(mids + shifts[i], 1.0), side="right"),
                                             cums[i].size - 1)] for i in range(N)], axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            cost = float(np.sum(problem.tuple_costs(idx) * lengths)) * delta
        if np.isfinite(cost):
            best = min(best, cost)
            if attempt == 0:
                break
    return best


def ctransform_lower_bound(problem: MMOTProblem, u: Sequence[np.ndarray], max_entries: float,
                           cost_tensor: np.ndarray | None = None, block: int = _BLOCK,
                           deadline: float = math.inf) -> float:
    """Dual lower bound with the last potential replaced by its c-transform; ``-inf`` when the
    ``prod l_i`` evaluation exceeds ``max_entries`` or ``deadline`` (``time.perf_counter()``,
    checked between chunks) passes first."""
    N = problem.n_marginals
    if problem.n_tuples() > max_entries or _late(deadline):
        return -math.inf
    mus = [m.weights for m in problem.marginals]
    supp = [np.nonzero(m > 0)[0] for m in mus]
    base = sum(float(mus[i][supp[i]] @ u[i][supp[i]]) for i in range(N - 1))
    last = supp[N - 1]
    if cost_tensor is not None or not problem.is_pair_cost or N > 3:
        C = cost_tensor if cost_tensor is not None else _tensor(problem)
        S = C[np.ix_(*supp)]
        for i in range(N - 1):
            shape = [1] * N
            shape[i] = -1
            S = S - u[i][supp[i]].reshape(shape)
        uc = np.min(S, axis=tuple(range(N - 1)))
    elif N == 2:
        x0 = problem.marginals[0].points[supp[0]]
        x1 = problem.marginals[1].points[last]
        uc = np.empty(last.size)
        step = max(1, block // supp[0].size)
        for t0 in range(0, last.size, step):
            if _late(deadline):
                return -math.inf
            C = problem.cost.matrix(x0, x1[t0:t0 + step])
            uc[t0:t0 + step] = np.min(C - u[0][supp[0]][:, None], axis=0)
    else:  # N == 3 pair cost
        pts = [problem.marginals[i].points[supp[i]] for i in range(3)]
        A = problem.cost.matrix(pts[0], pts[1]) - u[0][supp[0]][:, None] - u[1][supp[1]][None, :]
        C02 = problem.cost.matrix(pts[0], pts[2])
        C12 = problem.cost.matrix(pts[1], pts[2])
        uc = np.empty(last.size)
        step = max(1, block // A.size)
        for r0 in range(0, last.size, step):
            if _late(deadline):
                return -math.inf
            B = A[None, :, :] + C02[:, r0:r0 + step].T[:, :, None] + C12[:, r0:r0 + step].T[:, None, :]
            uc[r0:r0 + step] = B.reshape(B.shape[0], -1).min(axis=1)
    if not np.all(np.isfinite(uc)):
        return -math.inf
    return base + float(mus[N - 1][last] @ uc)


def _tensor(problem: MMOTProblem) -> np.ndarray:
    from .kernels import full_cost_tensor
    return full_cost_tensor(problem, max_entries=problem.n_tuples())
