r"""Transport costs of *subprobabilities*: the 1-homogeneous extension and the weak* relaxation.

When a molecule dissociates, minimising densities can lose mass at infinity, so the Coulomb cost
must be defined on subprobabilities ``rho`` (``||rho|| = int d rho <= 1``).  Following
Bouchitte, Buttazzo, Champion and De Pascale (*Dissociating limit in DFT with Coulomb optimal
transport cost*, section 2):

* the **1-homogeneous extension** (the same formula as for probabilities, plans of mass
  ``||rho||``):  ``C(rho) = ||rho|| C(rho / ||rho||)``;
* the **relaxed cost** (right-hand side of Proposition 2.4, equal to the weak* lower
  semicontinuous envelope ``C_bar`` for ``N = 2`` by Proposition 2.5, an upper bound on it for
  ``N >= 3``):

  .. math::
      \overline{C}(\rho) \;\le\; \min\Big\{ C(\mu) : 0 \le \mu \le \rho,\
      \int d\mu \ge \tfrac{N}{N-1}\big(\textstyle\int d\rho - \tfrac1N\big) \Big\},

  which is ``0`` as soon as ``||rho|| <= 1/N``.

Homogeneity convention (the paper's, followed exactly): ``rho`` is the one-body marginal
normalised as a probability (physical density ``/ N``), the cost is
``c(x_1..x_N) = sum_{i<j} c(x_i, x_j)`` and a measure ``mu`` of mass ``m`` is transported by plans
of mass ``m``, so ``C(t mu) = t C(mu)`` and the value is on the same scale as
:attr:`mmot_models.Solution.value` for probabilities.

The LP is the symmetric multiset LP: one variable ``gamma_m >= 0`` per multiset ``m`` of ``N``
grid sites (distinct sites when the cost is infinite on the diagonal), standing for the
symmetrised plan ``gamma_m / |orbit(m)|`` on each ordering of ``m``.  Its one-body marginal is
``mu_s = (1/N) sum_m n_s(m) gamma_m`` (``n_s(m)`` occupation numbers) and its mass is
``sum_m gamma_m``:

.. math::
    \text{relaxed:}\quad \min_{\gamma\ge0} \sum_m c_m\gamma_m \quad\text{s.t.}\quad
    \tfrac1N \textstyle\sum_m n_s(m)\gamma_m \le \rho_s\ \ \forall s,\qquad
    \sum_m \gamma_m \ge \kappa := \max\big(0, \tfrac{N}{N-1}(\|\rho\| - \tfrac1N)\big);

    \text{homogeneous:}\quad \min_{\gamma\ge0} \sum_m c_m\gamma_m \quad\text{s.t.}\quad
    \tfrac1N \textstyle\sum_m n_s(m)\gamma_m = \rho_s\ \ \forall s.

* the **stratified** relaxation (``mode="stratified"``, not in the paper): the same LP with
  columns for clusters of every size ``k = 2..N`` (the other ``N - k`` electrons of a cluster are
  sent to infinity, mutually far apart), the mass row weighted by ``(k - 1)/(N - 1)``:

  .. math::
      \min_{\gamma\ge0} \sum_{k=2}^N \sum_{|m| = k} c_m\gamma_m \quad\text{s.t.}\quad
      \tfrac1N \textstyle\sum_m n_s(m)\gamma_m \le \rho_s,\qquad
      \sum_m \tfrac{|m| - 1}{N - 1}\gamma_m \ge \kappa.

  Every feasible point is the limit cost of an explicit sequence ``rho_n -> rho`` (weak*) of
  probabilities (clusters of ``k`` near electrons with ``N - k`` partners at far points ``n xi_j``;
  near singletons and empty clusters absorb the rest of the unit mass), so its value is an upper
  bound on ``C_bar(rho)``; restricted to ``k = N`` it is the relaxed LP above, hence
  ``C_bar <= stratified <= relaxed``, with equality for ``N = 2`` (where only ``k = 2`` exists).
  For ``N >= 3`` it can be strictly below (2.1): three electrons in a tight cluster cost three
  pairs while a pair with its third electron at infinity costs one, so (2.1) is not an equality for
  ``N = 3`` (the paper leaves this open); see the tests for a numerical instance.

Certificate (computed here, not taken from the solver).  Every feasible ``gamma`` has mass at most
``N ||rho|| / k_min`` (its one-body mass is at most ``||rho||``).  For dual multipliers ``u >= 0``
(sites) and ``t >= 0`` (mass row, coefficients ``a_m``) with largest violation
``v = max_m (a_m t - (1/N) sum_s n_s(m) u_s - c_m)^+``, weak duality gives the certified lower
bound ``kappa t - <u, rho> - v N ||rho|| / k_min``; in the homogeneous case (free ``u``,
``v = max_m ((1/N) sum_s n_s(m) u_s - c_m)^+``) it is ``<u, rho> - v ||rho||``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import dual_lower_bound, gamma
from ..costs import PairCost, cost_from_spec
from ..errors import MMOTInputError
from ..problem import MASS_TOL, as_points, check_weights
from ..solution import Bound, Status
from .multisets import multiset_count, multiset_pair_costs, multisets
from .contract import LPFormulationBase
from .standard_lp import LPResult, LPSize, StandardLP, check_fits

__all__ = ["SubDensity", "PartialTransportLP", "required_mass", "MODES", "FAR", "PLAN_ZERO_TOL"]

#: The costs of a subprobability this module formulates.
MODES = ("relaxed", "homogeneous", "stratified")
#: Index of an electron sent to infinity in the rows of a stratified plan.
FAR = -1
#: Plan entries at or below this are dropped from the returned plan.
PLAN_ZERO_TOL = 1e-14


def required_mass(mass: float, n_electrons: int) -> float:
    """``kappa = max(0, N/(N-1) (mass - 1/N))``: least mass of ``mu`` in the relaxed cost."""
    N = int(n_electrons)
    return max(0.0, N / (N - 1) * (float(mass) - 1.0 / N))


@dataclass(frozen=True, eq=False)
class SubDensity:
    """A non-negative measure of total mass at most 1 on finitely many points.

    Parameters
    ----------
    points : array_like, shape (l, d) or (l,)
    weights : array_like, shape (l,)
        Non-negative, summing to at most ``1 + MASS_TOL`` (a sum in ``(1, 1 + MASS_TOL]`` is
        rescaled to exactly 1).
    """

    points: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        pts = as_points(self.points)
        w = check_weights(self.weights, pts.shape[0])
        total = float(w.sum())
        if total > 1.0 + MASS_TOL:
            raise MMOTInputError(
                f"a subprobability has mass at most 1, these weights sum to {total:.12g}; rescale them")
        if total > 1.0:
            w = w / total
        pts.setflags(write=False)
        w.setflags(write=False)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "weights", w)

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    @property
    def mass(self) -> float:
        return float(self.weights.sum())


@dataclass
class PartialTransportLP(LPFormulationBase):
    """Builder and inverter of the relaxed / homogeneous / stratified multiset LP of a :class:`SubDensity`.

    Parameters
    ----------
    n_electrons : int
        ``N >= 2``.
    cost : PairCost or spec
        Pair cost ``c(x, y)``; ignored where ``pair_matrix`` is given.
    mode : {"relaxed", "homogeneous", "stratified"}
    pair_matrix : ndarray (l, l), optional
        Precomputed pair-cost matrix on the support (e.g. the radial ``1/(r + r')``); ``+inf``
        entries are forbidden pairs.
    """

    n_electrons: int
    cost: Any = "coulomb"
    mode: str = "relaxed"
    pair_matrix: np.ndarray | None = None
    name: str = field(default="partial", init=False)

    def __post_init__(self) -> None:
        if int(self.n_electrons) != self.n_electrons or self.n_electrons < 2:
            raise MMOTInputError(f"the number of electrons N must be an integer >= 2, got {self.n_electrons}")
        self.n_electrons = int(self.n_electrons)
        if self.mode not in MODES:
            raise MMOTInputError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        self.cost = cost_from_spec(self.cost)
        if not isinstance(self.cost, PairCost):
            raise MMOTInputError("the relaxed transport cost needs a pair cost (e.g. 'coulomb' or 'soft_coulomb')")
        self.name = f"partial_{self.mode}"

    # ------------------------------------------------------------------ helpers
    def _matrix(self, rho: SubDensity) -> np.ndarray:
        if self.pair_matrix is not None:
            C = np.asarray(self.pair_matrix, dtype=float)
            if C.shape != (rho.size, rho.size):
                raise MMOTInputError(f"pair_matrix has shape {C.shape}, expected {(rho.size, rho.size)}")
            return C
        return self.cost.matrix(rho.points)

    def _distinct(self, C: np.ndarray) -> bool:
        return bool(np.any(~np.isfinite(np.diag(C))))

    def _sizes(self) -> list[int]:
        """Cluster sizes ``k`` of the columns: ``[N]``, or ``2..N`` in the stratified mode."""
        N = self.n_electrons
        return list(range(2, N + 1)) if self.mode == "stratified" else [N]

    def size(self, rho: SubDensity) -> LPSize:
        distinct = self.pair_matrix is None and self.cost.singular_diagonal
        M = sum(multiset_count(rho.size, k, distinct) for k in self._sizes())
        return LPSize(M, rho.size + 1, M * (self.n_electrons + 1))

    def columns(self, rho: SubDensity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multisets of finite cost, their costs and the pair matrix (shared with the cvxpy models).

        Rows have ``N`` entries; in the stratified mode a cluster of ``k < N`` sites is padded with
        :data:`FAR` (``-1``: an electron sent to infinity).
        """
        C = self._matrix(rho)
        N = self.n_electrons
        blocks, costs = [], []
        for k in self._sizes():
            ms = multisets(rho.size, k, distinct=self._distinct(C)).astype(np.int64)
            cost = multiset_pair_costs(C, ms)
            if np.any(np.isnan(cost)):
                raise MMOTInputError("the pair cost is NaN for some pairs of sites; check the cost")
            keep = np.isfinite(cost)
            ms = ms[keep]
            blocks.append(np.concatenate([ms, np.full((ms.shape[0], N - k), FAR, dtype=np.int64)], axis=1))
            costs.append(cost[keep])
        return np.concatenate(blocks, axis=0), np.concatenate(costs), C

    # ------------------------------------------------------------------ build / invert
    def build(self, rho: SubDensity, memory_limit_bytes: int | None = None) -> StandardLP:
        check_fits(self.size(rho), f"{self.mode} multiset LP",
                   "use fewer grid points or fewer electrons", memory_limit_bytes)
        N, l = self.n_electrons, rho.size
        ms, cost, _ = self.columns(rho)
        M = ms.shape[0]
        near = ms >= 0
        k = near.sum(axis=1)
        cols = np.repeat(np.arange(M), N)[near.reshape(-1)]
        occ = sp.csc_matrix((np.full(cols.size, 1.0 / N), (ms[near], cols)), shape=(l, M))
        occ.sum_duplicates()                                    # (l, M): one-body marginal of each column
        b = np.asarray(rho.weights, dtype=float)
        if self.mode == "homogeneous":
            kappa = rho.mass
            A = occ
            row_lower, row_upper = b.copy(), b.copy()
        else:
            kappa = required_mass(rho.mass, N)
            A = sp.vstack([occ, sp.csr_matrix(((k - 1) / (N - 1))[None, :])], format="csc")
            row_lower = np.concatenate([np.full(l, -np.inf), [kappa]])
            row_upper = np.concatenate([b, [np.inf]])
        return StandardLP(c=cost, A=A, row_lower=row_lower, row_upper=row_upper, col_lower=np.zeros(M),
                          col_upper=np.full(M, np.inf), name=self.name,
                          meta={"multisets": ms, "kappa": kappa, "mass": rho.mass, "n_sites": l,
                                "plan_mass_bound": N * rho.mass / int(k.min())})

    def read(self, rho: SubDensity, lp: StandardLP, res: LPResult) -> dict[str, Any]:
        """Map a backend answer to ``Solution`` fields (value, certified bounds, plan, ``mu``)."""
        N, l = self.n_electrons, rho.size
        kappa, mass = lp.meta["kappa"], lp.meta["mass"]
        out: dict[str, Any] = {"status": res.status, "bound": Bound.EXACT,
                               "info": {"mode": self.mode, "mass": mass, "required_mass": kappa,
                                        "n_electrons": N, "n_multisets": lp.n_cols}}
        if res.status == Status.INFEASIBLE:
            out.update(value=math.inf, lower_bound=math.inf, upper_bound=math.inf)
            return out
        if res.x is None:
            return out
        occ = lp.A[:l]
        x = np.maximum(res.x, 0.0)
        mu = occ @ x
        primal = float(lp.c @ x)
        if self.mode == "homogeneous":
            resid = float(np.max(np.abs(mu - rho.weights), initial=0.0))
        else:
            mass_row = float((lp.A[l] @ x)[0])
            resid = max(float(np.max(mu - rho.weights, initial=0.0)), max(0.0, kappa - mass_row))
        keep = x > PLAN_ZERO_TOL
        out.update(plan_indices=lp.meta["multisets"][keep], plan_weights=x[keep],
                   primal_value=primal, upper_bound=primal, value=primal, marginal_error=np.full(N, resid))
        out["info"].update(mu=mu, plan_mass=float(x.sum()), plan_is_multiset=True, constraint_residual=resid)
        if res.row_dual is not None:
            y = np.asarray(res.row_dual, dtype=float)
            u = y[:l] if self.mode == "homogeneous" else np.maximum(-y[:l], 0.0)
            # the shared rounding-safe weak-duality bound; plans have mass at most plan_mass_bound
            db = dual_lower_bound(lp.c, lp.A, y, lp.row_lower, lp.row_upper, mass=lp.meta["plan_mass_bound"],
                                  cost_error=pair_cost_error_multisets(lp.c, N))
            out.update(potentials=tuple([u] * N), dual_value=db.dual_value, lower_bound=db.bound)
            out["info"]["dual_violation"] = db.violation
        return out


def pair_cost_error_multisets(cost: np.ndarray, N: int) -> np.ndarray:
    """Rounding bound of multiset costs summed from ``N(N-1)/2`` nonnegative pair costs (0 for N = 2)."""
    K = N * (N - 1) // 2
    return 1.01 * gamma(K + 1) * np.abs(cost) if K > 1 else np.zeros_like(cost)
