"""Radial grids and marginals (:func:`radial_grid`): ``"quantile"`` (equal-mass cells, points at the
cell medians: the N=2 anti-monotone map is exact on it), ``"uniform"`` or ``"graded"`` (finer towards
the nucleus, ``r = r_max (k/L)^p``); the marginal weights are the exact cell masses of ``lambda``
(the tail beyond the last edge is put into the last cell), so they sum to 1."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MMOTInputError, ProblemTooLargeError
from ..problem import Marginal
from .densities import RadialDensity, _cell_integrals

__all__ = ["RadialGrid", "radial_grid", "radial_marginal", "GRID_BYTES_PER_POINT"]


# ------------------------------------------------------------------------------------------- grids
@dataclass(frozen=True, eq=False)
class RadialGrid:
    """Cells ``[edges[k], edges[k+1]]`` of ``[0, inf)`` with representative radii ``points`` and
    weights = exact cell masses of the radial marginal (sum 1; the last cell holds the tail)."""

    edges: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    kind: str
    tail_mass: float

    @property
    def size(self) -> int:
        return int(self.points.size)

    def marginal(self) -> Marginal:
        """The radial marginal as a :class:`~mmot_models.Marginal` on points ``(L, 1)``."""
        return Marginal(self.points[:, None], self.weights, normalize=True)


#: Peak bytes per point while a radial grid is built (edges, points, quadrature of the cell masses).
GRID_BYTES_PER_POINT = 600


def radial_grid(density: RadialDensity, n_points: int, kind: str = "quantile", r_max: float | None = None,
                grading: float = 2.0) -> RadialGrid:
    """Radial grid of ``n_points`` cells for ``density``.

    Parameters
    ----------
    kind : {"quantile", "uniform", "graded"}
        ``quantile``: equal-mass cells ``[Q(k/L), Q((k+1)/L)]`` with points at the cell medians
        ``Q((k+1/2)/L)`` (weights exactly ``1/L``).  ``uniform``: equal widths on ``[0, r_max]``;
        ``graded``: edges ``r_max (k/L)^grading`` (finer near the nucleus).  For these two the
        points are the cell mass centroids and the weights the cell masses of ``lambda``.
    r_max : float, optional
        Outer radius for uniform/graded grids (default: radius enclosing ``1 - 1e-10`` of the mass).
    """
    L = int(n_points)
    if L < 2:
        raise MMOTInputError(f"a radial grid needs at least 2 points, got {n_points}")
    from ..formulations.standard_lp import MEMORY_FRACTION, available_memory_bytes, format_bytes, format_count
    need, limit = GRID_BYTES_PER_POINT * L, int(MEMORY_FRACTION * available_memory_bytes())
    if need > limit:
        raise ProblemTooLargeError(f"a radial grid of {format_count(L)} points needs ~{format_bytes(need)} but only "
                                   f"{format_bytes(limit)} may be used; use fewer points")
    if kind == "quantile":
        t = np.arange(L + 1) / L
        edges = density.quantile(t[:-1])
        edges = np.concatenate([edges, [np.inf]])
        points = density.quantile((np.arange(L) + 0.5) / L)
        return RadialGrid(edges, points, np.full(L, 1.0 / L), kind, 0.0)
    if kind not in ("uniform", "graded"):
        raise MMOTInputError(f"unknown radial grid kind {kind!r}; choose quantile, uniform or graded")
    R = float(r_max) if r_max is not None else density.radius_containing(1.0 - 1e-10)
    if not (R > 0):
        raise MMOTInputError(f"r_max must be positive, got {r_max}")
    s = np.arange(L + 1) / L
    edges = R * (s if kind == "uniform" else s ** float(grading))
    mass = _cell_integrals(density.radial_marginal, edges)
    moment = _cell_integrals(lambda r: r * density.radial_marginal(r), edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        points = np.where(mass > 0, moment / np.where(mass > 0, mass, 1.0), 0.5 * (edges[:-1] + edges[1:]))
    tail = density.tail_mass(R)
    w = mass.copy()
    w[-1] += tail
    if np.any(w <= 0):
        raise MMOTInputError("some radial cells carry no mass; use fewer points or a smaller r_max")
    return RadialGrid(edges, points, w / w.sum(), kind, tail)


def radial_marginal(density: RadialDensity, n_points: int, kind: str = "quantile", **kw) -> Marginal:
    """Shortcut: ``radial_grid(density, n_points, kind, **kw).marginal()``."""
    return radial_grid(density, n_points, kind, **kw).marginal()
