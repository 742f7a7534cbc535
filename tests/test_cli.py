"""The `mmot` command: JSON output, exit codes, errors without tracebacks, nothing partial."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mmot_models as mm
from mmot_models.cli import main

ROOT = Path(__file__).resolve().parents[1]
VALUE_TOL = 1e-8
REQUIRED = {"value", "lower_bound", "upper_bound", "status", "method", "backend", "wall_time_s", "support_size",
            "max_marginal_error"}


@pytest.fixture
def uniform3(tmp_path) -> Path:
    path = tmp_path / "u3.json"
    mm.save_problem(mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 12, midpoints=True)), 3, "coulomb"), path)
    return path


@pytest.mark.parametrize("method", ["primal", "dual"])
@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_solve_json(uniform3, capsys, method, backend):
    code = main(["solve", str(uniform3), "--method", method, "--backend", backend, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert REQUIRED <= set(out)
    assert abs(out["value"] - 7.5) < VALUE_TOL and out["status"] == "optimal"


def test_solve_output_file_and_plot(uniform3, tmp_path, capsys):
    out_json, png = tmp_path / "sol.json", tmp_path / "plan.png"
    assert main(["solve", str(uniform3), "--method", "primal", "--output", str(out_json), "--plot", str(png)]) == 0
    data = json.loads(out_json.read_text())
    assert abs(sum(data["plan"]["weights"]) - 1) < 1e-9 and png.stat().st_size > 1000
    assert "optimal" in capsys.readouterr().out


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmot_models.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("content", [
    '{"points": [0, 1, 2], "weights": [0.6, 0.2, 0.2], "n_marginals": 3, "cost": "coulomb"}',
    '{"points": [0, 1, 2], "weights": [0.6, -0.2, 0.6], "n_marginals": 2, "cost": "coulomb"}',
    '{"points": [0, 1, 2], "weights": [0.5, 0.5], "n_marginals": 2, "cost": "coulomb"}',
    '{"points": [0, 1, 2], "weights": [0.5, NaN, 0.5], "n_marginals": 2, "cost": "coulomb"}',
    '{"points": [0, 1], "weights": [0.5, 0.5], "n_marginals": 2, "cost": "nope"}',
    "this is not json",
])
def test_bad_input_exit_2_one_line_no_partial_output(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "never.json"
    r = _run("solve", str(bad), "--json", "--output", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == "" and not out.exists()


def test_missing_file_and_too_large(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "nope.json")]) == 2
    big = tmp_path / "big.json"
    mm.save_problem(mm.MMOTProblem((mm.uniform(mm.line(0, 1, 300)), mm.uniform(mm.line(0, 2, 300)),
                                    mm.uniform(mm.line(0, 3, 300))), "coulomb"), big)
    assert main(["solve", str(big), "--method", "primal", "--memory-limit-gb", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "entropic" in err


def test_not_certified_exit_3(tmp_path, capsys):
    path = tmp_path / "g.json"
    mm.save_problem(mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3, 3, 40)), 3, "coulomb"), path)
    code = main(["solve", str(path), "--method", "primal", "--time-limit", "1e-6", "--json"])
    assert code == 3
    assert json.loads(capsys.readouterr().out)["status"] == "time_limit"


def test_demo_runs_and_writes_png(tmp_path):
    png = tmp_path / "demo.png"
    r = _run("demo", "--output", str(png), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal" and out["relative_gap"] < 1e-7
    # independent check: the 1D cyclic co-motion construction has the same cost
    assert abs(out["value"] - out["cyclic_quantile_value"]) < 1e-7
    assert png.stat().st_size > 1000


def test_auto_respects_backend():
    """auto never hands a Pyomo request to column generation (which drives HiGHS directly)."""
    big = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 200, midpoints=True)), 3, "coulomb")
    assert mm.choose_method(big) == "colgen"
    assert mm.choose_method(big, backend="pyomo") == "symmetric"


def test_unknown_option_is_bad_input(uniform3, capsys):
    assert main(["solve", str(uniform3), "--method", "primal", "--option", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err
