"""Model.solve validates its options through the declared schema, for every backend."""
from __future__ import annotations

import pytest

import mmot_models as mm
from mmot_models.modeling import MODEL_OPTIONS

BACKENDS = ("highs", "pyomo", "cvxpy")


@pytest.fixture(scope="module")
def model(problems):
    return mm.Model(problems[2], formulation="symmetric")


@pytest.mark.parametrize("backend", BACKENDS)
def test_misspelt_option_is_rejected_with_a_suggestion(model, backend):
    with pytest.raises(mm.MMOTInputError, match="did you mean 'time_limit'"):
        model.solve(backend=backend, tme_limit=1)


@pytest.mark.parametrize("backend, solver", [("highs", None), ("pyomo", "appsi_highs"), ("cvxpy", "HIGHS")])
def test_misspelt_highs_solver_option_is_rejected(model, backend, solver):
    kw = {} if solver is None else {"solver": solver}
    with pytest.raises(mm.MMOTInputError, match="did you mean 'presolve'"):
        model.solve(backend=backend, solver_options={"presolv": "off"}, **kw)


def test_misspelt_clarabel_setting_is_rejected(model):
    pytest.importorskip("clarabel")
    with pytest.raises(mm.MMOTInputError, match="tol_feas"):
        model.solve(backend="cvxpy", solver="CLARABEL", solver_options={"tol_fes": 1e-9})


def test_valid_solver_options_reach_the_solver(model):
    ref = model.solve().value
    for backend, kw in (("highs", {}), ("pyomo", {}), ("cvxpy", {"solver": "HIGHS"})):
        sol = model.solve(backend=backend, solver_options={"presolve": "off"}, **kw)
        assert sol.status == mm.Status.OPTIMAL and abs(sol.value - ref) <= 1e-7


def test_options_that_do_not_apply_to_the_backend(model):
    with pytest.raises(mm.MMOTInputError, match="backend="):
        model.solve(backend="highs", solver="glpk")
    with pytest.raises(mm.MMOTInputError, match="backend="):
        model.solve(backend="pyomo", threads=1)
    with pytest.raises(mm.MMOTInputError, match="time_limit"):
        model.solve(backend="highs", time_limit=-1)
    with pytest.raises(mm.MMOTInputError, match="unknown backend"):
        model.solve(backend="gurobi")


def test_solve_pyomo_and_cvxpy_validate_too(model):
    with pytest.raises(mm.MMOTInputError, match="did you mean 'verbose'"):
        model.solve_pyomo(model.to_pyomo(), verbos=True)
    with pytest.raises(mm.MMOTInputError, match="did you mean 'solver'"):
        model.solve_cvxpy(model.to_cvxpy(), solvr="HIGHS")


def test_schema_lists_every_option():
    assert MODEL_OPTIONS.names == ["time_limit", "threads", "verbose", "memory_limit_gb", "memory_limit_bytes",
                                   "solver", "solver_options"]
