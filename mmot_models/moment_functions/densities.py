"""Marginals given by a density on a box (:class:`Density`) and the quadratures that integrate test
functions against them: composite Gauss-Legendre aligned with a family's breakpoints, or a collapsed
Gauss rule on each simplex of a triangulated mesh."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import MMOTInputError
from ..problem import Marginal
from .families import QUAD_ORDER, HatsMesh, TestFamily, _bounds, _pts, gauss_legendre_box

__all__ = ["Density", "integrate", "moments_of"]


@dataclass(frozen=True, eq=False)
class Density:
    """A marginal given by a (not necessarily normalised) density on a box ``[lows, highs]``.

    ``fn`` is vectorised: it receives an ``(m,)`` array in 1D (as :func:`~mmot_models.from_density`)
    and an ``(m, d)`` array otherwise.  Mass outside the box is ignored: the density is normalised
    on the box (state the truncation in your results, e.g. Gaussians on ``[-4, 4]^2``).
    """

    fn: Callable[[np.ndarray], np.ndarray]
    lows: Any
    highs: Any
    name: str = "density"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise MMOTInputError("Density needs fn: a vectorised callable density(x)")
        lo, hi = _bounds(self.lows, self.highs)
        object.__setattr__(self, "lows", lo)
        object.__setattr__(self, "highs", hi)

    @property
    def dim(self) -> int:
        return int(self.lows.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _pts(x, self.dim)
        out = np.asarray(self.fn(x[:, 0] if self.dim == 1 else x), dtype=float).reshape(-1)
        if out.shape[0] != x.shape[0] or not np.all(np.isfinite(out)) or np.any(out < 0):
            raise MMOTInputError(f"density {self.name!r} must return finite non-negative values, one per point")
        return out

    def quadrature(self, family: TestFamily | None = None, order: int = QUAD_ORDER) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and probability weights (density times quadrature weight, normalised to 1)."""
        if isinstance(family, HatsMesh) and family.dim == 2 and np.allclose(family.lows, self.lows) \
                and np.allclose(family.highs, self.highs):
            x, w = family.quadrature(order)
        else:
            bp = family.breakpoints() if family is not None else None
            x, w = gauss_legendre_box(self.lows, self.highs, order, bp)
        p = w * self(x)
        total = p.sum()
        if not total > 0:
            raise MMOTInputError(f"density {self.name!r} has zero mass on its box {self.lows}..{self.highs}")
        return x, p / total


def integrate(source: "Marginal | Density", fn: Callable[[np.ndarray], np.ndarray],
              family: TestFamily | None = None, order: int = QUAD_ORDER) -> np.ndarray:
    """``int fn dmu`` for a vectorised ``fn(X (m, d)) -> (m, k)`` (exact sums for a discrete marginal)."""
    if isinstance(source, Marginal):
        x, p = source.points, source.weights
    else:
        x, p = source.quadrature(family, order)
    return p @ np.asarray(fn(x), dtype=float).reshape(x.shape[0], -1)


def moments_of(family: TestFamily, source: "Marginal | Density", order: int = QUAD_ORDER) -> np.ndarray:
    """The moments ``int phi_m dmu`` of a family (quadrature aligned with the family's breakpoints)."""
    if isinstance(source, Marginal):
        return np.asarray(family.evaluate_sparse(source.points).T @ source.weights).reshape(-1)
    x, p = source.quadrature(family, order)
    return np.asarray(family.evaluate_sparse(x).T @ p).reshape(-1)
