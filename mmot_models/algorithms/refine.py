"""Primal-dual iterative refinement of an LP solution (Gleixner, Steffy, Wolter 2016).

An LP solver accepts a point as feasible within an absolute tolerance (HiGHS: 1e-7).  On badly
scaled data (a marginal weight of 2e-8 next to 0.5) that tolerance swallows whole sites: the plan
leaves them unmatched and its cost is far from the optimum.  Iterative refinement repairs the
answer on the same backend by solving *correction LPs* whose residuals are rescaled to order one:
given ``(x0, y0)`` with primal violation ``dP`` and dual violation ``dD``, and scale factors
``P = 1/dP``, ``D = 1/dD`` (each at most :data:`MAX_SCALE_GROWTH` times the previous one),

.. math::
    \\min_e\\ D\\,(c - A^T y_0)^T e
    \\quad\\text{s.t.}\\quad P(r_\\ell - A x_0) \\le A e \\le P(r_u - A x_0),\\qquad
    P(x_\\ell - x_0) \\le e \\le P(x_u - x_0),

then ``x = x0 + e / P`` and ``y = y0 + yhat / D`` (``yhat`` the correction LP's row duals).  Each round
shrinks both violations by about the solver's relative accuracy; a few rounds reach the rounding
level.  :func:`needs_refinement` decides whether to run at all: on well-scaled data the violations
are already far below :data:`REFINE_REL_TOL` and nothing runs.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from ..formulations.standard_lp import LPResult, StandardLP

__all__ = ["refine", "needs_refinement", "violations", "duality_gap", "REFINE_REL_TOL", "MAX_ROUNDS", "MAX_SCALE_GROWTH"]

#: Refinement runs when a primal violation exceeds this relative to its row's bound (floor: this
#: times the largest bound), or a dual violation this relative to the largest cost.
REFINE_REL_TOL = 1e-12
#: Violations below this (same relative measure, ~50 ulps) end the refinement; a side already below
#: it is not magnified in the correction LP.
TARGET_REL_TOL = 1e-14
MAX_ROUNDS = 4
#: Largest growth of a scale factor from one round to the next.
MAX_SCALE_GROWTH = 1e12


def _scales(lp: StandardLP) -> tuple[np.ndarray, float, float]:
    bounds = np.concatenate([lp.row_lower, lp.row_upper])
    fin = np.abs(bounds[np.isfinite(bounds)])
    bmax = float(fin.max(initial=0.0))
    cmax = float(np.max(np.abs(lp.c), initial=0.0))
    lo = np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0)
    up = np.where(np.isfinite(lp.row_upper), np.abs(lp.row_upper), 0.0)
    row_scale = np.maximum(np.maximum(lo, up), REFINE_REL_TOL * bmax)
    return row_scale, max(bmax, 1e-300), max(cmax, 1e-300)


def violations(lp: StandardLP, x: np.ndarray, y: np.ndarray | None) -> tuple[float, float, float, float]:
    """``(primal, primal_relative, dual, dual_relative)`` violations of ``(x, y)``.

    Primal: row and column bound violations (relative: each row's by its own bound, floored at
    ``REFINE_REL_TOL`` times the largest bound).  Dual: sign violations of the reduced costs
    ``c - A^T y`` for the column bounds and of ``y`` for one-sided rows (relative: by the largest cost).
    """
    row_scale, bmax, cmax = _scales(lp)
    ax = lp.A @ x
    rv = np.maximum(np.maximum(lp.row_lower - ax, 0.0), np.maximum(ax - lp.row_upper, 0.0))
    cv = np.maximum(np.maximum(lp.col_lower - x, 0.0), np.maximum(x - lp.col_upper, 0.0))
    p_abs = float(max(rv.max(initial=0.0), cv.max(initial=0.0)))
    p_rel = float(max((rv / row_scale).max(initial=0.0), cv.max(initial=0.0) / bmax))
    if y is None:
        return p_abs, p_rel, math.nan, math.nan
    d = lp.c - lp.A.T @ y
    lo_f, up_f = np.isfinite(lp.col_lower), np.isfinite(lp.col_upper)
    dv = np.where(lo_f & ~up_f, np.maximum(-d, 0.0),
                  np.where(~lo_f & up_f, np.maximum(d, 0.0), np.where(~lo_f & ~up_f, np.abs(d), 0.0)))
    rlo, rup = np.isfinite(lp.row_lower), np.isfinite(lp.row_upper)
    yv = np.where(rlo & ~rup, np.maximum(-y, 0.0), np.where(~rlo & rup, np.maximum(y, 0.0), 0.0))
    d_abs = float(max(dv.max(initial=0.0), yv.max(initial=0.0)))
    return p_abs, p_rel, d_abs, d_abs / cmax


def duality_gap(lp: StandardLP, x: np.ndarray, y: np.ndarray | None) -> float:
    """Relative gap between ``c^T x`` and the dual objective of ``y`` (with its reduced costs), or nan.

    Measures complementarity: a pair that is primal and dual feasible but not complementary has a
    gap.  Multipliers of the wrong sign for a one-sided row, and reduced costs pointing at an
    infinite column bound, count through :func:`violations` instead and are dropped here.
    """
    if y is None:
        return math.nan
    yc = np.where((y > 0) & ~np.isfinite(lp.row_lower), 0.0, np.where((y < 0) & ~np.isfinite(lp.row_upper), 0.0, y))
    rhs = np.where(yc > 0, lp.row_lower, np.where(yc < 0, lp.row_upper, 0.0))
    z = lp.c - lp.A.T @ yc
    zb = np.where(z > 0, lp.col_lower, np.where(z < 0, lp.col_upper, 0.0))
    ok = np.isfinite(zb)
    dual = float(np.dot(yc, np.where(np.isfinite(rhs), rhs, 0.0)) + np.dot(z[ok], zb[ok]))
    primal = float(lp.c @ x)
    _, bmax, cmax = _scales(lp)
    # floor: optima at 0 have no relative scale; 1e-12 of (largest cost x largest bound) stands in
    return abs(primal - dual) / max(abs(primal), abs(dual), REFINE_REL_TOL * cmax * bmax)


def needs_refinement(lp: StandardLP, res: LPResult) -> bool:
    """``True`` when ``res`` is an optimal answer whose violations exceed :data:`REFINE_REL_TOL`."""
    if res.x is None or not _optimal(res):
        return False
    _, p_rel, _, d_rel = violations(lp, res.x, res.row_dual)
    return p_rel > REFINE_REL_TOL or (math.isfinite(d_rel) and d_rel > REFINE_REL_TOL)


def _worst(*rels: float) -> float:
    return max(r if math.isfinite(r) else 0.0 for r in rels)


def _optimal(res: LPResult) -> bool:
    return getattr(res.status, "value", res.status) == "optimal"


def refine(lp: StandardLP, res: LPResult, solve: Callable[[StandardLP], LPResult], *,
           max_rounds: int = MAX_ROUNDS) -> LPResult:
    """Refine an optimal ``res`` of ``lp`` by correction LPs solved with ``solve`` (same backend).

    Returns a new :class:`LPResult` with the refined ``x``, ``row_dual``, ``col_dual`` and
    ``refinement`` (rounds, violations before/after, scale factors, time); ``res`` itself when nothing
    needed refining or the first correction failed.
    """
    if res.x is None or not _optimal(res):
        return res
    x = np.asarray(res.x, dtype=float).copy()
    y = None if res.row_dual is None else np.asarray(res.row_dual, dtype=float).copy()
    p_abs, p_rel, d_abs, d_rel = violations(lp, x, y)
    g_rel = duality_gap(lp, x, y)
    before = {"primal": p_abs, "primal_rel": p_rel, "dual": d_abs, "dual_rel": d_rel, "gap_rel": g_rel}
    if not (p_rel > REFINE_REL_TOL or (math.isfinite(d_rel) and d_rel > REFINE_REL_TOL)):
        return res
    sP = sD = 1.0
    rounds: list[dict[str, Any]] = []
    extra_time = 0.0
    extra_iters = 0
    for _ in range(max_rounds):
        # a side that is already accurate is not magnified: its rounding noise (e.g. marginal rows
        # whose residuals disagree across the dependent blocks) would make the correction LP infeasible
        if p_rel > TARGET_REL_TOL:
            sP = max(min(1.0 / p_abs, sP * MAX_SCALE_GROWTH), 1.0)
        if y is not None:
            if d_rel > TARGET_REL_TOL:
                sD = max(min(1.0 / d_abs, sD * MAX_SCALE_GROWTH), 1.0)
            d = lp.c - lp.A.T @ y
        else:
            d = lp.c
        ax = lp.A @ x
        corr = StandardLP(c=sD * d, A=lp.A, row_lower=sP * (lp.row_lower - ax), row_upper=sP * (lp.row_upper - ax),
                          col_lower=sP * (lp.col_lower - x), col_upper=sP * (lp.col_upper - x),
                          name=lp.name + "_correction", meta={})
        r = solve(corr)
        extra_time += float(r.solver_time_s or 0.0)
        extra_iters += int(r.iterations or 0)
        if (r.x is None or not _optimal(r)) and sP > 1.0:
            # the magnified primal residual may carry inconsistent rounding noise: retry without it
            sP = 1.0
            corr = replace(corr, row_lower=lp.row_lower - ax, row_upper=lp.row_upper - ax,
                           col_lower=lp.col_lower - x, col_upper=lp.col_upper - x)
            r = solve(corr)
            extra_time += float(r.solver_time_s or 0.0)
            extra_iters += int(r.iterations or 0)
        if r.x is None or not _optimal(r):
            rounds.append({"scale_primal": sP, "scale_dual": sD, "failed": str(r.message)})
            break
        x_new = x + np.asarray(r.x, dtype=float) / sP
        y_new = y
        if y is not None and r.row_dual is not None:
            y_new = y + np.asarray(r.row_dual, dtype=float) / sD
        np_abs, np_rel, nd_abs, nd_rel = violations(lp, x_new, y_new)
        ng_rel = duality_gap(lp, x_new, y_new)
        # a round counts only if the worst of primal, dual and complementarity (gap) violation shrinks:
        # a correction LP with a flat objective may trade optimality for feasibility
        improved = _worst(np_rel, nd_rel, ng_rel) < _worst(p_rel, d_rel, g_rel)
        rounds.append({"scale_primal": sP, "scale_dual": sD, "primal": np_abs, "primal_rel": np_rel,
                       "dual": nd_abs, "dual_rel": nd_rel, "gap_rel": ng_rel, "accepted": bool(improved)})
        if not improved:
            break
        x, y = x_new, y_new
        p_abs, p_rel, d_abs, d_rel, g_rel = np_abs, np_rel, nd_abs, nd_rel, ng_rel
        if p_rel <= TARGET_REL_TOL and not (math.isfinite(d_rel) and d_rel > TARGET_REL_TOL):
            break
    after = {"primal": p_abs, "primal_rel": p_rel, "dual": d_abs, "dual_rel": d_rel, "gap_rel": g_rel}
    info = {"rounds": len(rounds), "before": before, "after": after, "history": rounds,
            "time_s": extra_time}
    col_dual = None if y is None else lp.c - lp.A.T @ y
    return replace(res, x=x, row_dual=y, col_dual=col_dual, objective=lp.objective(x),
                   solver_time_s=res.solver_time_s + extra_time,
                   iterations=(res.iterations or 0) + extra_iters if res.iterations is not None else None,
                   refinement=info)
