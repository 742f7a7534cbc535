"""Test-function families and the moment-constrained OT problem (MCOT): data only, nothing solved.

MCOT (Alfonsi, Coyaud, Ehrlacher, Lombardi) replaces the marginal constraints of optimal transport
by finitely many moments: a plan ``gamma`` must satisfy
``int phi_m(x_i) dgamma = int phi_m dmu_i`` for the test functions ``phi_m`` of marginal ``i``.
This package holds

* test-function *families*: objects that evaluate all their functions on an ``(m, d)`` array of
  points at once (``evaluate -> (m, n)``, ``evaluate_sparse -> csr``) -- piecewise constant on cells
  (:class:`Cells`), continuous piecewise affine hats on a 1D mesh (:class:`Hats1D`) or on a
  triangulated mesh in any dimension (:class:`HatsMesh`, via :class:`scipy.spatial.Delaunay`),
  the discontinuous piecewise affine pairs of the paper's section 5.2
  (:class:`DiscontinuousAffine1D`), the paper's regularised positive parts (6.2.2)-(6.2.3)
  (:class:`RegularisedRelu1D`), monomials (:class:`Monomials`) and user callables
  (:class:`CallableFamily`); :func:`family_from_spec` reads ``"hats:20"`` etc.;
* :class:`Density`: a marginal given by a density on a box (its moments are integrated by
  composite Gauss-Legendre quadrature aligned with the family's breakpoints, or by a collapsed
  Gauss rule on each simplex of a triangulated mesh);
* :class:`MCOTProblem`: marginals (densities, samples or :class:`~mmot_models.Marginal`), a cost,
  one family per marginal, and the options of the paper (symmetric averaged constraint, martingale
  test functions ``chi_l``, moment bound ``int sum_i theta(|x_i|) dgamma <= A``).

Modules: :mod:`~mmot_models.moment_functions.families` (test functions and quadrature boxes),
:mod:`~mmot_models.moment_functions.densities` (densities and moments),
:mod:`~mmot_models.moment_functions.mcot_problem` (the problem and configuration costs).
"""
from __future__ import annotations

from .densities import Density, integrate, moments_of
from .families import (FAMILY_NAMES, FD_STEP, QUAD_ORDER, CallableFamily, Cells, DiscontinuousAffine1D, Hats1D,
                       HatsMesh, Indicators, Monomials, RegularisedRelu1D, TestFamily, family_from_spec,
                       gauss_legendre_box)
from .mcot_problem import MCOTProblem, config_cost

__all__ = [
    "TestFamily", "Cells", "Hats1D", "HatsMesh", "DiscontinuousAffine1D", "RegularisedRelu1D", "Monomials",
    "CallableFamily", "Indicators", "family_from_spec", "FAMILY_NAMES", "Density", "MCOTProblem",
    "integrate", "moments_of", "config_cost", "gauss_legendre_box", "QUAD_ORDER", "FD_STEP",
]
