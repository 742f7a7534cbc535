"""Full-tensor Kantorovich LPs for N marginals: the primal over plans and the dual over potentials.

Primal (one variable per index tuple ``x = (x_1, ..., x_N)`` of finite cost):

.. math::
    \\min_{\\gamma \\ge 0} \\sum_x c(x)\\,\\gamma_x
    \\quad\\text{s.t.}\\quad \\sum_{x:\\,x_i = s} \\gamma_x = \\mu_i(s)\\qquad i = 1..N,\\ s = 1..l_i.

Dual (one potential per marginal; a single potential ``u`` when the problem is symmetric):

.. math::
    \\max_{u_1..u_N} \\sum_i \\langle u_i, \\mu_i\\rangle
    \\quad\\text{s.t.}\\quad \\sum_i u_i(x_i) \\le c(x)\\quad\\forall x,
    \\qquad\\text{symmetric: }\\max_u N\\langle u, \\mu\\rangle,\\ \\sum_i u(x_i) \\le c(x).

Tuples of infinite cost (coincident points under Coulomb) are left out: their primal variable is
zero and their dual constraint is void.  Both LPs have ``prod_i l_i`` columns (rows for the dual),
so they are for small problems and cross-checks; the symmetric multiset LP is the workhorse.

Certificates computed here, not taken from the solver: for a primal ``gamma`` the marginal
residuals and ``<c, gamma>`` (the upper bound); for potentials ``u`` the largest violation
``v = max_x (sum_i u_i(x_i) - c(x))^+`` and the certified lower bound
``sum_i <u_i, mu_i> - v`` (shifting ``u_1`` down by ``v`` makes ``u`` feasible, plans have mass 1).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import dual_lower_bound, pair_cost_error, plan_mass, plan_upper_bound, scaled_rhs
from ..errors import MMOTInputError
from ..problem import MMOTProblem
from ..solution import Bound, Status, marginal_errors, symmetrize_plan
from .contract import LPFormulationBase
from .standard_lp import LPResult, LPSize, StandardLP, check_fits

__all__ = ["KantorovichPrimal", "KantorovichDual", "full_cost_tensor", "dual_violation"]

#: Plan entries at or below this are dropped from the returned sparse plan.
PLAN_ZERO_TOL = 1e-14
_CHUNK = 1 << 20


def full_cost_tensor(problem: MMOTProblem) -> np.ndarray:
    """Flattened cost of every index tuple (C order over ``problem.sizes``); ``inf`` where forbidden."""
    sizes = problem.sizes
    N = len(sizes)
    if problem.is_pair_cost:
        total = np.zeros(sizes)
        for i in range(N):
            for j in range(i + 1, N):
                cij = problem.pair_matrix(i, j)
                shape = [1] * N
                shape[i], shape[j] = sizes[i], sizes[j]
                total = total + cij.reshape(shape)
        return total.reshape(-1)
    n = problem.n_tuples()
    out = np.empty(n)
    for start in range(0, n, _CHUNK):
        flat = np.arange(start, min(n, start + _CHUNK))
        idx = np.stack(np.unravel_index(flat, sizes), axis=1)
        out[start:start + flat.size] = problem.tuple_costs(idx)
    return out


def _tuples_and_costs(problem: MMOTProblem) -> tuple[np.ndarray, np.ndarray]:
    cost = full_cost_tensor(problem)
    if np.any(np.isnan(cost)):
        raise MMOTInputError("the cost is NaN for some tuples; check the cost function")
    keep = np.flatnonzero(np.isfinite(cost))
    idx = np.stack(np.unravel_index(keep, problem.sizes), axis=1)
    return idx, cost[keep]


def _tensor_size(problem: MMOTProblem) -> LPSize:
    n = problem.n_tuples()
    return LPSize(n, sum(problem.sizes), n * problem.n_marginals)


def _incidence(problem: MMOTProblem, idx: np.ndarray, symmetric_potential: bool) -> sp.csc_matrix:
    """Marginal-row incidence matrix: column t has a 1 in row (i, idx[t, i]) for each i."""
    n, N = idx.shape
    if symmetric_potential:
        rows = idx
        n_rows = problem.sizes[0]
    else:
        offsets = np.concatenate([[0], np.cumsum(problem.sizes)[:-1]])
        rows = idx + offsets[None, :]
        n_rows = int(sum(problem.sizes))
    cols = np.repeat(np.arange(n), N)
    A = sp.csc_matrix((np.ones(n * N), (rows.reshape(-1), cols)), shape=(n_rows, n))
    A.sum_duplicates()
    return A


def dual_violation(problem: MMOTProblem, potentials: tuple[np.ndarray, ...]) -> float:
    """``max_x (sum_i u_i(x_i) - c(x))^+`` over all finite-cost tuples (full enumeration)."""
    cost = full_cost_tensor(problem)
    total = np.zeros(problem.sizes)
    N = problem.n_marginals
    for i, u in enumerate(potentials):
        shape = [1] * N
        shape[i] = problem.sizes[i]
        total = total + np.asarray(u).reshape(shape)
    diff = total.reshape(-1) - cost
    diff = diff[np.isfinite(cost)]
    return float(max(0.0, diff.max(initial=0.0)))


class KantorovichPrimal(LPFormulationBase):
    """Full-tensor primal Kantorovich LP (any marginals, any cost)."""

    name = "primal"

    def size(self, problem: MMOTProblem) -> LPSize:
        return _tensor_size(problem)

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP:
        problem.check_feasible()
        check_fits(self.size(problem), "full-tensor primal LP",
                   "use method='symmetric' or 'colgen' for equal marginals, or method='entropic' for large grids",
                   memory_limit_bytes)
        idx, cost = _tuples_and_costs(problem)
        A = _incidence(problem, idx, symmetric_potential=False)
        b = np.concatenate([m.weights for m in problem.marginals])
        n = idx.shape[0]
        return StandardLP(c=cost, A=A, row_lower=b, row_upper=b.copy(), col_lower=np.zeros(n),
                          col_upper=np.full(n, np.inf), name="kantorovich_primal",
                          meta={"tuples": idx, "row_offsets": np.concatenate([[0], np.cumsum(problem.sizes)])})

    def read(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        out: dict[str, Any] = {"status": res.status, "bound": Bound.EXACT}
        if res.x is None:
            return out
        x = np.maximum(res.x, 0.0)
        keep = x > PLAN_ZERO_TOL
        idx, w = lp.meta["tuples"][keep], x[keep]
        cerr = pair_cost_error(problem, lp.c)
        pb = plan_upper_bound(lp.c, lp.A, lp.row_lower, x, cost_error=cerr)
        out.update(plan_indices=idx, plan_weights=w, primal_value=pb.cost,
                   marginal_error=marginal_errors(problem, idx, w), upper_bound=pb.bound, value=pb.cost)
        info: dict[str, Any] = {"residual_l1": pb.residual_l1, "residual_charge": pb.charge}
        if res.row_dual is not None:
            off = lp.meta["row_offsets"]
            pots = tuple(np.asarray(res.row_dual[off[i]:off[i + 1]]) for i in range(problem.n_marginals))
            db = dual_lower_bound(lp.c, lp.A, res.row_dual, lp.row_lower, lp.row_upper,
                                  mass=plan_mass(problem.marginals[0].weights), cost_error=cerr)
            out.update(potentials=pots, dual_value=db.dual_value, lower_bound=db.bound)
            info.update(dual_violation=db.violation, dual_rounding_charge=db.rounding)
        out["info"] = info
        return out


class KantorovichDual(LPFormulationBase):
    """Full-tensor dual LP: one potential per marginal, or one shared potential when symmetric."""

    name = "dual"

    def __init__(self, symmetric: bool | None = None) -> None:
        self.symmetric = symmetric

    def _sym(self, problem: MMOTProblem) -> bool:
        if self.symmetric is None:
            return problem.is_symmetric
        if self.symmetric and not problem.is_symmetric:
            raise MMOTInputError("a single shared potential needs equal marginals and a symmetric cost")
        return self.symmetric

    def size(self, problem: MMOTProblem) -> LPSize:
        s = _tensor_size(problem)
        return LPSize(s.n_rows, s.n_cols, s.nnz)

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP:
        problem.check_feasible()
        check_fits(self.size(problem), "full-tensor dual LP",
                   "use method='symmetric' or 'colgen' for equal marginals, or method='entropic' for large grids",
                   memory_limit_bytes)
        sym = self._sym(problem)
        idx, cost = _tuples_and_costs(problem)
        At = _incidence(problem, idx, symmetric_potential=sym).T.tocsc()
        if sym:
            mu = problem.marginals[0].weights * problem.n_marginals
        else:
            mu = np.concatenate([m.weights for m in problem.marginals])
        n_u = mu.shape[0]
        return StandardLP(c=-mu, A=At, row_lower=np.full(idx.shape[0], -np.inf), row_upper=cost,
                          col_lower=np.full(n_u, -np.inf), col_upper=np.full(n_u, np.inf),
                          name="kantorovich_dual",
                          meta={"tuples": idx, "symmetric": sym,
                                "col_offsets": np.concatenate([[0], np.cumsum(problem.sizes)])})

    def read(self, problem: MMOTProblem, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        out: dict[str, Any] = {"status": res.status, "bound": Bound.EXACT}
        if res.x is None:
            return out
        u = res.x
        if lp.meta["symmetric"]:
            pots = tuple([u] * problem.n_marginals)
        else:
            off = lp.meta["col_offsets"]
            pots = tuple(u[off[i]:off[i + 1]] for i in range(problem.n_marginals))
        # the primal of this LP: min <cost, gamma> s.t. (incidence) gamma = mu, gamma >= 0
        cost, inc = lp.row_upper, lp.A.T.tocsc()
        b, rhs_err = _marginal_rhs(problem, lp.meta["symmetric"])
        cerr = pair_cost_error(problem, cost)
        db = dual_lower_bound(cost, inc, u, b, b, mass=plan_mass(problem.marginals[0].weights),
                              cost_error=cerr, rhs_error=rhs_err)
        info: dict[str, Any] = {"dual_violation": db.violation, "dual_rounding_charge": db.rounding}
        out.update(potentials=pots, dual_value=db.dual_value, lower_bound=db.bound, value=db.dual_value)
        if res.row_dual is not None:
            g = np.maximum(-res.row_dual, 0.0)
            keep = g > PLAN_ZERO_TOL
            idx, w = lp.meta["tuples"][keep], g[keep]
            pb = plan_upper_bound(cost, inc, b, g, cost_error=cerr, rhs_error=rhs_err)
            info.update(residual_l1=pb.residual_l1, residual_charge=pb.charge)
            if lp.meta["symmetric"]:
                # one shared potential fixes only the averaged marginal: symmetrise the plan
                idx, w = symmetrize_plan(idx, w)
            out.update(plan_indices=idx, plan_weights=w, primal_value=pb.cost, upper_bound=pb.bound,
                       marginal_error=marginal_errors(problem, idx, w))
        out["info"] = info
        return out


def _marginal_rhs(problem: MMOTProblem, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Right-hand side of the marginal rows (``N mu`` for one shared potential) and its rounding error."""
    if symmetric:
        return scaled_rhs(problem.n_marginals, problem.marginals[0].weights)
    b = np.concatenate([m.weights for m in problem.marginals])
    return b, np.zeros_like(b)
