"""Loading results back: :func:`load_solution` for files written by ``mmot solve --output`` /
:meth:`Solution.to_dict <mmot_models.Solution.to_dict>`, and :func:`load_result` for anything
:func:`~mmot_models.studies.verifier.verify` accepts (also plans from other tools).

A solution written by this package embeds its problem (``problem_data``, the format of
:func:`mmot_models.load_problem`) and the problem's hash (``problem.hash``,
:func:`mmot_models.studies.problems.problem_hash`); a problem given explicitly must match that hash.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..problem import MMOTProblem

__all__ = ["load_solution", "load_result", "LoadedResult"]


@dataclass(frozen=True)
class LoadedResult:
    """A result file read for verification: the problem, the claimed plan/potentials and bracket."""

    problem: MMOTProblem
    plan: Any = None
    potentials: list[np.ndarray] | None = None
    value: float | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    source: str = ""


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _read_json(p: Path) -> Any:
    try:
        with open(p, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise MMOTInputError(f"cannot read {p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise MMOTInputError(f"cannot read {p}: JSON nested too deeply") from None
    except OSError as exc:
        raise MMOTInputError(f"cannot read {p}: {exc.strerror}") from None


def _problem_of(data: dict[str, Any], given: MMOTProblem | None, p: Path) -> MMOTProblem:
    from ..io import problem_from_dict
    from .problems import problem_hash

    claimed = (data.get("problem") or {}).get("hash") if isinstance(data.get("problem"), dict) else None
    claimed = claimed or data.get("problem_hash")
    if given is not None:
        if claimed and problem_hash(given) != claimed:
            raise MMOTInputError(f"{p.name} was computed for another problem (hash {claimed[:12]}..., the given "
                                 f"problem has {problem_hash(given)[:12]}...); give the problem it was solved for")
        return given
    if isinstance(data.get("problem_data"), dict):
        prob = problem_from_dict(data["problem_data"], source=p.name)
        if claimed and problem_hash(prob) != claimed:
            raise MMOTInputError(f"{p.name}: the embedded problem does not match its hash; the file was altered")
        return prob
    if isinstance(data.get("problem"), dict) and ("points" in data["problem"] or "marginals" in data["problem"]):
        return problem_from_dict(data["problem"], source=p.name)
    raise MMOTInputError(f"{p.name} does not embed its problem; pass it with --problem FILE or --instance NAME")


def load_result(path: str | os.PathLike, problem: MMOTProblem | None = None) -> LoadedResult:
    """Read a result to verify.

    Formats: a ``.json`` written by ``mmot solve --output`` (plan, potentials, bracket and the problem
    embedded); a ``.json`` of ``{"tuples" or "indices": [[...], ...], "weights": [...]}`` with optional
    ``"potentials"``, ``"problem"``; a ``.npy`` dense plan (shape ``problem.sizes``, e.g. a POT
    ``ot.emd`` matrix for N = 2); a ``.npz`` with ``plan`` (dense) or ``indices``/``weights`` and
    optional ``potentials``.  ``problem`` is required when the file does not embed one.
    """
    p = Path(path)
    if not p.is_file():
        raise MMOTInputError(f"cannot read {p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".json":
        data = _read_json(p)
        if not isinstance(data, dict):
            raise MMOTInputError(f"{p.name}: the top level must be an object with a plan and/or potentials")
        prob = _problem_of(data, problem, p)
        plan = data.get("plan")
        if plan is None and ("tuples" in data or "indices" in data):
            plan = {k: data[k] for k in ("tuples", "indices", "weights") if k in data}
        pots = data.get("potentials")
        if plan is None and pots is None:
            raise MMOTInputError(f"{p.name} holds neither a plan nor potentials; nothing to verify")
        source = f"{data.get('method', 'external')} result" if "status" in data else "external plan"
        return LoadedResult(prob, plan, [np.asarray(q, dtype=float) for q in pots] if pots is not None else None,
                            _num(data.get("value")), _num(data.get("lower_bound")), _num(data.get("upper_bound")),
                            source)
    if suffix in (".npy", ".npz"):
        if problem is None:
            raise MMOTInputError(f"{p.name} holds arrays only; pass its problem with --problem FILE or --instance NAME")
        try:
            loaded = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise MMOTInputError(f"cannot read {p}: {exc}") from None
        if suffix == ".npy":
            return LoadedResult(problem, np.asarray(loaded, dtype=float), None, source="dense plan array")
        with loaded as z:
            files = set(z.files)
            plan = z["plan"] if "plan" in files else (
                (z["indices"], z["weights"]) if {"indices", "weights"} <= files else None)
            pots = list(z["potentials"]) if "potentials" in files else None
        if plan is None and pots is None:
            raise MMOTInputError(f"{p.name} has no 'plan', 'indices'/'weights' or 'potentials' array")
        return LoadedResult(problem, plan, pots, source="arrays")
    raise MMOTInputError(f"cannot read {p}: unknown extension {suffix!r}; use .json, .npy or .npz")


def load_solution(path: str | os.PathLike, problem: MMOTProblem | None = None):
    """Load a :class:`~mmot_models.Solution` written by ``mmot solve --output`` (or ``--json``).

    The problem is rebuilt from the file (``problem_data``) unless given; a given problem must match
    the file's problem hash.  Plans and potentials are restored when the file has them (``--json``
    output has scalars only).
    """
    from ..solution import Bound, Solution, Status, Termination

    p = Path(path)
    if not p.is_file():
        raise MMOTInputError(f"cannot read {p}: no such file")
    data = _read_json(p)
    if not isinstance(data, dict) or "status" not in data or "method" not in data:
        raise MMOTInputError(f"{p.name} is not a solution written by mmot_models (no status/method)")
    try:
        prob = _problem_of(data, problem, p)
    except MMOTInputError:
        if problem is not None or "problem_data" in data:
            raise
        prob = None  # a --json summary: scalars only
    plan = data.get("plan") or {}
    idx = np.asarray(plan["indices"], dtype=np.int64) if "indices" in plan else None
    w = np.asarray(plan["weights"], dtype=float) if "weights" in plan else None
    pots = tuple(np.asarray(q, dtype=float) for q in data["potentials"]) if data.get("potentials") else None

    def f(key: str, default: float) -> float:
        v = data.get(key)
        return default if v is None else float(v)
    merr = None
    if prob is not None and idx is not None:
        from ..solution import marginal_errors
        merr = marginal_errors(prob, idx, w)
    try:
        status = Status(data["status"])
        # an unfinished run's "bracket"/"upper"/"lower"/"none" came from bound = exact (Solution.reported_bound)
        b = data.get("bound", "exact")
        bound = Bound.EXACT if b in ("bracket", "none") else Bound(b)
        termination = Termination(data["termination"]) if data.get("termination") else None
    except ValueError as exc:
        raise MMOTInputError(f"{p.name}: {exc}") from None
    # a stored result is restored as written (not re-assembled: its checks ran when it was made)
    tol = {k: float(data[k]) for k in ("gap_rel_tol", "gap_abs_floor") if data.get(k) is not None}
    sol = Solution(termination=termination, **tol, value=f("value", math.nan), status=status, method=str(data["method"]),
                    backend=str(data.get("backend", "?")), lower_bound=f("lower_bound", -math.inf),
                    upper_bound=f("upper_bound", math.inf), bound=bound, plan_indices=idx, plan_weights=w,
                    potentials=pots, primal_value=f("primal_value", math.nan), dual_value=f("dual_value", math.nan),
                    marginal_error=merr, wall_time_s=f("wall_time_s", math.nan),
                    solver_time_s=f("solver_time_s", math.nan), iterations=data.get("iterations"),
                    message=str(data.get("message", "")), info=dict(data.get("info") or {}), problem=prob)
    if data.get("verdict") and sol.verdict.value != str(data["verdict"]):   # the file's word is kept visible
        sol.info["verdict_in_file"] = str(data["verdict"])
    return sol
