"""Closed forms used as independent references: 1D co-motion functions, SCE values, cheap bounds.

1D strictly correlated electrons (Seidl; Colombo, De Pascale, Di Marino): with the cumulative
distribution ``F`` of ``mu = rho/N`` and its quantile ``Q``, the optimal plan for the Coulomb cost
(and every decreasing convex function of ``|x - y|``) is carried by the co-motion functions

.. math::
    f_k(x) = Q\\big(F(x) + (k-1)/N \\bmod 1\\big),\\qquad k = 1..N,

so that ``V_SCE = \\int_0^1 \\sum_{i<j} c(Q(t + i/N), Q(t + j/N))\\,dt`` (indices mod 1).  For a
discrete marginal the same cyclic quantile construction gives an exactly feasible plan on the grid
(:func:`cyclic_quantile_plan`); its atoms are distinct sites whenever every weight is ``<= 1/N``.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from ..costs import Coulomb, PairCost
from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem

__all__ = [
    "cyclic_quantile_plan", "comotion_functions_1d", "sce_value_1d", "mean_field_value",
    "variance_lower_bound", "uniform_sce_value", "psd_lower_bound", "PsdBound", "PSD_BOUND_MAX_SITES",
]

#: Largest number of sites for which :func:`psd_lower_bound` computes the smallest eigenvalue (O(l^3)).
PSD_BOUND_MAX_SITES = 3000


def cyclic_quantile_plan(weights: np.ndarray, n_marginals: int, order: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Exactly feasible symmetric-marginal plan from the cyclic shift of the quantile.

    Parameters
    ----------
    weights : (l,) probability vector.
    n_marginals : N.
    order : optional permutation of the sites (e.g. sorted by coordinate in 1D, any order in d > 1).

    Returns
    -------
    indices : (K, N) int array of site tuples ``(Q(t), Q(t + 1/N), ..., Q(t + (N-1)/N))``.
    weights : (K,) lengths of the ``t``-intervals on which the tuple is constant (sum 1).
    """
    w = np.asarray(weights, dtype=float)
    order = np.arange(w.size) if order is None else np.asarray(order)
    cum = np.cumsum(w[order])
    cum[-1] = 1.0
    N = int(n_marginals)
    shifts = np.arange(N) / N
    # t-breakpoints: where some Q(t + k/N) jumps, i.e. t = cum - k/N (mod 1)
    bp = np.unique(np.concatenate([[0.0, 1.0], np.mod((cum[None, :] - shifts[:, None]).ravel(), 1.0)]))
    bp = bp[(bp >= 0) & (bp <= 1)]
    lengths = np.diff(bp)
    keep = lengths > 1e-15
    mids = 0.5 * (bp[:-1] + bp[1:])[keep]
    lengths = lengths[keep]
    pos = np.mod(mids[:, None] + shifts[None, :], 1.0)
    ranks = np.minimum(np.searchsorted(cum, pos, side="right"), w.size - 1)
    idx = order[ranks]
    lengths = lengths / lengths.sum()
    return idx, lengths


def comotion_functions_1d(x: np.ndarray, density: np.ndarray, n_electrons: int) -> np.ndarray:
    """Co-motion functions ``f_1 = id, f_2, ..., f_N`` on a 1D grid from density values.

    ``density`` are values of ``rho`` (or of ``mu``; only the shape matters) at sorted ``x``;
    the cumulative distribution is integrated with the trapezoidal rule and inverted by linear
    interpolation.  Returns an ``(N, len(x))`` array.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    rho = np.asarray(density, dtype=float).reshape(-1)
    if x.shape != rho.shape or np.any(np.diff(x) <= 0):
        raise MMOTInputError("comotion_functions_1d needs sorted x and density values of the same length")
    F = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
    F /= F[-1]
    N = int(n_electrons)
    out = np.empty((N, x.size))
    out[0] = x
    for k in range(1, N):
        out[k] = np.interp(np.mod(F + k / N, 1.0), F, x)
    return out


def sce_value_1d(quantile: Callable[[np.ndarray], np.ndarray], n_electrons: int,
                 cost: PairCost | None = None, n_quad: int = 20000) -> float:
    """``int_0^1 sum_{i<j} c(Q(t + i/N), Q(t + j/N)) dt`` by the midpoint rule (mod 1 in ``t``).

    ``quantile`` is the quantile function of ``mu`` (vectorised on ``[0, 1)``).  The integrand is
    ``1/N``-periodic, so the rule runs on ``[0, 1/N)`` and is multiplied by ``N``.
    """
    cost = cost or Coulomb()
    N = int(n_electrons)
    t = (np.arange(n_quad) + 0.5) / (n_quad * N)
    q = np.stack([np.asarray(quantile(np.mod(t + k / N, 1.0)), dtype=float) for k in range(N)], axis=1)
    total = np.zeros(n_quad)
    for i in range(N):
        for j in range(i + 1, N):
            r = np.abs(q[:, i] - q[:, j])
            total += cost.of_distance(r)
    return float(total.mean())


def uniform_sce_value(n_electrons: int, length: float = 1.0, cost: PairCost | None = None) -> float:
    """Exact SCE value of the uniform density on an interval of ``length``.

    The cyclic quantile places the N electrons at ``L (s + m/N)``, ``m = 0..N-1``: an equispaced
    configuration, so ``V = sum_{d=1}^{N-1} (N - d) c(L d / N)`` (``2`` for N=2 and ``7.5`` for
    N=3 on ``[0, 1]`` under Coulomb).
    """
    cost = cost or Coulomb()
    N = int(n_electrons)
    d = np.arange(1, N)
    return float(np.sum((N - d) * cost.of_distance(length * d / N)))


def mean_field_value(problem: MMOTProblem, finite_part: bool = False) -> float:
    """``sum_{i<j} <mu_i, C mu_j>``: the cost of the independent (product) plan, an upper bound.

    ``inf`` under a Coulomb cost on a discrete grid (the product plan charges coincident sites).
    ``finite_part=True`` drops the infinite entries instead (a diagnostic, no longer a bound).
    """
    if not problem.is_pair_cost:
        raise MMOTInputError("the mean-field value needs a pair cost")
    N = problem.n_marginals
    total = 0.0
    if problem.is_symmetric and N > 2:   # every pair is the same term: binom(N, 2) <mu, C mu> (O(l^2), not O(N^2 l^2))
        one = mean_field_value(MMOTProblem.symmetric(problem.marginals[0], 2, problem.cost), finite_part)
        return one * math.comb(N, 2) if math.isfinite(one) else one
    for i in range(N):
        for j in range(i + 1, N):
            C = problem.pair_matrix(i, j)
            a, b = problem.marginals[i].weights, problem.marginals[j].weights
            charged = (a[:, None] > 0) & (b[None, :] > 0)
            infinite = np.isinf(C) & charged
            if np.any(infinite) and not finite_part:
                return math.inf
            total += float(a @ np.where(charged & ~infinite, C, 0.0) @ b)
    return total


class PsdBound(NamedTuple):
    """Result of :func:`psd_lower_bound`."""

    #: certified lower bound on the symmetric MMOT value (rounding errors charged)
    value: float
    #: dual potential ``u`` with ``sum_k u(x_k) <= c(x_1..x_N)`` for every tuple and ``N <u, mu> = value``
    potential: np.ndarray
    #: computed smallest eigenvalue of the pair matrix
    lambda_min: float
    #: diagonal shift ``delta >= 0`` that makes ``C + delta I`` positive semidefinite with margin
    shift: float


def psd_lower_bound(problem: MMOTProblem, C: np.ndarray | None = None) -> PsdBound | None:
    """Jensen lower bound for a positive semidefinite pair cost (soft Coulomb, Gaussian kernels).

    With occupation numbers ``n = sum_k e_{x_k}`` the cost of a tuple is
    ``1/2 n^T C n - 1/2 sum_k C_{x_k x_k}``.  If ``C + delta I`` is positive semidefinite, Jensen's
    inequality ``E[q(n)] >= q(E n)`` for the convex ``q(n) = 1/2 n^T (C + delta I) n`` and
    ``E n = N mu``, ``|n - N mu|^2 <= 2 N^2`` give, for every plan with marginals ``mu``,

    .. math::
        E\\Big[\\sum_{i<j} c(x_i, x_j)\\Big] \\ge \\tfrac12 N^2 \\mu^T C \\mu - \\tfrac N2 \\textstyle\\sum_s C_{ss}\\mu_s
        - \\delta N^2 ,

    the Hartree energy minus the self-interaction.  The same number is the dual value of the explicit
    potential ``u = N C mu - 1/2 diag C - (N mu^T C mu / 2 + delta N)``, which is dual feasible:
    ``c(x) - sum_k u(x_k) = 1/2 (n - N mu)^T (C + delta I) (n - N mu) + delta (N^2 - |n - N mu|^2 / 2) >= 0``.  The gap to the
    optimum is the expected long-range fluctuation ``E[1/2 (n - N mu)^T C (n - N mu)]`` of the optimal
    plan: small for smooth kernels whose range exceeds the electron spacing.

    ``delta = max(0, -lambda_min) + 4 l u ||C||_F`` (LAPACK's eigenvalues are exact for a matrix within
    ``p(l) u ||C||``).  Each entry of the computed ``u`` is lowered by a bound on its rounding error
    (``gamma_{l+3}`` on the terms that make it), and ``value`` is ``N <u, mu>`` correctly rounded, then
    rounded down: the bound is exactly the dual value of the returned potential.  ``C`` is the pair
    matrix if the caller has it already.

    Returns ``None`` when the bound does not apply: unequal marginals, no pair cost, an infinite pair
    cost on the grid (Coulomb), or more than :data:`PSD_BOUND_MAX_SITES` sites.
    """
    from ..certificate import EPS, exact_dot, gamma, round_down

    if not (problem.is_symmetric and problem.is_pair_cost):
        return None
    l, N = problem.sizes[0], problem.n_marginals
    if l > PSD_BOUND_MAX_SITES:
        return None
    C = np.asarray(problem.pair_matrix(0, 0) if C is None else C, dtype=float)
    if not np.all(np.isfinite(C)):
        return None
    C = 0.5 * (C + C.T)
    mu = np.asarray(problem.marginals[0].weights, dtype=float)
    lam = float(np.linalg.eigvalsh(C)[0])
    delta = max(0.0, -lam) + 4.0 * l * EPS * float(np.linalg.norm(C))
    Cmu = C @ mu
    diag = np.diag(C).copy()
    quad = float(mu @ Cmu)
    absC_mu = np.abs(C) @ mu
    u = N * Cmu - 0.5 * diag - (0.5 * N * quad + delta * N)
    # rounding of N C mu, diag/2, the constant (its quadratic form) and the sums above, entry by entry
    u -= 1.01 * gamma(l + 3) * (N * absC_mu + 0.5 * np.abs(diag) + 0.5 * N * float(mu @ absC_mu) + delta * N) \
        + 4 * EPS * np.abs(u)
    value = round_down(N * exact_dot(u, mu))
    return PsdBound(value, u, lam, delta)


def variance_lower_bound(marginal: Marginal, n_electrons: int) -> float:
    """Lower bound on the Coulomb SCE value from the variance of ``mu`` (any dimension).

    From ``sum_{i<j}|x_i - x_j|^2 <= N sum_i |x_i - m|^2`` and Jensen (``1/r`` convex, ``sqrt``
    concave): with ``P = N(N-1)/2`` pairs,

    .. math:: V \\ge P\\,\\sqrt{\\frac{N-1}{2N\\,\\mathrm{Var}\\,\\mu}}
              \\;\\ge\\; \\frac{N(N-1)}{4\\sqrt{\\mathrm{Var}\\,\\mu}}

    (equality of the two forms at ``N = 2``).
    """
    N = int(n_electrons)
    var = marginal.variance()
    if var <= 0:
        return math.inf
    P = N * (N - 1) / 2
    return P * math.sqrt((N - 1) / (2 * N * var))
