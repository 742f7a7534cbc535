"""Semidefinite relaxation of the pair density (second-quantised, Khoo-Lin-Lindsey-Ying) as a cvxpy
problem (a pure builder: nothing is solved here).

With occupation numbers ``n_s`` (how many of the N particles sit on site ``s``) of an N-plan with
pair density ``P`` (mass 1, marginal ``mu``):

.. math::
    E[n] = N\\mu,\\qquad E[n n^T] = N(N-1) P + N\\,\\mathrm{diag}(\\mu),\\qquad
    M(P) = \\begin{pmatrix} 1 & N\\mu^T \\\\ N\\mu & E[n n^T] \\end{pmatrix} = E\\Big[\\binom{1}{n}\\binom{1}{n}^T\\Big]
    \\succeq 0.

The relaxation is

.. math::
    \\min_P\\ \\binom{N}{2}\\langle C, P\\rangle \\quad\\text{s.t.}\\quad P = P^T \\ge 0,\\ P\\mathbf 1 = \\mu,
    \\ P_{ab} = 0 \\text{ where } C_{ab} = \\infty,\\ M(P) \\succeq 0.

The identities that ``sum_s n_s = N`` implies, ``E[n n^T] 1 = N^2 mu`` and ``1^T P 1 = 1``, follow
from the row sums and are therefore not repeated.  Without the PSD constraint this is exactly the
``k = 2`` LP, so the SDP bound is at least as tight as ``V_2``.  Infinite cost entries are masked:
their ``P`` entries are fixed to zero and removed from the objective.

Certificate (:func:`sdp_lower_bound`): for any ``u`` and any ``Z \\succeq 0`` and every feasible ``P``,

.. math::
    \\langle C, P\\rangle \\ge u^T\\mu - \\langle Z, M_0\\rangle + \\min\\big(0, \\min_{ab \\text{ free}} R_{ab}\\big),
    \\quad R = C - \\tfrac12(u\\mathbf 1^T + \\mathbf 1 u^T) - N(N-1) Z_{nn},

with ``M_0 = M(0)`` and ``Z_nn`` the lower-right block of ``Z``; the solver's duals (``Z`` projected
onto the PSD cone) give a lower bound that does not rely on the solver's accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MMOTInputError, ProblemTooLargeError
from ..problem import MMOTProblem

__all__ = ["SDPRelaxation", "SDPModel", "sdp_lower_bound", "moment_matrix", "sdp_size", "check_sdp_fits",
           "SDP_BYTES_PER_ENTRY"]

#: Peak bytes per entry of the ``(l+1)^2 x (l+1)^2`` coupling that cvxpy's canonicalisation and the
#: conic solver build for the PSD block (measured: ~17-20 bytes at l = 60..80, growing as l^4).
SDP_BYTES_PER_ENTRY = 24


def sdp_size(l: int) -> dict[str, int]:
    """Size of the SDP relaxation on ``l`` sites: PSD matrix dimension, variables, estimated bytes.

    Integer arithmetic only (no overflow for any ``l``).
    """
    l = int(l)
    dim = l + 1
    return {"psd_dimension": dim, "variables": l * (l + 1) // 2, "psd_entries": dim * dim,
            "bytes": SDP_BYTES_PER_ENTRY * dim**4 + 64 * l * l}


def check_sdp_fits(l: int, memory_limit_bytes: int | None = None) -> dict[str, int]:
    """Raise :class:`ProblemTooLargeError` (before anything is allocated) if the SDP would not fit."""
    from .standard_lp import MEMORY_FRACTION, available_memory_bytes, format_bytes, format_count

    size = sdp_size(l)
    limit = memory_limit_bytes if memory_limit_bytes is not None else int(MEMORY_FRACTION * available_memory_bytes())
    if size["bytes"] > limit:
        raise ProblemTooLargeError(
            f"the SDP relaxation on {format_count(l)} sites has a {format_count(size['psd_dimension'])}x"
            f"{format_count(size['psd_dimension'])} PSD block and {format_count(size['variables'])} variables "
            f"(~{format_bytes(size['bytes'])} to build and solve) but only {format_bytes(limit)} may be used; "
            f"use method='krep' (the k=2 LP bound, or larger k), 'symmetric'/'colgen' for the exact value, "
            f"or a coarser grid")
    return size


@dataclass
class SDPModel:
    """The built cvxpy problem and handles to its variables and constraints."""

    problem: Any                # cvxpy.Problem
    P: Any                      # cvxpy.Variable (l, l) symmetric
    rowsum: Any                 # constraint P 1 == mu
    psd: Any | None             # constraint M(P) >> 0 (None when psd=False)
    C: np.ndarray               # masked cost matrix (inf entries -> 0)
    free: np.ndarray            # bool (l, l): entries of P not fixed to zero
    mu: np.ndarray
    N: int
    scale: float                # binom(N, 2)
    occ_upper: Any | None = None   # constraint (N-1) P_ab <= mu_a (occupation bounds)
    occ_lower: Any | None = None   # constraint N(N-1) P_ab >= N mu_a + N mu_b - 1, a != b


def moment_matrix(P: np.ndarray, mu: np.ndarray, N: int) -> np.ndarray:
    """``M(P)`` of the module docstring for a numeric pair density ``P``."""
    l = mu.size
    M = np.empty((l + 1, l + 1))
    M[0, 0] = 1.0
    M[0, 1:] = M[1:, 0] = N * mu
    M[1:, 1:] = N * (N - 1) * P + N * np.diag(mu)
    return M


@dataclass(frozen=True)
class SDPRelaxation:
    r"""Builder of the SDP relaxation (``psd=False`` gives the k = 2 LP written in cvxpy).

    ``occupation_bounds=True`` (only for costs with an infinite diagonal, where every finite-cost plan
    has occupations ``n_s in {0, 1}``) adds the valid linear inequalities
    ``E[n_a (1 - n_b)] >= 0`` and ``E[(1 - n_a)(1 - n_b)] >= 0`` (``a != b``):

    .. math::
        (N-1) P_{ab} \le \mu_a,\qquad N(N-1) P_{ab} \ge N\mu_a + N\mu_b - 1.
    """

    psd: bool = True
    occupation_bounds: bool = False
    name: str = "sdp"

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> SDPModel:
        """The cvxpy model; refused up front (:func:`check_sdp_fits`) when it would not fit in memory."""
        if not problem.is_symmetric or not problem.is_pair_cost:
            raise MMOTInputError("the SDP relaxation needs N equal marginals and a pair cost; "
                                 "use method='primal' for other problems")
        if self.psd:
            check_sdp_fits(problem.sizes[0], memory_limit_bytes)
        import cvxpy as cp

        N = problem.n_marginals
        mu = np.asarray(problem.marginals[0].weights, dtype=float)
        l = mu.size
        C = np.asarray(problem.pair_matrix(0, 0), dtype=float)
        C = 0.5 * (C + C.T)
        free = np.isfinite(C)
        Cm = np.where(free, C, 0.0)
        P = cp.Variable((l, l), symmetric=True)
        rowsum = cp.sum(P, axis=1) == mu
        cons = [P >= 0, rowsum]
        if not free.all():
            cons.append(cp.multiply((~free).astype(float), P) == 0)
        psd = None
        if self.psd:
            E = N * (N - 1) * P + N * np.diag(mu)
            Mexpr = cp.bmat([[np.ones((1, 1)), N * mu[None, :]], [N * mu[:, None], E]])
            psd = Mexpr >> 0
            cons.append(psd)
        occ_upper = occ_lower = None
        if self.occupation_bounds:
            if not problem.singular_diagonal:
                raise MMOTInputError("occupation bounds (n_s in {0, 1}) hold only for costs with an infinite "
                                     "diagonal such as Coulomb; drop occupation_bounds")
            off = 1.0 - np.eye(l)
            occ_upper = (N - 1) * P <= np.repeat(mu[:, None], l, axis=1)
            occ_lower = cp.multiply(off, N * (N - 1) * P - (N * mu[:, None] + N * mu[None, :] - 1.0)) >= 0
            cons += [occ_upper, occ_lower]
        scale = math.comb(N, 2)
        prob = cp.Problem(cp.Minimize(scale * cp.sum(cp.multiply(Cm, P))), cons)
        return SDPModel(problem=prob, P=P, rowsum=rowsum, psd=psd, C=Cm, free=free, mu=mu, N=N, scale=scale,
                        occ_upper=occ_upper, occ_lower=occ_lower)


def sdp_lower_bound(model: SDPModel) -> tuple[float, dict[str, float]]:
    """Certified lower bound (on the ``binom(N,2) <C, P>`` scale) from the solver's duals.

    Valid for any multipliers (see the module docstring); returns ``(bound, diagnostics)``.
    """
    N, mu, C, free = model.N, model.mu, model.C, model.free
    l = mu.size
    if model.rowsum.dual_value is None:
        return -math.inf, {}
    # cvxpy: Lagrangian term -(dual) * (P1 - mu) for "=="; objective is scaled by binom(N,2)
    u = -np.asarray(model.rowsum.dual_value, dtype=float).reshape(-1) / model.scale
    Z = np.zeros((l + 1, l + 1))
    neg_eig = 0.0
    if model.psd is not None and model.psd.dual_value is not None:
        Zr = np.asarray(model.psd.dual_value, dtype=float) / model.scale
        Zr = 0.5 * (Zr + Zr.T)
        ev, V = np.linalg.eigh(Zr)
        neg_eig = float(max(0.0, -ev.min()))
        Z = (V * np.maximum(ev, 0.0)) @ V.T
    M0 = moment_matrix(np.zeros((l, l)), mu, N)
    R = C - 0.5 * (u[:, None] + u[None, :]) - N * (N - 1) * Z[1:, 1:]
    const = float(u @ mu - np.sum(Z * M0))
    # linear inequalities g(P) = <G, P> - h >= 0 with multipliers lam >= 0: R -= lam G, const += lam h
    if model.occ_upper is not None and model.occ_upper.dual_value is not None:
        a = np.maximum(np.asarray(model.occ_upper.dual_value, dtype=float), 0.0) / model.scale
        R = R + (N - 1) * a                      # g = mu_a - (N-1) P_ab
        const -= float(np.sum(a * mu[:, None]))
    if model.occ_lower is not None and model.occ_lower.dual_value is not None:
        b = np.maximum(np.asarray(model.occ_lower.dual_value, dtype=float), 0.0) * (1.0 - np.eye(l)) / model.scale
        R = R - N * (N - 1) * b                  # g = N(N-1) P_ab - (N mu_a + N mu_b - 1)
        const += float(np.sum(b * (N * mu[:, None] + N * mu[None, :] - 1.0)))
    R = 0.5 * (R + R.T)                          # <R, P> = <sym R, P> for symmetric P
    rmin = float(R[free].min()) if free.any() else 0.0
    bound = const + min(0.0, rmin)
    return model.scale * bound, {"dual_min_reduced_cost": rmin, "dual_psd_clipped_eigenvalue": neg_eig}
