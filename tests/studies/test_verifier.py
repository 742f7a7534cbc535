"""The independent verifier: marginal rows, cost, dual feasibility, bracket; results loaded back."""
from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.errors import MMOTInputError

ot = pytest.importorskip("ot")

#: A verified bracket of a certified LP closes to this relative width.
CLOSED_REL = 1e-10


def gauss3(l: int = 12) -> mm.MMOTProblem:
    return mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3, 3, l, midpoints=True)), 3, "coulomb", name="g")


def two_marginals(seed: int = 1) -> mm.MMOTProblem:
    rng = np.random.default_rng(seed)
    a = mm.Marginal(rng.uniform(-2, 2, 15), rng.uniform(0.2, 1, 15), normalize=True)
    b = mm.Marginal(rng.uniform(-1, 3, 11), rng.uniform(0.2, 1, 11), normalize=True)
    return mm.MMOTProblem((a, b), {"kind": "power", "p": 2.0}, name="two")


@pytest.mark.parametrize("method", ["symmetric", "primal", "colgen"])
def test_certified_solutions_verify(method):
    p = gauss3()
    sol = mm.solve(p, method=method)
    v = mm.verify(p, sol, gap_tol=1e-9)
    assert v.ok, v.failures
    assert v.lower_bound <= sol.value <= v.upper_bound
    assert v.gap <= CLOSED_REL * max(1.0, abs(sol.value))


def test_corrupted_weight_names_the_marginal_row():
    p = gauss3()
    sol = mm.solve(p, method="symmetric")
    w = sol.plan_weights.copy()
    j = 5
    w[j] *= 1.001
    v = mm.verify(p, (sol.plan_indices, w))
    assert not v.ok and v.upper_bound == np.inf
    k0, s0 = 0, int(sol.plan_indices[j, 0])
    assert any(f.startswith(f"marginal {k0} row {s0} ") for f in v.failures), v.failures


def test_pot_emd_plan_matches_emd2_and_potentials_bracket():
    p = two_marginals()
    a, b = (m.weights for m in p.marginals)
    M = p.pair_matrix(0, 1)
    G, log = ot.emd(a, b, M, log=True)
    ref = ot.emd2(a, b, M)
    v = mm.verify(p, G, potentials=[log["u"], log["v"]])
    assert v.ok, v.failures
    assert v.lower_bound <= ref <= v.upper_bound
    assert v.upper_bound - v.lower_bound <= 1e-9
    assert v.dual_check == f"all {15 * 11} tuples"


def test_infeasible_potentials_are_charged_and_bound_stays_valid():
    """Lifting a potential by delta makes it infeasible; the verified lower bound is still below the
    optimum, computed exactly with fractions over all tuples of a tiny instance."""
    rng = np.random.default_rng(3)
    pts = [rng.uniform(0, 1, 4) for _ in range(3)]
    margs = [mm.Marginal(x, rng.uniform(0.2, 1, 4), normalize=True) for x in pts]
    p = mm.MMOTProblem(tuple(margs), {"kind": "soft_coulomb", "a": 0.3})
    sol = mm.solve(p, method="primal")
    pots = [np.array(q, dtype=float) for q in sol.potentials]
    pots[1] = pots[1] + 0.05
    v = mm.verify(p, potentials=pots)
    assert v.dual_violation == pytest.approx(0.05, abs=1e-9)
    # exact violation with rationals: max over all tuples of sum phi - c (c rounded to a float, as the data)
    idx = np.array(list(itertools.product(range(4), repeat=3)))
    c = p.tuple_costs(idx)
    viol = max(sum(Fraction(float(pots[k][t[k]])) for k in range(3)) - Fraction(float(cc)) for t, cc in zip(idx, c))
    D = sum(Fraction(float(q)) * Fraction(float(m)) for k in range(3) for q, m in zip(pots[k], margs[k].weights))
    exact_lower = D - max(viol, Fraction(0))
    assert v.lower_bound <= float(exact_lower)
    assert float(exact_lower) - v.lower_bound < 1e-12
    assert v.lower_bound <= sol.lower_bound + 1e-12


def test_pricing_path_equals_enumeration():
    p = gauss3(16)
    sol = mm.solve(p, method="symmetric")
    u = np.array(sol.potentials[0]) + np.linspace(0, 0.01, 16)  # a slightly infeasible potential
    full = mm.verify(p, potentials=u)
    priced = mm.verify(p, potentials=u, max_enumerate=10)
    assert "branch-and-bound" in priced.dual_check and "multisets" in full.dual_check
    assert full.dual_violation > 0
    assert priced.dual_violation == pytest.approx(full.dual_violation, rel=1e-9, abs=1e-12)


def test_large_N_distinct_multisets_enumerated_by_complements():
    p = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 12, 14, midpoints=True)), 12, "coulomb")
    u = np.zeros(14)
    v = mm.verify(p, potentials=u)
    assert v.dual_check == "all 91 multisets (symmetrised potentials)"
    assert v.dual_violation == 0.0 and v.lower_bound <= 0.0


def test_wrong_claim_fails():
    p = gauss3()
    sol = mm.solve(p, method="symmetric")
    v = mm.verify(p, sol, lower_bound=sol.value + 1e-3)
    assert not v.ok and any("claimed lower bound" in f for f in v.failures)


@pytest.mark.parametrize("plan, words", [
    (np.ones((3, 3)), "dense plan must have shape"),
    ((np.array([[0, 1]]), np.array([1.0])), "shape (K, 3)"),
    ((np.array([[0, 1, 99]]), np.array([1.0])), "index 99"),
])
def test_bad_plans_are_input_errors(plan, words):
    with pytest.raises(MMOTInputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        mm.verify(gauss3(), plan)


def test_solve_output_loads_back_and_verifies(tmp_path, capsys):
    from mmot_models.cli import main

    prob = tmp_path / "g.json"
    mm.save_problem(gauss3(), prob)
    out = tmp_path / "sol.json"
    main(["solve", str(prob), "--method", "colgen", "--output", str(out)])
    data = json.loads(out.read_text())
    assert data["problem"]["hash"] == mm.studies.problem_hash(mm.load_problem(prob))
    sol = mm.load_solution(out)
    assert sol.problem is not None and sol.plan_weights is not None
    assert mm.verify(sol.problem, sol, gap_tol=1e-9).ok
    capsys.readouterr()
    assert main(["verify", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    other = tmp_path / "other.json"
    mm.save_problem(mm.MMOTProblem.symmetric(mm.uniform(mm.line(-3, 3, 12)), 3, "coulomb"), other)
    assert main(["verify", str(out), "--problem", str(other)]) == 2
    assert "another problem" in capsys.readouterr().err


def test_cli_verifies_pot_npy_and_tuples_json(tmp_path, capsys):
    from mmot_models.cli import main

    p = two_marginals()
    prob = tmp_path / "two.json"
    mm.save_problem(p, prob)
    a, b = (m.weights for m in p.marginals)
    G = ot.emd(a, b, p.pair_matrix(0, 1))
    np.save(tmp_path / "plan.npy", G)
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "plan.npy"), "--problem", str(prob), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = ot.emd2(a, b, p.pair_matrix(0, 1))
    assert doc["ok"] and doc["upper_bound"] == pytest.approx(ref, rel=1e-12)
    nz = np.argwhere(G > 0)
    bad = {"tuples": nz.tolist(), "weights": (G[G > 0] * 1.01).tolist()}
    (tmp_path / "t.json").write_text(json.dumps(bad))
    assert main(["verify", str(tmp_path / "t.json"), "--problem", str(prob)]) == 3
    assert "marginal 0 row" in capsys.readouterr().out
