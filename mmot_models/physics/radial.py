"""Radial reduction of the Coulomb SCE problem for spherically symmetric densities in 3D.

For a radial density ``rho`` (``N`` electrons) the 3N-dimensional multi-marginal problem reduces
(Benamou, Carlier, Nenna, section 2.2) to an N-marginal problem on the half line for the radial
marginal ``lambda(r) = 4 pi r^2 rho(r) / N`` with the *effective radial cost*

.. math::
    \\tilde c(r_1, \\dots, r_N) = \\min_{u_1, \\dots, u_N \\in S^2}
        \\sum_{i<j} \\frac{1}{|r_i u_i - r_j u_j|},

a symmetric N-ary cost, so the package's symmetric multiset LP / column generation apply.

* ``N = 2``: antipodal electrons, ``c~ = 1/(r_1 + r_2)`` exactly (:func:`radial_cost_n2`,
  also as a pair cost :func:`radial_pair_cost`).  The optimal radial plan is the
  anti-monotone map ``f`` with ``Lambda(f(r)) = 1 - Lambda(r)`` and
  ``V = int_0^1 dt / (Q(t) + Q(1 - t))`` (:func:`sce_value_n2`, the independent reference).
* ``N = 3``: the electrons are coplanar with the nucleus; :func:`radial_cost_n3` minimises over
  two angles (coarse grid then damped Newton, vectorised; accuracy ``~1e-12`` relative,
  checked against brute-force angles and against the unconstrained 3D minimisation).
* general ``N``: :func:`radial_cost_general` minimises over unit vectors by batched projected
  gradient descent with Barzilai-Borwein steps and monotone backtracking, from many starts
  (a regular polygon, two greedy placements, random; :func:`default_starts`); the result is the
  energy of an actual configuration, hence an *upper* bound of ``c~``, converged to about
  ``1e-12`` relative at the local minimum reached (:data:`GENERAL_ACCURACY`).  Global: for N = 3, 4
  it agrees with the two-angle Newton / scipy multi-start to ``1e-12``; for N = 10 (Ne) the
  angular landscape has many local minima a few ``1e-4`` apart (relative): plain multi-start
  gives SGS Ne 46.0894 (8 starts), 46.0826 (64), 46.0819 (256, 150 s); along a curve of
  configurations the continuation sweeps of :func:`sgs_value` reach 46.0819 from 32 starts in 8 s.
  :class:`RadialCoulombCost` caches values per multiset of radii (vectorised lookup).

Grids (:func:`radial_grid`): ``"quantile"`` (equal-mass cells, points at the cell medians:
the N=2 anti-monotone map is exact on it), ``"uniform"`` or ``"graded"`` (finer towards the
nucleus, ``r = r_max (k/L)^p``); the marginal weights are the exact cell masses of ``lambda``
(the tail beyond the last edge is put into the last cell), so they sum to 1.

The SGS co-motion functions (Seidl, Gori-Giorgi, Savin, PRA 75, 042511 (2007)) are in
:func:`sgs_comotion`; with the effective cost they give a feasible radial plan whose value
(:func:`sgs_value`) is an upper bound of the SCE energy (exact for ``N = 2``).

Modules: grids in :mod:`~mmot_models.physics.radial_grid`, the effective cost in
:mod:`~mmot_models.physics.radial_cost`, co-motion functions, SGS values and potentials in
:mod:`~mmot_models.physics.radial_comotion`; this module gathers their public names.
"""
from __future__ import annotations

from .radial_comotion import (comotion_n2, potential_from_comotion, radial_force, sce_value_n2, sgs_comotion,
                              sgs_grid_plan, sgs_value)
from .radial_cost import (GENERAL_ACCURACY, N3_ACCURACY, RadialCoulombCost, default_starts, effective_radial_cost,
                          radial_cost, radial_cost_bruteforce, radial_cost_general, radial_cost_n2, radial_cost_n3,
                          radial_pair_cost)
from .radial_grid import GRID_BYTES_PER_POINT, RadialGrid, radial_grid, radial_marginal

__all__ = [
    "RadialGrid", "radial_grid", "radial_marginal", "radial_cost_n2", "radial_pair_cost", "radial_cost_n3",
    "radial_cost_general", "radial_cost_bruteforce", "radial_cost", "RadialCoulombCost", "effective_radial_cost",
    "comotion_n2", "sce_value_n2", "sgs_comotion", "sgs_value", "sgs_grid_plan", "radial_force",
    "potential_from_comotion",
    "GENERAL_ACCURACY", "N3_ACCURACY", "default_starts", "GRID_BYTES_PER_POINT",
]

