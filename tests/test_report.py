"""The comparison report and the ``mmot compare`` command."""
from __future__ import annotations

import json
import math

import pytest

from mmot_models import MMOTInputError, MMOTProblem, gaussian, line, save_problem, solve
from mmot_models.cli import main
from mmot_models.report import compare, format_table

LP_TOL = 1e-7


@pytest.fixture()
def problem():
    return MMOTProblem.symmetric(gaussian(line(-3, 3, 12, midpoints=True)), 3, "coulomb", name="g12")


def test_compare_rows_and_gaps(problem):
    rows = compare(problem, k_max=4)
    names = [r.method for r in rows]
    assert names[0].startswith("exact")
    assert [r.k for r in rows if r.k is not None] == [2, 3, 4]
    exact = solve(problem, method="primal").value
    by = {r.method: r for r in rows}
    assert abs(by[names[0]].value - exact) <= LP_TOL
    for r in rows:
        if r.status == "optimal" and math.isfinite(r.value):
            assert abs(r.gap - (r.value - exact)) <= 1e-12
            if r.bound == "lower":
                assert r.value <= exact + 1e-6
            if r.bound == "upper":
                assert r.value >= exact - 1e-6
    assert by["krep k=3"].bound == "exact"
    # optional methods never sink the report
    for name in ("mcot", "entropic"):
        assert by[name].status in ("skipped", "optimal", "converged", "error", "time_limit", "iteration_limit")
    assert "krep k=2" in format_table(rows)


def test_compare_without_exact_uses_certified_brackets():
    p = MMOTProblem.symmetric(gaussian(line(-3, 3, 10)), 4, {"kind": "soft_coulomb", "a": 0.5})
    rows = compare(p, k_max=3, methods=["krep", "meanfield"])
    assert all(r.bound != "exact" for r in rows)
    lo = max((r for r in rows if r.bound == "lower"), key=lambda r: r.lower_bound)
    up = [r for r in rows if r.method == "meanfield"][0]
    # gap of a lower row is measured to the best certified upper bound, and vice versa
    assert lo.gap == pytest.approx(lo.value - up.upper_bound)
    assert up.gap == pytest.approx(up.value - lo.lower_bound)
    assert lo.gap < 0 < up.gap


def test_compare_cuts_group(problem):
    rows = compare(problem, methods=["krep", "cuts"], k_max=2)
    assert [r.method for r in rows] == ["krep k=2", "krep k=2 + cuts (K=3)"]
    assert rows[1].bound == "lower" and rows[1].value >= rows[0].value - LP_TOL


def test_compare_bad_method(problem):
    with pytest.raises(MMOTInputError):
        compare(problem, methods=["nope"])


def test_cli_compare_table_json_plot(problem, tmp_path, capsys):
    f = tmp_path / "p.json"
    save_problem(problem, f)
    png = tmp_path / "bracket.png"
    assert main(["compare", str(f), "--k-max", "4", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "krep k=4" in out and "sdp" in out
    assert png.exists() and png.stat().st_size > 1000
    assert main(["compare", str(f), "--json", "--methods", "krep,meanfield", "--k-max", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["method"] for d in data] == ["krep k=2", "krep k=3", "meanfield"]
    assert data[1]["bound"] == "exact"
    assert data[2]["value"] is None  # +inf mean field on a Coulomb grid -> null


def test_cli_compare_infinite_upper_bound_is_not_a_failure(tmp_path, capsys):
    # a site heavier than 1/4: V_4 = +inf under Coulomb (a valid, trivial upper bound)
    p = MMOTProblem.symmetric(gaussian(line(-3, 3, 9, midpoints=True)), 3, "coulomb")
    assert p.marginals[0].weights.max() > 0.25
    f = tmp_path / "p.json"
    save_problem(p, f)
    assert main(["compare", str(f), "--methods", "krep", "--k-max", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[-1]["status"] == "infeasible" and data[-1]["value"] is None and data[-1]["bound"] == "upper"


def test_cli_compare_infeasible_problem(tmp_path, capsys):
    p = MMOTProblem.symmetric(gaussian(line(-3, 3, 6, midpoints=True)), 3, "coulomb")
    f = tmp_path / "p.json"
    save_problem(p, f)
    assert main(["compare", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "1/N" in err


def test_cli_compare_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{\"points\": [0, 1], \"weights\": [0.5]}")
    assert main(["compare", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_cli_solve_krep_and_sdp(problem, tmp_path, capsys):
    f = tmp_path / "p.json"
    save_problem(problem, f)
    assert main(["solve", str(f), "--method", "krep", "--k", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["bound"] == "lower" and d["info"]["k"] == 2
    assert main(["solve", str(f), "--method", "sdp", "--json"]) == 0
    d2 = json.loads(capsys.readouterr().out)
    assert d2["bound"] == "lower" and d2["value"] >= d["value"] - 1e-6
    # Coulomb on a grid: the product plan costs +inf, which is no bound (not ok, exit 3)
    assert main(["solve", str(f), "--method", "meanfield", "--json"]) == 3
    d3 = json.loads(capsys.readouterr().out)
    assert d3["bound"] == "upper" and d3["status"] == "no_bound" and d3["value"] is None
