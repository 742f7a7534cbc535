"""Catalogue of bad input: every case is ``error: ...`` on one stderr line, exit 2, no traceback,
no file left; the same mistakes through the API raise :class:`mmot_models.MMOTInputError`.

Most CLI cases run in-process through ``cli.main`` (fast); a few run in a real subprocess.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.cli import EXIT_BAD_INPUT, main

ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_TIMEOUT_S = 120
PLOT = "plot.png"


def _problem_json(**over) -> dict:
    data = {"points": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "weights": [1 / 6] * 6, "n_marginals": 3, "cost": "coulomb"}
    data.update(over)
    return data


def _write_json(d: Path, name: str, data) -> str:
    (d / name).write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(d / name)


# each setup writes its input files into the directory and returns the argv (``{d}`` = the directory)
SETUPS: dict[str, Callable[[Path], list[str]]] = {
    # ---------------------------------------------------------------- output paths (section 4)
    "output ok, plot dir missing": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--output",
                                              str(d / "ok.json"), "--plot", str(d / "nodir" / PLOT)],
    "output dir missing": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--output",
                                     str(d / "nodir" / "x.json")],
    "output is a directory": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--output", str(d)],
    "output under /proc": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--output",
                                     "/proc/mmot_never.json"],
    "plot format unknown": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--plot", str(d / "p.xyz")],
    "plot without extension": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--plot", str(d / "p")],
    "plot is a directory": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--plot", str(d)],
    "output and plot one file": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--output",
                                           str(d / PLOT), "--plot", str(d / PLOT)],
    "plot on a 2D problem": lambda d: ["solve", _write_json(d, "p.json", _problem_json(
        points=[[0, 0], [0, 1], [1, 0], [1, 1]], weights=[0.25] * 4, n_marginals=2)), "--plot", str(d / PLOT)],
    "plot with a plan-less method": lambda d: ["solve", _write_json(d, "p.json", _problem_json()), "--method",
                                               "meanfield", "--plot", str(d / PLOT)],
    "demo output not a figure": lambda d: ["demo", "--output", str(d / "demo.txt")],
    "demo output dir missing": lambda d: ["demo", "--output", str(d / "nodir" / PLOT)],
    "compare plot dir missing": lambda d: ["compare", _write_json(d, "p.json", _problem_json()), "--plot",
                                           str(d / "nodir" / PLOT)],
    "atom plot is a directory": lambda d: ["atom", "He", "--plot", str(d)],
    # ---------------------------------------------------------------- problem files (section 5)
    "missing problem file": lambda d: ["solve", str(d / "absent.json")],
    "problem file is a directory": lambda d: ["solve", str(d)],
    "JSON nested deeply": lambda d: ["solve", _write_json(d, "deep.json", "[" * 100_000 + "]" * 100_000)],
    "JSON not UTF-8": lambda d: ["solve", _write_bytes(d, "latin.json", b'{"name": "\xe9"}')],
    "soft-Coulomb a as a list": lambda d: ["solve", _write_json(d, "p.json", _problem_json(
        cost={"kind": "soft_coulomb", "a": [1, 2]}))],
    "soft-Coulomb a as a string": lambda d: ["solve", _write_json(d, "p.json", _problem_json(
        cost={"kind": "soft_coulomb", "a": "0.5"}))],
    "cost parameter unknown": lambda d: ["solve", _write_json(d, "p.json", _problem_json(
        cost={"kind": "power", "q": 2}))],
    "name not a string": lambda d: ["solve", _write_json(d, "p.json", _problem_json(name={"a": 1}))],
    "normalize not a boolean": lambda d: ["solve", _write_json(d, "p.json", _problem_json(normalize="false"))],
    "n_marginals huge": lambda d: ["solve", _write_json(d, "p.json", _problem_json(n_marginals=10**30))],
    "NPZ that is an NPY": lambda d: ["solve", _npy_as_npz(d)],
    "NPZ n_marginals an array": lambda d: ["solve", _npz(d, n_marginals=np.array([2, 3]))],
    "NPZ n_marginals 2.7": lambda d: ["solve", _npz(d, n_marginals=np.array(2.7))],
    "repeated points under Coulomb": lambda d: ["solve", _write_json(d, "p.json", _problem_json(
        points=[0.0, 0.0, 1.0, 2.0, 3.0, 4.0]))],
    # ---------------------------------------------------------------- subcommands
    "dissociate 1e300": lambda d: ["dissociate", "--distances", "1,1e300", "--no-progress"],
}
#: A word each message must contain (what the user has to fix).
EXPECT: dict[str, str] = {
    "output ok, plot dir missing": "--plot", "output dir missing": "does not exist",
    "output is a directory": "is a directory", "output under /proc": "cannot create a file",
    "plot format unknown": "not a figure format", "plot without extension": "no file extension",
    "plot is a directory": "is a directory", "output and plot one file": "same file",
    "plot on a 2D problem": "2D", "plot with a plan-less method": "meanfield",
    "demo output not a figure": "figure format", "demo output dir missing": "does not exist",
    "compare plot dir missing": "does not exist", "atom plot is a directory": "is a directory",
    "missing problem file": "no such file", "problem file is a directory": "directory",
    "JSON nested deeply": "nested too deeply", "JSON not UTF-8": "UTF-8",
    "soft-Coulomb a as a list": "a > 0", "soft-Coulomb a as a string": "a > 0",
    "cost parameter unknown": "'q'", "name not a string": '"name"', "normalize not a boolean": '"normalize"',
    "n_marginals huge": "too large", "NPZ that is an NPY": ".npy", "NPZ n_marginals an array": "n_marginals",
    "NPZ n_marginals 2.7": "2.7", "repeated points under Coulomb": "twice",
    "dissociate 1e300": "too large",
}
#: Cases also run in a real subprocess (the CLI as a user starts it).
SUBPROCESS_CASES = ["output ok, plot dir missing", "JSON nested deeply", "NPZ that is an NPY",
                    "repeated points under Coulomb", "dissociate 1e300"]


def _write_bytes(d: Path, name: str, data: bytes) -> str:
    (d / name).write_bytes(data)
    return str(d / name)


def _npy_as_npz(d: Path) -> str:
    np.save(d / "a.npy", np.arange(3.0))
    (d / "a.npy").rename(d / "a.npz")
    return str(d / "a.npz")


def _npz(d: Path, **over) -> str:
    arrays = {"points": np.arange(3.0), "weights": np.full(3, 1 / 3), "n_marginals": np.array(2),
              "cost": "soft_coulomb"}
    arrays.update(over)
    np.savez(d / "p.npz", **arrays)
    return str(d / "p.npz")


def _check(code: int, out: str, err: str, before: set[Path], d: Path, case: str) -> None:
    assert code == EXIT_BAD_INPUT, err
    assert EXPECT[case] in err, err
    assert "Traceback" not in err and err.startswith("error: "), err
    assert len(err.splitlines()) == 1, err
    assert set(d.rglob("*")) == before, "a file was left behind"


def test_catalogue_is_complete():
    assert set(EXPECT) == set(SETUPS) and set(SUBPROCESS_CASES) <= set(SETUPS)


@pytest.mark.parametrize("case", list(SETUPS))
def test_cli_bad_input_in_process(case, tmp_path, capsys):
    argv = SETUPS[case](tmp_path)
    before = set(tmp_path.rglob("*"))
    code = main(argv)
    out, err = capsys.readouterr()
    _check(code, out, err, before, tmp_path, case)


def test_cli_bad_input_subprocess(tmp_path):
    """The subprocess cases run side by side (each a fresh interpreter, as a user starts it)."""
    runs = []
    for k, case in enumerate(SUBPROCESS_CASES):
        d = tmp_path / f"case{k}"
        d.mkdir()
        argv = SETUPS[case](d)
        before = set(d.rglob("*"))
        child = subprocess.Popen([sys.executable, "-m", "mmot_models.cli", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})
        runs.append((case, d, before, child))
    try:
        for case, d, before, child in runs:
            out, err = child.communicate(timeout=SUBPROCESS_TIMEOUT_S)
            _check(child.returncode, out, err, before, d, case)
    finally:
        for *_, child in runs:
            if child.poll() is None:
                child.kill()


# ------------------------------------------------------------------------ the API: one error family
_U = mm.uniform(mm.line(0, 1, 4, midpoints=True))
_P = mm.MMOTProblem.symmetric(_U, 2, "soft_coulomb")

API_CASES: dict[str, Callable[[], object]] = {
    "line a not a number": lambda: mm.line("a", 1, 3),
    "line n not an integer": lambda: mm.line(0, 1, 2.5),
    "line n None": lambda: mm.line(0, 1, None),
    "line b infinite": lambda: mm.line(0, float("inf"), 3),
    "box scalars": lambda: mm.box(0, 1, 3),
    "box shape fractional": lambda: mm.box([0], [1], [2.5]),
    "gaussian cov text": lambda: mm.gaussian([0, 1], cov="x"),
    "gaussian cov singular": lambda: mm.gaussian([[0, 0], [1, 1]], cov=np.zeros((2, 2))),
    "gaussian cov negative": lambda: mm.gaussian([0, 1], cov=-1.0),
    "gaussian mean wrong length": lambda: mm.gaussian([[0, 0], [1, 1]], mean=[1, 2, 3]),
    "from_density not callable": lambda: mm.from_density([0, 1], 3),
    "from_samples bins text": lambda: mm.from_samples([0, 1, 2], bins="x"),
    "from_samples bins 0": lambda: mm.from_samples([0, 1, 2], bins=0),
    "Marginal normalize text": lambda: mm.Marginal([0, 1], [1, 1], normalize="no"),
    "MMOTProblem one Marginal": lambda: mm.MMOTProblem(_U, "coulomb"),
    "MMOTProblem None": lambda: mm.MMOTProblem(None, "coulomb"),
    "symmetric N None": lambda: mm.MMOTProblem.symmetric(_U, None, "coulomb"),
    "symmetric N nan": lambda: mm.MMOTProblem.symmetric(_U, float("nan"), "coulomb"),
    "symmetric N inf": lambda: mm.MMOTProblem.symmetric(_U, float("inf"), "coulomb"),
    "repeated points Coulomb": lambda: mm.MMOTProblem.symmetric(mm.uniform([0.0, 0.0, 1.0]), 3, "coulomb"),
    "repeated 2D points Yukawa": lambda: mm.MMOTProblem(
        (mm.uniform([[0, 1], [2, 3]]), mm.uniform([[0, 1], [5, 5], [0, 1]])), mm.Yukawa(1.0)),
    "SoftCoulomb a list": lambda: mm.SoftCoulomb([1, 2]),
    "SoftCoulomb a None": lambda: mm.SoftCoulomb(None),
    "Power p text": lambda: mm.Power("x"),
    "Yukawa k list": lambda: mm.Yukawa([1]),
    "GaussianCost sigma None": lambda: mm.GaussianCost(None),
    "NaryCost n_body text": lambda: mm.NaryCost(lambda X: X.sum((1, 2)), "x"),
    "pair_matrix index out of range": lambda: _P.pair_matrix(0, 9),
    "pair_matrix index text": lambda: _P.pair_matrix("a", 0),
    "tuple_costs wrong width": lambda: _P.tuple_costs([[0, 1, 2]]),
    "tuple_costs out of range": lambda: _P.tuple_costs([[0, 9]]),
    "tuple_costs fractional": lambda: _P.tuple_costs([[0.5, 1]]),
    "load_problem None": lambda: mm.load_problem(None),
    "load_problem int": lambda: mm.load_problem(3),
    "problem_from_dict N huge": lambda: mm.problem_from_dict(_problem_json(n_marginals=10**30)),
    "save_problem not a problem": lambda: mm.save_problem(3, "x.json"),
    "save_problem dir missing": lambda: mm.save_problem(_P, "/nonexistent_dir_mmot/x.json"),
    "save_problem unknown extension": lambda: mm.save_problem(_P, "x.txt"),
    "choose_method None": lambda: mm.choose_method(None),
    "family lows text": lambda: mm.family_from_spec("hats:2", "a", [1]),
    "MCOTProblem marginals None": lambda: mm.MCOTProblem(None, "coulomb"),
}


@pytest.fixture(scope="module")
def planless() -> mm.Solution:
    return mm.solve(_P, method="meanfield")


@pytest.mark.parametrize("case", list(API_CASES))
def test_api_bad_input_is_mmot_input_error(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mm.MMOTInputError):
        API_CASES[case]()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", ["pair_density", "support_points", "marginals"])
def test_solution_without_plan(planless, call):
    """Regression: a plan-less solution raised a bare ValueError."""
    assert not planless.has_plan
    with pytest.raises(mm.MMOTInputError, match="carries no plan"):
        getattr(planless, call)()


def test_valid_neighbours_still_accepted():
    """The checks do not refuse what is valid: integral floats, numpy integers, distinct points."""
    assert mm.line(0, 1, 3.0).shape == (3, 1)
    assert mm.MMOTProblem.symmetric(_U, np.int64(3), "coulomb").n_marginals == 3
    assert mm.SoftCoulomb(np.float32(0.5)).a == 0.5 and mm.Yukawa(0).k == 0.0
    p = mm.MMOTProblem((mm.uniform([0.0, 1.0]), mm.uniform([0.0, 1.0])), "coulomb")  # shared positions across marginals
    assert p.tuple_costs(np.array([[0, 1]]))[0] == 1.0
    assert _P.pair_matrix(-1, 0).shape == (4, 4)
