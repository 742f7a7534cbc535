"""The machine-readable contract: under ``--json`` stdout is exactly one JSON document.

highspy >= 1.16 prints a banner on the C-level stdout when ``Highs()`` is constructed, Pyomo logs
tracebacks, Clarabel/SCS can print: none of it may reach stdout.  Every subcommand runs here in a
real interpreter (a fresh one per subcommand, so the banner really is printed) and ``json.loads``
must accept ALL of stdout.  Every shipped problem x every method runs in one batch interpreter
whose file descriptors 1/2 are real files per command (see ``tests/cli_batch.py``).
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.cli import _stdout_reserved, emit_json
from mmot_models.solve import METHODS

from .cli_batch import ROOT, run_batch, run_cli

PROBLEMS = ROOT / "examples" / "problems"
SHIPPED = sorted(PROBLEMS.glob("*.json")) + sorted(PROBLEMS.glob("*.npz"))
VALUE_TOL = 1e-7          # exact methods against the full primal LP (a second formulation)
BANNER = "Running HiGHS"


def _one_json_document(stdout: str):
    assert BANNER not in stdout
    return json.loads(stdout)  # the whole of stdout, nothing before or after


@pytest.mark.parametrize("args", [
    ["solve", "examples/problems/gaussian_n3.npz", "--json"],
    ["atom", "bohr", "--points", "20", "--json"],
    ["compare", "examples/problems/gaussian_n3.json", "--methods", "exact,krep,meanfield,variance", "--k-max", "3",
     "--json"],
], ids=["solve", "atom", "compare"])
def test_subcommand_in_fresh_process_prints_one_json_document(args):
    """A fresh interpreter per subcommand, so HiGHS really prints its banner (once per process).
    Before the fix the banner preceded the document; `atom` and `compare` (which print through
    ``mmot_models.cli`` while ``python -m`` runs it as ``__main__``) printed theirs to stderr."""
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    out = _one_json_document(r.stdout)
    assert "Traceback" not in r.stderr
    if args[0] == "solve":
        assert out["status"] == "optimal" and out["problem"]["name"] == "gaussian_n3"
    elif args[0] == "compare":
        rows = {d["method"]: d for d in out}
        assert rows["meanfield"]["status"] == "no_bound" and rows["meanfield"]["value"] is None
        assert rows["variance"]["value"] <= rows["exact (symmetric)"]["value"] + VALUE_TOL
    else:
        assert out["status"] == "optimal" and math.isfinite(out["value"])


# ----------------------------------------------------------------------------- one batch interpreter
FENCE = re.compile(r"^\s*```\s*(\S*)\s*$")
RUNNABLE_FENCES = {"", "bash", "sh", "shell", "console"}
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_commands() -> list[tuple[str, list[str], bool]]:
    """Every line starting with ``mmot `` inside a shell (or unlabelled) code block of README.md
    and docs/*.md: ``(file:line, argv after "mmot", marked slow)``.  ``text`` blocks are synopses."""
    found = []
    for path in DOC_FILES:
        lang = None
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = FENCE.match(line)
            if m:
                lang = m.group(1) if lang is None else None
                continue
            if lang in RUNNABLE_FENCES and line.strip().startswith("mmot "):
                argv = shlex.split(line, comments=True)
                slow = re.search(r"#.*\bslow\b", line) is not None
                found.append((f"{path.relative_to(ROOT)}:{n}", argv[1:], slow))
    return found


def _matrix_commands(files) -> list[list[str]]:
    return [["solve", str(f.relative_to(ROOT)), "--method", method, "--json"]
            for f in files for method in ["auto", *METHODS]]


EXTRA = [
    ["methods", "--json"],
    ["dissociate", "--distances", "2", "--points", "20", "--no-progress", "--json"],
    ["solve", "examples/problems/gaussian_n3.json", "--backend", "pyomo", "--method", "primal", "--json"],
    ["solve", "examples/problems/gaussian_n3.json", "--backend", "pyomo", "--pyomo-solver", "nosuch", "--json"],
]


def _workdir(tmp: Path) -> Path:
    """A scratch copy of the repository's example problems: commands run there as from the root."""
    shutil.copytree(PROBLEMS, tmp / "examples" / "problems")
    return tmp


@pytest.fixture(scope="module")
def default_batch(tmp_path_factory):
    """Dissociate first (it is then the first to build a HiGHS instance, and so sees its banner)."""
    docs = [(where, argv) for where, argv, slow in doc_commands() if not slow]
    cmds = EXTRA[1:2] + EXTRA[:1] + EXTRA[2:] + _matrix_commands(sorted(PROBLEMS.glob("*.json")))
    cmds += [argv for _, argv in docs]
    results = run_batch(cmds, cwd=_workdir(tmp_path_factory.mktemp("batch")))
    by_argv = {tuple(r["argv"]): r for r in results[:len(cmds) - len(docs)]}
    return by_argv, list(zip([w for w, _ in docs], results[len(cmds) - len(docs):]))


def _check_matrix(by_argv: dict, files) -> dict[str, float]:
    exact_primal: dict[str, float] = {}
    by_file: dict[str, dict[str, dict]] = {}
    for argv in _matrix_commands(files):
        r = by_argv[tuple(argv)]
        code, where, method = r["code"], " ".join(argv), argv[3]
        assert code in (0, 2, 3), f"{where}: exit {code}\n{r['stderr'][-2000:]}"
        assert "Traceback" not in r["stderr"], where
        if code == 2:  # not applicable to this problem: one clean line, nothing on stdout
            assert r["stdout"] == "", where
            lines = [ln for ln in r["stderr"].splitlines() if ln.strip() and BANNER not in ln
                     and not ln.startswith("Includes third-party")]
            assert len(lines) == 1 and lines[0].startswith("error: "), (where, r["stderr"])
            continue
        out = _one_json_document(r["stdout"])
        assert (code == 0) == (out["status"] in ("optimal", "converged")), where
        assert out["bound"] != "exact" or code == 0, where       # an unfinished run never says exact
        assert out["value"] is not None or code == 3, where      # no value never comes with exit 0
        by_file.setdefault(argv[1], {})[method] = out
    for f in files:
        rel = str(f.relative_to(ROOT))
        got = by_file[rel]
        # primal and auto solve every shipped problem; whatever claims the exact optimum agrees
        # with the full primal LP (a second formulation); bounds lie on their side of it
        assert got["primal"]["status"] == "optimal" and got["auto"]["status"] == "optimal", rel
        ref = exact_primal[rel] = got["primal"]["value"]
        for method, out in got.items():
            if out["status"] != "optimal":
                continue
            side = {"exact": 0, "lower": -1, "upper": 1}.get(out["bound"])
            if side == 0:
                assert abs(out["value"] - ref) < VALUE_TOL * max(1.0, abs(ref)), (rel, method)
            elif side is not None:
                assert side * (out["value"] - ref) >= -VALUE_TOL, (rel, method)
    return exact_primal


def _pot_value(path: Path) -> float:
    """N = 2 reference from POT's network simplex (an independent solver)."""
    ot = pytest.importorskip("ot")
    p = mm.load_problem(path)
    a, b = p.marginals
    M = p.pair_matrix(0, 1)
    big = 1e6 * float(np.max(M[np.isfinite(M)]))  # coincident sites (Coulomb): never worth using
    value = float(ot.emd2(a.weights, b.weights, np.where(np.isfinite(M), M, big)))
    assert value < 1e-3 * big  # the optimum avoids them
    return value


def test_every_shipped_problem_and_method_gives_json_or_one_error_line(default_batch):
    by_argv, _ = default_batch
    primal = _check_matrix(by_argv, sorted(PROBLEMS.glob("*.json")))
    for stem in ("unequal_n2", "grid2d_n2"):
        ref = _pot_value(PROBLEMS / f"{stem}.json")
        assert abs(primal[f"examples/problems/{stem}.json"] - ref) < VALUE_TOL * max(1.0, ref), stem
    methods = by_argv[tuple(EXTRA[0])]
    assert methods["code"] == 0
    assert list(_one_json_document(methods["stdout"])) == list(METHODS)
    diss = by_argv[tuple(EXTRA[1])]
    assert diss["code"] == 0, diss["stderr"][-2000:]
    assert [row["distance"] for row in _one_json_document(diss["stdout"])["scan"]] == [2.0]
    pyomo_ok, pyomo_bad = by_argv[tuple(EXTRA[2])], by_argv[tuple(EXTRA[3])]
    primal = json.loads(by_argv[("solve", "examples/problems/gaussian_n3.json", "--method", "primal",
                                 "--json")]["stdout"])["value"]
    assert pyomo_ok["code"] == 0 and abs(_one_json_document(pyomo_ok["stdout"])["value"] - primal) < VALUE_TOL
    # an unknown Pyomo solver: one error line, no Pyomo traceback/warning, nothing on stdout
    assert pyomo_bad["code"] == 2 and pyomo_bad["stdout"] == ""
    assert pyomo_bad["stderr"].strip().startswith("error: ") and "nosuch" in pyomo_bad["stderr"]
    assert len(pyomo_bad["stderr"].strip().splitlines()) == 1


def _check_doc_results(pairs) -> None:
    assert pairs, "no mmot commands found in README.md / docs"
    for where, r in pairs:
        argv = r["argv"]
        assert r["code"] == 0, f"{where}: mmot {' '.join(argv)} -> exit {r['code']}\n{r['stderr'][-2000:]}"
        assert "Traceback" not in r["stderr"], where
        if "--json" in argv:
            _one_json_document(r["stdout"])
        elif "--help" not in argv:
            assert r["stdout"].strip(), where


def test_doc_commands_run_as_written(default_batch):
    """Every `mmot ...` line in README.md / docs/*.md code blocks (not marked slow) runs from the root."""
    _check_doc_results(default_batch[1])
    assert any(w.startswith("README.md") for w, _ in default_batch[1])


@pytest.mark.slow
def test_slow_doc_commands_run_as_written(tmp_path):
    slow = [(where, argv) for where, argv, is_slow in doc_commands() if is_slow]
    results = run_batch([argv for _, argv in slow], cwd=_workdir(tmp_path))
    _check_doc_results(list(zip([w for w, _ in slow], results)))


@pytest.mark.slow
def test_npz_problems_every_method_and_compare(tmp_path):
    files = sorted(PROBLEMS.glob("*.npz"))
    compare = [["compare", str(f.relative_to(ROOT)), "--json"] for f in files]
    results = run_batch(_matrix_commands(files) + compare, cwd=_workdir(tmp_path))
    by_argv = {tuple(r["argv"]): r for r in results}
    primal = _check_matrix(by_argv, files)
    for argv in compare:
        r = by_argv[tuple(argv)]
        assert r["code"] in (0, 3) and "Traceback" not in r["stderr"], (argv, r["stderr"][-2000:])
        rows = _one_json_document(r["stdout"])
        ref = primal[argv[1]]
        for row in rows:  # every row that claims the exact value agrees with the primal LP
            if row["status"] == "optimal" and row["bound"] == "exact":
                assert abs(row["value"] - ref) < VALUE_TOL * max(1.0, ref), (argv, row["method"])


def test_shipped_problems_match_their_generator():
    """The files are what scripts/make_example_problems.py writes (regenerate after editing it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example_problems", ROOT / "scripts" / "make_example_problems.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for stem, problem in mod.problems().items():
        for suffix in (".json", ".npz"):
            loaded = mm.load_problem(PROBLEMS / f"{stem}{suffix}")
            assert loaded.sizes == problem.sizes and loaded.n_marginals == problem.n_marginals
            for a, b in zip(loaded.marginals, problem.marginals):
                assert np.array_equal(a.points, b.points)
                assert np.allclose(a.weights, b.weights, rtol=1e-14, atol=0)
            assert loaded.to_dict()["cost"] == problem.to_dict()["cost"]


def test_native_stdout_goes_to_stderr_and_document_comes_last(capfd):
    """What C code writes to fd 1 while a command runs lands on stderr; the document alone on stdout."""
    with _stdout_reserved(json_mode=True) as channel:
        os.write(1, b"native banner\n")
        print("python-level chatter")
        emit_json({"value": 1.5})
    during = capfd.readouterr()
    assert during.out == ""          # nothing reached stdout during the command
    assert "native banner" in during.err and "python-level chatter" in during.err
    for text in channel.documents:
        print(text)
    assert json.loads(capfd.readouterr().out) == {"value": 1.5}


def test_human_output_stays_on_stdout_native_output_does_not(capfd):
    with _stdout_reserved(json_mode=False):
        os.write(1, b"native banner\n")
        print("package table")
    cap = capfd.readouterr()
    assert "package table" in cap.out and "native banner" not in cap.out and "native banner" in cap.err


def test_one_document_per_command():
    with _stdout_reserved(json_mode=True):
        emit_json([1])
        with pytest.raises(RuntimeError):
            emit_json([2])
