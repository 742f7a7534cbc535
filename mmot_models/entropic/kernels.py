r"""Gibbs kernels of pair costs and the contractions that give the marginals of an entropic plan.

The entropic plan of a pair cost ``c(x) = sum_{i<j} c_ij(x_i, x_j)`` factorises over pairs:

.. math::
    \gamma(x) = \prod_{i<j} K_{ij}(x_i, x_j) \prod_i \mu_i(x_i)\, b_i(x_i), \qquad
    K_{ij}(s, t) = \exp\Big(\frac{\alpha\,\tilde u_i(s) + \alpha\,\tilde u_j(t) - c_{ij}(s, t)}
    {\varepsilon}\Big), \quad \alpha = \frac{1}{N-1},

where the potentials are split as ``u_i = u~_i + eps log b_i``: the *absorbed* part ``u~_i`` lives
inside the kernels (each marginal meets ``N-1`` pair factors, so each gets ``u~_i/(N-1)``), the
*scaling* part ``b_i`` stays a vector close to 1 (absorption stabilisation, Schmitzer 2019).  The
kernels are recomputed (one ``exp`` per stored entry) only when some ``|log b_i|`` exceeds a
threshold or ``eps`` changes; every Sinkhorn step in between is a BLAS product.

Contractions (``w_i(s) = sum_{x : x_i = s} gamma(x) / (mu_i(s) b_i(s))``, with ``v_j = mu_j b_j``):

* ``N = 2``: ``w_0 = K v_1``, ``w_1 = K^T v_0`` -- matrix-vector, ``O(l^2)`` time, ``l^2`` memory.
* ``N = 3``: ``w_0 = [((K_01 diag v_1) K_12) * K_02] v_2`` -- one ``l x l x l`` matrix product per
  marginal (``2 l^3`` flops), memory three ``l x l`` kernels plus one ``l x l`` temporary.
* ``N >= 4`` or an N-ary cost: the full ``l^N`` kernel tensor (stated fallback, refused above
  ``max_tensor_entries``), marginals by ``tensordot``.

Kernels are dense numpy arrays or ``scipy.sparse`` CSR matrices (multiscale patterns); the same
formulas apply to both.

Coulomb diagonal: ``c = +inf`` gives the kernel entry ``exp(-inf) = 0`` exactly (the configuration
does not exist, as in the LP formulations); near-diagonal grid neighbours keep their exact finite
cost ``1/|x - y|``.  An entry whose exponent falls below ``-745`` underflows to 0, i.e. is treated as
forbidden: its plan weight would be below ``1e-300``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..problem import MMOTProblem

TRIPLE_CHUNK = 20_000_000   # candidate triples per chunk when listing the sparse N = 3 support
TRIPLE_BYTES = 64           # bytes per stored triple: indices, pair positions, cost, kernel and solver work arrays
_UNDERFLOW_LOG = -700.0     # a product term of the max-shifted N = 3 contraction lost to underflow is below e^-700

__all__ = ["SparsePattern", "dense_kernel", "PairEngine", "TensorEngine", "is_sparse"]


def is_sparse(a) -> bool:
    return sp.issparse(a)


def dense_kernel(C: np.ndarray, a: np.ndarray, b: np.ndarray, eps: float, out: np.ndarray | None = None) -> np.ndarray:
    """``exp((a[:, None] + b[None, :] - C) / eps)`` with ``C = +inf`` mapped to exactly 0."""
    out = np.subtract(a[:, None], C, out=out)
    out += b[None, :]
    out *= 1.0 / eps
    with np.errstate(over="ignore", under="ignore"):
        np.exp(out, out=out)
    return out


@dataclass
class SparsePattern:
    """Sparse support of one pair factor: CSR structure (``indptr``, ``indices``) and the costs there."""

    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    cost: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    def rows(self) -> np.ndarray:
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def kernel(self, a: np.ndarray, b: np.ndarray, eps: float) -> sp.csr_matrix:
        r = self.rows()
        with np.errstate(over="ignore", under="ignore"):
            data = np.exp((a[r] + b[self.indices] - self.cost) / eps)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=self.shape)

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, shape: tuple[int, int]) -> "SparsePattern":
        keep = np.isfinite(cost)
        rows, cols, cost = rows[keep], cols[keep], cost[keep]
        order = np.lexsort((cols, rows))
        rows, cols, cost = rows[order], cols[order], cost[order]
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
        return cls(shape, indptr, cols.astype(np.int64), cost.astype(float))


def _scale_cols(K, v: np.ndarray):
    return K @ sp.diags(v) if sp.issparse(K) else K * v[None, :]


def _scale_rows(K, v: np.ndarray):
    return sp.diags(v) @ K if sp.issparse(K) else v[:, None] * K


def _hadamard(A, B):
    if sp.issparse(A):
        return A.multiply(B).tocsr()
    if sp.issparse(B):
        return B.multiply(A).tocsr()
    A *= B  # A is a temporary owned by the caller
    return A


def _T(K):
    return K.T.tocsr() if sp.issparse(K) else K.T


class PairEngine:
    """Pair-factorised kernels for ``N = 2`` or ``N = 3`` (dense or sparse), general or symmetric.

    Parameters
    ----------
    costs : dict ``(i, j) -> C_ij`` for ``i < j``: dense ``(l_i, l_j)`` arrays (``+inf`` allowed) or
        :class:`SparsePattern`.  With ``symmetric=True`` a single entry ``(0, 1)`` is used for every pair.
    mus : the N marginal weight vectors.
    symmetric : one potential for all marginals (all pair factors equal and symmetric).
    """

    def __init__(self, costs: dict, mus: Sequence[np.ndarray], symmetric: bool = False) -> None:
        self.N = len(mus)
        if self.N not in (2, 3):
            raise MMOTInputError(f"PairEngine handles N = 2 or 3, got N = {self.N}")
        self.mus = [np.asarray(m, dtype=float) for m in mus]
        self.sizes = tuple(m.size for m in self.mus)
        self.symmetric = symmetric
        self.costs = costs
        self.pairs = [(i, j) for i in range(self.N) for j in range(i + 1, self.N)]
        self.sparse = isinstance(next(iter(costs.values())), SparsePattern)
        self.K: dict = {}
        self.K3: np.ndarray | None = None  # sparse N = 3: kernel value of every stored triple
        self.KT: dict = {}
        self.unsafe = False
        self.overflow = False
        self.n_fallback = 0
        self.n_log_domain = 0     # dense N = 3 log-domain contractions (see _pair3_stable)
        self.n_exact_entries = 0  # ... and their entries recomputed by an exact log-sum-exp
        self.u: list[np.ndarray] = []
        self.eps = math.nan

    # -------------------------------------------------------------- kernels
    def cost(self, i: int, j: int):
        return self.costs[(0, 1)] if self.symmetric else self.costs[(i, j)]

    def absorb(self, u: Sequence[np.ndarray], eps: float) -> None:
        """Rebuild every pair factor with the absorbed potentials ``u`` (one per marginal)."""
        alpha = 1.0 / (self.N - 1)
        self.u = [np.asarray(x, dtype=float) for x in u]
        self.eps = float(eps)
        self.unsafe = False
        if self.N == 3 and self.sparse:
            # one kernel value per stored triple, exponent of the full 3-body sum: a product of
            # three absorbed pair factors could overflow although the plan entry is small
            T = self.triples()
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                E = (self.u[0][T["s"]] + self.u[1][T["t"]] + self.u[2][T["r"]] - T["c"]) / self.eps
                self.K3 = np.exp(E)
            bad = ~np.isfinite(self.K3)
            # costs on the pattern are finite, so a non-finite entry is an overflow (reported, then zeroed)
            self.overflow = bool(bad.any())
            self.K3[bad] = 0.0
            return
        todo = [(0, 1)] if self.symmetric else self.pairs
        for (i, j) in todo:
            C = self.cost(i, j)
            a, b = alpha * u[i], alpha * u[j]
            if isinstance(C, SparsePattern):
                K = C.kernel(a, b, eps)
            else:
                K = dense_kernel(C, a, b, eps, out=self.K.get((i, j)))
            self.K[(i, j)] = K
            self.KT[(i, j)] = _T(K)
            if self.N == 3 and not self.sparse:
                # exponent above ~700 would overflow a product of two factors: use the stable path
                self.unsafe = self.unsafe or bool(np.max(K) > 1e150)
        if self.symmetric:
            for p in self.pairs:
                self.K[p] = self.K[(0, 1)]
                self.KT[p] = self.KT[(0, 1)]

    def triples(self) -> dict[str, np.ndarray]:
        """Sparse N = 3 only: every ``(s, t, r)`` whose three pairs are in the patterns, with the
        positions of those pairs in the pattern data arrays (computed once per pattern)."""
        if getattr(self, "_triples", None) is not None:
            return self._triples
        P01, P02, P12 = self.costs[(0, 1)], self.costs[(0, 2)], self.costs[(1, 2)]
        r01 = P01.rows()
        deg02 = np.diff(P02.indptr)
        cnt_all = deg02[r01]                       # candidate (t, r) per entry (s, t) of P01
        keys12 = P12.rows().astype(np.int64) * P12.shape[1] + P12.indices
        idt = np.int32 if max(self.sizes) < 2**31 else np.int64
        edt = np.int32 if max(P01.nnz, P02.nnz, P12.nnz) < 2**31 else np.int64
        # candidates are built in chunks of P01 entries (~CHUNK each) so that the temporaries stay
        # bounded; only the hits (all three pairs in the patterns) are kept
        csum = np.concatenate([[0], np.cumsum(cnt_all)])
        from ..formulations.standard_lp import available_memory_bytes

        need = int(csum[-1]) * TRIPLE_BYTES
        if need > available_memory_bytes():
            raise MMOTInputError(
                f"the sparse N = 3 support would list up to {int(csum[-1]):,} triples (~{need / 2**30:.1f} GiB), more "
                f"than the available memory; use a smaller eps (eps ~ h^2 keeps the support narrow) or a larger "
                f"multiscale threshold")
        bounds = np.searchsorted(csum, np.arange(0, int(csum[-1]) + TRIPLE_CHUNK, TRIPLE_CHUNK))
        bounds = np.unique(np.concatenate([[0], np.minimum(bounds, r01.size), [r01.size]]))
        out: dict[str, list] = {k: [] for k in ("s", "t", "r", "e01", "e02", "e12")}
        for a, b in zip(bounds[:-1], bounds[1:]):
            cnt = cnt_all[a:b]
            e01 = np.repeat(np.arange(a, b), cnt)
            s_ = r01[e01]
            t = P01.indices[e01]
            off = np.arange(e01.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            e02 = P02.indptr[s_] + off
            r = P02.indices[e02]
            key = t.astype(np.int64) * P12.shape[1] + r
            j = np.minimum(np.searchsorted(keys12, key), max(keys12.size - 1, 0))
            hit = keys12[j] == key if keys12.size else np.zeros(key.size, bool)
            out["s"].append(s_[hit].astype(idt))
            out["t"].append(t[hit].astype(idt))
            out["r"].append(r[hit].astype(idt))
            out["e01"].append(e01[hit].astype(edt))
            out["e02"].append(e02[hit].astype(edt))
            out["e12"].append(j[hit].astype(edt))
        T = {k: (np.concatenate(v) if v else np.zeros(0, dtype=edt)) for k, v in out.items()}
        T["c"] = P01.cost[T["e01"]] + P02.cost[T["e02"]] + P12.cost[T["e12"]]
        self._triples = T
        return self._triples

    @property
    def n_triples(self) -> int:
        return int(self.triples()["s"].size) if self.N == 3 and self.sparse else 0

    def _triple_values(self, v: Sequence[np.ndarray], skip: int | None = None) -> np.ndarray:
        T = self.triples()
        val = None
        for m, key in enumerate(("s", "t", "r")):
            if m != skip:
                val = self.K3 * v[m][T[key]] if val is None else np.multiply(val, v[m][T[key]], out=val)
        return val

    def _k(self, i: int, j: int):
        """Factor oriented as ``(l_i, l_j)``."""
        return self.K[(i, j)] if i < j else self.KT[(j, i)]

    @property
    def nbytes(self) -> int:
        tot = 0
        if self.N == 3 and self.sparse:
            T = self.triples()
            return int(sum(a.nbytes for a in T.values()) + self.K3.nbytes)
        seen = set()
        for K in list(self.K.values()):
            if id(K) in seen:
                continue
            seen.add(id(K))
            tot += K.data.nbytes + K.indices.nbytes + K.indptr.nbytes if sp.issparse(K) else K.nbytes
        return tot

    # -------------------------------------------------------------- contractions
    def weights(self, i: int, v: Sequence[np.ndarray]) -> np.ndarray:
        """``w_i`` (see the module docstring): the i-th marginal of the plan is ``v_i * w_i``."""
        if self.N == 2:
            j = 1 - i
            return np.asarray(self._k(i, j) @ v[j]).reshape(-1)
        j, k = [m for m in range(3) if m != i]
        if self.sparse:
            T = self.triples()
            return np.bincount(T[("s", "t", "r")[i]], weights=self._triple_values(v, skip=i), minlength=self.sizes[i])
        # w_i(s) = sum_{t, r} K_ij(s,t) v_j(t) K_jk(t,r) v_k(r) K_ik(s,r)
        if not self.unsafe:
            with np.errstate(over="ignore", invalid="ignore"):
                M = _scale_cols(self._k(i, j), v[j]) @ self._k(j, k)
                M = _hadamard(M, self._k(i, k))
                w = np.asarray(M @ v[k]).reshape(-1)
            if np.all(np.isfinite(w)) and np.all(w[self.mus[i] > 0] > 0):
                return w
            if self.sparse:
                return w
            self.n_fallback += 1
        return self._weights3_stable(i, j, k, v)

    def _logk(self, i: int, j: int) -> np.ndarray:
        """Log of the absorbed pair factor ``K_ij`` oriented ``(l_i, l_j)`` (``-inf`` where ``c = +inf``)."""
        C = self.cost(i, j) if i < j else self.cost(j, i).T
        alpha = 0.5
        with np.errstate(invalid="ignore"):
            return (alpha * self.u[i][:, None] + alpha * self.u[j][None, :] - C) / self.eps

    def _weights3_stable(self, i: int, j: int, k: int, v: Sequence[np.ndarray]) -> np.ndarray:
        """``w_i`` of the dense N = 3 engine when the absorbed kernels would overflow (:meth:`_pair3_stable`)."""
        vv = list(v)
        vv[i] = np.ones(self.sizes[i])
        P = self._pair3_stable(i, j, vv) if i < j else self._pair3_stable(j, i, vv).T
        return P.sum(axis=1)

    def _pair3_stable(self, i: int, j: int, v: Sequence[np.ndarray]) -> np.ndarray:
        """Pair marginal ``P_ij`` of the dense N = 3 plan, accurate when the pair factors leave float range.

        ``P_ij(s, t) = v_i v_j exp(L_ij) sum_r exp(L_ik(s, r) + L_kj(r, t)) v_k(r)``.  Fast part: the
        max-shifted BLAS product ``M~ = exp(L_ik - a) diag(v_k) exp(L_kj - c)`` (row maxima ``a``,
        column maxima ``c``; every factor <= 1).  Its terms can underflow where the joint maximum
        ``max_r L_ik(s, r) + L_kj(r, t)`` lies far below ``a(s) + c(t)`` -- at small eps exactly on the
        support of the plan -- and the lost mass is then multiplied by a huge ``exp(L_ij + a + c)``.
        Each underflowed term is below ``e^-700``, so ``B(s, t) = e^-700 l_k max(1, v_k) v_i v_j
        exp(L_ij + a + c)`` bounds what entry ``(s, t)`` can have lost; the entries where ``B`` exceeds
        ``1e-16`` times the smaller of the computed row and column sums (typically a few per row) are
        recomputed exactly with a log-sum-exp over ``r`` (``O(l)`` each).
        """
        k = 3 - i - j
        self.n_log_domain += 1
        Lik, Lkj, Lij = self._logk(i, k), self._logk(k, j), self._logk(i, j)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
            a = np.max(Lik, axis=1)
            a = np.where(np.isfinite(a), a, 0.0)
            c = np.max(Lkj, axis=0)
            c = np.where(np.isfinite(c), c, 0.0)
            M = (np.exp(Lik - a[:, None]) * v[k][None, :]) @ np.exp(Lkj - c[None, :])
            lvi, lvj, lvk = np.log(v[i]), np.log(v[j]), np.log(v[k])
            S = Lij + a[:, None] + c[None, :] + lvi[:, None] + lvj[None, :]   # log of the scale of M~
            P = np.exp(np.log(M) + S)
            P[np.isnan(P)] = 0.0
            R, Q = P.sum(axis=1), P.sum(axis=0)
            floor = np.log(1e-16 * np.minimum(R[:, None], Q[None, :]))
            lost = S + (math.log(self.sizes[k] * max(1.0, float(np.max(v[k])))) + _UNDERFLOW_LOG)
            ss, tt = np.nonzero(lost > floor)
        self.n_exact_entries += int(ss.size)
        step = max(1, 4_000_000 // max(1, self.sizes[k]))
        for e0 in range(0, ss.size, step):
            s_, t_ = ss[e0:e0 + step], tt[e0:e0 + step]
            with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
                E = Lik[s_] + Lkj[:, t_].T + lvk[None, :]
                m = np.max(E, axis=1)
                m = np.where(np.isfinite(m), m, 0.0)
                val = np.exp(np.log(np.exp(E - m[:, None]).sum(axis=1)) + m + Lij[s_, t_] + lvi[s_] + lvj[t_])
            P[s_, t_] = np.where(np.isnan(val), 0.0, val)
        return P

    def log_plan_block(self, s0: int, s1: int, v: Sequence[np.ndarray]) -> np.ndarray:
        """``gamma[s0:s1]`` of a dense N = 3 plan computed in the log domain (no overflow)."""
        L01, L02, L12 = self._logk(0, 1)[s0:s1], self._logk(0, 2)[s0:s1], self._logk(1, 2)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
            lv = [np.log(x) for x in v]
            E = (lv[0][s0:s1, None, None] + (L01 + lv[1][None, :])[:, :, None]
                 + (L02 + lv[2][None, :])[:, None, :] + L12[None])
            B = np.exp(E)
        B[np.isnan(B)] = 0.0
        return B

    def pair_marginal(self, i: int, j: int, v: Sequence[np.ndarray]):
        """``P_ij(s, t) = sum_{x: x_i=s, x_j=t} gamma(x)`` (dense array or CSR), ``i < j``."""
        if self.N == 3 and self.sparse:
            T = self.triples()
            pat = self.costs[(i, j)]
            data = np.bincount(T["e" + str(i) + str(j)], weights=self._triple_values(v), minlength=pat.nnz)
            return sp.csr_matrix((data, pat.indices, pat.indptr), shape=pat.shape)
        K = self._k(i, j)
        if self.N == 2:
            P = _scale_rows(_scale_cols(K, v[j]), v[i])
            return P
        if self.unsafe and not self.sparse:
            return self._pair3_stable(i, j, v)
        if self.sparse:
            T = self.triples()
            pat = self.costs[(i, j)]
            data = np.bincount(T["e" + str(i) + str(j)], weights=self._triple_values(v), minlength=pat.nnz)
            return sp.csr_matrix((data, pat.indices, pat.indptr), shape=pat.shape)
        k = 3 - i - j
        # sum_r K_ik(s,r) v_k(r) K_jk(t,r) = (K_ik diag v_k K_kj)(s,t)
        M = _scale_cols(self._k(i, k), v[k]) @ self._k(k, j)
        P = _hadamard(M, K)
        return _scale_rows(_scale_cols(P, v[j]), v[i])

    def transport_cost(self, v: Sequence[np.ndarray]) -> float:
        """``<c, gamma>`` summed over pairs from the pair marginals (``0 * inf`` counted as 0)."""
        total = 0.0
        if self.N == 2 and not self.sparse:
            K, C = self.K[(0, 1)], self.cost(0, 1)
            step = max(1, 2_000_000 // self.sizes[1])
            for s0 in range(0, self.sizes[0], step):
                P = v[0][s0:s0 + step, None] * K[s0:s0 + step] * v[1][None, :]
                Cb = C[s0:s0 + step]
                mask = P > 0
                total += float(np.sum(P[mask] * Cb[mask]))
            return total
        for (i, j) in self.pairs:
            P = self.pair_marginal(i, j, v)
            C = self.cost(i, j)
            if isinstance(C, SparsePattern):
                P = sp.csr_matrix(P)
                # same pattern ordering: pattern of P is a subset of the cost pattern
                Pc = sp.csr_matrix((C.cost, C.indices, C.indptr), shape=C.shape)
                total += float(P.multiply(Pc).sum())
            else:
                P = np.asarray(P.toarray() if sp.issparse(P) else P)
                mask = P > 0
                total += float(np.sum(P[mask] * C[mask]))
        return total


class TensorEngine:
    """Full ``l_1 x ... x l_N`` kernel tensor (fallback for ``N >= 4`` pair costs and N-ary costs).

    Memory ``8 prod(l_i)`` bytes for the log-cost tensor plus as much for the kernel; each marginal
    is a ``tensordot`` over the other ``N - 1`` axes (``O(prod l_i)`` per marginal).
    """

    def __init__(self, cost_tensor: np.ndarray, mus: Sequence[np.ndarray], symmetric: bool = False) -> None:
        self.N = len(mus)
        self.C = cost_tensor
        self.mus = [np.asarray(m, dtype=float) for m in mus]
        self.sizes = tuple(m.size for m in self.mus)
        self.symmetric = symmetric
        self.sparse = False
        self.T: np.ndarray | None = None

    def absorb(self, u: Sequence[np.ndarray], eps: float) -> None:
        S = -self.C.copy()
        for i in range(self.N):
            shape = [1] * self.N
            shape[i] = -1
            S += u[i].reshape(shape)
        S *= 1.0 / eps
        with np.errstate(over="ignore", under="ignore"):
            np.exp(S, out=S)
        self.T = S

    @property
    def nbytes(self) -> int:
        return int(self.T.nbytes + self.C.nbytes) if self.T is not None else int(self.C.nbytes)

    def _times(self, v: Sequence[np.ndarray], skip: tuple[int, ...]) -> np.ndarray:
        G = self.T
        for j in range(self.N):
            if j in skip:
                continue
            shape = [1] * self.N
            shape[j] = -1
            G = G * v[j].reshape(shape)
        return G

    def weights(self, i: int, v: Sequence[np.ndarray]) -> np.ndarray:
        G = self._times(v, (i,))
        return G.sum(axis=tuple(a for a in range(self.N) if a != i))

    def plan(self, v: Sequence[np.ndarray]) -> np.ndarray:
        return self._times(v, ())

    def pair_marginal(self, i: int, j: int, v: Sequence[np.ndarray]) -> np.ndarray:
        return self.plan(v).sum(axis=tuple(a for a in range(self.N) if a not in (i, j)))

    def transport_cost(self, v: Sequence[np.ndarray]) -> float:
        G = self.plan(v)
        mask = G > 0
        return float(np.sum(G[mask] * self.C[mask]))


def full_cost_tensor(problem: MMOTProblem, max_entries: int) -> np.ndarray:
    """Dense cost tensor ``c(x_1, ..., x_N)`` (``+inf`` kept), refused above ``max_entries``."""
    from ..formulations.standard_lp import format_count

    n = problem.n_tuples()
    if n > max_entries:
        sizes = problem.sizes
        shape = ("x".join(map(str, sizes)) if len(sizes) <= 6 or len(set(sizes)) > 1 and len(sizes) <= 12
                 else f"{sizes[0]}^{len(sizes)}" if len(set(sizes)) == 1 else f"{len(sizes)}-way")
        raise MMOTInputError(
            f"the entropic tensor fallback needs the full {shape} = {format_count(n)}-entry tensor "
            f"(limit max_tensor_entries={format_count(int(max_entries))}); use N <= 3 with a pair cost, "
            f"coarser grids, or raise the limit")
    N = problem.n_marginals
    if problem.is_pair_cost:
        C = np.zeros(problem.sizes)
        for i in range(N):
            for j in range(i + 1, N):
                shape = [1] * N
                shape[i], shape[j] = problem.sizes[i], problem.sizes[j]
                with np.errstate(invalid="ignore"):
                    C = C + problem.pair_matrix(i, j).reshape(shape)
        return C
    idx = np.indices(problem.sizes).reshape(N, -1).T
    return problem.tuple_costs(idx).reshape(problem.sizes)
