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
    # Python ints: block sizes can exceed the float range (only the grouping compares them)
    sizes = ([multiset_count(int(r), n - 1, distinct) if r > 0 else (1 if n == 1 else 0) for r in remaining]
             if n > 1 else [1] * l)
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


#: Rows per block of the occupation-number evaluation of :func:`multiset_pair_costs` (x l floats).
_PAIR_COST_BLOCK_ENTRIES = 4_000_000


def multiset_pair_costs(C: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """``sum_{a<b} C[m_a, m_b]`` for each multiset row of ``ms`` (pair-cost matrix ``C``).

    Small ``N``: a loop over the ``N(N-1)/2`` index pairs.  Large ``N`` (more pairs than ``l`` times
    the distinct sites a row can hold) uses occupation numbers ``n_s``:
    ``sum_{s<t} n_s n_t C_st + sum_s n_s (n_s - 1)/2 C_ss``, in row blocks -- ``O(M l^2)``
    instead of ``O(M N^2)``.
    """
    ms = np.asarray(ms)
    M, n = ms.shape
    l = int(C.shape[0])
    diag = np.diag(C).copy()
    off = C.copy()
    np.fill_diagonal(off, 0.0)
    if n * (n - 1) // 2 <= l * min(n, l) or not np.all(np.isfinite(off)):
        out = np.zeros(M)
        for a in range(n):
            for b in range(a + 1, n):
                out += C[ms[:, a], ms[:, b]]
        return out
    out = np.empty(M)
    block = max(1, _PAIR_COST_BLOCK_ENTRIES // max(l, 1))
    for start in range(0, M, block):
        rows = ms[start:start + block]
        k = rows.shape[0]
        counts = np.bincount((np.arange(k)[:, None] * l + rows).ravel(), minlength=k * l).reshape(k, l).astype(float)
        val = 0.5 * np.einsum("ij,ij->i", counts @ off, counts)
        pairs_same = counts * (counts - 1.0) / 2.0
        hit = pairs_same > 0
        if hit.any():   # only sites occupied twice or more pay the diagonal (never 0 * inf)
            val = val + np.where(hit, pairs_same * np.where(hit, diag[None, :], 0.0), 0.0).sum(axis=1)
        out[start:start + k] = val
    return out
