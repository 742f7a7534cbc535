"""Solve the transport cost of a subprobability (relaxed or 1-homogeneous) on an LP backend.

See :mod:`mmot_models.formulations.partial` for the LP and its certificate.  The relaxed cost is
``0`` without any LP when ``||rho|| <= 1/N`` (``mu = 0`` is admissible).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..formulations.partial import PartialTransportLP, SubDensity, required_mass
from ..solution import Bound, Solution, Termination, assemble_solution
from .lp import CERT_REL_TOL, ZERO_FLOOR_REL, solve_standard_lp

__all__ = ["relaxed_cost", "homogeneous_cost"]


def relaxed_cost(rho_weights: np.ndarray, points: np.ndarray, N: int, cost: Any = "coulomb", *,
                 mode: str = "relaxed", pair_matrix: np.ndarray | None = None, backend: str = "highs",
                 time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
                 memory_limit_bytes: int | None = None, solver_options: dict[str, Any] | None = None,
                 **_ignored: Any) -> Solution:
    r"""Relaxed (default) or 1-homogeneous transport cost of a subprobability on a grid.

    .. math::
        \min\Big\{ C(\mu) : 0 \le \mu \le \rho,\ \int d\mu \ge \tfrac{N}{N-1}
        \big(\textstyle\int d\rho - \tfrac1N\big) \Big\}
        \qquad(\text{mode="relaxed"}),\qquad C(\rho)\ (\text{mode="homogeneous"}).

    Parameters
    ----------
    rho_weights : (l,) non-negative weights of total mass ``<= 1``.
    points : (l, d) or (l,) support points.
    N : number of electrons (marginals), ``>= 2``.
    cost : pair cost or spec (``"coulomb"``, ``{"kind": "soft_coulomb", "a": 1}``, ...).
    mode : ``"relaxed"`` (Prop. 2.4), ``"homogeneous"`` or ``"stratified"`` (clusters of every size
        ``2..N`` with the rest sent to infinity: an upper bound on ``C_bar`` below the relaxed one,
        equal to it for ``N = 2``; rows of the plan padded with ``-1`` for far electrons).
    pair_matrix : optional precomputed ``(l, l)`` pair-cost matrix (overrides ``cost``).

    Returns
    -------
    Solution
        ``value`` on the scale ``E[sum_{i<j} c]`` of a plan of mass ``int d mu``; certified
        ``lower_bound``/``upper_bound``; the plan on multisets (``plan_indices`` sorted rows,
        ``info["plan_is_multiset"]``); ``info["mu"]`` the optimal sub-density, ``info["mass"]``,
        ``info["required_mass"]``.  Exact for the relaxation ``C_bar`` when ``N = 2``
        (Proposition 2.5); for ``N >= 3`` an upper bound on ``C_bar`` (Proposition 2.4), stated in
        ``info["relaxation_exact"]``; ``mode="stratified"`` gives a smaller upper bound.
    """
    t0 = time.perf_counter()
    rho = SubDensity(points, rho_weights)
    form = PartialTransportLP(N, cost, mode=mode, pair_matrix=pair_matrix)
    kappa = required_mass(rho.mass, form.n_electrons)
    exact_note = {"relaxation_exact": form.n_electrons == 2} if mode != "homogeneous" else {}
    if mode != "homogeneous" and kappa <= 0.0:
        return assemble_solution(
            problem=None, method=form.name, backend="closed_form", termination=Termination.CLOSED_FORM, value=0.0,
            lower_bound=0.0, upper_bound=0.0, bound=Bound.EXACT,
            plan_indices=np.zeros((0, form.n_electrons), dtype=np.int64), plan_weights=np.zeros(0),
            primal_value=0.0, dual_value=0.0, marginal_error=np.zeros(form.n_electrons), t0=t0, solver_time_s=0.0,
            iterations=0, message="mass <= 1/N: mu = 0 is admissible",
            info={"mode": mode, "mass": rho.mass, "required_mass": 0.0, "n_electrons": form.n_electrons,
                  "mu": np.zeros(rho.size), "plan_is_multiset": True, **exact_note})
    lp, inverse_data = form.apply(rho, memory_limit_bytes=memory_limit_bytes)
    res = solve_standard_lp(lp, backend, time_limit=time_limit, threads=threads, verbose=verbose,
                            solver_options=solver_options)
    inv = form.invert(res, inverse_data)
    info = {"build_time_s": inverse_data.build_time_s, "n_cols": lp.n_cols, "n_rows": lp.n_rows,
            "solver_message": res.message, **exact_note}
    info.update(inv.info)
    message = ""
    if inv.termination == Termination.INFEASIBLE:
        message = ("no admissible mu: under a cost infinite on the diagonal some site of rho is too heavy "
                   "for a plan on distinct sites; the cost is +inf")
    elif inv.termination != Termination.OPTIMAL:
        message = f"solver stopped: {res.message}"
    return assemble_solution(
        problem=None, method=form.name, backend=res.backend, **inv.assemble_kwargs(), rel_tol=CERT_REL_TOL,
        abs_floor=ZERO_FLOOR_REL * lp.cost_scale,
        iterate_residual=info.get("constraint_residual", math.inf), message=message, t0=t0,
        solver_time_s=res.solver_time_s, iterations=res.iterations, log=res.log, info=info)


def homogeneous_cost(rho_weights: np.ndarray, points: np.ndarray, N: int, cost: Any = "coulomb",
                     **options: Any) -> Solution:
    """The 1-homogeneous extension ``C(rho) = ||rho|| C(rho / ||rho||)`` (see :func:`relaxed_cost`)."""
    return relaxed_cost(rho_weights, points, N, cost, mode="homogeneous", **options)
