"""Jensen lower bound for positive semidefinite pair costs (``psd_lower_bound``), checked against
brute-force enumeration of its dual potential, the exact LP on HiGHS, and a direct sum of its formula."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.physics.reference import psd_lower_bound
from mmot_models.solution import Bound

#: slack of a dual-feasibility check done in floating point (costs are O(10))
FEAS_TOL = 1e-12
#: LP optimality tolerance of the HiGHS reference
LP_TOL = 1e-7
#: the bound must equal its closed form up to the rigorous charges (shift, rounding), which are tiny
FORMULA_RTOL = 1e-12


def _problem(seed: int, l: int, N: int, cost: mm.PairCost, d: int = 1) -> mm.MMOTProblem:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1, 1, size=(l, d))
    w = rng.dirichlet(np.full(l, 4.0))
    return mm.MMOTProblem.symmetric(mm.Marginal(pts, w, normalize=True), N, cost)


def _pair(cost: mm.PairCost, p: np.ndarray, q: np.ndarray) -> float:
    return float(cost.of_distance(np.array([np.linalg.norm(p - q)]))[0])


CASES = [(0, 6, 3, mm.SoftCoulomb(0.1), 1), (1, 5, 4, mm.SoftCoulomb(0.5), 2),
         (2, 6, 3, mm.GaussianCost(0.7), 1), (3, 5, 4, mm.Power(1.0), 1)]


@pytest.mark.parametrize("seed,l,N,cost,d", CASES)
def test_potential_is_dual_feasible_by_enumeration(seed, l, N, cost, d):
    """c(x_1..x_N) - sum_k u(x_k) >= 0 for every tuple, costs summed pair by pair from the cost function."""
    p = _problem(seed, l, N, cost, d)
    b = psd_lower_bound(p)
    assert b is not None
    pts = p.marginals[0].points
    mu = np.asarray(p.marginals[0].weights)
    assert N * float(b.potential @ mu) == pytest.approx(b.value, rel=1e-13, abs=1e-13)
    worst = math.inf
    for t in itertools.combinations_with_replacement(range(l), N):
        c = sum(_pair(cost, pts[i], pts[j]) for i, j in itertools.combinations(t, 2))
        worst = min(worst, c - sum(b.potential[i] for i in t))
    assert worst >= -FEAS_TOL


@pytest.mark.parametrize("seed,l,N,cost,d", CASES)
def test_below_the_exact_value(seed, l, N, cost, d):
    p = _problem(seed, l, N, cost, d)
    exact = mm.solve(p, method="symmetric")
    assert exact.status.ok
    assert psd_lower_bound(p).value <= exact.value + LP_TOL


def test_closed_form_for_a_psd_kernel():
    """Hartree minus self-interaction, summed directly (the kernel is positive definite: no shift)."""
    p = _problem(4, 7, 5, mm.SoftCoulomb(0.3))
    b = psd_lower_bound(p)
    pts, mu, N = p.marginals[0].points, np.asarray(p.marginals[0].weights), 5
    hartree = sum(mu[s] * mu[t] * _pair(p.cost, pts[s], pts[t]) for s in range(7) for t in range(7))
    self_term = sum(mu[s] * _pair(p.cost, pts[s], pts[s]) for s in range(7))
    ref = 0.5 * N * N * hartree - 0.5 * N * self_term
    assert b.lambda_min > 0 and b.value <= ref
    assert b.value == pytest.approx(ref, rel=FORMULA_RTOL)


def test_does_not_apply():
    assert psd_lower_bound(_problem(5, 6, 3, mm.Coulomb())) is None   # infinite diagonal on a grid
    a, c = _problem(6, 5, 2, mm.SoftCoulomb(0.2)).marginals[0], _problem(7, 5, 2, mm.SoftCoulomb(0.2)).marginals[0]
    assert psd_lower_bound(mm.MMOTProblem([a, c], mm.SoftCoulomb(0.2))) is None   # unequal marginals


def test_meanfield_brackets_and_colgen_falls_back_to_it():
    """meanfield reports [Jensen, product plan]; a colgen run that ends open reports Jensen's bound."""
    p = _problem(8, 12, 6, mm.SoftCoulomb(0.2))
    exact = mm.solve(p, method="symmetric")
    mf = mm.solve(p, method="meanfield")
    assert mf.bound == Bound.UPPER and mf.lower_bound <= exact.value + LP_TOL <= mf.upper_bound + 2 * LP_TOL
    assert mf.lower_bound == psd_lower_bound(p).value
    cg = mm.solve(p, method="colgen", time_limit=60)
    assert cg.status.ok and abs(cg.value - exact.value) <= LP_TOL * max(1.0, abs(exact.value))
    # heuristic pricing without the final exact check certifies nothing: the Jensen bound is the lower bound
    open_run = mm.solve(p, method="colgen", pricing="heuristic", certify=False, max_rounds=2)
    assert not open_run.status.ok and open_run.info["psd_lower_bound"] == mf.lower_bound
    assert open_run.lower_bound == mf.lower_bound <= exact.value + LP_TOL <= open_run.upper_bound + LP_TOL
