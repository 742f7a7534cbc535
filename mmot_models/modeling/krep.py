r"""k-representability cuts as a model block (on ``formulation="krep"``).

A ``Model(problem, "krep", k=k)`` optimises over k-body plans: its pair density is
k-representable, which for ``k < N`` is weaker than N-representable (a lower bound).  The
bipartition inequalities of :mod:`mmot_models.formulations.krep` hold for every
K-representable pair density (``K <= N``):

.. math::
    s^T P s \;\ge\; \frac{(K \bmod 2) - K}{K (K-1)} \qquad s \in \{+1, -1\}^l,

so :class:`KRepresentabilityCuts` with ``k = K`` (``model k < K <= N``) tightens the lower bound
while keeping it a lower bound of the N-marginal optimum.  On ``"symmetric"``/``"primal"`` (an N-body
plan) and on ``"krep"`` with ``k >= K`` the inequalities hold already: the block is refused there,
naming what works.  Rows are static (all bipartitions of the sites for small grids, or the sign
vectors given); the cutting-plane loop of ``mm.solve(problem, method="krep", cuts=...)`` separates
them instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MMOTInputError
from ..formulations.krep import bipartition_rhs, bipartition_rows
from .blocks import Block, RowBlock

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["KRepresentabilityCuts", "MAX_ALL_SIGNS_SITES", "all_bipartitions", "interval_bipartitions"]

#: Largest grid for which ``signs=None`` enumerates every bipartition (2^(l-1) - 1 rows).
MAX_ALL_SIGNS_SITES = 12


def all_bipartitions(l: int) -> np.ndarray:
    """Every sign vector with ``s_0 = +1`` except the all-``+1`` one, shape ``(2^(l-1) - 1, l)``."""
    bits = (np.arange(1, 2 ** (l - 1))[:, None] >> np.arange(l - 1)[None, :]) & 1
    return np.concatenate([np.ones((bits.shape[0], 1)), 1.0 - 2.0 * bits], axis=1)


def interval_bipartitions(l: int) -> np.ndarray:
    """Sign vectors ``+1`` on a run of consecutive sites ``a..b-1`` and ``-1`` elsewhere (proper runs only).

    Each bipartition once (``s_0 = +1``): ``l (l - 1) / 2`` cuts instead of ``2^(l-1) - 1``; on a 1D grid the separating bipartitions of
    the cutting-plane solver are mostly of this form.  Valid cuts on any grid (only tightness depends
    on the geometry).
    """
    l = int(l)
    a, b = np.triu_indices(l + 1, 1)                   # 0 <= a < b <= l
    keep = (b - a) < l
    a, b = a[keep], b[keep]
    site = np.arange(l)
    S = np.where((site[None, :] >= a[:, None]) & (site[None, :] < b[:, None]), 1.0, -1.0)
    S *= S[:, :1]                                      # s and -s are one cut: keep s_0 = +1, drop repeats
    return np.unique(S, axis=0)[::-1]


@dataclass(eq=False)
class KRepresentabilityCuts(Block):
    """Bipartition cuts ``s^T P s >= ((k mod 2) - k)/(k(k-1))``: the pair density is k-representable.

    Parameters
    ----------
    k : int
        Order of the cuts (``3 <= k <= N``, larger than the model's own ``k``).
    signs : array of shape (r, l) with entries +-1, optional
        The bipartitions (default: all of them, for grids of at most :data:`MAX_ALL_SIGNS_SITES` sites;
        :func:`interval_bipartitions` for larger 1D grids).
    name : str
        Block name (labels: the row number ``r``).
    """

    k: int = 3
    signs: np.ndarray | None = None
    name: str = "krep_cuts"
    formulations: tuple[str, ...] = ("krep",)

    def check(self, model: "Model") -> None:
        if model.formulation != "krep":
            raise MMOTInputError(
                f"KRepresentabilityCuts do not apply to formulation {model.formulation!r}: an N-body plan satisfies "
                "them already; use Model(problem, formulation='krep', k=2) (k < N) and add the cuts there")
        N = model.problem.n_marginals
        K = self.k
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not 3 <= K <= N:
            raise MMOTInputError(f"KRepresentabilityCuts need an integer order 3 <= k <= N={N}, got k={K!r}")
        if model.k >= K:
            raise MMOTInputError(f"the model's k={model.k}-body plan satisfies order-{K} cuts already; use "
                                 f"Model(..., 'krep', k={K - 1}) or lower, or cuts of order > {model.k}")
        l = model.problem.sizes[0]
        if self.signs is None:
            if l > MAX_ALL_SIGNS_SITES:
                raise MMOTInputError(f"all {2 ** (l - 1) - 1} bipartitions of {l} sites are too many rows; pass "
                                     f"signs=interval_bipartitions({l}) or another (r, {l}) array of +-1, or use "
                                     f"mm.solve(problem, method='krep', cuts={K}) (cutting planes)")
        else:
            S = np.asarray(self.signs, dtype=float)
            if S.ndim != 2 or S.shape[1] != l or not np.all(np.abs(S) == 1.0):
                raise MMOTInputError(f"KRepresentabilityCuts signs must be an (r, {l}) array of +1/-1")

    def rows(self, model: "Model") -> RowBlock:
        l = model.problem.sizes[0]
        S = all_bipartitions(l) if self.signs is None else np.asarray(self.signs, dtype=float)
        A = bipartition_rows(model.columns, S)
        r = A.shape[0]
        return RowBlock(A, np.full(r, bipartition_rhs(self.k)), np.full(r, math.inf), list(range(r)))
