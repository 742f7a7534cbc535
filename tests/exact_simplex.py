"""An exact rational simplex (independent reference for certificate tests).

Dense tableau over :class:`fractions.Fraction`, two phases, Bland's rule (no cycling), for
``min c^T x  s.t.  A x = b, x >= 0``.  Tiny LPs only (tens of rows and columns).
"""
from __future__ import annotations

from fractions import Fraction


def _pivot(T: list[list[Fraction]], basis: list[int], r: int, j: int) -> None:
    piv = T[r][j]
    T[r] = [v / piv for v in T[r]]
    for i, row in enumerate(T):
        if i != r and row[j] != 0:
            f = row[j]
            T[i] = [a - f * b for a, b in zip(row, T[r])]
    basis[r] = j


def _simplex(T: list[list[Fraction]], basis: list[int], cost: list[Fraction], allowed: int) -> None:
    """Bland's-rule simplex on tableau ``T`` (last column = rhs) over columns ``< allowed``."""
    while True:
        cb = [cost[b] for b in basis]
        enter = -1
        for j in range(allowed):
            if j in basis:
                continue
            rc = cost[j] - sum((cb[i] * T[i][j] for i in range(len(T)) if T[i][j] != 0), Fraction(0))
            if rc < 0:
                enter = j
                break
        if enter < 0:
            return
        best = None
        for i, row in enumerate(T):
            if row[enter] > 0:
                ratio = row[-1] / row[enter]
                if best is None or ratio < best[0] or (ratio == best[0] and basis[i] < basis[best[1]]):
                    best = (ratio, i)
        if best is None:
            raise ValueError("unbounded LP")
        _pivot(T, basis, best[1], enter)


def exact_lp_min(c: list[Fraction], A: list[list[Fraction]], b: list[Fraction]) -> Fraction:
    """Exact optimum of ``min c^T x, A x = b, x >= 0`` (raises ``ValueError`` if infeasible/unbounded)."""
    m, n = len(A), len(c)
    T = []
    for i in range(m):
        sign = -1 if b[i] < 0 else 1
        T.append([sign * a for a in A[i]] + [Fraction(int(k == i)) for k in range(m)] + [sign * b[i]])
    basis = [n + i for i in range(m)]
    _simplex(T, basis, [Fraction(0)] * n + [Fraction(1)] * m, n + m)  # phase I
    if sum((T[i][-1] for i in range(m) if basis[i] >= n), Fraction(0)) != 0:
        raise ValueError("infeasible LP")
    for i in range(m - 1, -1, -1):  # drive zero artificials out; drop redundant rows
        if basis[i] >= n:
            j = next((j for j in range(n) if T[i][j] != 0), None)
            if j is None:
                del T[i], basis[i]
            else:
                _pivot(T, basis, i, j)
    _simplex(T, basis, list(c) + [Fraction(0)] * m, n)  # phase II
    return sum((c[basis[i]] * T[i][-1] for i in range(len(T))), Fraction(0))
