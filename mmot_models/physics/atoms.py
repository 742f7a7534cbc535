"""Atoms from their radial densities: shipped or named densities, published SGS values, the memory of a
radial LP, co-motion functions and Kantorovich potentials, the certified variance lower bound, and the
support of a radial plan.

The driver that solves an atom (:func:`~mmot_models.studies.atoms.sce_energy`) lives above
:func:`mmot_models.solve` in :mod:`mmot_models.studies.atoms`; its figure
(:func:`~mmot_models.plotting.plot_atom`) in :mod:`mmot_models.plotting`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import MMOTInputError, ProblemTooLargeError
from ..solution import Solution
from .densities import RadialDensity, atomic_density
from .radial import (GRID_BYTES_PER_POINT, comotion_n2, potential_from_comotion, sce_value_n2, sgs_comotion,
                     sgs_value)

__all__ = ["PUBLISHED_SGS", "DEFAULT_POINTS", "comotion_functions", "kantorovich_potential", "variance_bound",
           "support_pairs", "radial_lp_bytes", "check_radial_fits"]


#: Published SGS (Seidl, Gori-Giorgi, Savin) V_ee^SCE values in hartree (upper bounds for N > 2).
PUBLISHED_SGS: dict[str, float] = {"He": 0.5517, "Be": 3.1517, "Ne": 46.06}
#: Default radial grid sizes per N for the LP (fast: seconds).
DEFAULT_POINTS: dict[int, int] = {2: 200, 3: 40, 4: 16}


def _density(atom: str | RadialDensity, n_electrons: int | None) -> RadialDensity:
    if isinstance(atom, RadialDensity):
        if n_electrons is not None and int(n_electrons) != atom.n_electrons:
            raise MMOTInputError(f"the density has {atom.n_electrons} electrons, not {n_electrons}")
        return atom
    return atomic_density(atom, n_electrons)


def _atom_label(atom: str | RadialDensity, density: RadialDensity) -> str:
    return atom if isinstance(atom, str) else density.name


def _published(label: str) -> float | None:
    for k, v in PUBLISHED_SGS.items():
        if k.lower() == label.strip().lower():
            return v
    return None



def variance_bound(density: RadialDensity) -> float:
    """Certified (weak) lower bound ``P sqrt((N-1) / (2 N Var))``, ``P = N(N-1)/2``, ``Var = <r^2>``
    of ``rho/N`` (mean 0 by symmetry); see :func:`mmot_models.physics.reference.variance_lower_bound`."""
    from .densities import _cell_integrals

    N = density.n_electrons
    edges = np.concatenate([[0.0], np.geomspace(1e-6, density.r_max, 4000)])
    var = float(np.sum(_cell_integrals(lambda r: r * r * density.radial_marginal(r), edges)))
    return N * (N - 1) / 2 * math.sqrt((N - 1) / (2 * N * var))



def radial_lp_bytes(n_points: int, n_electrons: int) -> int:
    """Least memory of any radial LP on ``n_points`` (integer arithmetic): the grid, plus the dense
    ``L x L`` pair-cost matrix (N = 2) or the enumerated multiset LP (N >= 3, N-ary cost)."""
    from ..formulations.multisets import multiset_count
    from ..formulations.standard_lp import LPSize

    L, N = int(n_points), int(n_electrons)
    grid = GRID_BYTES_PER_POINT * L
    if N == 2:
        return grid + 8 * L * L
    M = multiset_count(L, N, False)
    return grid + LPSize(M, L, M * N).bytes


def check_radial_fits(n_points: int, n_electrons: int, memory_limit: float | None = None,
                      gigabytes: bool = False) -> None:
    """Refuse, before the grid is built, a radial LP that cannot fit in memory (size and a way out)."""
    from ..formulations.standard_lp import MEMORY_FRACTION, available_memory_bytes, format_bytes, format_count

    if memory_limit is None:
        limit = int(MEMORY_FRACTION * available_memory_bytes())
    else:
        limit = int(float(memory_limit) * (2**30 if gigabytes else 1))
    need = radial_lp_bytes(n_points, n_electrons)
    if need > limit:
        what = "an L x L pair-cost matrix" if int(n_electrons) == 2 else "the enumerated multiset LP"
        raise ProblemTooLargeError(
            f"the radial LP on {format_count(n_points)} points needs {what} (~{format_bytes(need)}) but only "
            f"{format_bytes(limit)} may be used; use fewer points (default {DEFAULT_POINTS.get(int(n_electrons), 12)})"
            f" or method='comotion' (continuum co-motion value)")


# ----------------------------------------------------------------------------- co-motion and potential
def comotion_functions(density: RadialDensity, r: np.ndarray) -> np.ndarray:
    """Radial co-motion functions ``(N, m)`` at ``r``: the exact map for N=2, SGS for N>2."""
    if density.n_electrons == 2:
        return np.stack([np.asarray(r, dtype=float), comotion_n2(density, r)])
    return sgs_comotion(density, r)


def kantorovich_potential(density: RadialDensity, r: np.ndarray, value: float | None = None, n_quad: int = 4000,
                          **cost_options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kantorovich potential ``u(r)`` of the co-motion plan and ``-r^2 u'(r)`` (tends to ``N - 1``).

    ``value`` fixes the additive constant (``N int u lambda = V``; default: the co-motion value).
    """
    if value is None:
        value = sce_value_n2(density) if density.n_electrons == 2 else sgs_value(density, **cost_options)
    return potential_from_comotion(density, r, lambda s: comotion_functions(density, s), value, n_quad=n_quad,
                                   **cost_options)


def support_pairs(sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered radius pairs ``(r_i, r_j, weight)`` of the LP plan (the support of the pair density)."""
    if sol.plan_indices is None or sol.problem is None:
        raise MMOTInputError("this solution carries no plan")
    P = sol.pair_density(0, 1)
    a, b = np.nonzero(P > 1e-12)
    r = sol.problem.marginals[0].points[:, 0]
    return r[a], r[b], P[a, b]
