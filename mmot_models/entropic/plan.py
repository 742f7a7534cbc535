r"""Post-processing of an entropic plan: sparse extraction, rounding to exact marginals, dual bound.

* :func:`extract_plan` -- the plan as ``(indices (K, N), weights (K,))``, streamed in blocks (the
  ``l^N`` tensor is never held for ``N = 3``), keeping the largest entries so that the dropped mass
  is at most ``truncate_mass`` (and at most ``max_entries`` entries; the dropped mass is reported).
* :func:`rounded_plan` / :func:`rounded_upper_bound` -- Altschuler-Weed-Rigollet rounding
  generalised to N marginals: scale the plan along axis ``i = 1..N`` by ``min(1, mu_i / m_i)`` (a
  diagonal scaling, so it only changes the vectors ``v_i``), after which every marginal is
  ``<= mu_i`` with the same deficit mass ``delta``; adding any coupling of the deficits ``e_i`` gives
  a plan with the marginals ``mu_i``.  The deficits are coupled by a *quantile coupling*
  (:func:`quantile_coupling`: ``(Q_1(t + s_1), ..., Q_N(t + s_N))`` along a site order, cyclic shifts
  ``s_i = i/N`` or comonotone), ``O(sum_i l_i log l_i)`` for any dimension and cost; the plan is
  first scaled by ``1 - theta`` (``theta = O(delta)``) when that spreads the deficits and lowers the
  total (Coulomb: the deficits cluster on the same sites in every marginal).  The cost of the explicit
  result, with a-priori rounding-error bounds and the rounding-level marginal residual charged at the
  largest finite cost, is a certified upper bound on the discrete optimum.
* :func:`ctransform_lower_bound` -- replace the last potential by its c-transform
  :math:`u_N^c(x_N) = \min_{x_{-N}} c(x) - \sum_{i<N} u_i(x_i)`; then the potentials are feasible
  for the dual LP and :math:`\sum_{i<N}\langle u_i,\mu_i\rangle + \langle u_N^c, \mu_N\rangle` is a
  valid lower bound (cost ``O(prod l_i)``, chunked).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from ..certificate import EPS, exact_dot, exact_sum, gamma, round_up
from ..costs import Coulomb, GaussianCost, Power, RepulsiveHarmonic, SoftCoulomb, Yukawa, is_radial
from ..problem import MMOTProblem
from .kernels import TensorEngine

__all__ = ["plan_blocks", "extract_plan", "RoundedPlan", "rounded_plan", "rounded_plan_entries", "quantile_coupling",
           "rounded_upper_bound", "ctransform_lower_bound", "bilinear_cost"]

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


@dataclass
class RoundedPlan:
    """The explicit feasible plan behind :func:`rounded_upper_bound` and its certified cost.

    The plan is ``(1 - theta) gamma(v) + pi``: ``gamma(v)`` is the entropic plan of the engine with
    the scaled vectors ``v`` (its entries are the exact real products of the stored kernel entries and
    of ``v``), ``pi`` the coupling of the deficits given entry by entry (``coupling_indices``,
    ``coupling_weights``).  ``bound`` is a certified upper bound on the discrete optimum: the cost
    of this plan as computed, plus a bound on the rounding error of that computation, plus the residual
    ``residual_l1`` of its marginals (rounding level) charged at ``charge_factor``.
    """

    v: list                        #: scaled vectors of the rounded part
    theta: float                   #: mixing weight (0: the rounded plan is kept whole)
    coupling_indices: np.ndarray   #: (K, N) index tuples of the deficit coupling ``pi``
    coupling_weights: np.ndarray   #: (K,) weights of ``pi``
    coupling: str                  #: which coupling: ``cyclic``/``comonotone`` quantile, site order
    deficit_mass: float            #: mass ``delta`` of each deficit of the scaled plan
    base_cost: float               #: ``<c, gamma(v)>`` as computed
    correction: float              #: ``<c, pi>`` (correctly rounded dot of the computed tuple costs)
    cost_error: float              #: bound on ``|computed cost - exact cost|`` of the whole plan
    residual_l1: float             #: bound on ``sum_i ||marginal_i - mu_i||_1`` in exact arithmetic
    charge_factor: float           #: ``max(c_max, 0) + max(-c_min, 0)`` over finite tuple costs
    bound: float                   #: certified upper bound (``inf`` if none)
    note: str = ""                 #: why ``bound`` is ``inf``

    def info(self) -> dict:
        """The ``rounding_*`` entries of ``Solution.info``."""
        out = {"rounding_deficit_mass": self.deficit_mass, "rounding_correction": self.correction,
               "rounding_coupling": self.coupling, "rounding_residual_l1": self.residual_l1,
               "rounding_charge": self.charge_factor * self.residual_l1 + self.cost_error}
        if self.theta > 0:
            out["rounding_mix"] = self.theta
        if self.note:
            out["rounding_note"] = self.note
        return out


def _error_counts(engine) -> tuple[int, int, float]:
    """``(k_marg, k_cost, extra)``: the computed marginal entries and transport cost of ``gamma(v)``
    have relative error at most ``gamma_k_marg`` and ``gamma_k_cost`` (Higham; nonnegative terms:
    products of a few factors, then recursive or pairwise sums of at most that many terms), plus a
    relative ``extra`` for the log-domain dense ``N = 3`` path (exponentials of computed exponents)."""
    N, sizes = engine.N, engine.sizes
    if isinstance(engine, TensorEngine):
        n = math.prod(sizes)
        return n // max(1, min(sizes)) + N + 4, n + N + 4, 0.0
    if N == 2:
        K = engine.K[(0, 1)]
        if sp.issparse(K):
            deg = max(int(np.diff(K.indptr).max(initial=0)), int(np.bincount(K.indices, minlength=1).max()))
            return deg + 4, int(K.nnz) + 6, 0.0
        return max(sizes) + 4, sizes[0] * sizes[1] + 6, 0.0
    if engine.sparse:
        T = engine.triples()
        deg = max(int(np.bincount(T[k], minlength=1).max()) for k in ("s", "t", "r"))
        nnz = max(engine.costs[p].nnz for p in engine.pairs)
        return deg + 4, int(T["s"].size) + nnz + 8, 0.0
    extra = 0.0
    if engine.unsafe or engine.n_fallback or engine.n_log_domain:
        # exp of a computed exponent E = log M + L_ij + a + c + log v: relative error <= |E| * few u
        big = 0.0
        for (i, j) in engine.pairs:
            L = engine._logk(i, j)
            fin = np.abs(L[np.isfinite(L)])
            big += float(fin.max(initial=0.0))
        big += 3.0 * 750.0 + 3.0 * max(float(np.max(np.abs(np.log(x[x > 0])), initial=0.0)) for x in engine.mus)
        extra = 16.0 * EPS * big
    return sum(sizes) + 6, max(sizes) + max(sizes[i] * sizes[j] for i, j in engine.pairs) + 8, extra


_DECREASING = (Coulomb, SoftCoulomb, GaussianCost, RepulsiveHarmonic)


def _min_positive_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Smallest positive distance between a point of ``x`` and a point of ``y`` (``inf`` if none)."""
    yu = np.unique(y, axis=0)
    if x.shape[1] == 1:
        ys = yu[:, 0]
        p = np.searchsorted(ys, x[:, 0])
        best = math.inf
        for off in (-2, -1, 0, 1):
            q = np.clip(p + off, 0, ys.size - 1)
            d = np.abs(x[:, 0] - ys[q])
            d = d[d > 0]
            if d.size:
                best = min(best, float(d.min()))
        return best
    from scipy.spatial import cKDTree
    k = min(2, yu.shape[0])
    d, _ = cKDTree(yu).query(x, k=k)
    d = np.asarray(d).reshape(x.shape[0], -1)
    d = d[np.isfinite(d) & (d > 0)]
    return float(d.min()) if d.size else math.inf


def _pair_cost_range(problem: MMOTProblem, i: int, j: int, max_entries: float,
                     deadline: float) -> tuple[float, float]:
    """``(lo, hi)`` with ``lo <= c_ij <= hi`` for every finite pair cost between the supports of
    marginals ``i`` and ``j``: from the nearest positive distance and the bounding box for monotone
    radial costs, else by chunked evaluation (``(-inf, inf)`` above ``max_entries`` or past ``deadline``)."""
    cost = problem.cost
    xi = problem.marginals[i].points[problem.marginals[i].weights > 0]
    xj = problem.marginals[j].points[problem.marginals[j].weights > 0]
    dec = isinstance(cost, _DECREASING) or (isinstance(cost, Yukawa) and cost.k >= 0)
    if is_radial(cost) and (dec or isinstance(cost, Power)):
        dmin = _min_positive_distance(xi, xj)
        both = np.concatenate([xi, xj], axis=0)
        dmax = float(np.linalg.norm(both.max(axis=0) - both.min(axis=0)))
        if math.isfinite(dmin):
            # monotone in the distance: the extremes sit at the nearest positive and the largest distance
            # (distances widened by 1e-9 relative: the float evaluation of |x - y| errs far less)
            d_near, d_far = dmin * (1.0 - 1e-9), dmax * (1.0 + 1e-9) + 1e-300
            f = [float(cost.of_distance(np.array([d]))[0]) for d in (d_near, d_far, 0.0)]
            if dec:
                lo, hi = f[1], f[0]
            else:
                lo, hi = min(f[2], f[0]), f[1]
            pad = 1e-9
            return lo - pad * abs(lo), hi + pad * abs(hi)
    if xi.shape[0] * xj.shape[0] > max_entries:
        return -math.inf, math.inf
    lo, hi = math.inf, -math.inf
    step = max(1, _BLOCK // max(1, xj.shape[0]))
    for s0 in range(0, xi.shape[0], step):
        if _late(deadline):
            return -math.inf, math.inf
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            C = cost.matrix(xi[s0:s0 + step], xj)
        C = C[np.isfinite(C)]
        if C.size:
            lo, hi = min(lo, float(C.min())), max(hi, float(C.max()))
    return lo, hi


def _tuple_cost_range(engine, problem: MMOTProblem, max_entries: float,
                      deadline: float) -> tuple[float, float, float]:
    """``(lo, hi, absmax_sum)``: bounds on the finite tuple costs and ``sum_pairs max |c_ij|``."""
    if isinstance(engine, TensorEngine) and not problem.is_pair_cost:
        fin = engine.C[np.isfinite(engine.C)]
        lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 0.0)
        return lo, hi, max(abs(lo), abs(hi))
    N = problem.n_marginals
    lo = hi = absmax = 0.0
    cache: dict = {}
    for i in range(N):
        for j in range(i + 1, N):
            key = (0, 0) if problem.is_symmetric else (i, j)
            if key not in cache:
                cache[key] = _pair_cost_range(problem, i, j, max_entries, deadline)
            a, b = cache[key]
            lo, hi, absmax = lo + a, hi + b, absmax + max(abs(a), abs(b))
    return lo, hi, absmax


def _site_orders(problem: MMOTProblem, random_orders: int) -> list[tuple[str, list[np.ndarray]]]:
    """Site orders for the quantile couplings: lexicographic in the coordinates (first coordinate
    first), then ``random_orders`` random permutations (seed 0)."""
    N = problem.n_marginals
    lex = [np.lexsort(problem.marginals[i].points.T[::-1]) for i in range(N)]
    out = [("coordinate order", lex)]
    rng = np.random.default_rng(0)
    for k in range(random_orders):
        out.append((f"random order {k + 1}", [rng.permutation(problem.marginals[i].points.shape[0])
                                              for i in range(N)]))
    return out


def quantile_coupling(d: Sequence[np.ndarray], orders: Sequence[np.ndarray],
                      shifts: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Coupling of the nonnegative vectors ``d_i`` (masses ``m_i``, nearly equal) along site orders.

    With ``Q_i`` the quantile function of ``d_i / m_i`` along ``orders[i]``, the coupling is the law
    of ``(Q_1(t + s_1), ..., Q_N(t + s_N))`` (arguments mod 1), ``t`` uniform on ``[0, 1)``, scaled to
    the mean mass: cyclic shifts ``s_i = i/N`` spread the tuples (repulsive costs), equal shifts give
    the comonotone coupling.  Returns ``(indices (K, N), weights (K,))`` with ``K <= sum_i l_i``; its
    marginals equal ``d_i`` up to rounding and to the differences of the masses ``m_i``.
    """
    N = len(d)
    masses = [float(np.sum(x)) for x in d]
    if not all(m > 0 and math.isfinite(m) for m in masses):
        raise ValueError(f"quantile_coupling needs positive finite masses, got {masses}")
    mass = float(np.mean(masses))
    cums = []
    for i in range(N):
        c = np.cumsum(d[i][orders[i]] / masses[i])
        c[-1] = 1.0
        cums.append(c)
    bp = np.unique(np.concatenate([[0.0, 1.0]] + [np.mod(cums[i] - shifts[i], 1.0) for i in range(N)]))
    lengths = np.diff(bp)
    keep = lengths > 0
    mids = 0.5 * (bp[:-1] + bp[1:])[keep]
    idx = np.stack([orders[i][np.minimum(np.searchsorted(cums[i], np.mod(mids + shifts[i], 1.0), side="right"),
                                         cums[i].size - 1)] for i in range(N)], axis=1)
    return idx.astype(np.int64), lengths[keep] * mass


def _best_coupling(problem: MMOTProblem, d: Sequence[np.ndarray], deadline: float,
                   random_orders: int = 3) -> tuple[float, np.ndarray | None, np.ndarray | None, str]:
    """Cheapest finite quantile coupling of the deficits ``d`` among cyclic and comonotone shifts along
    the coordinate order, then cyclic shifts along random orders: ``(cost, idx, w, name)``."""
    N = len(d)
    best: tuple = (math.inf, None, None, "")
    if not all(float(np.sum(x)) > 0 for x in d):   # a deficit at the rounding level only: mix first
        return best
    cyclic, como = [k / N for k in range(N)], [0.0] * N
    for n, (oname, orders) in enumerate(_site_orders(problem, random_orders)):
        if n > 0 and math.isfinite(best[0]):
            break
        for sname, shifts in (("cyclic", cyclic), ("comonotone", como)):
            if _late(deadline) or (n > 0 and sname == "comonotone"):
                continue
            idx, w = quantile_coupling(d, orders, shifts)
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                tc = problem.tuple_costs(idx)
            if not np.all(np.isfinite(tc[w > 0])):
                continue
            cost = exact_dot(np.where(w > 0, tc, 0.0), w)
            if cost < best[0]:
                best = (cost, idx, w, f"{sname} quantile, {oname}")
    return best


#: mixing weights tried by :func:`rounded_plan`: ``delta * _MIX_GROWTH**k`` (up to 1) ...
_MIX_GROWTH = 4.0
#: ... for ``_MIX_EXTRA`` steps past the first finite total (``theta`` stays ``O(delta)`` unless the
#: deficits need more mixing to spread)
_MIX_EXTRA = 3


def rounded_plan(engine, problem: MMOTProblem, mus: Sequence[np.ndarray], v: Sequence[np.ndarray],
                 max_entries: float = 2e8, deadline: float = math.inf) -> RoundedPlan:
    r"""Round the entropic plan onto the marginals ``mus`` and bound the cost of the result.

    1. *Scale down* (Altschuler-Weed-Rigollet, N marginals): ``v_i <- v_i min(1, mu_i / m_i)`` in turn
       for ``i = 1..N``; the plan ``gamma(v)`` then has marginals ``m_i <= mu_i`` and deficits
       ``e_i = mu_i - m_i >= 0``, all of mass ``delta = 1 - |gamma(v)|``.
    2. *Couple the deficits* by a quantile coupling (:func:`quantile_coupling`: cyclic shifts
       ``i/N`` or comonotone, along the coordinate order of the sites, then along random orders), the
       cheapest finite one.  Its cost is ``O(delta)``; it avoids coincident sites (Coulomb) unless one
       normalised deficit has an atom near ``1/N``.  ``O(sum_i l_i log l_i)``, no ``l^2`` array.
    3. *Mix*: the plan ``(1 - theta) gamma(v)`` has deficits ``e_i + theta m_i``, spread like ``mu_i``
       once ``theta >> delta``; its coupling avoids the clusters of ``e_i`` (where the deficit sits
       on the same few sites in every marginal, as for equal marginals under Coulomb, any coupling of
       ``e_i`` alone pairs near or coincident sites: large or infinite cost).  ``theta = delta 4^k``
       is tried for ``k = 0, 1, ...`` up to :data:`_MIX_EXTRA` steps past the first finite total;
       the cheapest total ``(1 - theta) <c, gamma(v)> + <c, pi>`` (``theta = 0`` included) is kept.
    4. *Certify*: the plan ``(1 - theta) gamma(v) + pi`` is explicit; its cost is computed with an
       a-priori bound on the rounding error (Higham's ``gamma_k`` for the products and sums of the
       contractions, a correctly rounded dot product for ``pi``), and the marginal residual that the
       floating-point construction leaves (``~1e-13``: computed per site, plus the a-priori error of
       the computed marginals) is charged at ``max(c_max, 0) + max(-c_min, 0)`` over the finite
       tuple costs -- the convention of :func:`mmot_models.certificate.plan_upper_bound`.

    ``max_entries`` caps the chunked evaluation of the pair-cost range for costs that are not
    monotone radial (``inf`` bound above it); past ``deadline`` (``time.perf_counter()``) the bound is
    ``inf`` with a note.
    """
    N = engine.N
    empty = np.zeros((0, N), dtype=np.int64)

    def fail(note: str, delta: float = math.nan) -> RoundedPlan:
        return RoundedPlan(list(v), 0.0, empty, np.zeros(0), "", delta, math.nan, math.nan, math.nan, math.nan,
                           math.nan, math.inf, note)

    late_note = "time limit reached before the rounded upper bound was complete"
    if _late(deadline):
        return fail(late_note)
    v = [np.asarray(x, dtype=float).copy() for x in v]
    for i in range(N):
        m = v[i] * engine.weights(i, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(m > mus[i], mus[i] / m, 1.0)
        v[i] = v[i] * scale
    marg = [v[i] * engine.weights(i, v) for i in range(N)]
    e = [np.maximum(mus[i] - marg[i], 0.0) for i in range(N)]
    delta = float(np.mean([x.sum() for x in e]))
    if _late(deadline):
        return fail(late_note, delta)
    with np.errstate(invalid="ignore"):
        base = float(engine.transport_cost(v))
    if not math.isfinite(base):
        return fail("the cost of the scaled plan is not finite", delta)
    theta, corr, idx, w, name = 0.0, 0.0, empty, np.zeros(0), "none"
    if delta > 0:
        corr, idx, w, name = _best_coupling(problem, e, deadline)
        best_total = base + corr
        # mixing weights theta = delta 4^k, k = 0, 1, ...: up to _MIX_EXTRA steps past the first finite
        # total (theta = 0 included), the cheapest total (1 - theta) base + coupling kept
        last = _MIX_EXTRA - 1 if math.isfinite(best_total) else math.inf
        k = 0
        while k <= last and not _late(deadline):
            th = min(1.0, delta * _MIX_GROWTH ** k)
            d = [e[i] + th * marg[i] for i in range(N)]
            c, ix, ww, nm = _best_coupling(problem, d, deadline)
            tot = (1.0 - th) * base + c
            if tot < best_total:
                theta, corr, idx, w, name, best_total = th, c, ix, ww, nm, tot
            if math.isfinite(tot) and last == math.inf:
                last = k + _MIX_EXTRA
            if th >= 1.0:
                break
            k += 1
        if _late(deadline):
            return fail(late_note, delta)
        if not math.isfinite(corr):
            return fail("every coupling of the deficits tried meets an infinite cost, even the quantile "
                        "coupling of the marginals themselves", delta)
    # ---- certificate: rounding error of the cost, marginal residual of the explicit plan
    k_marg, k_cost, extra = _error_counts(engine)
    lo, hi, absmax = _tuple_cost_range(engine, problem, max_entries, deadline)
    factor = max(hi, 0.0) + max(-lo, 0.0)
    res = 0.0
    for i in range(N):
        a = (1.0 - theta) * marg[i]
        b = np.bincount(idx[:, i], weights=w, minlength=mus[i].size) if w.size else np.zeros(mus[i].size)
        kb = int(np.bincount(idx[:, i]).max()) if w.size else 0
        r = a + b - mus[i]
        sa, sb, sm = float(a.sum()), float(b.sum()), float(np.sum(marg[i]))
        res += (exact_sum(np.abs(r)) * (1.0 + 2 * EPS)
                + 1.01 * (gamma(3) * (sa + sb + float(np.sum(mus[i]))) + gamma(k_marg) * sm
                          + gamma(kb + 1) * sb + extra * sm))
    res = round_up(res * (1.0 + 4 * EPS))
    nonneg = lo >= 0.0
    plan_mass = float(np.sum(marg[0]))
    s_base = base if nonneg else absmax * plan_mass
    s_corr = corr if nonneg else absmax * float(w.sum())
    npairs = N * (N - 1) // 2 if problem.is_pair_cost else 1
    comp = (1.0 - theta) * base
    cost_error = 1.01 * ((1.0 - theta) * (gamma(k_cost) + extra) * s_base + gamma(npairs) * s_corr) \
        + EPS * (abs(comp) + abs(corr))
    total = comp + corr
    charge = factor * res if res > 0 else 0.0
    bound = round_up(total + cost_error + charge + 4 * EPS * (abs(total) + cost_error + charge))
    note = ""
    if not math.isfinite(bound):
        note = ("the marginal residual of the rounded plan cannot be charged: the range of the finite costs "
                "is unknown (more than max_entries pairs to evaluate)")
        bound = math.inf
    return RoundedPlan(v, theta, idx, w, name, delta, base, corr, cost_error, res, factor, bound, note)


def rounded_plan_entries(engine, rp: RoundedPlan) -> tuple[np.ndarray, np.ndarray]:
    """The whole plan ``(1 - theta) gamma(v) + pi`` of :func:`rounded_plan` as ``(indices, weights)``
    (every entry of ``gamma(v)`` listed: for small problems and tests)."""
    parts_i, parts_w = [rp.coupling_indices], [rp.coupling_weights]
    for wb, index_of in plan_blocks(engine, rp.v):
        mask = wb > 0
        parts_i.append(index_of(mask).astype(np.int64))
        parts_w.append((1.0 - rp.theta) * wb[mask])
    return np.concatenate(parts_i, axis=0), np.concatenate(parts_w)


def rounded_upper_bound(engine, problem: MMOTProblem, mus: Sequence[np.ndarray], v: Sequence[np.ndarray],
                        max_entries: float = 2e8, deadline: float = math.inf) -> tuple[float, dict]:
    """Certified upper bound from the plan rounded to exact marginals (:func:`rounded_plan`) and its
    ``info`` entries; ``inf`` (``rounding_note`` says why) when no bound was obtained, e.g. when
    ``deadline`` passes first."""
    rp = rounded_plan(engine, problem, mus, v, max_entries=max_entries, deadline=deadline)
    return rp.bound, rp.info()


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
