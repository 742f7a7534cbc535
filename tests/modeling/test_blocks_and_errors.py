"""Blocks (moment rows, occupation bounds), names and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm

from .conftest import dense_reference

AGREE_TOL = 1e-7


def test_moment_rows_hold_and_keep_the_optimum(problems):
    prob = problems[2]
    ref = dense_reference(prob)
    for form in ("primal", "symmetric"):
        m = mm.Model(prob, formulation=form)
        m.add(mm.MomentRows(mm.hats(4)))
        info = m.blocks["moment"]
        n_fun = 5
        assert info.rows.stop - info.rows.start == (2 * n_fun if form == "primal" else n_fun)
        sol = m.solve()
        assert sol.status == mm.Status.OPTIMAL and abs(sol.value - ref) <= AGREE_TOL
    # the targets are the hat moments of mu, computed here by hand (hats on 4 cells of [-2, 2])
    x, w = prob.marginals[0].points[:, 0], prob.marginals[0].weights
    nodes = np.linspace(-2, 2, 5)
    hats = np.maximum(0.0, 1.0 - np.abs(x[:, None] - nodes[None, :]) / 1.0)
    lp = m.to_standard_lp()
    assert np.allclose(lp.row_lower[info.rows], w @ hats, rtol=0, atol=1e-15)


def test_occupation_bound_against_reference(problems):
    prob = problems[3]
    S = [0, 1, 2]                       # the three sites left of 0
    g = lambda xs: 1.0 if sum(v < 0 for v in xs) >= 2 else 0.0
    m0 = mm.Model(prob, formulation="symmetric")
    free = m0.solve()
    inside = np.isin(free.plan_indices, S).sum(axis=1) >= 2
    u = 0.9 * float(free.plan_weights[inside].sum())
    ref = dense_reference(prob, [(g, -math.inf, u)])
    assert ref > free.value + 1e-6
    for form in ("symmetric", "primal"):
        m = mm.Model(prob, formulation=form)
        m.add(mm.OccupationBounds(S, upper=u))
        sol = m.solve()
        assert sol.status == mm.Status.OPTIMAL and abs(sol.value - ref) <= AGREE_TOL


def test_add_cost_and_indexing(problems):
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    m.add_cost(-5.0 * m.plan[(0, 0)])         # reward mass at (0, 0): optimum moves there
    sol = m.solve()
    ref = dense_reference(prob)  # value without the reward
    assert sol.status == mm.Status.OPTIMAL and sol.value < ref
    assert m.plan.index((0, 0)) == 0 and m.plan.index((1, 0)) == prob.sizes[0]


def test_errors(problems):
    prob = problems[3]
    m = mm.Model(prob, formulation="symmetric")
    with pytest.raises(mm.MMOTInputError, match="formulation='primal'"):
        m.add(mm.MomentRows("hats:4", marginals=[1]))
    other = mm.Model(prob, formulation="symmetric")
    with pytest.raises(mm.MMOTInputError, match="another model"):
        m.add_constraint(other.plan.mass() <= 1)
    with pytest.raises(mm.MMOTInputError, match="unknown backend"):
        m.solve(backend="gurobi")
    with pytest.raises(mm.MMOTInputError, match="unknown formulation"):
        mm.Model(prob, formulation="dual-ish")
    with pytest.raises(mm.MMOTInputError, match="exists already"):
        m.add_constraint(m.plan.mass() <= 1, name="a")
        m.add_constraint(m.plan.mass() <= 1, name="a")
    with pytest.raises(mm.MMOTInputError, match="sites"):
        m.add(mm.OccupationBounds([99], upper=0.1))
    with pytest.raises(mm.MMOTInputError, match="one value per column"):
        m.plan.expectation(np.ones(3))
    with pytest.raises(mm.MMOTInputError, match=".mps or .lp"):
        m.write("model.txt")
    with pytest.raises(mm.MMOTInputError, match="no truth value"):
        bool(m.plan.mass() <= 1)
    with pytest.raises(mm.MMOTInputError, match="not a variable"):
        mm.Model(mm.MMOTProblem.symmetric(prob.marginals[0], 2, mm.Coulomb()), formulation="primal").plan[(1, 1)]
    unequal = mm.MMOTProblem((prob.marginals[0], mm.uniform(prob.marginals[0].points)), mm.SoftCoulomb(0.5))
    with pytest.raises(mm.MMOTInputError, match="formulation='primal'"):
        mm.Model(unequal, formulation="symmetric")


def test_write_mps_and_lp(problems, tmp_path):
    highspy = pytest.importorskip("highspy")
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    m.add_constraint(m.plan[(0, 0)] >= 0.01, name="cap")
    want = m.solve().value
    for ext in ("mps", "lp"):
        path = tmp_path / f"model.{ext}"
        m.write(str(path))
        text = path.read_text()
        assert "user_cap" in text and "marginal_1_0" in text
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.readModel(str(path))
        h.run()
        assert abs(h.getInfo().objective_function_value - want) <= AGREE_TOL


def test_pyomo_and_cvxpy_stay_lazy():
    import subprocess
    import sys
    code = "import sys, mmot_models as mm; mm.Model; print('pyomo' in sys.modules, 'cvxpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cvxpy_blocks_keep_their_duals(problems):
    pytest.importorskip("cvxpy")
    prob = problems[2]
    m = mm.Model(prob, formulation="primal")
    m.add_constraint(m.plan[(0, 0)] >= 0.01, name="cap")
    cm = m.to_cvxpy()
    assert list(cm.constraints) == ["marginal", "user"]
    sol = m.solve_cvxpy(cm)
    (con, rows, kind), = cm.constraints["user"]
    assert kind == "lo" and rows.tolist() == [m.blocks["user"].rows.start]
    # a binding >= row has a positive multiplier in both conventions
    assert float(con.dual_value[0]) > 0 and sol.info["row_duals"]["user"][0] > 0
    assert sol.status == mm.Status.OPTIMAL
