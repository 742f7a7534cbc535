"""k-representability hierarchy: ordering against the exact full-tensor LP, certificates, cuts, two-site
closed form, and a second backend (cvxpy) for the same LP."""
from __future__ import annotations

import math

import numpy as np
import ot
import pytest

from mmot_models import MMOTInputError, MMOTProblem, Marginal, SoftCoulomb, solve
from mmot_models.formulations.krep import (KRepresentability, bipartition_rhs, bipartition_rows,
                                           pair_density_of_plan)
from mmot_models.formulations.multisets import multisets
from mmot_models.physics.two_site import (two_site_krep_per_pair, two_site_krep_value,
                                          two_site_mean_field_per_pair, two_site_problem)
from mmot_models.solution import Bound, Status

#: Absolute tolerance for comparing LP optima solved to HiGHS default tolerances.
LP_TOL = 1e-7
#: Tolerance between the HiGHS LP and the same LP on cvxpy/Clarabel (interior point, tol 1e-10).
CVXPY_TOL = 1e-6
#: Tolerance of the two-site closed form vs. the LP.
TWO_SITE_TOL = 1e-8

COSTS = ["coulomb", {"kind": "soft_coulomb", "a": 0.3}, {"kind": "yukawa", "k": 1.0}]


def random_problem(seed: int, l: int, N: int, cost, d: int = 1) -> MMOTProblem:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-2, 2, size=(l, d))
    w = rng.dirichlet(np.full(l, 8.0))
    # keep every site below 1/(N+1) so that V_{N+1} is finite under Coulomb too
    w = np.minimum(w, 0.9 / (N + 1))
    return MMOTProblem.symmetric(Marginal(pts, w, normalize=True), N, cost, name=f"random-{seed}")


@pytest.mark.parametrize("seed,l,N,cost", [
    (0, 7, 3, COSTS[0]), (1, 6, 4, COSTS[0]), (2, 7, 3, COSTS[1]), (3, 6, 4, COSTS[1]),
    (4, 5, 5, COSTS[1]), (5, 6, 3, COSTS[2]), (6, 6, 4, {"kind": "soft_coulomb", "a": 1.0}), (7, 6, 3, {"kind": "power", "p": 1.0}),
])
def test_hierarchy_brackets_exact(seed, l, N, cost):
    p = random_problem(seed, l, N, cost, d=1 + seed % 2)
    exact = solve(p, method="primal")
    assert exact.status == Status.OPTIMAL
    vals = []
    for k in range(2, N + 2):
        s = solve(p, method="krep", k=k)
        assert s.status == Status.OPTIMAL, s.message
        vals.append(s.value)
        # certified bracket of the exact value, per direction
        assert s.lower_bound <= exact.value + LP_TOL
        assert s.upper_bound >= exact.value - LP_TOL
        if k < N:
            assert s.bound == Bound.LOWER and s.upper_bound == math.inf
            assert s.value <= exact.value + LP_TOL
        elif k == N:
            assert s.bound == Bound.EXACT
            assert abs(s.value - exact.value) <= LP_TOL * max(1, abs(exact.value))
            assert s.gap <= LP_TOL * max(1, abs(exact.value))
        else:
            assert s.bound == Bound.UPPER and s.lower_bound == -math.inf
            assert s.value >= exact.value - LP_TOL
        # V_k itself is bracketed by its own certificate
        assert s.info["vk_lower"] <= s.value + LP_TOL <= s.info["vk_upper"] + 2 * LP_TOL
    assert all(a <= b + LP_TOL for a, b in zip(vals, vals[1:])), vals


def test_k_equals_n_plan_is_feasible_and_matches_its_value():
    p = random_problem(11, 6, 3, COSTS[1])
    s = solve(p, method="krep", k=3)
    assert s.has_plan
    for m in s.marginals():
        np.testing.assert_allclose(m, p.marginals[0].weights, atol=1e-9)
    assert abs(float(p.tuple_costs(s.plan_indices) @ s.plan_weights) - s.value) <= LP_TOL


def test_n2_matches_pot_emd2():
    p = random_problem(12, 9, 2, COSTS[1])
    C = p.pair_matrix(0, 0)
    mu = np.asarray(p.marginals[0].weights)
    ref = ot.emd2(mu, mu, C)
    s = solve(p, method="krep", k=2)
    assert s.bound == Bound.EXACT
    assert abs(s.value - ref) <= LP_TOL


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7, 10, 16])
def test_two_site_closed_form_many_t(k):
    u_diag, u_ab, N = 1.0, 0.35, 4
    for t in np.linspace(0.0, 1.0, 13):
        s = solve(two_site_problem(float(t), N, u_diag, u_ab), method="krep", k=k)
        assert s.status == Status.OPTIMAL
        assert abs(s.value - two_site_krep_value(k, float(t), N, u_diag, u_ab)) <= TWO_SITE_TOL
        # the optimal law of n_A sits on the two integers next to k(1-t)
        ms, w = s.info["multisets"], s.info["multiset_weights"]
        nA = (ms == 0).sum(axis=1)[w > 1e-9]
        m = k * (1 - t)
        assert np.all(np.abs(nA - m) < 1.0 + 1e-9), (k, t, nA)


def test_two_site_approaches_mean_field_from_below():
    t, u_diag, u_ab = 0.3, 1.0, 0.2
    per_pair = [two_site_krep_per_pair(k, t, u_diag, u_ab) for k in (2, 5, 20, 100, 1000)]
    mf = two_site_mean_field_per_pair(t, u_diag, u_ab)
    assert all(a <= b + 1e-15 for a, b in zip(per_pair, per_pair[1:]))
    assert all(v <= mf + 1e-15 for v in per_pair)
    assert mf - per_pair[-1] < 1e-3
    # 2-rep: the off-diagonal mass can be 2 min(t, 1-t) (a coupling of mu with itself)
    assert two_site_krep_per_pair(2, t, u_diag, u_ab) == pytest.approx(u_diag - (u_diag - u_ab) * 2 * min(t, 1 - t))


def test_bipartition_rows_match_pair_density():
    rng = np.random.default_rng(3)
    l, k = 5, 4
    ms = multisets(l, k)
    w = rng.dirichlet(np.ones(ms.shape[0]))
    P = pair_density_of_plan(ms, w, l)
    assert abs(P.sum() - 1) < 1e-12
    signs = rng.choice([-1.0, 1.0], size=(6, l))
    direct = np.einsum("ri,ij,rj->r", signs, P, signs)
    np.testing.assert_allclose(bipartition_rows(ms, signs) @ w, direct, atol=1e-12)
    # every k-body configuration satisfies its own order-k inequality
    assert np.all(direct >= bipartition_rhs(k) - 1e-12)
    assert bipartition_rhs(3) == pytest.approx(-1 / 3)


@pytest.mark.parametrize("seed,l,N,cuts", [(21, 7, 3, 3), (22, 6, 4, True), (23, 6, 4, 3), (24, 6, 5, True)])
def test_cuts_are_valid_and_tighten(seed, l, N, cuts):
    p = random_problem(seed, l, N, COSTS[1])
    exact = solve(p, method="primal").value
    plain = solve(p, method="krep", k=2)
    cut = solve(p, method="krep", k=2, cuts=cuts)
    assert cut.status == Status.OPTIMAL, cut.message
    assert cut.bound == Bound.LOWER
    assert plain.value - LP_TOL <= cut.value <= exact + LP_TOL
    assert cut.lower_bound <= exact + LP_TOL


def test_cuts_strictly_tighten_gaussian_example():
    """The slides' bipartition inequality (K = 3) on a 3-electron Gaussian density: a strict gain."""
    from mmot_models import gaussian, line

    p = MMOTProblem.symmetric(gaussian(line(-3, 3, 10, midpoints=True)), 3, "coulomb")
    v2 = solve(p, method="krep", k=2).value
    v2c = solve(p, method="krep", k=2, cuts=3)
    exact = solve(p, method="primal").value
    assert v2c.info["cuts_added"] > 0
    assert v2c.value >= v2 + 0.1 * (exact - v2)
    assert v2c.value <= exact + LP_TOL


@pytest.mark.parametrize("k", [2, 3])
def test_cvxpy_backend_matches_highs(k):
    p = random_problem(31, 7, 3, COSTS[0])
    h = solve(p, method="krep", k=k)
    c = solve(p, method="krep", k=k, backend="cvxpy")
    assert c.backend.startswith("cvxpy")
    assert c.status == Status.OPTIMAL, c.message
    assert abs(h.value - c.value) <= CVXPY_TOL
    # the certified bound from cvxpy's duals is valid and tight
    assert c.info["vk_lower"] <= h.value + LP_TOL
    assert h.value - c.info["vk_lower"] <= CVXPY_TOL


def test_coulomb_k_above_capacity_is_infinite_upper_bound():
    p = MMOTProblem.symmetric(Marginal(np.arange(4.0)[:, None], np.full(4, 0.25)), 3, "coulomb")
    s = solve(p, method="krep", k=5)
    assert s.value == math.inf and s.bound == Bound.UPPER and s.status == Status.INFEASIBLE


def test_bad_inputs():
    p = random_problem(41, 5, 3, COSTS[1])
    with pytest.raises(MMOTInputError):
        solve(p, method="krep", k=1)
    with pytest.raises(MMOTInputError):
        solve(p, method="krep", k=3, cuts=True)
    with pytest.raises(MMOTInputError):
        solve(p, method="krep", k=2, cuts=7)
    q = MMOTProblem((p.marginals[0], Marginal(np.arange(5.0)[:, None], np.full(5, 0.2))), SoftCoulomb(0.3))
    with pytest.raises(MMOTInputError):
        solve(q, method="krep", k=2)
    with pytest.raises(MMOTInputError):
        KRepresentability(2).build(q)


def test_pyomo_backend_matches_highs():
    p = random_problem(51, 6, 3, COSTS[1])
    h = solve(p, method="krep", k=2)
    q = solve(p, method="krep", k=2, backend="pyomo")
    assert q.status == Status.OPTIMAL, q.message
    assert abs(h.value - q.value) <= LP_TOL
