"""The layers of the package and a checker of its import graph (standard library only).

Imports point down this table: a module may import modules of its own layer and of the layers
listed before it, never one listed after it -- at module level or inside a function.

===============  ==============================================================================
layer            modules
===============  ==============================================================================
core             ``errors``, ``costs``, ``problem``, ``certificate``, ``solution``, ``options``,
                 ``fileio``, ``io``, ``moment_functions`` (problem data, results, options, files)
formulations     ``formulations`` (problem -> standard-form LP / convex model, and back)
physics          ``physics`` (closed forms, densities, radial reductions, dissociation models:
                 data and references that methods may use, nothing solved)
backends         ``backends`` (HiGHS, Pyomo, cvxpy: a standard form in, a result out)
methods          ``algorithms``, ``entropic`` (one function per method, ``fn(problem, **options)``)
dispatch         ``solve`` (the method registry and :func:`~mmot_models.solve`), ``modeling``
drivers          ``studies`` (sweeps, verifier, results, atoms, dissociation), ``bench``,
                 ``report`` (code that calls :func:`~mmot_models.solve` for a study)
application      ``cli``, ``commands``, ``plotting`` (argparse, printing, figures)
facade           ``mmot_models`` itself (``__init__``: the public names, re-exported)
===============  ==============================================================================

The package reaches its own code only through ``import`` statements: no
``importlib.import_module``, ``__import__`` or ``"module:function"`` strings.

:func:`check` parses every module with :mod:`ast` (relative imports resolved, imports inside
functions included) and returns the violations; ``tests/test_architecture.py`` asserts there are
none.  ``python -m mmot_models._layers`` prints them.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["LAYERS", "Violation", "layer_of", "module_name", "imports_of", "check"]

#: ``(layer, module prefixes)`` from the bottom up; a module belongs to the layer of its longest prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("mmot_models._layers", "mmot_models.errors", "mmot_models.costs", "mmot_models.problem",
              "mmot_models.certificate", "mmot_models.solution", "mmot_models.options", "mmot_models.fileio",
              "mmot_models.io", "mmot_models.moment_functions")),
    ("formulations", ("mmot_models.formulations",)),
    ("physics", ("mmot_models.physics",)),
    ("backends", ("mmot_models.backends",)),
    ("methods", ("mmot_models.algorithms", "mmot_models.entropic")),
    ("dispatch", ("mmot_models.solve", "mmot_models.modeling")),
    ("drivers", ("mmot_models.studies", "mmot_models.bench", "mmot_models.report")),
    ("application", ("mmot_models.cli", "mmot_models.commands", "mmot_models.plotting")),
    ("facade", ("mmot_models",)),
)

#: Calls that import a module named by a string.
STRING_IMPORTS = ("import_module", "__import__")


@dataclass(frozen=True)
class Violation:
    """One offending import: ``module`` (file ``path``, ``line``) reaches ``target``."""

    module: str
    path: str
    line: int
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} -> {self.target}: {self.why}"


def _prefix_match(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str, layers: Sequence[tuple[str, Sequence[str]]] = LAYERS) -> tuple[int, str] | None:
    """``(rank, layer name)`` of a dotted module name (the longest matching prefix), ``None`` if unlisted."""
    best: tuple[int, int, str] | None = None
    for rank, (name, prefixes) in enumerate(layers):
        for p in prefixes:
            if _prefix_match(module, p) and (best is None or len(p) > best[0]):
                best = (len(p), rank, name)
    return None if best is None else (best[1], best[2])


def module_name(path: Path, root: Path) -> str:
    """Dotted name of the module at ``path`` inside the package directory ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if not level:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(path: Path, module: str, known: Iterable[str]) -> list[tuple[int, str, str]]:
    """``(line, imported module, kind)`` for every import in the file (``kind``: ``"import"`` or
    ``"string"`` for an ``import_module`` / ``__import__`` call).  ``from pkg import name`` counts as
    importing ``pkg.name`` when that is a module of ``known``, else ``pkg``."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, "import") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((node.lineno, sub if sub in known else base, "import"))
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")
            if name in STRING_IMPORTS:
                arg = node.args[0] if node.args else None
                text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "<computed>"
                out.append((node.lineno, text, "string"))
    return out


def check(root: str | Path | None = None, layers: Sequence[tuple[str, Sequence[str]]] = LAYERS,
          package: str | None = None) -> list[Violation]:
    """Every import of the package at ``root`` (default: this package) that runs up the layers, every
    module of the package no layer lists, and every import of a module named by a string."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    package = package or root.name
    files = sorted(root.rglob("*.py"))
    names = {module_name(p, root): p for p in files}
    out: list[Violation] = []
    for module, path in names.items():
        rel = str(path.relative_to(root.parent))
        mine = layer_of(module, layers)
        if mine is None:
            out.append(Violation(module, rel, 1, module, "module in no layer: add it to LAYERS"))
            continue
        for line, target, kind in imports_of(path, module, names):
            if kind == "string":
                out.append(Violation(module, rel, line, target,
                                     "module imported by a string: import it with an import statement"))
                continue
            if not _prefix_match(target, package):
                continue
            theirs = layer_of(target, layers)
            if theirs is None:
                out.append(Violation(module, rel, line, target, "imported module in no layer"))
            elif theirs[0] > mine[0]:
                out.append(Violation(module, rel, line, target,
                                     f"layer {mine[1]!r} imports the higher layer {theirs[1]!r}"))
    return out


def layer_table(root: str | Path | None = None) -> Mapping[str, list[str]]:
    """``{layer: [modules]}`` of the package (what ``python -m mmot_models._layers --table`` prints)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    table: dict[str, list[str]] = {name: [] for name, _ in LAYERS}
    for p in sorted(root.rglob("*.py")):
        m = module_name(p, root)
        hit = layer_of(m)
        table.setdefault(hit[1] if hit else "(none)", []).append(m)
    return table


if __name__ == "__main__":  # pragma: no cover
    if "--table" in sys.argv[1:]:
        for layer, mods in layer_table().items():
            print(f"{layer}: {', '.join(mods)}")
    problems = check()
    for v in problems:
        print(v)
    sys.exit(1 if problems else 0)
