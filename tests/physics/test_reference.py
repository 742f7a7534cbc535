"""Closed forms of the 1D theory and cheap bounds."""
from __future__ import annotations

import numpy as np
from scipy import integrate, stats

import mmot_models as mm
from mmot_models.physics.reference import (comotion_functions_1d, cyclic_quantile_plan, mean_field_value,
                                           sce_value_1d, uniform_sce_value, variance_lower_bound)

QUAD_TOL = 1e-6


def test_uniform_values():
    assert uniform_sce_value(2) == 2.0 and uniform_sce_value(3) == 7.5
    for N in (2, 3, 4, 5):
        assert abs(sce_value_1d(lambda t: t, N) - uniform_sce_value(N)) < QUAD_TOL


def test_gaussian_n2_against_quadrature():
    """N=2 Gaussian: f(x) = -x (symmetric density), so V = E[1/(2|x|)] ... = integral by scipy."""
    # with Q the standard normal quantile: V = int_0^1 1/|Q(t+1/2) - Q(t)| dt
    ref, _ = integrate.quad(lambda t: 1.0 / abs(stats.norm.ppf((t + 0.5) % 1.0) - stats.norm.ppf(t)), 0, 1,
                            limit=400, points=[0.5])
    assert abs(sce_value_1d(stats.norm.ppf, 2, n_quad=200000) - ref) < 1e-4


def test_comotion_functions_uniform_are_cyclic_shifts():
    x = np.linspace(0, 1, 1001)
    f = comotion_functions_1d(x, np.ones_like(x), 3)
    assert np.allclose(f[0], x, atol=1e-12)
    assert np.allclose(f[1], np.mod(x + 1 / 3, 1.0), atol=1e-9)
    assert np.allclose(f[2], np.mod(x + 2 / 3, 1.0), atol=1e-9)


def test_cyclic_plan_atoms_are_distinct_sites():
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 1, 17)
    w /= w.sum()
    for N in (2, 3, 5):
        idx, lam = cyclic_quantile_plan(w, N)
        assert np.all(np.diff(np.sort(idx, axis=1), axis=1) > 0)
        for k in range(N):
            assert np.allclose(np.bincount(idx[:, k], weights=lam, minlength=17), w, atol=1e-12)


def test_mean_field_and_variance_bounds_bracket():
    m = mm.gaussian(mm.line(-3, 3, 30))
    p = mm.MMOTProblem.symmetric(m, 2, mm.SoftCoulomb(0.5))
    s = mm.solve(p, method="primal")
    assert s.value <= mean_field_value(p) + 1e-9
    c = mm.MMOTProblem.symmetric(m, 3, "coulomb")
    assert mean_field_value(c) == np.inf
    assert variance_lower_bound(m, 3) <= mm.solve(c, method="primal").value
    assert variance_lower_bound(m, 3) >= 3 * 2 / (4 * np.sqrt(m.variance()))  # dominates the simple form
