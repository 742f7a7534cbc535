"""Pyomo backend: an inspectable model that users extend, export and solve with any Pyomo solver."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

import mmot_models as mm
from mmot_models.backends.pyomo import solve_pyomo_model, to_pyomo
from mmot_models.formulations.kantorovich import KantorovichPrimal

TOL = 1e-8


def _problem() -> mm.MMOTProblem:
    return mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 4, midpoints=True)), 2, "coulomb")


def test_model_is_inspectable_extendable_and_exportable(tmp_path):
    p = _problem()
    lp = KantorovichPrimal().build(p)
    m = to_pyomo(lp)
    assert len(m.x) == lp.n_cols and len(m.rows) == lp.n_rows
    assert m.col_label[0] == tuple(lp.meta["tuples"][0])
    base = solve_pyomo_model(m, lp)
    assert base.status is mm.Status.OPTIMAL and abs(base.objective - 2.0) < TOL  # uniform N=2: distance 1/2
    # a user constraint: forbid the optimal pairing (0, 2); the optimum can only get worse
    j = m.col_label.index((0, 2))
    m.user_cut = pyo.Constraint(expr=m.x[j] == 0)
    worse = solve_pyomo_model(m, lp)
    assert worse.status is mm.Status.OPTIMAL and worse.objective > 2.0 + 1e-6
    assert abs(worse.x[j]) < TOL
    for suffix in ("lp", "mps"):
        path = tmp_path / f"model.{suffix}"
        m.write(str(path), io_options={"symbolic_solver_labels": True})
        assert path.stat().st_size > 100


def test_unavailable_pyomo_solver_is_a_clear_error():
    import pytest

    with pytest.raises(mm.MethodNotAvailableError, match="not available"):
        mm.solve(_problem(), method="primal", backend="pyomo", pyomo_solver="no_such_solver_xyz")
