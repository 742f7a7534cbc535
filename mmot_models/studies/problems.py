"""Problems from a few named parameters, reproducibly: what sweeps and the instance library build.

A *problem specification* is a flat mapping of JSON scalars, e.g.::

    {"density": "gaussian", "dim": 1, "n_points": 40, "n_marginals": 3, "cost": "coulomb"}

Keys (defaults in brackets):

``density`` [``"uniform"``]
    ``uniform``, ``gaussian`` (mean ``center``, standard deviation ``width``), ``random`` (weights
    drawn uniformly in ``[0.5, 1]`` from ``seed``, then normalised) or ``atomic`` (``n_points``
    point masses at random positions of the box, weights as for ``random``; not a grid).
``dim`` [1], ``n_points`` [20] (per axis for grids), ``domain`` [``[-4, 4]``] (each axis),
``n_marginals`` [2], ``seed`` [0], ``center`` [0], ``width`` [1]
``cost`` [``"coulomb"``]
    a cost name; parameters as ``cost_<name>`` keys (``cost_a`` for soft Coulomb, ``cost_p`` for
    the power cost), or a full mapping ``{"kind": ..., ...}``.
``instance``
    the name of an instance of the certified library (:mod:`mmot_models.bench`); other keys are
    then not allowed.
``file``
    a problem file (``.json``/``.npz``, :func:`mmot_models.load_problem`).

The canonical JSON of a specification (sorted keys, defaults filled in) is what task keys and
problem hashes are computed from, so the same specification always names the same problem.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Mapping

import numpy as np

from ..errors import MMOTInputError
from ..io import canonical_json, problem_hash
from ..problem import Marginal, MMOTProblem, box, gaussian

__all__ = ["PROBLEM_KEYS", "DENSITIES", "normalize_spec", "build_problem", "canonical_json", "problem_hash",
           "spec_hash"]

#: Recognised keys of a problem specification and their defaults.
PROBLEM_KEYS: dict[str, Any] = {
    "density": "uniform", "dim": 1, "n_points": 20, "domain": [-4.0, 4.0], "n_marginals": 2, "seed": 0,
    "center": 0.0, "width": 1.0, "cost": "coulomb",
}
#: Densities :func:`build_problem` knows.
DENSITIES = ("uniform", "gaussian", "random", "atomic")


def spec_hash(data: Any, n: int = 16) -> str:
    """First ``n`` hex digits of the SHA-256 of :func:`canonical_json` of ``data``."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:n]


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def normalize_spec(spec: Mapping[str, Any], where: str = "problem") -> dict[str, Any]:
    """Check a specification's keys and value types and fill in defaults (the canonical form)."""
    if not isinstance(spec, Mapping):
        raise MMOTInputError(f"{where}: a problem specification must be a mapping of parameters")
    spec = dict(spec)
    if "instance" in spec or "file" in spec:
        which = "instance" if "instance" in spec else "file"
        extra = sorted(set(spec) - {which})
        if extra:
            raise MMOTInputError(f"{where}: {which!r} names a whole problem; remove {', '.join(extra)}")
        if not isinstance(spec[which], str):
            raise MMOTInputError(f"{where}: {which!r} must be a string")
        return spec
    out = dict(PROBLEM_KEYS)
    for k, v in spec.items():
        if k not in PROBLEM_KEYS and not k.startswith("cost_"):
            from ..options import suggest
            raise MMOTInputError(f"{where}: unknown key {k!r};{suggest(k, PROBLEM_KEYS)} keys are "
                                 f"{', '.join(PROBLEM_KEYS)}, cost_<param>, instance, file")
        if k == "domain":
            if (not isinstance(v, (list, tuple)) or len(v) != 2 or not all(isinstance(x, (int, float)) for x in v)
                    or not v[1] > v[0]):
                raise MMOTInputError(f"{where}: domain must be [low, high] with high > low, got {v!r}")
            v = [float(v[0]), float(v[1])]
        elif k == "cost" and isinstance(v, Mapping):
            v = dict(v)
        elif not _is_scalar(v):
            raise MMOTInputError(f"{where}: {k} must be a single number or string here, got {v!r}")
        out[k] = v
    for k in ("dim", "n_points", "n_marginals", "seed"):
        v = out[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise MMOTInputError(f"{where}: {k} must be an integer, got {v!r}")
        out[k] = int(v)
    if out["dim"] not in (1, 2, 3):
        raise MMOTInputError(f"{where}: dim must be 1, 2 or 3, got {out['dim']}")
    if out["n_points"] < 1 or out["n_marginals"] < 2:
        raise MMOTInputError(f"{where}: need n_points >= 1 and n_marginals >= 2")
    if out["density"] not in DENSITIES:
        raise MMOTInputError(f"{where}: unknown density {out['density']!r}; choose one of {', '.join(DENSITIES)}")
    for k in ("center", "width"):
        if not isinstance(out[k], (int, float)) or not math.isfinite(out[k]):
            raise MMOTInputError(f"{where}: {k} must be a finite number")
    if not out["width"] > 0:
        raise MMOTInputError(f"{where}: width must be positive")
    return out


def _cost(spec: Mapping[str, Any]) -> Any:
    cost = spec["cost"]
    params = {k[5:]: v for k, v in spec.items() if k.startswith("cost_")}
    if isinstance(cost, Mapping):
        return {**cost, **params}
    return {"kind": cost, **params} if params else cost


def build_problem(spec: Mapping[str, Any], where: str = "problem") -> MMOTProblem:
    """Build the (symmetric) problem a specification describes; see the module docstring."""
    spec = normalize_spec(spec, where)
    if "instance" in spec:
        from ..bench import get_instance
        return get_instance(spec["instance"]).problem()
    if "file" in spec:
        from ..io import load_problem
        return load_problem(spec["file"])
    d, n = spec["dim"], spec["n_points"]
    lo, hi = spec["domain"]
    rng = np.random.default_rng(spec["seed"])
    density = spec["density"]
    if density == "atomic":
        pts = lo + (hi - lo) * rng.random((n, d))
    else:
        pts = box([lo] * d, [hi] * d, [n] * d, midpoints=True)
    if density == "gaussian":
        marg = gaussian(pts, mean=float(spec["center"]), cov=float(spec["width"]) ** 2)
    elif density in ("random", "atomic"):
        marg = Marginal(pts, rng.uniform(0.5, 1.0, pts.shape[0]), normalize=True)
    else:
        marg = Marginal(pts, np.full(pts.shape[0], 1.0 / pts.shape[0]))
    name = spec.get("name") or f"{density}-d{d}-l{pts.shape[0]}-N{spec['n_marginals']}"
    return MMOTProblem.symmetric(marg, spec["n_marginals"], _cost(spec), name=name)
