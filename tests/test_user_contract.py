"""Smaller promises a user relies on (issue 12, section 6): honest statuses and labels, a short
``repr``, the plotting helpers leave matplotlib's backend alone, honest progress bars, complete
``--help``, and a demo that works (or refuses cleanly) with every method."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.cli import demo_heading, main
from mmot_models.solution import Bound, Solution, Status

ROOT = Path(__file__).resolve().parents[1]
GAUSS3 = ROOT / "examples" / "problems" / "gaussian_n3.json"
REPR_MAX = 300


@pytest.fixture(scope="module")
def small():
    return mm.load_problem(GAUSS3)


def test_repr_is_short(small):
    sol = mm.solve(small, method="primal")
    assert sol.has_plan and sol.plan_weights.size > 20   # the dataclass repr printed all of it
    text = repr(sol)
    assert len(text) < REPR_MAX, text
    assert "primal" in text and "optimal" in text and f"support_size={sol.support_size}" in text


@pytest.mark.parametrize("lower, upper, label", [
    (-math.inf, math.inf, "none"), (-math.inf, 3.0, "upper"), (1.0, math.inf, "lower"), (1.0, 3.0, "bracket")])
def test_unfinished_exact_run_never_printed_as_exact(lower, upper, label):
    sol = Solution(value=math.nan, status=Status.TIME_LIMIT, method="primal", backend="highs",
                   lower_bound=lower, upper_bound=upper, bound=Bound.EXACT)
    text = str(sol)
    assert "[exact]" not in text and "nan" not in text.splitlines()[1]
    assert f"[{label}]" in text
    assert sol.summary()["bound"] == label and sol.summary()["value"] is None


def test_time_limited_lp_reports_no_exact_value(small, capsys):
    """A real unfinished run: before, `value nan [exact]` on the console and "exact" in the JSON."""
    code = main(["solve", str(GAUSS3), "--method", "primal", "--time-limit", "1e-9", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and out["status"] == "time_limit" and out["bound"] != "exact"


def test_finished_labels_unchanged(small):
    sol = mm.solve(small, method="symmetric")
    assert sol.reported_bound == "exact" and "[exact]" in str(sol)


def test_plotting_never_switches_the_backend(small, monkeypatch):
    """Importing/using the helpers used to call matplotlib.use("Agg"), breaking Jupyter's inline plots."""
    import matplotlib

    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: calls.append(a))
    import mmot_models.plotting as plotting

    sol = mm.solve(small, method="symmetric")
    fig = plotting.plot_comotion_1d(sol)
    plotting._plt().close(fig)
    assert calls == []


def test_solve_help_lists_every_method(capsys):
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ["auto", *mm.METHODS]:
        assert name in text, name


@pytest.mark.parametrize("method, code, plotted", [("meanfield", 3, False), ("variance", 0, False)])
def test_demo_with_bound_only_methods(method, code, plotted, tmp_path, capsys):
    """These raised a traceback (no plan to plot).  Mean field on the Coulomb demo grid is no bound."""
    png = tmp_path / "d.png"
    assert main(["demo", "--method", method, "--output", str(png), "--json"]) == code
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["method"] == method and out["plot"] is None and png.exists() == plotted
    assert "nothing plotted" in cap.err


def test_demo_heading_follows_bound_and_status():
    def sol(status, bound):
        return Solution(value=1.0, status=status, method="m", backend="b", bound=bound)

    assert "exact" in demo_heading(sol(Status.OPTIMAL, Bound.EXACT))
    assert "exact" not in demo_heading(sol(Status.CONVERGED, Bound.ESTIMATE))
    assert "estimate" in demo_heading(sol(Status.CONVERGED, Bound.ESTIMATE))
    assert "lower bound" in demo_heading(sol(Status.OPTIMAL, Bound.LOWER))
    assert "unfinished" in demo_heading(sol(Status.TIME_LIMIT, Bound.EXACT))
    assert "no finite bound" in demo_heading(sol(Status.NO_BOUND, Bound.UPPER))


def test_demo_entropic_heading_is_not_exact(tmp_path, capsys):
    assert main(["demo", "--method", "entropic", "--output", str(tmp_path / "d.png")]) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    assert "exact" not in heading and "estimate" in heading


def test_meanfield_infinite_is_not_ok(small, capsys):
    sol = mm.solve(small, method="meanfield")
    assert sol.value == math.inf and sol.status == Status.NO_BOUND and not sol.status.ok
    assert main(["solve", str(GAUSS3), "--method", "meanfield", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["value"] is None and out["status"] == "no_bound"
    # a finite mean field (soft Coulomb) stays an ok upper bound, above the exact value
    soft = mm.load_problem(ROOT / "examples" / "problems" / "soft_coulomb_n3.json")
    mf, ex = mm.solve(soft, method="meanfield"), mm.solve(soft, method="primal")
    assert mf.status == Status.OPTIMAL and mf.bound == Bound.UPPER and mf.value >= ex.value - 1e-9


class _RecordingBar:
    made: list[dict] = []

    def __init__(self, *args, **kwargs):
        _RecordingBar.made.append(kwargs)

    def update(self, *a, **k):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def test_progress_bars_have_no_total_from_an_iteration_cap(small, monkeypatch):
    """colgen's bar had total=max_rounds and entropic's total=max_iter: the ETA counted against the cap."""
    import tqdm
    import tqdm.auto

    from mmot_models.entropic.sinkhorn import SinkhornOptions, _progress

    bar = _progress(SinkhornOptions(eps=0.1, max_iter=100000, progress=False), 100000)
    assert bar.total is None
    bar.close()
    _RecordingBar.made.clear()
    monkeypatch.setattr(tqdm, "tqdm", _RecordingBar)
    monkeypatch.setattr(tqdm.auto, "tqdm", _RecordingBar)
    mm.solve(small, method="colgen", verbose=True, max_rounds=5000)
    assert _RecordingBar.made and all(kw.get("total") is None for kw in _RecordingBar.made)
