r"""The MCOT linear program over a finite set of candidate configurations (a pure builder).

Columns are candidate configurations :math:`z_k = (x_{k,1}, \dots, x_{k,N})` (points, possibly
indices into per-marginal candidate sites), the unknowns their weights :math:`p_k \ge 0`:

.. math::
    \min_{p \ge 0} \sum_k p_k\, c(z_k) \quad\text{s.t.}\quad
    \begin{cases}
    \sum_k p_k\, \phi^i_m(x_{k,i}) = \int \phi^i_m\, d\mu_i & \text{each marginal } i, m
        \quad(\text{symmetric: } \sum_k p_k \tfrac1N \textstyle\sum_i \phi_m(x_{k,i}) = \int\phi_m d\mu)\\
    \sum_k p_k\, y_{k,a}\, \chi_l(x_k) = \int x_a \chi_l(x)\, d\mu(x) & \text{martingale, each } l, a\\
    \sum_k p_k = 1 & \text{mass}\\
    \sum_k p_k \sum_i \theta(|x_{k,i}|) \le A & \text{optional moment bound}
    \end{cases}

A basic optimal solution has at most as many nonzero weights as there are (independent) rows:
Tchakaloff's bound made constructive.  Row layout (``meta["row_blocks"]``): the moment blocks in
marginal order, the martingale block, the mass row, then the ``A`` row.  When the first
marginal's family is a partition of unity on every candidate (hats, cells) the mass row is implied
and may be left out (``mass_row=False``): HiGHS's presolve was measured to declare the LP with this
exactly dependent row infeasible on the 2D Gaussian case.  The certificate below then shifts the
duals of that family instead of the mass dual (same bound, since the family sums to 1).

Optional *slack* columns (``slack_penalty = M``) make any candidate set feasible (a big-M
phase 1 for column generation); a solution using them is infeasible for MCOT and
:meth:`MomentLP.read` reports the slack mass.

Certificates (computed here): primal value and moment residual of the weights; dual value
:math:`\sum_r y_r b_r` and the largest violation ``v`` of :math:`c(z_k) - A_k^T y \ge 0` over the
candidate columns, so ``dual - v`` is a certified lower bound of this LP (plans have mass 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..moment_functions import MCOTProblem
from ..solution import Bound, Status
from .standard_lp import LPResult, LPSize, StandardLP, check_fits

__all__ = ["MomentLP", "ATOM_TOL"]

#: Weights at or below this are not reported as atoms.
ATOM_TOL = 1e-12


class MomentLP:
    """Builder/inverter of the MCOT LP of :class:`~mmot_models.moment_functions.MCOTProblem`."""

    name = "mcot"

    def __init__(self, problem: MCOTProblem, mass_row: bool = True) -> None:
        self.problem = problem
        self.has_mass_row = bool(mass_row)
        P = problem
        blocks: list[tuple[str, int]] = []
        if P.symmetric:
            blocks.append(("moments", P.families[0].n_functions))
        else:
            blocks += [(f"moments[{i}]", f.n_functions) for i, f in enumerate(P.families)]
        if P.martingale is not None:
            blocks.append(("martingale", P.martingale.n_functions * P.dim))
        if self.has_mass_row:
            blocks.append(("mass", 1))
        if P.moment_bound is not None:
            blocks.append(("moment_bound", 1))
        self.row_blocks = blocks
        self.n_rows = sum(n for _, n in blocks)
        rhs = [np.asarray(b, float) for b in P.targets()]
        if P.martingale is not None:
            rhs.append(np.asarray(P.martingale_target(), float))
        if self.has_mass_row:
            rhs.append(np.ones(1))
        lo = np.concatenate(rhs)
        up = lo.copy()
        if P.moment_bound is not None:
            lo = np.concatenate([lo, [-np.inf]])
            up = np.concatenate([up, [float(P.moment_bound)]])
        self.row_lower, self.row_upper = lo, up
        self.n_eq = int(np.sum(np.isfinite(lo) & (lo == up)))

    # ------------------------------------------------------------------ columns
    def _assemble(self, feats: list[sp.spmatrix], y: np.ndarray | None,
                  chi: sp.spmatrix | None, theta: np.ndarray | None) -> sp.csc_matrix:
        """Stack row blocks from per-marginal feature rows ``feats[i]`` (T, n_i)."""
        P = self.problem
        T = feats[0].shape[0]
        parts: list[sp.spmatrix] = []
        if P.symmetric:
            parts.append((sum(feats[1:], feats[0]) / P.n_marginals).T)
        else:
            parts += [f.T for f in feats]
        if P.martingale is not None:
            L, d = P.martingale.n_functions, P.dim
            chi = sp.csr_matrix(chi)
            # row (l, a): chi_l(x_k) * y_{k, a}; flattened as l * d + a (as MCOTProblem.martingale_target)
            blocks = [sp.csr_matrix(chi.multiply(y[:, a][:, None])) for a in range(d)]
            M = sp.hstack(blocks).tocsc()  # columns ordered (a, l)
            order = (np.arange(L)[:, None] + L * np.arange(d)[None, :]).reshape(-1)  # l * d + a -> a * L + l
            parts.append(M[:, order].T)
        if self.has_mass_row:
            parts.append(sp.csr_matrix(np.ones((1, T))))
        if P.moment_bound is not None:
            parts.append(sp.csr_matrix(theta.reshape(1, -1)))
        A = sp.vstack(parts).tocsc()
        A.eliminate_zeros()
        return A

    def columns_from_points(self, configs: np.ndarray) -> sp.csc_matrix:
        """Constraint columns of configurations given as points ``(T, N, d)``."""
        P = self.problem
        configs = np.asarray(configs, float)
        feats = [P.families[i].evaluate_sparse(configs[:, i, :]) for i in range(P.n_marginals)]
        chi = P.martingale.evaluate_sparse(configs[:, 0, :]) if P.martingale is not None else None
        y = configs[:, 1, :] if P.martingale is not None else None
        theta = (sum(P.theta_values(configs[:, i, :]) for i in range(P.n_marginals))
                 if P.moment_bound is not None else None)
        return self._assemble(feats, y, chi, theta)

    def columns_from_indices(self, sites: list[np.ndarray], idx: np.ndarray) -> sp.csc_matrix:
        """Constraint columns of configurations ``idx`` (T, N) into per-marginal candidate ``sites``."""
        P = self.problem
        base = [P.families[i].evaluate_sparse(sites[i]).tocsr() for i in range(P.n_marginals)]
        feats = [base[i][idx[:, i]] for i in range(P.n_marginals)]
        chi = y = None
        if P.martingale is not None:
            chi = P.martingale.evaluate_sparse(sites[0]).tocsr()[idx[:, 0]]
            y = sites[1][idx[:, 1]]
        theta = None
        if P.moment_bound is not None:
            theta = sum(P.theta_values(sites[i])[idx[:, i]] for i in range(P.n_marginals))
        return self._assemble(feats, y, chi, theta)

    def dense_columns(self, configs: np.ndarray) -> np.ndarray:
        """Dense ``(n_rows, T)`` columns for a few configurations (particle methods)."""
        P = self.problem
        configs = np.asarray(configs, float)
        T = configs.shape[0]
        parts = []
        if P.symmetric:
            parts.append(sum(P.families[0].evaluate(configs[:, i, :]) for i in range(P.n_marginals)).T / P.n_marginals)
        else:
            parts += [f.evaluate(configs[:, i, :]).T for i, f in enumerate(P.families)]
        if P.martingale is not None:
            chi = P.martingale.evaluate(configs[:, 0, :])  # (T, L)
            parts.append((chi[:, :, None] * configs[:, 1, None, :]).reshape(T, -1).T)
        if self.has_mass_row:
            parts.append(np.ones((1, T)))
        if P.moment_bound is not None:
            parts.append(sum(P.theta_values(configs[:, i, :]) for i in range(P.n_marginals))[None, :])
        return np.concatenate(parts, axis=0)

    def dual_function(self, configs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``A(z)^T y`` for configurations ``(T, N, d)`` without building columns (pricing)."""
        P = self.problem
        configs = np.asarray(configs, float)
        T = configs.shape[0]
        out = np.zeros(T)
        off = 0
        if P.symmetric:
            n = P.families[0].n_functions
            for i in range(P.n_marginals):
                out += P.families[0].combine(configs[:, i, :], y[off:off + n]) / P.n_marginals
            off += n
        else:
            for i, f in enumerate(P.families):
                out += f.combine(configs[:, i, :], y[off:off + f.n_functions])
                off += f.n_functions
        if P.martingale is not None:
            L, d = P.martingale.n_functions, P.dim
            U = y[off:off + L * d].reshape(L, d)
            out += np.einsum("ka,ka->k", P.martingale.evaluate_sparse(configs[:, 0, :]) @ U, configs[:, 1, :])
            off += L * d
        if self.has_mass_row:
            out += y[off]
            off += 1
        if P.moment_bound is not None:
            out += y[off] * sum(P.theta_values(configs[:, i, :]) for i in range(P.n_marginals))
        return out

    def slack_columns(self) -> sp.csc_matrix:
        """``+e_r`` and ``-e_r`` for every equality row except mass (big-M phase-1 columns)."""
        n = self.n_rows
        eq = np.flatnonzero(self.row_lower == self.row_upper)
        if self.mass_row is not None:
            eq = eq[eq != self.mass_row]
        k = eq.size
        return sp.csc_matrix((np.concatenate([np.ones(k), -np.ones(k)]),
                              (np.concatenate([eq, eq]), np.arange(2 * k))), shape=(n, 2 * k))

    @property
    def mass_row(self) -> int | None:
        off = 0
        for name, n in self.row_blocks:
            if name == "mass":
                return off
            off += n
        return None

    def size(self, n_cols: int) -> LPSize:
        per = sum(f.dim + 1 for f in self.problem.families) + 2
        return LPSize(n_cols, self.n_rows, n_cols * per)

    # ------------------------------------------------------------------ build / read
    def build(self, costs: np.ndarray, A: sp.csc_matrix, *, configs: np.ndarray | None = None,
              indices: np.ndarray | None = None, slack_penalty: float | None = None,
              memory_limit_bytes: int | None = None) -> StandardLP:
        """Assemble the LP from candidate columns ``A`` and their costs (infinite costs must be dropped)."""
        costs = np.asarray(costs, float)
        if A.shape != (self.n_rows, costs.size):
            raise MMOTInputError(f"candidate columns have shape {A.shape}, expected ({self.n_rows}, {costs.size})")
        if not np.all(np.isfinite(costs)):
            raise MMOTInputError("candidate configurations of infinite or NaN cost must be removed before building")
        check_fits(LPSize(costs.size, self.n_rows, int(A.nnz)), "MCOT candidate LP",
                   "use solver='sites' (column generation over the same candidates; solver='auto' picks it)",
                   memory_limit_bytes)
        n_cand = costs.size
        c, Af = costs, A
        if slack_penalty is not None:
            S = self.slack_columns()
            Af = sp.hstack([A, S]).tocsc()
            c = np.concatenate([costs, np.full(S.shape[1], float(slack_penalty))])
        n = c.size
        return StandardLP(c=c, A=Af, row_lower=self.row_lower.copy(), row_upper=self.row_upper.copy(),
                          col_lower=np.zeros(n), col_upper=np.full(n, np.inf), name="mcot_candidates",
                          meta={"n_candidates": n_cand, "configs": configs, "indices": indices,
                                "row_blocks": self.row_blocks})

    def certificate(self, c: np.ndarray, A: sp.csc_matrix, x: np.ndarray | None,
                    y: np.ndarray | None) -> dict[str, Any]:
        """Primal value, moment residual, dual value and dual violation for candidate columns ``(c, A)``."""
        out: dict[str, Any] = {}
        if x is not None:
            x = np.maximum(x, 0.0)
            ax = A @ x
            res = np.concatenate([np.maximum(self.row_lower - ax, 0), np.maximum(ax - self.row_upper, 0)])
            res = res[np.isfinite(res)]
            out.update(primal_value=float(c @ x), moment_residual=float(res.max(initial=0.0)))
        if y is not None:
            # plans are probability measures (mass 1): the shared rounding-safe weak-duality bound
            from ..certificate import dual_lower_bound
            db = dual_lower_bound(c, A, y, self.row_lower, self.row_upper, mass=1.0)
            red = c - A.T @ y
            out.update(dual_value=db.dual_value, dual_violation=db.violation, certified_lower=db.bound,
                       min_reduced_cost=float(red.min(initial=0.0)))
        return out

    def read(self, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        """Map the backend answer to atoms and certificates (see the module docstring); named ``read`` like
        :meth:`~mmot_models.formulations.contract.LPFormulationBase.read` (``invert`` is the contract's
        ``(result, inverse data)`` call)."""
        k = lp.meta["n_candidates"]
        out: dict[str, Any] = {"status": res.status, "bound": Bound.LOWER}
        c, A = lp.c[:k], lp.A[:, :k]
        x = None if res.x is None else np.maximum(res.x, 0.0)
        cert = self.certificate(c, A, None if x is None else x[:k], res.row_dual)
        out.update(cert)
        if x is not None:
            slack = float(x[k:].sum()) if x.size > k else 0.0
            w = x[:k]
            keep = np.flatnonzero(w > ATOM_TOL)
            out.update(atom_columns=keep, atom_weights=w[keep], slack_mass=slack, weights=w)
            if slack > 1e-9:
                out["status"] = Status.INFEASIBLE
        return out
