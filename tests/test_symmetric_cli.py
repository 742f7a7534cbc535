"""`mmot solve FILE --method symmetric|colgen --json` through the in-process CLI entry point."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.cli import main
from mmot_models.solve import solve

#: Agreement of the CLI's value with the library call.
VALUE_TOL = 1e-9


@pytest.fixture
def problem_file(tmp_path):
    rng = np.random.default_rng(4)
    pts = rng.uniform(-2, 2, size=(18, 2))
    prob = mm.MMOTProblem.symmetric(mm.Marginal(pts, rng.uniform(0.5, 1, 18), normalize=True), 3, "coulomb",
                                    name="cli-2d")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(prob.to_dict()))
    return path, prob


@pytest.mark.parametrize("method,extra", [("symmetric", []), ("symmetric_dual", []), ("colgen", []),
                                          ("colgen", ["--option", "pricing=\"bnb\"", "--tol", "1e-10"]),
                                          ("auto", [])])
def test_cli_json(problem_file, capsys, method, extra):
    path, prob = problem_file
    ref = solve(prob, method="primal").value
    code = main(["solve", str(path), "--method", method, "--json", *extra])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["status"] == "optimal"
    assert out["method"] == (method if method != "auto" else "symmetric")
    assert abs(out["value"] - ref) <= VALUE_TOL * max(1.0, ref)
    assert out["lower_bound"] <= ref + VALUE_TOL and ref <= out["upper_bound"] + VALUE_TOL
    assert out["max_marginal_error"] <= 1e-9


def test_cli_uncertified_colgen_exit_code(problem_file, capsys):
    path, prob = problem_file
    code = main(["solve", str(path), "--method", "colgen", "--json", "--option", "max_rounds=1",
                 "--option", "columns_per_round=1"])
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "iteration_limit" and out["bound"] == "upper"
    assert code == 3


def test_cli_infeasible_coulomb(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "cost": {"kind": "coulomb"}, "points": [0, 1, 2],
                                "weights": [0.8, 0.1, 0.1], "n_marginals": 2}))
    code = main(["solve", str(path), "--method", "symmetric", "--json"])
    err = capsys.readouterr().err
    assert code != 0 and "1/N" in err
