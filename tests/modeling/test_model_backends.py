"""The modelling snippet on every formulation x backend, with and without a user row, against linprog."""
from __future__ import annotations

import math

import numpy as np
import ot
import pytest

import mmot_models as mm
from mmot_models.modeling.certify import CERT_REL_TOL

from .conftest import close_pairs, close_pairs_scalar, dense_reference

#: Backends must agree with each other and with the reference to this (absolute, values are O(1..10)).
AGREE_TOL = 1e-7
BACKENDS = ("highs", "pyomo", "cvxpy")


def product_expectation(problem: mm.MMOTProblem) -> float:
    """E[close_pairs] under the independent coupling (a feasible plan): makes a >= row feasible."""
    x = problem.marginals[0].points[:, 0]
    w = problem.marginals[0].weights
    return float(w @ (np.abs(x[:, None] - x[None, :]) < 1.0) @ w)


def _threshold(problem: mm.MMOTProblem) -> float:
    return 0.9 * product_expectation(problem)


@pytest.mark.parametrize("N", [2, 3, 4])
@pytest.mark.parametrize("formulation", ["symmetric", "primal"])
def test_backends_agree_with_reference(problems, N, formulation):
    prob = problems[N]
    t = _threshold(prob)
    ref_free = dense_reference(prob)
    ref_row = dense_reference(prob, [(close_pairs_scalar, t, math.inf)])
    assert ref_row > ref_free + 1e-4, "the user row must bind for the test to mean anything"
    for with_row, ref in ((False, ref_free), (True, ref_row)):
        values = []
        for backend in BACKENDS:
            m = mm.Model(prob, formulation=formulation)
            if with_row:
                m.add_constraint(m.plan.expectation(close_pairs, symmetric=True) >= t, name="close")
            sol = m.solve(backend=backend)
            assert sol.status == mm.Status.OPTIMAL, (backend, sol.message)
            assert sol.gap <= CERT_REL_TOL * max(1.0, abs(sol.value))
            assert sol.lower_bound <= ref + AGREE_TOL and sol.upper_bound >= ref - AGREE_TOL
            assert abs(sol.value - ref) <= AGREE_TOL, (backend, with_row, sol.value, ref)
            values.append(sol.value)
        assert max(values) - min(values) <= AGREE_TOL, values


@pytest.mark.parametrize("N", [2, 3, 4])
@pytest.mark.parametrize("with_row", [False, True])
def test_issue_snippet_krep_cuts_moments_on_every_backend(problems, N, with_row, tmp_path):
    """The issue's snippet in this package's naming: a k = 2 pair-density model, order-3
    k-representability cuts (N >= 3), hat moment rows and a user row, on the three backends:
    closed brackets of the model's LP, agreement to 1e-7, and a certified lower bound of the
    exact value with the same user row (the row is a pair-density functional)."""
    prob = problems[N]
    t = _threshold(prob)
    exact = dense_reference(prob, [(close_pairs_scalar, t, math.inf)] if with_row else [])
    sols = []
    for backend in BACKENDS:
        m = mm.Model(prob, formulation="krep", k=2)
        if N >= 3:
            m.add(mm.KRepresentabilityCuts(k=3))
        m.add(mm.MomentRows(mm.hats(4)))
        if with_row:
            m.add_constraint(m.plan.expectation(close_pairs, symmetric=True) >= t, name="close")
        sol = m.solve(backend=backend)
        if backend == "highs":
            m.write(str(tmp_path / "model.mps"))
            assert "krep_cuts" in (tmp_path / "model.mps").read_text() or N == 2
        assert sol.status == mm.Status.OPTIMAL, (backend, sol.message)
        assert sol.info["lp_upper"] - sol.info["lp_lower"] <= CERT_REL_TOL * max(1.0, abs(sol.value))
        assert sol.bound == (mm.Bound.EXACT if N == 2 else mm.Bound.LOWER)
        assert sol.lower_bound <= exact + AGREE_TOL
        if N == 2:
            assert abs(sol.value - exact) <= AGREE_TOL
        sols.append(sol)
    values = [s.value for s in sols]
    assert max(values) - min(values) <= AGREE_TOL, values


def test_n2_without_rows_matches_emd2(problems):
    prob = problems[2]
    M = prob.pair_matrix(0, 1)
    w = prob.marginals[0].weights
    ref = float(ot.emd2(w, w, M))
    for form in ("primal", "symmetric"):
        sol = mm.Model(prob, formulation=form).solve()
        assert sol.status == mm.Status.OPTIMAL
        assert abs(sol.value - ref) <= AGREE_TOL


def test_nonsymmetric_f_is_averaged_in_symmetric_formulation(problems):
    """Symmetric formulation: E of a non-symmetric f is taken under the symmetrised plan (mean over N!)."""
    import itertools

    prob = problems[3]
    m = mm.Model(prob, formulation="symmetric")
    e = m.plan.expectation(lambda P: (P[:, 0, 0] < P[:, 1, 0]).astype(float))
    x = prob.marginals[0].points[:, 0]
    perms = list(itertools.permutations(range(3)))
    want = np.array([np.mean([x[col[p[0]]] < x[col[p[1]]] for p in perms]) for col in m.columns.tolist()])
    assert np.array_equal(e.coef, want)
    # and the primal formulation takes f as it is
    mp = mm.Model(prob, formulation="primal")
    ep = mp.plan.expectation(lambda P: (P[:, 0, 0] < P[:, 1, 0]).astype(float))
    assert np.array_equal(ep.coef, (x[mp.columns[:, 0]] < x[mp.columns[:, 1]]).astype(float))


@pytest.mark.parametrize("solver", ["CLARABEL", "SCS"])
def test_cvxpy_interior_and_first_order_solvers_certify(problems, solver):
    """Non-simplex cvxpy solvers get tight default tolerances so the 1e-9 plan check passes."""
    pytest.importorskip("cvxpy")
    prob = problems[3]
    t = _threshold(prob)
    ref = dense_reference(prob, [(close_pairs_scalar, t, math.inf)])
    m = mm.Model(prob, formulation="symmetric")
    m.add_constraint(m.plan.expectation(close_pairs, symmetric=True) >= t, name="close")
    sol = m.solve(backend="cvxpy", solver=solver, time_limit=30)
    assert sol.status == mm.Status.OPTIMAL, sol.message
    assert abs(sol.value - ref) <= AGREE_TOL and sol.lower_bound <= ref + AGREE_TOL
