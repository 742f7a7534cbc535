"""MkDocs hook: produce the example figures (scripts/docs_figures.py) before a build when missing."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def on_pre_build(config, **kwargs) -> None:  # noqa: ARG001 - MkDocs hook signature
    path = Path(__file__).with_name("docs_figures.py")
    spec = importlib.util.spec_from_file_location("docs_figures", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.figures(force=False)


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:  # noqa: ARG001
    """Replace a line ``FIGURES:<example>`` by the figures of that example."""
    docs = Path(config["docs_dir"])
    out = []
    for line in markdown.splitlines():
        if line.startswith("FIGURES:"):
            stem = line.split(":", 1)[1].strip()
            pngs = sorted((docs / "img" / "examples" / stem).glob("*.png"))
            if not pngs:
                raise RuntimeError(f"no figures for example {stem}; run python scripts/docs_figures.py")
            out += [f"![{stem}: {p.name}](img/examples/{stem}/{p.name})" + "{ width=640 }\n" for p in pngs]
        else:
            out.append(line)
    return "\n".join(out)
