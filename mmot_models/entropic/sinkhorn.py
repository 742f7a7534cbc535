r"""Multi-marginal Sinkhorn (iterative Bregman projections / IPFP) with eps-scaling and absorption.

Problem (``eps > 0``):

.. math::
    \min_{\gamma \ge 0}\ \langle c, \gamma\rangle + \varepsilon\,\mathrm{KL}(\gamma \,|\, \mu_1\otimes\cdots\otimes\mu_N)
    \quad\text{s.t.}\quad \gamma \text{ has marginals } \mu_1, \dots, \mu_N,

whose solution is :math:`\gamma = \exp((\oplus_i u_i - c)/\varepsilon)\,\otimes_i \mu_i`.  The
Bregman (KL) projection onto the ``i``-th marginal constraint replaces ``u_i`` by
:math:`u_i(s) = -\varepsilon \log \sum_{x_{-i}} \exp((\sum_{j\ne i} u_j(x_j) - c(s, x_{-i}))/\varepsilon)
\prod_{j \ne i}\mu_j(x_j)` (Benamou, Carlier, Nenna; eq. (64)).

Stabilisation (log domain without giving BLAS away): ``u_i = u~_i + eps log b_i``; ``u~_i`` is
absorbed into the kernels (:mod:`.kernels`), each update is ``b_i <- 1 / w_i`` with ``w_i`` a BLAS
contraction, and when ``max |log b_i| > absorb_threshold`` (default 50) or ``eps`` changes the
scalings are folded into ``u~`` and the kernels rebuilt.  A row whose kernel entries all
underflowed (``w_i(s) = 0`` with ``mu_i(s) > 0``) triggers an absorption; if it persists the run
stops with ``NUMERICAL_ERROR`` (use a larger eps or a gentler eps-scaling factor).

General variant: the N potentials are updated in turn (Gauss-Seidel).  Symmetric variant (equal
marginals): one potential ``u`` and the damped fixed-point map
``u <- (1 - theta) u + theta T(u)`` with ``T(u)`` the projection onto one marginal given all other
potentials equal to ``u`` and ``theta = 1/N``: the map ``T`` shifts constants by ``-(N-1)``, so
``theta = 1/N`` removes the constant mode and keeps every other mode of the linearisation in
``[0, 1]``; it needs one contraction per iteration instead of ``N``.

eps-scaling: ``eps_k = max(eps, eps_0 q^k)`` with ``eps_0`` the median finite pair cost (or a given
``eps_start``) and ``q = eps_factor`` (0.5); each stage is warm-started from the previous potentials and
stopped at marginal error ``max(tol, stage_tol)``; the final stage at ``tol``.

Marginal error: the L1 (total-variation) norm ``sum_s |m_i(s) - mu_i(s)|`` of the full plan, for
every marginal; ``CONVERGED`` means all of them are ``<= tol`` at the target eps, checked with a
full recomputation of every marginal.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..solution import Status

__all__ = ["SinkhornOptions", "SinkhornRecord", "run_sinkhorn", "eps_schedule"]


@dataclass
class SinkhornOptions:
    """Loop controls (see the module docstring)."""

    eps: float
    tol: float = 1e-6
    max_iter: int = 20000
    time_limit: float | None = None
    eps_start: float | None = None
    eps_factor: float = 0.5
    stage_tol: float = 1e-3
    absorb_threshold: float = 50.0
    damping: float | None = None
    overrelax: float = 1.0
    verbose: bool = False
    progress: bool | None = None


@dataclass
class SinkhornRecord:
    """Result of the loop: potentials, scalings, errors, history and the final status."""

    u: list[np.ndarray]
    u_abs: list[np.ndarray]
    b: list[np.ndarray]
    eps: float
    iterations: int
    status: Status
    errors: np.ndarray
    message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    n_absorb: int = 0
    time_s: float = 0.0

    def v(self, mus: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [m * b for m, b in zip(mus, self.b)]


def eps_schedule(eps: float, eps_start: float, factor: float) -> list[float]:
    """Decreasing eps values ``eps_start, eps_start q, ...`` ending exactly at ``eps``."""
    out = []
    e = float(eps_start)
    while e > eps * (1 + 1e-12):
        out.append(e)
        e *= factor
    out.append(float(eps))
    return out


def _progress(opts: SinkhornOptions, total: int):
    """Iteration counter on stderr.  ``total`` (an iteration cap) is deliberately not shown as the
    bar's total: runs stop long before the cap, so an ETA against it would mislead."""
    from tqdm.auto import tqdm

    show = opts.verbose if opts.progress is None else opts.progress
    if opts.progress is None and not show:
        # long runs still get a bar on a terminal, after 5 s
        show = sys.stderr.isatty()
        return tqdm(total=None, disable=not show, delay=5.0, leave=False, desc="entropic", unit="it",
                    file=sys.stderr, mininterval=1.0)
    return tqdm(total=None, disable=not show, leave=False, desc="entropic", unit="it", file=sys.stderr,
                mininterval=1.0)


def _l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).sum())


def _safe_inv(w: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, bool]:
    """``1/w`` where ``mu > 0`` (1 elsewhere); flag when a needed ``w`` is 0 or not finite."""
    pos = mu > 0
    ok = bool(np.all(np.isfinite(w)) and np.all(w[pos] > 0))
    out = np.ones_like(w)
    with np.errstate(divide="ignore"):
        out[pos] = 1.0 / w[pos]
    return out, ok


def limit_reached(opts: SinkhornOptions, it: int, t0: float, eps: float, unit: str = "") -> tuple[Status, str] | None:
    """``(status, message)`` when the iteration or time limit of ``opts`` is reached, else ``None``."""
    if it >= opts.max_iter:
        return Status.ITERATION_LIMIT, f"max_iter={opts.max_iter}{unit} reached at eps={eps:.4g}"
    if opts.time_limit is not None and time.perf_counter() - t0 > opts.time_limit:
        return Status.TIME_LIMIT, f"time_limit={opts.time_limit:g} s reached at eps={eps:.4g}"
    return None


def run_sinkhorn(engine, mus: Sequence[np.ndarray], opts: SinkhornOptions, u0: Sequence[np.ndarray] | None = None,
                 eps_start: float | None = None) -> SinkhornRecord:
    """Run (symmetric or general) multi-marginal Sinkhorn with eps-scaling on ``engine``.

    ``engine`` provides ``absorb(u, eps)``, ``weights(i, v)`` (:mod:`.kernels`) and ``symmetric``.
    ``u0`` warm-starts the potentials (zeros otherwise).
    """
    t0 = time.perf_counter()
    N = len(mus)
    mus = [np.asarray(m, dtype=float) for m in mus]
    sym = bool(engine.symmetric)
    theta = opts.damping if opts.damping is not None else 1.0 / N
    omega = float(opts.overrelax)
    u = [np.zeros(m.size) if u0 is None else np.array(u0[i], dtype=float) for i, m in enumerate(mus)]
    start = eps_start if eps_start is not None else (opts.eps_start if opts.eps_start is not None else opts.eps)
    schedule = eps_schedule(opts.eps, max(start, opts.eps), opts.eps_factor)
    b = [np.ones(m.size) for m in mus]
    it = 0
    n_absorb = 0
    history: list[dict[str, Any]] = []
    status = Status.ITERATION_LIMIT
    message = ""
    errors = np.full(N, np.inf)
    bar = _progress(opts, opts.max_iter)

    def absorb(eps: float) -> None:
        nonlocal n_absorb
        for i in range(N):
            u[i] = u[i] + eps * np.log(b[i])
            b[i] = np.ones_like(b[i])
        if sym:
            for i in range(1, N):
                u[i] = u[0]
        engine.absorb(u, eps)
        n_absorb += 1

    def full_errors() -> np.ndarray:
        v = [m * bb for m, bb in zip(mus, b)]
        if sym:
            e = _l1(v[0] * engine.weights(0, v), mus[0])
            return np.full(N, e)
        return np.array([_l1(v[i] * engine.weights(i, v), mus[i]) for i in range(N)])

    try:
        for k, eps in enumerate(schedule):
            final = k == len(schedule) - 1
            target = opts.tol if final else max(opts.tol, opts.stage_tol)
            absorb(eps)
            it_stage = 0
            err = math.inf
            stage_done = False
            just_absorbed = True
            while True:
                hit = limit_reached(opts, it, t0, eps)
                if hit:
                    status, message = hit
                    break
                ok = True
                if sym:
                    v0 = mus[0] * b[0]
                    w = engine.weights(0, [v0] * N)
                    m = v0 * w
                    err = _l1(m, mus[0])
                    inv, ok = _safe_inv(w, mus[0])
                    if ok:
                        # damped fixed point in log form: log b <- (1-theta) log b + theta log(1/w)
                        b[0] = np.exp((1.0 - theta) * np.log(b[0]) + theta * np.log(inv))
                        for i in range(1, N):
                            b[i] = b[0]
                else:
                    err = np.inf
                    for i in range(N):
                        if i > 0 and opts.time_limit is not None and time.perf_counter() - t0 > opts.time_limit:
                            break   # large kernels: one projection can take seconds; stop mid-sweep
                        v = [m_ * bb for m_, bb in zip(mus, b)]
                        w = engine.weights(i, v)
                        if i == 0:
                            err = _l1(v[0] * w, mus[0])  # first marginal of the previous sweep's plan
                        prev = b[i]
                        inv, ok_i = _safe_inv(w, mus[i])
                        ok = ok and ok_i
                        if not ok_i:
                            break
                        b[i] = inv
                        if omega != 1.0:
                            # over-relaxed projection (Thibault et al.): log b <- (1-w) log b + w log(1/w_i);
                            # plain projection when the extrapolated scaling would leave float range
                            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                                lb = (1.0 - omega) * np.log(prev) + omega * np.log(inv)
                            if np.all(np.abs(lb) < 600.0):
                                b[i] = np.exp(lb)
                it += 1
                it_stage += 1
                bar.update(1)
                if not ok:
                    if just_absorbed:
                        status = Status.NUMERICAL_ERROR
                        message = (f"kernel rows underflowed to 0 at eps={eps:.4g} even after absorbing the potentials; "
                                   "use a larger eps or eps_factor closer to 1")
                        raise StopIteration
                    absorb(eps)
                    just_absorbed = True
                    continue
                just_absorbed = False
                if err <= target:
                    errors = full_errors()
                    if np.all(errors <= target):
                        stage_done = True
                        break
                if not np.isfinite(err):
                    status, message = Status.NUMERICAL_ERROR, f"non-finite marginal error at eps={eps:.4g}"
                    raise StopIteration
                if max(float(np.max(np.abs(np.log(bb)))) for bb in b) > opts.absorb_threshold:
                    absorb(eps)
                    just_absorbed = True
                if opts.verbose and it % 100 == 0:
                    bar.set_postfix(eps=f"{eps:.3g}", err=f"{err:.2e}")
            history.append({"eps": eps, "iterations": it_stage, "error": float(np.max(errors)) if stage_done else err,
                            "converged": stage_done})
            if not stage_done:
                break
            if final:
                status = Status.CONVERGED
                message = f"marginal L1 error {np.max(errors):.3g} <= tol {opts.tol:g} at eps={eps:.4g}"
    except StopIteration:
        pass
    finally:
        bar.close()
    if status == Status.TIME_LIMIT and np.isfinite(err):
        errors = np.full(N, err)   # no further contractions after the limit: the last sweep's error
    elif status != Status.CONVERGED:
        errors = full_errors() if status != Status.NUMERICAL_ERROR else errors
    eps_reached = history[-1]["eps"] if history else schedule[0]
    u_abs = [x.copy() for x in u]
    with np.errstate(divide="ignore"):
        u_full = [u[i] + eps_reached * np.log(b[i]) for i in range(N)]
    return SinkhornRecord(u=u_full, u_abs=u_abs, b=b, eps=eps_reached, iterations=it, status=status,
                          errors=np.asarray(errors, dtype=float), message=message, history=history,
                          n_absorb=n_absorb, time_s=time.perf_counter() - t0)
