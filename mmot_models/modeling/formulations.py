r"""The base formulations a :class:`~mmot_models.modeling.Model` can start from, and their bound direction.

| formulation | columns | base rows | value vs. the MMOT optimum |
|---|---|---|---|
| ``primal`` | index tuples ``(i_1, ..., i_N)`` | marginal ``(k, i)`` | exact |
| ``symmetric`` | sorted N-multisets of sites | marginal ``i`` | exact |
| ``krep`` | sorted k-multisets of sites (k-body plan) | marginal ``i`` | lower (k < N), exact (k = N), upper (k > N) |
| ``moments`` | index tuples ``(i_1, ..., i_N)`` | mass ``0`` | lower (a relaxation) |

``krep`` is the k-representability LP of :class:`~mmot_models.formulations.krep.KRepresentability`
(Friesecke et al. 2013): a symmetric k-body plan ``w`` on k-multisets with one-body marginal
``mu`` (rows ``sum_m n_s(m) w_m = k mu_s``) and cost ``binom(N,2)/binom(k,2) sum_{i<j} c(m_i, m_j)``,
so its value ``V_k`` is on the N-marginal scale and ``V_2 <= ... <= V_N = exact <= V_{N+1} <= ...``.

``moments`` keeps the primal tuples but replaces the marginal rows by the single mass row
``sum_t x_t = 1``; the rows that pin the plan down are the blocks the user adds
(:class:`~mmot_models.modeling.MomentRows`, the moment-constrained OT of
:mod:`mmot_models.formulations.moments` on the grid configurations; also user rows and occupation
bounds).  Every plan that meets the marginals meets the moment rows, so the value is a lower bound
of the MMOT optimum (with the same added rows).

Each model's *own* LP keeps the full certificate (:mod:`mmot_models.modeling.certify`: lower
bound from the duals of every row, upper bound from a plan checked against every row, status
``optimal`` only on a closed bracket).  For ``krep`` with ``k != N`` and ``moments`` the model
then reports the *direction* (:func:`finish_solution`): ``sol.bound`` is ``LOWER`` or ``UPPER``,
``sol.lower_bound``/``sol.upper_bound`` bracket the exact MMOT value (one side infinite), and
``sol.info["lp_lower"]``/``sol.info["lp_upper"]`` hold the closed bracket of the relaxation's LP.

``dual`` is not a model formulation: blocks are rows of the plan LP, and on the Kantorovich dual
they would be *columns* (new dual variables entering every tuple's constraint), so every block
would need a second implementation.  The dual of each model is read from the row duals instead
(``sol.info["row_duals"]``, ``sol.potentials``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Hashable

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..formulations.kantorovich import KantorovichPrimal
from ..formulations.krep import KRepresentability, pair_density_of_plan
from ..formulations.standard_lp import LPResult, StandardLP
from ..formulations.symmetric import SymmetricPrimal
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status
from .certify import implied_column_upper

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["FORMULATIONS", "EXACT_FORMULATIONS", "BaseFormulation", "build_base", "direction_of",
           "assemble", "finish_solution"]

#: Every formulation :class:`~mmot_models.modeling.Model` accepts.
FORMULATIONS = ("primal", "symmetric", "krep", "moments")
#: Formulations whose optimum is the MMOT optimum (with the same added rows).
EXACT_FORMULATIONS = ("primal", "symmetric")


@dataclass(frozen=True)
class BaseFormulation:
    """What a formulation contributes to a model: the base LP, its columns and its row block."""

    lp: StandardLP
    columns: np.ndarray
    block_name: str
    labels: list[Hashable]
    multiset: bool          #: columns are sorted multisets (symmetric plan) rather than ordered tuples
    bodies: int             #: points per column (N; k for ``krep``)
    k: int | None = None


def build_base(problem: MMOTProblem, formulation: str, k: int | None,
               memory_limit_bytes: int | None) -> BaseFormulation:
    """Build the base LP of ``formulation`` (see the module docstring); bad input is an :class:`MMOTInputError`."""
    if formulation not in FORMULATIONS:
        raise MMOTInputError(f"unknown formulation {formulation!r}; choose one of {', '.join(FORMULATIONS)} "
                             "('dual' is not a model formulation: read the duals from sol.info['row_duals'])")
    if formulation != "krep" and k is not None:
        raise MMOTInputError(f"k applies to formulation='krep' only (got formulation={formulation!r}); drop k")
    N = problem.n_marginals
    if formulation == "symmetric":
        if not problem.is_symmetric:
            raise MMOTInputError("formulation='symmetric' needs N identical marginals and a symmetric cost; "
                                 "use formulation='primal' for this problem")
        lp = SymmetricPrimal().build(problem, memory_limit_bytes=memory_limit_bytes)
        return BaseFormulation(lp, lp.meta["multisets"], "marginal", list(range(problem.sizes[0])), True, N)
    if formulation == "primal":
        lp = KantorovichPrimal().build(problem, memory_limit_bytes=memory_limit_bytes)
        labels = [(kk, i) for kk, l in enumerate(problem.sizes) for i in range(l)]
        return BaseFormulation(lp, lp.meta["tuples"], "marginal", labels, False, N)
    if formulation == "krep":
        if k is None:
            raise MMOTInputError("formulation='krep' needs k (bodies of the representing plan, k >= 2): "
                                 "Model(problem, 'krep', k=3)")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise MMOTInputError(f"k must be an integer >= 2, got {k!r}")
        if not problem.is_symmetric or not problem.is_pair_cost:
            raise MMOTInputError("formulation='krep' needs N identical marginals and a pair cost; "
                                 "use formulation='primal' for this problem")
        lp = KRepresentability(int(k)).build(problem, memory_limit_bytes=memory_limit_bytes)
        return BaseFormulation(lp, lp.meta["multisets"], "marginal", list(range(problem.sizes[0])), True,
                               int(k), int(k))
    # moments: the primal tuples, one mass row
    prim = KantorovichPrimal().build(problem, memory_limit_bytes=memory_limit_bytes)
    n = prim.n_cols
    A = sp.csc_matrix((np.ones(n), (np.zeros(n, dtype=np.int64), np.arange(n))), shape=(1, n))
    lp = StandardLP(c=prim.c, A=A, row_lower=np.ones(1), row_upper=np.ones(1), col_lower=prim.col_lower,
                    col_upper=prim.col_upper, offset=prim.offset, name="moments_relaxation",
                    meta={"tuples": prim.meta["tuples"]})
    return BaseFormulation(lp, prim.meta["tuples"], "mass", [0], False, N)


def implied_upper(model: "Model") -> np.ndarray:
    """Finite column upper bounds valid while the base rows hold and the plan is non-negative.

    ``primal``/``symmetric``: :func:`~mmot_models.modeling.certify.implied_column_upper`;
    ``krep``: the same with ``k`` bodies (``w_m <= min_s k mu_s / n_s(m)``); ``moments``: the mass
    row gives ``x_t <= 1``.
    """
    if model.formulation == "moments":
        return np.ones(model.n_cols)
    kind = "primal" if model.formulation == "primal" else "symmetric"
    return implied_column_upper(kind, model.columns, [m.weights for m in model.problem.marginals])


def direction_of(formulation: str, k: int | None, n_marginals: int) -> Bound:
    """How a model's value relates to the MMOT optimum: EXACT, LOWER or UPPER."""
    if formulation in EXACT_FORMULATIONS:
        return Bound.EXACT
    if formulation == "moments":
        return Bound.LOWER
    assert k is not None
    return Bound.LOWER if k < n_marginals else (Bound.EXACT if k == n_marginals else Bound.UPPER)


class _AssemblyView:
    """The model as the exact-formulation Solution assembly sees it.

    ``krep`` is the symmetric multiset LP of a k-body problem (cost scaled by
    ``binom(N,2)/binom(k,2)``): the plan fields are those of the k-body plan.  ``moments`` has
    the primal columns.  Everything else is the model's own.
    """

    def __init__(self, model: "Model") -> None:
        self._model = model
        if model.formulation == "krep":
            self.formulation = "symmetric"
            p = model.problem
            self.problem = p if model.k == p.n_marginals else MMOTProblem.symmetric(p.marginals[0], model.k, p.cost,
                                                                                  name=f"{p.name}_k{model.k}")
        else:
            self.formulation = "primal"
            self.problem = model.problem

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def assemble(model: "Model", lp: StandardLP, res: LPResult, *, t0: float, **kwargs: Any) -> Solution:
    """Certify and assemble a model's answer: one assembly (:func:`~mmot_models.modeling.model.assemble_solution`)
    for every formulation, then :func:`finish_solution` for the bound direction."""
    from .model import assemble_solution

    if model.formulation in EXACT_FORMULATIONS:
        return assemble_solution(model, lp, res, t0=t0, **kwargs)
    sol = assemble_solution(_AssemblyView(model), lp, res, t0=t0, **kwargs)  # type: ignore[arg-type]
    return finish_solution(model, sol)


def finish_solution(model: "Model", sol: Solution) -> Solution:
    """State how a relaxation's certified LP answer bounds the MMOT optimum.

    The assembled ``sol`` brackets the model's own LP; this moves that bracket to
    ``info["lp_lower"]``/``info["lp_upper"]`` and keeps, as ``lower_bound``/``upper_bound``, only
    the side that bounds the exact MMOT value: the LP's certified lower bound for a relaxation
    (``LOWER``), its certified upper bound for a restriction (``UPPER``).  The status stays the
    LP's (``optimal`` only on its closed bracket).  A k-body plan (``k != N``) is no N-body plan:
    it moves to ``info`` (``multisets``, ``multiset_weights``, ``pair_density``).
    """
    N = model.problem.n_marginals
    direction = direction_of(model.formulation, model.k, N)
    lp_lower, lp_upper = sol.lower_bound, sol.upper_bound
    info = dict(sol.info)
    info.update(formulation=model.formulation, lp_lower=lp_lower, lp_upper=lp_upper, direction=direction.value)
    changes: dict[str, Any] = {"problem": model.problem, "info": info}
    method = f"model/{model.formulation}"
    if model.formulation == "krep":
        method = f"model/krep(k={model.k})"
        info["k"] = model.k
        if model.k != N:
            ms, w = info.get("multisets"), info.get("multiset_weights")
            if ms is not None and w is not None and model.k >= 2:
                info["pair_density"] = pair_density_of_plan(np.asarray(ms), np.asarray(w), model.problem.sizes[0])
            changes.update(plan_indices=None, plan_weights=None, marginal_error=None, potentials=None)
    else:
        changes["potentials"] = None   # the rows are no marginal rows: their duals are no potentials
    changes["method"] = method
    if direction == Bound.EXACT:
        return dataclasses.replace(sol, **changes)
    if direction == Bound.LOWER:
        lower, upper = lp_lower, math.inf
    else:
        lower, upper = -math.inf, lp_upper
    value = sol.value
    if sol.status == Status.INFEASIBLE:
        value = math.inf   # the relaxation/restriction is empty: its value is +inf
    elif sol.status != Status.OPTIMAL:
        # an unfinished LP: only its certified side bounds anything
        value = lower if direction == Bound.LOWER else upper
        if not math.isfinite(value):
            value = math.nan
    changes.update(lower_bound=lower, upper_bound=upper, bound=direction, value=value)
    return dataclasses.replace(sol, **changes)
