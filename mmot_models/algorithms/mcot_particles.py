"""MCOT by penalised particles (method ``"mcot"``, solver ``"particles"``; the paper's section 6.2):
an estimate, optionally polished by continuous column generation."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..formulations.moments import MomentLP
from ..moment_functions import MCOTProblem
from ..solution import Bound, Solution, assemble_solution, Status
from .mcot_colgen import _boxes, mcot_colgen

__all__ = ["mcot_particles", "PenalisedObjective"]


# =========================================================================== penalised particles (6.2)
def _cost_gradient(P: MCOTProblem, Z: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    K, N, d = Z.shape
    c = P.config_cost(Z)
    E = np.eye(N * d).reshape(N * d, N, d) * h
    plus = P.config_cost((Z[:, None] + E[None]).reshape(-1, N, d)).reshape(K, N * d)
    minus = P.config_cost((Z[:, None] - E[None]).reshape(-1, N, d)).reshape(K, N * d)
    return c, ((plus - minus) / (2 * h)).reshape(K, N, d)


class PenalisedObjective:
    r"""The penalised functional of the paper's section 6.2 and its gradient, on a flat vector.

    ``v = (positions (K, N, d) flattened, a (K,))`` with weights ``p = softmax(a)``;
    ``F = sum_k p_k c(z_k) + penalty * |sum_k p_k a(z_k) - b|^2`` over all rows but the mass row.
    Gradients: analytic through the families (``gradient``), central differences for the cost.
    """

    def __init__(self, problem: MCOTProblem, n_particles: int, penalty: float) -> None:
        P = problem
        self.P, self.K, self.lam = P, int(n_particles), float(penalty)
        self.form = MomentLP(P)
        self.rows = np.flatnonzero(np.arange(self.form.n_rows) != self.form.mass_row)
        self.b = self.form.row_lower[self.rows]
        lo, hi = _boxes(P)
        self.h = 1e-7 * float(np.max(hi - lo))
        self.offsets = np.cumsum([0] + [f.n_functions for f in (P.families[:1] if P.symmetric else P.families)])

    def split(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        K, N, d = self.K, self.P.n_marginals, self.P.dim
        return v[:K * N * d].reshape(K, N, d), v[K * N * d:]

    def __call__(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        P, lam, offsets = self.P, self.lam, self.offsets
        N, d = P.n_marginals, P.dim
        Z, a = self.split(v)
        p = np.exp(a - a.max())
        p /= p.sum()
        c, gc = _cost_gradient(P, Z, self.h)
        Acol = self.form.dense_columns(Z)[self.rows]  # (R, K)
        R = Acol @ p - self.b
        f = float(p @ c + lam * R @ R)
        u = 2 * lam * R  # dF/d(moment)
        g_p = c + u @ Acol
        g_a = p * (g_p - p @ g_p)
        gZ = p[:, None, None] * gc
        for i in range(N):  # moment rows: chain rule through the families
            fam = P.families[i]
            blk = 0 if P.symmetric else i
            ui = u[offsets[blk]:offsets[blk + 1]]
            scale = 1.0 / N if P.symmetric else 1.0
            gZ[:, i, :] += scale * p[:, None] * np.einsum("knd,n->kd", fam.gradient(Z[:, i, :]), ui)
        if P.martingale is not None:
            chi = P.martingale
            L = chi.n_functions
            um = u[offsets[-1]:offsets[-1] + L * d].reshape(L, d)
            val = chi.evaluate(Z[:, 0, :])  # (K, L)
            gZ[:, 1, :] += p[:, None] * (val @ um)  # d/dy_a: chi_l(x) u_{l,a}
            gx = chi.gradient(Z[:, 0, :])  # (K, L, d)
            gZ[:, 0, :] += p[:, None] * np.einsum("kld,la,ka->kd", gx, um, Z[:, 1, :])
        return f, np.concatenate([gZ.reshape(-1), g_a])


def mcot_particles(problem: MCOTProblem, backend: str = "highs", *, n_particles: int | None = None,
                   penalty: float = 100.0, max_iterations: int = 1000, seed: int = 0, init: np.ndarray | None = None,
                   polish: bool = False, polish_iterations: int = 60, tol: float = 1e-10,
                   time_limit: float | None = None, **_: Any) -> Solution:
    r"""Penalised gradient on positions and weights (paper, section 6.2).

    .. math::
        F(z, a) = \sum_k p_k c(z_k) + \frac1\eta \sum_r \Big(\sum_k p_k a_r(z_k) - b_r\Big)^2,
        \qquad p = \operatorname{softmax}(a),\ 1/\eta = \text{penalty},

    over ``K = n_particles`` particles (default: the Tchakaloff bound), minimised by L-BFGS-B with
    positions kept in the domain box.  The value is an estimate (constraints hold only up to the
    penalty).  With ``polish=True`` the particles seed column generation over continuous positions
    (:func:`mcot_colgen`, at most ``polish_iterations`` rounds, initial master = the particles plus
    the coarse grid): the moments then hold exactly, and when it converges ``value`` is the polished
    MCOT value (``info["penalised_value"]`` keeps the particle cost, ``info["polished_*"]`` the rest).
    An LP on the particles alone is almost always infeasible (the penalised optimum misses the
    moments by about ``1/penalty``), which is why the former weights-only polish never succeeded.
    """
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    P = problem
    if P.moment_bound is not None:
        raise MMOTInputError("solver='particles' does not handle the moment bound A; use solver='auto'")
    N, d = P.n_marginals, P.dim
    K = int(n_particles or P.tchakaloff_bound())
    obj = PenalisedObjective(P, K, penalty)
    form, rows, b, lam = obj.form, obj.rows, obj.b, obj.lam
    lo, hi = _boxes(P)
    rng = np.random.default_rng(seed)
    Z0 = lo + (hi - lo) * rng.random((K, N, d)) if init is None else np.asarray(init, float).reshape(K, N, d)
    F, split = obj, obj.split

    v0 = np.concatenate([Z0.reshape(-1), np.zeros(K)])
    bounds = list(zip(np.broadcast_to(lo, (K, N, d)).reshape(-1), np.broadcast_to(hi, (K, N, d)).reshape(-1)))
    bounds += [(-30.0, 30.0)] * K
    opts = {"maxiter": int(max_iterations), "ftol": tol, "gtol": 1e-10, "maxfun": 4 * int(max_iterations)}
    trace: list[float] = []

    def F_traced(v: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = F(v)
        trace.append(f)
        return f, g
    opt = minimize(F_traced, v0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    Z, a = split(opt.x)
    p = np.exp(a - a.max())
    p /= p.sum()
    cost_val = float(p @ P.config_cost(Z))
    Acol = form.dense_columns(Z)
    resid = float(np.max(np.abs(Acol[rows] @ p - b)))
    info: dict[str, Any] = {"solver": "particles", "n_particles": K, "penalty": lam, "penalised_objective": float(opt.fun),
                            "moment_residual": resid, "atoms": Z, "atom_weights": p, "trace": trace,
                            "optimizer_message": str(opt.message), "n_rows": form.n_rows}
    status = Status.CONVERGED if opt.success else Status.ITERATION_LIMIT
    value, message = cost_val, f"penalised particles (1/eta={lam:g}); moment residual {resid:.2e}"
    if polish:
        # exact moments: column generation over continuous positions started from the particles (the
        # particles alone rarely carry the exact moments: an LP on them only is infeasible)
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)
        pol = mcot_colgen(P, backend, init_configs=Z, seed=seed, time_limit=left, max_iterations=polish_iterations)
        info.update(polished_value=pol.value, polished_status=pol.status.value,
                    polished_n_atoms=pol.info.get("n_atoms"), polished_moment_residual=pol.info.get("moment_residual"),
                    polished_dual_bound_estimate=pol.info.get("dual_bound_estimate"),
                    polished_atoms=pol.info.get("atoms"), polished_atom_weights=pol.info.get("atom_weights"),
                    penalised_value=cost_val)
        if pol.status.ok:
            value, status = pol.value, pol.status
            message = (f"particles polished by column generation: exact moments (residual "
                       f"{pol.info.get('moment_residual', math.nan):.1e}), {pol.info.get('n_atoms')} atoms; "
                       f"penalised particle cost {cost_val:.6g}")
        else:
            message += f"; polishing stopped: {pol.status.value} ({pol.message})"
    return assemble_solution(problem=None, termination=status, value=value, method="mcot", backend="scipy" if not polish else backend,
                    bound=Bound.ESTIMATE, primal_value=value, wall_time_s=time.perf_counter() - t0,
                    iterations=int(opt.nit), message=message, info=info)
