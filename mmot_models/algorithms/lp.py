"""Solve an LP formulation on a backend and assemble the :class:`~mmot_models.Solution`.

This is the one place where a formulation (builder + inverter) meets a backend.
"""
from __future__ import annotations

import time

import numpy as np
from typing import Any

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..problem import MMOTProblem
from ..formulations.contract import Formulation
from ..solution import CERT_REL_TOL, ZERO_FLOOR_REL, FEASIBLE_RESIDUAL_TOL, Solution, Termination, assemble_solution, unfinished_value

__all__ = ["LPFormulation", "run_lp", "solve_standard_lp", "unfinished_value", "BACKENDS", "CERT_REL_TOL"]

BACKENDS = ("highs", "pyomo")
#: Marginal residual below which an interrupted solver's plan still counts as feasible.
MARGINAL_TOL = FEASIBLE_RESIDUAL_TOL


#: The formulation contract (:class:`mmot_models.formulations.contract.Formulation`); old name kept.
LPFormulation = Formulation


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


def run_lp(problem: MMOTProblem, formulation: Formulation, *, backend: str = "highs",
           time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
           memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
           solver_options: dict[str, Any] | None = None, method: str | None = None) -> Solution:
    """``apply`` the formulation, solve on ``backend``, ``invert``, and assemble a certified Solution.

    The status is ``OPTIMAL`` only when the backend says so *and* the certificate computed by the
    formulation (plan value vs. certified lower bound) closes to :data:`CERT_REL_TOL`
    (:func:`~mmot_models.solution.assemble_solution`); otherwise ``NUMERICAL_ERROR`` with the
    measured gap in ``message``.
    """
    t0 = time.perf_counter()
    lp, inverse_data = formulation.apply(problem, memory_limit_bytes=memory_limit_bytes)
    res = solve_standard_lp(lp, backend, time_limit=time_limit, threads=threads, verbose=verbose,
                            pyomo_solver=pyomo_solver, solver_options=solver_options)
    inv = formulation.invert(res, inverse_data)
    info = {**inverse_data.diagnostics_info(), "solver_message": res.message}
    info.update(inv.info)
    if res.refinement is not None:
        info["refinement"] = res.refinement
    message = ""
    if inv.termination == Termination.INFEASIBLE:
        message = "no plan satisfies the marginals (with the forbidden coincident configurations removed)"
    elif inv.termination != Termination.OPTIMAL:
        message = f"solver stopped: {res.message}"
    merr = inv.marginal_error
    return assemble_solution(
        problem=problem, method=method or formulation.name, backend=res.backend, **inv.assemble_kwargs(),
        rel_tol=CERT_REL_TOL, abs_floor=ZERO_FLOOR_REL * lp.cost_scale,
        iterate_residual=None if merr is None else float(np.max(merr)), residual_tol=MARGINAL_TOL,
        message=message, t0=t0, solver_time_s=res.solver_time_s, iterations=res.iterations, log=res.log, info=info)
