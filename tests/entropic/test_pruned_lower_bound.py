"""Issue 15: the entropic c-transform lower bound by pruned search (1D, N = 3, Coulomb-type costs).

Checked against the brute-force ``l^3`` c-transform (:func:`ctransform_lower_bound`) and the exact
LP optimum (enumerated symmetric LP on HiGHS) on small grids.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.entropic.api import solve_entropic
from mmot_models.entropic.lower_bound import pruned_ctransform_lower_bound, supports_pruned_bound
from mmot_models.entropic.plan import ctransform_lower_bound

#: Agreement of the pruned bound with the brute-force c-transform bound (same value, round-off).
BOUND_TOL = 1e-12
#: Round-off allowed in "lower bound <= LP optimum".
ORDER_TOL = 1e-9


def _problem(l: int, cost, seed: int) -> mm.MMOTProblem:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, size=l))
    w = 0.2 + np.exp(-x ** 2)
    return mm.MMOTProblem.symmetric(mm.Marginal(x, w, normalize=True), 3, cost)


@pytest.mark.parametrize("l,cost,seed", [(33, mm.Coulomb(), 1), (41, mm.SoftCoulomb(0.2), 2),
                                         pytest.param(70, mm.Coulomb(), 3, marks=pytest.mark.slow)])
def test_pruned_bound_equals_bruteforce_ctransform_and_is_below_lp(l, cost, seed):
    prob = _problem(l, cost, seed)
    ent = solve_entropic(prob, symmetric=False, tol=1e-7, upper_bound=False, plan=False)
    u = ent.potentials
    rng = np.random.default_rng(seed)
    lp = mm.solve(prob, method="symmetric").value
    x = prob.marginals[0].points[:, 0]
    perturbed = [v + rng.normal(scale=0.05, size=v.size) for v in u]
    wavy = [v + 0.3 * np.sin((5 + i) * x) for i, v in enumerate(u)]  # smooth, far from optimal
    for pots in (u, perturbed, wavy):
        ref = ctransform_lower_bound(prob, pots, math.inf)
        exact, info = pruned_ctransform_lower_bound(prob, pots, slack=0.0, start_level=3)
        assert info["complete"]
        assert abs(exact - ref) <= BOUND_TOL * max(1.0, abs(ref))
        lb, _ = pruned_ctransform_lower_bound(prob, pots)  # default slack: a little lower, never above
        assert ref - 1e-8 * max(1.0, abs(ref)) <= lb <= ref + BOUND_TOL * max(1.0, abs(ref))
        assert lb <= lp + ORDER_TOL * max(1.0, abs(lp))
    ref = ctransform_lower_bound(prob, u, math.inf)
    assert lp - ref <= 0.1 * lp  # the converged potentials give a useful bound (eps = 1% of the spread)


def test_pruned_bound_at_deadline_is_still_valid():
    prob = _problem(64, mm.Coulomb(), 5)
    u = solve_entropic(prob, symmetric=False, upper_bound=False, plan=False).potentials
    ref = ctransform_lower_bound(prob, u, math.inf)
    lb, info = pruned_ctransform_lower_bound(prob, u, deadline=0.0, start_level=3)  # every node left open
    assert not info["complete"] and info["open_nodes"] > 0
    assert lb <= ref + BOUND_TOL * max(1.0, abs(ref))


def test_solve_entropic_uses_pruned_bound_above_enumeration_limit():
    prob = _problem(48, mm.Coulomb(), 7)
    small = solve_entropic(prob, symmetric=False, plan=False)
    big = solve_entropic(prob, symmetric=False, plan=False, lower_bound_max_entries=1000)
    assert "lower_bound_search" in big.info and big.info["lower_bound_search"]["complete"]
    assert abs(big.lower_bound - small.lower_bound) <= 1e-8 * abs(small.lower_bound)
    assert big.lower_bound <= small.lower_bound + BOUND_TOL * abs(small.lower_bound)
    assert not supports_pruned_bound(mm.MMOTProblem.symmetric(prob.marginals[0], 3, mm.Power(1.0)))
