"""k-representability relaxation of the pair density as a standard-form LP (a pure builder).

Friesecke, Mendl, Pass, Cotar, Klueppelberg (J. Chem. Phys. 2013): for a pair cost the exact
N-marginal value is

.. math::
    V_N = \\binom{N}{2}\\min\\{\\textstyle\\int c\\,d\\mu_2 :
    \\mu_2 \\mapsto \\mu,\\ \\mu_2 \\text{ N-representable}\\}.

Replacing "N-representable" by "k-representable" gives :math:`V_k`.  A symmetric k-body plan on a
grid of ``l`` sites is a probability vector ``w`` on the multisets ``m`` of size ``k``
(occupation numbers ``n_s(m)``); its pair density and one-body marginal are

.. math::
    P_{ab} = \\sum_m w_m \\frac{n_a(m) n_b(m) - \\delta_{ab} n_a(m)}{k(k-1)},\\qquad
    \\mu_a = \\sum_m w_m \\frac{n_a(m)}{k},

so the LP is

.. math::
    V_k = \\min_{w \\ge 0}\\ \\sum_m w_m\\,\\frac{\\binom{N}{2}}{\\binom{k}{2}}\\sum_{i<j} c(m_i, m_j)
    \\quad\\text{s.t.}\\quad \\sum_m n_s(m)\\, w_m = k\\,\\mu_s\\ \\ \\forall s.

(The mass row ``sum_m w_m = 1`` is implied: sum the rows.)  Because a k-representable pair density is
j-representable for every ``j <= k``, ``V_2 <= V_3 <= ... <= V_N = exact <= V_{N+1} <= ...``.

Costs with an infinite diagonal (Coulomb): a multiset with a repeated site puts pair-density mass on
the diagonal, i.e. infinite cost, so only multisets of distinct sites are columns.

Optional cuts (:func:`bipartition_rows`): for a partition of the sites given by signs
``s in {+1, -1}^l`` and any K-body configuration, ``(sum_i s(x_i))^2 >= (K mod 2)``, so every
K-representable pair density satisfies

.. math::
    s^T P s \\;\\ge\\; \\frac{(K \\bmod 2) - K}{K(K-1)},

i.e. for ``K = 3`` the bipartition inequality of the slides,
``P(A x B) + P(B x A) <= 2 (P(A x A) + P(B x B))`` (``s^T P s >= -1/3``).  A row of this cut has
coefficient ``((sum_i s_{m_i})^2 - k) / (k(k-1))`` on column ``m``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import dual_lower_bound, pair_cost_error, plan_mass, plan_upper_bound, scaled_rhs
from ..errors import MMOTInputError
from ..problem import MMOTProblem
from .multisets import multiset_count, multiset_pair_costs, multisets, occupation_matrix
from ..solution import Termination
from .contract import InverseData, Inverted, LPFormulationBase
from .standard_lp import LPSize, StandardLP, check_fits

__all__ = ["KRepresentability", "krep_size", "pair_density_of_plan", "bipartition_rows", "bipartition_rhs",
           "certified_lower_bound"]


def _check(problem: MMOTProblem, k: int) -> None:
    if not problem.is_symmetric or not problem.is_pair_cost:
        raise MMOTInputError("the k-representability relaxation needs N equal marginals and a pair cost; "
                             "use method='primal' for other problems")
    if int(k) != k or k < 2:
        raise MMOTInputError(f"k-representability needs an integer k >= 2, got k={k!r}")


def krep_size(problem: MMOTProblem, k: int) -> LPSize:
    """Columns, rows and nonzeros of the k-representability LP (before it is built)."""
    l = problem.marginals[0].size
    M = multiset_count(l, int(k), distinct=problem.singular_diagonal)
    return LPSize(M, l, M * min(int(k), l))


def pair_density_of_plan(ms: np.ndarray, w: np.ndarray, l: int) -> np.ndarray:
    """Pair density ``P`` (l x l, symmetric, mass 1) of the symmetric k-plan ``w`` on multisets ``ms``."""
    M, k = ms.shape
    P = np.zeros((l, l))
    for a in range(k):
        for b in range(k):
            if a != b:
                np.add.at(P, (ms[:, a], ms[:, b]), w)
    return P / (k * (k - 1))


def bipartition_rhs(order: int) -> float:
    """Right-hand side ``((K mod 2) - K) / (K (K-1))`` of the order-K bipartition cut ``s^T P s >= rhs``."""
    K = int(order)
    return ((K % 2) - K) / (K * (K - 1))


def bipartition_rows(ms: np.ndarray, signs: np.ndarray) -> sp.csr_matrix:
    """Rows ``s^T P(w) s`` (linear in ``w``) for sign vectors ``signs`` of shape (r, l)."""
    M, k = ms.shape
    S = np.asarray(signs, dtype=float)[:, ms].sum(axis=2)  # (r, M)
    return sp.csr_matrix((S * S - k) / (k * (k - 1)))


def certified_lower_bound(lp: StandardLP, row_dual: np.ndarray, mass: float = 1.0,
                          cost_error: np.ndarray | float = 0.0, rhs_error: np.ndarray | float = 0.0
                          ) -> tuple[float, float]:
    """Weak-duality lower bound of ``lp`` from any row multipliers, for LPs whose feasible ``x >= 0``
    all have ``sum(x) <= mass`` (true for plans): :func:`mmot_models.certificate.dual_lower_bound`.

    Returns ``(bound, max dual violation)``.
    """
    db = dual_lower_bound(lp.c, lp.A, row_dual, lp.row_lower, lp.row_upper, mass=mass,
                          cost_error=cost_error, rhs_error=rhs_error, offset=lp.offset)
    return db.bound, db.violation


def _krep_data_errors(problem: MMOTProblem, lp: StandardLP) -> tuple[np.ndarray | float, np.ndarray]:
    """Cost and rhs rounding errors of the k-rep LP against the exact data (pair sums, ``k mu``)."""
    k = lp.meta["k"]
    scale_rounds = 0 if float(lp.meta["pair_scale"]) == 1.0 else 2
    cerr = pair_cost_error(problem, lp.c, n_terms=math.comb(k, 2), scale_roundings=scale_rounds)
    _, rerr = scaled_rhs(k, problem.marginals[0].weights)
    rhs_err = np.zeros(lp.n_rows)
    rhs_err[:lp.meta["n_marginal_rows"]] = rerr
    return cerr, rhs_err


@dataclass(frozen=True)
class KRepresentability(LPFormulationBase):
    """Builder/inverter of the k-representability LP (see the module docstring).

    Parameters
    ----------
    k : int
        Number of bodies of the representing symmetric plan (``k >= 2``).
    """

    k: int = 2
    name: str = "krep"

    def size(self, problem: MMOTProblem) -> LPSize:
        return krep_size(problem, self.k)

    def build(self, problem: MMOTProblem, memory_limit_bytes: int | None = None) -> StandardLP:
        """The LP of the module docstring; ``meta`` holds the multisets (``"multisets"``)."""
        _check(problem, self.k)
        k = int(self.k)
        N = problem.n_marginals
        marg = problem.marginals[0]
        l = marg.size
        check_fits(self.size(problem), f"k-representability LP (k={k}, l={l})",
                   "lower k or coarsen the grid", memory_limit_bytes)
        distinct = problem.singular_diagonal
        if distinct and k > l:
            raise MMOTInputError(f"k={k} exceeds the {l} grid points: no configuration of distinct sites exists "
                                 "under the singular cost")
        ms = multisets(l, k, distinct=distinct)
        C = problem.pair_matrix(0, 0)
        pair = multiset_pair_costs(C, ms)
        keep = np.isfinite(pair)  # off-diagonal infinite entries (coincident points) are dropped too
        if not keep.all():
            ms, pair = ms[keep], pair[keep]
        scale = math.comb(N, 2) / math.comb(k, 2)
        A = occupation_matrix(ms, l)
        b = k * np.asarray(marg.weights, dtype=float)
        n = ms.shape[0]
        return StandardLP(c=scale * pair, A=A, row_lower=b, row_upper=b.copy(), col_lower=np.zeros(n),
                          col_upper=np.full(n, np.inf), name=f"krep_k{k}",
                          meta={"multisets": ms, "k": k, "N": N, "l": l, "n_marginal_rows": l,
                                "pair_scale": scale})

    def with_cuts(self, lp: StandardLP, signs: np.ndarray, order: int) -> StandardLP:
        """``lp`` plus the order-``order`` bipartition cuts for the sign vectors ``signs`` (r, l)."""
        signs = np.atleast_2d(signs)
        if signs.shape[0] == 0:
            return lp
        rows = bipartition_rows(lp.meta["multisets"], signs)
        A = sp.vstack([lp.A.tocsr(), rows]).tocsc()
        r = signs.shape[0]
        meta = dict(lp.meta)
        meta["cut_signs"] = np.concatenate([lp.meta.get("cut_signs", np.zeros((0, signs.shape[1]))), signs])
        return StandardLP(c=lp.c, A=A, row_lower=np.concatenate([lp.row_lower, np.full(r, bipartition_rhs(order))]),
                          row_upper=np.concatenate([lp.row_upper, np.full(r, np.inf)]), col_lower=lp.col_lower,
                          col_upper=lp.col_upper, offset=lp.offset, name=lp.name + "_cuts", meta=meta)

    def read(self, problem: MMOTProblem, lp: StandardLP, res: Any) -> dict[str, Any]:
        """Values of the LP itself: ``primal`` (``c^T w`` of the clipped plan), its marginal residual,
        the certified ``dual`` lower bound of V_k, the multiset plan and the pair density."""
        out: dict[str, Any] = {"primal": math.nan, "dual": -math.inf, "residual": math.inf, "dual_violation": math.nan}
        ms = lp.meta["multisets"]
        l = lp.meta["l"]
        cerr, rhs_err = _krep_data_errors(problem, lp)
        if res.x is not None:
            w = np.maximum(np.asarray(res.x, dtype=float), 0.0)
            nm = lp.meta["n_marginal_rows"]
            b, _ = scaled_rhs(lp.meta["k"], problem.marginals[0].weights)
            pb = plan_upper_bound(lp.c, lp.A[:nm], b, w, cost_error=cerr, rhs_error=rhs_err[:nm], offset=lp.offset)
            out["primal"] = pb.cost
            out["certified_upper"] = pb.bound
            out["residual_charge"] = pb.charge
            out["residual"] = float(np.max(np.abs(lp.A[:nm] @ w - lp.row_lower[:nm]))) / lp.meta["k"]
            keep = w > 0
            out["multisets"] = ms[keep]
            out["weights"] = w[keep]
            out["pair_density"] = pair_density_of_plan(ms[keep], w[keep], l)
        if res.row_dual is not None:
            out["dual"], out["dual_violation"] = certified_lower_bound(
                lp, res.row_dual, mass=plan_mass(problem.marginals[0].weights), cost_error=cerr, rhs_error=rhs_err)
            out["potential"] = np.asarray(res.row_dual[:l]) * lp.meta["k"] / lp.meta["N"]  # N mu.u = k mu.y
        return out

    def invert(self, result: Any, inverse_data: InverseData) -> Inverted:
        """The contract's view of :meth:`read`: the certified bracket of ``V_k`` itself (the value of
        this LP, ``bound`` exact for V_k; how V_k bounds the N-marginal optimum is the caller's)."""
        out = self.read(inverse_data.problem, inverse_data.lp, result)
        upper = out.get("certified_upper", math.inf)
        info = {k: v for k, v in out.items() if k not in ("primal", "dual", "certified_upper")}
        pots = None
        if "potential" in out:
            pots = tuple([out["potential"]] * inverse_data.problem.n_marginals)
        return Inverted(termination=Termination.from_status(result.status), value=out["primal"],
                        lower_bound=out["dual"], upper_bound=upper, primal_value=out["primal"],
                        dual_value=out["dual"], potentials=pots, info=info)
