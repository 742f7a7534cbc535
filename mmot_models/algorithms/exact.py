"""Exact full-tensor Kantorovich LPs (primal and dual) as methods of :func:`mmot_models.solve`."""
from __future__ import annotations

from typing import Any

from ..formulations.kantorovich import KantorovichDual, KantorovichPrimal
from ..problem import MMOTProblem
from ..solution import Solution
from .lp import run_lp

__all__ = ["solve_primal", "solve_dual"]


def solve_primal(problem: MMOTProblem, backend: str = "highs", **options: Any) -> Solution:
    """Full-tensor primal LP (any marginals).  Options as in :func:`~mmot_models.algorithms.lp.run_lp`."""
    return run_lp(problem, KantorovichPrimal(), backend=backend, method="primal", **options)


def solve_dual(problem: MMOTProblem, backend: str = "highs", *, shared_potential: bool | None = None,
               **options: Any) -> Solution:
    """Full-tensor dual LP; one shared potential when the problem is symmetric (or ``shared_potential``)."""
    return run_lp(problem, KantorovichDual(shared_potential), backend=backend, method="dual", **options)
