"""Sweeps: spec validation up front, resumable result table, failures recorded, Dask = serial."""
from __future__ import annotations

import json
import math

import pytest

import mmot_models as mm
from mmot_models.errors import MMOTInputError
from mmot_models.studies import parse_spec, read_rows, report_table, sweep
from mmot_models.studies.problems import build_problem, problem_hash
from mmot_models.studies.store import ResultStore

#: Values of a certified LP are reproducible to this relative tolerance across processes.
SAME_VALUE_RTOL = 1e-9
#: Closed form of N=2 uniform Coulomb on [-4, 4] (co-motion T(x) = x + 4): E|x - T(x)|^-1 = 1/4.
UNIFORM_N2_VALUE = 0.25


def small_spec(**over):
    spec = {"name": "t", "problem": {"density": "uniform", "n_points": [8, 12], "n_marginals": 2},
            "methods": ["symmetric", {"method": "colgen", "options": {"tol": 1e-9}, "label": "cg"}],
            "format": "jsonl"}
    spec.update(over)
    return spec


def test_grid_expands_and_keys_are_stable():
    a, b = parse_spec(small_spec()), parse_spec(small_spec())
    assert len(a.tasks) == 4
    assert [t.key for t in a.tasks] == [t.key for t in b.tasks]
    assert len({t.key for t in a.tasks}) == 4


@pytest.mark.parametrize("bad, words", [
    ({"methods": [{"method": "colgen", "options": {"tl": 1}}]}, ["colgen", "tol"]),
    ({"methods": ["symetric"]}, ["unknown method", "symmetric"]),
    ({"options": {"time_limit": -1}, "methods": ["symmetric"]}, ["time_limit"]),
    ({"problem": {"n_pionts": 3}}, ["n_pionts", "n_points"]),
    ({"problme": {}}, ["problme"]),
    ({"problem": {"density": "gausian"}}, ["density"]),
])
def test_bad_spec_is_refused_before_any_task(tmp_path, bad, words):
    with pytest.raises(MMOTInputError) as exc:
        sweep(small_spec(**bad), tmp_path / "out", serial=True)
    for w in words:
        assert w in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_serial_sweep_resumes_and_records_failures(tmp_path):
    out = tmp_path / "res"
    spec = small_spec(problem={"density": "gaussian", "n_points": [6, 12], "n_marginals": 3})
    res = sweep(spec, out, serial=True)
    assert res.n_run == 4 and res.n_skipped == 0 and len(res.rows) == 4
    failed = [r for r in res.rows if r["status"] == "failed"]
    # 6 Gaussian points carry more than 1/3 at the centre: infeasible under Coulomb, recorded, the sweep goes on
    assert len(failed) == 2 and all("InfeasibleProblemError" in r["error"] for r in failed)
    ok = [r for r in res.rows if r["status"] == "optimal"]
    assert len(ok) == 2 and all(r["lower_bound"] <= r["value"] <= r["upper_bound"] for r in ok)
    for r in ok:
        assert r["peak_rss_mb"] > 0 and r["task_time_s"] > 0
        assert json.loads(r["versions"])["numpy"]
        assert json.loads(r["options"]).get("threads") is None  # threads=1 is a run setting, not a key part
    # simulate an interrupted run: lose two rows (and a half-written line), rerun: only those run
    lines = (out / "rows.jsonl").read_text().splitlines()
    (out / "rows.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:30])
    again = sweep(spec, out, serial=True)
    assert again.n_skipped == 2 and again.n_run == 2 and len(again.rows) == 4
    assert sorted(r["key"] for r in again.rows) == sorted(r["key"] for r in res.rows)
    assert sweep(spec, out, serial=True).n_run == 0


def test_parquet_rows_and_report(tmp_path):
    spec = small_spec(format="parquet", methods=["symmetric"], problem={"n_points": [10, 20], "n_marginals": 2})
    res = sweep(spec, tmp_path / "p", serial=True)
    assert len(list((tmp_path / "p").glob("part-*.parquet"))) == 2
    rows = read_rows(tmp_path / "p")
    assert [r["key"] for r in rows] == sorted(r["key"] for r in res.rows)
    for r in rows:
        assert r["value"] == pytest.approx(UNIFORM_N2_VALUE, rel=1e-9)  # closed form, any grid size
    table = report_table(rows)
    assert "n_points" in table and table.count("optimal") == 2
    png = tmp_path / "s.png"
    from mmot_models.plotting import plot_sweep

    plot_sweep(rows, png)
    assert png.stat().st_size > 1000


def test_cli_sweep_report_and_bad_option(tmp_path, capsys):
    from mmot_models.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text('name = "c"\nformat = "jsonl"\nmethods = ["symmetric"]\n[problem]\nn_points = [10, 14]\n')
    assert main(["sweep", str(spec), "--serial", "--no-progress", "--output", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    assert main(["sweep", str(spec), "--report", "--json", "--output", str(tmp_path / "o")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_tasks"] == 2 and doc["missing"] == 0 and len(doc["rows"]) == 2
    spec.write_text('name = "c"\nmethods = ["symmetric"]\n[options]\ntme_limit = 1\n[problem]\nn_points = 10\n')
    assert main(["sweep", str(spec), "--serial"]) == 2
    assert "time_limit" in capsys.readouterr().err


def test_problem_spec_hash_is_reproducible():
    a = build_problem({"density": "random", "n_points": 9, "seed": 4, "n_marginals": 3})
    b = build_problem({"density": "random", "n_points": 9, "seed": 4, "n_marginals": 3})
    c = build_problem({"density": "random", "n_points": 9, "seed": 5, "n_marginals": 3})
    assert problem_hash(a) == problem_hash(b) != problem_hash(c)


def test_local_cluster_matches_serial(tmp_path):
    """2 single-threaded worker processes give the same rows as a serial run."""
    spec = small_spec(problem={"density": "gaussian", "n_points": [12, 16, 20], "n_marginals": 3})
    serial = {r["key"]: r for r in sweep(spec, tmp_path / "s", serial=True).rows}
    dist = sweep(spec, tmp_path / "d", n_workers=2)
    assert len(dist.rows) == len(serial) == 6
    pids = {r["pid"] for r in dist.rows}
    assert len(pids) >= 1 and all(p != __import__("os").getpid() for p in pids)
    for r in dist.rows:
        s = serial[r["key"]]
        assert r["status"] == s["status"] == "optimal"
        assert math.isclose(r["value"], s["value"], rel_tol=SAME_VALUE_RTOL)
