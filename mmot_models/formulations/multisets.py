"""Multisets (occupation numbers) of N sites out of l: the combinatorics behind every symmetric
formulation (the symmetric multiset LP, k-representability, relaxed costs).

A multiset is stored as a sorted index row ``i_1 <= i_2 <= ... <= i_N`` (strictly increasing when
``distinct=True``, the only configurations of finite Coulomb cost).  Enumeration is vectorised level
by level (a loop over the N coordinates, never over multisets) and can be chunked by the first index
to bound memory.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError

__all__ = ["multiset_count", "multisets", "iter_multisets", "occupation_matrix", "multiset_pair_costs"]


def multiset_count(l: int, n: int, distinct: bool = False) -> int:
    """Number of multisets of size ``n`` from ``l`` sites (``C(l+n-1, n)``; ``C(l, n)`` if distinct)."""
    return math.comb(l, n) if distinct else math.comb(l + n - 1, n)


def _extend(rows: np.ndarray, l: int, distinct: bool) -> np.ndarray:
    """Append one coordinate ``j >= last`` (``> last`` if distinct) to every row, vectorised."""
    last = rows[:, -1]
    start = last + 1 if distinct else last
    counts = np.maximum(l - start, 0)
    total = int(counts.sum())
    rep = np.repeat(np.arange(rows.shape[0]), counts)
    # position within each row's block: arange(total) - block start
    block_start = np.repeat(np.cumsum(counts) - counts, counts)
    new = start[rep] + (np.arange(total) - block_start)
    return np.concatenate([rows[rep], new[:, None]], axis=1)


def multisets(l: int, n: int, distinct: bool = False, first: np.ndarray | None = None) -> np.ndarray:
    """All multisets as an ``(M, n)`` int array in lexicographic order.

    ``first`` restricts the first (smallest) index to the given values (used for chunking).
    """
    if l < 1 or n < 1:
        raise MMOTInputError(f"multisets need l >= 1 and n >= 1, got l={l}, n={n}")
    dtype = np.int32 if l < 2**31 - 1 else np.int64
    rows = (np.arange(l, dtype=dtype) if first is None else np.asarray(first, dtype=dtype))[:, None]
    for _ in range(n - 1):
        rows = _extend(rows, l, distinct)
    return rows


def iter_multisets(l: int, n: int, distinct: bool = False, max_rows: int = 2_000_000) -> Iterator[np.ndarray]:
    """Yield the multisets in chunks of at most about ``max_rows`` rows (grouped by first index).

    A single first index whose block exceeds ``max_rows`` is yielded as one chunk.
    """
    # rows with first index i: multisets of size n-1 from {i..l-1} (or {i+1..l-1} if distinct)
    firsts = np.arange(l)
    remaining = l - firsts - (1 if distinct else 0)
    sizes = np.array([multiset_count(int(r), n - 1, distinct) if r > 0 else (1 if n == 1 else 0)
                      for r in remaining], dtype=float) if n > 1 else np.ones(l)
    start = 0
    while start < l:
        stop = start + 1
        acc = sizes[start]
        while stop < l and acc + sizes[stop] <= max_rows:
            acc += sizes[stop]
            stop += 1
        if acc > 0:
            yield multisets(l, n, distinct, first=firsts[start:stop])
        start = stop


def occupation_matrix(ms: np.ndarray, l: int) -> sp.csc_matrix:
    """``(l, M)`` sparse matrix of occupation numbers ``n_s(m)`` (column m counts each site of m)."""
    M, n = ms.shape
    cols = np.repeat(np.arange(M), n)
    A = sp.csc_matrix((np.ones(M * n), (ms.reshape(-1), cols)), shape=(l, M))
    A.sum_duplicates()
    return A


def multiset_pair_costs(C: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """``sum_{a<b} C[m_a, m_b]`` for each multiset row of ``ms`` (pair-cost matrix ``C``)."""
    n = ms.shape[1]
    out = np.zeros(ms.shape[0])
    for a in range(n):
        for b in range(a + 1, n):
            out += C[ms[:, a], ms[:, b]]
    return out
