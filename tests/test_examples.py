"""Every script in examples/ runs to completion from a clean directory and writes its figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script, tmp_path):
    env = {"MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    import os

    env = {**os.environ, **env}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(tmp_path.glob("*.png")), "an example should write at least one figure"
