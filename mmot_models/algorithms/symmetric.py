"""Exact symmetric MMOT: the enumerated multiset LP (primal or dual) and the ``auto`` choice
between it and column generation.

``solve_symmetric`` is the exact workhorse for N electrons on ``l`` sites while the
``binom(l+N-1, N)`` multiset columns fit comfortably; beyond that :func:`recommended_method`
returns ``"colgen"`` (:mod:`mmot_models.algorithms.colgen`, same certified optimum).
"""
from __future__ import annotations

from typing import Any

from ..formulations.symmetric import SymmetricDual, SymmetricPrimal, require_symmetric, symmetric_size
from ..options import LP_BACKEND_OPTIONS, Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Solution
from .lp import run_lp

__all__ = ["solve_symmetric", "solve_symmetric_dual", "recommended_method", "ENUMERATE_MAX_COLUMNS",
           "COMFORT_FRACTION", "SYMMETRIC_OPTIONS", "SYMMETRIC_DUAL_OPTIONS", "EXPAND_OPTION"]

#: The enumerated LP is preferred up to this many multiset columns; beyond, column generation is
#: much faster (benchmarks: 161,700 columns, Gaussian N=3 l=100: enumerated LP 9.5 s, colgen 0.07 s in 1D, 0.4 s in 2D).
ENUMERATE_MAX_COLUMNS = 50_000
#: ... and only if its estimated memory is below this fraction of the allowed memory.
COMFORT_FRACTION = 0.25


#: The ``expand`` option (shared with ``colgen``).
EXPAND_OPTION = Option("expand", "choice", "auto",
                       "expansion of the multiset plan to site tuples: all orderings ('symmetrize'), N cyclic "
                       "shifts ('cyclic'), 'auto' (symmetrize for small N, else cyclic), None/False (multiset plan "
                       "only, in info['multisets']); True means 'auto'",
                       choices=("auto", "symmetrize", "cyclic", None, False, True))
#: Options of ``method="symmetric"``.
SYMMETRIC_OPTIONS = OptionSchema("symmetric", common_options() + LP_BACKEND_OPTIONS + (EXPAND_OPTION,),
                                 doc="enumerated multiset primal LP (symmetric problems), certified")
#: Options of ``method="symmetric_dual"``.
SYMMETRIC_DUAL_OPTIONS = SYMMETRIC_OPTIONS.with_options(
    method="symmetric_dual", doc="enumerated multiset dual LP (one potential; plan from the row duals), certified")


@declares(SYMMETRIC_OPTIONS)
def solve_symmetric(problem: MMOTProblem, backend: str = "highs", *, expand: str | bool | None = "auto",
                    time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
                    memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
                    solver_options: dict[str, Any] | None = None) -> Solution:
    """Enumerated multiset primal LP (certified; see :mod:`mmot_models.formulations.symmetric`).

    Parameters
    ----------
    expand : {"auto", "symmetrize", "cyclic", None}
        Expansion of the multiset plan to site tuples; the multiset plan itself is in
        ``sol.info["multisets"]`` and ``sol.info["multiset_weights"]``.
    time_limit, threads, verbose, memory_limit_bytes, pyomo_solver, solver_options
        As in :func:`~mmot_models.algorithms.lp.run_lp` (all declared in :data:`SYMMETRIC_OPTIONS`).
    """
    require_symmetric(problem)
    return run_lp(problem, SymmetricPrimal(expand), backend=backend, method="symmetric", time_limit=time_limit,
                  threads=threads, verbose=verbose, memory_limit_bytes=memory_limit_bytes,
                  pyomo_solver=pyomo_solver, solver_options=solver_options)


@declares(SYMMETRIC_DUAL_OPTIONS)
def solve_symmetric_dual(problem: MMOTProblem, backend: str = "highs", *, expand: str | bool | None = "auto",
                         time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
                         memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
                         solver_options: dict[str, Any] | None = None) -> Solution:
    """Enumerated multiset dual LP (one potential ``u``; the plan comes from the row duals).
    Options: :data:`SYMMETRIC_DUAL_OPTIONS`."""
    require_symmetric(problem)
    return run_lp(problem, SymmetricDual(expand), backend=backend, method="symmetric_dual", time_limit=time_limit,
                  threads=threads, verbose=verbose, memory_limit_bytes=memory_limit_bytes,
                  pyomo_solver=pyomo_solver, solver_options=solver_options)


def recommended_method(problem: MMOTProblem, limit_bytes: int, available: set[str] | frozenset[str]) -> str:
    """``"symmetric"`` when the enumerated multiset LP fits comfortably, else ``"colgen"``."""
    size = symmetric_size(problem)
    fits = size.n_cols <= ENUMERATE_MAX_COLUMNS and size.bytes <= COMFORT_FRACTION * limit_bytes
    if fits or "colgen" not in available:
        return "symmetric"
    return "colgen"
