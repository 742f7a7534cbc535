"""The architecture is checked, not described: imports point down the layers of
:mod:`mmot_models._layers`, no method or command is reached through a string, and importing the
package leaves the optional heavy dependencies unimported."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mmot_models._layers import LAYERS, check, layer_of

ROOT = Path(__file__).resolve().parents[1]

#: Optional or heavy dependencies that ``import mmot_models`` must not import.
LAZY = ("pyomo", "cvxpy", "dask", "distributed", "matplotlib", "pyarrow", "tqdm")


def test_no_import_runs_up_the_layers():
    problems = check(ROOT / "mmot_models")
    assert not problems, "imports against the layers of mmot_models/_layers.py:\n" + "\n".join(map(str, problems))


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


TOY_LAYERS = (("low", ("pkg.low", "pkg.sub")), ("high", ("pkg.high",)), ("top", ("pkg",)))


def test_checker_accepts_a_clean_package(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from .high import g\n",
        "low.py": "import json\n\ndef f():\n    return 1\n",
        "sub/__init__.py": "",
        "sub/leaf.py": "from ..low import f\n",
        "high.py": "from .low import f\nfrom .sub import leaf\n\ndef g():\n    return f()\n",
    })
    assert check(root, TOY_LAYERS) == []


def test_checker_catches_upward_lazy_string_and_unlisted_imports(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "low.py": """
            def f():
                from .high import g   # lazy, inside a function: still an upward import
                return g()
            """,
        "sub/__init__.py": "",
        "sub/leaf.py": "from .. import high\n",          # relative, two levels, names a module
        "high.py": """
            import importlib

            def g():
                return importlib.import_module("pkg.low").f
            """,
        "stray.py": "",
    })
    found = {(v.module, v.target, v.why.split(":")[0]) for v in check(root, TOY_LAYERS)}
    assert ("pkg.low", "pkg.high", "layer 'low' imports the higher layer 'high'") in found
    assert ("pkg.sub.leaf", "pkg.high", "layer 'low' imports the higher layer 'high'") in found
    assert ("pkg.high", "pkg.low", "module imported by a string") in found
    # pkg.stray falls under the top layer's prefix "pkg"; a package with no catch-all reports it
    strict = (("low", ("pkg.low", "pkg.sub")), ("high", ("pkg.high",)), ("top", ("pkg.__init__",)))
    unlisted = {v.module for v in check(root, strict) if v.why.startswith("module in no layer")}
    assert {"pkg", "pkg.stray"} <= unlisted


def test_every_module_has_a_layer_and_layers_are_ordered():
    names = [name for name, _ in LAYERS]
    assert names[0] == "core" and names[-1] == "facade"
    assert layer_of("mmot_models.physics.reference")[1] == "physics"
    assert layer_of("mmot_models.algorithms.colgen")[0] > layer_of("mmot_models.physics.reference")[0]
    assert layer_of("mmot_models.studies.atoms")[0] > layer_of("mmot_models.solve")[0]
    assert layer_of("mmot_models.plotting")[0] > layer_of("mmot_models.studies.sweeps")[0]


def test_methods_are_objects_not_strings():
    from mmot_models.options import schema_of
    from mmot_models.solve import METHODS, Method

    for name, entry in METHODS.items():
        assert isinstance(entry, Method) and entry.name == name
        assert callable(entry.function) and schema_of(entry.function) is not None
        assert entry.alias_of is None or entry.alias_of in METHODS


def test_commands_are_functions_and_all_registered():
    import mmot_models.cli as cli
    from mmot_models.commands import COMMANDS

    assert not hasattr(cli, "EXTENSIONS")
    assert all(callable(c) for c in COMMANDS)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"solve", "demo", "methods", "compare", "atom", "dissociate", "sweep", "bench",
                                "verify"}


def test_importing_the_package_leaves_optional_dependencies_unimported():
    code = ("import sys, mmot_models; "
            f"print(__import__('json').dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({LAZY!r}))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("module", ["mmot_models.cli", "mmot_models.plotting", "mmot_models.studies"])
def test_application_modules_import_without_matplotlib_or_dask(module):
    build = "; mmot_models.cli.build_parser()" if module == "mmot_models.cli" else ""  # imports every command
    code = (f"import sys, {module}{build}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'dask', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
