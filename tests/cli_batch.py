"""Run several ``mmot`` command lines in ONE fresh interpreter, each with its own real stdout/stderr.

Used by the JSON-contract and documentation tests: a subprocess per command would cost an
interpreter start and the package imports every time.  The driver below points file descriptors
1 and 2 at temporary files around each :func:`mmot_models.cli.main` call, so what a command (or a
native library inside it) writes at the C level is captured exactly as a shell would see it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]

DRIVER = r'''
import json, os, sys, tempfile, time, traceback
from mmot_models.cli import main

results = []
for argv in json.load(open(sys.argv[1])):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(); sys.stderr.flush()
        s1, s2 = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        t0 = time.perf_counter()
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = "traceback"
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(s1, 1); os.dup2(s2, 2); os.close(s1); os.close(s2)
        elapsed = time.perf_counter() - t0
        out.seek(0); err.seek(0)
        results.append({"argv": argv, "code": code, "stdout": out.read().decode(),
                        "stderr": err.read().decode(), "seconds": elapsed})
json.dump(results, open(sys.argv[2], "w"))
'''


def subprocess_env() -> dict[str, str]:
    """Environment for a child interpreter that imports this checkout's ``mmot_models``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("MPLBACKEND", None)  # the CLI must choose a headless backend itself
    return env


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m mmot_models.cli ARGS`` in a real subprocess."""
    return subprocess.run([sys.executable, "-m", "mmot_models.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=subprocess_env())


def run_batch(commands: Sequence[Sequence[str]], cwd: Path, timeout: float = 600) -> list[dict[str, Any]]:
    """Run each argv of ``commands`` through ``mmot_models.cli.main`` in one fresh interpreter.

    Returns one dict per command: ``argv``, ``code`` (exit code, or ``"traceback"``), ``stdout``,
    ``stderr`` (what file descriptors 1 and 2 received) and ``seconds``.
    """
    cwd = Path(cwd)
    spec, result = cwd / "_batch_in.json", cwd / "_batch_out.json"
    spec.write_text(json.dumps([list(c) for c in commands]))
    r = subprocess.run([sys.executable, "-c", DRIVER, str(spec), str(result)], cwd=cwd, capture_output=True,
                       text=True, timeout=timeout, env=subprocess_env())
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(result.read_text())
