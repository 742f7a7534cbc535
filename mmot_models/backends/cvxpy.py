"""cvxpy backend: solve a built cvxpy problem (Clarabel by default, or SCS) and report its accuracy.

Two entry points:

* :func:`solve_problem` runs a ``cvxpy.Problem`` built by a formulation (e.g. the SDP relaxation)
  and returns a :class:`CvxpyResult` with the mapped :class:`~mmot_models.Status`;
* :func:`solve_lp` writes a :class:`~mmot_models.formulations.standard_lp.StandardLP` as a cvxpy
  problem (vectorised: one matrix constraint per row block) and returns an
  :class:`~mmot_models.formulations.standard_lp.LPResult` with duals in the HiGHS sign convention
  (``c - A^T row_dual`` = reduced costs), so LP formulations can run on it unchanged.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Status

__all__ = ["CvxpyResult", "map_status", "solve_problem", "solve_lp", "SOLVERS", "DEFAULT_SOLVER"]

SOLVERS = ("CLARABEL", "SCS")
DEFAULT_SOLVER = "CLARABEL"


def map_status(status: str) -> Status:
    """Map a cvxpy status string to :class:`~mmot_models.Status`.

    ``optimal_inaccurate`` is *not* final: it maps to ``NUMERICAL_ERROR``.
    """
    import cvxpy as cp

    table = {
        cp.OPTIMAL: Status.OPTIMAL,
        cp.OPTIMAL_INACCURATE: Status.NUMERICAL_ERROR,
        cp.INFEASIBLE: Status.INFEASIBLE,
        cp.INFEASIBLE_INACCURATE: Status.INFEASIBLE,
        cp.UNBOUNDED: Status.UNBOUNDED,
        cp.UNBOUNDED_INACCURATE: Status.UNBOUNDED,
        cp.USER_LIMIT: Status.TIME_LIMIT,
        cp.SOLVER_ERROR: Status.ERROR,
    }
    return table.get(status, Status.ERROR)


@dataclass
class CvxpyResult:
    """What :func:`solve_problem` returns (raw: the formulation maps it to a Solution)."""

    status: Status
    value: float
    solver: str
    solver_time_s: float
    wall_time_s: float
    iterations: int | None
    message: str
    stats: dict[str, Any] = field(default_factory=dict)


def _solver_opts(solver: str, time_limit: float | None, tol: float | None,
                 options: dict[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if solver == "CLARABEL":
        if tol is not None:
            opts.update(tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
    elif solver == "SCS":
        opts["eps"] = 1e-7 if tol is None else tol
        opts["max_iters"] = 200_000
        if time_limit is not None:
            opts["time_limit_secs"] = float(time_limit)
    opts.update(options or {})
    return opts


def solve_problem(prob: Any, solver: str = DEFAULT_SOLVER, *, time_limit: float | None = None,
                  tol: float | None = None, verbose: bool = False,
                  options: dict[str, Any] | None = None) -> CvxpyResult:
    """Solve the ``cvxpy.Problem`` ``prob`` with ``solver`` (``"CLARABEL"`` or ``"SCS"``)."""
    import cvxpy as cp

    solver = str(solver).upper()
    if solver not in cp.installed_solvers():
        raise MMOTInputError(f"cvxpy solver {solver!r} is not installed; use one of {', '.join(SOLVERS)}")
    t0 = time.perf_counter()
    msg = ""
    try:
        with warnings.catch_warnings():  # "solution may be inaccurate" is reported through the status
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=solver, verbose=verbose, **_solver_opts(solver, time_limit, tol, options))
        status = map_status(prob.status)
        msg = str(prob.status)
    except cp.error.SolverError as exc:
        status, msg = Status.ERROR, f"solver error: {exc}"
    wall = time.perf_counter() - t0
    st = prob.solver_stats
    solve_time = getattr(st, "solve_time", None) if st is not None else None
    iters = getattr(st, "num_iters", None) if st is not None else None
    value = float(prob.value) if prob.value is not None else math.nan
    return CvxpyResult(status=status, value=value, solver=solver,
                       solver_time_s=float(solve_time) if solve_time is not None else wall, wall_time_s=wall,
                       iterations=int(iters) if iters is not None else None, message=msg)


def solve_lp(lp: StandardLP, solver: str = DEFAULT_SOLVER, *, time_limit: float | None = None,
             tol: float | None = None, verbose: bool = False,
             options: dict[str, Any] | None = None) -> LPResult:
    """Solve a standard-form LP through cvxpy; duals returned in the HiGHS convention."""
    import cvxpy as cp

    A = lp.A.tocsr()
    lo, up = lp.row_lower, lp.row_upper
    eq = np.isfinite(lo) & np.isfinite(up) & (lo == up)
    has_lo = np.isfinite(lo) & ~eq
    has_up = np.isfinite(up) & ~eq
    x = cp.Variable(lp.n_cols)
    cons, blocks = [], []
    for mask, kind in ((eq, "eq"), (has_lo, "lo"), (has_up, "up")):
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            continue
        if kind == "eq":
            cons.append(A[rows] @ x == lo[rows])
        elif kind == "lo":
            cons.append(A[rows] @ x >= lo[rows])
        else:
            cons.append(A[rows] @ x <= up[rows])
        blocks.append((rows, kind))
    cl, cu = lp.col_lower, lp.col_upper
    if np.all(cl == 0) and not np.any(np.isfinite(cu)):
        cons.append(x >= 0)
    else:
        fl, fu = np.isfinite(cl), np.isfinite(cu)
        if fl.any():
            cons.append(x[np.flatnonzero(fl)] >= cl[fl])
        if fu.any():
            cons.append(x[np.flatnonzero(fu)] <= cu[fu])
    prob = cp.Problem(cp.Minimize(lp.c @ x + lp.offset), cons)
    r = solve_problem(prob, solver, time_limit=time_limit, tol=tol, verbose=verbose, options=options)
    xv = None if x.value is None else np.asarray(x.value, dtype=float)
    y = None
    if xv is not None and all(c.dual_value is not None for c in cons[:len(blocks)]):
        y = np.zeros(lp.n_rows)
        for (rows, kind), c in zip(blocks, cons):
            d = np.asarray(c.dual_value, dtype=float).reshape(-1)
            y[rows] = {"eq": -d, "lo": d, "up": -d}[kind]
    col_dual = None if y is None else lp.c - lp.A.T @ y
    return LPResult(status=r.status, x=xv, row_dual=y, col_dual=col_dual, objective=r.value,
                    iterations=r.iterations, solver_time_s=r.solver_time_s, backend=f"cvxpy-{r.solver.lower()}",
                    message=r.message)
