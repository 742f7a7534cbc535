"""Co-motion functions and the Kantorovich potential from a sparse optimal multiset plan.

In 1D the SCE plan of N electrons is carried by configurations ``x_1 < x_2 < ... < x_N`` and the
co-motion maps send the electron at sorted position ``j`` to position ``j + k - 1 (mod N)``:
``f_k(x) = Q(F(x) + (k-1)/N mod 1)`` (see :mod:`mmot_models.physics.reference`).  From a discrete
optimal plan on multisets (``sol.info["multisets"]``, ``sol.info["multiset_weights"]``) the maps
are read off as the plan-weighted mean partner of every site,

.. math::
    f_k(x_s) = \\frac{\\sum_m \\gamma_m \\sum_{j: m_j = s} x_{m_{(j+k-1) \\bmod N}}}
                    {\\sum_m \\gamma_m\\, n_s(m)},

with the within-configuration spread reported alongside (a discrete plan may split a site's mass
between neighbouring configurations).  The Kantorovich potential is the row dual ``u`` of the
multiset LP (one potential for all marginals; ``N <u, mu>`` is the certified dual value).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MMOTInputError
from ..problem import MMOTProblem

__all__ = ["ComotionMaps", "comotion_maps_1d", "comotion_from_solution", "kantorovich_potential"]


@dataclass(frozen=True)
class ComotionMaps:
    """Co-motion maps on the grid.

    Attributes
    ----------
    x : (l,) grid points (sorted).
    maps : (N, l) ``maps[k, s] = f_{k+1}(x_s)`` (``maps[0] = x``); ``nan`` where the plan has no mass.
    spread : (N, l) weighted standard deviation of the partner positions (0 for a deterministic map).
    mass : (l,) plan mass at each site (``N * mu`` for an exact plan).
    """

    x: np.ndarray
    maps: np.ndarray
    spread: np.ndarray
    mass: np.ndarray

    def deviations(self, reference: np.ndarray, min_mass: float = 0.0) -> np.ndarray:
        """``|maps[k, s] - reference[k, s]|`` for ``k >= 1`` over sites carrying more than ``min_mass``
        (flattened).  Near the wrap-around jump of ``f_k`` a discrete plan may sit on the other
        branch, so report quantiles as well as the maximum."""
        keep = self.mass > min_mass
        return np.abs(self.maps[1:, keep] - reference[1:, keep]).reshape(-1)


def comotion_maps_1d(problem: MMOTProblem, multisets: np.ndarray, weights: np.ndarray) -> ComotionMaps:
    """Co-motion maps of a 1D multiset plan (see the module docstring); vectorised."""
    if problem.dim != 1:
        raise MMOTInputError(f"co-motion maps on a line need d = 1, the problem has d = {problem.dim}")
    x_raw = problem.marginals[0].points[:, 0]
    order = np.argsort(x_raw, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    ms = np.asarray(multisets)
    w = np.asarray(weights, dtype=float)
    l, N = x_raw.size, ms.shape[1]
    # sort every configuration by coordinate, then work in grid (rank) order
    r = np.sort(rank[ms], axis=1)
    xs = x_raw[order]
    pos = xs[r]                                             # (K, N) sorted positions
    sites = r.reshape(-1)                                   # site at (m, j)
    wj = np.repeat(w, N)
    mass = np.bincount(sites, weights=wj, minlength=l)
    maps = np.full((N, l), np.nan)
    spread = np.full((N, l), np.nan)
    has = mass > 0
    for k in range(N):  # loop over the N maps only
        partner = np.roll(pos, -k, axis=1).reshape(-1)     # x_{m_{(j+k) mod N}}
        s1 = np.bincount(sites, weights=wj * partner, minlength=l)
        s2 = np.bincount(sites, weights=wj * partner ** 2, minlength=l)
        mean = np.divide(s1, mass, out=np.full(l, np.nan), where=has)
        var = np.divide(s2, mass, out=np.full(l, np.nan), where=has) - mean ** 2
        maps[k] = mean
        spread[k] = np.sqrt(np.maximum(var, 0.0))
    return ComotionMaps(x=xs, maps=maps, spread=spread, mass=mass)


def comotion_from_solution(sol) -> ComotionMaps:
    """Co-motion maps from a ``symmetric``/``colgen`` :class:`~mmot_models.Solution` (1D)."""
    info = getattr(sol, "info", {}) or {}
    if "multisets" not in info or sol.problem is None:
        raise MMOTInputError("co-motion extraction needs a multiset plan: solve with method='symmetric' or 'colgen'")
    return comotion_maps_1d(sol.problem, info["multisets"], info["multiset_weights"])


def kantorovich_potential(sol) -> np.ndarray:
    """The shared Kantorovich potential ``u`` (sites in the problem's order) of a symmetric solution."""
    if sol.potentials is None:
        raise MMOTInputError(f"this solution ({sol.method}, {sol.status.value}) carries no potential")
    return np.asarray(sol.potentials[0], dtype=float)
