"""Every script in examples/ runs to completion from a clean directory and writes its figures.

The default run passes each script's own small-size flags (:data:`QUICK_ARGS`) to keep the suite
within its time budget, two scripts at a time (:data:`PARALLEL_RUNS`); ``-m slow`` runs every script as
written, with its defaults.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: Smaller sizes for the default run, through each script's documented command-line flags.
QUICK_ARGS: dict[str, list[str]] = {
    "atoms": [".", "--points-he", "40", "--atoms", "He"],
    "entropic_n3_multiscale": [".", "--l", "128"],
    "entropic_1d_validation": [".", "--eps-steps", "2"],
    "dissociation": [".", "--distances", "2,8", "--no-progress"],
    "sweep_study": ["--serial", "--sizes", "3"],
    "comotion_1d": ["--points", "20"],
    "k_hierarchy": ["--k-max", "4"],
}


def _launch(script: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=env)


def _check(r: subprocess.CompletedProcess, cwd: Path) -> None:
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(cwd.glob("*.png")), "an example should write at least one figure"


def _run_example(script: Path, args: list[str], cwd: Path) -> None:
    _check(_launch(script, args, cwd), cwd)


#: The quick runs are independent processes: run them two at a time (the machines have two cores).
PARALLEL_RUNS = 2


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    from concurrent.futures import ThreadPoolExecutor

    dirs = {p.stem: tmp_path_factory.mktemp(p.stem) for p in EXAMPLES}
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        futures = {p.stem: pool.submit(_launch, p, QUICK_ARGS.get(p.stem, []), dirs[p.stem]) for p in EXAMPLES}
        return {name: (f.result(), dirs[name]) for name, f in futures.items()}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script, quick_runs):
    result, cwd = quick_runs[script.stem]
    _check(result, cwd)


@pytest.mark.slow
@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.stem in QUICK_ARGS], ids=lambda p: p.stem)
def test_example_runs_with_defaults(script, tmp_path):
    _run_example(script, [], tmp_path)
