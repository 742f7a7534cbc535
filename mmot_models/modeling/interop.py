"""POT-style entry points: weight arrays plus a cost matrix or tensor, and dense plans back.

* :func:`from_pot` ``(a, b, M)``: two marginals on index sites ``0..n-1`` and ``0..m-1`` with the
  cost matrix ``M`` (what ``ot.emd(a, b, M)`` takes);
* :func:`from_cost_tensor` ``(weights_list, C)``: N marginals and a dense cost tensor of shape
  ``(l_1, ..., l_N)`` (``inf`` forbids a tuple);
* :class:`TabulatedCost`: the :class:`~mmot_models.costs.NaryCost` behind both -- the support
  points are the site indices ``0..l_k-1`` (``d = 1``) and the cost looks the tuple up in the table;
* :func:`to_dense_plan`: a solution's plan as a dense array (N = 2: the matrix ``ot.emd`` returns).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..costs import NaryCost
from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem
from ..solution import Solution

__all__ = ["TabulatedCost", "from_pot", "from_cost_tensor", "to_dense_plan"]


class _Lookup:
    """``configs (m, N, 1) -> table[i_1, ..., i_N]`` with the site indices stored as coordinates."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def __call__(self, configs: np.ndarray) -> np.ndarray:
        idx = np.rint(np.asarray(configs)[..., 0]).astype(np.int64)
        return self.table[tuple(idx.T)]


def _is_symmetric_tensor(C: np.ndarray) -> bool:
    N = C.ndim
    if len(set(C.shape)) != 1:
        return False
    return all(np.array_equal(C, np.transpose(C, p)) for p in itertools.permutations(range(N)) if p != tuple(range(N)))


@dataclass(frozen=True)
class TabulatedCost(NaryCost):
    """An N-ary cost given by a dense table over site indices (see the module docstring).

    Build it with :meth:`from_table`; ``symmetric`` is detected (table invariant under every
    permutation of its axes), which lets the symmetric formulation use it.
    """

    table: np.ndarray | None = field(default=None, repr=False)
    kind: str = field(default="tabulated", init=False)

    @classmethod
    def from_table(cls, C: np.ndarray | Sequence, name: str = "tabulated") -> "TabulatedCost":
        try:
            T = np.array(C, dtype=float)
        except (TypeError, ValueError):
            raise MMOTInputError("the cost table must be an array of numbers") from None
        if T.ndim < 2 or 0 in T.shape:
            raise MMOTInputError(f"the cost table needs at least 2 non-empty axes, got shape {T.shape}")
        if np.isnan(T).any() or np.isneginf(T).any():
            raise MMOTInputError("the cost table has NaN or -inf entries; use finite costs (+inf forbids a tuple)")
        T.setflags(write=False)
        return cls(fn=_Lookup(T), n_body=T.ndim, symmetric=_is_symmetric_tensor(T), name=name, table=T)

    def to_dict(self):
        raise MMOTInputError("a tabulated cost lives in memory only; save the table with numpy instead")


def _marginal(w: np.ndarray | Sequence, k: int) -> Marginal:
    w = np.asarray(w, dtype=float).reshape(-1)
    return Marginal(np.arange(w.size, dtype=float)[:, None], w)


def from_cost_tensor(weights: Sequence[np.ndarray | Sequence], C: np.ndarray | Sequence,
                     name: str = "tabulated") -> MMOTProblem:
    """Problem with marginals ``weights[k]`` on sites ``0..l_k-1`` and cost tensor ``C`` (shape ``(l_1..l_N)``).

    Weights must sum to 1 (within :data:`~mmot_models.problem.MASS_TOL`).  The problem works with
    ``Model(..., "primal")`` and, when all weights are equal and ``C`` is symmetric, ``"symmetric"``.
    """
    if len(weights) < 2:
        raise MMOTInputError(f"from_cost_tensor needs at least 2 weight arrays, got {len(weights)}")
    cost = TabulatedCost.from_table(C, name=name)
    shape = tuple(np.asarray(w).size for w in weights)
    if cost.table.shape != shape:
        raise MMOTInputError(f"the cost tensor has shape {cost.table.shape} but the weights give {shape}; "
                             "give one axis per marginal with one entry per site")
    margs = [_marginal(w, k) for k, w in enumerate(weights)]
    m0 = margs[0]
    margs = [m0 if m.same_as(m0) else m for m in margs]
    return MMOTProblem(tuple(margs), cost, name=name)


def from_pot(a: np.ndarray | Sequence, b: np.ndarray | Sequence, M: np.ndarray | Sequence,
             name: str = "pot") -> MMOTProblem:
    """The two-marginal problem of ``ot.emd(a, b, M)``: weights ``a`` (n), ``b`` (m), cost matrix ``M`` (n x m)."""
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise MMOTInputError(f"M must be an n x m cost matrix, got shape {M.shape}")
    return from_cost_tensor([a, b], M, name=name)


def to_dense_plan(sol: Solution) -> np.ndarray:
    """The plan of ``sol`` as a dense array of shape ``(l_1, ..., l_N)`` (N = 2: ``ot.emd``'s matrix)."""
    if sol.plan_weights is None or sol.problem is None:
        raise MMOTInputError(f"this solution ({sol.method}, {sol.status.value}) carries no plan")
    out = np.zeros(sol.problem.sizes)
    np.add.at(out, tuple(sol.plan_indices.T), sol.plan_weights)
    return out
