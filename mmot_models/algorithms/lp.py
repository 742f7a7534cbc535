"""Solve an LP formulation on a backend and assemble the :class:`~mmot_models.Solution`.

This is the one place where a formulation (builder + inverter) meets a backend.
"""
from __future__ import annotations

import math
import time
from typing import Any, Protocol

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status, certify_status

__all__ = ["LPFormulation", "run_lp", "solve_standard_lp", "BACKENDS", "CERT_REL_TOL"]

BACKENDS = ("highs", "pyomo")
#: Relative gap below which an LP answer counts as certified optimal.
CERT_REL_TOL = 1e-7
#: Marginal residual below which an interrupted solver's plan still counts as feasible.
MARGINAL_TOL = 1e-9


class LPFormulation(Protocol):
    name: str

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP: ...

    def invert(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]: ...


def solve_standard_lp(lp: StandardLP, backend: str = "highs", *, time_limit: float | None = None,
                      threads: int | None = None, verbose: bool = False, pyomo_solver: str = "appsi_highs",
                      solver_options: dict[str, Any] | None = None) -> LPResult:
    """Dispatch a built LP to a backend."""
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
    if status == Status.OPTIMAL:
        status, message = certify_status(status, lower, upper, value, CERT_REL_TOL)
    elif status == Status.INFEASIBLE:
        message = "no plan satisfies the marginals (with the forbidden coincident configurations removed)"
    else:
        message = f"solver stopped: {res.message}"
    bound = fields.pop("bound", Bound.EXACT)
    if status != Status.OPTIMAL and bound == Bound.EXACT and math.isfinite(upper):
        bound = Bound.UPPER
    return Solution(value=value, status=status, method=method or formulation.name, backend=res.backend,
                    lower_bound=lower, upper_bound=upper, bound=bound, wall_time_s=time.perf_counter() - t0,
                    solver_time_s=res.solver_time_s, iterations=res.iterations, message=message, log=res.log,
                    info=info, problem=problem, **fields)
