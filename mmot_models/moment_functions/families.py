"""Test-function families of moment-constrained OT: objects that evaluate all their functions on an
``(m, d)`` array of points at once (``evaluate -> (m, n)``, ``evaluate_sparse -> csr``).

Piecewise constant on cells (:class:`Cells`), continuous piecewise affine hats on a 1D mesh
(:class:`Hats1D`) or on a triangulated mesh in any dimension (:class:`HatsMesh`, via
:class:`scipy.spatial.Delaunay`), the discontinuous piecewise affine pairs of the paper's section 5.2
(:class:`DiscontinuousAffine1D`), the paper's regularised positive parts (6.2.2)-(6.2.3)
(:class:`RegularisedRelu1D`), monomials (:class:`Monomials`), indicators (:class:`Indicators`) and
user callables (:class:`CallableFamily`); :func:`family_from_spec` reads ``"hats:20"`` etc.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..problem import as_points

__all__ = ["TestFamily", "Cells", "Hats1D", "HatsMesh", "DiscontinuousAffine1D", "RegularisedRelu1D", "Monomials",
           "CallableFamily", "Indicators", "family_from_spec", "FAMILY_NAMES", "QUAD_ORDER", "FD_STEP",
           "gauss_legendre_box"]


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
