"""Exact full-tensor Kantorovich LPs (primal and dual) as methods of :func:`mmot_models.solve`."""
from __future__ import annotations

from typing import Any

from ..formulations.kantorovich import KantorovichDual, KantorovichPrimal
from ..options import LP_BACKEND_OPTIONS, Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Solution
from .lp import run_lp

__all__ = ["solve_primal", "solve_dual", "PRIMAL_OPTIONS", "DUAL_OPTIONS"]

#: Options of ``method="primal"``: the run-level options and the LP backend's.
PRIMAL_OPTIONS = OptionSchema("primal", common_options() + LP_BACKEND_OPTIONS,
                              doc="full-tensor Kantorovich primal LP (any marginals), certified")
#: Options of ``method="dual"``.
DUAL_OPTIONS = PRIMAL_OPTIONS.with_options(
    Option("shared_potential", "bool", None, "one potential shared by all marginals (default: when the "
           "problem is symmetric)"),
    method="dual", doc="full-tensor Kantorovich dual LP (plan from the row duals), certified")


@declares(PRIMAL_OPTIONS)
def solve_primal(problem: MMOTProblem, backend: str = "highs", *, time_limit: float | None = None,
                 threads: int | None = None, verbose: bool = False, memory_limit_bytes: int | None = None,
                 pyomo_solver: str = "appsi_highs", solver_options: dict[str, Any] | None = None) -> Solution:
    """Full-tensor primal LP (any marginals).  Options: :data:`PRIMAL_OPTIONS`
    (as in :func:`~mmot_models.algorithms.lp.run_lp`)."""
    return run_lp(problem, KantorovichPrimal(), backend=backend, method="primal", time_limit=time_limit,
                  threads=threads, verbose=verbose, memory_limit_bytes=memory_limit_bytes,
                  pyomo_solver=pyomo_solver, solver_options=solver_options)


@declares(DUAL_OPTIONS)
def solve_dual(problem: MMOTProblem, backend: str = "highs", *, shared_potential: bool | None = None,
               time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
               memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
               solver_options: dict[str, Any] | None = None) -> Solution:
    """Full-tensor dual LP; one shared potential when the problem is symmetric (or ``shared_potential``).
    Options: :data:`DUAL_OPTIONS`."""
    return run_lp(problem, KantorovichDual(shared_potential), backend=backend, method="dual",
                  time_limit=time_limit, threads=threads, verbose=verbose, memory_limit_bytes=memory_limit_bytes,
                  pyomo_solver=pyomo_solver, solver_options=solver_options)
