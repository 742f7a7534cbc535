"""MCOT on a finite candidate set (method ``"mcot"``, solver ``"lp"``): candidate sites per marginal
(the marginal's own points, or a grid refining the family's mesh) and the MCOT LP over their
products (:class:`~mmot_models.formulations.moments.MomentLP`) on HiGHS or Pyomo, with its
certificate (see :mod:`mmot_models.algorithms.moments` for what the value bounds)."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..costs import PairCost, Power
from ..errors import MMOTInputError, ProblemTooLargeError
from ..formulations.moments import MomentLP
from ..formulations.multisets import multiset_count, multisets
from ..formulations.standard_lp import StandardLP
from ..moment_functions import Hats1D, MCOTProblem, config_cost
from ..problem import Marginal, MMOTProblem
from ..solution import CERT_REL_TOL, GAP_ZERO_FLOOR, Bound, Solution, Status, assemble_solution, marginal_errors
from .lp import solve_standard_lp

__all__ = ["candidate_sites", "candidate_count", "mcot_lp", "CERT_REL_TOL", "DEFAULT_REFINE", "DEFAULT_GRID",
           "MAX_COLUMNS", "AUTO_LP_COLUMNS"]


#: Relative LP gap (primal vs certified dual) below which the LP answer counts as optimal.
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
    out = form.read(lp, res)
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
    return assemble_solution(termination=status, value=value, method="mcot", backend=res.backend, lower_bound=lower,
                    upper_bound=math.inf, bound=bound, plan_indices=plan_idx, plan_weights=plan_w,
                    primal_value=value, dual_value=out.get("dual_value", math.nan), marginal_error=merr,
                    wall_time_s=time.perf_counter() - t0, solver_time_s=res.solver_time_s, iterations=res.iterations,
                    message=message, log=res.log, info=info, problem=source)
