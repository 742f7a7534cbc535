r"""SCE-DFT energy minimisation over densities on a grid, as a convex cvxpy program.

The functional of Bouchitte, Buttazzo, Champion and De Pascale (equation (1.2)),

.. math::
    F_\varepsilon(\rho) = \varepsilon\,T(\rho) + b\,C(\rho) - U(\rho),\qquad
    T(\rho) = \int \frac{|\nabla\rho|^2}{4\rho},\qquad U(\rho) = \int V\,d\rho,

is convex in ``rho`` (their Proposition 3.1): ``T`` is a sum of quadratic-over-linear terms,
``C`` is the value of an LP whose right-hand side is ``rho`` and ``U`` is linear.  On a grid with
cell masses ``w_s`` (``sum_s w_s = 1``; ``rho`` is the one-body density normalised as a
probability, i.e. the physical density divided by ``N``):

* **kinetic**, finite volumes on an equispaced grid of step ``h``: with density values
  ``f_s = w_s * scale_s`` (``scale = 1/h`` on a line) and ``f = 0`` outside the grid (Dirichlet
  walls),

  .. math:: T(w) = \sum_{j} k_j\,\frac{(f_{j+1} - f_j)^2}{f_j + f_{j+1}},\qquad
            k_j = \frac{\text{area of face } j}{2h},

  the midpoint rule for ``int rho'^2 / (4 rho)`` (on a line ``k_j = 1/(2h)``, i.e.
  ``sum_j (w_{j+1} - w_j)^2 / (2 h^2 (w_j + w_{j+1}))``).  ``cvxpy.quad_over_lin`` accepts only a
  scalar denominator, so the sum of these quadratic-over-linear terms is written as one
  vectorised rotated second-order cone ``x_j^2 <= t_j s_j`` (``cvxpy.SOC`` with ``axis=0``);
* **transport**, the symmetric multiset LP with the density as a variable: ``gamma_m >= 0`` on
  multisets ``m`` of ``N`` sites, ``w = (1/N) A gamma`` (``A`` the occupation matrix),
  ``C = sum_m c_m gamma_m``;
* **attraction**, ``U = <v, w>`` with ``v_s = V(x_s)``.

Radial 3D (one nucleus): cell masses ``w_i`` on shells ``[r_i - h/2, r_i + h/2]``, density
``f_i = w_i / |shell_i|``, faces of area ``4 pi r_{j+1/2}^2`` (none at ``r = 0``: the Neumann
condition of a smooth radial density) and a Dirichlet wall at ``r_max``.  For ``N = 2`` the
angular minimisation of ``1/|x - y|`` at radii ``r, r'`` puts the electrons antipodally, giving the
exact radial pair cost ``1/(r + r')``.

``relaxed=True`` switches the transport term to the relaxed cost of a subprobability of mass
``alpha`` (``0 <= (1/N) A gamma <= w``, ``sum gamma >= N/(N-1)(alpha - 1/N)``), which is what
the one-nucleus function ``g_b(Z, alpha)`` of Definition 5.3 needs.  ``alpha`` may itself be a
cvxpy expression (the joint program for the limit problem (5.5)).

Nothing here solves: :func:`build_energy_problem` returns the ``cvxpy.Problem`` and handles to
its variables and terms; :mod:`mmot_models.backends.cvxpy` solves it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from .multisets import multiset_count, multiset_pair_costs, multisets, occupation_matrix
from .standard_lp import LPSize, check_fits

__all__ = ["EnergyModel", "EnergyBlock", "build_energy_problem", "energy_block", "kinetic_value",
           "difference_operators", "transport_problem"]


@dataclass(frozen=True, eq=False)
class EnergyModel:
    """Discretised data of ``F_eps`` on one grid.

    Parameters
    ----------
    points : (l, d) grid points (``d = 1``; radial grids store ``r``).
    spacing : grid step ``h`` (equispaced grid).
    potential : (l,) values ``V(x_s)`` of the attraction, ``U = <V, w>``.
    pair_matrix : (l, l) pair cost ``c(x_s, x_t)`` (``+inf`` = forbidden pair).
    n_electrons : ``N >= 2``.
    eps, b : weights of the kinetic and transport terms.
    mass : total mass of ``rho`` (1 for ``F_eps``; ``alpha`` for ``g_b``).
    relaxed : use the relaxed transport cost of a subprobability (see the module docstring).
    geometry : ``"line"`` or ``"radial"`` (informational).
    density_scale : (l,) ``f = density_scale * w`` (default ``1/h``).
    edge_weight : (l+1,) face weights ``k_j`` of the kinetic term, face ``j`` between cells
        ``j-1`` and ``j`` (face 0 and face ``l`` are the walls; default ``1/(2h)``).
    """

    points: np.ndarray
    spacing: float
    potential: np.ndarray
    pair_matrix: np.ndarray
    n_electrons: int = 2
    eps: float = 1.0
    b: float = 0.5
    mass: float = 1.0
    relaxed: bool = False
    geometry: str = "line"
    density_scale: np.ndarray | None = None
    edge_weight: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=float)
        pts = pts[:, None] if pts.ndim == 1 else pts
        l = pts.shape[0]
        if l < 3:
            raise MMOTInputError(f"an energy model needs at least 3 grid points, got {l}")
        if np.shape(self.potential) != (l,) or np.shape(self.pair_matrix) != (l, l):
            raise MMOTInputError("potential must have shape (l,) and pair_matrix (l, l) for l grid points")
        if not (np.isfinite(self.spacing) and self.spacing > 0):
            raise MMOTInputError(f"grid spacing must be positive, got {self.spacing}")
        if int(self.n_electrons) != self.n_electrons or self.n_electrons < 2:
            raise MMOTInputError(f"the number of electrons N must be an integer >= 2, got {self.n_electrons}")
        if not (self.eps > 0 and self.b >= 0):
            raise MMOTInputError(f"need eps > 0 and b >= 0, got eps={self.eps}, b={self.b}")
        if not (0 < self.mass <= 1.0 + 1e-12):
            raise MMOTInputError(f"the mass of rho must be in (0, 1], got {self.mass}")
        scale = np.full(l, 1.0 / self.spacing) if self.density_scale is None else np.asarray(self.density_scale, float)
        kappa = (np.full(l + 1, 1.0 / (2.0 * self.spacing)) if self.edge_weight is None
                 else np.asarray(self.edge_weight, float))
        if scale.shape != (l,) or kappa.shape != (l + 1,) or np.any(scale <= 0) or np.any(kappa < 0):
            raise MMOTInputError("density_scale must be (l,) positive and edge_weight (l+1,) non-negative")
        object.__setattr__(self, "density_scale", scale)
        object.__setattr__(self, "edge_weight", kappa)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "potential", np.asarray(self.potential, dtype=float))
        object.__setattr__(self, "pair_matrix", np.asarray(self.pair_matrix, dtype=float))

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    def transport_size(self) -> LPSize:
        distinct = bool(np.any(~np.isfinite(np.diag(self.pair_matrix))))
        M = multiset_count(self.size, int(self.n_electrons), distinct)
        return LPSize(M, self.size, M * int(self.n_electrons))


def difference_operators(l: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(D, S)`` of shape ``(l+1, l)``: differences and sums of neighbours of ``w`` padded by zeros."""
    e = np.ones(l)
    D = sp.diags([e, -e], [0, -1], shape=(l + 1, l), format="csr")   # (Dw)_j = w_j - w_{j-1}
    S = sp.diags([e, e], [0, -1], shape=(l + 1, l), format="csr")
    return D, S


def kinetic_value(w: np.ndarray, model: EnergyModel) -> float:
    """``sum_j k_j (f_{j+1} - f_j)^2 / (f_j + f_{j+1})``, ``f = scale * w`` zero-padded (numpy reference)."""
    f = model.density_scale * np.maximum(np.asarray(w, dtype=float), 0.0)
    f = np.concatenate([[0.0], f, [0.0]])
    d = np.diff(f)
    s = f[1:] + f[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(s > 0, d * d / np.where(s > 0, s, 1.0), 0.0)
    return float(model.edge_weight @ terms)


@dataclass
class EnergyBlock:
    """Variables, constraints and term expressions of one grid (one atom or one molecule)."""

    model: EnergyModel
    w: Any                    # cvxpy expression (l,): cell masses of rho
    gamma: Any                # cvxpy Variable (M,): multiset plan
    t: Any                    # cvxpy Variable (l+1,): kinetic epigraph
    constraints: list
    kinetic: Any
    transport: Any
    attraction: Any
    multisets: np.ndarray
    multiset_costs: np.ndarray
    occupation: sp.csc_matrix

    @property
    def energy(self) -> Any:
        m = self.model
        return m.eps * self.kinetic + m.b * self.transport - self.attraction


def energy_block(model: EnergyModel, mass: Any = None, memory_limit_bytes: int | None = None) -> EnergyBlock:
    """Build the variables and constraints of ``F`` on ``model``'s grid.

    ``mass`` overrides ``model.mass`` and may be a cvxpy expression (joint limit problem).
    """
    import cvxpy as cp

    check_fits(model.transport_size(), "multiset transport term", "use fewer grid points or electrons",
               memory_limit_bytes)
    N, l = int(model.n_electrons), model.size
    C = model.pair_matrix
    distinct = bool(np.any(~np.isfinite(np.diag(C))))
    ms = multisets(l, N, distinct=distinct)
    costs = multiset_pair_costs(C, ms)
    keep = np.isfinite(costs)
    ms, costs = ms[keep], costs[keep]
    occ = (occupation_matrix(ms, l) / N).tocsc()
    gamma = cp.Variable(ms.shape[0], nonneg=True, name="gamma")
    mass = model.mass if mass is None else mass
    cons: list = []
    if model.relaxed:
        w = cp.Variable(l, nonneg=True, name="rho")
        kappa = N / (N - 1) * (mass - 1.0 / N)
        cons += [occ @ gamma <= w, cp.sum(gamma) >= kappa, cp.sum(w) == mass]
    else:
        w = occ @ gamma
        cons += [cp.sum(gamma) == mass]
    D, S = difference_operators(l)
    edges = np.flatnonzero(model.edge_weight > 0)
    F = sp.diags(model.density_scale)
    Dk = sp.diags(np.sqrt(model.edge_weight[edges])) @ D[edges] @ F
    Sk = S[edges] @ F
    t = cp.Variable(edges.size, nonneg=True, name="kinetic_epigraph")
    x, s = Dk @ w, Sk @ w
    # rotated cone x_j^2 <= t_j s_j, all j at once:  || (2 x_j, t_j - s_j) || <= t_j + s_j
    cons.append(cp.SOC(t + s, cp.vstack([2 * x, t - s]), axis=0))
    kinetic = cp.sum(t)
    transport = costs @ gamma
    attraction = model.potential @ w
    return EnergyBlock(model=model, w=w, gamma=gamma, t=t, constraints=cons, kinetic=kinetic,
                       transport=transport, attraction=attraction, multisets=ms, multiset_costs=costs,
                       occupation=occ)


def build_energy_problem(model: EnergyModel, memory_limit_bytes: int | None = None) -> tuple[Any, EnergyBlock]:
    """``(cvxpy.Problem, EnergyBlock)`` minimising ``eps T + b C - U`` on ``model``'s grid."""
    import cvxpy as cp

    block = energy_block(model, memory_limit_bytes=memory_limit_bytes)
    return cp.Problem(cp.Minimize(block.energy), block.constraints), block


def transport_problem(weights: np.ndarray, pair_matrix: np.ndarray, n_electrons: int) -> tuple[Any, Any]:
    """The transport term alone for a *fixed* density, as cvxpy: ``min c.gamma, (1/N) A gamma = w``.

    Returns ``(problem, gamma)``; the same multiset columns as :func:`energy_block` (used to check
    the cvxpy transport term against the HiGHS LP of :mod:`mmot_models.formulations.partial`).
    """
    import cvxpy as cp

    w = np.asarray(weights, dtype=float)
    l, N = w.size, int(n_electrons)
    C = np.asarray(pair_matrix, dtype=float)
    ms = multisets(l, N, distinct=bool(np.any(~np.isfinite(np.diag(C)))))
    costs = multiset_pair_costs(C, ms)
    keep = np.isfinite(costs)
    occ = (occupation_matrix(ms[keep], l) / N).tocsc()
    gamma = cp.Variable(int(keep.sum()), nonneg=True)
    return cp.Problem(cp.Minimize(costs[keep] @ gamma), [occ @ gamma == w]), gamma
