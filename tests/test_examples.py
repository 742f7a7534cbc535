"""Every script in examples/ runs to completion from a clean directory and writes its figures.

The default run passes each script's own small-size flags (:data:`QUICK_ARGS`) to keep the suite
within its time budget; ``-m slow`` runs every script as written, with its defaults.
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


def _run_example(script: Path, args: list[str], cwd: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True,
                       timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(cwd.glob("*.png")), "an example should write at least one figure"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script, tmp_path):
    _run_example(script, QUICK_ARGS.get(script.stem, []), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.stem in QUICK_ARGS], ids=lambda p: p.stem)
def test_example_runs_with_defaults(script, tmp_path):
    _run_example(script, [], tmp_path)
