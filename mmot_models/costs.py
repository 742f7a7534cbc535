"""Pair costs and general N-ary costs.

A multi-marginal cost is either a *pair cost* ``c(x, y)`` summed over all pairs
``i < j`` of an N-tuple (the Coulomb case and most of physics), or a general
*N-ary* callable ``c(x_1, ..., x_N)``.  Pair costs evaluate vectorised on two
point sets (``(m, d)`` and ``(n, d)`` arrays) and return the ``(m, n)`` matrix.

Coulomb-type singularities
--------------------------
Costs with ``singular_diagonal = True`` (Coulomb, Yukawa) return ``+inf`` where
two points coincide.  The package never replaces that by a large finite number:
formulations drop tuples of infinite cost (those variables do not exist), so a
plan can only use configurations with distinct positions.  For N equal
marginals this is feasible iff no site carries more than ``1/N`` of the mass;
:meth:`mmot_models.MMOTProblem.check_feasible` detects the violation before
anything is built.  Grids therefore never regularise the diagonal silently; a
user who wants a finite diagonal chooses :class:`SoftCoulomb`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import MMOTInputError

__all__ = [
    "PairCost", "Coulomb", "SoftCoulomb", "Power", "RepulsiveHarmonic", "Yukawa", "GaussianCost",
    "CallablePairCost", "NaryCost", "cost_from_spec", "COST_NAMES", "pairwise_distances",
]


def _param(value: Any, what: str, *, positive: bool = True) -> float:
    """A cost parameter as a finite float (``> 0``, or ``>= 0`` when ``positive=False``), else
    :class:`MMOTInputError`."""
    ok_type = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    v = float(value) if ok_type else math.nan
    if not (math.isfinite(v) and (v > 0 if positive else v >= 0)):
        bound = "> 0" if positive else ">= 0"
        raise MMOTInputError(f"{what} {bound} (one finite number), got {value!r}")
    return v


def _as_points(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    return x


def pairwise_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix between point sets ``x`` (m, d) and ``y`` (n, d)."""
    x = _as_points(x)
    y = _as_points(y)
    if x.shape[1] == 1:
        return np.abs(x[:, 0][:, None] - y[:, 0][None, :])
    diff = x[:, None, :] - y[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def is_radial(cost) -> bool:
    """``True`` when ``cost`` is a pair cost given by :meth:`PairCost.of_distance` (its matrix is not overridden)."""
    if not isinstance(cost, PairCost) or type(cost).matrix is not PairCost.matrix:
        return False
    try:
        cost.of_distance(np.ones(1))
    except NotImplementedError:
        return False
    return True


def tuple_distances(points: Sequence[np.ndarray], i: int, j: int) -> np.ndarray:
    """``|points[i][k] - points[j][k]|`` row by row (the same formula as :func:`pairwise_distances`)."""
    a, b = points[i], points[j]
    if a.shape[1] == 1:
        return np.abs(a[:, 0] - b[:, 0])
    d = a - b
    return np.sqrt(np.einsum("ij,ij->i", d, d))


@dataclass(frozen=True)
class PairCost:
    """Base class of pair costs ``c(x, y)``, symmetric in ``x`` and ``y``.

    Subclasses implement :meth:`of_distance` (radial costs) or override :meth:`matrix`.
    """

    kind: str = field(default="pair", init=False)
    #: ``True`` when ``c(x, x) = +inf`` (Coulomb-type): coincident points are forbidden.
    singular_diagonal: bool = field(default=False, init=False)

    def of_distance(self, r: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def matrix(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Cost matrix ``C[a, b] = c(x_a, y_b)`` (``y`` defaults to ``x``)."""
        r = pairwise_distances(x, x if y is None else y)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return self.of_distance(r)

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        return self.matrix(x, y)

    def params(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description ``{"kind": ..., **params}`` (see :func:`cost_from_spec`)."""
        return {"kind": self.kind, **self.params()}

    @property
    def is_pair(self) -> bool:
        return True


@dataclass(frozen=True)
class Coulomb(PairCost):
    r"""Coulomb repulsion :math:`c(x, y) = 1/|x - y|`, ``+inf`` on the diagonal."""

    kind: str = field(default="coulomb", init=False)
    singular_diagonal: bool = field(default=True, init=False)

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        return np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.inf)


@dataclass(frozen=True)
class SoftCoulomb(PairCost):
    r"""Soft Coulomb :math:`c(x, y) = 1/\sqrt{|x - y|^2 + a^2}` (finite everywhere for ``a > 0``)."""

    a: float = 1.0
    kind: str = field(default="soft_coulomb", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.a, (int, float, np.integer, np.floating)) and self.a == 0:
            raise MMOTInputError("soft Coulomb needs a > 0, got a=0; use 'coulomb' for a = 0")
        object.__setattr__(self, "a", _param(self.a, "soft Coulomb needs a"))

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        return 1.0 / np.sqrt(r * r + self.a * self.a)

    def params(self) -> dict[str, Any]:
        return {"a": float(self.a)}


@dataclass(frozen=True)
class Power(PairCost):
    r"""Power cost :math:`c(x, y) = |x - y|^p` (``p > 0``; attractive, e.g. ``p = 2`` is W2)."""

    p: float = 2.0
    kind: str = field(default="power", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _param(self.p, "power cost needs p"))

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        return r ** self.p

    def params(self) -> dict[str, Any]:
        return {"p": float(self.p)}


@dataclass(frozen=True)
class RepulsiveHarmonic(PairCost):
    r"""Repulsive harmonic cost :math:`c(x, y) = -|x - y|^2`."""

    kind: str = field(default="repulsive_harmonic", init=False)

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        return -(r * r)


@dataclass(frozen=True)
class Yukawa(PairCost):
    r"""Screened Coulomb (Yukawa) :math:`c(x, y) = e^{-k|x - y|}/|x - y|`, ``+inf`` on the diagonal."""

    k: float = 1.0
    kind: str = field(default="yukawa", init=False)
    singular_diagonal: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _param(self.k, "Yukawa cost needs k", positive=False))

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        safe = np.where(r > 0, r, 1.0)
        return np.where(r > 0, np.exp(-self.k * safe) / safe, np.inf)

    def params(self) -> dict[str, Any]:
        return {"k": float(self.k)}


@dataclass(frozen=True)
class GaussianCost(PairCost):
    r"""Gaussian repulsion :math:`c(x, y) = \exp(-|x - y|^2 / (2\sigma^2))`."""

    sigma: float = 1.0
    kind: str = field(default="gaussian", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _param(self.sigma, "Gaussian cost needs sigma"))

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        return np.exp(-(r * r) / (2.0 * self.sigma ** 2))

    def params(self) -> dict[str, Any]:
        return {"sigma": float(self.sigma)}


@dataclass(frozen=True)
class CallablePairCost(PairCost):
    """A user pair cost ``fn(X, Y) -> (m, n)`` evaluated on point arrays ``X`` (m, d), ``Y`` (n, d).

    ``fn`` must be vectorised and symmetric; ``singular=True`` declares ``c(x, x) = +inf``.
    """

    fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    name: str = "callable"
    singular: bool = False
    kind: str = field(default="callable", init=False)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise MMOTInputError("CallablePairCost needs fn: a callable fn(X, Y) -> (m, n) cost matrix")
        object.__setattr__(self, "singular_diagonal", bool(self.singular))

    def matrix(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        x = _as_points(x)
        y = x if y is None else _as_points(y)
        out = np.asarray(self.fn(x, y), dtype=float)
        if out.shape != (x.shape[0], y.shape[0]):
            raise MMOTInputError(
                f"pair cost {self.name!r} returned shape {out.shape}, expected {(x.shape[0], y.shape[0])}; "
                "make fn(X, Y) return the full cost matrix")
        return out

    def to_dict(self) -> dict[str, Any]:
        raise MMOTInputError(f"user cost {self.name!r} is a Python callable and cannot be written to a file")


@dataclass(frozen=True)
class NaryCost:
    """A general N-ary cost ``fn(X) -> (m,)`` on configurations ``X`` of shape (m, N, d).

    ``symmetric=True`` declares invariance under permutations of the N points (required by the
    symmetric / multiset formulations).  ``fn`` must be vectorised over the first axis.
    """

    fn: Callable[[np.ndarray], np.ndarray]
    n_body: int
    symmetric: bool = True
    name: str = "nary"
    singular_diagonal: bool = False
    kind: str = field(default="nary", init=False)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise MMOTInputError("NaryCost needs fn: a callable fn(X) with X of shape (m, N, d)")
        n = self.n_body
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 2:
            raise MMOTInputError(f"NaryCost needs an integer n_body >= 2, got {n!r}")
        object.__setattr__(self, "n_body", int(n))

    @property
    def is_pair(self) -> bool:
        return False

    def evaluate(self, configs: np.ndarray) -> np.ndarray:
        configs = np.asarray(configs, dtype=float)
        out = np.asarray(self.fn(configs), dtype=float).reshape(-1)
        if out.shape[0] != configs.shape[0]:
            raise MMOTInputError(
                f"N-ary cost {self.name!r} returned {out.shape[0]} values for {configs.shape[0]} configurations")
        return out

    def to_dict(self) -> dict[str, Any]:
        raise MMOTInputError(f"N-ary cost {self.name!r} is a Python callable and cannot be written to a file")


_COSTS: dict[str, type[PairCost]] = {
    "coulomb": Coulomb,
    "soft_coulomb": SoftCoulomb,
    "power": Power,
    "repulsive_harmonic": RepulsiveHarmonic,
    "yukawa": Yukawa,
    "gaussian": GaussianCost,
}
_ALIASES = {"softcoulomb": "soft_coulomb", "soft-coulomb": "soft_coulomb", "harmonic": "repulsive_harmonic",
            "repulsive-harmonic": "repulsive_harmonic", "quadratic": "power", "screened_coulomb": "yukawa"}
COST_NAMES: tuple[str, ...] = tuple(_COSTS)


def cost_from_spec(spec: str | Mapping[str, Any] | PairCost | NaryCost) -> PairCost | NaryCost:
    """Build a cost from a name (``"coulomb"``) or a mapping (``{"kind": "soft_coulomb", "a": 0.5}``)."""
    if isinstance(spec, (PairCost, NaryCost)):
        return spec
    if isinstance(spec, str):
        kind, params = spec, {}
    elif isinstance(spec, Mapping):
        params = dict(spec)
        kind = params.pop("kind", params.pop("name", None))
        if not isinstance(kind, str):
            raise MMOTInputError('cost mapping needs a "kind" string, e.g. {"kind": "soft_coulomb", "a": 0.5}')
    else:
        raise MMOTInputError(f"cost must be a name or a mapping, got {type(spec).__name__}")
    key = kind.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _COSTS:
        raise MMOTInputError(f"unknown cost {kind!r}; choose one of {', '.join(COST_NAMES)}")
    cls = _COSTS[key]
    allowed = [f.name for f in fields(cls) if f.init]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
        raise MMOTInputError(f"bad parameters {params} for cost {key!r}: unknown {', '.join(map(repr, unknown))}; "
                             f"it {takes}")
    return cls(**params)
