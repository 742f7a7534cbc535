r"""Solvers of moment-constrained optimal transport (MCOT): :func:`solve_mcot` (method ``"mcot"``).

Solvers, chosen by ``solver=``:

``"auto"`` (default)
    ``"lp"`` when the candidate LP has at most :data:`AUTO_LP_COLUMNS` columns (or the backend is
    not HiGHS), else ``"sites"``: the same LP, value and certificate either way.
``"sites"``
    Column generation over the tuples of the same candidate sites with exact pricing (every tuple's
    reduced cost is scanned each round): :mod:`~mmot_models.algorithms.mcot_sites`.  It never builds
    the ``prod(l_i)`` columns (two 2,000-point marginals: 4 million tuples, about a second).
``"lp"``
    The MCOT LP (:class:`~mmot_models.formulations.moments.MomentLP`) over a finite candidate set:
    the product (or, symmetric, the multisets) of per-marginal candidate sites -- the marginal's own
    points for discrete marginals, a grid refining the family's mesh for densities.  Solved on HiGHS
    (or Pyomo); the optimal vertex has at most ``#rows`` atoms (Tchakaloff's bound, recorded in
    ``info["n_atoms"]`` / ``info["atoms_within_rows"]``).
``"colgen"``
    On an :class:`MCOTProblem`, column generation over *continuous* positions (on an
    ``MMOTProblem``, whose candidates are its sites, it means ``"sites"``): the restricted master LP
    is warm-started with
    :class:`~mmot_models.backends.highs.HighsSession`; a new atom is priced by minimising the
    reduced cost :math:`c(z) - \sum_r y_r a_r(z)` from many starts (vectorised screening and
    vectorised projected-gradient descent, then :func:`scipy.optimize.minimize` on the best).
``"particles"``
    The paper's penalised gradient (section 6.2): ``K`` particles with positions and softmax
    weights minimise ``sum_k p_k c(z_k) + (1/eta) |moment residual|^2`` (L-BFGS-B, analytic
    gradients of the families, finite differences of the cost).  An estimate, not a bound;
    ``polish=True`` seeds ``"colgen"`` with the particles, which makes the moments exact.
``"metropolis"``
    The paper's Metropolis-Hastings on cells (section 6.1): piecewise-constant families, a state
    of ``K`` distinct cell pairs whose weights solve a small LP, moves to free neighbouring cells.

What the value bounds
---------------------
Every feasible coupling of the marginals satisfies the moment constraints, so the continuum MCOT
value :math:`I^n` is :math:`\le` the OT value.  On a candidate set ``S`` the LP value :math:`V_S`
is MCOT *restricted to measures on S*: :math:`V_S \ge I^n`, and :math:`V_S \le OT(\hat\mu_i)` for
every choice of discrete marginals on ``S`` with the same moments (the discretised problem).  For
a discrete :class:`~mmot_models.MMOTProblem` (candidates = its sites) this gives the certified
``lower_bound <= exact LP value``.  For densities with hat functions in 1D and the quadratic cost
``|x-y|^2`` on a grid containing the mesh nodes, splitting each atom between its two neighbouring
grid points keeps every hat moment and raises the cost by at most
:math:`\delta = (N-1) \sum_i g_i^2 / 4` (``g_i`` the largest grid gap), hence
``lower_bound = LP dual certificate - delta <= I^n <= OT`` is certified
(``info["discretisation_correction"]``).  Otherwise ``lower_bound`` is the LP's own certificate
when all marginals are discrete and every support point is a candidate, else ``-inf``; ``bound`` is
``LOWER`` only when ``lower_bound`` is finite (else ``ESTIMATE``: MCOT restricted to the candidates
has no direction with respect to OT).
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..costs import PairCost, Power
from ..errors import MMOTInputError, ProblemTooLargeError
from ..formulations.moments import ATOM_TOL, MomentLP
from ..formulations.multisets import multiset_count, multisets
from ..formulations.standard_lp import StandardLP
from ..moment_functions import Cells, Hats1D, MCOTProblem, config_cost
from ..options import LP_BACKEND_OPTIONS, Option, OptionSchema, common_options, declares
from ..problem import Marginal, MMOTProblem
from ..solution import GAP_ZERO_FLOOR, Bound, Solution, Status, marginal_errors
from .lp import solve_standard_lp

__all__ = ["solve_mcot", "candidate_sites", "mcot_lp", "mcot_colgen", "mcot_particles", "mcot_metropolis",
           "PenalisedObjective", "MCOT_OPTIONS",
           "mcot_candidates", "candidate_count", "SOLVERS", "SOLVER_OPTIONS", "CERT_REL_TOL", "DEFAULT_REFINE",
           "DEFAULT_GRID", "MAX_COLUMNS", "AUTO_LP_COLUMNS"]

SOLVERS = ("auto", "lp", "sites", "colgen", "particles", "metropolis")
#: Relative LP gap (primal vs certified dual) below which the LP answer counts as optimal.
CERT_REL_TOL = 1e-7
#: Sub-intervals of each mesh interval in the default candidate grid of a density.
DEFAULT_REFINE = 4
#: Candidate points per axis when the family has no breakpoints (monomials, callables).
DEFAULT_GRID = 65
#: Largest candidate LP built by solver ``"lp"`` (columns).
MAX_COLUMNS = 3_000_000
#: Solver ``"auto"`` builds the full candidate LP up to this many columns, and above it generates
#: columns over the same candidate tuples (solver ``"sites"``).
AUTO_LP_COLUMNS = 50_000
#: HiGHS options of the candidate LP: primal simplex (many columns, few rows: measured 5x faster
#: than the default dual simplex on the 1D reference with 66k columns) and a vertex answer.
DEFAULT_HIGHS_OPTIONS = {"solver": "simplex", "simplex_strategy": 4}
#: HiGHS options of the column-generation master: tight feasibility, because tail test functions
#: (tiny moments) carry large duals and ``y . (b - A x)`` at the default 1e-7 was measured at 2e-3
#: on the 2D Gaussian case (primal and dual certificates then disagree).
COLGEN_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Weight below which a column-generation master is considered free of slack mass.
SLACK_TOL = 1e-9


# =========================================================================== candidates
def candidate_sites(problem: MCOTProblem, i: int, *, refine: int = DEFAULT_REFINE,
                    grid: int | None = None) -> np.ndarray:
    """Candidate positions ``(l, d)`` of marginal ``i``.

    A discrete marginal's own points; for a density a tensor grid whose axes refine the family's
    breakpoints ``refine`` times (so the mesh nodes are candidates), or ``grid`` equispaced points
    per axis (also used when the family has no breakpoints).
    """
    m = problem.marginals[i]
    if isinstance(m, Marginal) and grid is None:
        return np.asarray(m.points, float)
    lo, hi = problem.domain(i)
    bp = problem.families[i].breakpoints()
    axes = []
    for a in range(problem.dim):
        if grid is None and bp is not None and a < len(bp) and bp[a] is not None:
            t = np.unique(np.clip(np.concatenate([np.asarray(bp[a], float), [lo[a], hi[a]]]), lo[a], hi[a]))
            r = max(int(refine), 1)
            sub = (t[:-1, None] + (t[1:] - t[:-1])[:, None] * (np.arange(r)[None, :] / r)).reshape(-1)
            axes.append(np.concatenate([sub, t[-1:]]))
        else:
            axes.append(np.linspace(lo[a], hi[a], int(grid or DEFAULT_GRID)))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([x.reshape(-1) for x in mesh], axis=1)


def _configurations(problem: MCOTProblem, sites: list[np.ndarray], max_columns: int) -> np.ndarray:
    N = problem.n_marginals
    if problem.symmetric:
        l = sites[0].shape[0]
        distinct = problem.singular_diagonal
        count = multiset_count(l, N, distinct)
        if count > max_columns:
            raise ProblemTooLargeError(
                f"the symmetric MCOT candidate LP would have {count:,} columns (> max_columns={max_columns:,}); "
                "use solver='sites' (column generation over the same candidates; solver='auto' picks it)")
        return multisets(l, N, distinct).astype(np.int64)
    sizes = [s.shape[0] for s in sites]
    count = math.prod(sizes)
    if count > max_columns:
        raise ProblemTooLargeError(
            f"the MCOT candidate LP would have {count:,} columns (> max_columns={max_columns:,}); "
            "use solver='sites' (column generation over the same candidates; solver='auto' picks it)")
    return np.indices(sizes).reshape(N, -1).T.astype(np.int64)


def _index_costs(problem: MCOTProblem, sites: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
    cost = problem.cost
    N = problem.n_marginals
    if isinstance(cost, PairCost):
        out = np.zeros(idx.shape[0])
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            for i in range(N):
                for j in range(i + 1, N):
                    out += cost.matrix(sites[i], sites[j])[idx[:, i], idx[:, j]]
        return out
    configs = np.stack([sites[i][idx[:, i]] for i in range(N)], axis=1)
    return config_cost(cost, configs)


def _discretisation_correction(problem: MCOTProblem, sites: list[np.ndarray]) -> float | None:
    """``delta`` of the module docstring, or ``None`` when the split argument does not apply."""
    cost = problem.cost
    if problem.dim != 1 or not (isinstance(cost, Power) and cost.p == 2.0):
        return None
    if any(not isinstance(f, Hats1D) for f in problem.families) or problem.martingale is not None:
        return None
    total = 0.0
    for f, s in zip(problem.families, sites):
        x = np.unique(s[:, 0])
        t = f.nodes
        if not np.all(np.min(np.abs(x[None, :] - t[:, None]), axis=1) <= 1e-12 * max(1.0, np.abs(t).max())):
            return None
        inside = x[(x >= t[0]) & (x <= t[-1])]
        total += float(np.max(np.diff(inside))) ** 2 / 4.0
    return (problem.n_marginals - 1) * total


def _covers_supports(P: MCOTProblem, sites: list[np.ndarray]) -> bool:
    """All marginals discrete and every support point a candidate site (then ``V_S <= OT``)."""
    from scipy.spatial import cKDTree

    if not all(isinstance(m, Marginal) for m in P.marginals):
        return False
    for m, s in zip(P.marginals, sites):
        d, _ = cKDTree(s).query(m.points)
        if np.any(d > 0):
            return False
    return True


# =========================================================================== LP on candidates
def _source(problem: MMOTProblem | MCOTProblem, options: dict[str, Any]) -> tuple[MCOTProblem, MMOTProblem | None]:
    if isinstance(problem, MCOTProblem):
        return problem, None
    if isinstance(problem, MMOTProblem):
        fam = options.pop("moments", None) or options.pop("families", None)
        n = int(options.pop("n_functions", 10))
        sym = options.pop("symmetric", None)
        return MCOTProblem.from_mmot(problem, fam, n, sym), problem
    raise MMOTInputError(f"solve_mcot expects an MMOTProblem or an MCOTProblem, got {type(problem).__name__}")


def _atom_points(sites: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
    return np.stack([sites[i][idx[:, i]] for i in range(idx.shape[1])], axis=1)


def _candidate_list(P: MCOTProblem, candidates: Any = None, refine: int = DEFAULT_REFINE,
                    grid: int | None = None) -> list[np.ndarray]:
    """Candidate sites per marginal: given ``candidates`` (one array for all, or one per marginal) or the defaults."""
    N = P.n_marginals
    if candidates is None:
        sites = [candidate_sites(P, i, refine=refine, grid=grid) for i in range(N)]
    else:
        cands = [candidates] * N if isinstance(candidates, np.ndarray) or not isinstance(candidates, (list, tuple)) \
            else list(candidates)
        if len(cands) != N:
            raise MMOTInputError(f"give candidate sites for each of the {N} marginals (or one array for all)")
        sites = [np.asarray(c, float).reshape(-1, P.dim) for c in cands]
    if P.symmetric:
        sites = [sites[0]] * N
    return sites


def candidate_count(P: MCOTProblem, sites: list[np.ndarray]) -> int:
    """Columns of the full candidate LP: ``prod(l_i)``, or the multisets of the sites when symmetric."""
    if P.symmetric:
        return multiset_count(sites[0].shape[0], P.n_marginals, P.singular_diagonal)
    return math.prod(s.shape[0] for s in sites)


def mcot_lp(problem: MCOTProblem, backend: str = "highs", *, candidates: Any = None, refine: int = DEFAULT_REFINE,
            grid: int | None = None, max_columns: int = MAX_COLUMNS, time_limit: float | None = None,
            threads: int | None = None, verbose: bool = False, memory_limit_bytes: int | None = None,
            pyomo_solver: str = "appsi_highs", solver_options: dict[str, Any] | None = None,
            source: MMOTProblem | None = None, sites: list[np.ndarray] | None = None) -> Solution:
    """MCOT LP over a candidate set (see the module docstring); ``candidates`` = sites per marginal."""
    t0 = time.perf_counter()
    P = problem
    if sites is None:
        sites = _candidate_list(P, candidates, refine, grid)
    idx = _configurations(P, sites, max_columns)
    costs = _index_costs(P, sites, idx)
    finite = np.isfinite(costs)
    if np.any(np.isnan(costs)):
        raise MMOTInputError("the cost is NaN on some candidate configurations; check the cost function")
    idx, costs = idx[finite], costs[finite]
    # the mass row is implied when marginal 0's family sums to 1 on every candidate (see MomentLP)
    pou = np.abs(np.asarray(P.families[0].evaluate_sparse(sites[0]).sum(axis=1)).reshape(-1) - 1.0).max() <= 1e-12
    form = MomentLP(P, mass_row=not pou)
    A = form.columns_from_indices(sites, idx)
    lp = form.build(costs, A, indices=idx, memory_limit_bytes=memory_limit_bytes)
    t_build = time.perf_counter() - t0
    if solver_options is None and backend == "highs":
        solver_options = dict(DEFAULT_HIGHS_OPTIONS)
    res = solve_standard_lp(lp, backend, time_limit=time_limit, threads=threads, verbose=verbose,
                            pyomo_solver=pyomo_solver, solver_options=solver_options)
    out = form.invert(lp, res)
    delta = _discretisation_correction(P, sites) if source is None else None
    return _lp_solution(P, source, form, lp, res, out, sites, idx, delta, t0, t_build, "lp")


def _lp_solution(P: MCOTProblem, source: MMOTProblem | None, form: MomentLP, lp: StandardLP, res, out: dict,
                 sites: list[np.ndarray], idx: np.ndarray | None, delta: float | None, t0: float, t_build: float,
                 solver: str, atoms: np.ndarray | None = None, extra: dict | None = None) -> Solution:
    status: Status = out.pop("status")
    info: dict[str, Any] = {
        "solver": solver, "n_candidates": int(lp.meta["n_candidates"]), "n_rows": form.n_rows,
        "n_moment_rows": P.n_moment_rows(), "tchakaloff_bound": P.tchakaloff_bound(), "build_time_s": t_build,
        "solver_message": res.message, "symmetric": P.symmetric, "martingale": P.martingale is not None,
        "families": ", ".join(f"{f.name}[{f.n_functions}]" for f in (P.families[:1] if P.symmetric else P.families)),
    }
    value = out.get("primal_value", math.nan)
    lower, message = -math.inf, ""
    plan_idx = plan_w = None
    merr = None
    if "atom_columns" in out:
        keep, w = out["atom_columns"], out["atom_weights"]
        if atoms is None:
            plan_idx = idx[keep]
            atoms = _atom_points(sites, plan_idx)
        else:
            atoms = atoms[keep]
        plan_w = w
        n_atoms = int(keep.size)
        info.update(n_atoms=n_atoms, atoms_within_rows=bool(n_atoms <= form.n_rows),
                    atoms_within_tchakaloff=bool(n_atoms <= P.tchakaloff_bound()),
                    moment_residual=out.get("moment_residual", math.nan), slack_mass=out.get("slack_mass", 0.0),
                    atoms=atoms, atom_weights=w)
        if source is not None and plan_idx is not None:
            if P.symmetric:
                occ = np.zeros(source.marginals[0].size)
                np.add.at(occ, plan_idx.reshape(-1), np.repeat(w, source.n_marginals) / source.n_marginals)
                merr = np.full(source.n_marginals, float(np.max(np.abs(occ - source.marginals[0].weights))))
                info["plan_is_multiset"] = True
            else:
                merr = marginal_errors(source, plan_idx, w)
    if "dual_value" in out:
        info.update(lp_primal=value, lp_dual=out["dual_value"], lp_dual_violation=out["dual_violation"],
                    lp_certified_lower=out["certified_lower"])
        if math.isfinite(value):
            info["lp_gap"] = value - out["certified_lower"]
    if delta is not None:
        info["discretisation_correction"] = delta
    certified = out.get("certified_lower", -math.inf)
    abs_floor = float(out.pop("abs_floor", 0.0))  # rounding level of the cost data (optima at 0)
    if status == Status.OPTIMAL:
        gap = value - certified
        if not (math.isfinite(gap) and gap <= max(CERT_REL_TOL * max(abs(value), GAP_ZERO_FLOOR), abs_floor)):
            status = Status.NUMERICAL_ERROR
            message = f"solver reported optimal but the LP certificate gap is {gap:.3g}"
        elif solver in ("lp", "sites") and _covers_supports(P, sites):
            lower = certified  # every coupling of the discrete marginals is a candidate measure
        elif delta is not None:
            lower = certified - delta
            info["continuum_lower_bound"] = lower
        if status == Status.OPTIMAL and not info.get("atoms_within_rows", True):
            message = "optimal point is not a vertex: more atoms than rows (interior-point answer?)"
    elif status == Status.INFEASIBLE:
        message = "no measure on the candidate set matches the moments; add candidates (refine/grid) or check the data"
    else:
        message = f"solver stopped: {res.message}"
    if extra:
        info.update(extra)
    # LOWER only with a certificate towards OT (discrete marginals covered by the candidates, or the
    # 1D hat grid correction); otherwise V_S is MCOT restricted to the candidates: no direction
    bound = Bound.LOWER if math.isfinite(lower) else Bound.ESTIMATE
    return Solution(value=value, status=status, method="mcot", backend=res.backend, lower_bound=lower,
                    upper_bound=math.inf, bound=bound, plan_indices=plan_idx, plan_weights=plan_w,
                    primal_value=value, dual_value=out.get("dual_value", math.nan), marginal_error=merr,
                    wall_time_s=time.perf_counter() - t0, solver_time_s=res.solver_time_s, iterations=res.iterations,
                    message=message, log=res.log, info=info, problem=source)


# =========================================================================== column generation
def _reduced_costs(form: MomentLP, P: MCOTProblem, configs: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        c = P.config_cost(configs)
    r = c - form.dual_function(configs, y)
    return np.where(np.isfinite(r), r, np.inf)


def _boxes(P: MCOTProblem) -> tuple[np.ndarray, np.ndarray]:
    lo = np.stack([P.domain(i)[0] for i in range(P.n_marginals)])
    hi = np.stack([P.domain(i)[1] for i in range(P.n_marginals)])
    return lo, hi  # (N, d)


def _descend(fun, Z: np.ndarray, lo: np.ndarray, hi: np.ndarray, steps: int, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised projected gradient descent with per-start step control (finite-difference gradients)."""
    S, N, d = Z.shape
    nz = N * d
    r = fun(Z)
    step = np.full(S, 0.05 * float(np.max(hi - lo)))
    E = np.eye(nz).reshape(nz, N, d) * h
    for _ in range(steps):
        plus = (Z[:, None] + E[None]).reshape(-1, N, d)
        minus = (Z[:, None] - E[None]).reshape(-1, N, d)
        g = ((fun(np.clip(plus, lo, hi)) - fun(np.clip(minus, lo, hi))) / (2 * h)).reshape(S, N, d)
        g = np.where(np.isfinite(g), g, 0.0)
        gn = np.sqrt(np.einsum("snd,snd->s", g, g)) + 1e-300
        trial = np.clip(Z - (step / gn)[:, None, None] * g, lo, hi)
        rt = fun(trial)
        better = rt < r
        Z = np.where(better[:, None, None], trial, Z)
        r = np.where(better, rt, r)
        step = np.where(better, step * 1.5, step * 0.5)
        if np.all(step < 1e-9 * float(np.max(hi - lo))):
            break
    return Z, r


def mcot_colgen(problem: MCOTProblem, backend: str = "highs", *, refine: int = 1, grid: int | None = None,
                max_iterations: int = 60, n_screen: int = 4000, n_starts: int = 24, n_polish: int = 2,
                n_add: int = 60, descent_steps: int = 40, tol: float = 1e-7, seed: int = 0,
                time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
                max_columns: int = MAX_COLUMNS, init_configs: np.ndarray | None = None, **_: Any) -> Solution:
    """Column generation over continuous positions.

    Initial columns: the coarse candidate grid (``refine``/``grid``) and the configurations
    ``init_configs`` ``(K, N, d)`` if given (e.g. the particles of solver ``"particles"``), plus big-M
    slack columns, so the first master is always feasible.
    """
    from scipy.optimize import minimize

    from ..backends.highs import HighsSession

    if backend != "highs":
        raise MMOTInputError("solver='colgen' warm-starts a HiGHS session; use backend='highs'")
    t0 = time.perf_counter()
    P = problem
    N, d = P.n_marginals, P.dim
    rng = np.random.default_rng(seed)
    sites = [candidate_sites(P, i, refine=refine, grid=grid) for i in range(N)]
    if P.symmetric:
        sites = [sites[0]] * N
    idx = _configurations(P, sites, max_columns)
    costs = _index_costs(P, sites, idx)
    ok = np.isfinite(costs)
    idx, costs = idx[ok], costs[ok]
    configs = _atom_points(sites, idx)
    form = MomentLP(P)
    A = form.columns_from_indices(sites, idx)
    if init_configs is not None:
        extra_z = np.clip(np.asarray(init_configs, float).reshape(-1, N, d), *_boxes(P))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            extra_c = P.config_cost(extra_z)
        fin = np.isfinite(extra_c)
        configs = np.concatenate([configs, extra_z[fin]])
        costs = np.concatenate([costs, extra_c[fin]])
        A = sp.hstack([A, form.columns_from_points(extra_z[fin])]).tocsc()
    M = 1e3 * (1.0 + float(np.max(np.abs(costs), initial=1.0)))
    lp = form.build(costs, A, configs=configs, slack_penalty=M)
    n_slack = lp.n_cols - costs.size
    session = HighsSession(lp, time_limit=time_limit, threads=threads, verbose=verbose, options=dict(COLGEN_HIGHS_OPTIONS))
    all_cfg = [configs]
    all_cost = [costs]
    all_cols = [A]
    lo, hi = _boxes(P)
    h = 1e-6 * float(np.max(hi - lo))
    history: list[dict[str, float]] = []
    status = Status.ITERATION_LIMIT
    res = None
    min_r = -math.inf
    it = 0
    try:
        for it in range(1, max_iterations + 1):
            if time_limit is not None:
                left = time_limit - (time.perf_counter() - t0)
                if left <= 0:
                    status = Status.TIME_LIMIT
                    break
                session.set_time_limit(left)
            res = session.run()
            if res.row_dual is None or res.x is None:
                status = res.status
                break
            y = res.row_dual
            x = res.x
            cand_w = np.concatenate([x[:costs.size], x[costs.size + n_slack:]])
            cfg_all = np.concatenate(all_cfg)

            def fun(Z: np.ndarray) -> np.ndarray:
                return _reduced_costs(form, P, Z, y)
            U = lo + (hi - lo) * rng.random((n_screen, N, d))
            atoms = cfg_all[cand_w > ATOM_TOL]
            jit = atoms[rng.integers(0, atoms.shape[0], size=n_screen // 2)] if atoms.shape[0] else U[:0]
            jit = np.clip(jit + 0.05 * (hi - lo) * rng.standard_normal(jit.shape), lo, hi)
            Z = np.concatenate([U, jit])
            r = fun(Z)
            order = np.argsort(r)
            starts = Z[order[:n_starts]]
            Zd, rd = _descend(fun, starts, lo, hi, descent_steps, h)
            best = np.argsort(rd)[:n_polish]
            pol_z, pol_r = [], []
            for b in best:
                with warnings.catch_warnings():  # inf reduced costs (Coulomb contact) in finite differences
                    warnings.simplefilter("ignore", RuntimeWarning)
                    opt = minimize(lambda z: float(fun(z.reshape(1, N, d))[0]), Zd[b].reshape(-1), method="L-BFGS-B",
                                   bounds=list(zip(np.broadcast_to(lo, (N, d)).reshape(-1),
                                                   np.broadcast_to(hi, (N, d)).reshape(-1))),
                                   options={"maxiter": 50})
                pol_z.append(opt.x.reshape(N, d))
                pol_r.append(float(opt.fun))
            newZ = np.concatenate([Z[order[:n_add]], Zd, np.array(pol_z).reshape(-1, N, d)])
            newr = np.concatenate([r[order[:n_add]], rd, np.array(pol_r)])
            min_r = float(newr.min())
            history.append({"iteration": it, "master": float(res.objective), "min_reduced_cost": min_r})
            scale = max(1.0, abs(float(res.objective)))
            sel = newr < -tol * scale * 1e-3
            if min_r >= -tol * scale or not np.any(sel):  # Lagrangian gap (master - dual - min r) <= tol
                status = Status.CONVERGED
                break
            newZ = np.unique(np.round(newZ[sel], 12), axis=0)
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                nc = P.config_cost(newZ)
            fin = np.isfinite(nc)
            newZ, nc = newZ[fin], nc[fin]
            cols = form.columns_from_points(newZ)
            session.add_columns(nc, np.zeros(nc.size), np.full(nc.size, np.inf), cols)
            all_cfg.append(newZ)
            all_cost.append(nc)
            all_cols.append(cols)
        else:
            res = session.run()
    finally:
        session.close()
    if res is None:
        raise MMOTInputError("column generation made no master solve; raise time_limit")
    # map the final master back: candidate columns = initial + generated (slacks sit between them)
    x = res.x if res.x is not None else None
    c_all = np.concatenate(all_cost)
    A_all = sp.hstack(all_cols).tocsc()
    cfg_all = np.concatenate(all_cfg)
    w = None
    slack = 0.0
    if x is not None:
        k0 = costs.size
        nx = x.size
        w = np.concatenate([x[:k0], x[k0 + n_slack:]])[:c_all.size]
        if w.size < c_all.size:  # columns added after the last solve
            w = np.concatenate([w, np.zeros(c_all.size - w.size)])
        slack = float(x[k0:k0 + n_slack].sum()) if nx >= k0 + n_slack else 0.0
    cert = form.certificate(c_all, A_all, w, res.row_dual)
    out: dict[str, Any] = {"status": Status.OPTIMAL if res.status == Status.OPTIMAL else res.status}
    out.update(cert)
    if w is not None:
        keep = np.flatnonzero(w > ATOM_TOL)
        out.update(atom_columns=keep, atom_weights=w[keep], slack_mass=slack)
    lp_final = StandardLP(c=c_all, A=A_all, row_lower=form.row_lower, row_upper=form.row_upper,
                          col_lower=np.zeros(c_all.size), col_upper=np.full(c_all.size, np.inf), name="mcot_colgen",
                          meta={"n_candidates": int(c_all.size)})
    dual_est = cert.get("dual_value", math.nan) + min(0.0, min_r) if math.isfinite(min_r) else -math.inf
    extra = {"colgen_iterations": it, "colgen_status": status.value, "last_min_reduced_cost": min_r,
             "dual_bound_estimate": dual_est, "pricing_certified": False, "history": history}
    sol = _lp_solution(P, None, form, lp_final, res, out, sites, None, None, t0, 0.0, "colgen", atoms=cfg_all,
                       extra=extra)
    final = sol.status
    if slack > SLACK_TOL:
        final = Status.INFEASIBLE
    elif sol.status == Status.OPTIMAL:
        final = Status.CONVERGED if status == Status.CONVERGED else status
    elif sol.status == Status.NUMERICAL_ERROR and status != Status.CONVERGED:
        final = status  # not final anyway: report why it stopped, the certificate gap stays in the message
    from dataclasses import replace
    msg = "; ".join(m for m in (sol.message, "pricing found no improving atom" if status == Status.CONVERGED
                                else f"column generation stopped: {status.value}") if m)
    return replace(sol, status=final, iterations=it, message=msg)


# =========================================================================== penalised particles (6.2)
def _cost_gradient(P: MCOTProblem, Z: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    K, N, d = Z.shape
    c = P.config_cost(Z)
    E = np.eye(N * d).reshape(N * d, N, d) * h
    plus = P.config_cost((Z[:, None] + E[None]).reshape(-1, N, d)).reshape(K, N * d)
    minus = P.config_cost((Z[:, None] - E[None]).reshape(-1, N, d)).reshape(K, N * d)
    return c, ((plus - minus) / (2 * h)).reshape(K, N, d)


class PenalisedObjective:
    r"""The penalised functional of the paper's section 6.2 and its gradient, on a flat vector.

    ``v = (positions (K, N, d) flattened, a (K,))`` with weights ``p = softmax(a)``;
    ``F = sum_k p_k c(z_k) + penalty * |sum_k p_k a(z_k) - b|^2`` over all rows but the mass row.
    Gradients: analytic through the families (``gradient``), central differences for the cost.
    """

    def __init__(self, problem: MCOTProblem, n_particles: int, penalty: float) -> None:
        P = problem
        self.P, self.K, self.lam = P, int(n_particles), float(penalty)
        self.form = MomentLP(P)
        self.rows = np.flatnonzero(np.arange(self.form.n_rows) != self.form.mass_row)
        self.b = self.form.row_lower[self.rows]
        lo, hi = _boxes(P)
        self.h = 1e-7 * float(np.max(hi - lo))
        self.offsets = np.cumsum([0] + [f.n_functions for f in (P.families[:1] if P.symmetric else P.families)])

    def split(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        K, N, d = self.K, self.P.n_marginals, self.P.dim
        return v[:K * N * d].reshape(K, N, d), v[K * N * d:]

    def __call__(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        P, lam, offsets = self.P, self.lam, self.offsets
        N, d = P.n_marginals, P.dim
        Z, a = self.split(v)
        p = np.exp(a - a.max())
        p /= p.sum()
        c, gc = _cost_gradient(P, Z, self.h)
        Acol = self.form.dense_columns(Z)[self.rows]  # (R, K)
        R = Acol @ p - self.b
        f = float(p @ c + lam * R @ R)
        u = 2 * lam * R  # dF/d(moment)
        g_p = c + u @ Acol
        g_a = p * (g_p - p @ g_p)
        gZ = p[:, None, None] * gc
        for i in range(N):  # moment rows: chain rule through the families
            fam = P.families[i]
            blk = 0 if P.symmetric else i
            ui = u[offsets[blk]:offsets[blk + 1]]
            scale = 1.0 / N if P.symmetric else 1.0
            gZ[:, i, :] += scale * p[:, None] * np.einsum("knd,n->kd", fam.gradient(Z[:, i, :]), ui)
        if P.martingale is not None:
            chi = P.martingale
            L = chi.n_functions
            um = u[offsets[-1]:offsets[-1] + L * d].reshape(L, d)
            val = chi.evaluate(Z[:, 0, :])  # (K, L)
            gZ[:, 1, :] += p[:, None] * (val @ um)  # d/dy_a: chi_l(x) u_{l,a}
            gx = chi.gradient(Z[:, 0, :])  # (K, L, d)
            gZ[:, 0, :] += p[:, None] * np.einsum("kld,la,ka->kd", gx, um, Z[:, 1, :])
        return f, np.concatenate([gZ.reshape(-1), g_a])


def mcot_particles(problem: MCOTProblem, backend: str = "highs", *, n_particles: int | None = None,
                   penalty: float = 100.0, max_iterations: int = 1000, seed: int = 0, init: np.ndarray | None = None,
                   polish: bool = False, polish_iterations: int = 60, tol: float = 1e-10,
                   time_limit: float | None = None, **_: Any) -> Solution:
    r"""Penalised gradient on positions and weights (paper, section 6.2).

    .. math::
        F(z, a) = \sum_k p_k c(z_k) + \frac1\eta \sum_r \Big(\sum_k p_k a_r(z_k) - b_r\Big)^2,
        \qquad p = \operatorname{softmax}(a),\ 1/\eta = \text{penalty},

    over ``K = n_particles`` particles (default: the Tchakaloff bound), minimised by L-BFGS-B with
    positions kept in the domain box.  The value is an estimate (constraints hold only up to the
    penalty).  With ``polish=True`` the particles seed column generation over continuous positions
    (:func:`mcot_colgen`, at most ``polish_iterations`` rounds, initial master = the particles plus
    the coarse grid): the moments then hold exactly, and when it converges ``value`` is the polished
    MCOT value (``info["penalised_value"]`` keeps the particle cost, ``info["polished_*"]`` the rest).
    An LP on the particles alone is almost always infeasible (the penalised optimum misses the
    moments by about ``1/penalty``), which is why the former weights-only polish never succeeded.
    """
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    P = problem
    if P.moment_bound is not None:
        raise MMOTInputError("solver='particles' does not handle the moment bound A; use solver='auto'")
    N, d = P.n_marginals, P.dim
    K = int(n_particles or P.tchakaloff_bound())
    obj = PenalisedObjective(P, K, penalty)
    form, rows, b, lam = obj.form, obj.rows, obj.b, obj.lam
    lo, hi = _boxes(P)
    rng = np.random.default_rng(seed)
    Z0 = lo + (hi - lo) * rng.random((K, N, d)) if init is None else np.asarray(init, float).reshape(K, N, d)
    F, split = obj, obj.split

    v0 = np.concatenate([Z0.reshape(-1), np.zeros(K)])
    bounds = list(zip(np.broadcast_to(lo, (K, N, d)).reshape(-1), np.broadcast_to(hi, (K, N, d)).reshape(-1)))
    bounds += [(-30.0, 30.0)] * K
    opts = {"maxiter": int(max_iterations), "ftol": tol, "gtol": 1e-10, "maxfun": 4 * int(max_iterations)}
    trace: list[float] = []

    def F_traced(v: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = F(v)
        trace.append(f)
        return f, g
    opt = minimize(F_traced, v0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    Z, a = split(opt.x)
    p = np.exp(a - a.max())
    p /= p.sum()
    cost_val = float(p @ P.config_cost(Z))
    Acol = form.dense_columns(Z)
    resid = float(np.max(np.abs(Acol[rows] @ p - b)))
    info: dict[str, Any] = {"solver": "particles", "n_particles": K, "penalty": lam, "penalised_objective": float(opt.fun),
                            "moment_residual": resid, "atoms": Z, "atom_weights": p, "trace": trace,
                            "optimizer_message": str(opt.message), "n_rows": form.n_rows}
    status = Status.CONVERGED if opt.success else Status.ITERATION_LIMIT
    value, message = cost_val, f"penalised particles (1/eta={lam:g}); moment residual {resid:.2e}"
    if polish:
        # exact moments: column generation over continuous positions started from the particles (the
        # particles alone rarely carry the exact moments: an LP on them only is infeasible)
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)
        pol = mcot_colgen(P, backend, init_configs=Z, seed=seed, time_limit=left, max_iterations=polish_iterations)
        info.update(polished_value=pol.value, polished_status=pol.status.value,
                    polished_n_atoms=pol.info.get("n_atoms"), polished_moment_residual=pol.info.get("moment_residual"),
                    polished_dual_bound_estimate=pol.info.get("dual_bound_estimate"),
                    polished_atoms=pol.info.get("atoms"), polished_atom_weights=pol.info.get("atom_weights"),
                    penalised_value=cost_val)
        if pol.status.ok:
            value, status = pol.value, pol.status
            message = (f"particles polished by column generation: exact moments (residual "
                       f"{pol.info.get('moment_residual', math.nan):.1e}), {pol.info.get('n_atoms')} atoms; "
                       f"penalised particle cost {cost_val:.6g}")
        else:
            message += f"; polishing stopped: {pol.status.value} ({pol.message})"
    return Solution(value=value, status=status, method="mcot", backend="scipy" if not polish else backend,
                    bound=Bound.ESTIMATE, primal_value=value, wall_time_s=time.perf_counter() - t0,
                    iterations=int(opt.nit), message=message, info=info)


# =========================================================================== Metropolis-Hastings (6.1)
def _cell_pair_cost(P: MCOTProblem, fx: Cells, fy: Cells) -> np.ndarray:
    """``c~(i, j)``: minimum of the cost over cell ``i`` x cell ``j`` (exact for non-decreasing radial costs)."""
    def boxes(f: Cells) -> tuple[np.ndarray, np.ndarray]:
        idx = np.stack(np.unravel_index(np.arange(f.n_functions), f.shape), axis=1)
        lo = np.stack([f.edges[a][idx[:, a]] for a in range(f.dim)], axis=1)
        hi = np.stack([f.edges[a][idx[:, a] + 1] for a in range(f.dim)], axis=1)
        return lo, hi
    lx, hx = boxes(fx)
    ly, hy = boxes(fy)
    gap = np.maximum(0.0, np.maximum(ly[None, :, :] - hx[:, None, :], lx[:, None, :] - hy[None, :, :]))
    r = np.sqrt(np.einsum("ijk,ijk->ij", gap, gap))
    if isinstance(P.cost, PairCost) and hasattr(P.cost, "of_distance") and P.cost.kind in ("power", "coulomb",
                                                                                         "soft_coulomb", "yukawa"):
        if P.cost.kind == "power":
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                return P.cost.of_distance(r)
    raise MMOTInputError("solver='metropolis' needs a power cost |x - y|^p (cell-pair minimum in closed form); "
                         "use solver='auto' for other costs")


def mcot_metropolis(problem: MCOTProblem, backend: str = "highs", *, n_cells_state: int | None = None,
                    beta: float = 1e-4, n_steps: int = 2000, seed: int = 0, time_limit: float | None = None,
                    **_: Any) -> Solution:
    """Metropolis-Hastings over ``K`` distinct cell pairs (paper, Algorithm 6.1; two marginals, cells).

    The state's weights solve the cells MCOT LP restricted to the state (HiGHS).  Returns the lowest
    cost met; the exact cells-MCOT value (the same LP over all cell pairs, a certified lower bound
    of OT since ``c~ <= c`` on every cell pair) is ``info["exact_cells_value"]``; the status is
    ``CONVERGED`` only when the chain reached it.
    """
    t0 = time.perf_counter()
    P = problem
    if P.n_marginals != 2 or not all(isinstance(f, Cells) for f in P.families) or P.martingale is not None:
        raise MMOTInputError("solver='metropolis' needs two marginals with 'cells:n' test functions; "
                             "use solver='auto' for other families")
    fx, fy = P.families
    C = _cell_pair_cost(P, fx, fy)
    bx, by = P.targets()
    nx, ny = C.shape
    K = int(n_cells_state or min(nx * ny, 3 * max(nx, ny) + 2))
    rng = np.random.default_rng(seed)

    def lp_value(state: np.ndarray) -> tuple[float, np.ndarray | None]:
        i, j = state // ny, state % ny
        k = state.size
        A = sp.vstack([sp.csr_matrix((np.ones(k), (i, np.arange(k))), shape=(nx, k)),
                       sp.csr_matrix((np.ones(k), (j, np.arange(k))), shape=(ny, k))]).tocsc()
        rhs = np.concatenate([bx, by])
        lp = StandardLP(c=C[i, j], A=A, row_lower=rhs, row_upper=rhs, col_lower=np.zeros(k),
                        col_upper=np.full(k, np.inf))
        res = solve_standard_lp(lp, backend)
        if res.status != Status.OPTIMAL:
            return math.inf, None
        return float(res.objective), res.x

    # initial state: inverse-transform coupling with a random permutation of nu's cells (paper 6.1.1)
    perm = rng.permutation(ny)
    Fx = np.concatenate([[0.0], np.cumsum(bx)])
    Fy = np.concatenate([[0.0], np.cumsum(by[perm])])
    q = np.unique(np.concatenate([Fx, Fy]))
    mid = (q[:-1] + q[1:]) / 2
    mid = mid[np.diff(q) > 1e-15]
    ii = np.clip(np.searchsorted(Fx, mid) - 1, 0, nx - 1)
    jj = perm[np.clip(np.searchsorted(Fy, mid) - 1, 0, ny - 1)]
    state = np.unique(ii * ny + jj)
    free = np.setdiff1d(np.arange(nx * ny), state)
    state = np.concatenate([state, rng.choice(free, size=max(0, K - state.size), replace=False)])
    cur, _ = lp_value(state)
    if not math.isfinite(cur):
        raise MMOTInputError("Metropolis-Hastings: the initial configuration does not satisfy the moments; "
                             "use solver='auto'")
    best, best_state = cur, state.copy()
    occupied = np.zeros(nx * ny, dtype=bool)
    occupied[state] = True

    def free_neighbours(s: int) -> np.ndarray:
        i, j = divmod(int(s), ny)
        cand = [(i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)]
        out = [a * ny + b for a, b in cand if 0 <= a < nx and 0 <= b < ny and not occupied[a * ny + b]]
        return np.array(out, dtype=int)

    trace = [cur]
    accepted = 0
    step = 0
    for step in range(1, n_steps + 1):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        l = int(rng.integers(state.size))
        fn = free_neighbours(state[l])
        if fn.size == 0:
            continue
        new = int(rng.choice(fn))
        trial = state.copy()
        trial[l] = new
        val, _ = lp_value(trial)
        if not math.isfinite(val):
            continue
        occupied[state[l]] = False
        occupied[new] = True
        n_new = free_neighbours(new).size
        occupied[new] = False
        occupied[state[l]] = True
        ratio = math.exp(-(val - cur) / beta) * fn.size / max(n_new, 1) if val > cur else math.inf
        if rng.random() < min(1.0, ratio):
            occupied[state[l]] = False
            occupied[new] = True
            state, cur = trial, val
            accepted += 1
            if cur < best:
                best, best_state = cur, state.copy()
        trace.append(cur)
    _, w = lp_value(best_state)
    keep = w > ATOM_TOL
    exact, _ = lp_value(np.arange(nx * ny))  # the cells-MCOT optimum: all cell pairs
    info = {"solver": "metropolis", "n_state": int(K), "beta": beta, "steps": step, "accepted": accepted,
            "trace": trace, "atom_cells": np.stack([best_state[keep] // ny, best_state[keep] % ny], axis=1),
            "atom_weights": w[keep], "exact_cells_value": exact, "excess_over_exact": best - exact}
    if best - exact <= CERT_REL_TOL * max(abs(exact), GAP_ZERO_FLOOR):
        status = Status.CONVERGED
    else:
        status = Status.ITERATION_LIMIT if step >= n_steps else Status.TIME_LIMIT
    return Solution(value=best, status=status, method="mcot",
                    backend=backend, bound=Bound.ESTIMATE, primal_value=best, wall_time_s=time.perf_counter() - t0,
                    iterations=step, message="lowest cells-MCOT cost met by Metropolis-Hastings", info=info)


# =========================================================================== entry point
#: Options of each solver (``solve_mcot`` passes only these; ``moments``/``families``/``n_functions``/
#: ``symmetric`` are read before, for an MMOTProblem).
SOLVER_OPTIONS: dict[str, frozenset[str]] = {
    "lp": frozenset({"candidates", "refine", "grid", "max_columns", "time_limit", "threads", "verbose",
                     "memory_limit_bytes", "pyomo_solver", "solver_options"}),
    "sites": frozenset({"candidates", "refine", "grid", "max_iterations", "n_add", "time_limit", "threads",
                        "verbose"}),
    "colgen": frozenset({"refine", "grid", "max_iterations", "n_screen", "n_starts", "n_polish", "n_add",
                         "descent_steps", "tol", "seed", "time_limit", "threads", "verbose", "max_columns"}),
    "particles": frozenset({"n_particles", "penalty", "max_iterations", "seed", "init", "polish",
                            "polish_iterations", "tol", "time_limit"}),
    "metropolis": frozenset({"n_cells_state", "beta", "n_steps", "seed", "time_limit"}),
}
SOLVER_OPTIONS["auto"] = SOLVER_OPTIONS["lp"] | SOLVER_OPTIONS["sites"]


def mcot_candidates(problem: MCOTProblem, backend: str = "highs", *, solver: str = "auto",
                    source: MMOTProblem | None = None, candidates: Any = None, refine: int = DEFAULT_REFINE,
                    grid: int | None = None, max_columns: int = MAX_COLUMNS, **options: Any) -> Solution:
    """The MCOT LP over candidate sites: full LP (``"lp"``), site column generation (``"sites"``) or ``"auto"``.

    ``"auto"`` builds the full LP up to :data:`AUTO_LP_COLUMNS` candidate columns (and on a
    non-HiGHS backend) and otherwise runs column generation over the same candidate tuples
    (:func:`~.mcot_sites.mcot_sites`): same LP, same value, same bound.
    """
    from .mcot_sites import mcot_sites

    P = problem
    sites = _candidate_list(P, candidates, refine, grid)
    if solver == "auto":
        count = candidate_count(P, sites)
        solver = "lp" if backend != "highs" or count <= min(AUTO_LP_COLUMNS, max_columns) else "sites"
    if solver == "lp":
        return mcot_lp(P, backend, source=source, sites=sites, max_columns=max_columns,
                       **{k: v for k, v in options.items() if k in SOLVER_OPTIONS["lp"]})
    delta = _discretisation_correction(P, sites) if source is None else None
    return mcot_sites(P, backend, sites=sites, source=source, delta=delta,
                      **{k: v for k, v in options.items() if k in SOLVER_OPTIONS["sites"]})


def _when(*solvers: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("solver", solvers),)


#: Options of ``method="mcot"`` (alias ``"moments"``).  ``solver`` picks the MCOT algorithm; options of
#: one algorithm given with another are an error.
MCOT_OPTIONS = OptionSchema("mcot", common_options(
    time_limit="wall-clock limit in seconds (all solvers)",
    threads="HiGHS threads (solver lp, colgen; no effect for particles, metropolis)",
    verbose="solver logs (solver lp, colgen)",
    memory_limit_gb="refuse candidate LPs estimated above this many GiB (solver lp)") + (
    Option("solver", "choice", "auto", "MCOT algorithm: LP over candidate sites ('auto': full LP when small, else "
           "column generation over candidate tuples, 'sites'), column generation over continuous positions, penalised particles (estimate) or Metropolis-Hastings on cells (estimate)", choices=SOLVERS),
    Option("moments", "object", None, "test functions when the problem is a discrete MMOTProblem: a spec such "
           "as 'hats:20', 'cells:n', 'relu:n', 'monomials:k', a TestFamily, or one per marginal (default "
           "'hats:<n_functions>')", aliases=("families",), domain_text="a spec string, a TestFamily or a list"),
    Option("n_functions", "int", 10, "test functions of the default family for a discrete MMOTProblem", low=1),
    Option("symmetric", "bool", None, "averaged (symmetric) moment constraint for a discrete MMOTProblem "
           "(default: when the problem is symmetric)"),
    Option("candidates", "object", None, "candidate sites per marginal (one array for all, or a list); default "
           "the marginal's points or a grid refining the family's mesh", only=_when("auto", "lp", "sites"),
           domain_text="an array of sites or a list of them"),
    Option("refine", "int", None, "sub-intervals of each mesh interval in the candidate grid of a density",
           low=1, only=_when("auto", "lp", "sites", "colgen"),
           default_by=("solver", (("auto", DEFAULT_REFINE), ("lp", DEFAULT_REFINE), ("sites", DEFAULT_REFINE),
                                  ("colgen", 1)))),
    Option("grid", "int", None, "equispaced candidate points per axis instead of the refined mesh", low=1,
           only=_when("auto", "lp", "sites", "colgen")),
    Option("max_columns", "int", MAX_COLUMNS, "largest candidate LP built (columns)", low=1,
           only=_when("auto", "lp", "colgen")),
    Option("pyomo_solver", "str", "appsi_highs", LP_BACKEND_OPTIONS[0].doc,
           only=(("backend", ("pyomo",)), ("solver", ("auto", "lp")))),
    Option("solver_options", "dict", None, "options of the candidate LP's solver (HiGHS names, checked; default "
           "primal simplex) or of the Pyomo solver", only=_when("auto", "lp")),
    Option("max_iterations", "int", None, "column-generation rounds (sites, colgen) or L-BFGS-B iterations "
           "(particles)", low=1, only=_when("auto", "sites", "colgen", "particles"),
           default_by=("solver", (("auto", 200), ("sites", 200), ("colgen", 60), ("particles", 1000)))),
    Option("n_screen", "int", 4000, "random positions screened per pricing round", low=1, only=_when("colgen")),
    Option("n_starts", "int", 24, "descent starts per pricing round", low=1, only=_when("colgen")),
    Option("n_polish", "int", 2, "scipy polishes per pricing round", low=0, only=_when("colgen")),
    Option("n_add", "int", None, "columns added per round (colgen: screened positions; sites: most negative "
           "tuples, default chosen from the sizes)", low=0, only=_when("auto", "sites", "colgen"),
           default_by=("solver", (("auto", None), ("sites", None), ("colgen", 60)))),
    Option("descent_steps", "int", 40, "projected-gradient steps per start", low=0, only=_when("colgen")),
    Option("init_configs", "object", None, "initial atom configurations, shape (K, N, d), that seed the master "
           "(the particles' polish passes its particles here)", only=_when("colgen"),
           domain_text="an array of shape (K, N, d)"),
    Option("tol", "float", None, "stopping tolerance: colgen stops when the most negative reduced cost is above "
           "-tol times the cost scale; particles passes it to L-BFGS-B as ftol (relative objective decrease)",
           low=0, low_open=True, only=_when("colgen", "particles"),
           default_by=("solver", (("colgen", 1e-7), ("particles", 1e-10)))),
    Option("seed", "int", 0, "random seed", low=0, only=_when("colgen", "particles", "metropolis")),
    Option("n_particles", "int", None, "particles K (default: the Tchakaloff bound)", low=1,
           only=_when("particles")),
    Option("penalty", "float", 100.0, "weight 1/eta of the squared moment residual", low=0, low_open=True,
           only=_when("particles")),
    Option("init", "object", None, "initial positions, shape (K, N, d)", only=_when("particles"),
           domain_text="an array of shape (K, N, d)"),
    Option("polish", "bool", False, "continue from the final particles by continuous column generation "
           "(moments then hold to rounding; the value stays an estimate)", only=_when("particles")),
    Option("polish_iterations", "int", 60, "column-generation rounds of the polish", low=1,
           only=_when("particles")),
    Option("n_cells_state", "int", None, "cell pairs in the state (default min(nx ny, 3 max(nx, ny) + 2))",
           low=1, only=_when("metropolis")),
    Option("beta", "float", 1e-4, "temperature of the acceptance rule", low=0, low_open=True,
           only=_when("metropolis")),
    Option("n_steps", "int", 2000, "Metropolis steps", low=1, only=_when("metropolis")),
), doc="moment-constrained OT (MCOT): a lower bound of the OT value (LP, column generation, particles, "
       "Metropolis)")


@declares(MCOT_OPTIONS)
def solve_mcot(problem: MMOTProblem | MCOTProblem, backend: str = "highs", *, solver: str = "auto",
               **options: Any) -> Solution:
    """Moment-constrained OT: method ``"mcot"`` of :func:`mmot_models.solve` (a LOWER bound).

    Parameters
    ----------
    problem : MMOTProblem or MCOTProblem
        A discrete problem is relaxed with ``moments`` (spec such as ``"hats:20"``, a
        :class:`~mmot_models.moment_functions.TestFamily`, or one per marginal; default
        ``"hats:<n_functions>"``, ``n_functions=10``) on the box of each marginal's support, with the
        averaged constraint when the problem is symmetric; candidates are its sites, so ``value``
        is certified ``<=`` the exact discrete LP value.
    solver : ``"auto"`` | ``"lp"`` | ``"sites"`` | ``"colgen"`` | ``"particles"`` | ``"metropolis"``
        ``"auto"`` (default): the candidate LP, built in full when it has at most
        :data:`AUTO_LP_COLUMNS` columns, else solved by column generation over the candidate tuples
        with exact pricing (``"sites"``: same value and certificate).  ``"colgen"`` on an
        :class:`MCOTProblem` moves atoms continuously; on an ``MMOTProblem`` (whose candidates are its
        sites) it is ``"sites"``.
    **options
        ``lp``: ``candidates``, ``refine``, ``grid``, ``max_columns``, ``time_limit``, ``threads``,
        ``verbose``, ``solver_options``; ``sites``: ``candidates``, ``refine``, ``grid``,
        ``max_iterations``, ``n_add``; ``colgen``: ``max_iterations``, ``n_screen``,
        ``n_starts``, ``tol``, ``seed``; ``particles``: ``n_particles``, ``penalty``,
        ``max_iterations``, ``tol``, ``seed``, ``polish``, ``polish_iterations``; ``metropolis``:
        ``n_steps``, ``beta``, ``seed`` (declared in :data:`MCOT_OPTIONS`; an option of another
        solver, or an unknown one, is an error).
    """
    opts = dict(options)
    P, source = _source(problem, opts)
    for k in ("memory_limit_gb", "eps", "k"):
        opts.pop(k, None)
    if solver not in SOLVERS:
        raise MMOTInputError(f"unknown MCOT solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if source is not None and solver == "colgen":
        solver = "sites"  # the candidates of a discrete problem are its sites: generate tuples of them
    if solver in ("auto", "lp", "sites"):
        return mcot_candidates(P, backend, solver=solver, source=source,
                               **{k: v for k, v in opts.items() if k in SOLVER_OPTIONS[solver]})
    if source is not None:
        raise MMOTInputError(f"solver={solver!r} moves atoms in a continuous domain and needs an MCOTProblem; "
                             "for an MMOTProblem use solver='auto' (the default)")
    fn = {"colgen": mcot_colgen, "particles": mcot_particles, "metropolis": mcot_metropolis}[solver]
    return fn(P, backend, **opts)
