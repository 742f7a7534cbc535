"""Test-function families and the moment-constrained OT problem (MCOT): data only, nothing solved.

MCOT (Alfonsi, Coyaud, Ehrlacher, Lombardi) replaces the marginal constraints of optimal transport
by finitely many moments: a plan ``gamma`` must satisfy
``int phi_m(x_i) dgamma = int phi_m dmu_i`` for the test functions ``phi_m`` of marginal ``i``.
This module holds

* test-function *families*: objects that evaluate all their functions on an ``(m, d)`` array of
  points at once (``evaluate -> (m, n)``, ``evaluate_sparse -> csr``) -- piecewise constant on cells
  (:class:`Cells`), continuous piecewise affine hats on a 1D mesh (:class:`Hats1D`) or on a
  triangulated mesh in any dimension (:class:`HatsMesh`, via :class:`scipy.spatial.Delaunay`),
  the discontinuous piecewise affine pairs of the paper's section 5.2
  (:class:`DiscontinuousAffine1D`), the paper's regularised positive parts (6.2.2)-(6.2.3)
  (:class:`RegularisedRelu1D`), monomials (:class:`Monomials`) and user callables
  (:class:`CallableFamily`); :func:`family_from_spec` reads ``"hats:20"`` etc.;
* :class:`Density`: a marginal given by a density on a box (its moments are integrated by
  composite Gauss-Legendre quadrature aligned with the family's breakpoints, or by a collapsed
  Gauss rule on each simplex of a triangulated mesh);
* :class:`MCOTProblem`: marginals (densities, samples or :class:`~mmot_models.Marginal`), a cost,
  one family per marginal, and the options of the paper (symmetric averaged constraint, martingale
  test functions ``chi_l``, moment bound ``int sum_i theta(|x_i|) dgamma <= A``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp

from .costs import NaryCost, PairCost, cost_from_spec
from .errors import MMOTInputError
from .problem import Marginal, MMOTProblem, as_points

__all__ = [
    "TestFamily", "Cells", "Hats1D", "HatsMesh", "DiscontinuousAffine1D", "RegularisedRelu1D", "Monomials",
    "CallableFamily", "Indicators", "family_from_spec", "FAMILY_NAMES", "Density", "MCOTProblem",
    "integrate", "moments_of", "config_cost", "gauss_legendre_box",
]

#: Default Gauss-Legendre nodes per sub-interval (per axis) when integrating densities.
QUAD_ORDER = 8
#: Finite-difference step (relative to the box size) of the default family gradient.
FD_STEP = 1e-6


def _pts(x: np.ndarray, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None] if dim == 1 else x[None, :]
    if x.shape[1] != dim:
        raise MMOTInputError(f"points have dimension {x.shape[1]} but the test functions live in dimension {dim}")
    return x


class TestFamily:
    """Base class: ``n_functions`` real functions on ``R^dim``, evaluated on many points at once.

    Subclasses implement :meth:`evaluate` (dense ``(m, n)``) and may override
    :meth:`evaluate_sparse` (CSR, for local bases), :meth:`gradient` (default: central
    differences, vectorised) and :meth:`breakpoints` (where the functions are not smooth; used to
    align quadrature).
    """

    __test__ = False  # not a pytest class
    name: str = "family"
    dim: int = 1
    n_functions: int = 0
    #: ``(lows, highs)`` of the region where the family lives (``None`` if unbounded).
    lows: np.ndarray | None = None
    highs: np.ndarray | None = None

    def evaluate(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(self.evaluate(x))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate(x)

    def combine(self, x: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """``sum_m coef_m phi_m(x)`` for every point (the dual function; fast paths in subclasses)."""
        return np.asarray(self.evaluate_sparse(x) @ np.asarray(coef, float)).reshape(-1)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """``(m, n, d)`` array of gradients (central differences unless overridden)."""
        x = _pts(x, self.dim)
        scale = 1.0 if self.lows is None else float(np.max(self.highs - self.lows))
        h = FD_STEP * scale
        out = np.empty((x.shape[0], self.n_functions, self.dim))
        for k in range(self.dim):  # loop over coordinates only
            e = np.zeros(self.dim)
            e[k] = h
            out[:, :, k] = (self.evaluate(x + e) - self.evaluate(x - e)) / (2 * h)
        return out

    def breakpoints(self) -> list[np.ndarray] | None:
        """Per axis, the coordinates where the functions may be non-smooth (``None``: smooth)."""
        return None

    def spans_constants(self) -> bool:
        """``True`` when the functions sum to 1 on their region (a partition of unity)."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, n={self.n_functions}, d={self.dim})"


def _bounds(lows: Any, highs: Any, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    lo = np.atleast_1d(np.asarray(lows, dtype=float))
    hi = np.atleast_1d(np.asarray(highs, dtype=float))
    if dim is not None:
        lo = np.broadcast_to(lo, (dim,)).copy()
        hi = np.broadcast_to(hi, (dim,)).copy()
    if lo.shape != hi.shape or not np.all(hi > lo) or not np.all(np.isfinite(lo)) or not np.all(np.isfinite(hi)):
        raise MMOTInputError(f"a box needs finite lows < highs of equal length, got {lo} and {hi}")
    return lo, hi


def _check_edges(edges: Any, what: str) -> np.ndarray:
    t = np.asarray(edges, dtype=float).reshape(-1)
    if t.size < 2 or not np.all(np.diff(t) > 0) or not np.all(np.isfinite(t)):
        raise MMOTInputError(f"{what} need at least 2 strictly increasing finite values, got {t[:6]}...")
    return t


def _locate(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell index of each x in the mesh ``t`` (last cell closed) and an inside mask."""
    k = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2)
    inside = (x >= t[0]) & (x <= t[-1])
    return k, inside


class Cells(TestFamily):
    """Indicators of the cells of a tensor grid (piecewise constant test functions, paper 5.1).

    ``edges`` is one increasing array per axis; cell ``(k_1, ..., k_d)`` is numbered in C order.
    Points outside the grid give zero.  The last cell of each axis is closed on the right.
    """

    name = "cells"

    def __init__(self, edges: Sequence[np.ndarray] | np.ndarray) -> None:
        if isinstance(edges, np.ndarray) and edges.ndim == 1 or (len(edges) > 0 and np.isscalar(edges[0])):
            edges = [edges]
        self.edges = [_check_edges(e, "cell edges") for e in edges]
        self.dim = len(self.edges)
        self.shape = tuple(e.size - 1 for e in self.edges)
        self.n_functions = int(np.prod(self.shape))
        self.lows = np.array([e[0] for e in self.edges])
        self.highs = np.array([e[-1] for e in self.edges])

    @classmethod
    def box(cls, lows: Any, highs: Any, n: int | Sequence[int]) -> "Cells":
        lo, hi = _bounds(lows, highs)
        ns = np.broadcast_to(np.asarray(n, dtype=int), lo.shape)
        return cls([np.linspace(a, b, k + 1) for a, b, k in zip(lo, hi, ns)])

    def cell_index(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat cell index of each point and an inside mask."""
        x = _pts(x, self.dim)
        flat = np.zeros(x.shape[0], dtype=np.int64)
        inside = np.ones(x.shape[0], dtype=bool)
        for a, t in enumerate(self.edges):
            k, ins = _locate(t, x[:, a])
            flat = flat * (t.size - 1) + k
            inside &= ins
        return flat, inside

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        flat, inside = self.cell_index(x)
        m = flat.shape[0]
        return sp.csr_matrix((inside.astype(float), (np.arange(m), flat)), shape=(m, self.n_functions))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate_sparse(x).toarray()

    def combine(self, x: np.ndarray, coef: np.ndarray) -> np.ndarray:
        flat, inside = self.cell_index(x)
        return coef[flat] * inside

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return np.zeros((_pts(x, self.dim).shape[0], self.n_functions, self.dim))

    def breakpoints(self) -> list[np.ndarray]:
        return list(self.edges)

    def spans_constants(self) -> bool:
        return True


class Hats1D(TestFamily):
    """Continuous piecewise affine nodal basis ("hats") on a 1D mesh ``t_0 < ... < t_n``: ``n + 1`` functions.

    ``phi_k(t_j) = delta_kj``, affine on each ``[t_j, t_{j+1}]``, zero outside ``[t_0, t_n]``.
    They sum to 1 on the mesh, so the mass constraint is implied.
    """

    name = "hats"

    def __init__(self, nodes: np.ndarray | Sequence[float]) -> None:
        self.nodes = _check_edges(nodes, "hat nodes")
        self.dim = 1
        self.n_functions = self.nodes.size
        self.lows, self.highs = self.nodes[:1].copy(), self.nodes[-1:].copy()

    @classmethod
    def uniform(cls, a: float, b: float, n_cells: int) -> "Hats1D":
        if n_cells < 1:
            raise MMOTInputError(f"hats need at least one cell, got {n_cells}")
        return cls(np.linspace(a, b, n_cells + 1))

    def _parts(self, x: np.ndarray):
        x = _pts(x, 1)[:, 0]
        t = self.nodes
        k, inside = _locate(t, x)
        h = t[k + 1] - t[k]
        lam = np.clip((x - t[k]) / h, 0.0, 1.0)
        return x, k, inside, lam, h

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        x, k, inside, lam, _ = self._parts(x)
        m = x.shape[0]
        rows = np.repeat(np.arange(m), 2)
        cols = np.stack([k, k + 1], axis=1).reshape(-1)
        vals = (np.stack([1.0 - lam, lam], axis=1) * inside[:, None]).reshape(-1)
        return sp.csr_matrix((vals, (rows, cols)), shape=(m, self.n_functions))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate_sparse(x).toarray()

    def combine(self, x: np.ndarray, coef: np.ndarray) -> np.ndarray:
        _, k, inside, lam, _ = self._parts(x)
        return ((1.0 - lam) * coef[k] + lam * coef[k + 1]) * inside

    def gradient(self, x: np.ndarray) -> np.ndarray:
        x, k, inside, lam, h = self._parts(x)
        g = np.zeros((x.shape[0], self.n_functions, 1))
        r = np.arange(x.shape[0])
        g[r, k, 0] = -inside.astype(float) / h
        g[r, k + 1, 0] = inside / h
        return g

    def breakpoints(self) -> list[np.ndarray]:
        return [self.nodes]

    def spans_constants(self) -> bool:
        return True


class DiscontinuousAffine1D(TestFamily):
    """The paper's discontinuous piecewise affine pairs (section 5.2): ``2n`` functions on ``n`` cells.

    On cell ``T_m = [t_{m-1}, t_m)`` (last one closed): ``phi_{m,1} = (x - t_{m-1})/h_m`` and
    ``phi_{m,2} = 1 - phi_{m,1}``; both vanish off ``T_m``.  Function ``2(m-1)`` is ``phi_{m,1}``,
    ``2(m-1)+1`` is ``phi_{m,2}``.  The O(1/n^2) rates of the paper are proved for this family.
    """

    name = "affine"

    def __init__(self, edges: np.ndarray | Sequence[float]) -> None:
        self.edges = _check_edges(edges, "cell edges")
        self.dim = 1
        self.n_functions = 2 * (self.edges.size - 1)
        self.lows, self.highs = self.edges[:1].copy(), self.edges[-1:].copy()

    @classmethod
    def uniform(cls, a: float, b: float, n_cells: int) -> "DiscontinuousAffine1D":
        return cls(np.linspace(a, b, int(n_cells) + 1))

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        x = _pts(x, 1)[:, 0]
        t = self.edges
        k, inside = _locate(t, x)
        lam = np.clip((x - t[k]) / (t[k + 1] - t[k]), 0.0, 1.0)
        m = x.shape[0]
        rows = np.repeat(np.arange(m), 2)
        cols = np.stack([2 * k, 2 * k + 1], axis=1).reshape(-1)
        vals = (np.stack([lam, 1.0 - lam], axis=1) * inside[:, None]).reshape(-1)
        return sp.csr_matrix((vals, (rows, cols)), shape=(m, self.n_functions))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate_sparse(x).toarray()

    def breakpoints(self) -> list[np.ndarray]:
        return [self.edges]

    def spans_constants(self) -> bool:
        return True


class HatsMesh(TestFamily):
    """Continuous piecewise affine nodal basis on a simplicial mesh in ``R^d`` (Delaunay triangulation).

    One function per mesh vertex: on the simplex containing ``x`` the values are the barycentric
    coordinates of ``x``; zero outside the convex hull.  :meth:`box` in ``d = 2`` builds the paper's
    mesh of Figure 6.2.1 explicitly (every grid square cut along its ``(1, 1)`` diagonal, points
    located by grid arithmetic); other meshes use :class:`scipy.spatial.Delaunay`.
    """

    name = "hats_mesh"

    def __init__(self, vertices: np.ndarray, structured: list[np.ndarray] | None = None) -> None:
        from scipy.spatial import Delaunay

        v = as_points(vertices)
        if v.shape[1] == 1:
            raise MMOTInputError("use Hats1D for a 1D mesh")
        if v.shape[0] < v.shape[1] + 1:
            raise MMOTInputError(f"a mesh in dimension {v.shape[1]} needs at least {v.shape[1] + 1} vertices")
        self.vertices = v
        self.dim = v.shape[1]
        self.n_functions = v.shape[0]
        self.lows, self.highs = v.min(axis=0), v.max(axis=0)
        self._axes: list[np.ndarray] | None = None
        if structured is not None:  # tensor grid in 2D: explicit (1, 1)-diagonal triangulation
            self._axes = [np.asarray(a, float) for a in structured]
            nx, ny = self._axes[0].size - 1, self._axes[1].size - 1
            I, J = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
            A = (I * (ny + 1) + J).reshape(-1)
            B, C, D = A + (ny + 1), A + (ny + 1) + 1, A + 1
            self.simplices = np.stack([np.stack([A, B, C], 1), np.stack([A, D, C], 1)], 1).reshape(-1, 3)
            self.tri = None
        else:
            self.tri = Delaunay(v, qhull_options="Qbb Qc Qz Q12")
            self.simplices = self.tri.simplices

    @classmethod
    def box(cls, lows: Any, highs: Any, n: int | Sequence[int]) -> "HatsMesh":
        lo, hi = _bounds(lows, highs)
        ns = np.broadcast_to(np.asarray(n, dtype=int), lo.shape)
        axes = [np.linspace(a, b, k + 1) for a, b, k in zip(lo, hi, ns)]
        mesh = np.meshgrid(*axes, indexing="ij")
        obj = cls(np.stack([m.reshape(-1) for m in mesh], axis=1), structured=axes if lo.size == 2 else None)
        obj._axes = axes
        return obj

    def _grid_bary(self, x: np.ndarray):
        ax, ay = self._axes
        i, inx = _locate(ax, x[:, 0])
        j, iny = _locate(ay, x[:, 1])
        hx, hy = ax[i + 1] - ax[i], ay[j + 1] - ay[j]
        u = np.clip((x[:, 0] - ax[i]) / hx, 0, 1)
        v = np.clip((x[:, 1] - ay[j]) / hy, 0, 1)
        upper = v > u
        s = 2 * (i * (ay.size - 1) + j) + upper
        bary = np.where(upper[:, None], np.stack([1 - v, v - u, u], 1), np.stack([1 - u, u - v, v], 1))
        return x, s, inx & iny, bary, (upper, hx, hy)

    def _bary(self, x: np.ndarray):
        x = _pts(x, self.dim)
        if self.tri is None:
            return self._grid_bary(x)[:4]
        s = self.tri.find_simplex(x)
        inside = s >= 0
        s = np.where(inside, s, 0)
        T = self.tri.transform[s]  # (m, d+1, d)
        b = np.einsum("mij,mj->mi", T[:, :self.dim, :], x - T[:, self.dim, :])
        bary = np.concatenate([b, 1.0 - b.sum(axis=1, keepdims=True)], axis=1)
        bary = np.clip(bary, 0.0, 1.0)
        bary /= bary.sum(axis=1, keepdims=True)
        return x, s, inside, bary

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        x, s, inside, bary = self._bary(x)
        m = x.shape[0]
        k = self.dim + 1
        rows = np.repeat(np.arange(m), k)
        cols = self.simplices[s].reshape(-1)
        vals = (bary * inside[:, None]).reshape(-1)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(m, self.n_functions))
        A.sum_duplicates()
        return A

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate_sparse(x).toarray()

    def combine(self, x: np.ndarray, coef: np.ndarray) -> np.ndarray:
        _, s, inside, bary = self._bary(x)
        return np.einsum("mk,mk->m", bary, coef[self.simplices[s]]) * inside

    def gradient(self, x: np.ndarray) -> np.ndarray:
        if self.tri is None:
            x, s, inside, _, (upper, hx, hy) = self._grid_bary(_pts(x, self.dim))
            z = np.zeros_like(hx)
            gl = np.stack([np.stack([-1 / hx, z], 1), np.stack([1 / hx, -1 / hy], 1), np.stack([z, 1 / hy], 1)], 1)
            gu = np.stack([np.stack([z, -1 / hy], 1), np.stack([-1 / hx, 1 / hy], 1), np.stack([1 / hx, z], 1)], 1)
            grads = np.where(upper[:, None, None], gu, gl) * inside[:, None, None]
        else:
            x, s, inside, _ = self._bary(x)
            T = self.tri.transform[s][:, :self.dim, :]  # d bary coords: grad b_i = T[i, :]
            grads = np.concatenate([T, -T.sum(axis=1, keepdims=True)], axis=1) * inside[:, None, None]
        out = np.zeros((x.shape[0], self.n_functions, self.dim))
        r = np.repeat(np.arange(x.shape[0]), self.dim + 1)
        np.add.at(out, (r, self.simplices[s].reshape(-1)), grads.reshape(-1, self.dim))
        return out

    def breakpoints(self) -> list[np.ndarray] | None:
        return self._axes

    def spans_constants(self) -> bool:
        return True

    def quadrature(self, order: int = QUAD_ORDER) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights integrating smooth functions on each simplex (collapsed Gauss, ``d = 2``)."""
        if self.dim != 2:
            return gauss_legendre_box(self.lows, self.highs, order, self.breakpoints())
        g, w = np.polynomial.legendre.leggauss(order)
        g, w = (g + 1) / 2, w / 2
        U, V = np.meshgrid(g, g, indexing="ij")
        WU, WV = np.meshgrid(w, w, indexing="ij")
        xi, eta = U.reshape(-1), (U * V).reshape(-1)
        wref = (WU * WV * U).reshape(-1)  # Jacobian of the collapse
        P = self.vertices[self.simplices]  # (S, 3, 2)
        e1, e2 = P[:, 1] - P[:, 0], P[:, 2] - P[:, 1]
        det = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        nodes = P[:, None, 0, :] + xi[None, :, None] * e1[:, None, :] + eta[None, :, None] * e2[:, None, :]
        weights = det[:, None] * wref[None, :]
        return nodes.reshape(-1, 2), weights.reshape(-1)


class RegularisedRelu1D(TestFamily):
    r"""The paper's regularised positive parts (6.2.2)-(6.2.3), rescaled to ``[a, b]``: ``n + 1`` functions.

    With knots ``t_m = a + m h`` (``h = (b - a)/n``) and a smoothing width ``eps``:
    ``phi_0 = rho(t_1 - x)`` and ``phi_m = rho(x - t_{m-1})`` for ``m = 1..n``, where
    ``rho(s) = s`` for ``s >= eps``, ``(s + eps)^2 / (4 eps)`` for ``|s| < eps``, ``0`` below.
    For ``eps -> 0`` they span the continuous piecewise affine functions of the mesh (same span
    as :class:`Hats1D`), but being convex they suit the penalised gradient method (section 6.2).
    ``eps = 0`` gives the exact positive parts.
    """

    name = "relu"

    def __init__(self, a: float, b: float, n: int, eps: float | None = None) -> None:
        lo, hi = _bounds(a, b, 1)
        if n < 1:
            raise MMOTInputError(f"relu family needs n >= 1, got {n}")
        self.dim, self.n_functions = 1, int(n) + 1
        self.lows, self.highs = lo, hi
        h = (hi[0] - lo[0]) / n
        self.eps = 0.1 * h if eps is None else float(eps)
        if self.eps < 0:
            raise MMOTInputError(f"eps must be >= 0, got {self.eps}")
        knots = lo[0] + h * np.arange(n)  # t_0..t_{n-1}
        self.knots = knots
        # s = sign * (x - shift)
        self.sign = np.concatenate([[-1.0], np.ones(n)])
        self.shift = np.concatenate([[lo[0] + h], knots])

    def _rho(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = self.eps
        if e == 0:
            return np.maximum(s, 0.0), (s > 0).astype(float)
        val = np.where(s >= e, s, np.where(s <= -e, 0.0, (s + e) ** 2 / (4 * e)))
        der = np.where(s >= e, 1.0, np.where(s <= -e, 0.0, (s + e) / (2 * e)))
        return val, der

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = _pts(x, 1)
        return self._rho(self.sign[None, :] * (x - self.shift[None, :]))[0]

    def gradient(self, x: np.ndarray) -> np.ndarray:
        x = _pts(x, 1)
        return (self._rho(self.sign[None, :] * (x - self.shift[None, :]))[1] * self.sign[None, :])[:, :, None]

    def breakpoints(self) -> list[np.ndarray]:
        e = self.eps
        pts = np.concatenate([self.shift - e, self.shift, self.shift + e, [self.lows[0], self.highs[0]]])
        pts = pts[(pts >= self.lows[0]) & (pts <= self.highs[0])]
        return [np.unique(pts)]


class Monomials(TestFamily):
    """Monomials ``x^alpha`` with ``1 <= |alpha| <= degree`` (the constant is the mass row)."""

    name = "monomials"

    def __init__(self, degree: int, dim: int = 1, center: Any = 0.0, scale: Any = 1.0) -> None:
        import itertools

        if degree < 1:
            raise MMOTInputError(f"monomials need degree >= 1, got {degree}")
        self.dim = int(dim)
        self.degree = int(degree)
        alphas = [a for a in itertools.product(range(degree + 1), repeat=self.dim) if 1 <= sum(a) <= degree]
        alphas.sort(key=lambda a: (sum(a), tuple(-v for v in a)))
        self.alphas = np.array(alphas, dtype=int)
        self.n_functions = len(alphas)
        self.center = np.broadcast_to(np.asarray(center, float), (self.dim,)).copy()
        self.scale = np.broadcast_to(np.asarray(scale, float), (self.dim,)).copy()

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        z = (_pts(x, self.dim) - self.center) / self.scale
        return np.prod(z[:, None, :] ** self.alphas[None, :, :], axis=2)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        z = (_pts(x, self.dim) - self.center) / self.scale
        out = np.empty((z.shape[0], self.n_functions, self.dim))
        for k in range(self.dim):
            a = self.alphas.copy()
            coef = a[:, k].astype(float)
            a[:, k] = np.maximum(a[:, k] - 1, 0)
            out[:, :, k] = coef[None, :] * np.prod(z[:, None, :] ** a[None, :, :], axis=2) / self.scale[k]
        return out


class CallableFamily(TestFamily):
    """User test functions ``fn(X) -> (m, n)`` on points ``X`` of shape ``(m, dim)``."""

    name = "callable"

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], n_functions: int, dim: int = 1,
                 grad: Callable[[np.ndarray], np.ndarray] | None = None, lows: Any = None, highs: Any = None,
                 breakpoints: list[np.ndarray] | None = None, name: str = "callable") -> None:
        if not callable(fn):
            raise MMOTInputError("CallableFamily needs fn: a callable fn(X (m, d)) -> (m, n) array")
        self.fn, self.grad, self.dim, self.n_functions = fn, grad, int(dim), int(n_functions)
        self.name = name
        self._bp = breakpoints
        if lows is not None:
            self.lows, self.highs = _bounds(lows, highs, self.dim)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = _pts(x, self.dim)
        out = np.asarray(self.fn(x), dtype=float)
        if out.shape != (x.shape[0], self.n_functions):
            raise MMOTInputError(f"test functions {self.name!r} returned shape {out.shape}, "
                                 f"expected {(x.shape[0], self.n_functions)}")
        return out

    def gradient(self, x: np.ndarray) -> np.ndarray:
        if self.grad is not None:
            return np.asarray(self.grad(_pts(x, self.dim)), dtype=float)
        return super().gradient(x)

    def breakpoints(self) -> list[np.ndarray] | None:
        return self._bp


class Indicators(TestFamily):
    """Indicators of finitely many sites (exact point match): with these, MCOT *is* the discrete OT LP."""

    name = "indicators"

    def __init__(self, sites: np.ndarray, atol: float = 0.0) -> None:
        self.sites = as_points(sites)
        self.dim = self.sites.shape[1]
        self.n_functions = self.sites.shape[0]
        self.atol = float(atol)
        self.lows, self.highs = self.sites.min(axis=0), self.sites.max(axis=0)

    def evaluate_sparse(self, x: np.ndarray) -> sp.csr_matrix:
        from scipy.spatial import cKDTree

        x = _pts(x, self.dim)
        d, j = cKDTree(self.sites).query(x)
        hit = d <= self.atol
        m = x.shape[0]
        return sp.csr_matrix((np.ones(int(hit.sum())), (np.flatnonzero(hit), j[hit])), shape=(m, self.n_functions))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.evaluate_sparse(x).toarray()

    def spans_constants(self) -> bool:
        return True


FAMILY_NAMES = ("cells", "hats", "affine", "relu", "monomials", "indicators")


def family_from_spec(spec: str | TestFamily, lows: Any, highs: Any, *, sites: np.ndarray | None = None) -> TestFamily:
    """Build a family from ``"name:n"`` on the box ``[lows, highs]``.

    ``cells:n`` (n cells per axis), ``hats:n`` (n cells per axis: ``n+1`` hats in 1D, a triangulated
    tensor mesh in ``d > 1``), ``affine:n`` (paper 5.2, 1D), ``relu:n`` (paper 6.2, 1D),
    ``monomials:k`` (degree ``k``), ``indicators`` (one per site; needs ``sites``).
    """
    if isinstance(spec, TestFamily):
        return spec
    if not isinstance(spec, str):
        raise MMOTInputError(f"test functions must be a TestFamily or a spec like 'hats:20', got {type(spec).__name__}")
    name, _, arg = spec.strip().lower().partition(":")
    try:
        lo, hi = np.atleast_1d(np.asarray(lows, float)), np.atleast_1d(np.asarray(highs, float))
    except (TypeError, ValueError):
        raise MMOTInputError(f"test functions {spec!r}: lows and highs must be numbers (one per axis)") from None
    if lo.ndim != 1 or lo.shape != hi.shape or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise MMOTInputError(f"test functions {spec!r}: lows and highs must be finite, one per axis, "
                             f"got shapes {lo.shape} and {hi.shape}")
    d = lo.size
    if name == "indicators":
        if sites is None:
            raise MMOTInputError("'indicators' test functions need the sites of a discrete marginal")
        return Indicators(sites)
    if name not in FAMILY_NAMES:
        raise MMOTInputError(f"unknown test functions {spec!r}; use one of {', '.join(n + ':n' for n in FAMILY_NAMES[:-1])}")
    try:
        n = int(arg)
    except ValueError:
        raise MMOTInputError(f"test functions {spec!r} need a count, e.g. '{name}:10'") from None
    if n < 1:
        raise MMOTInputError(f"test functions {spec!r}: the count must be >= 1")
    hi = np.where(hi > lo, hi, lo + 1.0)  # a degenerate axis (single site) gets a unit box
    if name == "monomials":
        return Monomials(n, d, center=(lo + hi) / 2, scale=(hi - lo) / 2)
    if name == "cells":
        return Cells.box(lo, hi, n)
    if name == "hats":
        return Hats1D.uniform(lo[0], hi[0], n) if d == 1 else HatsMesh.box(lo, hi, n)
    if d != 1:
        raise MMOTInputError(f"test functions {name!r} are one-dimensional; use 'hats:n' or 'cells:n' in d={d}")
    if name == "affine":
        return DiscontinuousAffine1D.uniform(lo[0], hi[0], n)
    return RegularisedRelu1D(lo[0], hi[0], n)


# --------------------------------------------------------------------------- densities & quadrature
def gauss_legendre_box(lows: Any, highs: Any, order: int = QUAD_ORDER,
                       breakpoints: list[np.ndarray] | None = None, min_cells: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Tensor composite Gauss-Legendre nodes ``(q, d)`` and weights on a box.

    Each axis is cut at the given breakpoints (inside the box) and at least ``min_cells`` equal
    cells, then ``order`` nodes per piece: exact for piecewise polynomials of degree ``< 2 order``
    whose kinks lie on the breakpoints.
    """
    lo, hi = _bounds(lows, highs)
    g, w = np.polynomial.legendre.leggauss(int(order))
    axes_x, axes_w = [], []
    for a in range(lo.size):
        cuts = [np.linspace(lo[a], hi[a], min_cells + 1)]
        if breakpoints is not None and a < len(breakpoints) and breakpoints[a] is not None:
            bp = np.asarray(breakpoints[a], float)
            cuts.append(bp[(bp > lo[a]) & (bp < hi[a])])
        t = np.unique(np.concatenate(cuts))
        mid, half = (t[1:] + t[:-1]) / 2, (t[1:] - t[:-1]) / 2
        axes_x.append((mid[:, None] + half[:, None] * g[None, :]).reshape(-1))
        axes_w.append((half[:, None] * w[None, :]).reshape(-1))
    X = np.meshgrid(*axes_x, indexing="ij")
    W = np.meshgrid(*axes_w, indexing="ij")
    return np.stack([x.reshape(-1) for x in X], axis=1), np.prod(np.stack([x.reshape(-1) for x in W]), axis=0)


@dataclass(frozen=True, eq=False)
class Density:
    """A marginal given by a (not necessarily normalised) density on a box ``[lows, highs]``.

    ``fn`` is vectorised: it receives an ``(m,)`` array in 1D (as :func:`~mmot_models.from_density`)
    and an ``(m, d)`` array otherwise.  Mass outside the box is ignored: the density is normalised
    on the box (state the truncation in your results, e.g. Gaussians on ``[-4, 4]^2``).
    """

    fn: Callable[[np.ndarray], np.ndarray]
    lows: Any
    highs: Any
    name: str = "density"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise MMOTInputError("Density needs fn: a vectorised callable density(x)")
        lo, hi = _bounds(self.lows, self.highs)
        object.__setattr__(self, "lows", lo)
        object.__setattr__(self, "highs", hi)

    @property
    def dim(self) -> int:
        return int(self.lows.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _pts(x, self.dim)
        out = np.asarray(self.fn(x[:, 0] if self.dim == 1 else x), dtype=float).reshape(-1)
        if out.shape[0] != x.shape[0] or not np.all(np.isfinite(out)) or np.any(out < 0):
            raise MMOTInputError(f"density {self.name!r} must return finite non-negative values, one per point")
        return out

    def quadrature(self, family: TestFamily | None = None, order: int = QUAD_ORDER) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and probability weights (density times quadrature weight, normalised to 1)."""
        if isinstance(family, HatsMesh) and family.dim == 2 and np.allclose(family.lows, self.lows) \
                and np.allclose(family.highs, self.highs):
            x, w = family.quadrature(order)
        else:
            bp = family.breakpoints() if family is not None else None
            x, w = gauss_legendre_box(self.lows, self.highs, order, bp)
        p = w * self(x)
        total = p.sum()
        if not total > 0:
            raise MMOTInputError(f"density {self.name!r} has zero mass on its box {self.lows}..{self.highs}")
        return x, p / total


def integrate(source: "Marginal | Density", fn: Callable[[np.ndarray], np.ndarray],
              family: TestFamily | None = None, order: int = QUAD_ORDER) -> np.ndarray:
    """``int fn dmu`` for a vectorised ``fn(X (m, d)) -> (m, k)`` (exact sums for a discrete marginal)."""
    if isinstance(source, Marginal):
        x, p = source.points, source.weights
    else:
        x, p = source.quadrature(family, order)
    return p @ np.asarray(fn(x), dtype=float).reshape(x.shape[0], -1)


def moments_of(family: TestFamily, source: "Marginal | Density", order: int = QUAD_ORDER) -> np.ndarray:
    """The moments ``int phi_m dmu`` of a family (quadrature aligned with the family's breakpoints)."""
    if isinstance(source, Marginal):
        return np.asarray(family.evaluate_sparse(source.points).T @ source.weights).reshape(-1)
    x, p = source.quadrature(family, order)
    return np.asarray(family.evaluate_sparse(x).T @ p).reshape(-1)


# --------------------------------------------------------------------------- costs on configurations
def config_cost(cost: PairCost | NaryCost | Callable, configs: np.ndarray) -> np.ndarray:
    """Cost of configurations ``(m, N, d)`` -> ``(m,)``: a pair cost is summed over pairs ``i < j``."""
    configs = np.asarray(configs, dtype=float)
    m, N, _ = configs.shape
    if isinstance(cost, NaryCost):
        return cost.evaluate(configs)
    if isinstance(cost, PairCost):
        out = np.zeros(m)
        for i in range(N):
            for j in range(i + 1, N):
                out += _pair_values(cost, configs[:, i], configs[:, j])
        return out
    if callable(cost):
        if N == 2:
            out = np.asarray(cost(configs[:, 0], configs[:, 1]), dtype=float).reshape(-1)
        else:
            out = np.asarray(cost(configs), dtype=float).reshape(-1)
        if out.shape[0] != m:
            raise MMOTInputError(f"the cost returned {out.shape[0]} values for {m} configurations; "
                                 "a callable cost must be vectorised: c(X, Y) -> (m,) for N = 2, c(C (m, N, d)) else")
        return out
    raise MMOTInputError(f"unsupported cost {cost!r}")


def _pair_values(cost: PairCost, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from .costs import CallablePairCost

    if not isinstance(cost, CallablePairCost):
        r = np.sqrt(np.einsum("ij,ij->i", x - y, x - y))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return np.asarray(cost.of_distance(r), dtype=float)
    out = np.empty(x.shape[0])
    step = 512
    for s in range(0, x.shape[0], step):  # the user's fn gives matrices: take diagonals in blocks
        out[s:s + step] = np.diagonal(cost.matrix(x[s:s + step], y[s:s + step]))
    return out


# --------------------------------------------------------------------------- the problem
def _theta_default(r: np.ndarray) -> np.ndarray:
    return r * r


@dataclass(frozen=True, eq=False)
class MCOTProblem:
    r"""Moment-constrained optimal transport problem (paper, (2.1.3), (3.3.3), (3.3.6), (3.3.13)).

    .. math::
        I = \min_{\gamma \in \mathcal P(X_1 \times \dots \times X_N)} \int c\, d\gamma
        \quad\text{s.t.}\quad \int \phi^i_m(x_i)\, d\gamma = \int \phi^i_m\, d\mu_i\ \ \forall i, m,
        \qquad [\ \int \textstyle\sum_i \theta(|x_i|)\, d\gamma \le A\ ]

    ``symmetric=True`` (equal marginals and one family, symmetric cost) imposes only the averaged
    constraint :math:`\int \frac1N \sum_i \phi_m(x_i)\, d\gamma = \int \phi_m d\mu` (Prop. 3.5:
    same value, a minimiser with at most ``n + 2`` atoms whatever ``N``).  ``martingale`` (``N = 2``)
    adds :math:`\int y\, \chi_l(x)\, d\gamma = \int x\, \chi_l(x)\, d\mu` for the family ``chi``
    (Prop. 3.6; ``d`` rows per ``chi_l``).

    Parameters
    ----------
    marginals : sequence of Marginal, Density or sample arrays ``(m,)``/``(m, d)``
        Samples become an empirical :class:`~mmot_models.Marginal` (uniform weights).
    cost : PairCost, NaryCost, cost spec or callable
        A pair cost is summed over pairs; a callable is ``c(X, Y) -> (m,)`` for two marginals
        and ``c(C) -> (m,)`` on configurations ``(m, N, d)`` otherwise.
    families : TestFamily, spec string, or one per marginal
    """

    marginals: tuple
    cost: Any
    families: Any = "hats:10"
    symmetric: bool = False
    martingale: Any = None
    moment_bound: float | None = None
    theta: Callable[[np.ndarray], np.ndarray] | None = None
    name: str = "mcot"
    quadrature_order: int = QUAD_ORDER
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.marginals, (tuple, list)):
            raise MMOTInputError("MCOT marginals must be a tuple or list of Marginal, Density or point arrays, "
                                 f"got {type(self.marginals).__name__}")
        margs = []
        for m in self.marginals:
            if isinstance(m, (Marginal, Density)):
                margs.append(m)
            else:
                pts = as_points(m)
                margs.append(Marginal(pts, np.full(pts.shape[0], 1.0 / pts.shape[0])))
        if len(margs) < 2:
            raise MMOTInputError(f"MCOT needs at least 2 marginals, got {len(margs)}")
        dims = {m.dim for m in margs}
        if len(dims) != 1:
            raise MMOTInputError(f"marginals live in different dimensions {sorted(dims)}; use one dimension d")
        cost = self.cost
        if isinstance(cost, (str, dict)):
            cost = cost_from_spec(cost)
        elif not (isinstance(cost, (PairCost, NaryCost)) or callable(cost)):
            raise MMOTInputError("cost must be a PairCost, an NaryCost, a cost spec or a vectorised callable")
        if isinstance(cost, NaryCost) and cost.n_body != len(margs):
            raise MMOTInputError(f"N-ary cost is for {cost.n_body} bodies but there are {len(margs)} marginals")
        fams = self.families
        if isinstance(fams, (str, TestFamily)):
            fams = [fams] * len(margs)
        fams = list(fams)
        if len(fams) != len(margs):
            raise MMOTInputError(f"give one test-function family per marginal ({len(margs)}), got {len(fams)}")
        built = []
        for i, (f, m) in enumerate(zip(fams, margs)):
            lo, hi = self._box(m)
            built.append(family_from_spec(f, lo, hi, sites=m.points if isinstance(m, Marginal) else None))
            if built[-1].dim != m.dim:
                raise MMOTInputError(f"family {i} is {built[-1].dim}-dimensional but marginal {i} is {m.dim}-dimensional")
        if self.symmetric:
            m0 = margs[0]
            same = all(m is m0 or (isinstance(m, Marginal) and isinstance(m0, Marginal) and m0.same_as(m))
                       for m in margs[1:])
            if not same or any(f is not built[0] and type(f) is not type(built[0]) for f in built[1:]):
                raise MMOTInputError("symmetric MCOT needs identical marginals and one family; pass the same "
                                     "object N times or set symmetric=False")
            built = [built[0]] * len(margs)
            if isinstance(cost, NaryCost) and not cost.symmetric:
                raise MMOTInputError("symmetric MCOT needs a symmetric cost")
        chi = self.martingale
        if chi is not None:
            if len(margs) != 2:
                raise MMOTInputError("the martingale constraint needs exactly two marginals (x, y)")
            lo, hi = self._box(margs[0])
            chi = family_from_spec(chi, lo, hi)
        if self.moment_bound is not None and not (np.isfinite(self.moment_bound) and self.moment_bound > 0):
            raise MMOTInputError(f"moment_bound A must be a positive number, got {self.moment_bound}")
        object.__setattr__(self, "marginals", tuple(margs))
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "families", tuple(built))
        object.__setattr__(self, "martingale", chi)

    @staticmethod
    def _box(m: "Marginal | Density") -> tuple[np.ndarray, np.ndarray]:
        if isinstance(m, Density):
            return m.lows, m.highs
        return m.points.min(axis=0), m.points.max(axis=0)

    # ------------------------------------------------------------------ structure
    @property
    def n_marginals(self) -> int:
        return len(self.marginals)

    @property
    def dim(self) -> int:
        return self.marginals[0].dim

    def domain(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Box where candidate positions of marginal ``i`` are searched (union of marginal and family boxes)."""
        lo, hi = self._box(self.marginals[i])
        f = self.families[i]
        if f.lows is not None:
            lo, hi = np.minimum(lo, f.lows), np.maximum(hi, f.highs)
        return lo.astype(float), hi.astype(float)

    @property
    def singular_diagonal(self) -> bool:
        return bool(getattr(self.cost, "singular_diagonal", False))

    def n_moment_rows(self) -> int:
        """Number of moment equality rows (without the mass row)."""
        n = self.families[0].n_functions if self.symmetric else sum(f.n_functions for f in self.families)
        if self.martingale is not None:
            n += self.martingale.n_functions * self.dim
        return n

    def tchakaloff_bound(self) -> int:
        """Paper's bound on the atoms of a minimiser: moment rows + 2 (the +2: mass and the A row)."""
        return self.n_moment_rows() + 2

    # ------------------------------------------------------------------ moments
    def targets(self) -> list[np.ndarray]:
        """Right-hand sides ``int phi^i_m dmu_i`` (one array per marginal; one only when symmetric)."""
        if "targets" not in self._cache:
            idx = [0] if self.symmetric else range(self.n_marginals)
            self._cache["targets"] = [moments_of(self.families[i], self.marginals[i], self.quadrature_order)
                                      for i in idx]
        return self._cache["targets"]

    def martingale_target(self) -> np.ndarray | None:
        """``int x chi_l(x) dmu`` flattened as ``(l, coordinate)``; ``None`` without martingale."""
        if self.martingale is None:
            return None
        if "mart" not in self._cache:
            chi = self.martingale

            def f(x: np.ndarray) -> np.ndarray:
                return (chi.evaluate(x)[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)
            self._cache["mart"] = integrate(self.marginals[0], f, chi, self.quadrature_order)
        return self._cache["mart"]

    def theta_values(self, x: np.ndarray) -> np.ndarray:
        th = self.theta or _theta_default
        return np.asarray(th(np.sqrt(np.einsum("ij,ij->i", x, x))), dtype=float)

    def config_cost(self, configs: np.ndarray) -> np.ndarray:
        return config_cost(self.cost, configs)

    # ------------------------------------------------------------------ from a discrete problem
    @classmethod
    def from_mmot(cls, problem: MMOTProblem, families: Any = None, n_functions: int = 10,
                  symmetric: bool | None = None) -> "MCOTProblem":
        """MCOT relaxation of a discrete :class:`~mmot_models.MMOTProblem` (default: ``hats:n_functions``)."""
        fam = families if families is not None else f"hats:{int(n_functions)}"
        sym = problem.is_symmetric if symmetric is None else bool(symmetric)
        if sym:
            m0 = problem.marginals[0]
            lo, hi = cls._box(m0)
            f0 = family_from_spec(fam if isinstance(fam, (str, TestFamily)) else fam[0], lo, hi, sites=m0.points)
            return cls(tuple([m0] * problem.n_marginals), problem.cost, f0, symmetric=True, name=problem.name)
        return cls(problem.marginals, problem.cost, fam, symmetric=False, name=problem.name)

    def __repr__(self) -> str:
        fams = ", ".join(f"{f.name}[{f.n_functions}]" for f in (self.families[:1] if self.symmetric else self.families))
        return (f"MCOTProblem(name={self.name!r}, N={self.n_marginals}, d={self.dim}, families=({fams}), "
                f"symmetric={self.symmetric}, martingale={self.martingale is not None})")
