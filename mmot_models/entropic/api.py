r"""``method="entropic"``: multi-marginal Sinkhorn on the package's problems, returned as a :class:`Solution`.

.. math::
    \min_{\gamma \in \Pi(\mu_1, \dots, \mu_N)} \langle c, \gamma\rangle
    + \varepsilon\, \mathrm{KL}(\gamma \,|\, \mu_1 \otimes \cdots \otimes \mu_N)

Engines (chosen automatically, see :mod:`.kernels`): pair cost with ``N = 2`` (matrix-vector) or
``N = 3`` (matrix-matrix) on dense kernels when they fit in ``dense_limit_bytes``, otherwise the
multiscale sparse solver (:mod:`.multiscale`); ``N >= 4`` or N-ary costs use the full kernel tensor
(refused above ``max_tensor_entries``).

What the :class:`Solution` carries
----------------------------------
* ``value`` -- the transport cost :math:`\langle c, \gamma_\varepsilon\rangle` of the computed
  (untruncated) plan, ``bound = ESTIMATE`` (it is neither above nor below the LP optimum in general:
  the plan's marginals are only within ``tol``).
* ``upper_bound`` -- cost of the plan rounded to exact marginals (:func:`.plan.rounded_plan`: scaled
  down, mixed, deficits coupled by a quantile coupling, rounding errors charged): a certified upper
  bound on the discrete optimum (``inf`` if unavailable: every coupling tried meets the Coulomb
  diagonal, the time limit came first, or the result failed the plan check below).
* ``lower_bound`` -- the dual value of the potentials with the last one c-transformed
  (:func:`.plan.ctransform_lower_bound`), certified.  When ``prod l_i`` exceeds
  ``lower_bound_max_entries`` it is computed by pruned search instead for three 1D marginals with a
  Coulomb or soft Coulomb cost (:func:`.lower_bound.pruned_ctransform_lower_bound`, same value,
  ``info["lower_bound_search"]``), else ``-inf``.
* ``plan_indices``/``plan_weights`` -- the plan's largest entries, dropping at most
  ``plan_truncate_mass`` (default ``min(1e-9, tol/10)``) of mass, at most ``max_plan_entries``
  entries; ``marginal_error`` is the max-norm residual of this returned plan (per the Solution
  contract), ``info["marginal_l1_errors"]`` the L1 errors of the full plan that the stopping rule uses.
  A ``CONVERGED`` result must also pass :func:`mmot_models.solution.certify_plan` on the plan it
  returns (``info["plan_max_marginal_l1_error"]``), else it is ``NUMERICAL_ERROR``.
* ``potentials`` -- ``u_i`` (the same array N times in the symmetric variant).
* ``info`` -- ``eps``, ``regularized_objective`` (``<c,gamma> + eps KL``), ``dual_objective``
  (regularised dual), ``entropy_kl``, iterations per eps stage, absorptions, engine, and in 1D the
  co-motion estimate ``comotion`` (``(N-1, l)``: conditional quantiles of the pair density
  ``P_01(x, .)`` at levels ``(k - 1/2)/(N-1)`` for equal marginals -- the sorted values
  ``f_2(x) <= ... <= f_N(x)`` -- or conditional medians of ``P_0k`` otherwise).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..options import Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status, Termination, assemble_solution, marginal_errors
from .kernels import PairEngine, TensorEngine, full_cost_tensor
from .plan import ctransform_lower_bound, extract_plan, rounded_upper_bound
from .sinkhorn import SinkhornOptions, run_sinkhorn

__all__ = ["solve_entropic", "default_eps", "cost_scale", "ENTROPIC_OPTIONS"]

#: Default regularisation relative to the cost scale (see :func:`default_eps`).
DEFAULT_EPS_RELATIVE = 0.01

#: Options of ``method="entropic"`` (``tol`` here is the L1 marginal error, ``solver`` the inner solver).
ENTROPIC_OPTIONS = OptionSchema("entropic", common_options(
    unused=("threads", "memory_limit_gb", "memory_limit_bytes"),
    why="numpy solver; its dense/sparse choice follows dense_limit_bytes",
    time_limit="wall-clock limit in seconds (status time_limit when hit)",
    verbose="progress bar and stage log") + (
    Option("eps", "float", None, "regularisation in cost units (default 1% of the cost spread)", low=0, low_open=True),
    Option("tol", "float", 1e-6, "stop when every marginal of the plan has L1 error <= tol at the target eps",
           low=0, low_open=True),
    Option("max_iter", "int", 20000, "limit on Sinkhorn sweeps, all eps stages together", low=1),
    Option("symmetric", "bool", None, "single-potential variant (default: equal marginals on a dense engine)"),
    Option("multiscale", "bool", None, "coarse-to-fine sparse solver (default: when the dense kernels exceed "
           "dense_limit_bytes)"),
    Option("eps_start", "float", None, "first eps of the eps-scaling (default: the cost spread)", low=0,
           low_open=True),
    Option("eps_factor", "float", 0.5, "eps-scaling factor between stages", low=0, high=1, low_open=True,
           high_open=True),
    Option("stage_tol", "float", 1e-3, "L1 marginal error at which intermediate eps stages stop", low=0,
           low_open=True),
    Option("absorb_threshold", "float", 50.0, "absorb the scalings into the kernels when max |log b| exceeds this",
           low=0, low_open=True),
    Option("damping", "float", None, "update damping of the symmetric variant (default 1/N)", low=0,
           low_open=True),
    Option("overrelax", "float", 1.0, "over-relaxation omega of the general variant (1 = plain Sinkhorn)",
           low=0, high=2, low_open=True, high_open=True),
    Option("solver", "choice", "auto", "inner solver on the sparse multiscale levels: Sinkhorn sweeps or damped "
           "Newton ('auto': Newton for N = 3 multiscale); dense engines always use Sinkhorn",
           choices=("auto", "sinkhorn", "newton")),
    Option("plan", "bool", True, "return the sparse plan"),
    Option("plan_truncate_mass", "float", None, "mass the returned plan may drop (default min(1e-9, tol/10))",
           low=0),
    Option("max_plan_entries", "int", 5_000_000, "most entries of the returned plan", low=1),
    Option("upper_bound", "bool", True, "compute the rounded-plan certified upper bound"),
    Option("lower_bound_max_entries", "float", 2e8, "compute the c-transform lower bound by enumeration when "
           "prod l_i is at most this (above: pruned search for 1D N = 3 Coulomb-type costs, else none)", low=0),
    Option("max_tensor_entries", "float", 2e7, "size limit of the full-tensor fallback (N >= 4, N-ary costs)",
           low=0, low_open=True),
    Option("dense_limit_bytes", "float", None, "dense kernels above this go multiscale (default min(4 GiB, 30% "
           "of the available memory))", low=0, low_open=True),
    Option("multiscale_options", "dict", None, "keyword options of the multiscale solver "
           "(mmot_models.entropic.multiscale.solve_multiscale)"),
    Option("progress", "bool", None, "progress bar (default: on a terminal after 5 s)"),
), doc="entropic multi-marginal Sinkhorn (numpy): estimate with certified bounds")

#: After the time limit, the value (about two Sinkhorn sweeps of work) is still computed when two
#: sweeps are estimated to take at most this fraction of the limit (or POST_LIMIT_GRACE_MIN_S).
POST_LIMIT_GRACE_FRACTION = 0.5
POST_LIMIT_GRACE_MIN_S = 1.0


def cost_scale(problem: MMOTProblem, sample: int = 400, seed: int = 0) -> float:
    """Spread of the pair cost (0.9-quantile minus minimum of finite values on a point sample)."""
    rng = np.random.default_rng(seed)
    if problem.is_pair_cost:
        a, b = problem.marginals[0], problem.marginals[1]
        ia = rng.choice(a.size, min(sample, a.size), replace=False, p=None)
        ib = rng.choice(b.size, min(sample, b.size), replace=False)
        C = problem.cost.matrix(a.points[ia], b.points[ib])
    else:
        idx = np.stack([rng.integers(0, s, 20000) for s in problem.sizes], axis=1)
        C = problem.tuple_costs(idx)
    C = C[np.isfinite(C)]
    if C.size == 0:
        raise MMOTInputError("every sampled cost is infinite; the entropic solver needs finite costs somewhere")
    s = float(np.quantile(C, 0.9) - C.min())
    return s if s > 0 else max(abs(float(C.max())), 1.0)


def default_eps(problem: MMOTProblem) -> float:
    """``DEFAULT_EPS_RELATIVE`` times :func:`cost_scale`."""
    return DEFAULT_EPS_RELATIVE * cost_scale(problem)


def _dense_bytes(problem: MMOTProblem, symmetric: bool) -> int:
    s = problem.sizes
    N = problem.n_marginals
    if N == 2:
        return 2 * 8 * s[0] * s[1]
    pairs = 1 if symmetric else 3
    return 2 * 8 * pairs * max(s) ** 2 + 2 * 8 * max(s) ** 2


def _comotion(P, x_rows: np.ndarray, x_cols: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Conditional quantiles of the rows of ``P`` (dense array or CSR; columns ordered by ``x_cols``)
    at ``levels``: the smallest ``x_cols`` whose conditional CDF reaches the level; NaN for empty rows."""
    if sp.issparse(P):
        P = sp.csr_matrix(P)
        n = P.shape[0]
        rank = np.empty(x_cols.size, dtype=np.int64)
        rank[np.argsort(x_cols, kind="stable")] = np.arange(x_cols.size)
        rows = np.repeat(np.arange(n), np.diff(P.indptr))
        order = np.lexsort((rank[P.indices], rows))
        r, c, w = rows[order], P.indices[order], P.data[order]
        tot = np.bincount(r, weights=w, minlength=n)
        cs = np.cumsum(w)
        start = P.indptr[:-1]
        base = np.concatenate([[0.0], cs])[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            cdf = (cs - base[r]) / tot[r]
        out = np.full((levels.size, n), np.nan)
        nonempty = (tot > 0) & (np.diff(P.indptr) > 0)
        for k, q in enumerate(levels):       # one pass per level (N - 1 of them), vectorised over rows
            below = np.bincount(r, weights=(cdf < q).astype(float), minlength=n).astype(np.int64)
            pos = np.minimum(start + below, P.indptr[1:] - 1)
            out[k, nonempty] = x_cols[c[pos[nonempty]]]
        return out
    order = np.argsort(x_cols)
    Q = np.asarray(P)[:, order]
    cdf = np.cumsum(Q, axis=1)
    tot = cdf[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = cdf / tot
    xs = x_cols[order]
    out = np.empty((levels.size, Q.shape[0]))
    for k, q in enumerate(levels):
        pos = np.minimum((cdf < q).sum(axis=1), xs.size - 1)
        out[k] = xs[pos]
    out[:, tot[:, 0] <= 0] = np.nan
    return out


def _pruned_lower_bound(problem: MMOTProblem, u, info: dict, t0: float, time_limit: float | None) -> float:
    """Issue 15: the same c-transform bound by pruned search when ``l^3`` is too large (1D, N = 3)."""
    from .lower_bound import pruned_ctransform_lower_bound, supports_pruned_bound
    if not supports_pruned_bound(problem):
        return -math.inf
    deadline = t0 + time_limit if time_limit is not None else math.inf
    lb, linfo = pruned_ctransform_lower_bound(problem, u, deadline=deadline)
    info["lower_bound_search"] = linfo
    return lb


@declares(ENTROPIC_OPTIONS)
def solve_entropic(problem: MMOTProblem, backend: str = "highs", *, eps: float | None = None, tol: float = 1e-6,
                   max_iter: int = 20000, time_limit: float | None = None, symmetric: bool | None = None,
                   multiscale: bool | None = None, eps_start: float | None = None, eps_factor: float = 0.5,
                   stage_tol: float = 1e-3, absorb_threshold: float = 50.0, damping: float | None = None,
                   overrelax: float = 1.0, solver: str = "auto",
                   plan: bool = True, plan_truncate_mass: float | None = None, max_plan_entries: int = 5_000_000,
                   upper_bound: bool = True, lower_bound_max_entries: float = 2e8,
                   max_tensor_entries: float = 2e7, dense_limit_bytes: float | None = None,
                   multiscale_options: dict | None = None, verbose: bool = False,
                   progress: bool | None = None) -> Solution:
    """Entropic multi-marginal optimal transport (see the module docstring).

    Parameters
    ----------
    problem : MMOTProblem
    backend : ignored (the solver is the package's numpy code).
    eps : float, optional
        Regularisation in cost units (default :func:`default_eps`, 1% of the cost spread).
    tol : float
        Stop when every marginal of the plan has L1 error ``<= tol`` at the target ``eps``.
    max_iter, time_limit :
        Limits on Sinkhorn sweeps (all eps stages together) and seconds; when hit the status is
        ``ITERATION_LIMIT`` / ``TIME_LIMIT`` and the result is returned (not final).
    symmetric : bool, optional
        Single-potential variant (default: when all marginals are equal and the engine is dense).
    multiscale : bool, optional
        Coarse-to-fine sparse solver (default: when the dense kernels exceed ``dense_limit_bytes``,
        default ``min(4 GiB, 30% of available memory)``).  ``multiscale_options`` go to
        :func:`.multiscale.solve_multiscale`.
    eps_start, eps_factor, stage_tol :
        eps-scaling: from ``eps_start`` (default: the cost spread) down by ``eps_factor``; intermediate
        stages stop at ``max(tol, stage_tol)``.
    solver : {"auto", "sinkhorn", "newton"}
        Inner solver on the sparse multiscale levels: Sinkhorn sweeps, or damped Newton on the dual
        (:mod:`.newton`: sparse LU of the ``(sum_i l_i)``-square Hessian per step; a few steps per
        level instead of ``O(1/eps)`` sweeps).  ``auto``: Newton for ``N = 3`` multiscale, Sinkhorn
        otherwise.  Dense engines always use Sinkhorn.
    overrelax : float
        Over-relaxation ``omega`` of the general (Gauss-Seidel) variant:
        ``log b_i <- (1 - omega) log b_i + omega log(1/w_i)``; 1 = plain Sinkhorn, ``(1, 2)``
        accelerates the slow modes (measured: 2.5x fewer sweeps at ``omega = 1.5`` on N = 3 Coulomb).
    absorb_threshold : float
        Absorb the scalings into the kernels when ``max |log b| >`` this.
    plan, plan_truncate_mass, max_plan_entries :
        Return the sparse plan (see the module docstring).
    upper_bound : bool
        Compute the rounded-plan upper bound.
    lower_bound_max_entries : float
        Compute the c-transform lower bound by enumeration when ``prod l_i`` is at most this; above,
        by pruned search for three 1D marginals with a Coulomb or soft Coulomb cost.
    max_tensor_entries : float
        Size limit of the full-tensor fallback.
    verbose, progress :
        Progress bar (tqdm); by default a bar appears on a terminal after 5 s.
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit) if time_limit is not None else math.inf
    if not isinstance(problem, MMOTProblem):
        raise MMOTInputError(f"solve_entropic expects an MMOTProblem, got {type(problem).__name__}")
    eps = default_eps(problem) if eps is None else float(eps)
    if not (math.isfinite(eps) and eps > 0):
        raise MMOTInputError(f"eps must be a positive number, got {eps}")
    tol = float(tol)
    if not (tol > 0):
        raise MMOTInputError(f"tol must be positive, got {tol}")
    if not (0 < float(overrelax) < 2):
        raise MMOTInputError(f"overrelax must be in (0, 2) (1 = plain Sinkhorn), got {overrelax}")
    if solver not in ("auto", "sinkhorn", "newton"):
        raise MMOTInputError(f"solver must be 'auto', 'sinkhorn' or 'newton', got {solver!r}")
    if not (0 < eps_factor < 1):
        raise MMOTInputError(f"eps_factor must be in (0, 1), got {eps_factor}")
    problem.check_feasible()
    N = problem.n_marginals
    mus = [m.weights for m in problem.marginals]
    equal = problem.is_symmetric
    pair23 = problem.is_pair_cost and N in (2, 3)
    if symmetric and not equal:
        raise MMOTInputError("symmetric=True needs equal marginals and a symmetric cost; use symmetric=False")
    if dense_limit_bytes is None:
        from ..formulations.standard_lp import available_memory_bytes
        dense_limit_bytes = min(4 * 2**30, 0.3 * available_memory_bytes())
    use_sym = bool(symmetric)
    if multiscale is None:
        multiscale = pair23 and _dense_bytes(problem, use_sym) > dense_limit_bytes
    if multiscale and not pair23:
        raise MMOTInputError("multiscale needs a pair cost and N = 2 or 3 marginals")
    if multiscale:
        use_sym = False
    scale = cost_scale(problem)
    opts = SinkhornOptions(eps=eps, tol=tol, max_iter=int(max_iter), time_limit=time_limit,
                           eps_start=max(eps, scale) if eps_start is None else float(eps_start),
                           eps_factor=float(eps_factor), stage_tol=float(stage_tol),
                           absorb_threshold=float(absorb_threshold), damping=damping,
                           overrelax=float(overrelax), verbose=bool(verbose),
                           progress=progress)
    cost_tensor = None
    ms_info: dict[str, Any] = {"inner_solver": "sinkhorn"}
    if multiscale:
        from .multiscale import solve_multiscale
        ms_opts = dict(multiscale_options or {})
        inner = solver if solver != "auto" else ("newton" if N == 3 else "sinkhorn")
        ms_opts.setdefault("solver", inner)
        engine, rec, ms_info = solve_multiscale(problem, opts, **ms_opts)
        ms_info["inner_solver"] = ms_opts["solver"]
        engine_name = f"multiscale-sparse-N{N}"
        if ms_info.get("multiscale_n_levels") == 1:   # grid not above coarse_size: one dense Sinkhorn level
            ms_info["inner_solver"] = "sinkhorn"
            engine_name = f"multiscale-dense-N{N}"
    else:
        if pair23:
            if use_sym:
                costs = {(0, 1): problem.pair_matrix(0, 0)}
            else:
                costs = {(i, j): problem.pair_matrix(i, j) for i in range(N) for j in range(i + 1, N)}
            engine = PairEngine(costs, mus, symmetric=use_sym)
            engine_name = f"dense-pair-N{N}{'-symmetric' if use_sym else ''}"
        else:
            cost_tensor = full_cost_tensor(problem, int(max_tensor_entries))
            engine = TensorEngine(cost_tensor, mus, symmetric=use_sym)
            engine_name = f"dense-tensor-N{N}{'-symmetric' if use_sym else ''}"
        if time_limit is not None:   # the limit covers the whole run: building the kernels counted
            from dataclasses import replace
            opts = replace(opts, time_limit=max(0.0, deadline - time.perf_counter()))
        rec = run_sinkhorn(engine, mus, opts)
    if rec.status == Status.TIME_LIMIT and time_limit is not None:   # the user's limit, not the remainder
        import re
        rec.message = re.sub(r"time_limit=\S+ s", f"time_limit={float(time_limit):g} s", rec.message)
    solver_time = time.perf_counter() - t0

    info: dict[str, Any] = {"eps": rec.eps, "eps_target": eps, "tol": tol, "engine": engine_name,
                            "symmetric_variant": use_sym, "absorptions": rec.n_absorb,
                            "kernel_bytes": int(engine.nbytes), "eps_stages": len(rec.history),
                            "log_domain_contractions": int(getattr(engine, "n_log_domain", 0)),
                            "history": rec.history, **ms_info}
    if rec.status == Status.NUMERICAL_ERROR or not ms_info.get("multiscale_complete", True):
        return assemble_solution(problem=problem, method="entropic", backend="numpy", termination=rec.status,
                                 value=math.nan, bound=Bound.ESTIMATE, iterations=rec.iterations, message=rec.message,
                                 t0=t0, solver_time_s=solver_time, info=info)
    if time.perf_counter() > deadline:
        sweep_s = rec.time_s / max(rec.iterations, 1)
        if 2.0 * sweep_s > max(POST_LIMIT_GRACE_MIN_S, POST_LIMIT_GRACE_FRACTION * float(time_limit)):
            info["skipped_after_time_limit"] = ["value", "upper bound", "lower bound", "plan"]
            info["max_marginal_l1_error"] = float(np.max(rec.errors))
            return assemble_solution(
                problem=problem, method="entropic", backend="numpy", termination=Termination.TIME_LIMIT,
                value=math.nan, bound=Bound.ESTIMATE, iterations=rec.iterations, t0=t0, solver_time_s=solver_time,
                message=(f"not converged: {rec.message}; time limit {time_limit:g} s reached: the transport cost "
                         f"(~{2 * sweep_s:.2g} s more), bounds and plan were not computed"),
                potentials=tuple(rec.u) if not use_sym else tuple([rec.u[0]] * N), info=info)
    v = rec.v(mus)
    with np.errstate(invalid="ignore"):
        value = float(engine.transport_cost(v))
    marg = [v[i] * engine.weights(i, v) for i in range(N)]
    if rec.status == Status.TIME_LIMIT:   # exact L1 errors of this plan (the record has the last sweep's)
        rec.errors = np.asarray([float(np.abs(marg[i] - mus[i]).sum()) for i in range(N)])
    mass = float(marg[0].sum())
    with np.errstate(invalid="ignore"):
        pot_term = sum(float(np.sum(np.where(marg[i] > 0, rec.u[i] * marg[i], 0.0))) for i in range(N))
    dual_reg = sum(float(np.sum(np.where(mus[i] > 0, rec.u[i] * mus[i], 0.0))) for i in range(N)) - rec.eps * (mass - 1.0)
    reg_obj = pot_term - rec.eps * (mass - 1.0)
    info.update({"regularized_objective": reg_obj, "dual_objective": dual_reg,
                 "entropy_kl": (pot_term - value) / rec.eps - (mass - 1.0), "plan_mass": mass,
                 "marginal_l1_errors": rec.errors.tolist(), "max_marginal_l1_error": float(np.max(rec.errors))})

    # post-processing phases check the deadline between chunks; what cannot finish is skipped
    skipped: list[str] = []
    ub = math.inf
    if upper_bound:
        t_ub = time.perf_counter()
        ub, rinfo = rounded_upper_bound(engine, problem, mus, v, max_entries=lower_bound_max_entries,
                                        deadline=deadline)
        info.update(rinfo)
        info["rounding_seconds"] = time.perf_counter() - t_ub
        if "time limit" in str(rinfo.get("rounding_note", "")):
            skipped.append("upper bound")
    lb = ctransform_lower_bound(problem, rec.u, lower_bound_max_entries, cost_tensor=cost_tensor, deadline=deadline)
    if lb == -math.inf and problem.n_tuples() <= lower_bound_max_entries and time.perf_counter() > deadline:
        skipped.append("lower bound")
    if lb == -math.inf and problem.n_tuples() > lower_bound_max_entries:
        lb = _pruned_lower_bound(problem, rec.u, info, t0, time_limit)
    if math.isfinite(lb) and math.isfinite(ub) and lb > ub:  # numerical noise only; keep the bracket honest
        info["bound_crossing"] = lb - ub

    idx = w = None
    merr = np.asarray([float(np.max(np.abs(m - mu))) for m, mu in zip(marg, mus)])
    # the plan actually handed back is checked against mu (PLAN_RESIDUAL_FACTOR rule, certify_plan):
    # the extracted plan is evaluated independently of the contractions Sinkhorn used
    plan_l1 = max(float(np.abs(m - mu).sum()) for m, mu in zip(marg, mus))
    dropped = 0.0
    what = "the computed plan"
    if plan:
        trunc = min(1e-9, tol / 10) if plan_truncate_mass is None else float(plan_truncate_mass)
        idx, w, pinfo = extract_plan(engine, v, trunc, int(max_plan_entries), deadline=deadline)
        info.update(pinfo)
        if idx is None:
            skipped.append("plan")
        else:
            merr = marginal_errors(problem, idx, w)
            plan_l1 = max(float(np.abs(np.bincount(idx[:, i], weights=w, minlength=mus[i].size) - mus[i]).sum())
                          for i in range(N))
            dropped = float(pinfo["plan_dropped_mass"])
            what = "the returned plan"
    info["plan_max_marginal_l1_error"] = plan_l1
    if problem.dim == 1 and N >= 2 and time.perf_counter() > deadline:
        skipped.append("co-motion estimate")
    elif problem.dim == 1 and N >= 2:
        x = [m.points[:, 0] for m in problem.marginals]
        try:
            if problem.sizes[0] * max(problem.sizes[1:]) > 4e7 and not engine_name.startswith("multiscale"):
                raise MemoryError
            if equal:
                P = engine.pair_marginal(0, 1, v)
                levels = (np.arange(1, N) - 0.5) / (N - 1)
                info["comotion"] = _comotion(P, x[0], x[1], levels)
            else:
                rows = []
                for k in range(1, N):
                    P = engine.pair_marginal(0, k, v)
                    rows.append(_comotion(P, x[0], x[k], np.array([0.5]))[0])
                info["comotion"] = np.stack(rows)
            info["comotion_x"] = x[0]
        except MemoryError:  # pragma: no cover - very large 1D grids
            pass
    msg = rec.message
    termination = Termination.from_status(rec.status)
    if rec.status != Status.CONVERGED:
        msg = f"not converged: {rec.message}; marginal L1 error {np.max(rec.errors):.3g} > tol {tol:g}"
    if skipped:
        info["skipped_after_time_limit"] = skipped
        msg += f"; time limit {time_limit:g} s reached: skipped {', '.join(skipped)}"
        if termination == Termination.CONVERGED:   # what was asked for is incomplete: not a final result
            termination = Termination.TIME_LIMIT
    pots = tuple(rec.u) if not use_sym else tuple([rec.u[0]] * N)
    # a final result must hand back a plan that meets mu (certify_plan rule, applied by assemble_solution);
    # if it does not, the rounded upper bound (made from the same marginals) is dropped too
    return assemble_solution(problem=problem, method="entropic", backend="numpy", termination=termination,
                             value=value, lower_bound=lb, upper_bound=ub, bound=Bound.ESTIMATE, plan_indices=idx,
                             plan_weights=w, potentials=pots, primal_value=value, dual_value=lb, marginal_error=merr,
                             plan_check=(plan_l1, tol, dropped), plan_check_voids_upper=True, plan_check_what=what,
                             t0=t0, solver_time_s=solver_time, iterations=rec.iterations, message=msg, info=info)
