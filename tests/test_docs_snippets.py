"""The Python code blocks of the pages that show the workflow run as written (in order, one namespace per page).

Pages listed here are complete programs; other pages' blocks are fragments (they name data the
reader supplies) and are exercised through ``examples/`` instead.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE_PAGES = ["README.md", "docs/index.md", "docs/modeling.md"]


def _blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # blocks may write files (model.mps, figures)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = _blocks(page)
    assert blocks, f"{page} has no python block"
    ns: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page}[block {i}]", "exec"), ns)


def test_readme_shows_the_model_workflow_near_the_top():
    blocks = _blocks("README.md")
    assert len(blocks) >= 2 and "mm.Model(" in blocks[1]
