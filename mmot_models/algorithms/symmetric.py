"""Exact symmetric MMOT: the enumerated multiset LP (primal or dual) and the ``auto`` choice
between it and column generation.

``solve_symmetric`` is the exact workhorse for N electrons on ``l`` sites while the
``binom(l+N-1, N)`` multiset columns fit comfortably; beyond that :func:`recommended_method`
returns ``"colgen"`` (:mod:`mmot_models.algorithms.colgen`, same certified optimum).
"""
from __future__ import annotations

from typing import Any

from ..formulations.symmetric import SymmetricDual, SymmetricPrimal, require_symmetric, symmetric_size
from ..problem import MMOTProblem
from ..solution import Solution
from .lp import run_lp

__all__ = ["solve_symmetric", "solve_symmetric_dual", "recommended_method", "ENUMERATE_MAX_COLUMNS",
           "COMFORT_FRACTION"]

#: The enumerated LP is preferred up to this many multiset columns; beyond, column generation is
#: much faster (benchmarks: 161,700 columns, Gaussian N=3 l=100: enumerated LP 9.5 s, colgen 0.07 s in 1D, 0.4 s in 2D).
ENUMERATE_MAX_COLUMNS = 50_000
#: ... and only if its estimated memory is below this fraction of the allowed memory.
COMFORT_FRACTION = 0.25


def solve_symmetric(problem: MMOTProblem, backend: str = "highs", *, expand: str | bool | None = "auto",
                    **options: Any) -> Solution:
    """Enumerated multiset primal LP (certified; see :mod:`mmot_models.formulations.symmetric`).

    Parameters
    ----------
    expand : {"auto", "symmetrize", "cyclic", None}
        Expansion of the multiset plan to site tuples; the multiset plan itself is in
        ``sol.info["multisets"]`` and ``sol.info["multiset_weights"]``.
    **options
        As in :func:`~mmot_models.algorithms.lp.run_lp` (``time_limit``, ``threads``, ``verbose``,
        ``memory_limit_bytes``, ``pyomo_solver``, ``solver_options``); others are ignored.
    """
    require_symmetric(problem)
    return run_lp(problem, SymmetricPrimal(expand), backend=backend, method="symmetric", **_lp_options(options))


def solve_symmetric_dual(problem: MMOTProblem, backend: str = "highs", *, expand: str | bool | None = "auto",
                         **options: Any) -> Solution:
    """Enumerated multiset dual LP (one potential ``u``; the plan comes from the row duals)."""
    require_symmetric(problem)
    return run_lp(problem, SymmetricDual(expand), backend=backend, method="symmetric_dual", **_lp_options(options))


_LP_KEYS = ("time_limit", "threads", "verbose", "memory_limit_bytes", "pyomo_solver", "solver_options")


def _lp_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in _LP_KEYS}


def recommended_method(problem: MMOTProblem, limit_bytes: int, available: set[str] | frozenset[str]) -> str:
    """``"symmetric"`` when the enumerated multiset LP fits comfortably, else ``"colgen"``."""
    size = symmetric_size(problem)
    fits = size.n_cols <= ENUMERATE_MAX_COLUMNS and size.bytes <= COMFORT_FRACTION * limit_bytes
    if fits or "colgen" not in available:
        return "symmetric"
    return "colgen"
