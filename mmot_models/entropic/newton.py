r"""Damped Newton on the entropic dual, for sparse supports (multiscale fine levels).

Sinkhorn is block-coordinate ascent on the dual; its contraction factor is ``1 - O(eps)``, so with
eps tied to the grid (``eps ~ h^2``) the sweeps per level grow like ``l^2`` in 1D: a slow, diffusive
mode along the support.  On an explicit sparse support the full Newton step is affordable, and it
removes that mode in a few steps.

Dual (potentials relative to ``mu``; ``gamma_u(x) = exp((sum_i u_i(x_i) - c(x))/eps) prod_i mu_i(x_i)``
on the stored tuples ``x``):

.. math::
    D(u) = \sum_i \langle u_i, \mu_i\rangle - \varepsilon \sum_x \gamma_u(x) + \varepsilon,\qquad
    \nabla_{u_i} D = \mu_i - m_i(\gamma_u),\qquad
    -\varepsilon\,\nabla^2 D = M = \begin{pmatrix} \mathrm{diag}(m_0) & P_{01} & P_{02}\\
    P_{01}^\top & \mathrm{diag}(m_1) & P_{12} \\ P_{02}^\top & P_{12}^\top & \mathrm{diag}(m_2)\end{pmatrix},

with ``m_i`` the marginals and ``P_ij`` the pair marginals of ``gamma_u`` (``N = 2``: the upper-left
``2 x 2`` blocks).  ``M = sum_x gamma(x) e_x e_x^T`` is positive semidefinite; its kernel holds the
gauge shifts ``(a, b, -a-b)`` (constants per block), which do not change the plan.  The gauge is
fixed by pinning the direction at one site of every block but the first, and a ridge
``1e-13 * max(diag M)`` covers zero-mass sites and disconnected supports.

Step: solve ``M d = eps (mu - m)`` with a sparse LU (SuperLU, COLAMD column
ordering; the pattern of ``M`` is the multiscale pattern, fixed within a level), then backtrack
``u <- u + alpha d`` from the largest ``alpha <= 1`` that lets no plan entry grow beyond ``e^5``
times the current largest one (halving; a tenth after an overflow) until the Armijo condition
``D(u + alpha d) >= D(u) + 1e-4 alpha <grad D, d>`` holds.  Every accepted step increases ``D``;
the iteration stops when every marginal's L1 error is ``<= tol`` (the same rule as Sinkhorn).
One Sinkhorn sweep before each Newton step (``sweeps_per_step``, default 1) cheaply removes the
local, high-frequency part of the error that a damped step would otherwise have to resolve.

Cost per step: one sparse factorisation of a ``(sum_i l_i)``-square matrix with
``sum_i l_i + 2 sum_{i<j} nnz(P_ij)`` entries, plus a few ``O(#tuples)`` evaluations of the plan.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..solution import Status
from .sinkhorn import SinkhornOptions, SinkhornRecord, _l1, _progress, eps_schedule, limit_reached

__all__ = ["run_newton"]

ARMIJO = 1e-4
MAX_BACKTRACK = 40
RIDGE = 1e-13
MAX_REPAIR_SWEEPS = 20
GROWTH = 5.0   # largest growth (e-folds) of the largest plan entry in one trial step


class _Dual:
    """Plan, marginals, pair marginals and dual value on the explicit tuples of a sparse engine.

    ``N = 3``: the engine's triples (with the positions of their pairs in the three patterns);
    ``N = 2``: the entries of the single pattern.  The Hessian ``M`` has a fixed sparsity
    pattern within a level; its CSC structure is computed once and only the values change.
    """

    def __init__(self, engine, mus: Sequence[np.ndarray], pins: Sequence[int]) -> None:
        self.engine = engine
        self.mus = [np.asarray(m, dtype=float) for m in mus]
        N = self.N = len(mus)
        sizes = [m.size for m in self.mus]
        self.offsets = off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if N == 3:
            T = engine.triples()
            self.idx = [T["s"], T["t"], T["r"]]
            self.cost = T["c"]
            self.epos = {p: T["e" + str(p[0]) + str(p[1])] for p in engine.pairs}
        else:
            pat = engine.costs[(0, 1)]
            self.idx = [pat.rows().astype(np.int32), pat.indices.astype(np.int32)]
            self.cost = pat.cost
            self.epos = {(0, 1): None}
        with np.errstate(divide="ignore"):
            lmu = [np.log(m) for m in self.mus]
        self.log_mu = sum(lmu[i][self.idx[i]] for i in range(N))
        self.gamma = np.empty_like(self.cost)
        self.overflow = False
        # Hessian structure: diagonal blocks, then every pair pattern and its transpose
        rows, cols = [np.arange(off[-1])], [np.arange(off[-1])]
        self.pats = {p: engine.costs[p] for p in engine.pairs}
        for (i, j), pat in self.pats.items():
            r = pat.rows() + off[i]
            c = pat.indices + off[j]
            rows += [r, c]
            cols += [c, r]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        n = int(off[-1])
        order = np.lexsort((rows, cols))          # CSC order: by column, then row
        self.perm = order
        self.csc_indices = rows[order].astype(np.int32)
        self.csc_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n), out=self.csc_indptr[1:])
        pin = np.zeros(n, dtype=bool)
        pin[list(pins)] = True
        rs, cs = rows[order], cols[order]
        self.pin_off = np.nonzero((pin[rs] | pin[cs]) & (rs != cs))[0]
        self.pin_diag = np.nonzero(pin[rs] & (rs == cs))[0]
        self.pins = np.asarray(pins, dtype=np.int64)
        self.n = n

    def evaluate(self, u: Sequence[np.ndarray], eps: float) -> tuple[float, list[np.ndarray]]:
        """``D(u)`` and the marginals ``m_i``; ``-inf`` when a plan entry overflows."""
        E = self.log_plan(u, eps, out=self.gamma)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            np.exp(E, out=E)
        self.overflow = not bool(np.isfinite(E).all())
        m = [np.bincount(self.idx[i], weights=E, minlength=self.mus[i].size) for i in range(self.N)]
        if self.overflow:
            return -math.inf, m
        mass = float(m[0].sum())
        lin = sum(float(np.dot(np.where(mu > 0, ui, 0.0), mu)) for ui, mu in zip(u, self.mus))
        return lin - eps * (mass - 1.0), m

    def log_plan(self, u: Sequence[np.ndarray], eps: float, out: np.ndarray | None = None) -> np.ndarray:
        """``log gamma`` on the tuples (no exponential), into ``out`` when given."""
        E = np.subtract(u[0][self.idx[0]], self.cost, out=out)
        for i in range(1, self.N):
            E += u[i][self.idx[i]]
        E *= 1.0 / eps
        E += self.log_mu
        return E

    def hessian(self, m: Sequence[np.ndarray]) -> sp.csc_matrix:
        """``M`` of the module docstring at the last evaluated plan, with the gauge pinned."""
        parts = [np.concatenate(m)]
        for p in self.pats:
            e = self.epos[p]
            P = self.gamma if e is None else np.bincount(e, weights=self.gamma, minlength=self.pats[p].nnz)
            parts += [P, P]
        data = np.concatenate(parts)[self.perm]
        data[self.pin_off] = 0.0
        data[self.pin_diag] = 1.0
        return sp.csc_matrix((data, self.csc_indices, self.csc_indptr), shape=(self.n, self.n))


def _solve(M: sp.csc_matrix, rhs: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """Solve ``M d = rhs`` (gauge rows already pinned in ``M``) with a small ridge."""
    dg = M.diagonal()
    ridge = RIDGE * float(dg.max()) + (dg <= 0) * 1.0
    A = (M + sp.diags(ridge)).tocsc()
    rhs = rhs.copy()
    rhs[pins] = 0.0
    lu = spla.splu(A, permc_spec="COLAMD", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return lu.solve(rhs)


def run_newton(engine, mus: Sequence[np.ndarray], opts: SinkhornOptions, u0: Sequence[np.ndarray] | None = None,
               eps_start: float | None = None, sweeps_per_step: int = 1) -> SinkhornRecord:
    """Damped Newton with eps-scaling on a sparse ``PairEngine`` (module docstring).

    Same contract as :func:`.sinkhorn.run_sinkhorn`: ``opts.tol`` on the final eps, ``max(tol,
    stage_tol)`` on the intermediate ones, ``max_iter`` counts Newton steps (each with its
    ``sweeps_per_step`` Sinkhorn sweeps), ``time_limit`` in seconds; returns a record with
    ``b = 1`` and the engine absorbed at the final potentials.
    """
    t0 = time.perf_counter()
    if not getattr(engine, "sparse", False):
        raise ValueError("run_newton needs a sparse PairEngine (multiscale levels)")
    N = len(mus)
    mus = [np.asarray(m, dtype=float) for m in mus]
    sizes = np.cumsum([0] + [m.size for m in mus])
    pins = [int(sizes[i] + np.argmax(mus[i])) for i in range(1, N)]
    dual = _Dual(engine, mus, pins)
    off = dual.offsets
    u = [np.zeros(m.size) if u0 is None else np.array(u0[i], dtype=float) for i, m in enumerate(mus)]
    start = eps_start if eps_start is not None else (opts.eps_start if opts.eps_start is not None else opts.eps)
    schedule = eps_schedule(opts.eps, max(start, opts.eps), opts.eps_factor)
    it = 0
    history: list[dict[str, Any]] = []
    status, message = Status.ITERATION_LIMIT, ""
    errors = np.full(N, np.inf)
    bar = _progress(opts, opts.max_iter)
    n_eval = 0
    n_factor = 0

    def sweep(eps: float) -> None:
        # one Gauss-Seidel Sinkhorn sweep in potential form: u_i += -eps log(m_i / mu_i)
        nonlocal n_eval
        for i in range(N):
            # log m_i with a global shift, so that a warm start whose plan would overflow is repaired
            L = dual.log_plan(u, eps)
            shift = max(0.0, float(np.max(L)))
            with np.errstate(under="ignore"):
                np.exp(L - shift, out=L)
            m_i = np.bincount(dual.idx[i], weights=L, minlength=mus[i].size)
            del L
            n_eval += 1
            with np.errstate(divide="ignore", invalid="ignore"):
                step = -eps * (np.log(m_i / mus[i]) + shift)
            pos = (mus[i] > 0) & np.isfinite(step)
            u[i] = np.where(pos, u[i] + step, u[i])

    def first_step(d: Sequence[np.ndarray], eps: float) -> float:
        # no plan entry may grow beyond exp(GROWTH) times the current largest one
        L = dual.log_plan(u, eps)
        dE = d[0][dual.idx[0]].copy()
        for i in range(1, N):
            dE += d[i][dual.idx[i]]
        dE *= 1.0 / eps
        up = dE > 0
        if not up.any():
            return 1.0
        room = (float(np.max(L)) + GROWTH - L[up]) / dE[up]
        return float(min(1.0, np.min(room)))

    try:
        for k, eps in enumerate(schedule):
            final = k == len(schedule) - 1
            target = opts.tol if final else max(opts.tol, opts.stage_tol)
            it_stage = 0
            stage_done = False
            for _ in range(max(1, sweeps_per_step)):
                sweep(eps)
            D, m = dual.evaluate(u, eps)
            n_eval += 1
            for _ in range(MAX_REPAIR_SWEEPS):      # a warm start that overflows: more sweeps first
                if math.isfinite(D):
                    break
                sweep(eps)
                D, m = dual.evaluate(u, eps)
                n_eval += 1
            while True:
                errors = np.array([_l1(m[i], mus[i]) for i in range(N)])
                if not np.all(np.isfinite(errors)):
                    status, message = Status.NUMERICAL_ERROR, f"non-finite plan at eps={eps:.4g}"
                    raise StopIteration
                if np.all(errors <= target):
                    stage_done = True
                    break
                hit = limit_reached(opts, it, t0, eps, " Newton steps")
                if hit:
                    status, message = hit
                    break
                g = np.concatenate([mus[i] - m[i] for i in range(N)])
                d = _solve(dual.hessian(m), eps * g, dual.pins)
                n_factor += 1
                slope = float(g @ d)
                dirs = [d[off[i]:off[i + 1]] for i in range(N)]
                alpha = first_step(dirs, eps)
                accepted = False
                for _ in range(MAX_BACKTRACK):
                    trial = [u[i] + alpha * dirs[i] for i in range(N)]
                    D1, m1 = dual.evaluate(trial, eps)
                    n_eval += 1
                    if D1 >= D + ARMIJO * alpha * slope:
                        accepted = True
                        break
                    alpha *= 0.1 if D1 == -math.inf else 0.5
                if not accepted:
                    status, message = Status.NUMERICAL_ERROR, f"Newton line search failed at eps={eps:.4g}"
                    raise StopIteration
                u = trial
                for _ in range(sweeps_per_step):
                    sweep(eps)
                D, m = dual.evaluate(u, eps) if sweeps_per_step else (D1, m1)
                n_eval += 1
                it += 1
                it_stage += 1
                bar.update(1)
                if opts.verbose:
                    bar.set_postfix(eps=f"{eps:.3g}", err=f"{np.max(errors):.2e}", step=f"{alpha:.3g}")
            history.append({"eps": eps, "iterations": it_stage, "error": float(np.max(errors)),
                            "converged": stage_done, "solver": "newton"})
            if not stage_done:
                break
            if final:
                status = Status.CONVERGED
                message = f"marginal L1 error {np.max(errors):.3g} <= tol {opts.tol:g} at eps={eps:.4g} (Newton)"
    except StopIteration:
        history.append({"eps": eps, "iterations": it_stage, "error": float(np.max(errors)), "converged": False,
                        "solver": "newton"})
    finally:
        bar.close()
    eps_reached = history[-1]["eps"] if history else schedule[0]
    engine.absorb(u, eps_reached)
    if opts.verbose:
        print(f"newton: {it} steps, {n_factor} factorisations, {n_eval} plan evaluations, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return SinkhornRecord(u=[x.copy() for x in u], u_abs=[x.copy() for x in u], b=[np.ones(m.size) for m in mus],
                          eps=eps_reached, iterations=it, status=status, errors=np.asarray(errors, dtype=float),
                          message=message, history=history, n_absorb=n_eval, time_s=time.perf_counter() - t0)
