"""Regression: a Pyomo model the user extends is solved and certified with every row's dual.

Before this layer, the documented extension path raised ``ValueError: (0, 2) is not in list`` for
N = 3, and for N = 2 reported ``optimal`` with an open gap or a lower bound of -1.667 after one added
row, because the added row's dual was never read.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.modeling.certify import CERT_REL_TOL

from .conftest import dense_reference

pyo = pytest.importorskip("pyomo.environ")

#: Agreement with the independent linprog reference.
AGREE_TOL = 1e-7
#: Mass forced onto one expensive configuration (binding: the optimum puts none there).
FORCED = 0.01


def _at(t):
    return lambda xs: 1.0 if xs == t else 0.0


@pytest.mark.parametrize("N", [2, 3])
def test_user_pyomo_row_is_certified(problems, N):
    prob = problems[N]
    x = prob.marginals[0].points[:, 0]
    t = (0,) * N                             # all particles on the leftmost site: expensive
    ref = dense_reference(prob, [(_at(tuple(x[list(t)])), FORCED, math.inf)])
    free = dense_reference(prob)
    assert ref > free + 1e-4
    m = mm.Model(prob, formulation="primal")
    pm = m.to_pyomo()
    pm.cap = pyo.Constraint(expr=pm.plan[t] >= FORCED)          # named index, any N
    sol = m.solve_pyomo(pm, solver="appsi_highs")
    assert sol.status == mm.Status.OPTIMAL, sol.message
    assert sol.gap <= CERT_REL_TOL * max(1.0, abs(sol.value))
    assert sol.lower_bound > free            # the added row's dual is read (else L <= free value)
    assert abs(sol.value - ref) <= AGREE_TOL
    assert sol.info["pyomo_rows_added"] == 1
    # the same row through the package's own API on HiGHS
    m2 = mm.Model(prob, formulation="primal")
    m2.add_constraint(m2.plan[t] >= FORCED, name="cap")
    assert abs(m2.solve().value - ref) <= AGREE_TOL


def test_user_row_with_new_variable_and_objective(problems):
    """A slack variable added in Pyomo becomes a certified column; the replaced objective is read."""
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    pm = m.to_pyomo()
    pm.s = pyo.Var(within=pyo.NonNegativeReals)
    pm.cap = pyo.Constraint(expr=pm.plan[0, 0] + pm.s >= FORCED)
    pm.obj.deactivate()
    pm.obj2 = pyo.Objective(expr=pm.obj.expr + 1e3 * pm.s)    # slack too dear to use
    sol = m.solve_pyomo(pm)
    x = prob.marginals[0].points[:, 0]
    ref = dense_reference(prob, [(_at((x[0], x[0])), FORCED, math.inf)])
    assert sol.status == mm.Status.OPTIMAL, sol.message
    assert sol.info["extra_columns"] == 1
    assert abs(sol.value - ref) <= AGREE_TOL


def test_symmetric_pyomo_names_and_solve(problems):
    prob = problems[3]
    m = mm.Model(prob, formulation="symmetric")
    m.add_constraint(m.plan.mass() <= 1.0, name="mass")
    pm = m.to_pyomo()
    assert (0, 1, 2) in pm.T and len(pm.marginal) == prob.sizes[0]
    assert "mass" in pm.user
    sol = m.solve_pyomo(pm)
    ref = dense_reference(prob)
    assert sol.status == mm.Status.OPTIMAL and abs(sol.value - ref) <= AGREE_TOL


def test_deactivated_marginal_row_is_not_assumed(problems):
    """Without all marginal rows the implied column bounds are not used; the bracket stays valid."""
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    pm = m.to_pyomo()
    pm.marginal[1, 0].deactivate()        # implied by the other rows: same optimum
    sol = m.solve_pyomo(pm)
    ref = dense_reference(prob)
    assert sol.lower_bound <= ref + AGREE_TOL
    assert abs(sol.value - ref) <= AGREE_TOL
    assert sol.info["pyomo_rows_deactivated"] == 1


def test_nonlinear_pyomo_row_is_refused(problems):
    m = mm.Model(problems[2], formulation="primal")
    pm = m.to_pyomo()
    pm.bad = pyo.Constraint(expr=pm.plan[0, 1] * pm.plan[1, 0] <= 0.01)
    with pytest.raises(mm.MMOTInputError, match="not linear"):
        m.solve_pyomo(pm)
