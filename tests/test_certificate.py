"""The shared certificate (mmot_models.certificate), iterative refinement and the relative gap rule.

Regression cases of issue 12 section 2, each checked against an exact rational reference.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import mmot_models as mm
from mmot_models.certificate import dual_lower_bound, exact_dot, exact_row_residuals, plan_upper_bound
from mmot_models.costs import Coulomb
from mmot_models.solution import Bound, Solution, Status, certify_status
from tests.test_certificates_property import exact_optimum

#: Methods that certify both sides on a symmetric pair-cost problem.
TWO_SIDED = [("auto", {}), ("symmetric", {}), ("primal", {}), ("dual", {}), ("symmetric_dual", {}),
             ("colgen", {}), ("krep", {"k": 2})]
#: Relative gap of a closed bracket (run_lp's CERT_REL_TOL).
CLOSED_TOL = 1e-7
#: The closed-form optimum of the tiny-site instance: 2 * 2e-8 * 1e6 + 2 * (0.5 - 2e-8) * 1e-3.
TINY_SITE_OPT = 0.041


def tiny_site_problem(tiny: float = 2e-8) -> mm.MMOTProblem:
    pts = np.array([0.0, 1e-6, 1000.0])
    return mm.MMOTProblem.symmetric(mm.Marginal(pts, np.array([0.5, tiny, 0.5 - tiny])), 2, Coulomb())


@pytest.mark.parametrize("method,opts", TWO_SIDED)
def test_tiny_site_bracket_contains_and_closes_on_optimum(method, opts):
    """Issue 12: auto/symmetric returned 0.001, `optimal`, bracket [0.001, 0.001] (optimum 0.041)."""
    prob = tiny_site_problem()
    opt, _ = exact_optimum(prob)
    assert abs(float(opt) - TINY_SITE_OPT) < 1e-9
    sol = mm.solve(prob, method=method, **opts)
    assert Fraction(sol.lower_bound) <= opt <= Fraction(sol.upper_bound)
    assert sol.status == Status.OPTIMAL
    assert sol.gap <= CLOSED_TOL * float(opt)
    assert abs(sol.value - TINY_SITE_OPT) < 1e-8


@pytest.mark.parametrize("tiny", [2.0 ** -30, 2.0 ** -40])
def test_tiny_weights_never_give_inverted_or_wrong_brackets(tiny):
    """At weight 1e-9 several methods returned lower > upper (dyadic ~1e-9 and ~1e-12 here, so that the
    stored weights sum to exactly 1 and the exact LP on them is feasible)."""
    prob = tiny_site_problem(tiny)
    opt, _ = exact_optimum(prob)
    for method, opts in TWO_SIDED:
        sol = mm.solve(prob, method=method, **opts)
        assert sol.lower_bound <= sol.upper_bound, method
        assert Fraction(sol.lower_bound) <= opt <= Fraction(sol.upper_bound), method


def test_refinement_runs_on_the_tiny_site_and_not_on_friendly_data():
    sol = mm.solve(tiny_site_problem(), method="symmetric")
    ref = sol.info["refinement"]
    assert ref["rounds"] >= 1 and ref["before"]["primal"] > 1e-9 and ref["after"]["primal_rel"] < 1e-15
    assert sol.max_marginal_error < 1e-15
    friendly = mm.MMOTProblem.symmetric(mm.Marginal(np.linspace(0, 1, 6), np.full(6, 1 / 6)), 3, Coulomb())
    assert "refinement" not in mm.solve(friendly, method="symmetric").info


def test_refinement_on_pyomo_backend():
    pytest.importorskip("pyomo")
    prob = tiny_site_problem()
    opt, _ = exact_optimum(prob)
    sol = mm.solve(prob, method="symmetric", backend="pyomo")
    assert Fraction(sol.lower_bound) <= opt <= Fraction(sol.upper_bound)
    assert sol.status == Status.OPTIMAL and "refinement" in sol.info


def test_plan_with_residual_is_never_its_own_upper_bound():
    """The plan HiGHS returns for the tiny site (site 1e-6 unmatched) costs 0.001; the charge covers 0.041."""
    prob = tiny_site_problem()
    from mmot_models.formulations.symmetric import SymmetricPrimal
    lp = SymmetricPrimal().build(prob)
    # multisets (0,1), (0,2), (1,2) with costs 1e6, 1e-3, 1e-3: the residual plan puts everything on (0,2)
    x = np.array([0.0, 1.0, 4e-8])
    pb = plan_upper_bound(lp.c, lp.A, lp.row_lower, x)
    assert pb.residual_l1 > 0 and pb.bound > pb.cost
    opt, _ = exact_optimum(prob)
    assert Fraction(pb.bound) >= opt
    # an exactly feasible plan is charged nothing
    x_ok = np.array([4e-8, 1.0 - 4e-8, 0.0])
    pb_ok = plan_upper_bound(lp.c, lp.A, lp.row_lower, x_ok)
    assert np.abs(exact_row_residuals(lp.A, x_ok, lp.row_lower)).max() < 1e-16  # 1 - 4e-8 rounds
    assert pb_ok.bound < pb.bound and Fraction(pb_ok.bound) >= opt


def test_dual_lower_bound_survives_rounding_exactly():
    """Weak duality checked in exact arithmetic on ill-conditioned random data (potentials ~1e6)."""
    rng = np.random.default_rng(3)
    for _ in range(60):
        m, n = 4, 7
        A = sp.csc_matrix((rng.random((m, n)) < 0.6).astype(float))
        b = rng.random(m)
        y = rng.normal(size=m) * 10.0 ** rng.uniform(-3, 6)
        c = np.asarray(A.T @ y) + rng.normal(size=n) * 1e-9 * np.abs(y).max()
        db = dual_lower_bound(c, A, y, b, b, mass=1.0)
        Ad = A.toarray()
        red = [Fraction(float(c[j])) - sum(Fraction(float(Ad[i, j])) * Fraction(float(y[i])) for i in range(m))
               for j in range(n)]
        exact = sum(Fraction(float(y[i])) * Fraction(float(b[i])) for i in range(m)) + min(Fraction(0), min(red))
        assert Fraction(db.bound) <= exact


def test_exact_dot_is_correctly_rounded():
    a = np.array([1e16, 1.0, -1e16, 3.0])
    b = np.array([1.0, 1e-16, 1.0, 1.0])
    ex = sum(Fraction(float(u)) * Fraction(float(v)) for u, v in zip(a, b))
    assert exact_dot(a, b) == float(ex)


def test_optimality_tolerance_is_relative_below_one():
    """A value of 2.5e-7 was called optimal while 0.1 % off (old rule: gap <= tol * max(1, |value|))."""
    st, msg = certify_status(Status.OPTIMAL, 2.5e-7, 2.5e-7 * 1.001, 2.5e-7, 1e-7)
    assert st == Status.NUMERICAL_ERROR and "relative" in msg
    st, _ = certify_status(Status.OPTIMAL, 2.5e-7, 2.5e-7 * (1 + 1e-9), 2.5e-7, 1e-7)
    assert st == Status.OPTIMAL
    sol = Solution(value=2.5e-7, status=Status.OPTIMAL, method="x", backend="y", lower_bound=2.5e-7,
                   upper_bound=2.5e-7 * 1.001)
    assert sol.relative_gap == pytest.approx(1e-3, rel=1e-6)


def test_unfinished_run_is_never_labelled_exact():
    prob = mm.MMOTProblem.symmetric(mm.Marginal(np.linspace(0, 1, 12), np.full(12, 1 / 12)), 3, Coulomb())
    sol = mm.solve(prob, method="symmetric", solver_options={"simplex_iteration_limit": 1})
    assert sol.status != Status.OPTIMAL
    assert sol.bound != Bound.EXACT
    assert not (sol.value == 0.0 and sol.bound == Bound.EXACT)
    if math.isnan(sol.value):
        assert sol.bound == Bound.ESTIMATE
