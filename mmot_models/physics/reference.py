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
from typing import Callable

import numpy as np

from ..costs import Coulomb, PairCost
from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem

__all__ = [
    "cyclic_quantile_plan", "comotion_functions_1d", "sce_value_1d", "mean_field_value",
    "variance_lower_bound", "uniform_sce_value",
]


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
