r"""Discretised models of the dissociation study (Bouchitte, Buttazzo, Champion and De Pascale,
*Dissociating limit in density functional theory with Coulomb optimal transport cost*): data only.

* :func:`line_model` (1D, soft-Coulomb attraction and interaction, any number of nuclei) and
  :func:`radial_model` (3D radial, one nucleus, ``N = 2`` with the exact radial pair cost
  ``1/(r + r')``) build the :class:`~mmot_models.formulations.energy.EnergyModel` of
  ``F_eps(rho) = eps T(rho) + b C(rho) - U(rho)``;
* :func:`electron_fractions` (the mass near each nucleus), :func:`section2_bounds` (the cheap
  bounds of Propositions 2.1 and 2.2) and :func:`max_distance` (the largest representable
  internuclear distance) evaluate them.

The minimisation, the scans and the limit problem are drivers above :func:`mmot_models.solve`:
:mod:`mmot_models.studies.dissociation`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..costs import SoftCoulomb
from ..errors import MMOTInputError
from ..formulations.energy import EnergyModel

__all__ = ["line_model", "radial_model", "electron_fractions", "section2_bounds", "max_distance",
           "DEFAULT_SOFTENING", "DEFAULT_MARGIN", "DEFAULT_POINTS"]


#: Softening length ``a`` of the 1D soft-Coulomb attraction and interaction ``1/sqrt(r^2 + a^2)``.
DEFAULT_SOFTENING = 1.0
#: Grid extends this far beyond the outermost nuclei (1D).
DEFAULT_MARGIN = 8.0
#: Default number of grid points (1D line and CLI).
DEFAULT_POINTS = 61


# --------------------------------------------------------------------------- models
def _check_charges(charges: Sequence[float], positions: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        Z = np.asarray(charges, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise MMOTInputError("charges must be numbers, e.g. 1,1") from None
    if Z.size == 0 or not np.all(np.isfinite(Z)) or np.any(Z <= 0):
        raise MMOTInputError(f"charges must be positive finite numbers, got {list(np.atleast_1d(charges))}")
    if positions is None:
        X = np.zeros(1) if Z.size == 1 else None
        if X is None:
            raise MMOTInputError("give the positions of the nuclei (one per charge)")
    else:
        X = np.asarray(positions, dtype=float).reshape(-1)
    if X.shape != Z.shape or not np.all(np.isfinite(X)):
        raise MMOTInputError(f"need one finite position per charge: {Z.size} charges, {X.size} positions")
    return Z, X


def line_model(charges: Sequence[float], positions: Sequence[float] | None = None, n_points: int = DEFAULT_POINTS,
               *, n_electrons: int = 2, eps: float = 1.0, b: float | None = None,
               softening: float = DEFAULT_SOFTENING, margin: float = DEFAULT_MARGIN, mass: float = 1.0,
               relaxed: bool = False, bounds: tuple[float, float] | None = None,
               spacing: float | None = None) -> EnergyModel:
    """1D model: nuclei ``Z_k`` at ``X_k``, soft-Coulomb attraction and interaction of width ``a``.

    The grid is ``n_points`` cell midpoints of ``[min X - margin, max X + margin]`` (or ``bounds``);
    with ``spacing = h`` given, ``n_points`` is ignored and the grid has cells of width exactly ``h``
    with the leftmost nucleus on a cell midpoint and at least ``margin`` beyond the outer nuclei
    (so a nucleus sees the same local grid at every ``R`` that is a multiple of ``h``);
    ``V(x) = sum_k Z_k / sqrt((x - X_k)^2 + a^2)``, ``c(x, y) = 1 / sqrt((x - y)^2 + a^2)``.
    """
    Z, X = _check_charges(charges, positions)
    if int(n_points) != n_points or n_points < 3:
        raise MMOTInputError(f"--points must be an integer >= 3, got {n_points}")
    if not (margin > 0 and softening > 0):
        raise MMOTInputError(f"margin and softening must be positive, got {margin}, {softening}")
    if spacing is not None:
        if not spacing > 0:
            raise MMOTInputError(f"spacing must be positive, got {spacing}")
        h = float(spacing)
        k = int(math.ceil(margin / h))
        lo = float(X.min()) - (k + 0.5) * h               # the leftmost nucleus sits on a cell midpoint
        n = int(round((X.max() - X.min()) / h)) + 2 * k + 1
    else:
        lo, hi = (float(X.min() - margin), float(X.max() + margin)) if bounds is None else map(float, bounds)
        n = int(n_points)
        h = (hi - lo) / n
    x = lo + h * (np.arange(n) + 0.5)
    V = np.sum(Z[None, :] / np.sqrt((x[:, None] - X[None, :]) ** 2 + softening ** 2), axis=1)
    cost = SoftCoulomb(softening)
    C = cost.matrix(x[:, None])
    N = int(n_electrons)
    return EnergyModel(points=x[:, None], spacing=h, potential=V, pair_matrix=C, n_electrons=N, eps=eps,
                       b=1.0 / N if b is None else b, mass=mass, relaxed=relaxed, geometry="line",
                       meta={"charges": Z, "positions": X, "softening": float(softening),
                             "bound_kernel": C, "bound_phi": lambda r: 1.0 / (r + softening),
                             "variance": "line"})


def radial_model(charge: float = 1.0, n_points: int = 60, r_max: float = 20.0, *, eps: float = 1.0,
                 b: float = 0.5, n_electrons: int = 2, mass: float = 1.0, relaxed: bool = False) -> EnergyModel:
    """3D radial model: one nucleus of charge ``Z`` at the origin, exact Coulomb, ``N = 2``.

    Cell masses live on the shells around ``r_i = (i + 1/2) h`` of ``[0, r_max]`` (kinetic term in
    finite volumes, see :mod:`mmot_models.formulations.energy`); ``V`` is the shell average of
    ``Z / r`` and the pair cost is the exact radial reduction ``1/(r + r')`` of ``1/|x - y|`` for
    two electrons at the shell midpoints.
    """
    if int(n_electrons) != 2:
        raise MMOTInputError("the radial model is exact for N = 2 only (antipodal reduction 1/(r + r')); "
                             "use line_model for N > 2")
    Z, _ = _check_charges([charge], None)
    if int(n_points) != n_points or n_points < 3 or not r_max > 0:
        raise MMOTInputError(f"need n_points >= 3 and r_max > 0, got {n_points}, {r_max}")
    n = int(n_points)
    h = r_max / n
    r = h * (np.arange(n) + 0.5)
    lo, hi = r - h / 2, r + h / 2
    volume = 4.0 * np.pi * (hi ** 3 - lo ** 3) / 3.0
    faces = 4.0 * np.pi * (h * np.arange(n + 1)) ** 2          # face j at r = j h (face 0: r = 0, area 0)
    # <1/r> over a shell for a density constant in the shell (exact for piecewise-constant rho)
    v = Z[0] * 1.5 * (hi ** 2 - lo ** 2) / (hi ** 3 - lo ** 3)
    C = 1.0 / (r[:, None] + r[None, :])
    newton = 1.0 / np.maximum(r[:, None], r[None, :])   # int int 1/|x-y| over two shells (Newton)
    return EnergyModel(points=r[:, None], spacing=h, potential=v, pair_matrix=C, n_electrons=2, eps=eps,
                       b=b, mass=mass, relaxed=relaxed, geometry="radial", density_scale=1.0 / volume,
                       edge_weight=faces / (2.0 * h),
                       meta={"charges": Z, "positions": np.zeros(1), "bound_kernel": newton,
                             "bound_phi": lambda d: 1.0 / d, "variance": "radial"})


# --------------------------------------------------------------------------- diagnostics
def electron_fractions(points: np.ndarray, weights: np.ndarray, positions: Sequence[float]) -> np.ndarray:
    """Mass of ``rho`` in the cell of each nucleus (points nearest to it; exact ties split evenly)."""
    x = np.asarray(points, dtype=float).reshape(-1)
    w = np.asarray(weights, dtype=float).reshape(-1)
    X = np.asarray(positions, dtype=float).reshape(-1)
    d = np.abs(x[:, None] - X[None, :])
    nearest = d <= d.min(axis=1, keepdims=True) + 1e-12
    share = nearest / nearest.sum(axis=1, keepdims=True)
    return share.T @ w


def section2_bounds(model: EnergyModel, weights: np.ndarray) -> dict[str, float]:
    """Cheap bounds on the (1-homogeneous) cost ``C(rho)`` of Propositions 2.1 and 2.2.

    * upper (Prop. 2.1, product plan): ``N(N-1)/(2m) sum_{s,t} w_s K_st w_t``;
    * lower (Prop. 2.2): ``m N(N-1)/2 phi(2 sigma)`` with ``sigma^2`` the variance of
      ``rho / m`` and ``phi`` a convex decreasing minorant of the pair cost in the distance
      (``1/d`` for Coulomb, the paper's ``N(N-1)/(4 sigma)``; ``1/(d + a)`` for soft Coulomb).

    In the radial model ``K = 1/max(r, r')`` (Newton) and ``sigma^2 = E|x|^2``.
    """
    w = np.maximum(np.asarray(weights, dtype=float), 0.0)
    m = float(w.sum())
    N = model.n_electrons
    pairs = N * (N - 1) / 2.0
    K = model.meta["bound_kernel"]
    x = model.points[:, 0]
    upper = pairs / m * float(w @ K @ w)
    if model.meta["variance"] == "radial":
        var = float(w @ (x * x)) / m
    else:
        mean = float(w @ x) / m
        var = float(w @ (x - mean) ** 2) / m
    lower = m * pairs * float(model.meta["bound_phi"](2.0 * math.sqrt(var))) if var > 0 else math.inf
    return {"prop21_upper": upper, "prop22_lower": lower}




def max_distance(n_nuclei: int, margin: float = DEFAULT_MARGIN) -> float:
    """Largest internuclear distance whose grid has representable squared distances.

    The grid spans ``L = (M - 1) R + 2 margin``; every ``(x - y)^2 + a^2`` must stay below the
    largest double with room for sums, so ``L <= sqrt(max float) / 2``.
    """
    span = math.sqrt(np.finfo(float).max) / 2.0 - 2.0 * float(margin)
    return span / max(int(n_nuclei) - 1, 1)
