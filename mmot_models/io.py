"""Reading and writing problem files (JSON and NPZ).

JSON layout (symmetric problem)::

    {"points": [0.1, 0.2, ...] or [[x, y], ...], "weights": [...], "n_marginals": 3,
     "cost": "coulomb" or {"kind": "soft_coulomb", "a": 0.5}, "name": "optional"}

Unequal marginals replace ``points``/``weights``/``n_marginals`` by
``"marginals": [{"points": ..., "weights": ...}, ...]``.

NPZ files hold the same fields as arrays: ``points``, ``weights``, ``n_marginals`` and
``cost`` (a JSON string), or ``marginal_K_points`` / ``marginal_K_weights`` for K = 0..N-1.
Writing goes through :mod:`mmot_models.fileio` (path checked first, atomic, no partial file).
:func:`problem_hash` names a problem's data (what saved results are checked against).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MMOTInputError
from .problem import Marginal, MMOTProblem

__all__ = ["load_problem", "save_problem", "problem_from_dict", "canonical_json", "problem_hash"]


def problem_from_dict(data: dict[str, Any], *, source: str = "problem") -> MMOTProblem:
    """Build an :class:`MMOTProblem` from the JSON-style mapping described in the module docstring."""
    if not isinstance(data, dict):
        raise MMOTInputError(f"{source}: the top level must be an object with points/weights or marginals")
    if "cost" not in data:
        raise MMOTInputError(f'{source}: missing "cost" (a name such as "coulomb" or {{"kind": ..., ...}})')
    name = data.get("name", Path(source).stem if source != "problem" else "problem")
    if not isinstance(name, str):
        raise MMOTInputError(f'{source}: "name" must be a string, got {type(name).__name__}')
    normalize = data.get("normalize", False)
    if not isinstance(normalize, (bool, np.bool_)):
        raise MMOTInputError(f'{source}: "normalize" must be true or false, got {normalize!r}')
    normalize = bool(normalize)
    if "marginals" in data:
        margs = data["marginals"]
        if not isinstance(margs, list) or len(margs) < 2:
            raise MMOTInputError(f'{source}: "marginals" must be a list of at least 2 {{points, weights}} objects')
        built = []
        for k, m in enumerate(margs):
            if not isinstance(m, dict) or "points" not in m or "weights" not in m:
                raise MMOTInputError(f'{source}: marginal {k} needs "points" and "weights"')
            built.append(_marginal(m["points"], m["weights"], normalize, f"{source}: marginal {k}"))
        return MMOTProblem(tuple(built), data["cost"], name=name)
    for key in ("points", "weights", "n_marginals"):
        if key not in data:
            raise MMOTInputError(f'{source}: missing "{key}" (or give "marginals" for unequal marginals)')
    n = data["n_marginals"]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise MMOTInputError(f'{source}: "n_marginals" must be an integer >= 2, got {n!r}')
    marg = _marginal(data["points"], data["weights"], normalize, source)
    return MMOTProblem.symmetric(marg, int(n), data["cost"], name=name)


def _marginal(points: Any, weights: Any, normalize: bool, where: str) -> Marginal:
    try:
        return Marginal(np.asarray(points, dtype=float), np.asarray(weights, dtype=float), normalize=normalize)
    except MMOTInputError as exc:
        raise MMOTInputError(f"{where}: {exc}") from None
    except (TypeError, ValueError):
        raise MMOTInputError(f"{where}: points and weights must be numeric lists of matching length") from None


def load_problem(path: str | os.PathLike) -> MMOTProblem:
    """Read a problem from a ``.json`` or ``.npz`` file."""
    if not isinstance(path, (str, os.PathLike)):
        raise MMOTInputError(f"load_problem expects a file path (str or os.PathLike), got {type(path).__name__}")
    p = Path(os.fsdecode(os.fspath(path)))
    if not p.exists():
        raise MMOTInputError(f"cannot read {p}: no such file")
    if p.is_dir():
        raise MMOTInputError(f"cannot read {p}: it is a directory; give a .json or .npz file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            with open(p, encoding="utf-8") as fh:
                data = json.load(fh)
        elif suffix == ".npz":
            data = _npz_to_dict(p)
        else:
            raise MMOTInputError(f"cannot read {p}: unknown extension {suffix!r}; use .json or .npz")
    except json.JSONDecodeError as exc:
        raise MMOTInputError(f"cannot read {p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise MMOTInputError(f"cannot read {p}: the JSON is nested too deeply; a problem file is at most "
                             "a few levels deep") from None
    except UnicodeDecodeError as exc:
        raise MMOTInputError(f"cannot read {p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, MMOTInputError):
            raise
        raise MMOTInputError(f"cannot read {p}: {exc.__class__.__name__}: {exc}") from None
    return problem_from_dict(data, source=str(p.name))


def _npz_to_dict(p: Path) -> dict[str, Any]:
    import zipfile
    try:
        loaded = np.load(p, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise MMOTInputError(f"cannot read {p}: this is a single .npy array, not a .npz archive; save the "
                                 "fields with numpy.savez (points, weights, n_marginals, cost)")
        with loaded as z:
            files = set(z.files)
            data: dict[str, Any] = {}
            if "cost" in files:
                raw = str(z["cost"])
                data["cost"] = json.loads(raw) if raw.strip()[:1] in ("{", '"') else raw
            if "name" in files:
                data["name"] = str(z["name"])
            if "marginal_0_points" in files:
                k = 0
                margs = []
                while f"marginal_{k}_points" in files:
                    margs.append({"points": z[f"marginal_{k}_points"], "weights": z[f"marginal_{k}_weights"]})
                    k += 1
                data["marginals"] = margs
            else:
                for key in ("points", "weights"):
                    if key in files:
                        data[key] = z[key]
                if "n_marginals" in files:
                    n = z["n_marginals"]
                    if n.shape != () or n.dtype.kind not in "iu":
                        raise MMOTInputError(f'cannot read {p}: "n_marginals" must be one integer >= 2, got '
                                             f"{n.dtype} array of shape {n.shape}" + (f" ({n.item()!r})" if n.size == 1 else ""))
                    data["n_marginals"] = int(n)
            return data
    except zipfile.BadZipFile:
        raise MMOTInputError(f"cannot read {p}: not a valid .npz archive") from None
    except KeyError as exc:
        raise MMOTInputError(f"cannot read {p}: missing field {exc}") from None


def save_problem(problem: MMOTProblem, path: str | os.PathLike) -> Path:
    """Write ``problem`` to ``.json`` or ``.npz``.

    The path is checked first and the file written atomically through
    :mod:`mmot_models.fileio`: a failed or interrupted save leaves no partial file, a symbolic
    link is followed (and kept), an existing file keeps its mode, a new one gets ``0o666 & ~umask``.
    """
    from .fileio import atomic_write, check_output_path

    if not isinstance(problem, MMOTProblem):
        raise MMOTInputError(f"save_problem expects an MMOTProblem, got {type(problem).__name__}")
    p = check_output_path(path, what="save_problem:", suffixes=(".json", ".npz"))
    suffix = p.suffix.lower()
    data = problem.to_dict()
    if suffix == ".json":
        text = json.dumps(data)
        atomic_write(p, lambda fh: fh.write(text.encode("utf-8")), what="save_problem:")
        return p
    arrays: dict[str, Any] = {"cost": json.dumps(data["cost"]), "name": data["name"]}
    if "marginals" in data:
        for k, m in enumerate(problem.marginals):
            arrays[f"marginal_{k}_points"] = m.points
            arrays[f"marginal_{k}_weights"] = m.weights
    else:
        arrays.update(points=problem.marginals[0].points, weights=problem.marginals[0].weights,
                      n_marginals=problem.n_marginals)
    atomic_write(p, lambda fh: np.savez(fh, **arrays), what="save_problem:")
    return p


# ----------------------------------------------------------------------------- hashing
def canonical_json(data: Any) -> str:
    """Compact JSON with sorted keys (numpy scalars converted): the form that is hashed."""
    def conv(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"cannot serialise {type(o).__name__}")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=conv, allow_nan=False)


def problem_hash(problem: MMOTProblem) -> str:
    """SHA-256 (hex) of a problem's data: cost description, N, and every marginal's points and weights
    as little-endian float64 bytes.  Equal problems (same arrays, same cost) have equal hashes."""
    h = hashlib.sha256()
    cost = problem.cost.to_dict() if hasattr(problem.cost, "to_dict") else {"kind": getattr(problem.cost, "kind", "?")}
    h.update(canonical_json({"cost": cost, "n_marginals": problem.n_marginals}).encode())
    for m in problem.marginals:
        h.update(np.ascontiguousarray(m.points, dtype="<f8").tobytes())
        h.update(b"|")
        h.update(np.ascontiguousarray(m.weights, dtype="<f8").tobytes())
        h.update(b"#")
    return h.hexdigest()
