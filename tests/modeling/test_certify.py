"""The model certificate: safe lower bounds from any duals, upper bounds only from feasible plans."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.formulations.standard_lp import LPResult, StandardLP
from mmot_models.modeling.certify import (CERT_REL_TOL, certify, implied_column_upper, safe_lower_bound)
from mmot_models.modeling.model import assemble_solution

from .conftest import close_pairs, dense_reference

#: Size of the random dual perturbation (relative to the duals' scale).
PERTURB = 1e-3


def _exact_L(lp: StandardLP, y: np.ndarray, xu: np.ndarray) -> Fraction:
    """L(y) in exact rational arithmetic from the same floats (columns with finite bounds only)."""
    A = lp.A.tocsc()
    total = Fraction(0)
    yq = [Fraction(float(v)) for v in y]
    for i, v in enumerate(yq):
        lo, up = lp.row_lower[i], lp.row_upper[i]
        total += min(v * Fraction(float(lo)), v * Fraction(float(up))) if v != 0 else 0
    for j in range(lp.n_cols):
        z = Fraction(float(lp.c[j]))
        for p in range(A.indptr[j], A.indptr[j + 1]):
            z -= Fraction(float(A.data[p])) * yq[A.indices[p]]
        total += min(z * Fraction(float(lp.col_lower[j])), z * Fraction(float(xu[j])))
    return total


@pytest.mark.parametrize("formulation", ["primal", "symmetric"])
def test_perturbed_dual_gives_valid_finite_bound(problems, formulation):
    prob = problems[3]
    ref = dense_reference(prob)
    m = mm.Model(prob, formulation=formulation)
    sol = m.solve()
    lp = m.to_standard_lp()
    y = np.concatenate([sol.info["row_duals"][k] for k in m.blocks])
    xu = m.implied_col_upper()
    rng = np.random.default_rng(7)
    for _ in range(5):
        yp = y + PERTURB * np.abs(y).max() * rng.standard_normal(y.size)
        L = safe_lower_bound(lp, yp, col_upper=xu)
        assert math.isfinite(L) and L <= ref
        assert Fraction(L) <= _exact_L(lp, yp, xu)          # the float bound is below the exact one
        # without the implied bounds a dual-infeasible y certifies nothing
        z = lp.c - lp.A.T @ yp
        if z.min() < -1e-12:
            assert safe_lower_bound(lp, yp) == -math.inf
        else:
            assert safe_lower_bound(lp, yp) <= ref
    assert abs(safe_lower_bound(lp, y, col_upper=xu) - ref) <= 1e-7


def test_implied_bounds_hold_on_optimal_plans(problems):
    prob = problems[3]
    for form in ("primal", "symmetric"):
        m = mm.Model(prob, formulation=form)
        sol = m.solve()
        x = np.zeros(m.n_cols)
        if form == "primal":
            x[[m.plan.index(t) for t in sol.plan_indices.tolist()]] = sol.plan_weights
        else:
            x[[m.plan.index(t) for t in sol.info["multisets"].tolist()]] = sol.info["multiset_weights"]
        assert np.all(x <= m.implied_col_upper() * (1 + 1e-12) + 1e-15)
    # symmetric bound by hand: multiset (0, 0, 1) -> min(3 mu_0 / 2, 3 mu_1 / 1)
    mu = prob.marginals[0].weights
    got = implied_column_upper("symmetric", np.array([[0, 0, 1]]), [mu])
    assert got[0] == min(3 * mu[0] / 2, 3 * mu[1])


def test_plan_violating_a_user_row_has_no_upper_bound(problems):
    prob = problems[2]
    free = mm.Model(prob, formulation="symmetric").solve()
    m = mm.Model(prob, formulation="symmetric")
    e = m.plan.expectation(close_pairs, symmetric=True)
    m.add_constraint(e >= 0.9, name="close")       # the free optimum violates it
    lp = m.to_standard_lp()
    x = np.zeros(m.n_cols)
    x[[m.plan.index(t) for t in free.info["multisets"].tolist()]] = free.info["multiset_weights"]
    y = np.zeros(lp.n_rows)
    cert = certify(lp, x, y, row_name=m.row_name)
    assert cert.upper_bound == math.inf
    assert "block 'user' row 'close'" in cert.message
    # assembled: a backend claiming optimal with that plan is not believed
    res = LPResult(status=mm.Status.OPTIMAL, x=x, row_dual=y, col_dual=None, objective=float(lp.c @ x),
                   iterations=0, solver_time_s=0.0, backend="fake")
    sol = assemble_solution(m, lp, res, t0=0.0, col_upper=m.implied_col_upper())
    assert sol.status != mm.Status.OPTIMAL and sol.upper_bound == math.inf
    assert "close" in sol.message


def test_open_bracket_is_never_optimal(problems):
    """A backend's 'optimal' with duals that do not close the gap is downgraded."""
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    sol = m.solve()
    lp = m.to_standard_lp()
    x = np.zeros(m.n_cols)
    x[[m.plan.index(t) for t in sol.plan_indices.tolist()]] = sol.plan_weights
    res = LPResult(status=mm.Status.OPTIMAL, x=x, row_dual=np.zeros(lp.n_rows), col_dual=None, objective=0.0,
                   iterations=0, solver_time_s=0.0, backend="fake")
    out = assemble_solution(m, lp, res, t0=0.0, col_upper=m.implied_col_upper())
    assert out.status == mm.Status.NUMERICAL_ERROR
    assert out.lower_bound <= out.upper_bound and out.gap > CERT_REL_TOL
