"""The symmetric (multiset, occupation-number) LP for N equal marginals and a symmetric cost.

For N copies of one marginal ``mu`` on ``l`` sites and a cost invariant under permutations, every
plan can be symmetrised without changing its cost, and a symmetric plan is fixed by its weights
``gamma_m`` on multisets ``m`` of N sites (occupation numbers ``n_s(m)``, ``sum_s n_s(m) = N``).

Primal (one column per multiset of finite cost, ``l`` rows):

.. math::
    \\min_{\\gamma \\ge 0} \\sum_m c(m)\\,\\gamma_m
    \\quad\\text{s.t.}\\quad \\sum_m n_s(m)\\,\\gamma_m = N\\mu_s\\qquad s = 1..l,

so ``sum_m gamma_m = 1``.  Dual (one potential ``u`` on the sites):

.. math::
    \\max_u\\ N\\langle u, \\mu\\rangle
    \\quad\\text{s.t.}\\quad \\sum_s n_s(m)\\,u_s \\le c(m)\\quad\\forall m.

``c(m) = sum_{a<b} C[m_a, m_b]`` for a pair cost, or the N-ary cost on the multiset's points.
Multisets of infinite cost (repeated sites under Coulomb) are dropped: with a singular diagonal
only multisets of distinct sites (``distinct=True``) are enumerated.  The LP has
``binom(l+N-1, N)`` columns (``binom(l, N)`` if distinct) instead of ``l^N``; an optimal vertex has
at most ``l`` atoms.

Expansion to site tuples
------------------------
A multiset plan becomes an N-marginal plan either by averaging each multiset over all ``N!``
orderings (:func:`~mmot_models.solution.symmetrize_plan`, a fully symmetric plan, default for
``N <= 5``) or by its ``N`` cyclic shifts with weight ``gamma_m / N`` each (``expand="cyclic"``,
default for larger N): every coordinate then sees each element of the multiset once, so each
marginal is exactly ``mu`` and, the cost being symmetric, the cost is unchanged.  The multiset form
stays available in ``Solution.info["multisets"]`` / ``info["multiset_weights"]``.

Certificate (computed here)
---------------------------
Upper bound ``<c, gamma>`` of the returned plan; lower bound ``N<u, mu> - v`` with
``v = max_m (sum_s n_s(m) u_s - c(m))^+`` over *all* multisets of finite cost, computed by
chunked enumeration (:func:`dual_violation_symmetric`); shifting ``u`` down by ``v/N`` makes it
feasible, and plans have mass 1.  The potential ``u`` of the shared marginal, repeated N times, is
a Kantorovich potential of the full N-marginal dual.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import EPS as EPS_
from ..certificate import dual_lower_bound, pair_cost_error, plan_mass, plan_upper_bound, scaled_rhs
from ..errors import MMOTInputError
from ..problem import MMOTProblem
from ..solution import Bound, marginal_errors, symmetrize_plan
from .multisets import iter_multisets, multiset_count, multiset_pair_costs, multisets, occupation_matrix
from .contract import LPFormulationBase
from .standard_lp import LPResult, LPSize, StandardLP, check_fits

__all__ = [
    "SymmetricPrimal", "SymmetricDual", "multiset_costs", "multiset_distinct", "symmetric_size",
    "min_reduced_cost_enumerated", "dual_violation_symmetric", "expand_multiset_plan",
    "multiset_marginal_error", "require_symmetric", "plan_fields", "multiset_lower_bound", "PLAN_ZERO_TOL", "FULL_SYMMETRIZE_MAX_N",
]

#: Plan entries at or below this are dropped from the returned sparse plan.
PLAN_ZERO_TOL = 1e-14
#: Largest N for which the default expansion averages over all N! orderings (else cyclic shifts).
FULL_SYMMETRIZE_MAX_N = 5
#: Rows per enumeration chunk (bounds memory of pricing and certificates).
ENUM_CHUNK_ROWS = 1_000_000


def require_symmetric(problem: MMOTProblem) -> None:
    """Raise :class:`MMOTInputError` unless the multiset reduction applies."""
    if not problem.is_symmetric:
        raise MMOTInputError(
            "the symmetric multiset LP needs N identical marginals and a symmetric cost; "
            "use method='primal' (small) or 'entropic' for general problems")


def multiset_distinct(problem: MMOTProblem) -> bool:
    """``True`` when only multisets of distinct sites can have finite cost (singular diagonal)."""
    return problem.singular_diagonal


def symmetric_size(problem: MMOTProblem, distinct: bool | None = None) -> LPSize:
    """Size of the enumerated multiset LP (columns = multisets, rows = sites)."""
    l, N = problem.sizes[0], problem.n_marginals
    d = multiset_distinct(problem) if distinct is None else distinct
    M = multiset_count(l, N, d)
    return LPSize(M, l, M * N)


def multiset_costs(problem: MMOTProblem, ms: np.ndarray, C: np.ndarray | None = None) -> np.ndarray:
    """Cost ``c(m)`` of multiset rows ``ms`` (``(M, N)`` site indices), vectorised.

    ``C`` is the pair-cost matrix of the marginal's points (computed if not given; pair costs only).
    """
    ms = np.asarray(ms)
    if problem.is_pair_cost:
        if C is None:
            C = problem.pair_matrix(0, 0)
        with np.errstate(invalid="ignore"):
            return multiset_pair_costs(C, ms)
    pts = problem.marginals[0].points
    return problem.cost.evaluate(pts[ms])


def multiset_marginal_error(problem: MMOTProblem, ms: np.ndarray, w: np.ndarray) -> float:
    """Max-norm error of the (averaged) marginal ``sum_m n_s(m) w_m / N - mu_s``."""
    l, N = problem.sizes[0], problem.n_marginals
    got = np.bincount(ms.reshape(-1), weights=np.repeat(w, ms.shape[1]), minlength=l) / N
    return float(np.max(np.abs(got - problem.marginals[0].weights)))


def _iter_costs(problem: MMOTProblem, distinct: bool, C: np.ndarray | None, max_rows: int):
    l, N = problem.sizes[0], problem.n_marginals
    for ms in iter_multisets(l, N, distinct, max_rows=max_rows):
        yield ms, multiset_costs(problem, ms, C)


def min_reduced_cost_enumerated(problem: MMOTProblem, u: np.ndarray, *, n_best: int = 0,
                                C: np.ndarray | None = None, max_rows: int = ENUM_CHUNK_ROWS,
                                deadline: float = math.inf) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact ``min_m c(m) - sum_s n_s(m) u_s`` over all finite-cost multisets, by chunked enumeration.

    Returns ``(min_rc, best_multisets, their_rcs)`` with up to ``n_best`` most negative
    (``rc < 0``) multisets, sorted by reduced cost.  Memory is bounded by ``max_rows`` rows.
    Past ``deadline`` (``time.perf_counter()``) the enumeration stops between chunks and ``min_rc``
    is ``-inf`` (no bound), with the columns found so far.
    """
    distinct = multiset_distinct(problem)
    if problem.is_pair_cost and C is None:
        C = problem.pair_matrix(0, 0)
    u = np.asarray(u, dtype=float)
    best = math.inf
    keep_ms: list[np.ndarray] = []
    keep_rc: list[np.ndarray] = []
    for ms, c in _iter_costs(problem, distinct, C, max_rows):
        if deadline < math.inf and time.perf_counter() > deadline:
            best = -math.inf
            break
        rc = c - u[ms].sum(axis=1)
        rc[~np.isfinite(c)] = np.inf
        if rc.size == 0:
            continue
        best = min(best, float(rc.min()))
        if n_best > 0:
            neg = np.flatnonzero(rc < 0)
            if neg.size > n_best:
                neg = neg[np.argpartition(rc[neg], n_best - 1)[:n_best]]
            if neg.size:
                keep_ms.append(ms[neg])
                keep_rc.append(rc[neg])
                allrc = np.concatenate(keep_rc)
                if allrc.size > 4 * n_best:  # trim the running pool
                    sel = np.argpartition(allrc, n_best - 1)[:n_best]
                    allms = np.concatenate(keep_ms)[sel]
                    keep_ms, keep_rc = [allms], [allrc[sel]]
    if keep_rc:
        ms_all, rc_all = np.concatenate(keep_ms), np.concatenate(keep_rc)
        order = np.argsort(rc_all, kind="stable")[:n_best]
        return best, ms_all[order], rc_all[order]
    return best, np.empty((0, problem.n_marginals), dtype=np.int64), np.empty(0)


def dual_violation_symmetric(problem: MMOTProblem, u: np.ndarray, C: np.ndarray | None = None) -> float:
    """``max_m (sum_s n_s(m) u_s - c(m))^+`` over all finite-cost multisets (chunked enumeration)."""
    best, _, _ = min_reduced_cost_enumerated(problem, u, n_best=0, C=C)
    return float(max(0.0, -best)) if math.isfinite(best) else 0.0


def safe_min_reduced_cost(problem: MMOTProblem, u: np.ndarray, C: np.ndarray | None = None,
                          max_rows: int = ENUM_CHUNK_ROWS) -> float:
    """A certified lower bound on ``min_m c_exact(m) - sum_s n_s(m) u_s`` over all finite-cost multisets.

    Chunked enumeration as :func:`min_reduced_cost_enumerated`; each reduced cost carries an a-priori
    rounding bound, and the multisets whose bound could set the minimum are recomputed exactly
    (:func:`mmot_models.certificate.dual_lower_bound` does the same on an LP's columns).
    """
    from ..certificate import _exact_reduced_costs, gamma  # noqa: PLC2701 - shared internals

    distinct = multiset_distinct(problem)
    l, N = problem.sizes[0], problem.n_marginals
    if problem.is_pair_cost and C is None:
        C = problem.pair_matrix(0, 0)
    u = np.asarray(u, dtype=float)
    g = 1.01 * gamma(N + 2)
    best_safe = math.inf
    for ms in iter_multisets(l, N, distinct, max_rows=max_rows):
        c = multiset_costs(problem, ms, C)
        fin = np.isfinite(c)
        if not fin.all():
            ms, c = ms[fin], c[fin]
        if c.size == 0:
            continue
        rc = c - u[ms].sum(axis=1)
        cerr = pair_cost_error(problem, c)
        err = g * (np.abs(c) + np.abs(u)[ms].sum(axis=1)) + cerr
        low = rc - err
        cand = np.flatnonzero(low < min(best_safe, float(rc.min())))
        if cand.size:
            A = occupation_matrix(ms[cand], l)
            ex = _exact_reduced_costs(c[cand], A, u, np.arange(cand.size))
            ce = np.broadcast_to(np.asarray(cerr, dtype=float), c.shape)[cand]
            low_c = ex - EPS_ * np.abs(ex) - ce
            best_safe = min(best_safe, float(low_c.min()))
        others = np.ones(c.size, dtype=bool)
        others[cand] = False
        if others.any():
            best_safe = min(best_safe, float(low[others].min()))
    return best_safe


def expand_multiset_plan(ms: np.ndarray, w: np.ndarray, how: str | bool | None = "auto"
                         ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Turn a multiset plan into an N-marginal plan on site tuples.

    ``how``: ``"symmetrize"`` (all ``N!`` orderings), ``"cyclic"`` (N cyclic shifts, weight
    ``w/N`` each; exact marginals, K*N atoms), ``"auto"`` (symmetrize for
    ``N <= FULL_SYMMETRIZE_MAX_N``, else cyclic), or ``None``/``False`` (no expansion).
    """
    if how is None or how is False:
        return None, None
    N = ms.shape[1]
    if how is True or how == "auto":
        how = "symmetrize" if N <= FULL_SYMMETRIZE_MAX_N else "cyclic"
    if how == "symmetrize":
        return symmetrize_plan(ms, w)
    if how == "cyclic":
        shifts = [np.roll(ms, -k, axis=1) for k in range(N)]
        from ..solution import aggregate_plan
        return aggregate_plan(np.concatenate(shifts, axis=0), np.tile(w / N, N))
    raise MMOTInputError(f"unknown expansion {how!r}; use 'auto', 'symmetrize', 'cyclic' or None")


def plan_fields(problem: MMOTProblem, ms: np.ndarray, w: np.ndarray, cost: np.ndarray,
                expand: str | bool | None, A: sp.spmatrix | None = None) -> dict[str, Any]:
    """Solution fields for a multiset plan: expanded plan, value, certified upper bound, marginal errors.

    ``upper_bound`` is :func:`~mmot_models.certificate.plan_upper_bound` of the multiset plan on the
    occupation rows ``sum_m n_s(m) w_m = N mu_s`` (``A``: the occupation matrix of ``ms``, built if
    not given): the plan's exact cost plus its residual charged at the largest multiset cost.
    """
    w = np.maximum(np.asarray(w, dtype=float), 0.0)
    N, l = problem.n_marginals, problem.sizes[0]
    if A is None:
        A = occupation_matrix(ms, l)
    b, rhs_err = scaled_rhs(N, problem.marginals[0].weights)
    cmax = float(np.max(cost, initial=0.0))
    cmin = float(np.min(cost, initial=0.0))
    if problem.is_pair_cost:
        # the residual charge needs the extremes over *all* multisets (column generation holds only
        # some): a multiset cost is a sum of K = N(N-1)/2 pair costs
        C = problem.pair_matrix(0, 0)
        fin = C[np.isfinite(C)]
        if fin.size:
            K = N * (N - 1) // 2
            cmax = max(cmax, K * float(fin.max()) * (1 + 4 * K * 2.0 ** -53))
            cmin = min(cmin, K * float(fin.min()) * (1 + 4 * K * 2.0 ** -53))
    pb = plan_upper_bound(cost, A, b, w, cost_max=cmax, cost_min=cmin,
                          cost_error=pair_cost_error(problem, cost), rhs_error=rhs_err)
    keep = w > PLAN_ZERO_TOL
    ms, w, cost = ms[keep], w[keep], cost[keep]
    idx, wt = expand_multiset_plan(ms, w, expand)
    out: dict[str, Any] = {"primal_value": pb.cost, "upper_bound": pb.bound}
    if idx is not None:
        out.update(plan_indices=idx, plan_weights=wt, marginal_error=marginal_errors(problem, idx, wt))
    else:
        out["marginal_error"] = np.full(N, multiset_marginal_error(problem, ms, w))
    out["info"] = {"multisets": ms, "multiset_weights": w, "multiset_costs": cost,
                   "multiset_support": int(ms.shape[0]), "mass": float(w.sum()),
                   "residual_l1": pb.residual_l1, "residual_charge": pb.charge}
    return out


def multiset_lower_bound(problem: MMOTProblem, cost: np.ndarray, A: sp.spmatrix, u: np.ndarray):
    """Rounding-safe weak-duality bound of the multiset LP (every finite-cost multiset is a column of ``A``)."""
    b, rhs_err = scaled_rhs(problem.n_marginals, problem.marginals[0].weights)
    return dual_lower_bound(cost, A, u, b, b, mass=plan_mass(problem.marginals[0].weights),
                            cost_error=pair_cost_error(problem, cost), rhs_error=rhs_err)


class SymmetricPrimal(LPFormulationBase):
    """Enumerated multiset primal LP (see the module docstring).

    Parameters
    ----------
    expand : {"auto", "symmetrize", "cyclic", None}
        How the returned plan is expanded to site tuples (:func:`expand_multiset_plan`).

    Notes
    -----
    The LP's columns are all finite-cost multisets, so its reduced costs already are the
    enumeration that certifies the dual.
    """

    name = "symmetric"

    def __init__(self, expand: str | bool | None = "auto") -> None:
        self.expand = expand

    def size(self, problem: MMOTProblem) -> LPSize:
        return symmetric_size(problem)

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP:
        require_symmetric(problem)
        problem.check_feasible()
        check_fits(self.size(problem), "enumerated multiset LP",
                   "use method='colgen' (column generation, same certified optimum)", memory_limit_bytes)
        l, N = problem.sizes[0], problem.n_marginals
        distinct = multiset_distinct(problem)
        C = problem.pair_matrix(0, 0) if problem.is_pair_cost else None
        ms_parts, c_parts = [], []
        for ms, c in _iter_costs(problem, distinct, C, ENUM_CHUNK_ROWS):
            if np.any(np.isnan(c)):
                raise MMOTInputError("the cost is NaN for some configurations; check the cost function")
            fin = np.isfinite(c)
            ms_parts.append(ms[fin])
            c_parts.append(c[fin])
        ms = np.concatenate(ms_parts) if ms_parts else np.empty((0, N), dtype=np.int32)
        cost = np.concatenate(c_parts) if c_parts else np.empty(0)
        A = occupation_matrix(ms, l)
        b = N * np.asarray(problem.marginals[0].weights, dtype=float)
        M = ms.shape[0]
        return StandardLP(c=cost, A=A, row_lower=b, row_upper=b.copy(), col_lower=np.zeros(M),
                          col_upper=np.full(M, np.inf), name="symmetric_primal",
                          meta={"multisets": ms, "distinct": distinct})

    def read(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        out: dict[str, Any] = {"status": res.status, "bound": Bound.EXACT}
        if res.x is None:
            return out
        x = np.maximum(res.x, 0.0)
        out.update(plan_fields(problem, lp.meta["multisets"], x, lp.c, self.expand, A=lp.A))
        out["value"] = out["primal_value"]
        info = out.pop("info")
        if res.row_dual is not None:
            u = np.asarray(res.row_dual, dtype=float)
            N = problem.n_marginals
            # every finite-cost multiset is a column: the reduced costs are the exact enumeration
            db = multiset_lower_bound(problem, lp.c, lp.A, u)
            out.update(potentials=tuple([u] * N), dual_value=db.dual_value, lower_bound=db.bound)
            info.update(dual_violation=db.violation, dual_rounding_charge=db.rounding)
        out["info"] = info
        return out


class SymmetricDual(LPFormulationBase):
    """Enumerated multiset dual LP: one potential ``u`` (``l`` columns), one row per multiset."""

    name = "symmetric_dual"

    def __init__(self, expand: str | bool | None = "auto") -> None:
        self.expand = expand

    def size(self, problem: MMOTProblem) -> LPSize:
        s = symmetric_size(problem)
        return LPSize(s.n_rows, s.n_cols, s.nnz)

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP:
        primal = SymmetricPrimal().build(problem, memory_limit_bytes=memory_limit_bytes)
        At = primal.A.T.tocsc()
        mu = primal.row_lower  # N * mu
        l = mu.shape[0]
        M = primal.n_cols
        return StandardLP(c=-mu, A=At, row_lower=np.full(M, -np.inf), row_upper=primal.c,
                          col_lower=np.full(l, -np.inf), col_upper=np.full(l, np.inf),
                          name="symmetric_dual", meta=dict(primal.meta))

    def read(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        out: dict[str, Any] = {"status": res.status, "bound": Bound.EXACT}
        if res.x is None:
            return out
        u = np.asarray(res.x, dtype=float)
        N = problem.n_marginals
        inc = lp.A.T.tocsc()
        db = multiset_lower_bound(problem, lp.row_upper, inc, u)
        info: dict[str, Any] = {"dual_violation": db.violation, "dual_rounding_charge": db.rounding}
        out.update(potentials=tuple([u] * N), dual_value=db.dual_value, lower_bound=db.bound, value=db.dual_value)
        if res.row_dual is not None:
            g = np.maximum(-np.asarray(res.row_dual, dtype=float), 0.0)
            fields = plan_fields(problem, lp.meta["multisets"], g, lp.row_upper, self.expand, A=inc)
            info.update(fields.pop("info"))
            out.update(fields)
        out["info"] = info
        return out
