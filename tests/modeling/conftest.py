"""Small problems for the modelling-layer tests and an independent dense-LP reference."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

import mmot_models as mm

#: Sites per marginal in the backend-agreement tests (N = 4 primal: 6^4 = 1296 columns).
L_SITES = 6
#: Soft-Coulomb regularisation of the test cost.
SOFT_A = 0.5
#: Distance below which a pair counts as "close" in the user row.
CLOSE = 1.0


def soft_coulomb(x: float, y: float) -> float:
    return 1.0 / np.sqrt((x - y) ** 2 + SOFT_A ** 2)


def close_pairs(P: np.ndarray) -> np.ndarray:
    """Symmetric test function: fraction of the N(N-1)/2 pairs closer than CLOSE; P is (K, N, d)."""
    N = P.shape[1]
    tot = np.zeros(P.shape[0])
    for i in range(N):
        for j in range(i + 1, N):
            tot += np.abs(P[:, i, 0] - P[:, j, 0]) < CLOSE
    return tot / (N * (N - 1) / 2)


def close_pairs_scalar(xs: tuple[float, ...]) -> float:
    pairs = list(itertools.combinations(xs, 2))
    return sum(abs(a - b) < CLOSE for a, b in pairs) / len(pairs)


def symmetric_problem(N: int) -> mm.MMOTProblem:
    pts = np.linspace(-2.0, 2.0, L_SITES)
    w = np.exp(-0.5 * pts ** 2)
    return mm.MMOTProblem.symmetric(mm.Marginal(pts, w / w.sum()), N, mm.SoftCoulomb(SOFT_A))


def dense_reference(problem: mm.MMOTProblem, rows: list[tuple[callable, float, float]] = ()) -> float:
    """Optimum of the full-tensor LP assembled here with Python loops and solved by scipy's linprog.

    ``rows`` are ``(g, lower, upper)`` with ``g`` a function of the tuple of 1D points.
    """
    sizes = problem.sizes
    tuples = list(itertools.product(*[range(s) for s in sizes]))
    pts = [m.points[:, 0] for m in problem.marginals]
    cost = np.array([sum(soft_coulomb(pts[i][t[i]], pts[j][t[j]])
                         for i in range(len(t)) for j in range(i + 1, len(t))) for t in tuples])
    A_eq, b_eq = [], []
    for k, m in enumerate(problem.marginals):
        for s in range(m.size):
            A_eq.append([1.0 if t[k] == s else 0.0 for t in tuples])
            b_eq.append(float(m.weights[s]))
    A_ub, b_ub = [], []
    for g, lo, up in rows:
        coef = [g(tuple(pts[k][t[k]] for k in range(len(t)))) for t in tuples]
        if np.isfinite(up):
            A_ub.append(coef)
            b_ub.append(up)
        if np.isfinite(lo):
            A_ub.append([-v for v in coef])
            b_ub.append(-lo)
    r = linprog(cost, A_ub=A_ub or None, b_ub=b_ub or None, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    assert r.status == 0, r.message
    return float(r.fun)


@pytest.fixture(scope="session")
def problems() -> dict[int, mm.MMOTProblem]:
    return {N: symmetric_problem(N) for N in (2, 3, 4)}
