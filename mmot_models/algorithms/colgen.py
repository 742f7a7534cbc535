"""Certified column generation for the symmetric multiset LP (``method="colgen"``).

Restricted master (a subset ``S`` of multisets, warm-started :class:`~mmot_models.backends.highs.HighsSession`):

.. math::
    \\min_{\\gamma \\ge 0} \\sum_{m\\in S} c(m)\\gamma_m
    \\quad\\text{s.t.}\\quad \\sum_{m\\in S} n_s(m)\\gamma_m = N\\mu_s .

Its optimal value ``U`` is an upper bound (its plan is feasible for the full problem).  With the row
duals ``u`` and the minimal reduced cost ``r* = min_m c(m) - sum_s n_s(m) u_s`` over *all*
multisets (or a valid lower bound on it), ``u + min(r*, 0)/N`` is dual feasible, so

.. math::  L = N\\langle u, \\mu\\rangle + \\min(r^*, 0) \\le \\text{OPT} \\le U

(plans have mass 1).  A run that ends without a certificate takes, for a positive semidefinite pair
matrix (soft Coulomb and other smooth kernels), the Jensen bound of
:func:`~mmot_models.physics.reference.psd_lower_bound` (Hartree energy minus self-interaction, with
its own dual potential) as the final lower bound when it is the larger (``info["psd_lower_bound"]``).
Each round records ``U``, ``L`` (when an exact pricer or a certified bound
ran) and the gap in ``sol.info["history"]``; the run stops when ``U - L <= tol * |U|``
(status ``OPTIMAL``), or on the time or round limit (status ``TIME_LIMIT``/``ITERATION_LIMIT``,
``bound=UPPER``, with the best certified lower bound).

Initial columns: the cyclic quantile plan (:func:`~mmot_models.physics.reference.cyclic_quantile_plan`)
is exactly feasible in any dimension and site order, so the master is feasible from round one.

Pricing (:mod:`mmot_models.algorithms.pricing`): a heuristic local search over multisets proposes
negative columns cheaply; an exact pricer certifies -- chunked enumeration for small counts and
N-ary costs; for pair costs on a line one minimum cut when the cost is convex in the distance
(Coulomb) and N >= 8 (:mod:`mmot_models.algorithms.pricing_mincut`: exact, polynomial), else the
sorted-site branch and bound with chain-DP bounds (:mod:`mmot_models.algorithms.pricing_ordered`);
otherwise the generic branch and bound (both branch and bounds with a node budget, returning a
valid lower bound on ``r*`` when the budget is exhausted).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..certificate import EPS, exact_dot, gamma, pair_cost_error, plan_mass, shifted_lower_bound
from ..errors import MMOTInputError, ProblemTooLargeError
from ..formulations.multisets import multiset_count, occupation_matrix
from ..formulations.standard_lp import StandardLP, format_count
from ..formulations.symmetric import (multiset_costs, multiset_distinct, plan_fields, require_symmetric,
                                      safe_min_reduced_cost)
from ..options import Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Solution, Status
from .pricing import (PricingResult, price_bnb, price_enumerate, price_local_search, price_qp_bound,
                      reduced_cost_matrix)
from .pricing_mincut import MinCutPricer
from .pricing_ordered import OrderedPricer
from .symmetric import EXPAND_OPTION

__all__ = ["solve_colgen", "initial_columns", "DEFAULT_TOL", "ENUMERATE_PRICING_MAX", "MINCUT_MIN_N", "COLGEN_OPTIONS"]

#: Default relative gap ``(U - L) / |U|`` at which the run is certified optimal.
DEFAULT_TOL = 1e-9
#: Exact pricing enumerates all multisets up to this count (above: branch and bound for pair costs).
ENUMERATE_PRICING_MAX = 3_000_000
#: Largest multiset count priced by enumeration for N-ary costs (no branch and bound for them).
NARY_ENUMERATE_MAX = 200_000_000
#: ``pricing="auto"`` prices by one minimum cut from this N on (1D, costs convex in the distance); below it
#: the ordered branch and bound is faster and its bound carries no a-priori rounding charge of the graph.
MINCUT_MIN_N = 8
#: Escalation cap of the branch-and-bound budget when pricing stalls without an exact bound.
MAX_NODE_BUDGET = 1e12
#: Bytes per entry of the ``K x N`` initial tuple arrays (``K <= N l + 2``): positions, ranks, indices,
#: sorted copy, unique-row keys.
INITIAL_BYTES_PER_ENTRY = 48
#: HiGHS tolerances of the master (tight, so that duals certify to ~1e-10).
_MASTER_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def _colgen_schema() -> OptionSchema:
    return OptionSchema("colgen", common_options(
        memory_limit_gb="refuse a run whose initial columns (about l multisets of N sites) would not fit in this "
        "many GiB",
        time_limit="wall-clock limit in seconds for the whole run (checked between rounds and inside pricing)",
        threads="threads of the HiGHS master") + (
        Option("solver_options", "dict", None, "HiGHS options of the master LP (unknown names or bad values are "
               "an error); added to the tight feasibility tolerances the certificate needs"),
        Option("tol", "float", DEFAULT_TOL, "certified relative gap: stop as optimal when "
               "U - L <= tol * max(1, |U|)", low=0, low_open=True),
        Option("max_rounds", "int", 1000, "round limit (status iteration_limit when hit)", low=1),
        Option("columns_per_round", "int", None, "most negative columns added per round (default max(2 l, 100))",
               low=1),
        Option("pricing", "choice", "auto", "exact pricer: enumeration, branch and bound ('bnb'; 'ordered': "
               "sorted-site branch and bound with chain-DP bounds, 1D pair costs), 'mincut' (1D pair costs: one "
               "minimum cut, exact for costs convex in the distance such as Coulomb, else a lower bound), or "
               "'heuristic' (local search; certifies only through a final exact check when certify)",
               choices=("auto", "enumerate", "bnb", "ordered", "mincut", "heuristic")),
        Option("exact_every", "int", None, "with the heuristic pricer, run the exact pricer every this many "
               "rounds (default 1 for N <= 6, else 10)", low=1),
        Option("node_budget", "float", None, "branch-and-bound budget (node x site evaluations) per exact "
               "pricing call (default 2e9 for N <= 8, else 2e8 ordered / 2e7 bnb)", low=0, low_open=True),
        Option("certify", "bool", True, "with pricing='heuristic': one exact/bounded pricing when the "
               "heuristic stalls"),
        Option("seed", "int", 0, "seed of the heuristic's random restarts", low=0),
        EXPAND_OPTION,
    ), doc="column generation for the symmetric multiset LP (HiGHS, warm-started), certified gap")


def initial_columns(problem: MMOTProblem) -> np.ndarray:
    """Sorted multisets of the cyclic quantile plan (sites ordered lexicographically by coordinates)."""
    from ..physics.reference import cyclic_quantile_plan

    marg = problem.marginals[0]
    pts = marg.points
    order = np.lexsort(pts.T[::-1])
    idx, _ = cyclic_quantile_plan(marg.weights, problem.n_marginals, order=order)
    return np.unique(np.sort(idx, axis=1), axis=0)


def _master_lp(problem: MMOTProblem, ms: np.ndarray, cost: np.ndarray) -> StandardLP:
    l, N = problem.sizes[0], problem.n_marginals
    b = N * np.asarray(problem.marginals[0].weights, dtype=float)
    A = occupation_matrix(ms, l)
    M = ms.shape[0]
    return StandardLP(c=cost, A=A, row_lower=b, row_upper=b.copy(), col_lower=np.zeros(M),
                      col_upper=np.full(M, np.inf), name="colgen_master")


def _key(ms: np.ndarray) -> np.ndarray:
    """One void-dtype key per sorted multiset row (for set membership)."""
    a = np.ascontiguousarray(ms.astype(np.int32))
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


#: Options of ``method="colgen"`` (``tol`` here is the certified relative gap).
COLGEN_OPTIONS = _colgen_schema()


@declares(COLGEN_OPTIONS)
def solve_colgen(problem: MMOTProblem, backend: str = "highs", *, tol: float = DEFAULT_TOL,
                 time_limit: float | None = None, max_rounds: int = 1000, columns_per_round: int | None = None,
                 pricing: str = "auto", exact_every: int | None = None, node_budget: float | None = None,
                 certify: bool = True, seed: int = 0, expand: str | bool | None = "auto",
                 threads: int | None = None, verbose: bool = False, solver_options: dict | None = None,
                 memory_limit_bytes: int | None = None) -> Solution:
    """Column generation for the symmetric multiset LP with a certified gap.

    Parameters
    ----------
    tol : float
        Stop when ``(U - L) <= tol * |U|`` (default ``1e-9``).
    time_limit : float, optional
        Wall-clock limit in seconds for the whole run.
    max_rounds : int
        Round limit.
    columns_per_round : int, optional
        Most negative columns added per round (default ``max(2 l, 100)``).
    pricing : {"auto", "enumerate", "bnb", "ordered", "mincut", "heuristic"}
        Exact pricer (``auto``: enumeration up to :data:`ENUMERATE_PRICING_MAX` multisets or for
        N-ary costs; otherwise, for sites on a line, ``"mincut"`` when N >= :data:`MINCUT_MIN_N` and
        every pair cost is convex in the distance -- one minimum cut,
        :mod:`~mmot_models.algorithms.pricing_mincut` -- and ``"ordered"`` for N >= 4 -- sorted-site
        branch and bound with chain-DP bounds, :mod:`~mmot_models.algorithms.pricing_ordered`; else
        ``"bnb"``).
        Exact pricers prune at ``-tol/4 * max(1, |U|)``: the bound ``min(r*, -slack)`` certifies.
        ``"heuristic"`` never certifies (upper bound only, except for a final exact check when
        ``certify``).
    exact_every : int, optional
        With the heuristic pricer active, run the exact pricer every this many rounds (default 1
        for N <= 6, else 10) and whenever the heuristic finds no new column.
    node_budget : float, optional
        Branch-and-bound budget (node x site evaluations) per exact pricing call (default 2e9 for
        N <= 8, else 2e8 for the ordered pricer and 2e7 for the generic one); exhausted, the pricer
        returns a valid bound, the larger of the open nodes' bound and the convex relaxation bound
        (:func:`~mmot_models.algorithms.pricing.price_qp_bound`).
    certify : bool
        With ``pricing="heuristic"``: run one exact/bounded pricing when the heuristic stalls.
    seed : int
        Seed of the heuristic's random restarts.
    expand : {"auto", "symmetrize", "cyclic", None}
        Expansion of the final multiset plan (see :mod:`mmot_models.formulations.symmetric`).

    Returns
    -------
    Solution
        ``info["history"]``: one dict per round (``upper``, ``lower`` (this round, or ``None``),
        ``best_lower``, ``gap``, ``n_cols``, ``added``, ``pricer``, ``min_rc``, ``pricing_s``, ``time_s``);
        ``info["multisets"]``/``info["multiset_weights"]``: the final multiset plan.
    """
    if backend != "highs":
        raise MMOTInputError(f"column generation runs on the 'highs' backend (warm starts), not {backend!r}")
    if pricing not in ("auto", "enumerate", "bnb", "ordered", "mincut", "heuristic"):
        raise MMOTInputError(f"unknown pricing {pricing!r}; choose auto, enumerate, bnb, ordered, mincut or heuristic")
    if not (tol > 0):
        raise MMOTInputError(f"tol must be positive, got {tol}")
    require_symmetric(problem)
    problem.check_feasible()
    from ..backends.highs import HighsSession

    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    l, N = problem.sizes[0], problem.n_marginals
    mu = np.asarray(problem.marginals[0].weights, dtype=float)
    distinct = multiset_distinct(problem)
    C = problem.pair_matrix(0, 0) if problem.is_pair_cost else None
    M_total = multiset_count(l, N, distinct)
    _check_colgen_fits(l, N, memory_limit_bytes)
    exact_kind = pricing if pricing in ("enumerate", "bnb", "ordered", "mincut") else (
        "enumerate" if (C is None or M_total <= ENUMERATE_PRICING_MAX) else
        ("ordered" if problem.dim == 1 and N >= 4 else "bnb"))
    if exact_kind in ("bnb", "ordered", "mincut") and C is None:
        raise MMOTInputError(f"pricing={exact_kind!r} needs a pair cost; use pricing='enumerate' for N-ary costs")
    if exact_kind in ("ordered", "mincut") and problem.dim != 1:
        raise MMOTInputError(f"pricing={exact_kind!r} needs sites on a line (d=1, got d={problem.dim}); use 'bnb'")
    # issue 15: on a line, one minimum cut prices exactly when every pair cost is convex in the distance
    # (Coulomb); otherwise its bound (convex minorants) backs up the ordered branch and bound
    mincut = None
    if exact_kind == "mincut" or (exact_kind == "ordered" and pricing == "auto" and N >= MINCUT_MIN_N):
        try:
            mincut = MinCutPricer(C, problem.marginals[0].points[:, 0], N, distinct)
        except (MemoryError, ValueError) as exc:
            if exact_kind == "mincut":
                raise MMOTInputError(f"pricing='mincut' cannot build its graph: {exc}; use pricing='ordered'") from None
        if pricing == "auto" and mincut is not None and mincut.exact_relaxation and N >= MINCUT_MIN_N:
            exact_kind = "mincut"
        elif exact_kind != "mincut" and mincut is not None and not mincut.exact_relaxation:
            # measured (soft Coulomb, N = 30): the convex minorant loses ~0.5 per close pair, far below the QP
            # bound, and each cut costs seconds -- no backup bound then
            mincut = None
    # issue 15: sorted-site branch and bound with chain-DP bounds (hulls built once, reused every round)
    ordered = OrderedPricer(C, problem.marginals[0].points[:, 0], N, distinct) if exact_kind == "ordered" else None
    if C is None and M_total > NARY_ENUMERATE_MAX:
        raise ProblemTooLargeError(
            f"N-ary costs are priced by enumerating all {format_count(M_total)} multisets every round (limit "
            f"{NARY_ENUMERATE_MAX:.0e}); use fewer sites or electrons, or express the cost as a pair cost")
    use_heuristic = C is not None and (pricing == "heuristic" or (
        pricing == "auto" and exact_kind in ("bnb", "ordered", "mincut")))
    k_add = int(columns_per_round or max(2 * l, 100))
    every = int(exact_every) if exact_every else (1 if N <= 6 else 10)
    budget = float(node_budget) if node_budget is not None else (
        2e9 if N <= 8 else (2e8 if exact_kind == "ordered" else 2e7))
    certified_exact = True
    effort = 1
    rng = np.random.default_rng(seed)

    ms = initial_columns(problem)
    cost = multiset_costs(problem, ms, C)
    if not np.all(np.isfinite(cost)):
        raise MMOTInputError("the initial cyclic-quantile columns have infinite cost; check the marginal "
                             "(every site must carry at most 1/N of the mass under a Coulomb-type cost)")
    keys = set(_key(ms).tolist())
    opts = dict(_MASTER_OPTIONS)
    opts.update(solver_options or {})
    session = HighsSession(_master_lp(problem, ms, cost), threads=threads, verbose=False, options=opts)
    history: list[dict[str, Any]] = []
    best_lower, best_u = -math.inf, None
    status, message = Status.ITERATION_LIMIT, "round limit reached"
    x = u = None
    last_res = None
    stalled_exact = False
    mass = plan_mass(mu)
    upper = math.inf
    solver_time = 0.0
    iters = 0
    bar = None
    if verbose:
        from tqdm import tqdm
        # no total: max_rounds is a cap, not a forecast, and an ETA against it misleads
        bar = tqdm(desc="colgen", unit="round")
    try:
        for rnd in range(1, max_rounds + 1):
            if time.perf_counter() > deadline:
                status, message = Status.TIME_LIMIT, "time limit reached"
                break
            if math.isfinite(deadline):
                # HiGHS's time_limit counts the instance's accumulated run time, not this run's
                session.set_time_limit(deadline - time.perf_counter())
            res = session.run()
            last_res = res
            solver_time += res.solver_time_s
            iters += int(res.iterations or 0)
            if res.status != Status.OPTIMAL or res.x is None or res.row_dual is None:
                if res.status == Status.TIME_LIMIT:
                    status, message = Status.TIME_LIMIT, "time limit reached in the master LP"
                else:
                    status, message = Status.NUMERICAL_ERROR, f"master LP failed: {res.message}"
                break
            x = np.maximum(res.x, 0.0)
            u = np.asarray(res.row_dual, dtype=float)
            # certified: the plan's exact cost plus its exact residual charged at the largest cost
            upper = plan_fields(problem, ms, x, cost, None)["upper_bound"]
            dual_val = N * exact_dot(u, mu)  # one rounding after the correctly rounded dot product
            # ---------------- pricing
            found = PricingResult(-math.inf, False, np.empty((0, N), dtype=np.int64), np.empty(0))
            t_price = time.perf_counter()
            B = reduced_cost_matrix(C, u, N, distinct) if C is not None else None
            pricer = ""
            if use_heuristic:
                basis = ms[x > 1e-14]
                found = _fresh(price_local_search(B, N, distinct, basis, n_best=k_add, rng=rng,
                                                  n_random=64 * effort, n_kicks=2 + effort,
                                                  deadline=deadline), keys)
                pricer = "local"
            if pricing == "heuristic":
                run_exact = certify and found.rcs.size == 0
            else:
                run_exact = (not use_heuristic) or found.rcs.size == 0 or rnd % every == 0
            lower_round = None
            if run_exact:
                # columns above -slack are not needed: the bound min(r*, -slack) certifies within tol
                slack = 0.25 * tol * max(1.0, abs(upper))
                if exact_kind == "enumerate":
                    ex = price_enumerate(problem, u, k_add, C=C, deadline=deadline)
                elif exact_kind == "mincut":
                    ex = mincut.price(u, C=C, support=ms[x > 1e-14], deadline=deadline)
                else:
                    if ordered is not None:
                        ex = ordered.price(u, n_best=k_add, incumbent=-slack, node_budget=budget, deadline=deadline,
                                           support=ms[x > 1e-14], weights=x[x > 1e-14])
                    else:
                        ex = price_bnb(B, N, distinct, n_best=k_add, node_budget=budget, incumbent=-slack,
                                       deadline=deadline)
                    if not ex.exact:  # budget exhausted: also try the convex relaxation bounds
                        qp = price_qp_bound(C, u, N, distinct, deadline=deadline)
                        if qp.lower > ex.lower:
                            ex = PricingResult(qp.lower, False, ex.multisets, ex.rcs, ex.nodes, ex.method + "+qp")
                        if mincut is not None:
                            mc = mincut.price(u, C=C, support=ms[x > 1e-14], deadline=deadline)
                            if mc.lower > ex.lower:
                                ex = PricingResult(mc.lower, False, ex.multisets, ex.rcs, ex.nodes,
                                                   ex.method + "+mincut")
                pricer = (pricer + "+" if pricer else "") + ex.method
                certified_exact = certified_exact and ex.exact
                lower_round = shifted_lower_bound(dual_val, ex.lower, _pricing_error(problem, u, ex.lower), mass,
                                                  dual_error=2 * EPS * abs(dual_val))
                naive = dual_val + min(ex.lower, 0.0)
                limit = max(tol * abs(upper), _abs_floor(cost, C, N))
                if exact_kind == "enumerate" and upper - lower_round > limit and upper - naive <= limit:
                    # only the a-priori rounding charge keeps the gap open: enumerate again, recomputing
                    # the reduced costs near the minimum exactly
                    lower_round = shifted_lower_bound(dual_val, safe_min_reduced_cost(problem, u, C=C), 0.0, mass,
                                                      dual_error=2 * EPS * abs(dual_val))
                if lower_round > best_lower:
                    best_lower, best_u = lower_round, u.copy()
                ex = _fresh(ex, keys)
                if ex.rcs.size:
                    found = _merge(found, ex, k_add)
            t_price = time.perf_counter() - t_price
            # ---------------- new columns
            new_ms = found.multisets
            new_c = multiset_costs(problem, new_ms, C) if new_ms.size else np.empty(0)
            fin = np.isfinite(new_c)
            new_ms, new_c = new_ms[fin], new_c[fin]
            gap = upper - best_lower
            rel = gap / max(abs(upper), 1e-300)
            history.append({"round": rnd, "upper": upper, "lower": lower_round, "best_lower": best_lower,
                            "gap": gap, "relative_gap": rel, "n_cols": int(ms.shape[0]),
                            "added": int(new_ms.shape[0]), "pricer": pricer,
                            "min_rc": float(found.rcs[0]) if found.rcs.size else None,
                            "pricing_s": t_price, "time_s": time.perf_counter() - t0})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(upper=f"{upper:.10g}", lower=f"{best_lower:.10g}", gap=f"{rel:.2e}",
                                pricing=f"{t_price:.2f}s", cols=ms.shape[0])
            if gap <= max(tol * abs(upper), _abs_floor(cost, C, N)):
                status, message = Status.OPTIMAL, f"certified: relative gap {rel:.3g} <= tol {tol:g}"
                break
            if new_ms.shape[0] == 0:
                if run_exact and not ex.exact and exact_kind != "mincut" and budget < MAX_NODE_BUDGET:
                    # stalled: nothing improving found, bound not exact -> search harder next round
                    budget *= 10.0
                    effort = min(effort * 4, 16)
                    history[-1]["escalated_budget"] = budget
                    continue
                if run_exact:
                    status = Status.ITERATION_LIMIT
                    stalled_exact = ex.exact
                    message = (f"pricing found no new improving column but the certified gap is {gap:.3g} "
                               "(exact pricer budget exhausted or numerical tolerance); raise node_budget")
                    break
                status = Status.ITERATION_LIMIT
                message = ("heuristic pricing found no improving column; the value is an upper bound "
                           "(pass certify=True or pricing='auto' for a certificate)")
                break
            A_new = occupation_matrix(new_ms, l)
            session.add_columns(new_c, np.zeros(new_c.size), np.full(new_c.size, np.inf), A_new)
            ms = np.concatenate([ms, new_ms.astype(ms.dtype)])
            cost = np.concatenate([cost, new_c])
            keys.update(_key(new_ms).tolist())
        else:
            status, message = Status.ITERATION_LIMIT, f"round limit {max_rounds} reached"
    finally:
        if bar is not None:
            bar.close()
        session.close()

    psd = None
    if status != Status.OPTIMAL and C is not None:
        # not certified by pricing: a positive semidefinite pair matrix (soft Coulomb) gives the Jensen bound
        # (Hartree minus self-interaction) with an explicit dual potential, a floor under the pricing bounds
        # (one O(l^3) eigenvalue computation, so only for runs that end open)
        from ..physics.reference import psd_lower_bound
        psd = psd_lower_bound(problem, C)
        if psd is not None and psd.value > best_lower:
            best_lower, best_u = psd.value, psd.potential
    wall = time.perf_counter() - t0
    fields: dict[str, Any] = {}
    info: dict[str, Any] = {"history": history, "rounds": len(history), "n_cols": int(ms.shape[0]),
                            "n_rows": l, "multisets_total": M_total, "exact_pricer": exact_kind,
                            "heuristic_pricer": bool(use_heuristic), "tol": tol,
                            "pricing_always_exact": bool(certified_exact), "final_node_budget": budget,
                            "psd_lower_bound": psd.value if psd is not None else None}
    if x is not None:
        n = x.shape[0]  # columns added after the last master solve carry no weight
        fields = plan_fields(problem, ms[:n], x, cost[:n], expand)
        if fields["info"]["residual_l1"] > 0 and last_res is not None:
            # iterative refinement of the final master (same backend) removes the residual's charge
            from ..backends import highs as highs_backend
            from .refine import needs_refinement, refine
            master = _master_lp(problem, ms[:n], cost[:n])
            if needs_refinement(master, last_res):
                ref = refine(master, last_res, lambda m: highs_backend.solve_lp(m, threads=threads, options=opts))
                refined = plan_fields(problem, ms[:n], np.maximum(ref.x, 0.0), cost[:n], expand)
                if refined["upper_bound"] <= fields["upper_bound"]:
                    fields = refined
                    info["refinement"] = ref.refinement
        upper = fields.pop("upper_bound")
        info.update(fields.pop("info"))
        closed = upper - best_lower <= max(tol * abs(upper), _abs_floor(cost, C, N))
        if stalled_exact and closed:
            # exact pricing found nothing, and the refined final plan's charge closes the gap
            status, message = Status.OPTIMAL, "certified after refining the final master plan"
        if status == Status.OPTIMAL and not closed:
            status = Status.NUMERICAL_ERROR
            message = f"the certified gap {upper - best_lower:.3g} exceeds tol after the final plan check"
    else:
        upper = math.inf
    pots = tuple([best_u] * N) if best_u is not None else None
    fields.pop("upper_bound", None)
    from ..solution import assemble_solution   # the one place a Solution is assembled (bracket rule, values)
    return assemble_solution(problem=problem, method="colgen", backend="highs", termination=status, value=upper,
                             lower_bound=best_lower, upper_bound=upper, rel_tol=tol, abs_floor=_abs_floor(cost, C, N),
                             potentials=pots, dual_value=best_lower, wall_time_s=wall, solver_time_s=solver_time,
                             iterations=iters, message=message, info=info, **fields)


def colgen_initial_bytes(l: int, N: int) -> int:
    """Estimated peak bytes of the initial cyclic-quantile columns (``(N l + 2) x N`` arrays)."""
    return INITIAL_BYTES_PER_ENTRY * (int(N) * int(l) + 2) * int(N)


def _check_colgen_fits(l: int, N: int, memory_limit_bytes: int | None) -> None:
    """Refuse (before allocating) a run whose initial columns alone exceed the memory budget."""
    from ..formulations.standard_lp import MEMORY_FRACTION, available_memory_bytes, format_bytes

    need = colgen_initial_bytes(l, N)
    limit = memory_limit_bytes if memory_limit_bytes is not None else int(MEMORY_FRACTION * available_memory_bytes())
    if need > limit:
        raise ProblemTooLargeError(
            f"column generation with N={N} marginals on {l} sites starts from {format_count(N * l + 2)} "
            f"columns of {N} sites (~{format_bytes(need)}) but only {format_bytes(limit)} may be used; "
            f"use method='krep' (certified lower bound) or 'meanfield'/'variance', or fewer marginals")


def _abs_floor(cost: np.ndarray, C: np.ndarray | None = None, N: int = 2) -> float:
    """Absolute gap floor for optima at 0: the rounding level ``64 u max|c|`` of the cost data
    (pair costs: ``max|c| <= K max|C|`` over all multisets, not only the master's columns)."""
    scale = float(np.max(np.abs(cost), initial=0.0))
    if C is not None:
        fin = np.abs(C[np.isfinite(C)])
        scale = max(scale, N * (N - 1) // 2 * float(fin.max(initial=0.0)))
    return 64 * EPS * scale


def _pricing_error(problem: MMOTProblem, u: np.ndarray, min_rc: float) -> float:
    """A-priori bound on the rounding error of a pricer's minimal reduced cost ``c(m) - sum_s n_s(m) u_s``.

    A multiset competing for the minimum has ``|c(m)| <= |min_rc| + err + N max|u|``; its reduced cost
    takes at most ``N^2 + 8`` rounded operations (pair sums, the reduced-cost matrix of the branch
    and bound, the potential sum), each of relative error ``EPS`` on terms bounded by that.  Plus the
    data error of ``c(m)`` as a float sum of pair costs.
    """
    N = problem.n_marginals
    umax = float(np.max(np.abs(u), initial=0.0))
    scale = abs(min_rc) + 2.0 * N * umax
    err = 1.01 * gamma(N * N + 8) * scale
    ce = pair_cost_error(problem, np.array([abs(min_rc) + N * umax]))
    return float(err + float(np.max(ce)))


def _fresh(res: PricingResult, keys: set) -> PricingResult:
    """Drop columns already in the master."""
    if res.multisets.shape[0] == 0:
        return res
    keep = np.array([k not in keys for k in _key(res.multisets).tolist()], dtype=bool)
    return PricingResult(res.lower, res.exact, res.multisets[keep], res.rcs[keep], res.nodes, res.method)


def _merge(a: PricingResult, b: PricingResult, k: int) -> PricingResult:
    ms = np.concatenate([a.multisets.astype(np.int64), b.multisets.astype(np.int64)])
    rc = np.concatenate([a.rcs, b.rcs])
    if ms.shape[0] == 0:
        return b
    ms, first = np.unique(ms, axis=0, return_index=True)
    rc = rc[first]
    order = np.argsort(rc, kind="stable")[:k]
    return PricingResult(b.lower, b.exact, ms[order], rc[order], b.nodes, b.method)
