"""Column generation vs the enumerated multiset LP; pricers vs brute-force enumeration."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.algorithms.colgen import initial_columns, solve_colgen
from mmot_models.algorithms.pricing import price_bnb, price_local_search, reduced_cost_matrix
from mmot_models.costs import Coulomb, NaryCost, Power, SoftCoulomb
from mmot_models.formulations.symmetric import min_reduced_cost_enumerated, multiset_costs
from mmot_models.solve import solve

#: Agreement of colgen's certified value with the enumerated LP.
VALUE_TOL = 1e-8
#: Slack allowed in "lower <= exact <= upper" at every round (solver round-off).
ORDER_TOL = 1e-9
#: Agreement of pricers with brute force.
PRICE_TOL = 1e-10


def _problem(rng, l, N, d, cost, spiky=False):
    pts = rng.uniform(-2, 2, size=(l, d))
    w = rng.uniform(0.2, 1.0, size=l)
    if spiky:
        w[rng.integers(0, l, size=3)] *= 4
    for _ in range(100):  # cap every site at 0.9/N (Coulomb feasibility) and renormalise
        w = np.minimum(w / w.sum(), 0.9 / N)
    return mm.MMOTProblem.symmetric(mm.Marginal(pts, w, normalize=True), N, cost)


def _nary(N):
    def fn(X):
        c = X - X.mean(axis=1, keepdims=True)
        return 1.0 / (0.3 + np.einsum("mnd,mnd->m", c, c))
    return NaryCost(fn, N, name="inv_spread")


CASES = [
    (Coulomb(), 3, 30, 2, "enumerate"),
    (Coulomb(), 4, 14, 2, "bnb"),
    (SoftCoulomb(0.3), 4, 14, 1, "bnb"),
    (SoftCoulomb(0.2), 3, 25, 2, "heuristic"),
    (Power(1.0), 5, 9, 2, "auto"),
    (Coulomb(), 5, 12, 1, "heuristic"),
    (_nary(3), 3, 15, 2, "enumerate"),
]


@pytest.mark.parametrize("cost,N,l,d,pricing", CASES)
def test_colgen_reaches_enumerated_optimum_with_ordered_bounds(cost, N, l, d, pricing):
    rng = np.random.default_rng(50 + N * l + d)
    prob = _problem(rng, l, N, d, cost, spiky=True)
    ref = solve(prob, method="symmetric")
    assert ref.status == mm.Status.OPTIMAL
    sol = solve(prob, method="colgen", pricing=pricing, columns_per_round=max(5, l // 2))
    assert sol.status == mm.Status.OPTIMAL, sol.message
    assert abs(sol.value - ref.value) <= VALUE_TOL * max(1.0, abs(ref.value))
    assert sol.lower_bound <= ref.value + ORDER_TOL and ref.value <= sol.upper_bound + ORDER_TOL
    assert sol.max_marginal_error <= 1e-9
    assert sol.info["multiset_support"] <= l
    hist = sol.info["history"]
    assert hist, "history must record every round"
    for h in hist:
        assert h["upper"] >= ref.value - ORDER_TOL
        if h["lower"] is not None:
            assert h["lower"] <= ref.value + ORDER_TOL
        assert h["best_lower"] <= ref.value + ORDER_TOL
    # the expanded plan's cost, evaluated independently
    assert abs(prob.tuple_costs(sol.plan_indices) @ sol.plan_weights - sol.value) <= VALUE_TOL * max(1, sol.value)


def test_round_limit_gives_honest_upper_bound():
    rng = np.random.default_rng(8)
    prob = _problem(rng, 30, 3, 2, Coulomb(), spiky=True)
    ref = solve(prob, method="symmetric")
    sol = solve_colgen(prob, max_rounds=1, columns_per_round=2)
    assert sol.status == mm.Status.ITERATION_LIMIT
    assert sol.bound == mm.Bound.UPPER
    assert sol.upper_bound >= ref.value - ORDER_TOL
    assert sol.lower_bound <= ref.value + ORDER_TOL
    assert sol.gap > 0
    assert not sol.status.ok


def test_time_limit_status():
    rng = np.random.default_rng(9)
    prob = _problem(rng, 40, 3, 2, Coulomb(), spiky=True)
    sol = solve_colgen(prob, time_limit=1e-9)
    assert sol.status == mm.Status.TIME_LIMIT
    assert not sol.status.ok


def test_initial_columns_are_feasible_in_2d():
    rng = np.random.default_rng(10)
    prob = _problem(rng, 23, 4, 2, Coulomb(), spiky=True)
    ms = initial_columns(prob)
    assert np.all(np.diff(ms, axis=1) > 0)  # distinct sites: finite Coulomb cost
    assert np.all(np.isfinite(multiset_costs(prob, ms)))


@pytest.mark.parametrize("N,l,distinct", [(2, 9, True), (3, 12, True), (3, 10, False), (4, 9, False),
                                          (5, 11, True), (6, 8, False)])
def test_bnb_pricer_equals_brute_force(N, l, distinct):
    rng = np.random.default_rng(100 + N * l)
    x = np.sort(rng.uniform(-2, 2, l))
    cost = Coulomb() if distinct else SoftCoulomb(0.4)
    prob = mm.MMOTProblem.symmetric(mm.uniform(x), N, cost)
    u = (N - 1) * rng.uniform(0.3, 1.5, size=l)
    ref, _, _ = min_reduced_cost_enumerated(prob, u)
    B = reduced_cost_matrix(cost.matrix(x[:, None]), u, N, distinct)
    exact = price_bnb(B, N, distinct, n_best=7, incumbent=math.inf)
    assert exact.exact and abs(exact.lower - ref) <= PRICE_TOL
    assert abs(exact.rcs[0] - ref) <= PRICE_TOL if exact.rcs.size else ref >= 0
    # returned columns carry their true reduced costs
    if exact.rcs.size:
        true = multiset_costs(prob, exact.multisets) - u[exact.multisets].sum(axis=1)
        assert np.allclose(true, exact.rcs, atol=PRICE_TOL)
    # a tiny budget still returns a valid lower bound
    cut = price_bnb(B, N, distinct, n_best=7, node_budget=10, incumbent=math.inf)
    assert cut.lower <= ref + PRICE_TOL
    # the heuristic never reports a column below the true minimum, and reports true costs
    heur = price_local_search(B, N, distinct, np.empty((0, N), dtype=int), n_best=7, rng=rng)
    if heur.rcs.size:
        assert heur.rcs[0] >= ref - PRICE_TOL
        true = multiset_costs(prob, heur.multisets) - u[heur.multisets].sum(axis=1)
        assert np.allclose(true, heur.rcs, atol=1e-9)
        if distinct:
            assert np.all(np.diff(heur.multisets, axis=1) > 0)


@pytest.mark.parametrize("cost,N,l", [(SoftCoulomb(0.3), 3, 9), (SoftCoulomb(0.1), 4, 8), (Coulomb(), 3, 10),
                                      (Coulomb(), 4, 9)])
def test_qp_relaxation_bound_is_valid(cost, N, l):
    from mmot_models.algorithms.pricing import price_qp_bound
    rng = np.random.default_rng(7 * N + l)
    x = np.sort(rng.uniform(-2, 2, l))
    prob = mm.MMOTProblem.symmetric(mm.uniform(x), N, cost)
    for _ in range(5):
        u = (N - 1) * rng.uniform(0.2, 1.5, size=l)
        ref, _, _ = min_reduced_cost_enumerated(prob, u)
        q = price_qp_bound(cost.matrix(x[:, None]), u, N, prob.singular_diagonal)
        assert math.isfinite(q.lower) and q.lower <= ref + PRICE_TOL


def test_large_n_run_keeps_certified_bracket():
    """N=7 soft Coulomb: heuristic + budget-limited pricing; every certified bound stays below
    the exact optimum of the enumerated LP, and a final plan is returned."""
    l, N = 10, 7
    i = np.arange(1, l + 1)
    prob = mm.MMOTProblem.symmetric(mm.Marginal(np.linspace(0, 1, l), 0.2 + np.sin(np.pi * i / (l + 1)) ** 2,
                                                normalize=True), N, SoftCoulomb(0.1))
    ref = solve(prob, method="symmetric")
    sol = solve(prob, method="colgen", node_budget=2e3)
    assert sol.lower_bound <= ref.value + ORDER_TOL <= sol.upper_bound + 2 * ORDER_TOL
    assert sol.has_plan and sol.max_marginal_error <= 1e-9
    if sol.status == mm.Status.OPTIMAL:
        assert abs(sol.value - ref.value) <= VALUE_TOL * ref.value
    else:
        assert sol.bound == mm.Bound.UPPER


def test_nary_cost_too_large_for_enumeration_pricing():
    from mmot_models.errors import ProblemTooLargeError
    prob = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 400)), 5, _nary(5))
    with pytest.raises(ProblemTooLargeError, match="N-ary"):
        solve(prob, method="colgen")


@pytest.mark.slow
def test_colgen_matches_enumerated_lp_at_moderate_size():
    """2D Gaussian, N=4 on 7x7 sites (211,876 enumerated columns): same certified optimum."""
    prob = mm.MMOTProblem.symmetric(mm.gaussian(mm.box([-3, -3], [3, 3], [7, 7])), 4, "coulomb")
    ref = solve(prob, method="symmetric")
    sol = solve(prob, method="colgen", pricing="bnb")
    assert ref.status == mm.Status.OPTIMAL and sol.status == mm.Status.OPTIMAL
    assert abs(sol.value - ref.value) <= VALUE_TOL * ref.value
    assert all(h["best_lower"] <= ref.value + ORDER_TOL and h["upper"] >= ref.value - ORDER_TOL
               for h in sol.info["history"])
