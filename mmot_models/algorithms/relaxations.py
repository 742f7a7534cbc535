"""Relaxations and cheap brackets of the exact N-marginal value, as methods of :func:`mmot_models.solve`.

=============  ================================================  ===================================
method         what it computes                                  direction (vs. the exact value)
=============  ================================================  ===================================
``krep``       V_k: k-representable pair densities (LP)         lower (k<N), exact (k=N), upper (k>N)
``sdp``        PSD occupation moment matrix (cvxpy)              lower (at least as tight as k=2)
``meanfield``  product plan ``binom(N,2) <mu, C mu>``            upper (``inf`` on a Coulomb grid)
``variance``   ``N(N-1)/2 sqrt((N-1)/(2N Var mu))`` (Coulomb)    lower
=============  ================================================  ===================================

Every ``value`` is on the scale of the exact N-marginal value (``binom(N,2)`` times the pair-density
cost), so the numbers compare directly.  ``lower_bound``/``upper_bound`` bracket the *exact* value:
e.g. for ``krep`` with ``k < N`` the lower bound is the certified LP dual bound of ``V_k`` and the upper
bound is ``inf``; ``info["vk_lower"]``/``info["vk_upper"]`` bracket ``V_k`` itself.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..costs import Coulomb
from ..errors import MMOTInputError
from ..formulations.krep import KRepresentability, bipartition_rhs
from ..formulations.sdp import SDPRelaxation, moment_matrix, sdp_lower_bound
from ..formulations.standard_lp import LPResult, StandardLP
from ..options import LP_BACKEND_OPTIONS, Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status, Termination, assemble_solution, symmetrize_plan
from .lp import CERT_REL_TOL, ZERO_FLOOR_REL, solve_standard_lp

__all__ = ["solve_krep", "solve_sdp", "solve_meanfield", "solve_variance_bound", "KREP_BACKENDS",
           "SDP_CERT_REL_TOL", "MAX_SYMMETRIZED_ROWS", "KREP_OPTIONS", "SDP_OPTIONS", "MEANFIELD_OPTIONS",
           "VARIANCE_OPTIONS"]

KREP_BACKENDS = ("highs", "pyomo", "cvxpy")
#: Relative gap (solver value vs. certified dual bound) below which the SDP counts as solved.
SDP_CERT_REL_TOL = 1e-5
#: Primal residuals (row sums, nonnegativity, masked entries, PSD eigenvalue) accepted for an SDP answer.
SDP_PRIMAL_TOL = 1e-7
#: Clarabel tolerance for LPs on the cvxpy backend (tight enough for the CERT_REL_TOL certificate).
CVXPY_LP_TOL = 1e-9
#: The k = N plan is expanded to N-tuples (all orderings) only below this many rows.
MAX_SYMMETRIZED_ROWS = 200_000
#: Cutting-plane rounds / cuts per round for the bipartition inequalities; exact separation below this l.
CUT_ROUNDS = 25
CUTS_PER_ROUND = 20
EXACT_SEPARATION_MAX_L = 18
SEPARATION_STARTS = 64


def _cuts(value: Any) -> bool | int:
    """``cuts``: a bool, or the order K >= 3 of the bipartition inequality."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        value = float(low)
    if isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value == int(value) \
            and int(value) >= 3:
        return int(value)
    raise ValueError(value)


_CVXPY_SOLVER_CHOICES = ("CLARABEL", "SCS")
_NO_LP = "closed form, no solver runs"

#: Options of ``method="krep"`` (``solver``/``tol`` configure the cvxpy backend only).
KREP_OPTIONS = OptionSchema("krep", common_options() + (
    LP_BACKEND_OPTIONS[0],
    Option("solver_options", "dict", None, LP_BACKEND_OPTIONS[1].doc, only=(("backend", ("highs", "pyomo")),)),
    Option("k", "int", None, "bodies of the representing plan (default 2): lower bound for k < N, exact for "
           "k = N, upper bound for k > N", low=2),
    Option("cuts", "object", False, "bipartition cuts by a cutting-plane loop: True (order K = N) or an order "
           "K with 3 <= K <= N; only for k < N", check=_cuts, domain_text="true, false or an integer K >= 3"),
    Option("solver", "choice", "CLARABEL", "cvxpy solver of the LP (backend cvxpy)", choices=_CVXPY_SOLVER_CHOICES,
           upper=True, only=(("backend", ("cvxpy",)),)),
    Option("tol", "float", None, f"cvxpy solver tolerance (backend cvxpy; default {CVXPY_LP_TOL:g})", low=0,
           low_open=True, only=(("backend", ("cvxpy",)),)),
), doc="k-representability relaxation V_k (LP on highs, pyomo or cvxpy), certified bracket of V_k")

#: Options of ``method="sdp"`` (``solver``/``tol``/``solver_options`` are cvxpy's).
SDP_OPTIONS = OptionSchema("sdp", common_options(
    unused=("threads",), why="the cvxpy solvers run single-threaded here",
    memory_limit_gb="refuse SDPs whose estimated memory (PSD block) exceeds this many GiB") + (
    Option("solver", "choice", "CLARABEL", "cvxpy conic solver", choices=_CVXPY_SOLVER_CHOICES, upper=True),
    Option("tol", "float", None, "cvxpy solver tolerance (default: the solver's own)", low=0, low_open=True),
    Option("solver_options", "dict", None, "keyword options passed to the cvxpy solver"),
    Option("psd", "bool", True, "include the PSD occupation-moment block (False: the k = 2 LP)"),
    Option("occupation_bounds", "bool", False, "add the n_s in {0, 1} inequalities valid under an infinite "
           "diagonal (Coulomb; often much tighter)"),
), doc="semidefinite relaxation on cvxpy: certified lower bound")

#: Options of ``method="meanfield"`` (closed form: the run-level options have no effect).
MEANFIELD_OPTIONS = OptionSchema("meanfield", common_options(
    unused=("time_limit", "threads", "verbose", "memory_limit_gb", "memory_limit_bytes"), why=_NO_LP),
    doc="mean-field (product plan) value: an upper bound")
#: Options of ``method="variance"``.
VARIANCE_OPTIONS = MEANFIELD_OPTIONS.with_options(method="variance",
                                                  doc="variance lower bound (Coulomb cost, equal marginals)")


def _solve_lp(lp: StandardLP, backend: str, options: dict[str, Any]) -> LPResult:
    if backend == "cvxpy":
        from ..backends import cvxpy as cvx
        return cvx.solve_lp(lp, solver=options.get("solver", cvx.DEFAULT_SOLVER),
                            time_limit=options.get("time_limit"), verbose=options.get("verbose", False),
                            tol=options.get("tol") or CVXPY_LP_TOL)
    if backend not in KREP_BACKENDS:
        raise MMOTInputError(f"unknown backend {backend!r} for krep; choose one of {', '.join(KREP_BACKENDS)}")
    return solve_standard_lp(lp, backend, time_limit=options.get("time_limit"), threads=options.get("threads"),
                             verbose=options.get("verbose", False),
                             pyomo_solver=options.get("pyomo_solver", "appsi_highs"),
                             solver_options=options.get("solver_options"))


# ------------------------------------------------------------------ bipartition separation
def _all_signs(l: int) -> np.ndarray:
    """All sign vectors with s_0 = +1 (each partition once), shape (2^(l-1), l)."""
    bits = (np.arange(2 ** (l - 1))[:, None] >> np.arange(l - 1)[None, :]) & 1
    return np.concatenate([np.ones((bits.shape[0], 1)), 1.0 - 2.0 * bits], axis=1)


def _separate(P: np.ndarray, rhs: float, n_cuts: int, rng: np.random.Generator) -> tuple[np.ndarray, float, str]:
    """Sign vectors ``s`` with ``s^T P s < rhs`` (most violated first), the min found, and the method."""
    l = P.shape[0]
    if l <= EXACT_SEPARATION_MAX_L:
        S = _all_signs(l)
        vals = np.einsum("ri,ij,rj->r", S, P, S)
        how = "exact"
    else:  # 1-flip local search from spectral and random starts, all starts at once (cuts stay valid)
        ev, V = np.linalg.eigh(P)
        starts = np.concatenate([np.where(V[:, :min(5, l)].T >= 0, 1.0, -1.0),
                                 rng.choice([-1.0, 1.0], size=(SEPARATION_STARTS, l))])
        S = starts.copy()
        rows = np.arange(S.shape[0])
        dP = np.diag(P)
        for _ in range(10 * l):
            # flipping s_i changes s^T P s by -4 s_i (P s)_i + 4 P_ii
            delta = -4.0 * S * (S @ P) + 4.0 * dP[None, :]
            i = np.argmin(delta, axis=1)
            better = delta[rows, i] < -1e-15
            if not better.any():
                break
            S[rows[better], i[better]] *= -1.0
        S = np.unique(S * np.where(S[:, :1] > 0, 1.0, -1.0), axis=0)
        vals = np.einsum("ri,ij,rj->r", S, P, S)
        how = "heuristic"
    order = np.argsort(vals)
    viol = order[vals[order] < rhs - 1e-9][:n_cuts]
    return S[viol], float(vals.min()), how


@declares(KREP_OPTIONS)
def solve_krep(problem: MMOTProblem, backend: str = "highs", *, k: int | None = None,
               cuts: bool | int = False, time_limit: float | None = None, threads: int | None = None,
               verbose: bool = False, memory_limit_bytes: int | None = None, pyomo_solver: str = "appsi_highs",
               solver_options: dict[str, Any] | None = None, solver: str = "CLARABEL",
               tol: float | None = None) -> Solution:
    """k-representability relaxation ``V_k`` (see :mod:`mmot_models.formulations.krep`).

    Parameters
    ----------
    problem : MMOTProblem
        Symmetric (N equal marginals) with a pair cost.
    backend : ``"highs"`` (default), ``"pyomo"`` or ``"cvxpy"`` (Clarabel; ``solver="SCS"`` option).
    k : int
        Bodies of the representing plan, ``k >= 2`` (default 2).
    cuts : bool or int
        Add bipartition cuts ``s^T P s >= ((K mod 2) - K)/(K(K-1))`` by a cutting-plane loop.
        ``True`` uses ``K = N`` (the strongest valid order); an int ``K`` (``3 <= K <= N``) the order-K
        inequality (``K = 3``: the slides' bipartition inequality).  Only for ``k < N`` (lower bounds).
    time_limit, threads, verbose, memory_limit_bytes, pyomo_solver, solver_options
        As in :func:`~mmot_models.algorithms.lp.run_lp`; ``solver``/``tol`` for the cvxpy backend
        (all declared in :data:`KREP_OPTIONS`).

    Returns
    -------
    Solution
        ``value`` = V_k, ``bound`` LOWER (k < N), EXACT (k = N) or UPPER (k > N).  ``info`` holds
        ``vk_lower``/``vk_upper`` (certified bracket of V_k), ``per_pair`` = V_k / binom(N, 2),
        ``pair_density`` (array) and the multiset plan (``multisets``, ``multiset_weights``).
    """
    t0 = time.perf_counter()
    options: dict[str, Any] = {"time_limit": time_limit, "threads": threads, "verbose": verbose,
                               "memory_limit_bytes": memory_limit_bytes, "pyomo_solver": pyomo_solver,
                               "solver_options": solver_options, "solver": solver, "tol": tol}
    k = 2 if k is None else k
    if int(k) != k:
        raise MMOTInputError(f"k must be an integer, got {k!r}")
    k = int(k)
    form = KRepresentability(k)
    N = problem.n_marginals
    method = f"krep(k={k})"
    direction = Bound.LOWER if k < N else (Bound.EXACT if k == N else Bound.UPPER)
    if problem.singular_diagonal:
        w = problem.marginals[0].weights
        if k <= N:
            problem.check_feasible()
        if k > N and float(w.max()) > 1.0 / k + 1e-12:
            return assemble_solution(
                problem=problem, method=method, backend=backend, termination=Termination.INFEASIBLE,
                value=math.inf, bound=Bound.UPPER, t0=t0,
                message=f"a site carries {w.max():.4g} > 1/k = {1 / k:.4g}: no k-representable pair "
                        "density avoids the infinite diagonal, V_k = +inf",
                info={"k": k, "per_pair": math.inf})
    lp = form.build(problem, memory_limit_bytes=options.get("memory_limit_bytes"))
    t_build = time.perf_counter() - t0
    order = 0
    if cuts:
        if k >= N:
            raise MMOTInputError(f"bipartition cuts are valid for N-representable pair densities: use them with "
                                 f"k < N (got k={k}, N={N})")
        order = N if cuts is True else int(cuts)
        if not 3 <= order <= N:
            raise MMOTInputError(f"cut order must satisfy 3 <= K <= N={N}, got {cuts!r}")
    session = None
    if order and backend == "highs":  # cutting planes: keep one HiGHS instance, add rows, warm start
        from ..backends.highs import HighsSession
        session = HighsSession(lp, time_limit=options.get("time_limit"), threads=options.get("threads"),
                               verbose=options.get("verbose", False), options=options.get("solver_options"))
        res = session.run()
    else:
        res = _solve_lp(lp, backend, options)
    inv = form.read(problem, lp, res)
    n_cuts, sep_min, how, rounds = 0, math.nan, "", 0
    if order:
        rng = np.random.default_rng(0)
        rhs = bipartition_rhs(order)
        while rounds < CUT_ROUNDS and res.status == Status.OPTIMAL and "pair_density" in inv:
            signs, sep_min, how = _separate(inv["pair_density"], rhs, CUTS_PER_ROUND, rng)
            if signs.shape[0] == 0:
                break
            n_old = lp.n_rows
            lp = form.with_cuts(lp, signs, order)
            n_cuts += signs.shape[0]
            rounds += 1
            if session is not None:
                new = lp.A[n_old:].tocsr()
                r = new.shape[0]
                session.h.addRows(r, lp.row_lower[n_old:], lp.row_upper[n_old:], int(new.nnz),
                                  new.indptr[:-1].astype(np.int32), new.indices.astype(np.int32),
                                  new.data.astype(np.float64))
                res = session.run()
            else:
                res = _solve_lp(lp, backend, options)
            inv = form.read(problem, lp, res)
        if session is not None:
            session.close()
    status = res.status
    # the plan's cost plus its exact marginal residual charged at the largest cost (never the raw value)
    vk_upper = inv.get("certified_upper", math.inf) if status == Status.OPTIMAL else math.inf
    vk_lower = inv["dual"]
    message = ""
    value = inv["primal"] if math.isfinite(vk_upper) else vk_lower
    # the V_k bracket is checked by assemble_solution (certify_bracket); the optimum's bracket is mapped here
    vk_bracket = (vk_lower, vk_upper)
    if status == Status.INFEASIBLE:
        value = math.inf
        message = "no k-representable pair density has the marginal (V_k = +inf)"
    elif status != Status.OPTIMAL:
        message = f"solver stopped: {res.message}"
    vk_upper_reported = math.inf if order else vk_upper  # with cuts the plan is no point of V_k's set
    lower = vk_lower if k <= N else -math.inf
    upper = vk_upper_reported if k >= N else math.inf
    plan_idx = plan_w = pots = None
    merr = None
    if k == N and "multisets" in inv and status == Status.OPTIMAL:
        ms, w = inv["multisets"], inv["weights"]
        if ms.shape[0] * math.factorial(N) <= MAX_SYMMETRIZED_ROWS:
            plan_idx, plan_w = symmetrize_plan(ms, w)
            mu = problem.marginals[0].weights
            got = np.bincount(plan_idx[:, 0], weights=plan_w, minlength=mu.size)
            merr = np.full(N, float(np.max(np.abs(got - mu))))
        if "potential" in inv:
            pots = tuple([inv["potential"]] * N)
    scale = math.comb(N, 2)
    info: dict[str, Any] = {
        "k": k, "N": N, "vk_lower": vk_lower, "vk_upper": vk_upper_reported,
        "per_pair": value / scale if math.isfinite(value) else value,
        "n_multisets": lp.n_cols, "n_rows": lp.n_rows, "build_time_s": t_build,
        "primal_residual": inv["residual"], "dual_violation": inv["dual_violation"],
        "solver_message": res.message,
    }
    if order:
        info.update(cut_order=order, cuts_added=n_cuts, cut_rounds=rounds, cut_separation=how,
                    cut_min_found=sep_min)
        method += f"+cuts(K={order})"
    for key in ("pair_density", "multisets"):
        if key in inv:
            info[key] = inv[key]
    if "weights" in inv:
        info["multiset_weights"] = inv["weights"]
    return assemble_solution(
        problem=problem, method=method, backend=res.backend, termination=res.status, value=value,
        lower_bound=lower, upper_bound=upper,
        bound=direction, certify_bracket=vk_bracket, rel_tol=CERT_REL_TOL, what="V_k",
        abs_floor=ZERO_FLOOR_REL * lp.cost_scale, plan_indices=plan_idx,
        plan_weights=plan_w, potentials=pots, primal_value=inv["primal"], dual_value=vk_lower, marginal_error=merr,
        t0=t0, solver_time_s=res.solver_time_s, iterations=res.iterations, message=message, log=res.log,
        info=info)


def _sdp_primal_ok(info: dict[str, Any]) -> bool:
    return (info.get("rowsum_residual", math.inf) <= SDP_PRIMAL_TOL
            and info.get("nonneg_violation", math.inf) <= SDP_PRIMAL_TOL
            and info.get("masked_entry_max", math.inf) <= SDP_PRIMAL_TOL
            and info.get("psd_min_eigenvalue", 0.0) >= -SDP_PRIMAL_TOL)


@declares(SDP_OPTIONS)
def solve_sdp(problem: MMOTProblem, backend: str = "cvxpy", *, solver: str = "CLARABEL",
              tol: float | None = None, time_limit: float | None = None, verbose: bool = False,
              psd: bool = True, occupation_bounds: bool = False,
              solver_options: dict[str, Any] | None = None, memory_limit_bytes: int | None = None) -> Solution:
    """Semidefinite relaxation (see :mod:`mmot_models.formulations.sdp`): a lower bound, solved
    through cvxpy with ``solver`` ``"CLARABEL"`` (default) or ``"SCS"``.

    ``backend`` may be ``"highs"`` (the package default, meaning "default solver") or ``"cvxpy"``.
    Options: ``psd=False`` drops the PSD block (the k = 2 LP); ``occupation_bounds=True`` adds the
    ``n_s in {0, 1}`` inequalities valid under an infinite diagonal (Coulomb; often much tighter).
    ``lower_bound`` is certified from the duals (independent of the solver's accuracy); ``info``
    reports the solver's accuracy: ``rowsum_residual``, ``psd_min_eigenvalue`` (of ``M(P)``, negative =
    infeasible by that much), ``nonneg_violation`` and ``solver_dual_gap`` (value - certified bound).
    """
    from ..backends import cvxpy as cvx

    if backend not in ("cvxpy", "highs"):
        raise MMOTInputError(f"the SDP relaxation runs on cvxpy (solver CLARABEL or SCS), not backend {backend!r}")
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit) if time_limit is not None else math.inf
    psd = bool(psd)
    occ = bool(occupation_bounds)
    model = SDPRelaxation(psd=psd, occupation_bounds=occ).build(problem, memory_limit_bytes=memory_limit_bytes)
    remaining = deadline - time.perf_counter()
    if remaining <= 0:   # the build used the whole limit: nothing solved, no bound
        return assemble_solution(
            problem=problem, method="sdp" if psd else "sdp(no psd)", backend=f"cvxpy-{str(solver).lower()}",
            termination=Termination.TIME_LIMIT, value=math.nan, bound=Bound.LOWER, t0=t0,
            message=f"time limit {time_limit:g} s reached while building the SDP; not solved",
            info={"n_sites": model.mu.size, "psd": psd, "occupation_bounds": occ})
    r = cvx.solve_problem(model.problem, solver, time_limit=None if time_limit is None else remaining, tol=tol,
                          verbose=verbose, options=solver_options)
    info: dict[str, Any] = {"solver": r.solver, "solver_status": r.message, "n_sites": model.mu.size, "psd": psd,
                            "occupation_bounds": occ}
    lower = -math.inf
    status = r.status
    message = ""
    if model.P.value is not None:
        P = np.asarray(model.P.value, dtype=float)
        info["rowsum_residual"] = float(np.max(np.abs(P.sum(axis=1) - model.mu)))
        info["nonneg_violation"] = float(max(0.0, -P[model.free].min()))
        info["masked_entry_max"] = float(np.abs(P[~model.free]).max()) if (~model.free).any() else 0.0
        if psd:
            info["psd_min_eigenvalue"] = float(np.linalg.eigvalsh(moment_matrix(P, model.mu, model.N)).min())
        info["pair_density"] = P
        lower, diag = sdp_lower_bound(model)
        info.update(diag)
        info["solver_dual_gap"] = r.value - lower
    value = r.value
    termination = Termination.from_status(status)
    if status == Status.NUMERICAL_ERROR and math.isfinite(lower) and _sdp_primal_ok(info):
        # cvxpy's "optimal_inaccurate" is an optimality claim at reduced accuracy: termination optimal,
        # accepted only if our own certificate closes (checked by assemble_solution)
        status, termination = Status.OPTIMAL, Termination.OPTIMAL
        info["solver_reported"] = "optimal_inaccurate"
        message = "solver reported optimal_inaccurate; accepted because the certified dual bound and the primal " \
                  "residuals close"
    if status == Status.INFEASIBLE:
        value = math.inf
        message = "SDP infeasible: no pair density with this marginal (and zero diagonal)"
    elif status != Status.OPTIMAL:   # OPTIMAL: the bracket (lower, value) is checked by assemble_solution
        message = f"solver stopped: {r.message}"
        if status == Status.TIME_LIMIT:
            message = f"time limit {time_limit:g} s reached in the SDP solver ({r.message})"
        # an interrupted iterate's objective bounds nothing: report the certified dual bound
        value = lower if math.isfinite(lower) else math.nan
        message += "; value = certified lower bound from the duals" if math.isfinite(lower) else "; no bound"
    name = ("sdp" if psd else "sdp(no psd)") + ("+occupation" if occ else "")
    return assemble_solution(
        problem=problem, method=name, backend=f"cvxpy-{r.solver.lower()}", termination=termination, value=value,
        lower_bound=lower, bound=Bound.LOWER, certify_bracket=(lower, value), rel_tol=SDP_CERT_REL_TOL,
        what="the SDP value over its certified dual bound", dual_value=lower, primal_value=r.value, t0=t0,
        solver_time_s=r.solver_time_s, iterations=r.iterations, message=message, info=info)


@declares(MEANFIELD_OPTIONS)
def solve_meanfield(problem: MMOTProblem, backend: str = "highs") -> Solution:
    """Mean-field (product plan) value ``sum_{i<j} <mu_i, C mu_j>``: an upper bound.

    The product plan is feasible, so the value is a certified upper bound.  For equal marginals and a
    positive semidefinite pair matrix (soft Coulomb, Gaussian kernels) the same mean field also bounds
    from below: ``lower_bound`` is the Jensen bound of
    :func:`~mmot_models.physics.reference.psd_lower_bound` (Hartree minus self-interaction), whose dual
    potential is returned in ``potentials``.  The value is ``+inf`` under a cost
    with an infinite diagonal on a grid (the product plan puts mass on coincident sites).  That is
    no bound: the status is then :attr:`Status.NO_BOUND` (not ok; exit code 3 in the CLI) and
    ``info["offdiagonal_mean_field"]`` gives the finite part ``sum_{i<j} sum_{a != b}`` (no bound).
    """
    from ..physics.reference import mean_field_value, psd_lower_bound

    t0 = time.perf_counter()
    value = mean_field_value(problem)
    info: dict[str, Any] = {}
    psd = psd_lower_bound(problem)
    extra: dict[str, Any] = {}
    if psd is not None:
        extra = {"lower_bound": psd.value, "dual_value": psd.value,
                 "potentials": tuple([psd.potential] * problem.n_marginals)}
        info.update(psd_lambda_min=psd.lambda_min, psd_shift=psd.shift)
    message = ""
    if not math.isfinite(value):
        # +inf is no upper bound at all: assemble_solution reports it as NO_BOUND, never with an ok status
        info["offdiagonal_mean_field"] = mean_field_value(problem, finite_part=True)
        message = ("the product plan charges coincident sites (infinite cost): no finite mean-field bound "
                   "on a grid; use method 'symmetric' or 'colgen' for a certified value")
    else:
        info["per_pair"] = value / math.comb(problem.n_marginals, 2)
    return assemble_solution(problem=problem, method="meanfield", backend="closed-form",
                             termination=Termination.CLOSED_FORM, value=value, upper_bound=value, bound=Bound.UPPER,
                             primal_value=value, t0=t0, message=message, info=info, **extra)


@declares(VARIANCE_OPTIONS)
def solve_variance_bound(problem: MMOTProblem, backend: str = "highs") -> Solution:
    """Variance lower bound ``N(N-1)/2 * sqrt((N-1)/(2N Var mu))`` for the Coulomb cost
    (:func:`mmot_models.physics.reference.variance_lower_bound`)."""
    from ..physics.reference import variance_lower_bound

    if not isinstance(problem.cost, Coulomb):
        raise MMOTInputError(f"the variance bound holds for the Coulomb cost 1/|x-y| only, not "
                             f"{getattr(problem.cost, 'kind', '?')!r}")
    if not problem.is_symmetric:
        raise MMOTInputError("the variance bound needs N equal marginals")
    t0 = time.perf_counter()
    value = variance_lower_bound(problem.marginals[0], problem.n_marginals)
    return assemble_solution(problem=problem, method="variance", backend="closed-form",
                             termination=Termination.CLOSED_FORM, value=value, lower_bound=value, bound=Bound.LOWER,
                             dual_value=value, t0=t0, info={"variance": problem.marginals[0].variance()})
