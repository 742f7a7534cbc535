"""Run every script of examples/ (small sizes) and collect its figures for the documentation site.

    python scripts/docs_figures.py [--force]

Figures land in docs/img/examples/<script>/ (not committed; `mkdocs build` runs this through the
hook in scripts/mkdocs_hooks.py when they are missing).  Each example runs in a temporary directory
with the same small-size flags as the test suite.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "examples"
#: Small sizes (as in tests/test_examples.py; atoms needs points-li divisible by 3).
QUICK_ARGS: dict[str, list[str]] = {
    "atoms": [".", "--points-he", "40", "--points-li", "18", "--points-be", "8"],
    "entropic_n3_multiscale": [".", "--l", "256"],
    "dissociation": [".", "--distances", "2,8", "--no-progress"],
    "sweep_study": ["--serial", "--sizes", "3"],
}


def figures(force: bool = False) -> list[Path]:
    """Run the examples whose figure folder is missing (all with ``force``); return the figures."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    made = []
    for script in sorted((ROOT / "examples").glob("*.py")):
        dest = OUT / script.stem
        if dest.is_dir() and any(dest.glob("*.png")) and not force:
            made += sorted(dest.glob("*.png"))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, str(script), *QUICK_ARGS.get(script.stem, [])], cwd=tmp, env=env,
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                raise RuntimeError(f"{script.name} failed:\n{r.stderr[-2000:]}")
            dest.mkdir(parents=True, exist_ok=True)
            for png in sorted(Path(tmp).glob("*.png")):
                shutil.copy(png, dest / png.name)
                made.append(dest / png.name)
        print(f"{script.name}: {len(list(dest.glob('*.png')))} figure(s)", file=sys.stderr)
    return made


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true", help="rerun every example")
    figures(ap.parse_args().force)
