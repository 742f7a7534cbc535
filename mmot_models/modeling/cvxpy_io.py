"""cvxpy export for :class:`~mmot_models.modeling.Model`: one vector variable, one constraint per block and kind.

``to_cvxpy(model)`` returns a :class:`CvxpyModel` whose ``constraints[name]`` lists, for each
block, the cvxpy constraints (equalities, lower and upper inequalities) with the model rows they
hold, so ``dual_value`` can be read per block; :func:`solve_cvxpy` maps them to row duals in the
HiGHS convention (``c - A^T y`` = reduced costs) and certifies the answer.  Add certified rows
through ``Model.add_constraint`` / ``Model.add`` before calling :meth:`Model.to_cvxpy`.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Solution, Status

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["CvxpyModel", "to_cvxpy", "solve_cvxpy", "default_cvxpy_solver"]

#: The option each cvxpy solver reads as a wall-clock limit in seconds.
_TIME_KEY = {"HIGHS": "time_limit", "CLARABEL": "time_limit", "SCS": "time_limit_secs"}
#: Interior-point and first-order solvers stop at ~1e-8 feasibility by default; the certificate
#: accepts a plan only within FEAS_REL_TOL = 1e-9, so ask for tighter tolerances.
_DEFAULT_OPTS = {"CLARABEL": {"tol_feas": 1e-11, "tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11},
                 "SCS": {"eps_abs": 1e-11, "eps_rel": 1e-11, "max_iters": 200_000}}


@dataclass(eq=False)
class CvxpyModel:
    """A cvxpy problem over ``x`` (the plan columns) with its constraints grouped by block."""

    problem: Any
    x: Any
    constraints: dict[str, list[tuple[Any, np.ndarray, str]]]
    lp: StandardLP
    model: "Model" = field(repr=False)


def default_cvxpy_solver() -> str:
    """``"HIGHS"`` when cvxpy has it (exact simplex duals), else ``"CLARABEL"``."""
    import cvxpy as cp
    return "HIGHS" if "HIGHS" in cp.installed_solvers() else "CLARABEL"


def to_cvxpy(model: "Model") -> CvxpyModel:
    """Build the cvxpy problem of ``model`` (vectorised: one matrix constraint per block and kind)."""
    import cvxpy as cp

    lp = model.to_standard_lp()
    A = lp.A.tocsr()
    x = cp.Variable(lp.n_cols, name="plan", nonneg=True)
    groups: dict[str, list[tuple[Any, np.ndarray, str]]] = {}
    allcons = []
    for name, info in model.blocks.items():
        rows = np.arange(info.rows.start, info.rows.stop)
        lo, up = lp.row_lower[rows], lp.row_upper[rows]
        eq = np.isfinite(lo) & (lo == up)
        has_lo = np.isfinite(lo) & ~eq
        has_up = np.isfinite(up) & ~eq
        out = []
        for mask, kind in ((eq, "eq"), (has_lo, "lo"), (has_up, "up")):
            r = rows[mask]
            if r.size == 0:
                continue
            if kind == "eq":
                con = A[r] @ x == lp.row_lower[r]
            elif kind == "lo":
                con = A[r] @ x >= lp.row_lower[r]
            else:
                con = A[r] @ x <= lp.row_upper[r]
            out.append((con, r, kind))
            allcons.append(con)
        groups[name] = out
    prob = cp.Problem(cp.Minimize(lp.c @ x + float(lp.offset)), allcons)
    return CvxpyModel(prob, x, groups, lp, model)


def solve_cvxpy(model: "Model", cm: CvxpyModel, *, solver: str | None = None, time_limit: float | None = None,
                verbose: bool = False, options: dict[str, Any] | None = None) -> Solution:
    """Solve ``cm`` and certify it (duals of every block read back)."""
    import cvxpy as cp

    from ..backends.cvxpy import map_status

    if cm.model is not model:
        raise MMOTInputError("this cvxpy model was not built by this Model's to_cvxpy(); call m.to_cvxpy() first")
    solver = (solver or default_cvxpy_solver()).upper()
    if solver not in cp.installed_solvers():
        raise MMOTInputError(f"cvxpy solver {solver!r} is not installed; use one of {', '.join(cp.installed_solvers())}")
    opts = {**_DEFAULT_OPTS.get(solver, {}), **(options or {})}
    if time_limit is not None:
        key = _TIME_KEY.get(solver)
        if key is None:
            raise MMOTInputError(f"time_limit is not mapped for cvxpy solver {solver!r}; pass that solver's own "
                                 f"option, or use one of {', '.join(_TIME_KEY)}")
        opts.setdefault(key, float(time_limit))
    t0 = time.perf_counter()
    msg = ""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            cm.problem.solve(solver=solver, verbose=verbose, **opts)
        status, msg = map_status(cm.problem.status), str(cm.problem.status)
    except cp.error.SolverError as exc:
        status, msg = Status.ERROR, f"solver error: {exc}"
    elapsed = time.perf_counter() - t0
    lp = cm.lp
    xv = None if cm.x.value is None else np.asarray(cm.x.value, dtype=float)
    y: np.ndarray | None = np.zeros(lp.n_rows)
    for blocks in cm.constraints.values():
        for con, rows, kind in blocks:
            if con.dual_value is None:
                y = None
                break
            d = np.asarray(con.dual_value, dtype=float).reshape(-1)
            if y is not None:
                y[rows] += d if kind == "lo" else -d   # cvxpy: >= duals are >= 0; ==, <= flip to HiGHS's sign
        if y is None:
            break
    res = LPResult(status=status, x=xv, row_dual=y, col_dual=None, objective=float("nan"), iterations=None,
                   solver_time_s=elapsed, backend=f"cvxpy/{solver.lower()}", message=msg)
    return model.assemble(lp, res, t0=t0,
                             col_upper=np.minimum(lp.col_upper, model.implied_col_upper()))
