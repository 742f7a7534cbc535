"""Solve an LP formulation on a backend and assemble the :class:`~mmot_models.Solution`.

This is the one place where a formulation (builder + inverter) meets a backend.
"""
from __future__ import annotations

import math
import time

import numpy as np
from typing import Any, Protocol

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status, certify_status

__all__ = ["LPFormulation", "run_lp", "solve_standard_lp", "unfinished_value", "BACKENDS", "CERT_REL_TOL"]

BACKENDS = ("highs", "pyomo")
#: Relative gap below which an LP answer counts as certified optimal.
CERT_REL_TOL = 1e-7
#: Absolute gap floor, relative to the largest |cost|: ``64 u`` (u = 2**-53), the rounding level of the
#: cost data (only matters for optima within it of 0; see :func:`~mmot_models.solution.certify_status`).
ZERO_FLOOR_REL = 64 * 2.0 ** -53
#: Marginal residual below which an interrupted solver's plan still counts as feasible.
MARGINAL_TOL = 1e-9


def _cost_scale(lp: StandardLP) -> float:
    c = lp.c[np.isfinite(lp.c)]
    fin = np.concatenate([c, lp.row_upper[np.isfinite(lp.row_upper)]]) if lp.name.endswith("dual") else c
    return float(np.max(np.abs(fin), initial=0.0))


def unfinished_value(lower: float, upper: float) -> tuple[float, Bound]:
    """Value and bound direction of a run that did not certify optimality.

    The certified upper bound when there is one (``Bound.UPPER``), else the certified lower bound
    (``Bound.LOWER``), else ``nan`` labelled ``Bound.ESTIMATE``: never a bare value labelled exact.
    """
    if math.isfinite(upper):
        return upper, Bound.UPPER
    if math.isfinite(lower):
        return lower, Bound.LOWER
    return math.nan, Bound.ESTIMATE


class LPFormulation(Protocol):
    name: str

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP: ...

    def invert(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]: ...


def solve_standard_lp(lp: StandardLP, backend: str = "highs", *, time_limit: float | None = None,
                      threads: int | None = None, verbose: bool = False, pyomo_solver: str = "appsi_highs",
                      solver_options: dict[str, Any] | None = None, refine: bool = True) -> LPResult:
    """Dispatch a built LP to a backend; refine an optimal answer whose violations are too large.

    With ``refine`` (default) an optimal answer is checked by
    :func:`~mmot_models.algorithms.refine.needs_refinement` and, if its primal or dual violation
    exceeds :data:`~mmot_models.algorithms.refine.REFINE_REL_TOL` (relative), improved by iterative
    refinement with correction LPs on the same backend (``res.refinement`` says what ran).
    """
    def once(model: StandardLP) -> LPResult:
        return _dispatch(model, backend, time_limit=time_limit, threads=threads, verbose=verbose,
                         pyomo_solver=pyomo_solver, solver_options=solver_options)

    res = once(lp)
    if refine:
        from .refine import needs_refinement, refine as _refine
        if needs_refinement(lp, res):
            res = _refine(lp, res, once)
    return res


def _dispatch(lp: StandardLP, backend: str, *, time_limit: float | None, threads: int | None, verbose: bool,
              pyomo_solver: str, solver_options: dict[str, Any] | None) -> LPResult:
    if backend == "highs":
        from ..backends import highs
        return highs.solve_lp(lp, time_limit=time_limit, threads=threads, verbose=verbose, options=solver_options)
    if backend == "pyomo":
        from ..backends import pyomo as pyomo_backend
        labels = None
        return pyomo_backend.solve_lp(lp, solver=pyomo_solver, time_limit=time_limit, verbose=verbose,
                                      options=solver_options, col_labels=labels)
    raise MMOTInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def run_lp(problem: MMOTProblem, formulation: LPFormulation, *, backend: str = "highs",
           time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
           memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
           solver_options: dict[str, Any] | None = None, method: str | None = None) -> Solution:
    """Build ``formulation`` for ``problem``, solve it on ``backend`` and return a certified Solution.

    The status is ``OPTIMAL`` only when the backend says so *and* the certificate computed here
    (primal value vs. certified lower bound) closes to :data:`CERT_REL_TOL`; otherwise the status
    is ``NUMERICAL_ERROR`` with the measured gap in ``message``.
    """
    t0 = time.perf_counter()
    lp = formulation.build(problem, memory_limit_bytes=memory_limit_bytes)
    t_build = time.perf_counter() - t0
    res = solve_standard_lp(lp, backend, time_limit=time_limit, threads=threads, verbose=verbose,
                            pyomo_solver=pyomo_solver, solver_options=solver_options)
    fields = formulation.invert(problem, lp, res)
    status: Status = fields.pop("status", res.status)
    info = {"build_time_s": t_build, "n_cols": lp.n_cols, "n_rows": lp.n_rows, "nnz": int(lp.A.nnz),
            "solver_message": res.message}
    info.update(fields.pop("info", {}))
    value = fields.pop("value", math.nan)
    lower = fields.pop("lower_bound", -math.inf)
    upper = fields.pop("upper_bound", math.inf)
    message = ""
    merr = fields.get("marginal_error")
    if status != Status.OPTIMAL and merr is not None and float(merr.max()) > MARGINAL_TOL:
        upper = math.inf  # an interrupted simplex iterate is not a feasible plan: no upper bound
    if res.refinement is not None:
        info["refinement"] = res.refinement
    if status == Status.OPTIMAL:
        status, message = certify_status(status, lower, upper, value, CERT_REL_TOL,
                                         abs_floor=ZERO_FLOOR_REL * _cost_scale(lp))
    elif status == Status.INFEASIBLE:
        message = "no plan satisfies the marginals (with the forbidden coincident configurations removed)"
    else:
        message = f"solver stopped: {res.message}"
    bound = fields.pop("bound", Bound.EXACT)
    if status != Status.OPTIMAL and bound == Bound.EXACT:
        value, bound = unfinished_value(lower, upper)
    return Solution(value=value, status=status, method=method or formulation.name, backend=res.backend,
                    lower_bound=lower, upper_bound=upper, bound=bound, wall_time_s=time.perf_counter() - t0,
                    solver_time_s=res.solver_time_s, iterations=res.iterations, message=message, log=res.log,
                    info=info, problem=problem, **fields)
