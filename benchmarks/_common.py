"""Shared benchmark helpers: machine description and writing a section of docs/benchmarks.md."""
from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Every number here was measured by a script in `benchmarks/`, as a ratio against a peer run in the
same process on the same machine (these machines are shared and noisy: compare ratios, not seconds).
Each section names the command that regenerates it.
"""


def machine() -> str:
    import numpy as np
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem = f", {int(fh.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import highspy  # noqa: F401
    from importlib.metadata import version
    return (f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, numpy {np.__version__}, "
            f"highspy {version('highspy')}, pyomo {version('pyomo')}")


def write_section(topic: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- BEGIN topic -->`` and ``<!-- END topic -->``."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    begin, end = f"<!-- BEGIN {topic} -->", f"<!-- END {topic} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def command() -> str:
    return "python " + " ".join([Path(sys.argv[0]).as_posix().split("/")[-2] + "/" + Path(sys.argv[0]).name]
                                + sys.argv[1:])
