"""Problem data: supports (grids and point sets), marginals and multi-marginal problems.

Nothing here solves anything.  A :class:`Marginal` is a validated probability vector on a
support of ``l`` points in ``R^d``; an :class:`MMOTProblem` is ``N`` marginals plus a cost
(pair cost summed over pairs, or an N-ary callable).

Mass tolerance
--------------
Weights must be finite and non-negative.  Their sum must equal 1 within
``MASS_TOL = 1e-6`` (relative); such weights are rescaled to sum to exactly 1, so every
formulation sees an exact probability vector.  A larger deviation is an error unless the
caller passes ``normalize=True`` (e.g. for raw density values), in which case the weights
are divided by their sum.
"""
from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .certificate import EPS
from .costs import NaryCost, PairCost, cost_from_spec, is_radial, tuple_distances
from .errors import InfeasibleProblemError, MMOTInputError

__all__ = [
    "MASS_TOL", "line", "box", "as_points", "check_weights", "Marginal", "MMOTProblem",
    "uniform", "gaussian", "from_density", "from_samples",
]

#: Relative tolerance on the total mass of a marginal before it is renormalised to 1.
MASS_TOL = 1e-6
#: Slack allowed when checking the Coulomb condition ``weight <= 1/N``.
ATOM_TOL = 1e-12


def as_points(points: np.ndarray | Sequence) -> np.ndarray:
    """Return points as a float ``(l, d)`` array (a flat list is read as ``d = 1``)."""
    try:
        arr = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise MMOTInputError("points must be numbers: an l x d list or a flat list for d = 1") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise MMOTInputError(f"points must be a non-empty l x d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise MMOTInputError("points contain NaN or infinite coordinates; remove or fix them")
    return arr


def _count(n: object, what: str) -> int:
    """``n`` as a Python int (an integer type, or a float with an integral value), else :class:`MMOTInputError`."""
    if isinstance(n, (bool, np.bool_)):
        raise MMOTInputError(f"{what} must be an integer, got {n!r}")
    try:
        return operator.index(n)  # int, numpy integers
    except TypeError:
        pass
    if isinstance(n, numbers.Real) and math.isfinite(n) and float(n).is_integer():
        return int(n)
    raise MMOTInputError(f"{what} must be an integer, got {n!r}")


def _real(x: object, what: str) -> float:
    """``x`` as a finite float, else :class:`MMOTInputError`."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.ndarray)) or np.ndim(x) != 0:
        raise MMOTInputError(f"{what} must be a real number, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise MMOTInputError(f"{what} must be finite, got {v}")
    return v


def _index(i: object, n: int, what: str) -> int:
    """A valid index into ``range(n)`` (negative indices count from the end), else :class:`MMOTInputError`."""
    k = _count(i, what) if not isinstance(i, float) else None
    if k is None or not -n <= k < n:
        raise MMOTInputError(f"{what} must be an integer in 0..{n - 1}, got {i!r}")
    return k % n


def line(a: float, b: float, n: int, *, midpoints: bool = False) -> np.ndarray:
    """Equispaced grid of ``n`` points on ``[a, b]`` as an ``(n, 1)`` array.

    With ``midpoints=True`` the points are the midpoints of ``n`` equal cells of ``[a, b]``
    (the discretisation whose uniform measure has the same co-motion structure as the
    continuum uniform density).
    """
    try:
        a, b = _real(a, "line: a"), _real(b, "line: b")
    except MMOTInputError:
        raise MMOTInputError(f"line needs finite numbers a < b, got [a, b]=[{a!r}, {b!r}]") from None
    n = _count(n, "line: n")
    if n < 1 or not (b > a):
        raise MMOTInputError(f"line needs n >= 1 and b > a, got n={n}, [a, b]=[{a}, {b}]")
    if midpoints:
        h = (b - a) / n
        return (a + h * (np.arange(n) + 0.5))[:, None]
    return np.linspace(a, b, n)[:, None]


def box(lows: Sequence[float], highs: Sequence[float], shape: Sequence[int], *, midpoints: bool = False) -> np.ndarray:
    """Equispaced Cartesian grid of a box in ``d`` dimensions, flattened to ``(prod(shape), d)`` (C order)."""
    try:
        lows, highs, shape = list(lows), list(highs), list(shape)
    except TypeError:
        raise MMOTInputError("box needs sequences lows, highs and shape (one entry per dimension), "
                             "e.g. box([0, 0], [1, 1], [10, 10])") from None
    if not (len(lows) == len(highs) == len(shape)) or not lows:
        raise MMOTInputError("box needs lows, highs and shape of the same length d")
    axes = [line(lo, hi, n, midpoints=midpoints)[:, 0] for lo, hi, n in zip(lows, highs, shape)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def check_weights(weights: np.ndarray | Sequence, n_points: int) -> np.ndarray:
    """Validate a weight vector: flat, one finite non-negative number per point (mass not checked)."""
    try:
        w = np.asarray(weights, dtype=float).reshape(-1) if np.ndim(weights) <= 1 else None
    except (TypeError, ValueError):
        raise MMOTInputError("weights must be a flat list of numbers") from None
    if w is None:
        raise MMOTInputError(f"weights must be a flat vector, got shape {np.shape(weights)}")
    if w.shape[0] != n_points:
        raise MMOTInputError(
            f"weights have {w.shape[0]} entries but the support has {n_points} points; give one weight per point")
    if not np.all(np.isfinite(w)):
        raise MMOTInputError("weights contain NaN or infinite values; every weight must be a finite number")
    if np.any(w < 0):
        i = int(np.argmin(w))
        raise MMOTInputError(f"weights must be non-negative; weight {i} is {w[i]:.6g}")
    return w


#: weights whose float sum is within ``NORMALIZED_ULPS * l`` units of roundoff of 1 count as normalised
NORMALIZED_ULPS = 4


def _validate_weights(weights: np.ndarray | Sequence, n_points: int, normalize: bool) -> np.ndarray:
    w = check_weights(weights, n_points)
    total = float(w.sum())
    if total <= 0:
        raise MMOTInputError("weights sum to zero; a marginal needs positive total mass")
    if abs(total - 1.0) <= NORMALIZED_ULPS * w.size * EPS:
        # already normalised up to the rounding of its sum: kept bit for bit, so that normalising is
        # idempotent (a saved and reloaded problem keeps its hash)
        return w
    if normalize or abs(total - 1.0) <= MASS_TOL:
        return w / total
    raise MMOTInputError(
        f"weights sum to {total:.12g}, not 1 (tolerance {MASS_TOL:g}); rescale them or pass normalize=True")


@dataclass(frozen=True, eq=False)
class Marginal:
    """A probability measure on finitely many points.

    Parameters
    ----------
    points : array_like, shape (l, d) or (l,)
        Support points.
    weights : array_like, shape (l,)
        Non-negative weights summing to 1 (within :data:`MASS_TOL`; see the module docstring).
    normalize : bool
        Divide the weights by their sum instead of requiring a unit sum.
    """

    points: np.ndarray
    weights: np.ndarray
    normalize: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise MMOTInputError(f"normalize must be True or False, got {self.normalize!r}")
        pts = as_points(self.points)
        w = _validate_weights(self.weights, pts.shape[0], self.normalize)
        pts.setflags(write=False)
        w.setflags(write=False)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "weights", w)

    @property
    def size(self) -> int:
        """Number of support points ``l``."""
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def same_as(self, other: "Marginal") -> bool:
        """Exact equality of points and weights (what the symmetric formulations require)."""
        return (self.points.shape == other.points.shape and np.array_equal(self.points, other.points)
                and np.array_equal(self.weights, other.weights))

    def mean(self) -> np.ndarray:
        return self.weights @ self.points

    def variance(self) -> float:
        """Total variance ``E|x - E x|^2``."""
        c = self.points - self.mean()
        return float(self.weights @ np.einsum("ij,ij->i", c, c))

    def to_dict(self) -> dict:
        pts = self.points[:, 0].tolist() if self.dim == 1 else self.points.tolist()
        return {"points": pts, "weights": self.weights.tolist()}


def uniform(points: np.ndarray | Sequence) -> Marginal:
    """Uniform weights on the given points."""
    pts = as_points(points)
    return Marginal(pts, np.full(pts.shape[0], 1.0 / pts.shape[0]))


def gaussian(points: np.ndarray | Sequence, mean: float | Sequence[float] = 0.0,
             cov: float | np.ndarray = 1.0) -> Marginal:
    """Gaussian density evaluated at the points and normalised (a discretised normal law)."""
    pts = as_points(points)
    d = pts.shape[1]
    try:
        m = np.broadcast_to(np.asarray(mean, dtype=float), (d,))
        s = np.asarray(cov, dtype=float)
    except (TypeError, ValueError):
        raise MMOTInputError(f"gaussian needs a mean of length {d} (or a scalar) and a scalar or {d}x{d} cov, "
                             f"got mean={mean!r}, cov={cov!r}") from None
    s = s * np.eye(d) if s.ndim == 0 else s
    if s.shape != (d, d):
        raise MMOTInputError(f"cov must be a scalar or a {d}x{d} matrix, got shape {s.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise MMOTInputError("gaussian: mean and cov must be finite")
    if not np.allclose(s, s.T) or np.linalg.eigvalsh((s + s.T) / 2).min() <= 0:
        raise MMOTInputError("gaussian: cov must be symmetric positive definite (a positive variance in 1D)")
    z = pts - m
    q = np.einsum("ij,jk,ik->i", z, np.linalg.inv(s), z)
    return Marginal(pts, np.exp(-0.5 * (q - q.min())), normalize=True)


def from_density(points: np.ndarray | Sequence, density: Callable[[np.ndarray], np.ndarray]) -> Marginal:
    """Weights proportional to ``density(points)`` (a vectorised callable on the ``(l, d)`` array)."""
    pts = as_points(points)
    if not callable(density):
        raise MMOTInputError(f"from_density needs a callable density(points), got {type(density).__name__}")
    try:
        vals = np.asarray(density(pts if pts.shape[1] > 1 else pts[:, 0]), dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise MMOTInputError("from_density: density(points) must return one number per point") from None
    return Marginal(pts, vals, normalize=True)


def from_samples(samples: np.ndarray | Sequence, bins: int | Sequence[int] = 50,
                 range_: Sequence[Sequence[float]] | None = None) -> Marginal:
    """Histogram of samples (``(m,)`` or ``(m, d)``) on the bin centres; empty bins are dropped."""
    x = as_points(samples)
    try:
        hist, edges = np.histogramdd(x, bins=bins, range=range_)
    except (TypeError, ValueError) as exc:
        raise MMOTInputError(f"from_samples: bad bins={bins!r} or range_={range_!r} for {x.shape[1]}-dimensional "
                             f"samples ({exc}); give a positive bin count per axis and one (low, high) per axis") from None
    centres = [(e[:-1] + e[1:]) / 2 for e in edges]
    mesh = np.meshgrid(*centres, indexing="ij")
    pts = np.stack([m.reshape(-1) for m in mesh], axis=1)
    w = hist.reshape(-1)
    keep = w > 0
    return Marginal(pts[keep], w[keep], normalize=True)


def _check_distinct_points(margs: Sequence[Marginal], kind: str) -> None:
    """Under a cost with an infinite diagonal, a marginal may not list one position twice.

    Two sites at one position are one site whose weight is their sum: the ``weight <= 1/N``
    condition and the cost of every configuration would silently refer to the split sites.
    """
    seen: set[int] = set()
    for k, m in enumerate(margs):
        if id(m) in seen:
            continue
        seen.add(id(m))
        if m.size < 2:
            continue
        order = np.lexsort(m.points.T[::-1])
        p = m.points[order]
        same = np.all(p[1:] == p[:-1], axis=1)
        if np.any(same):
            t = int(np.argmax(same))
            a, b = sorted((int(order[t]), int(order[t + 1])))
            where = f"marginal {k}" if len(margs) > 1 and any(x is not margs[0] for x in margs) else "the marginal"
            raise MMOTInputError(
                f"{where} lists the position {np.array2string(m.points[a], precision=6)} twice (sites {a} and {b}); "
                f"under the {kind} cost (infinite when two points coincide) merge repeated points into one site "
                "with the summed weight")


def check_index_tuples(idx: np.ndarray | Sequence, sizes: Sequence[int]) -> np.ndarray:
    """Validate index tuples: an integer ``(m, N)`` array with ``0 <= idx[:, i] < sizes[i]``."""
    arr = np.asarray(idx)
    N = len(sizes)
    if arr.ndim != 2 or arr.shape[1] != N:
        raise MMOTInputError(f"index tuples must be an (m, {N}) integer array, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise MMOTInputError(f"index tuples must be integers, got dtype {arr.dtype}")
    if arr.size:
        hi = np.asarray(sizes)
        if np.any(arr.min(axis=0) < 0) or np.any(arr.max(axis=0) >= hi):
            raise MMOTInputError(f"index tuples out of range: marginal i has indices 0..sizes[i]-1, sizes {tuple(sizes)}")
    return arr.astype(np.intp, copy=False)


@dataclass(frozen=True, eq=False)
class MMOTProblem:
    r"""Multi-marginal optimal transport problem

    .. math::
        \min_{\gamma \ge 0} \sum_{x} c(x_1, \dots, x_N)\, \gamma(x)
        \quad \text{s.t.} \quad \sum_{x : x_i = s} \gamma(x) = \mu_i(s)
        \ \ \forall i, s,

    with ``c = sum_{i<j} pair(x_i, x_j)`` for a :class:`~mmot_models.costs.PairCost`
    or a general :class:`~mmot_models.costs.NaryCost`.

    Use :meth:`symmetric` for N copies of one marginal (electrons).
    """

    marginals: tuple[Marginal, ...]
    cost: PairCost | NaryCost
    name: str = "problem"

    def __post_init__(self) -> None:
        if isinstance(self.marginals, Marginal) or not isinstance(self.marginals, (tuple, list)):
            raise MMOTInputError("marginals must be a tuple or list of Marginal objects; for N copies of one "
                                 "marginal use MMOTProblem.symmetric(marginal, N, cost)")
        margs = tuple(self.marginals)
        if len(margs) < 2:
            raise MMOTInputError(f"a multi-marginal problem needs at least 2 marginals, got {len(margs)}")
        if not all(isinstance(m, Marginal) for m in margs):
            raise MMOTInputError("marginals must be Marginal objects (see mmot_models.Marginal)")
        dims = {m.dim for m in margs}
        if len(dims) != 1:
            raise MMOTInputError(f"marginals live in different dimensions {sorted(dims)}; use one dimension d")
        cost = cost_from_spec(self.cost)
        if isinstance(cost, NaryCost) and cost.n_body != len(margs):
            raise MMOTInputError(
                f"N-ary cost {cost.name!r} is for {cost.n_body} bodies but the problem has {len(margs)} marginals")
        if not isinstance(self.name, str):
            raise MMOTInputError(f"name must be a string, got {type(self.name).__name__}")
        if getattr(cost, "singular_diagonal", False):
            _check_distinct_points(margs, getattr(cost, "kind", "singular"))
        object.__setattr__(self, "marginals", margs)
        object.__setattr__(self, "cost", cost)

    @classmethod
    def symmetric(cls, marginal: Marginal, n_marginals: int, cost: PairCost | NaryCost | str | dict,
                  name: str = "problem") -> "MMOTProblem":
        """N copies of one marginal (N electrons with density ``N * marginal``)."""
        n = _count(n_marginals, "n_marginals") if not isinstance(n_marginals, str) else None
        if n is None or n < 2:
            raise MMOTInputError(f"n_marginals must be an integer >= 2, got {n_marginals!r}")
        if not isinstance(marginal, Marginal):
            raise MMOTInputError("marginals must be Marginal objects (see mmot_models.Marginal)")
        try:
            margs = (marginal,) * n
        except (OverflowError, MemoryError):
            raise MMOTInputError(f"n_marginals = {n} is too large to hold in memory") from None
        return cls(margs, cost, name=name)

    # ----------------------------------------------------------------- structure
    @property
    def n_marginals(self) -> int:
        return len(self.marginals)

    @property
    def dim(self) -> int:
        return self.marginals[0].dim

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(m.size for m in self.marginals)

    @property
    def is_pair_cost(self) -> bool:
        return isinstance(self.cost, PairCost)

    @property
    def is_symmetric(self) -> bool:
        """All marginals identical and the cost symmetric: the multiset reduction applies."""
        m0 = self.marginals[0]
        same = all(m is m0 or m0.same_as(m) for m in self.marginals[1:])
        cost_sym = self.is_pair_cost or bool(getattr(self.cost, "symmetric", False))
        return same and cost_sym

    @property
    def singular_diagonal(self) -> bool:
        return bool(getattr(self.cost, "singular_diagonal", False))

    def n_tuples(self) -> int:
        """Number of full-tensor variables ``prod_i l_i``."""
        return math.prod(self.sizes)

    def pair_matrix(self, i: int, j: int) -> np.ndarray:
        """Pair-cost matrix between the supports of marginals ``i`` and ``j``."""
        if not self.is_pair_cost:
            raise MMOTInputError("pair_matrix needs a pair cost; this problem has an N-ary cost")
        i = _index(i, self.n_marginals, "pair_matrix: marginal index i")
        j = _index(j, self.n_marginals, "pair_matrix: marginal index j")
        return self.cost.matrix(self.marginals[i].points, self.marginals[j].points)

    def tuple_costs(self, idx: np.ndarray) -> np.ndarray:
        """Cost of index tuples ``idx`` (shape ``(m, N)``), vectorised."""
        idx = check_index_tuples(idx, self.sizes)
        if self.is_pair_cost and is_radial(self.cost):
            # pointwise: no l x l matrix, whatever the grid size
            pts = [self.marginals[i].points[idx[:, i]] for i in range(self.n_marginals)]
            out = np.zeros(idx.shape[0])
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                for i in range(self.n_marginals):
                    for j in range(i + 1, self.n_marginals):
                        out += self.cost.of_distance(tuple_distances(pts, i, j))
            return out
        if self.is_pair_cost:
            if self.is_symmetric:
                c = self.pair_matrix(0, 0)
                mats = {(i, j): c for i in range(self.n_marginals) for j in range(i + 1, self.n_marginals)}
            else:
                mats = {(i, j): self.pair_matrix(i, j)
                        for i in range(self.n_marginals) for j in range(i + 1, self.n_marginals)}
            out = np.zeros(idx.shape[0])
            for (i, j), c in mats.items():
                out += c[idx[:, i], idx[:, j]]
            return out
        configs = np.stack([self.marginals[i].points[idx[:, i]] for i in range(self.n_marginals)], axis=1)
        return self.cost.evaluate(configs)

    # ----------------------------------------------------------------- checks
    def check_feasible(self) -> None:
        """Raise :class:`InfeasibleProblemError` when no plan has finite cost.

        Under a cost with an infinite diagonal (Coulomb, Yukawa) and N equal marginals a finite
        plan exists iff every site carries at most ``1/N`` of the mass (the cyclic quantile
        construction attains it).  For unequal marginals a site shared by two marginals with
        total weight above 1 is impossible.
        """
        if not self.singular_diagonal:
            return
        N = self.n_marginals
        if self.is_symmetric:
            w = self.marginals[0].weights
            i = int(np.argmax(w))
            if w[i] > 1.0 / N + ATOM_TOL:
                x = self.marginals[0].points[i]
                raise InfeasibleProblemError(
                    f"site {i} at {np.array2string(x, precision=4)} carries weight {w[i]:.6g} > 1/N = {1.0 / N:.6g}: "
                    f"under the {self.cost.kind} cost every plan then has infinite cost; spread that mass over "
                    "more grid points or use a soft Coulomb cost")

    def to_dict(self) -> dict:
        """JSON-ready description (the format read by :func:`mmot_models.load_problem`)."""
        out: dict = {"name": self.name, "cost": self.cost.to_dict()}
        if self.is_symmetric:
            out.update(self.marginals[0].to_dict())
            out["n_marginals"] = self.n_marginals
        else:
            out["marginals"] = [m.to_dict() for m in self.marginals]
        return out

    def __repr__(self) -> str:
        kind = "symmetric" if self.is_symmetric else "general"
        return (f"MMOTProblem(name={self.name!r}, N={self.n_marginals}, sizes={self.sizes}, d={self.dim}, "
                f"cost={getattr(self.cost, 'kind', '?')}, {kind})")
