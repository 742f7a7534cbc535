r"""Dissociation of molecules in SCE-DFT: energy minimisation over densities and electron fractions.

Implements the numerical side of Bouchitte, Buttazzo, Champion and De Pascale, *Dissociating limit
in density functional theory with Coulomb optimal transport cost*:

* :func:`minimise_energy` minimises ``F_eps(rho) = eps T(rho) + b C(rho) - U(rho)`` (convex,
  Proposition 3.1) on a grid as one cvxpy program (:mod:`mmot_models.formulations.energy`),
  then re-solves the transport term at the optimal density with HiGHS
  (:mod:`mmot_models.algorithms.partial`) to certify it, and reports the energy split, the
  electron fraction near each nucleus and the cheap bounds of Propositions 2.1 and 2.2;
* :func:`~mmot_models.physics.dissociation.line_model` (1D, soft-Coulomb attraction and interaction, any number of nuclei) and
  :func:`~mmot_models.physics.dissociation.radial_model` (3D radial, one nucleus, ``N = 2`` with the exact radial pair cost
  ``1/(r + r')``) build the discretised models
  (:mod:`mmot_models.physics.dissociation`);
* :func:`scan_distances` is the dissociation curve: two nuclei at distance ``R``, ``R`` growing;
  :func:`scan_eps` is the paper's rescaled version: by (3.2), minimising
  ``G_eps = eps F_eps`` with nuclei at ``X_k`` is minimising ``F_1`` with nuclei at ``X_k / eps``
  (exact for the Coulomb cost; for the 1D soft-Coulomb model the softening length is kept fixed in
  the stretched frame, i.e. it shrinks as ``a eps`` in the original one);
* :func:`g_b` (Definition 5.3) and :func:`limit_fractions` (the limit problem (5.5) of Remark
  5.10, ``N = 2``): the fraction of the electrons that each nucleus keeps as ``R -> infinity``,
  solved as one joint convex program in the densities *and* the fractions.  Equal charges give
  ``1/2`` each (Remarks 5.10 and 5.11, H2); for unequal charges the fraction on the stronger
  nucleus grows with ``Z_1 / Z_2`` and reaches 1 (both electrons on one nucleus) past a
  transition.

Units and normalisation are the paper's: ``rho`` is the one-body density normalised to a
probability (physical density / N), the energy is the physical one divided by ``N``, ``b = 1/N``
by default, and ``T = int |grad sqrt(rho)|^2`` (``eps = 1`` corresponds to kinetic operator
``-Delta``, i.e. hydrogen energy ``-Z^2/4``; atomic units are ``eps = 1/2``).  The nuclear
repulsion is not part of ``F`` (fixed nuclei); :class:`EnergyResult` also reports
``total = N F + V_nn``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import MMOTInputError
from ..formulations.energy import EnergyModel, build_energy_problem, energy_block, kinetic_value
from ..physics.dissociation import (DEFAULT_MARGIN, DEFAULT_POINTS, DEFAULT_SOFTENING, _check_charges,
                                    electron_fractions, line_model, max_distance, radial_model, section2_bounds)
from ..solution import Solution, Status

__all__ = ["EnergyResult", "minimise_energy", "scan_distances", "scan_eps", "g_b", "limit_fractions", "LimitResult",
           "TRANSPORT_CHECK_TOL"]


#: Relative difference between the cvxpy transport term and the HiGHS LP above which the result is
#: flagged as not converged.
TRANSPORT_CHECK_TOL = 1e-4



# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class EnergyResult:
    """Minimiser of ``F_eps`` on a grid.

    Attributes
    ----------
    points, weights : grid and optimal cell masses of ``rho`` (mass ``model.mass``).
    energy, kinetic, transport, attraction : ``F = eps T + b C - U`` and its three terms, evaluated
        at ``weights`` (``transport`` is the HiGHS-certified ``C(weights)`` when ``verify``).
    fractions : mass of ``rho`` near each nucleus (sum = mass); electrons = ``N * fractions``.
    solution : :class:`~mmot_models.Solution` of the transport term at the optimal density
        (certified HiGHS LP on multisets: plan, potentials, bounds).
    status : ``OPTIMAL`` when cvxpy reports optimal *and* its transport term agrees with the HiGHS
        LP within :data:`TRANSPORT_CHECK_TOL`.
    accuracy : solver name and status, constraint violation, mass error, min weight, solver
        objective vs the recomputed energy, transport gap cvxpy vs HiGHS, times.
    bounds : Propositions 2.1 / 2.2 bounds on the 1-homogeneous ``C(weights)`` (for a relaxed
        model, ``prop21_upper`` also bounds the relaxed cost from above; ``prop22_lower`` does not
        bound it from below, since ``C_bar`` can vanish).
    """

    model: EnergyModel
    points: np.ndarray
    weights: np.ndarray
    energy: float
    kinetic: float
    transport: float
    attraction: float
    fractions: np.ndarray
    status: Status
    solution: Solution | None
    accuracy: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)

    @property
    def electrons(self) -> np.ndarray:
        """Electrons near each nucleus: ``N * fractions``."""
        return self.model.n_electrons * self.fractions

    def nuclear_repulsion(self) -> float:
        Z, X = self.model.meta["charges"], self.model.meta["positions"]
        a = self.model.meta.get("softening", 0.0)
        if Z.size < 2:
            return 0.0
        d = np.sqrt((X[:, None] - X[None, :]) ** 2 + a * a)
        iu = np.triu_indices(Z.size, 1)
        return float(np.sum(Z[iu[0]] * Z[iu[1]] / d[iu]))

    def terms(self) -> dict[str, Any]:
        """JSON-ready scalars: energy terms, fractions, accuracy, bounds."""
        N = self.model.n_electrons
        out = {"energy": self.energy, "kinetic": self.kinetic, "transport": self.transport,
               "attraction": self.attraction, "eps": self.model.eps, "b": self.model.b,
               "total_energy": N * self.energy + self.nuclear_repulsion(),
               "nuclear_repulsion": self.nuclear_repulsion(), "mass": float(self.weights.sum()),
               "fractions": [float(f) for f in self.fractions],
               "electrons": [float(e) for e in self.electrons], "status": self.status.value}
        out.update({k: v for k, v in self.bounds.items()})
        out["accuracy"] = {k: v for k, v in self.accuracy.items() if isinstance(v, (int, float, str, bool))}
        return out


def _constraint_violation(constraints: list) -> float:
    worst = 0.0
    for c in constraints:
        try:
            v = c.violation()
        except (ValueError, TypeError):  # pragma: no cover - no value
            return math.inf
        worst = max(worst, float(np.max(v)) if np.size(v) else 0.0)
    return worst


def _certify_transport(model: EnergyModel, w: np.ndarray, time_limit: float | None) -> Solution:
    from ..algorithms.partial import relaxed_cost

    mode = "relaxed" if model.relaxed else "homogeneous"
    return relaxed_cost(w, model.points, model.n_electrons, mode=mode, pair_matrix=model.pair_matrix,
                        time_limit=time_limit)


def minimise_energy(model: EnergyModel, *, solver: str = "CLARABEL", tol: float | None = None,
                    time_limit: float | None = None, verify: bool = True, verbose: bool = False,
                    solver_options: dict[str, Any] | None = None) -> EnergyResult:
    """Minimise ``eps T + b C - U`` over densities of mass ``model.mass`` on ``model``'s grid.

    The convex program is solved by cvxpy (``solver`` = ``"CLARABEL"`` or ``"SCS"``); with
    ``verify`` the transport term at the optimal density is re-solved as the HiGHS multiset LP,
    whose certified value is the reported ``transport`` and whose plan is ``solution``.
    """
    from ..backends.cvxpy import solve_problem

    t0 = time.perf_counter()
    prob, block = build_energy_problem(model)
    t_build = time.perf_counter() - t0
    r = solve_problem(prob, solver, time_limit=time_limit, tol=tol, verbose=verbose, options=solver_options)
    if block.gamma.value is None:
        raise_status = r.status if r.status != Status.OPTIMAL else Status.ERROR
        return EnergyResult(model=model, points=model.points[:, 0], weights=np.full(model.size, np.nan),
                            energy=math.nan, kinetic=math.nan, transport=math.nan, attraction=math.nan,
                            fractions=np.full(model.meta["charges"].size, np.nan), status=raise_status,
                            solution=None, accuracy={"solver": r.solver, "solver_status": r.message})
    gamma = np.maximum(np.asarray(block.gamma.value, dtype=float), 0.0)
    if model.relaxed:
        w = np.maximum(np.asarray(block.w.value, dtype=float), 0.0)
    else:
        w = block.occupation @ gamma          # exactly the marginal of the (clipped) plan
    kin = kinetic_value(w, model)
    att = float(model.potential @ w)
    tr_cvx = float(block.multiset_costs @ gamma)
    status = r.status
    acc: dict[str, Any] = {"solver": r.solver, "solver_status": r.message, "solver_time_s": r.solver_time_s,
                           "build_time_s": t_build, "iterations": r.iterations,
                           "constraint_violation": _constraint_violation(prob.constraints),
                           "mass_error": abs(float(w.sum()) - float(model.mass)),
                           "min_weight_raw": float(np.min(block.w.value)),
                           "objective_solver": float(r.value), "transport_cvxpy": tr_cvx,
                           "n_multisets": int(block.multisets.shape[0]), "n_points": model.size}
    sol = None
    tr = tr_cvx
    if verify:
        sol = _certify_transport(model, w, time_limit)
        acc["transport_highs"] = float(sol.value)
        acc["transport_highs_status"] = sol.status.value
        gap = tr_cvx - float(sol.value)
        acc["transport_gap"] = gap
        if sol.status.ok:
            tr = float(sol.value)
        if model.b > 0 and status.ok and not (sol.status.ok and abs(gap) <= TRANSPORT_CHECK_TOL * max(1.0, abs(tr))):
            status = Status.NUMERICAL_ERROR
    energy = model.eps * kin + model.b * tr - att
    acc["energy_minus_objective"] = energy - float(r.value)
    acc["wall_time_s"] = time.perf_counter() - t0
    fr = electron_fractions(model.points, w, model.meta["positions"])
    bounds = section2_bounds(model, w) if w.sum() > 0 else {}
    return EnergyResult(model=model, points=model.points[:, 0].copy(), weights=w, energy=energy, kinetic=kin,
                        transport=tr, attraction=att, fractions=fr, status=status, solution=sol, accuracy=acc,
                        bounds=bounds)


# --------------------------------------------------------------------------- scans
def _progress(iterable, total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)




def scan_distances(charges: Sequence[float], distances: Sequence[float], *, n_points: int = DEFAULT_POINTS,
                   n_electrons: int = 2, eps: float = 1.0, b: float | None = None,
                   softening: float = DEFAULT_SOFTENING, margin: float = DEFAULT_MARGIN,
                   spacing: float | None = None, solver: str = "CLARABEL",
                   progress: bool = True) -> list[tuple[float, EnergyResult]]:
    """Dissociation curve: two (or more, equally spaced) nuclei at distance ``R`` on a line.

    Nuclei sit at ``(k - (M-1)/2) R``; for each ``R`` the energy is minimised on ``n_points``
    points of ``[-(M-1)R/2 - margin, (M-1)R/2 + margin]`` (or cells of width ``spacing``, so the
    resolution does not degrade as ``R`` grows).
    """
    Z = np.asarray(charges, dtype=float).reshape(-1)
    R = np.asarray(distances, dtype=float).reshape(-1)
    if R.size == 0 or not np.all(np.isfinite(R)) or np.any(R < 0):
        raise MMOTInputError(f"distances must be non-negative numbers, got {list(distances)}")
    r_max = max_distance(Z.size, margin)
    if np.any(R > r_max):
        raise MMOTInputError(f"distance {float(R.max()):.6g} is too large: squared distances on the grid overflow "
                             f"double precision (the cost and potential would round to 0); use distances in "
                             f"[0, {r_max:.3g}]")
    out = []
    for d in _progress(R, R.size, "distances", progress):
        X = (np.arange(Z.size) - (Z.size - 1) / 2.0) * d
        model = line_model(Z, X, n_points, n_electrons=n_electrons, eps=eps, b=b, softening=softening, margin=margin,
                           spacing=spacing)
        out.append((float(d), minimise_energy(model, solver=solver)))
    return out


def scan_eps(charges: Sequence[float], eps_values: Sequence[float], separation: float = 1.0,
             **kwargs: Any) -> list[tuple[float, EnergyResult]]:
    """The paper's rescaled limit: ``min G_eps`` (nuclei at ``+-separation/2``) for each ``eps``.

    By (3.2), ``min G_eps = min F_1`` with nuclei at ``X / eps``, so this is the dissociation
    curve at distances ``separation / eps`` (see the module docstring for the soft-Coulomb
    caveat); the energies returned are ``min G_eps``.
    """
    e = np.asarray(eps_values, dtype=float).reshape(-1)
    if e.size == 0 or np.any(~(e > 0)):
        raise MMOTInputError(f"eps values must be positive, got {list(eps_values)}")
    res = scan_distances(charges, separation / e, **kwargs)
    return [(float(ei), r) for ei, (_, r) in zip(e, res)]


# --------------------------------------------------------------------------- limit problem (N = 2)
def _single_model(geometry: str, Z: float, n_points: int, extent: float, b: float, softening: float,
                  mass: float = 1.0, relaxed: bool = True, spacing: float | None = None) -> EnergyModel:
    if geometry == "radial":
        return radial_model(Z, n_points, extent, eps=1.0, b=b, mass=mass, relaxed=relaxed)
    if geometry == "line":
        return line_model([Z], [0.0], n_points, n_electrons=2, eps=1.0, b=b, softening=softening, margin=extent,
                          mass=mass, relaxed=relaxed, spacing=spacing)
    raise MMOTInputError(f"unknown geometry {geometry!r}; choose 'line' or 'radial'")


def g_b(charge: float, alpha: float, *, geometry: str = "line", n_points: int = DEFAULT_POINTS,
        extent: float = DEFAULT_MARGIN, b: float = 0.5, softening: float = DEFAULT_SOFTENING,
        spacing: float | None = None, solver: str = "CLARABEL") -> EnergyResult:
    r"""``g_b(Z, alpha) = inf_{||rho|| = alpha} T(rho) + b C(rho, 2 alpha - 1) - Z U_0(rho)``
    (Definition 5.3, ``N = 2``) on a grid: a convex program with the relaxed transport cost.

    ``extent`` is ``r_max`` (radial) or the half-width of the line grid (``spacing``: see
    :func:`line_model`).  ``g_b(Z, alpha) =
    alpha g_b(Z, 1)|_{b=0}`` for ``alpha <= 1/2`` (Remark 5.4).
    """
    if not (0 < alpha <= 1):
        raise MMOTInputError(f"alpha must be in (0, 1], got {alpha}")
    model = _single_model(geometry, charge, n_points, extent, b, softening, mass=alpha, relaxed=True,
                          spacing=spacing)
    return minimise_energy(model, solver=solver)


@dataclass(frozen=True, eq=False)
class LimitResult:
    """Minimiser of the limit functional (5.5): fractions ``alpha_k`` and one-nucleus energies."""

    charges: np.ndarray
    fractions: np.ndarray
    energies: np.ndarray          # g_b(Z_k, alpha_k)
    energy: float                 # sum_k g_b(Z_k, alpha_k)
    status: Status
    blocks: list = field(default_factory=list, repr=False)
    accuracy: dict[str, Any] = field(default_factory=dict)


def limit_fractions(charges: Sequence[float], *, geometry: str = "line", n_points: int = DEFAULT_POINTS,
                    extent: float = DEFAULT_MARGIN, b: float = 0.5, softening: float = DEFAULT_SOFTENING,
                    spacing: float | None = None, solver: str = "CLARABEL") -> LimitResult:
    r"""Solve ``min { sum_k g_b(Z_k, alpha_k) : alpha_k >= 0, sum_k alpha_k = 1 }`` (Theorem 5.7, (5.5)).

    One convex program: for each nucleus a grid block with density ``rho_k`` of mass ``alpha_k``
    and relaxed transport of mass ``>= 2 alpha_k - 1``; the ``alpha_k`` are variables.  This is
    the ``eps -> 0`` (``R -> infinity``) limit for ``N = 2`` electrons.
    """
    import cvxpy as cp

    from ..backends.cvxpy import solve_problem

    Z, _ = _check_charges(charges, np.zeros(len(np.atleast_1d(charges))))
    alpha = cp.Variable(Z.size, nonneg=True, name="alpha")
    blocks, cons, obj = [], [cp.sum(alpha) == 1], 0
    for k, z in enumerate(Z):
        model = _single_model(geometry, float(z), n_points, extent, b, softening, mass=0.5, relaxed=True,
                              spacing=spacing)
        blk = energy_block(model, mass=alpha[k])
        blocks.append(blk)
        cons += blk.constraints
        obj = obj + blk.energy
    prob = cp.Problem(cp.Minimize(obj), cons)
    r = solve_problem(prob, solver)
    if alpha.value is None:
        nan = np.full(Z.size, np.nan)
        return LimitResult(Z, nan, nan, math.nan, r.status if r.status != Status.OPTIMAL else Status.ERROR,
                           accuracy={"solver_status": r.message})
    a = np.clip(np.asarray(alpha.value, dtype=float), 0.0, 1.0)
    energies = np.array([float(blk.energy.value) for blk in blocks])
    return LimitResult(charges=Z, fractions=a, energies=energies, energy=float(energies.sum()), status=r.status,
                       blocks=blocks,
                       accuracy={"solver": r.solver, "solver_status": r.message, "solver_time_s": r.solver_time_s,
                                 "constraint_violation": _constraint_violation(prob.constraints)})
