"""The two-site model of Friesecke, Mendl, Pass, Cotar, Klueppelberg: closed-form k-representable optimum.

Two sites A, B with ``c(A,A) = c(B,B) = U_diag > c(A,B) = U_AB`` and ``mu = (1-t) delta_A + t delta_B``.
A symmetric k-body plan is a law of ``n`` (particles on A), ``E[n] = k(1-t)``; its pair density has
off-diagonal mass ``E[2 n (k-n)] / (k(k-1))``, so the cost per pair is

.. math::
    U_{diag} - (U_{diag} - U_{AB})\\,\\frac{2\\,\\max E[n(k-n)]}{k(k-1)}.

``f(n) = n(k-n)`` is concave, so the maximum of ``E f(n)`` at fixed mean ``m = k(1-t)`` is attained by
the law on the two integers next to ``m`` (Jensen for the piecewise-linear interpolant of ``f``):
``(1-theta) f(floor m) + theta f(floor m + 1)``, ``theta = m - floor m``.  As ``k -> infinity`` the
cost per pair tends to the mean-field value ``U_diag((1-t)^2 + t^2) + 2 t(1-t) U_AB``.
"""
from __future__ import annotations

import math

import numpy as np

from ..costs import CallablePairCost
from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem

__all__ = ["two_site_problem", "two_site_krep_per_pair", "two_site_krep_value", "two_site_mean_field_per_pair",
           "two_site_optimal_occupation"]


def _check(t: float, u_diag: float, u_ab: float) -> None:
    if not 0.0 <= t <= 1.0:
        raise MMOTInputError(f"two-site model needs 0 <= t <= 1, got t={t}")
    if not u_diag > u_ab:
        raise MMOTInputError(f"two-site model needs U_diag > U_AB, got {u_diag} <= {u_ab}")


def two_site_problem(t: float, n_particles: int, u_diag: float = 1.0, u_ab: float = 0.5) -> MMOTProblem:
    """The two-site model as an :class:`MMOTProblem` (sites at 0 = A and 1 = B, weights ``(1-t, t)``)."""
    _check(t, u_diag, u_ab)

    def fn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        same = np.abs(x[:, None, 0] - y[None, :, 0]) < 0.5
        return np.where(same, float(u_diag), float(u_ab))

    cost = CallablePairCost(fn=fn, name=f"two-site(U_diag={u_diag}, U_AB={u_ab})")
    return MMOTProblem.symmetric(Marginal(np.array([[0.0], [1.0]]), np.array([1.0 - t, t])), n_particles, cost,
                                 name=f"two-site-t{t:g}-N{n_particles}")


def two_site_optimal_occupation(k: int, t: float) -> tuple[tuple[int, float], tuple[int, float]]:
    """The optimal law of ``n_A``: ``((n0, 1 - theta), (n0 + 1, theta))`` with ``n0 = floor(k(1-t))``."""
    m = k * (1.0 - t)
    n0 = min(int(math.floor(m + 1e-12)), k)
    theta = max(0.0, m - n0)
    return (n0, 1.0 - theta), (n0 + 1, theta)


def two_site_krep_per_pair(k: int, t: float, u_diag: float = 1.0, u_ab: float = 0.5) -> float:
    """Closed-form minimal pair cost over k-representable pair densities with marginal ``(1-t, t)``."""
    _check(t, u_diag, u_ab)
    if int(k) != k or k < 2:
        raise MMOTInputError(f"k must be an integer >= 2, got {k}")
    (n0, p0), (n1, p1) = two_site_optimal_occupation(int(k), t)
    f = lambda n: n * (k - n)  # noqa: E731
    best = p0 * f(n0) + (p1 * f(n1) if p1 > 0 else 0.0)
    off = 2.0 * best / (k * (k - 1))
    return u_diag - (u_diag - u_ab) * off


def two_site_krep_value(k: int, t: float, n_particles: int, u_diag: float = 1.0, u_ab: float = 0.5) -> float:
    """``binom(N, 2)`` times :func:`two_site_krep_per_pair` (the scale of ``solve(..., method="krep")``)."""
    return math.comb(int(n_particles), 2) * two_site_krep_per_pair(k, t, u_diag, u_ab)


def two_site_mean_field_per_pair(t: float, u_diag: float = 1.0, u_ab: float = 0.5) -> float:
    """``k -> infinity`` limit: ``U_diag((1-t)^2 + t^2) + 2t(1-t) U_AB``."""
    _check(t, u_diag, u_ab)
    return u_diag * ((1 - t) ** 2 + t ** 2) + 2 * t * (1 - t) * u_ab
