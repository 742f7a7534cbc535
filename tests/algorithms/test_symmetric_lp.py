"""Symmetric multiset LP vs independent references: the full-tensor primal LP, the multiset dual,
POT's exact two-marginal solver, and brute force."""
from __future__ import annotations

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.costs import Coulomb, NaryCost, Power, SoftCoulomb
from mmot_models.errors import InfeasibleProblemError, MMOTInputError
from mmot_models.formulations.multisets import multiset_count
from mmot_models.formulations.symmetric import (SymmetricPrimal, dual_violation_symmetric,
                                                expand_multiset_plan, min_reduced_cost_enumerated)
from mmot_models.solution import marginal_errors
from mmot_models.solve import choose_method, solve

#: Agreement of optimal values between independent LPs.
VALUE_TOL = 1e-8
#: Marginal residual of returned plans.
MARGINAL_TOL = 1e-9
#: Agreement with POT's network simplex for N = 2.
EMD_TOL = 1e-8


def _marginal(rng: np.random.Generator, l: int, d: int, N: int) -> mm.Marginal:
    pts = rng.uniform(-2.0, 2.0, size=(l, d))
    w = rng.uniform(0.3, 1.0, size=l)
    for _ in range(100):  # cap every site at 0.95/N (Coulomb feasibility) and renormalise
        w = np.minimum(w / w.sum(), 0.95 / N)
    return mm.Marginal(pts, w, normalize=True)


def _nary_cost(N: int) -> NaryCost:
    # symmetric 3-body-ish cost: spread of the configuration (negative variance + pair repulsion)
    def fn(X: np.ndarray) -> np.ndarray:
        c = X - X.mean(axis=1, keepdims=True)
        spread = np.einsum("mnd,mnd->m", c, c)
        return 1.0 / (0.5 + spread) + 0.1 * np.abs(X[..., 0]).max(axis=1)
    return NaryCost(fn, N, symmetric=True, name="spread")


CASES = [
    # (cost factory, N, l, d)
    (lambda N: Coulomb(), 2, 7, 1),
    (lambda N: Coulomb(), 3, 7, 1),
    (lambda N: Coulomb(), 4, 7, 2),
    (lambda N: Coulomb(), 5, 6, 1),
    (lambda N: SoftCoulomb(0.3), 3, 6, 2),
    (lambda N: SoftCoulomb(0.5), 4, 5, 1),
    (lambda N: Power(1.5), 3, 6, 1),
    (lambda N: Power(1.0), 5, 4, 2),
    (_nary_cost, 3, 6, 1),
    (_nary_cost, 4, 5, 2),
]


@pytest.mark.parametrize("make_cost,N,l,d", CASES)
def test_symmetric_equals_full_tensor_and_dual(make_cost, N, l, d):
    rng = np.random.default_rng(1000 + 17 * N + l + d)
    prob = mm.MMOTProblem.symmetric(_marginal(rng, l, d, N), N, make_cost(N))
    full = solve(prob, method="primal")
    sym = solve(prob, method="symmetric")
    dual = solve(prob, method="symmetric_dual")
    for s in (full, sym, dual):
        assert s.status == mm.Status.OPTIMAL, s
    assert abs(sym.value - full.value) <= VALUE_TOL * max(1.0, abs(full.value))
    assert abs(dual.value - full.value) <= VALUE_TOL * max(1.0, abs(full.value))
    for s in (sym, dual):
        assert s.lower_bound <= full.value + VALUE_TOL and full.value <= s.upper_bound + VALUE_TOL
        assert s.max_marginal_error <= MARGINAL_TOL
        # the expanded plan's cost, evaluated independently, is the value
        cost = prob.tuple_costs(s.plan_indices) @ s.plan_weights
        assert abs(cost - s.value) <= VALUE_TOL * max(1.0, abs(s.value))
        # an optimal vertex of the multiset LP has at most l atoms
        assert s.info["multiset_support"] <= l
        assert abs(s.info["mass"] - 1.0) <= MARGINAL_TOL
        # the potential u (repeated N times) is dual feasible up to the reported violation
        u = s.potentials[0]
        assert dual_violation_symmetric(prob, u) <= 1e-7


@pytest.mark.parametrize("cost", [SoftCoulomb(0.2), Power(2.0), Coulomb()])
def test_n2_matches_pot_emd2(cost):
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(7)
    marg = _marginal(rng, 25, 2, 2)
    prob = mm.MMOTProblem.symmetric(marg, 2, cost)
    sol = solve(prob, method="symmetric")
    C = cost.matrix(marg.points)
    if not np.all(np.isfinite(C)):
        C = np.where(np.isfinite(C), C, 1e6)  # forbidden diagonal: prohibitive, not used at the optimum
    ref = ot.emd2(marg.weights, marg.weights, C, numItermax=10**7)
    assert sol.status == mm.Status.OPTIMAL
    assert abs(sol.value - ref) <= EMD_TOL * max(1.0, abs(ref))


def test_coulomb_drops_repeated_sites_and_support_bound():
    rng = np.random.default_rng(3)
    marg = _marginal(rng, 30, 1, 4)
    prob = mm.MMOTProblem.symmetric(marg, 4, "coulomb")
    sol = solve(prob, method="symmetric")
    assert sol.info["n_cols"] == multiset_count(30, 4, distinct=True)
    ms = sol.info["multisets"]
    assert np.all(np.diff(ms, axis=1) > 0)  # distinct sites only
    assert sol.info["multiset_support"] <= 30
    assert sol.status == mm.Status.OPTIMAL and sol.relative_gap <= 1e-9


def test_infeasible_coulomb_marginal_gives_clear_error():
    w = np.array([0.5, 0.2, 0.2, 0.1])  # site 0 heavier than 1/3
    prob = mm.MMOTProblem.symmetric(mm.Marginal(np.arange(4.0), w), 3, "coulomb")
    for method in ("symmetric", "symmetric_dual"):
        with pytest.raises(InfeasibleProblemError, match="1/N"):
            solve(prob, method=method)


def test_asymmetric_problem_rejected():
    a = mm.Marginal([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])
    b = mm.Marginal([0.0, 1.0, 2.0], [0.3, 0.3, 0.4])
    with pytest.raises(MMOTInputError, match="identical marginals"):
        solve(mm.MMOTProblem((a, b, b), "soft_coulomb"), method="symmetric")


def test_expansions_have_exact_marginals_and_cost():
    rng = np.random.default_rng(11)
    marg = _marginal(rng, 12, 1, 6)
    prob = mm.MMOTProblem.symmetric(marg, 6, SoftCoulomb(0.4))
    sol = solve(prob, method="symmetric", expand="cyclic")
    ms, w = sol.info["multisets"], sol.info["multiset_weights"]
    for how in ("cyclic", "symmetrize"):
        idx, wt = expand_multiset_plan(ms, w, how)
        assert marginal_errors(prob, idx, wt).max() <= MARGINAL_TOL
        assert abs(prob.tuple_costs(idx) @ wt - sol.value) <= VALUE_TOL * abs(sol.value)


def test_enumerated_pricing_matches_brute_force():
    rng = np.random.default_rng(5)
    marg = _marginal(rng, 9, 1, 3)
    prob = mm.MMOTProblem.symmetric(marg, 3, SoftCoulomb(0.5))
    u = rng.normal(size=9)
    best, ms, rc = min_reduced_cost_enumerated(prob, u, n_best=5, max_rows=17)  # tiny chunks
    C = SoftCoulomb(0.5).matrix(marg.points)
    brute = min(C[i, j] + C[i, k] + C[j, k] - u[i] - u[j] - u[k]
                for i in range(9) for j in range(i, 9) for k in range(j, 9))
    assert abs(best - brute) <= 1e-12
    assert rc.size == min(5, rc.size) and np.all(np.diff(rc) >= 0)
    if rc.size:
        assert abs(rc[0] - brute) <= 1e-12


def test_auto_picks_symmetric_for_small_and_colgen_for_large():
    from mmot_models.algorithms.symmetric import recommended_method
    small = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 40)), 3, "coulomb")
    big = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 300)), 4, "coulomb")
    assert recommended_method(small, 2**33, {"symmetric", "colgen"}) == "symmetric"
    assert recommended_method(big, 2**33, {"symmetric", "colgen"}) == "colgen"
    assert choose_method(small) == "symmetric"
