"""Row blocks a :class:`~mmot_models.modeling.Model` can carry on top of its base formulation.

A block turns the model's columns into rows ``lower <= A x <= upper`` with a label per row
(:class:`RowBlock`).  The base formulation contributes the ``"marginal"`` block; users add

* :class:`UserRows` -- what :meth:`Model.add_constraint` collects (one row per constraint);
* :class:`MomentRows` -- ``E_plan[phi_j(x_k)] = E_{mu_k}[phi_j]`` for a test-function family
  (:mod:`mmot_models.moment_functions`, e.g. ``"hats:20"``);
* :class:`OccupationBounds` -- an upper bound on the plan mass of configurations with at least
  ``count`` of the N points in a site set (e.g. "two electrons in this region");
* :class:`~mmot_models.modeling.krep.KRepresentabilityCuts` -- bipartition cuts on the pair
  density of a ``formulation="krep"`` model (in :mod:`mmot_models.modeling.krep`).

Which block applies to which formulation is ``Block.formulations``; :meth:`Block.check` names the
formulations that would work.

Every block is built with numpy index arithmetic: no Python loop over columns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..moment_functions import TestFamily, family_from_spec, moments_of
from .expr import Constraint

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["RowBlock", "Block", "UserRows", "MomentRows", "OccupationBounds", "hats"]


def hats(n_cells: int) -> str:
    """Spec of ``n_cells + 1`` hat functions on each marginal's bounding box (``MomentRows(hats(20))``)."""
    if int(n_cells) != n_cells or n_cells < 1:
        raise MMOTInputError(f"hats needs a positive number of cells, got {n_cells}")
    return f"hats:{int(n_cells)}"


@dataclass(frozen=True, eq=False)
class RowBlock:
    """Rows ``lower <= A x <= upper`` of one block, ``A`` a CSR matrix over the model's columns."""

    A: sp.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    labels: list[Hashable]

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])


class Block:
    """Base class: a named group of rows.  Subclasses implement :meth:`rows`."""

    name: str = "block"
    #: formulations the block applies to
    formulations: tuple[str, ...] = ("primal", "symmetric", "krep", "moments")

    def check(self, model: "Model") -> None:
        """Raise :class:`MMOTInputError` if the block does not apply to ``model``."""
        if model.formulation not in self.formulations:
            raise MMOTInputError(
                f"block {type(self).__name__} does not apply to formulation {model.formulation!r}; "
                f"use formulation={' or '.join(map(repr, self.formulations))}")

    def rows(self, model: "Model") -> RowBlock:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(eq=False)
class UserRows(Block):
    """Constraints built from linear expressions (``m.plan.expectation(f) <= t``), one row each.

    Labels are the names given to :meth:`Model.add_constraint` or the running row number.
    """

    constraints: list[Constraint] = field(default_factory=list)
    labels: list[Hashable] = field(default_factory=list)
    name: str = "user"

    def append(self, con: Constraint, label: Hashable | None = None) -> Hashable:
        if not isinstance(con, Constraint):
            raise MMOTInputError(f"add_constraint needs a comparison of model expressions (expr <= t), "
                                 f"got {type(con).__name__}")
        label = len(self.constraints) if label is None else label
        if label in self.labels:
            raise MMOTInputError(f"a user row named {label!r} exists already; choose another name")
        self.constraints.append(con)
        self.labels.append(label)
        return label

    def rows(self, model: "Model") -> RowBlock:
        n = model.n_cols
        for con in self.constraints:
            if con.owner != model.token or con.coef.shape != (n,):
                raise MMOTInputError("a constraint refers to variables of another model; "
                                     "build it from this model's m.plan")
        if not self.constraints:
            return RowBlock(sp.csr_matrix((0, n)), np.empty(0), np.empty(0), [])
        nz = [np.flatnonzero(c.coef) for c in self.constraints]
        indptr = np.concatenate([[0], np.cumsum([z.size for z in nz])])
        A = sp.csr_matrix((np.concatenate([c.coef[z] for c, z in zip(self.constraints, nz)]), np.concatenate(nz),
                           indptr), shape=(len(self.constraints), n))
        lo = np.array([c.lower for c in self.constraints], dtype=float)
        up = np.array([c.upper for c in self.constraints], dtype=float)
        return RowBlock(A, lo, up, list(self.labels))


@dataclass(eq=False)
class MomentRows(Block):
    """Moment rows ``E_plan[phi_j(x_k)] = E_{mu_k}[phi_j]`` for each function ``phi_j`` of a family.

    Parameters
    ----------
    functions : TestFamily or str
        A family from :mod:`mmot_models.moment_functions` or a spec such as ``"hats:20"`` (built
        on the bounding box of the marginal's points).
    marginals : sequence of int or None
        Which marginals ``k`` get rows (default: all).  The symmetric formulation has one shared
        marginal: only ``None`` (one row per function) applies there.
    name : str
        Block name (labels are ``(k, j)``; ``j`` for the symmetric formulation).

    Notes
    -----
    With the marginal rows present these rows are implied (a consistency check that every
    backend must respect); they are the constraints of ``formulation="moments"`` (no marginal
    rows: moment-constrained OT on the grid configurations, a lower bound).
    """

    functions: TestFamily | str
    marginals: Sequence[int] | None = None
    name: str = "moment"

    def check(self, model: "Model") -> None:
        super().check(model)
        if model.multiset_columns and self.marginals is not None:
            raise MMOTInputError(
                f"the {model.formulation} formulation has one shared marginal: use MomentRows(..., marginals=None) "
                "or formulation='primal' (or 'moments') for per-marginal moment rows")
        if self.marginals is not None:
            bad = [k for k in self.marginals if not (0 <= int(k) < model.problem.n_marginals)]
            if bad:
                raise MMOTInputError(f"MomentRows marginals {bad} do not exist; use 0..{model.problem.n_marginals - 1}")

    def _family(self, model: "Model", k: int) -> TestFamily:
        pts = model.problem.marginals[k].points
        fam = family_from_spec(self.functions, pts.min(axis=0), pts.max(axis=0), sites=pts)
        if fam.dim != model.problem.dim:
            raise MMOTInputError(f"the test functions live in dimension {fam.dim} but the problem in "
                                 f"{model.problem.dim}; build the family for d={model.problem.dim}")
        return fam

    def rows(self, model: "Model") -> RowBlock:
        prob = model.problem
        mats, rhs, labels = [], [], []
        ks = range(prob.n_marginals) if self.marginals is None else [int(k) for k in self.marginals]
        if model.multiset_columns:
            ks = [0]
        for k in ks:
            fam = self._family(model, k)
            phi = fam.evaluate_sparse(prob.marginals[k].points).tocsc()   # (l_k, J)
            target = moments_of(fam, prob.marginals[k])
            if model.multiset_columns:
                # E_sym[phi(x_1)] = (1/N) sum_s n_s(m) phi(x_s):  Phi^T Occ / N  (k bodies for krep)
                block = (phi.T @ model.occupation) / model.bodies
                labels += list(range(phi.shape[1]))
            else:
                sel = sp.csr_matrix((np.ones(model.n_cols), (model.columns[:, k], np.arange(model.n_cols))),
                                    shape=(phi.shape[0], model.n_cols))
                block = phi.T @ sel
                labels += [(k, j) for j in range(phi.shape[1])]
            mats.append(sp.csr_matrix(block))
            rhs.append(target)
        A = sp.vstack(mats, format="csr")
        b = np.concatenate(rhs)
        return RowBlock(A, b, b.copy(), labels)


@dataclass(eq=False)
class OccupationBounds(Block):
    """``P_plan[#{i : x_i in S} >= count] <= upper`` for a site set ``S`` (one row).

    Parameters
    ----------
    sites : sequence of int
        Site indices of ``S`` (indices into the points of each marginal).
    upper : float
        Largest plan mass of configurations with at least ``count`` points in ``S``.
    count : int
        Occupation threshold (default 2: "two particles in S").
    """

    sites: Sequence[int]
    upper: float
    count: int = 2
    name: str = "occupation"
    #: a count among the k points of a k-body plan is no count among N points: not on ``krep``
    formulations: tuple[str, ...] = ("primal", "symmetric", "moments")

    def check(self, model: "Model") -> None:
        super().check(model)
        s = np.asarray(self.sites, dtype=int).reshape(-1)
        lmin = min(model.problem.sizes)
        if s.size == 0 or s.min() < 0 or s.max() >= lmin:
            raise MMOTInputError(f"OccupationBounds sites must be indices in 0..{lmin - 1}, got {list(self.sites)}")
        if not (1 <= int(self.count) <= model.problem.n_marginals):
            raise MMOTInputError(f"OccupationBounds count must be in 1..{model.problem.n_marginals}, got {self.count}")
        if not math.isfinite(float(self.upper)):
            raise MMOTInputError("OccupationBounds upper must be a finite number")

    def rows(self, model: "Model") -> RowBlock:
        s = np.asarray(self.sites, dtype=int).reshape(-1)
        inside = np.isin(model.columns, s).sum(axis=1) >= int(self.count)
        cols = np.flatnonzero(inside)
        A = sp.csr_matrix((np.ones(cols.size), (np.zeros(cols.size, dtype=int), cols)), shape=(1, model.n_cols))
        return RowBlock(A, np.array([-math.inf]), np.array([float(self.upper)]), [0])
