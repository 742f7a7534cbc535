"""Co-motion maps read off the LP plan vs the 1D closed form."""
from __future__ import annotations


import numpy as np
import pytest

import mmot_models as mm
from mmot_models.errors import MMOTInputError
from mmot_models.physics.comotion import comotion_from_solution, comotion_maps_1d, kantorovich_potential
from mmot_models.physics.reference import comotion_functions_1d
from mmot_models.solve import solve

#: Median deviation of the LP maps from the closed form, in grid spacings.
MEDIAN_DEV_H = 1.0
#: 90% quantile (the wrap-around jump of f_k may sit one branch off at a few sites).
Q90_DEV_H = 1.5



@pytest.mark.parametrize("name,N", [("uniform", 2), ("uniform", 3), ("gaussian", 3), ("gaussian", 4)])
def test_lp_comotion_maps_match_closed_form(name, N):
    pts = mm.line(0.0, 1.0, 36, midpoints=True) if name == "uniform" else mm.line(-4, 4, 36, midpoints=True)
    marg = mm.uniform(pts) if name == "uniform" else mm.gaussian(pts)
    sol = solve(mm.MMOTProblem.symmetric(marg, N, "coulomb"), method="symmetric")
    assert sol.status == mm.Status.OPTIMAL
    cm = comotion_from_solution(sol)
    x = pts[:, 0]
    h = x[1] - x[0]
    assert np.allclose(cm.maps[0], x)  # f_1 = identity
    assert np.allclose(cm.mass, N * marg.weights, atol=1e-9)  # every site is covered by the plan
    dev = cm.deviations(comotion_functions_1d(x, marg.weights, N)) / h
    assert np.median(dev) <= MEDIAN_DEV_H
    assert np.quantile(dev, 0.9) <= Q90_DEV_H
    # the potential is the certificate: N <u, mu> equals the optimal value
    u = kantorovich_potential(sol)
    assert abs(N * u @ marg.weights - sol.value) <= 1e-8 * max(1, sol.value)


def test_comotion_of_hand_made_plan():
    prob = mm.MMOTProblem.symmetric(mm.uniform([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), 3, "coulomb")
    ms = np.array([[0, 2, 4], [1, 3, 5]])
    cm = comotion_maps_1d(prob, ms, np.array([0.5, 0.5]))
    assert np.allclose(cm.maps[1], [2, 3, 4, 5, 0, 1])
    assert np.allclose(cm.maps[2], [4, 5, 0, 1, 2, 3])
    assert np.allclose(cm.spread, 0)


def test_comotion_needs_multiset_plan_and_1d():
    prob = mm.MMOTProblem.symmetric(mm.uniform(mm.box([0, 0], [1, 1], [2, 2])), 2, "coulomb")
    with pytest.raises(MMOTInputError, match="d = 1"):
        comotion_maps_1d(prob, np.array([[0, 1]]), np.array([1.0]))
    sol = solve(mm.MMOTProblem.symmetric(mm.uniform([0.0, 1.0, 2.0]), 2, "soft_coulomb"), method="primal")
    with pytest.raises(MMOTInputError, match="multiset plan"):
        comotion_from_solution(sol)
