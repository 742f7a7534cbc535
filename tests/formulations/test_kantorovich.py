"""Full-tensor Kantorovich primal and dual LPs: closed forms, POT, KKT certificates, properties."""
from __future__ import annotations

import numpy as np
import ot
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmot_models as mm
from mmot_models.algorithms.lp import solve_standard_lp
from mmot_models.formulations.kantorovich import KantorovichDual, KantorovichPrimal, dual_violation
from mmot_models.physics.reference import (cyclic_quantile_plan, mean_field_value, uniform_sce_value,
                                           variance_lower_bound)
from tests.conftest import random_marginal

VALUE_TOL = 1e-8        # agreement of two LP optima (solver tolerance ~1e-9 relative)
KKT_TOL = 1e-8          # primal/dual feasibility and complementarity
MARGINAL_TOL = 1e-9


@pytest.mark.parametrize("N, exact", [(2, 2.0), (3, 7.5)])
@pytest.mark.parametrize("method", ["primal", "dual"])
def test_uniform_midpoints_give_closed_form(N, exact, method):
    p = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 12, midpoints=True)), N, "coulomb")
    s = mm.solve(p, method=method)
    assert s.status is mm.Status.OPTIMAL
    assert abs(s.value - exact) < VALUE_TOL
    assert abs(uniform_sce_value(N) - exact) < 1e-12
    assert s.lower_bound <= exact + VALUE_TOL and s.upper_bound >= exact - VALUE_TOL
    assert s.max_marginal_error < MARGINAL_TOL


@pytest.mark.parametrize("cost", [mm.Coulomb(), mm.Power(2.0), mm.Power(1.0), mm.SoftCoulomb(0.5)],
                         ids=lambda c: c.kind + str(c.params()))
def test_two_marginals_match_pot(rng, cost):
    for _ in range(3):
        a, b = random_marginal(rng, 7, 2), random_marginal(rng, 9, 2)
        p = mm.MMOTProblem((a, b), cost)
        M = cost.matrix(a.points, b.points)
        M = np.where(np.isfinite(M), M, 1e6)  # random points never coincide; guard only
        ref = ot.emd2(a.weights, b.weights, M)
        for method in ("primal", "dual"):
            s = mm.solve(p, method=method)
            assert s.status is mm.Status.OPTIMAL
            assert abs(s.value - ref) < VALUE_TOL * max(1, abs(ref))


def test_highs_and_pyomo_agree(rng):
    for N, l in ((2, 6), (3, 5)):
        margs = tuple(random_marginal(rng, l) for _ in range(N))
        p = mm.MMOTProblem(margs, mm.SoftCoulomb(0.4))
        a = mm.solve(p, method="primal", backend="highs")
        b = mm.solve(p, method="primal", backend="pyomo")
        assert a.status is b.status is mm.Status.OPTIMAL
        assert abs(a.value - b.value) < VALUE_TOL
        assert b.backend.startswith("pyomo")
        assert abs(b.lower_bound - a.value) < VALUE_TOL


def _kkt(problem: mm.MMOTProblem) -> None:
    form = KantorovichPrimal()
    lp = form.build(problem)
    res = solve_standard_lp(lp, "highs")
    assert res.status is mm.Status.OPTIMAL
    x, y = res.x, res.row_dual
    # primal feasibility
    assert lp.primal_residual(x) < KKT_TOL
    # dual feasibility: reduced costs non-negative
    rc = lp.c - lp.A.T @ y
    assert rc.min() > -KKT_TOL
    # complementarity
    assert np.max(np.abs(x * rc)) < KKT_TOL
    # strong duality
    assert abs(lp.c @ x - lp.row_lower @ y) < KKT_TOL * max(1, abs(lp.c @ x))
    # the potentials are dual feasible over *all* finite-cost tuples, independently enumerated
    off = lp.meta["row_offsets"]
    pots = tuple(y[off[i]:off[i + 1]] for i in range(problem.n_marginals))
    assert dual_violation(problem, pots) < KKT_TOL


def test_kkt_certificates_random(rng):
    for N, l, d in ((2, 8, 1), (3, 5, 2), (4, 4, 1)):
        margs = tuple(random_marginal(rng, l, d, zero_frac=0.2) for _ in range(N))
        for cost in (mm.Coulomb(), mm.RepulsiveHarmonic(), mm.Yukawa(1.0)):
            _kkt(mm.MMOTProblem(margs, cost))


def test_dual_uses_one_potential_when_symmetric(rng):
    m = random_marginal(rng, 6)
    p = mm.MMOTProblem.symmetric(m, 3, mm.Coulomb())
    s = mm.solve(p, method="dual")
    assert all(np.array_equal(s.potentials[0], u) for u in s.potentials)
    assert s.info["n_cols"] == 6
    full = mm.solve(p, method="dual", shared_potential=False)
    assert full.info["n_cols"] == 18
    assert abs(s.value - full.value) < VALUE_TOL
    # the symmetrised plan has every marginal equal to mu
    assert s.max_marginal_error < MARGINAL_TOL


def test_cyclic_quantile_plan_is_optimal_in_1d(rng):
    """1D Coulomb: the cyclic quantile plan (closed form) attains the LP optimum on a grid."""
    x = mm.line(-3, 3, 40, midpoints=True)
    for N in (2, 3):
        for m in (mm.gaussian(x), mm.from_density(x, lambda t: 1 + np.sin(t) ** 2)):
            p = mm.MMOTProblem.symmetric(m, N, "coulomb")
            idx, w = cyclic_quantile_plan(m.weights, N)
            assert abs(w.sum() - 1) < 1e-12
            errs = mm.solution.marginal_errors(p, idx, w)
            assert errs.max() < 1e-12
            ref = float(p.tuple_costs(idx) @ w)
            s = mm.solve(p, method="primal")
            assert abs(s.value - ref) < VALUE_TOL * max(1, ref)


def test_general_nary_cost(rng):
    """A non-pair 3-body cost through the full tensor equals brute force over permutation plans."""
    m = mm.uniform(mm.line(0, 1, 3))
    cost = mm.NaryCost(lambda X: np.max(X[:, :, 0], axis=1) - np.min(X[:, :, 0], axis=1), n_body=3)
    p = mm.MMOTProblem.symmetric(m, 3, cost)
    s = mm.solve(p, method="primal")
    # uniform on 3 points: optimal plans mix permutation-type couplings; the minimum spread is
    # attained by putting all three on the same site (spread 0)
    assert abs(s.value - 0.0) < VALUE_TOL
    cost2 = mm.NaryCost(lambda X: -(np.max(X[:, :, 0], axis=1) - np.min(X[:, :, 0], axis=1)), n_body=3)
    s2 = mm.solve(mm.MMOTProblem.symmetric(m, 3, cost2), method="primal")
    # maximal spread 1 for every configuration: the plan on the 6 permutations of (0, 1/2, 1)
    assert abs(s2.value - (-1.0)) < VALUE_TOL


def test_too_large_is_refused_with_advice():
    p = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 200)), 4, "coulomb")
    with pytest.raises(mm.ProblemTooLargeError, match="symmetric"):
        mm.solve(p, method="primal", memory_limit_gb=1)
    with pytest.raises(mm.ProblemTooLargeError):
        mm.solve(p, method="dual", memory_limit_gb=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), N=st.integers(2, 4), l=st.integers(2, 5), d=st.integers(1, 2),
       cost_kind=st.sampled_from(["coulomb", "soft_coulomb", "power", "repulsive_harmonic"]))
def test_property_primal_equals_dual_and_brackets(seed, N, l, d, cost_kind):
    rng = np.random.default_rng(seed)
    margs = tuple(random_marginal(rng, l, d) for _ in range(N))
    p = mm.MMOTProblem(margs, cost_kind)
    primal = mm.solve(p, method="primal")
    dual = mm.solve(p, method="dual")
    assert primal.status is dual.status is mm.Status.OPTIMAL
    assert abs(primal.value - dual.value) < VALUE_TOL * max(1, abs(primal.value))
    assert primal.lower_bound <= dual.value + VALUE_TOL and dual.lower_bound <= primal.value + VALUE_TOL
    assert primal.max_marginal_error < MARGINAL_TOL and dual.max_marginal_error < MARGINAL_TOL
    # independent brackets: the product plan is feasible (upper bound)
    assert primal.value <= mean_field_value(p) + VALUE_TOL
    if cost_kind == "coulomb" and p.is_symmetric:
        assert primal.value >= variance_lower_bound(margs[0], N) - VALUE_TOL
