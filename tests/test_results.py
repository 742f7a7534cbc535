"""Results that cannot be misread: termination vs verdict vs status, the one assembly function,
the one weak-duality function, and the formulation contract (issue 13, items 2 and 4)."""
from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import mmot_models as mm
from mmot_models.certificate import dual_lower_bound
from mmot_models.formulations.contract import Formulation, InverseData, Inverted
from mmot_models.formulations.kantorovich import KantorovichPrimal
from mmot_models.formulations.symmetric import SymmetricPrimal
from mmot_models.algorithms.lp import run_lp, solve_standard_lp
from mmot_models.solution import (Bound, Diagnostics, Solution, Status, Termination, Verdict,
                                  assemble_solution)
from tests.exact_simplex import exact_lp_min

#: Values of two LP formulations of the same problem agree to this (both certified to 1e-7).
VALUE_TOL = 1e-7


def _asm(**kw) -> Solution:
    base = dict(problem=None, method="m", backend="b")
    base.update(kw)
    return assemble_solution(**base)


# ------------------------------------------------------------------ assembly rules
def test_optimal_with_closed_bracket_is_optimal():
    s = _asm(termination=Termination.OPTIMAL, value=2.0, lower_bound=2.0 - 1e-12, upper_bound=2.0)
    assert (s.status, s.termination, s.verdict, s.bound) == (Status.OPTIMAL, Termination.OPTIMAL,
                                                             Verdict.OPTIMAL, Bound.EXACT)
    assert s.value == 2.0 and s.message == ""


def test_optimal_termination_with_open_bracket_is_not_believed():
    s = _asm(termination=Termination.OPTIMAL, value=2.0, lower_bound=1.9, upper_bound=2.0)
    assert s.status == Status.NUMERICAL_ERROR and s.termination == Termination.OPTIMAL
    assert s.verdict == Verdict.BRACKET and s.bound == Bound.UPPER and s.value == 2.0
    assert "gap" in s.message
    # a backend Status is accepted as the termination too
    assert _asm(termination=Status.OPTIMAL, value=2.0, lower_bound=1.9, upper_bound=2.0).status == \
        Status.NUMERICAL_ERROR


def test_time_limit_with_feasible_plan_reports_the_upper_bound():
    s = _asm(termination=Termination.TIME_LIMIT, value=1.234, lower_bound=1.0, upper_bound=1.5,
             iterate_residual=1e-12)
    assert s.status == Status.TIME_LIMIT and s.bound == Bound.UPPER and s.value == 1.5
    assert s.verdict == Verdict.BRACKET
    s = _asm(termination=Termination.TIME_LIMIT, value=1.234, upper_bound=1.5, iterate_residual=0.0)
    assert s.verdict == Verdict.UPPER and s.value == 1.5 and s.reported_bound == "upper"


def test_interrupted_iterate_with_large_residual_has_no_upper_bound():
    s = _asm(termination=Termination.ITERATION_LIMIT, value=1.234, lower_bound=1.0, upper_bound=1.5,
             iterate_residual=1e-3)
    assert s.upper_bound == math.inf and s.value == 1.0 and s.bound == Bound.LOWER
    assert s.verdict == Verdict.LOWER
    # a final termination keeps its plan's upper bound (the bracket check decides)
    s = _asm(termination=Termination.OPTIMAL, value=1.5, lower_bound=1.5, upper_bound=1.5, iterate_residual=1e-3)
    assert s.upper_bound == 1.5 and s.status == Status.OPTIMAL


def test_nothing_certified_is_nan_estimate():
    s = _asm(termination=Termination.TIME_LIMIT, value=0.7)
    assert math.isnan(s.value) and s.bound == Bound.ESTIMATE and s.verdict == Verdict.NONE


def test_plan_residual_too_large_is_not_final():
    ok = _asm(termination=Termination.CONVERGED, value=1.0, bound=Bound.ESTIMATE, lower_bound=0.9,
              upper_bound=1.1, plan_check=(1e-9, 1e-6, 0.0))
    assert ok.status == Status.CONVERGED and ok.upper_bound == 1.1
    bad = _asm(termination=Termination.CONVERGED, value=1.0, bound=Bound.ESTIMATE, lower_bound=0.9,
               upper_bound=1.1, plan_check=(1e-3, 1e-6, 0.0), plan_check_voids_upper=True, message="sinkhorn")
    assert bad.status == Status.NUMERICAL_ERROR and bad.termination == Termination.CONVERGED
    assert bad.upper_bound == math.inf and bad.info["upper_bound_discarded"] == 1.1
    assert bad.verdict == Verdict.LOWER and "misses its marginals" in bad.message and "sinkhorn" in bad.message


def test_relaxation_is_checked_on_its_own_bracket():
    # a lower bound whose own (relaxation) bracket is open is not a solved relaxation
    s = _asm(termination=Termination.OPTIMAL, value=1.0, lower_bound=0.5, bound=Bound.LOWER,
             certify_bracket=(0.5, 1.0))
    assert s.status == Status.NUMERICAL_ERROR and s.bound == Bound.LOWER and s.verdict == Verdict.LOWER
    s = _asm(termination=Termination.OPTIMAL, value=1.0, lower_bound=1.0, bound=Bound.LOWER,
             certify_bracket=(1.0, 1.0))
    assert s.status == Status.OPTIMAL and s.verdict == Verdict.LOWER   # solved, but only a lower bound


def test_closed_form_without_finite_bound_is_no_bound():
    s = _asm(termination=Termination.CLOSED_FORM, value=math.inf, upper_bound=math.inf, bound=Bound.UPPER)
    assert s.status == Status.NO_BOUND and not s.status.ok and s.termination == Termination.CLOSED_FORM


def test_infeasible_is_a_verdict_only_when_proven():
    s = _asm(termination=Termination.INFEASIBLE)
    assert s.status == Status.INFEASIBLE and s.verdict == Verdict.INFEASIBLE and s.bound == Bound.ESTIMATE
    assert Solution(value=math.nan, status=Status.INFEASIBLE, method="m", backend="b").verdict == Verdict.INFEASIBLE


def test_relative_closing_rule_and_floor():
    # 2.5e-7 +- 0.1 % is open at rel_tol 1e-7 (relative at every magnitude) ...
    s = _asm(termination=Termination.OPTIMAL, value=2.5e-7, lower_bound=2.5e-7, upper_bound=2.5e-7 * 1.001)
    assert s.status == Status.NUMERICAL_ERROR and s.verdict == Verdict.BRACKET
    # ... unless an absolute floor (the data's rounding level) says so
    s = _asm(termination=Termination.OPTIMAL, value=2.5e-7, lower_bound=2.5e-7, upper_bound=2.5e-7 * 1.001,
             abs_floor=1e-9)
    assert s.status == Status.OPTIMAL and s.verdict == Verdict.OPTIMAL


def test_verdict_follows_the_bracket_after_replace():
    s = _asm(termination=Termination.OPTIMAL, value=1.0, lower_bound=1.0, upper_bound=1.0)
    t = dataclasses.replace(s, lower_bound=-math.inf, status=Status.NUMERICAL_ERROR)
    assert t.verdict == Verdict.UPPER and t.termination == Termination.OPTIMAL


def test_diagnostics_are_typed_and_mirrored():
    s = _asm(termination=Termination.OPTIMAL, value=1.0, lower_bound=1.0, upper_bound=1.0,
             info={"n_cols": np.int64(12), "n_rows": 3, "solver_message": "ok", "rounds": 2.5, "extra": [1]})
    d = s.diagnostics
    assert d.n_cols == 12 and type(d.n_cols) is int and d.n_rows == 3 and d.solver_message == "ok"
    assert d.rounds is None                       # a float is not a round count
    s = _asm(termination=Termination.OPTIMAL, value=1.0, lower_bound=1.0, upper_bound=1.0,
             diagnostics=Diagnostics(nnz=7, build_time_s=0.5))
    assert s.info["nnz"] == 7 and s.summary()["diagnostics"] == {"nnz": 7, "build_time_s": 0.5}


def test_termination_status_maps_are_total():
    for t in Termination:
        assert isinstance(t.to_status(), Status)
    for st in Status:
        assert isinstance(Termination.from_status(st), Termination)


# ------------------------------------------------------------------ end to end, summary, load
@pytest.fixture(scope="module")
def small():
    return mm.MMOTProblem.symmetric(mm.uniform(mm.line(-2, 2, 8)), 3, "coulomb")  # weights 1/8: exact in binary


def test_solve_reports_termination_verdict_and_diagnostics(small):
    sol = mm.solve(small, method="symmetric")
    assert sol.status == Status.OPTIMAL and sol.termination == Termination.OPTIMAL
    assert sol.verdict == Verdict.OPTIMAL
    assert sol.diagnostics.n_cols == sol.info["n_cols"] > 0 and sol.diagnostics.n_rows == 8
    out = sol.summary()
    assert out["termination"] == "optimal" and out["verdict"] == "optimal"
    for key in ("value", "lower_bound", "upper_bound", "gap", "relative_gap", "bound", "status", "method",
                "backend", "message", "info"):
        assert key in out
    unfinished = mm.solve(small, method="symmetric", solver_options={"simplex_iteration_limit": 1})
    assert unfinished.termination != Termination.OPTIMAL
    assert unfinished.verdict in (Verdict.UPPER, Verdict.LOWER, Verdict.BRACKET, Verdict.NONE)


@pytest.mark.parametrize("kind", ["optimal", "unfinished"])
def test_load_solution_round_trips_termination_and_verdict(small, tmp_path, kind):
    if kind == "optimal":
        f = tmp_path / "p.json"
        mm.save_problem(small, f)
        sol = mm.solve(mm.load_problem(f), method="symmetric")
    else:
        sol = _asm(termination=Termination.TIME_LIMIT, value=1.0, lower_bound=0.5, upper_bound=1.5,
                   rel_tol=1e-5, abs_floor=1e-12)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(sol.to_dict()))
    back = mm.load_solution(p)
    assert back.termination == sol.termination and back.verdict == sol.verdict and back.status == sol.status
    assert back.gap_rel_tol == sol.gap_rel_tol and back.gap_abs_floor == sol.gap_abs_floor
    assert back.reported_bound == sol.reported_bound and back.diagnostics == sol.diagnostics
    assert "verdict_in_file" not in back.info


# ------------------------------------------------------------------ the one weak-duality function
def _exact_box_bound(c, A, y, lo, up, xl, xu) -> Fraction:
    """``y^T r + sum_j min(d_j xl_j, d_j xu_j)`` in exact rational arithmetic (finite bounds)."""
    yq = [Fraction(float(v)) for v in y]
    tot = sum((v * Fraction(float(lo[i])) if v > 0 else v * Fraction(float(up[i]))) for i, v in enumerate(yq))
    for j in range(A.shape[1]):
        d = Fraction(float(c[j])) - sum(Fraction(float(A[i, j])) * yq[i] for i in range(A.shape[0]))
        tot += min(d * Fraction(float(xl[j])), d * Fraction(float(xu[j])))
    return tot


def test_weak_duality_bound_against_exact_lp():
    """On small random LPs ``min c x, A x = b, x >= 0``: the bound from the optimal duals equals the
    exact optimum (to rounding), from perturbed duals it stays below it, both with a mass bound and
    with column bounds -- and never above the exact value of its own formula."""
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(40):
        m, n = 3, 6
        Ad = (rng.random((m, n)) < 0.7).astype(float)
        Ad[0, :] = 1.0                                      # row 0: sum_j x_j = b_0 (the mass)
        x0 = rng.random(n)
        b = Ad @ x0
        c = rng.normal(size=n)
        try:
            opt = exact_lp_min([Fraction(float(v)) for v in c], [[Fraction(float(v)) for v in r] for r in Ad],
                               [Fraction(float(v)) for v in b])
        except ValueError:
            continue
        A = sp.csc_matrix(Ad)
        lp = mm.formulations.StandardLP(c=c, A=A, row_lower=b, row_upper=b.copy(), col_lower=np.zeros(n),
                                        col_upper=np.full(n, np.inf))
        res = solve_standard_lp(lp, refine=False)
        y = np.asarray(res.row_dual, dtype=float)
        # valid column bounds: x_j <= b_i for every row i with A_ij = 1 (x >= 0)
        xu = np.array([min(b[i] for i in range(m) if Ad[i, j] > 0) for j in range(n)])
        mass = float(b[0])
        for yy in (y, y + 1e-3 * rng.normal(size=m)):
            db = dual_lower_bound(c, A, yy, b, b, mass=mass)
            bb = dual_lower_bound(c, A, yy, b, b, col_upper=xu)
            assert Fraction(db.bound) <= opt and Fraction(bb.bound) <= opt
            assert Fraction(bb.bound) <= _exact_box_bound(c, Ad, yy, b, b, np.zeros(n), xu)
        assert abs(dual_lower_bound(c, A, y, b, b, mass=mass).bound - float(opt)) <= 1e-9 * max(1.0, abs(float(opt)))
        assert abs(dual_lower_bound(c, A, y, b, b, col_upper=xu).bound - float(opt)) <= 1e-9 * max(1.0, abs(float(opt)))
        checked += 1
    assert checked >= 20


def test_weak_duality_unbounded_column_with_negative_reduced_cost_certifies_nothing():
    A = sp.csc_matrix(np.array([[1.0, 1.0]]))
    c, b = np.array([1.0, 2.0]), np.array([1.0])
    y = np.array([1.5])                                   # d = (-0.5, 0.5)
    assert dual_lower_bound(c, A, y, b, b).bound == -math.inf
    assert dual_lower_bound(c, A, y, b, b, mass=1.0).bound <= 1.0          # 1.5 - 0.5
    assert dual_lower_bound(c, A, y, b, b, col_upper=np.array([1.0, 1.0])).bound <= 1.0
    # reduced costs exactly zero on unbounded columns certify (recomputed exactly, no rounding slack)
    A3 = sp.csc_matrix(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 2.0]]))
    y3 = np.array([0.25, 0.5])
    c3 = A3.T @ y3 + np.array([0.0, 0.5, 0.0])
    b3 = np.array([1.0, 1.0])
    assert 0.75 - 1e-15 <= dual_lower_bound(c3, A3, y3, b3, b3).bound <= 0.75
    # a multiplier of a sign the row cannot use is set to 0 (row 1 is <= 5 only)
    A2 = sp.csc_matrix(np.array([[1.0, 1.0], [1.0, 0.0]]))
    db = dual_lower_bound(c, A2, np.array([1.0, 7.0]), np.array([1.0, -np.inf]), np.array([1.0, 5.0]), mass=1.0)
    assert db.bound <= 1.0 and math.isfinite(db.bound)


# ------------------------------------------------------------------ the formulation contract
@pytest.mark.parametrize("form", [KantorovichPrimal(), SymmetricPrimal()])
def test_formulation_contract_apply_invert(small, form):
    assert isinstance(form, Formulation)
    lp, data = form.apply(small)
    assert isinstance(data, InverseData) and data.lp is lp and data.problem is small
    assert (data.n_cols, data.n_rows, data.nnz) == (lp.n_cols, lp.n_rows, lp.A.nnz)
    res = solve_standard_lp(lp)
    inv = form.invert(res, data)
    assert isinstance(inv, Inverted) and inv.termination == Termination.OPTIMAL
    assert inv.lower_bound <= inv.upper_bound and inv.upper_bound - inv.lower_bound <= 1e-9
    sol = run_lp(small, form)
    assert sol.verdict == Verdict.OPTIMAL and abs(sol.value - inv.value) <= VALUE_TOL


def test_two_formulations_agree(small):
    a = run_lp(small, KantorovichPrimal())
    b = run_lp(small, SymmetricPrimal())
    assert abs(a.value - b.value) <= VALUE_TOL * abs(a.value)


# ------------------------------------------------------------------ one place assembles a Solution
#: Modules allowed to call ``Solution(...)`` directly (to be converted; load_solution restores a file).
ASSEMBLY_EXCEPTIONS = {"solution.py", "studies/results.py"}


def test_every_solution_is_assembled_in_one_place():
    import pathlib
    import re

    root = pathlib.Path(mm.__file__).parent
    direct = re.compile(r"(?<![\w.])Solution\(")
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if direct.search(p.read_text(encoding="utf-8")))
    assert set(found) <= ASSEMBLY_EXCEPTIONS, f"build Solutions with assemble_solution: {set(found) - ASSEMBLY_EXCEPTIONS}"


def test_krep_contract_gives_the_vk_bracket(small):
    from mmot_models.formulations.krep import KRepresentability

    form = KRepresentability(3)                      # k = N: V_k is the symmetric optimum
    lp, data = form.apply(small)
    inv = form.invert(solve_standard_lp(lp), data)
    ref = run_lp(small, SymmetricPrimal())
    assert inv.lower_bound <= ref.upper_bound + VALUE_TOL and ref.lower_bound <= inv.upper_bound + VALUE_TOL
    assert abs(inv.value - ref.value) <= VALUE_TOL * abs(ref.value)
    assert "multisets" in inv.info and inv.potentials is not None


@pytest.mark.parametrize("l", [7, 13, 97])
def test_saved_solution_of_a_uniform_grid_loads_back(l, tmp_path):
    """Weights whose float sum is 1 - 1 ulp (uniform on 7 or 13 points) were renormalised on every load,
    so the embedded problem's hash changed and load_solution called the file altered."""
    prob = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0.0, 1.0, l)), 2, "coulomb")
    sol = mm.solve(prob, method="symmetric")
    p = tmp_path / "s.json"
    p.write_text(json.dumps(sol.to_dict()))
    back = mm.load_solution(p)
    assert back.value == sol.value and back.problem is not None
    assert np.array_equal(back.problem.marginals[0].weights, prob.marginals[0].weights)
