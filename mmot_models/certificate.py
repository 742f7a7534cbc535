"""The weak-duality certificate of every LP method, computed so that it survives rounding.

Every certified LP method of the package solves (or relaxes) an LP of the form

.. math::
    \\text{OPT} = \\min_{x \\ge 0}\\ c^T x + \\text{offset}
    \\quad\\text{s.t.}\\quad r_\\ell \\le A x \\le r_u,\\qquad \\textstyle\\sum_j x_j \\le m

(``m`` is the plan mass, 1 for probability plans, an upper bound for the partial problems) and
returns a bracket ``lower <= OPT <= upper``.  The two functions here compute the two sides for the
*exact* LP whose data are the floating-point numbers the package stored (the marginal weights and
the cost values, up to a stated error bound ``cost_error``/``rhs_error`` where a formulation computed
its coefficients by rounded arithmetic, e.g. a tuple cost as a float sum of pair costs):

:func:`dual_lower_bound` -- for any multipliers ``y`` (clipped to the signs the row bounds allow),
    ``c^T x >= y^T A x + min(0, min_j d_j) sum_j x_j >= y^T r + m min(0, min_j d_j)`` with the reduced
    costs ``d = c - A^T y`` (the "shift argument": lowering the potentials by the largest violation makes
    them feasible, and plans have mass ``m``).  Computed with an exact dot product for ``y^T r`` and a
    rigorous a-priori bound on the rounding error of each reduced cost, so the returned float is
    ``<= OPT`` in exact arithmetic.

:func:`plan_upper_bound` -- for a plan ``x >= 0`` with equality rows ``A x = b`` violated by the
    residual ``s = A x - b`` (computed exactly, :func:`exact_row_residuals`), the exact plan cost plus the
    residual charged at the largest cost it could carry, ``(max(c)^+ + max(-min(c), 0)) * ||s||_1``.
    Argument (every column of ``A`` has nonnegative integer entries summing to the same ``K`` and
    every column meets each block of rows once or more): remove the excess of each over-full row
    from columns through it (mass removed ``R <= ||s^+||_1``, cost changes by at most
    ``max(-min c, 0) R``); the deficits left have total plan mass ``D <= ||s||_1`` and are filled by a
    coupling of the deficits of cost at most ``max(c) D``.  The fill needs columns of finite cost
    for the deficits: always true without forbidden tuples; with forbidden (coincident) tuples it is
    an assumption, made harmless by :func:`~mmot_models.algorithms.refine.refine` which drives the
    residual to the rounding level first (``docs/formulations.md``, "Certificates").

:func:`dual_lower_bound` is the one weak-duality function of the package (the model certificate
:func:`mmot_models.modeling.certify.safe_lower_bound` calls it with the column bounds, every LP
formulation with ``mass``); :func:`shifted_lower_bound` is its last step, also used directly by
pricers that know the minimal reduced cost over columns they never build.

Both return small dataclasses with the pieces (value, violation, rounding charge) for ``info``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["EPS", "gamma", "two_product", "exact_dot", "exact_sum", "exact_row_residuals", "DualBound",
           "PlanBound", "dual_lower_bound", "plan_upper_bound", "pair_cost_error", "round_down", "round_up",
           "scaled_rhs", "plan_mass", "shifted_lower_bound"]

#: Unit roundoff of IEEE double precision (``2**-53``).
EPS = 2.0 ** -53
#: Dekker's splitting constant ``2**27 + 1``.
_SPLIT = 134217729.0


def gamma(n: int) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)``: bound on the relative error of ``n`` rounded operations."""
    nu = n * EPS
    return nu / (1.0 - nu)


def round_down(x: float) -> float:
    """The next float below ``x`` (a safe lower value of a correctly rounded ``x``)."""
    return math.nextafter(x, -math.inf) if math.isfinite(x) else x


def round_up(x: float) -> float:
    return math.nextafter(x, math.inf) if math.isfinite(x) else x


def two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-free product (Dekker): ``a * b == p + e`` exactly, elementwise (no overflow assumed)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    p = a * b
    ca = _SPLIT * a
    ah = ca - (ca - a)
    al = a - ah
    cb = _SPLIT * b
    bh = cb - (cb - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    # entries whose split overflowed or underflowed: fall back to an error bound of zero width only
    # where the product is exact anyway (one factor 0 or a power of two)
    bad = ~np.isfinite(e)
    if bad.any():
        e = np.where(bad, 0.0, e)
    return p, e


def exact_sum(values) -> float:
    """Correctly rounded sum (``math.fsum``) of an array or iterable of floats."""
    return math.fsum(np.asarray(values, dtype=float).ravel().tolist())


def exact_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Correctly rounded ``sum_i a_i b_i`` (error-free products, then ``math.fsum``)."""
    p, e = two_product(a, b)
    return math.fsum(np.concatenate([p.ravel(), e.ravel()]).tolist())


def exact_row_residuals(A: sp.spmatrix, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correctly rounded ``A x - b`` per row (only columns with ``x != 0`` are read)."""
    x = np.asarray(x, dtype=float)
    nz = np.flatnonzero(x)
    As = sp.csr_matrix(sp.csc_matrix(A)[:, nz])
    As.sum_duplicates()
    vals = np.asarray(As.data, dtype=float)
    p, e = two_product(vals, x[nz][As.indices])
    out = np.empty(As.shape[0])
    ptr = As.indptr
    b = np.asarray(b, dtype=float)
    pl, el = p.tolist(), e.tolist()
    for r in range(As.shape[0]):
        lo, hi = ptr[r], ptr[r + 1]
        out[r] = math.fsum(pl[lo:hi] + el[lo:hi] + [-b[r]])
    return out


def pair_cost_error(problem, costs: np.ndarray, n_terms: int | None = None, scale_roundings: int = 0) -> np.ndarray | float:
    """Bound on ``|c_float - c_exact|`` for column costs computed as float sums of pair-cost entries.

    ``c_exact`` sums the stored pair-matrix entries exactly; the float sum of ``K`` terms errs by at
    most ``gamma_{K-1} sum |terms|`` (``sum |terms| = c`` for nonnegative pair costs), plus
    ``scale_roundings`` further roundings (a scale factor).  N-ary costs: 0 (the evaluated cost value
    is the data).
    """
    if not getattr(problem, "is_pair_cost", False):
        return 0.0
    N = problem.n_marginals
    K = int(n_terms) if n_terms is not None else N * (N - 1) // 2
    k = max(K - 1, 0) + int(scale_roundings)
    if k == 0:
        return 0.0
    nonneg = True
    big = 0.0
    for i in range(N):
        for j in range(i + 1, N):
            C = problem.pair_matrix(i, j)
            fin = C[np.isfinite(C)]
            if fin.size:
                nonneg = nonneg and float(fin.min()) >= 0.0
                big = max(big, float(np.abs(fin).max()))
            if problem.is_symmetric:
                break
        if problem.is_symmetric:
            break
    g = 1.01 * gamma(k + 1)
    if nonneg:
        return g * np.abs(np.asarray(costs, dtype=float))
    return g * K * big


@dataclass(frozen=True)
class DualBound:
    """A rounding-safe weak-duality lower bound and its pieces."""

    bound: float          #: certified lower bound (``-inf`` if none)
    dual_value: float     #: ``y^T r + offset`` (correctly rounded)
    violation: float      #: largest dual violation ``max_j (-d_j)^+`` as computed
    rounding: float       #: everything charged for rounding and data errors


@dataclass(frozen=True)
class PlanBound:
    """A certified upper bound from a (possibly slightly infeasible) plan and its pieces."""

    bound: float          #: certified upper bound
    cost: float           #: ``c^T x + offset`` of the plan (correctly rounded)
    residual_l1: float    #: ``||A x - b||_1`` (exact, rounded up) plus the rhs data error
    residual_max: float   #: largest absolute row residual
    charge: float         #: what was added for the residual and the cost data error


#: Most columns whose reduced cost :func:`dual_lower_bound` recomputes exactly (``math.fsum``).
EXACT_REDUCED_COST_MAX = 200_000


def _exact_reduced_costs(c: np.ndarray, A: sp.csc_matrix, y: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Correctly rounded ``c_j - (A^T y)_j`` for the columns ``cols``."""
    sub = A[:, cols]
    sub.sum_duplicates()
    p, e = two_product(sub.data, y[sub.indices])
    pl, el = (-p).tolist(), (-e).tolist()
    ptr = sub.indptr
    out = np.empty(cols.size)
    for k, j in enumerate(cols.tolist()):
        lo, hi = ptr[k], ptr[k + 1]
        out[k] = math.fsum(pl[lo:hi] + el[lo:hi] + [float(c[j])])
    return out


def _col_max_nnz(A: sp.spmatrix) -> int:
    A = sp.csc_matrix(A)
    return int(np.diff(A.indptr).max(initial=0))


def _box_products(lo: np.ndarray, hi: np.ndarray, xl: np.ndarray, xu: np.ndarray) -> np.ndarray:
    """``min {d x : d in [lo, hi], x in [xl, xu]}`` per column with ``0 * inf = 0`` (``-inf`` if unbounded)."""
    out = np.full(lo.shape, math.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        for d in (lo, hi):
            for x in (xl, xu):
                p = d * x
                p = np.where((d == 0) | (x == 0), 0.0, p)
                out = np.minimum(out, p)
    return out


def dual_lower_bound(c: np.ndarray, A: sp.spmatrix, y: np.ndarray, row_lower: np.ndarray,
                     row_upper: np.ndarray, *, mass: float | None = None, col_lower: np.ndarray | None = None,
                     col_upper: np.ndarray | None = None, cost_error: np.ndarray | float = 0.0,
                     rhs_error: np.ndarray | float = 0.0, offset: float = 0.0) -> DualBound:
    """The one rounding-safe weak-duality bound of the package, for any row multipliers ``y``.

    A lower bound on ``min {c^T x + offset : r_l <= A x <= r_u, x_l <= x <= x_u}`` (default
    ``x_l = 0``, ``x_u = inf``), and, with ``mass``, on the same LP with ``x >= 0`` and
    ``sum_j x_j <= mass`` added.  With the reduced costs ``d = c - A^T y`` (each enclosed in
    ``[fl(d_j) - e_j, fl(d_j) + e_j]`` by an a-priori rounding bound, recomputed exactly where it
    matters):

    - box: ``y^T r + sum_j min(d_j x_l,j, d_j x_u,j)`` (Neumaier and Shcherbina 2004; ``-inf``
      when a column with an infinite bound has ``d_j < 0`` on that side);
    - mass shift (only with ``mass`` and ``x_l >= 0``): ``y^T r + mass * min(0, min_j d_j)``;

    and the larger of the two is returned.  ``y^T r`` uses, per row, the bound the sign of ``y_i``
    selects (a multiplier whose sign the row bounds do not allow is set to 0 first) and an exact dot
    product; the final step is :func:`shifted_lower_bound`.

    Parameters
    ----------
    c, A, row_lower, row_upper : the LP data (``A`` sparse, ``m x n``).
    y : ndarray, shape (m,)
        Any row multipliers (HiGHS convention ``c - A^T y`` = reduced costs).
    mass : float, optional
        An upper bound on ``sum_j x_j`` over feasible ``x`` (1 for plans).
    col_lower, col_upper : ndarray, optional
        Column bounds every feasible point satisfies (e.g. implied finite upper bounds of plan columns).
    cost_error, rhs_error : float or ndarray
        Bounds on ``|c - c_exact|`` per column and ``|r - r_exact|`` per row: the bound then holds for
        every LP whose exact data lie within these errors of the floats given.

    Returns
    -------
    DualBound
        ``bound`` (``-inf`` if nothing is certified), ``dual_value = y^T r + offset``, the largest
        dual violation ``max_j (-d_j)^+`` and the rounding charge.
    """
    c = np.asarray(c, dtype=float)
    y = np.asarray(y, dtype=float).copy()
    lo = np.asarray(row_lower, dtype=float)
    up = np.asarray(row_upper, dtype=float)
    if y.shape != lo.shape or not np.all(np.isfinite(y)):
        return DualBound(-math.inf, math.nan, math.nan, math.nan)
    y[(y > 0) & ~np.isfinite(lo)] = 0.0
    y[(y < 0) & ~np.isfinite(up)] = 0.0
    rhs = np.where(y > 0, np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(up), up, 0.0))
    dual = math.fsum([exact_dot(y, rhs), float(offset)])
    rhs_charge = exact_sum(np.abs(y) * rhs_error) * (1.0 + 4 * EPS) if np.any(rhs_error) else 0.0
    A = sp.csc_matrix(A)
    n = c.size
    xl = np.zeros(n) if col_lower is None else np.broadcast_to(np.asarray(col_lower, dtype=float), (n,))
    xu = np.full(n, np.inf) if col_upper is None else np.broadcast_to(np.asarray(col_upper, dtype=float), (n,))
    red = c - A.T @ y
    if red.size == 0:
        b = shifted_lower_bound(dual, 0.0, 0.0, 0.0, dual_error=rhs_charge)
        return DualBound(bound=b, dual_value=dual, violation=0.0, rounding=dual - b)
    absA = abs(A)
    k = np.diff(A.indptr) + 2
    # |fl(c - A^T y) - (c - A^T y)| <= gamma_k (|c| + |A|^T |y|) per column, with a 1 % margin
    nu = k * EPS
    err = 1.01 * (nu / (1.0 - nu)) * (np.abs(c) + absA.T @ np.abs(y)) + cost_error
    viol = float(max(0.0, -float(red.min())))
    # ---- mass shift: the violation, safe; columns whose a-priori bound could set it recomputed exactly
    shift_bound = -math.inf
    if mass is not None and bool(np.all(xl >= 0.0)):
        upper_v = -red + err
        viol_safe = max(0.0, float(np.max(upper_v)))
        cand = np.flatnonzero(upper_v > viol)
        if 0 < cand.size <= EXACT_REDUCED_COST_MAX:
            ce = np.broadcast_to(np.asarray(cost_error, dtype=float), c.shape)
            ex = _exact_reduced_costs(c, A, y, cand)
            # |fl(d) - d| <= ulp(d)/2 <= EPS |d| (correct rounding), plus the data error of the cost
            exact_v = -ex + EPS * np.abs(ex) + ce[cand]
            others = np.ones(c.shape, dtype=bool)
            others[cand] = False
            viol_safe = max(0.0, float(np.max(exact_v)), float(np.max(upper_v[others], initial=0.0)))
        shift_bound = shifted_lower_bound(dual, -viol_safe, 0.0, float(mass), dual_error=rhs_charge)
    # ---- box: every column over its bounds, the reduced cost over its enclosure (rounded outward)
    box_bound = -math.inf
    if mass is not None and col_lower is None and col_upper is None:
        # default bounds x >= 0: the box bound is never above the mass shift (skip its cost on big LPs)
        return DualBound(bound=shift_bound, dual_value=dual, violation=viol,
                         rounding=(dual - viol * float(mass)) - shift_bound)
    with np.errstate(over="ignore"):
        d_lo = np.nextafter(red - err, -np.inf)
        d_hi = np.nextafter(red + err, np.inf)
    # a column with an infinite bound on the side the enclosure allows: recompute its reduced cost
    # exactly (an exactly zero reduced cost then certifies, a negative one on x_u = inf does not)
    cand = np.flatnonzero(((d_lo < 0) & np.isposinf(xu)) | ((d_hi > 0) & np.isneginf(xl)))
    if 0 < cand.size <= EXACT_REDUCED_COST_MAX:
        ex = _exact_reduced_costs(c, A, y, cand)
        w = EPS * np.abs(ex) + np.broadcast_to(np.asarray(cost_error, dtype=float), c.shape)[cand]
        d_lo[cand] = np.where(w > 0, np.nextafter(ex - w, -np.inf), ex)
        d_hi[cand] = np.where(w > 0, np.nextafter(ex + w, np.inf), ex)
    terms = _box_products(d_lo, d_hi, xl, xu)
    if not (np.isneginf(terms).any() or np.isnan(terms).any()):
        nz = terms[terms != 0.0]
        col = math.fsum(nz.tolist())
        # products (EPS each, plus underflow) and the correctly rounded sum
        charge = 4 * EPS * math.fsum(np.abs(nz).tolist()) + (n + 1) * float(np.finfo(float).tiny)
        raw = dual + col - charge - rhs_charge
        box_bound = round_down(raw - 4 * EPS * (abs(dual) + abs(col) + charge + rhs_charge))
    bound = max(shift_bound, box_bound)
    return DualBound(bound=bound, dual_value=dual, violation=viol,
                     rounding=(dual - viol * (mass if mass is not None else 0.0)) - bound)


def plan_upper_bound(c: np.ndarray, A: sp.spmatrix, b: np.ndarray, x: np.ndarray, *,
                     cost_max: float | None = None, cost_min: float | None = None,
                     cost_error: np.ndarray | float = 0.0, rhs_error: np.ndarray | float = 0.0,
                     offset: float = 0.0) -> PlanBound:
    """Certified upper bound on ``min {c^T x : A x = b, x >= 0}`` from a plan ``x >= 0`` (clipped here).

    The plan's exact cost, plus ``(max(cost_max, 0) + max(-cost_min, 0)) * ||A x - b||_1`` (the residual
    charged at the largest cost it could carry; see the module docstring), plus the cost data error
    ``cost_error^T x``.  ``cost_max``/``cost_min`` default to the extremes of ``c`` (the columns of the
    formulation).  Returns ``bound = inf`` if the residual is not finite.
    """
    c = np.asarray(c, dtype=float)
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    nz = np.flatnonzero(x)
    cost = math.fsum([exact_dot(c[nz], x[nz]), float(offset)])
    resid = exact_row_residuals(A, x, b)
    rl1 = exact_sum(np.abs(resid))
    if np.any(rhs_error):
        rl1 = rl1 + exact_sum(np.broadcast_to(np.asarray(rhs_error, dtype=float), resid.shape))
    rl1 = round_up(rl1 * (1.0 + 4 * EPS))
    rmax = float(np.max(np.abs(resid), initial=0.0))
    cmax = float(np.max(c, initial=0.0)) if cost_max is None else float(cost_max)
    cmin = float(np.min(c, initial=0.0)) if cost_min is None else float(cost_min)
    factor = max(cmax, 0.0) + max(-cmin, 0.0)
    charge = factor * rl1 if rl1 > 0 else 0.0
    if np.any(cost_error):
        ce = np.broadcast_to(np.asarray(cost_error, dtype=float), c.shape)
        charge += exact_sum(ce[nz] * x[nz])
    charge = round_up(charge * (1.0 + 4 * EPS)) if charge > 0 else 0.0
    if not math.isfinite(rl1):
        return PlanBound(math.inf, cost, rl1, rmax, math.inf)
    bound = round_up(cost + charge + 4 * EPS * (abs(cost) + charge))
    return PlanBound(bound=bound, cost=cost, residual_l1=rl1, residual_max=rmax, charge=bound - cost)


def scaled_rhs(k: float, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fl(k * weights)`` and the exact error bound ``|k * weights - fl(k * weights)|`` (zero when exact)."""
    p, e = two_product(np.full(np.shape(weights), float(k)), np.asarray(weights, dtype=float))
    return p, np.abs(e)


def plan_mass(weights: np.ndarray) -> float:
    """The exact mass ``sum(weights)`` of a marginal, rounded up (the ``mass`` of :func:`dual_lower_bound`)."""
    return round_up(exact_sum(weights))


def shifted_lower_bound(dual_value: float, min_reduced_cost: float, rc_error: float, mass: float,
                        dual_error: float = 0.0) -> float:
    """``dual_value + mass * min(0, min_reduced_cost)`` made safe against rounding.

    For callers that know the minimal reduced cost ``r*`` over all columns only as a float (a pricer),
    with ``|fl(r*) - r*| <= rc_error``, and the dual objective with ``|fl - exact| <= dual_error``.
    """
    if not (math.isfinite(dual_value) and math.isfinite(min_reduced_cost)):
        return -math.inf
    v = round_up(max(0.0, -min_reduced_cost + rc_error) * (1.0 + 4 * EPS))
    shift = round_up(float(mass) * v * (1.0 + 2 * EPS))
    raw = dual_value - shift - dual_error
    return round_down(raw - 4 * EPS * (abs(dual_value) + shift + dual_error))
