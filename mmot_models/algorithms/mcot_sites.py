r"""MCOT column generation over tuples of candidate *sites* (solver ``"sites"``; the default for large LPs).

The MCOT candidate LP (:class:`~mmot_models.formulations.moments.MomentLP`) has one column per
tuple of candidate sites -- ``l_1 x ... x l_N`` columns (multisets when symmetric) -- but only a
few dozen rows.  Instead of building every column, a restricted master LP (HiGHS, warm-started
with :class:`~mmot_models.backends.highs.HighsSession`) is grown by *exact pricing*: with the
master's row duals ``y`` the reduced cost of a tuple ``z`` is

.. math::
    r(z) = c(z) - \sum_i u_i(z_i) - m(z_1, z_2) - y_{\text{mass}},
    \qquad u_i(k) = \sum_m y^{(i)}_m \phi^i_m(s^i_k) + y_A\, \theta(|s^i_k|),

(``m`` the martingale term, two marginals only), a pair cost plus per-site potentials.  Every
tuple is scanned in memory-bounded blocks, every round (``l_1 l_2 = 4`` million entries for two
2,000-point marginals take a few tens of milliseconds), and the most negative ones enter the master.

Certificate: any ``y`` gives the weak-duality bound ``b^T y + m min(0, min_z r(z))`` on the LP over
*all* candidate tuples (``m`` bounds the plan mass: 1, or ``sum b / min S`` when a partition-of-unity
family replaces the mass row), because the scan computes ``min_z r(z)`` over every tuple; it is made
rounding-safe (:func:`~mmot_models.certificate.shifted_lower_bound` with an a-priori bound on the
scan's rounding error, :meth:`_Pricer.rc_error`).  So the certified lower bound is available after
every round.

Stopping rule and status (relative, as :func:`~mmot_models.solution.certify_status`): pricing stops
when ``min r >= -SITES_TOL |master|`` (floored at the rounding level of the cost data).  The master's
HiGHS duals are only accurate to its (absolute) tolerance, so when no new improving tuple is found
the master is refined by iterative refinement (:mod:`.refine`) and priced again with the refined
duals; new improving tuples continue the rounds.  The run is ``OPTIMAL`` only if the bracket closes,
``master - lower <= max(CERT_REL_TOL |master|, 64 u max|c|)``, else ``NUMERICAL_ERROR``.  The master
sees the costs divided by a power of two near their largest magnitude (exact), so HiGHS's absolute
tolerances act relative to the costs.  It bounds exactly what the full candidate LP
bounds (solver ``"lp"``): the exact OT value when the candidates are the marginals' own points,
the continuum MCOT value after the grid correction in the 1D hat case (see :mod:`.moments`).
An unfinished run reports that certified bound as its value (``info["master_value"]`` is the
restricted master value, which is *above* the MCOT LP value and bounds nothing).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import EPS, exact_dot, exact_sum, gamma, round_up, shifted_lower_bound
from ..costs import PairCost
from ..errors import MMOTInputError
from ..formulations.moments import MomentLP
from ..moment_functions import MCOTProblem
from ..problem import Marginal, MMOTProblem
from ..solution import GAP_ZERO_FLOOR, Bound, Solution, Status, Termination, assemble_solution

__all__ = ["mcot_sites", "PRICING_BLOCK", "MAX_PRICED_TUPLES", "SITES_TOL", "MASTER_HIGHS_OPTIONS"]

#: Reduced-cost entries evaluated at once during a pricing scan (memory: 8 bytes each, a few arrays).
PRICING_BLOCK = 4_000_000
#: Largest number of candidate tuples scanned exactly per pricing round.
MAX_PRICED_TUPLES = 200_000_000
#: Pricing stops when ``min r >= -SITES_TOL * |master|`` (relative, as the certificate's rule, and
#: well inside ``CERT_REL_TOL``; floored at the rounding level of the cost data for optima at 0).
SITES_TOL = 1e-9
#: HiGHS tolerances of the restricted master (the tightest HiGHS accepts; the final duals are then
#: refined to the rounding level by :func:`~mmot_models.algorithms.refine.refine`).
MASTER_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Column weight above which a master solution counts as using a slack (infeasible moments).
SLACK_TOL = 1e-9
#: Pair-cost matrices cached for pricing when their total size stays below this many entries.
PAIR_CACHE_ENTRIES = 30_000_000


class _Pricer:
    """Exact scan of the reduced costs of all candidate tuples (or multisets) for duals ``y``."""

    def __init__(self, P: MCOTProblem, sites: list[np.ndarray], form: MomentLP) -> None:
        self.P, self.sites, self.form = P, sites, form
        N = P.n_marginals
        self.N = N
        self.sizes = [s.shape[0] for s in sites]
        fams = P.families
        self.feats = [fams[i].evaluate_sparse(sites[i]).tocsr() for i in range(N)]
        self.theta = ([P.theta_values(sites[i]) for i in range(N)] if P.moment_bound is not None else None)
        if P.martingale is not None:
            self.chi = P.martingale.evaluate_sparse(sites[0]).tocsr()  # (l0, L)
        self.pairs: dict[tuple[int, int], np.ndarray] = {}
        if isinstance(P.cost, PairCost):
            total = sum(self.sizes[i] * self.sizes[j] for i in range(N) for j in range(i + 1, N))
            if total <= PAIR_CACHE_ENTRIES:
                for i in range(N):
                    for j in range(i + 1, N):
                        if P.symmetric and (0, 1) in self.pairs:
                            self.pairs[(i, j)] = self.pairs[(0, 1)]
                            continue
                        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                            self.pairs[(i, j)] = P.cost.matrix(sites[i], sites[j])

        # pair-cost statistics for the rounding charges (from the cache: the numbers the scan uses)
        self.pair_max = max((float(np.max(np.abs(C[np.isfinite(C)]), initial=0.0)) for C in self.pairs.values()),
                            default=math.nan)
        self.pair_nonneg = all(float(np.min(C[np.isfinite(C)], initial=0.0)) >= 0.0 for C in self.pairs.values())

    # ------------------------------------------------------------------ rounding-safe certificate pieces
    def cost_floor(self, master_costs: np.ndarray) -> float:
        """The rounding level ``64 u max|c|`` of the cost data over *all* candidate tuples (the absolute
        floor of the optimality rule, for optima at 0): from the cached pair matrices, else the master's."""
        scale = float(np.max(np.abs(master_costs), initial=0.0))
        if math.isfinite(self.pair_max):
            scale = max(scale, self.N * (self.N - 1) // 2 * self.pair_max)
        return 64 * EPS * scale

    def mass_bound(self) -> float:
        """An upper bound on the mass ``sum_z p_z`` of every feasible weight vector.

        1 with a mass row.  Without it the first family is a partition of unity up to rounding
        (checked to 1e-12): summing its rows gives ``sum_z p_z S(z) = sum_m b_m`` with ``S(z) >= min S``
        (the smallest row sum over the candidate sites), so the mass is at most ``sum_m b_m / min S``.
        """
        if self.form.has_mass_row:
            return 1.0
        n0 = self.P.families[0].n_functions
        F = self.feats[0]
        S = np.asarray(F.sum(axis=1)).reshape(-1)
        k = int(np.diff(F.indptr).max(initial=0)) + 1
        s_min = float(S.min(initial=math.inf)) * (1.0 - 1.01 * gamma(k))
        b = np.maximum(self.form.row_upper[:n0], 0.0)
        if not (s_min > 0 and np.all(np.isfinite(b))):
            return math.inf
        return round_up(exact_sum(b) / s_min * (1.0 + 4 * EPS))

    def rc_error(self, y: np.ndarray, min_r: float) -> float:
        """A-priori bound on ``|fl(min_z r(z)) - min_z r(z)|`` for the scan's rounded arithmetic.

        A tuple competing for the minimum has ``|c(z)| <= |min r| + err + sum_i max_k |u_i|(k) + ...``;
        its reduced cost takes at most ``k`` rounded operations (the sparse potentials, the martingale
        dot product, the sum of ``K`` pair costs and of the ``N + 2`` potential terms), each of relative
        error ``u`` on terms bounded by ``|A|^T |y|`` and ``|c|``.  Pair costs with negative entries add
        the rounding of their sum at the largest entry.
        """
        P, N = self.P, self.N
        ay = np.abs(np.asarray(y, dtype=float))
        total, off, k = 0.0, 0, 0
        for i in range(N):
            F = abs(self.feats[i])
            n = P.families[0 if P.symmetric else i].n_functions
            blk = ay[:n] / N if P.symmetric else ay[off:off + n]
            if not P.symmetric:
                off += n
            total += float(np.max(F @ blk, initial=0.0))
            k += int(np.diff(self.feats[i].indptr).max(initial=0)) + 2
        if P.symmetric:
            off = P.families[0].n_functions
        if P.martingale is not None:
            L, d = P.martingale.n_functions, P.dim
            Ua = np.asarray(abs(self.chi) @ ay[off:off + L * d].reshape(L, d))
            total += float(np.max(Ua.sum(axis=1), initial=0.0)) * float(np.max(np.abs(self.sites[1]), initial=0.0))
            k += int(np.diff(self.chi.indptr).max(initial=0)) + 2 * d + 2
            off += L * d
        if self.form.has_mass_row:
            total += float(ay[off])
            off += 1
        if P.moment_bound is not None:
            total += float(ay[off]) * sum(float(np.max(np.abs(t), initial=0.0)) for t in self.theta)
            k += 2 * N
        K = N * (N - 1) // 2
        k += K + N + 8
        scale = abs(min_r) + 2.0 * total
        err = 1.01 * gamma(k) * scale
        if K > 1 and not self.pair_nonneg and math.isfinite(self.pair_max):
            err += 1.01 * gamma(K) * K * self.pair_max
        return float(err)

    # ------------------------------------------------------------------ duals -> site potentials
    def potentials(self, y: np.ndarray) -> tuple[list[np.ndarray], np.ndarray | None, float]:
        P, N = self.P, self.N
        u: list[np.ndarray] = []
        off = 0
        for i in range(N):
            if P.symmetric:
                n = P.families[0].n_functions
                u.append(np.asarray(self.feats[i] @ y[:n]).reshape(-1) / N)
            else:
                n = P.families[i].n_functions
                u.append(np.asarray(self.feats[i] @ y[off:off + n]).reshape(-1))
                off += n
        if P.symmetric:
            off = P.families[0].n_functions
        U = None
        if P.martingale is not None:
            L, d = P.martingale.n_functions, P.dim
            # sum_{l,a} U_{l,a} chi_l(x) y_a  =  (chi(x) @ U) . y
            U = np.asarray(self.chi @ y[off:off + L * d].reshape(L, d))  # (l0, d)
            off += L * d
        const = 0.0
        if self.form.has_mass_row:
            const = float(y[off])
            off += 1
        if P.moment_bound is not None:
            yA = float(y[off])
            u = [ui + yA * th for ui, th in zip(u, self.theta)]
        return u, U, const

    def _pair(self, i: int, j: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``c(s^i_a, s^j_b)`` as an ``(len(a), len(b))`` matrix (``a``, ``b`` index arrays)."""
        C = self.pairs.get((i, j))
        if C is not None:
            return C[np.ix_(a, b)]
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return self.P.cost.matrix(self.sites[i][a], self.sites[j][b])

    def tuple_costs(self, idx: np.ndarray) -> np.ndarray:
        """Costs of index tuples ``(T, N)``: from the cached pair matrices (the numbers the scan used),
        else per tuple (never a full ``l_i x l_j`` matrix)."""
        P, N = self.P, self.N
        if self.pairs:
            out = np.zeros(idx.shape[0])
            for i in range(N):
                for j in range(i + 1, N):
                    out += self.pairs[(i, j)][idx[:, i], idx[:, j]]
            return out
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return P.config_cost(np.stack([self.sites[i][idx[:, i]] for i in range(N)], axis=1))

    # ------------------------------------------------------------------ the scan
    def scan(self, y: np.ndarray, n_keep: int) -> tuple[float, np.ndarray, np.ndarray]:
        """Exact ``min_z r(z)`` over all tuples, and up to about ``n_keep`` tuples of negative reduced cost."""
        if self.N == 2:
            return self._scan2(y, n_keep)
        return self._scan_n(y, n_keep)

    def _scan2(self, y: np.ndarray, n_keep: int) -> tuple[float, np.ndarray, np.ndarray]:
        P = self.P
        u, U, const = self.potentials(y)
        l0, l1 = self.sizes
        cols = np.arange(l1)
        B = max(1, PRICING_BLOCK // max(l1, 1))
        row_best = np.empty(l0, dtype=np.int64)
        row_val = np.empty(l0)
        col_val = np.full(l1, np.inf)
        col_arg = np.zeros(l1, dtype=np.int64)
        for s in range(0, l0, B):
            rows = np.arange(s, min(l0, s + B))
            if isinstance(P.cost, PairCost):
                R = self._pair(0, 1, rows, cols)
            else:
                ii, jj = np.meshgrid(rows, cols, indexing="ij")
                with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                    R = P.config_cost(np.stack([self.sites[0][ii.reshape(-1)], self.sites[1][jj.reshape(-1)]],
                                               axis=1)).reshape(rows.size, l1)
            R = R - u[0][rows, None] - u[1][None, :] - const
            if U is not None:
                R = R - U[rows] @ self.sites[1].T
            R = np.where(np.isnan(R), np.inf, R)
            a = np.argmin(R, axis=1)
            row_best[rows] = a
            row_val[rows] = R[np.arange(rows.size), a]
            b = np.argmin(R, axis=0)
            v = R[b, cols]
            better = v < col_val
            col_val[better] = v[better]
            col_arg[better] = rows[b[better]]
        min_r = float(min(row_val.min(initial=np.inf), col_val.min(initial=np.inf)))
        cand = np.concatenate([np.stack([np.arange(l0), row_best], 1), np.stack([col_arg, cols], 1)])
        val = np.concatenate([row_val, col_val])
        return min_r, cand, val

    def _chunks(self):
        """All index tuples in blocks of at most :data:`PRICING_BLOCK` (multisets, by first index, when symmetric)."""
        N, sizes = self.N, self.sizes
        if self.P.symmetric:
            from ..formulations.multisets import iter_multisets

            yield from iter_multisets(sizes[0], N, self.P.singular_diagonal, max_rows=PRICING_BLOCK)
            return
        total = math.prod(sizes)
        for s in range(0, total, PRICING_BLOCK):
            flat = np.arange(s, min(total, s + PRICING_BLOCK), dtype=np.int64)
            yield np.stack(np.unravel_index(flat, sizes), axis=1)

    def _scan_n(self, y: np.ndarray, n_keep: int) -> tuple[float, np.ndarray, np.ndarray]:
        P, N = self.P, self.N
        u, _, const = self.potentials(y)
        min_r = math.inf
        keep_idx, keep_val = [], []
        for idx in self._chunks():
            c = self.tuple_costs(idx)
            r = c - sum(u[i][idx[:, i]] for i in range(N)) - const
            r = np.where(np.isnan(r), np.inf, r)
            if r.size == 0:
                continue
            min_r = min(min_r, float(r.min()))
            k = min(n_keep, r.size)
            part = np.argpartition(r, k - 1)[:k]
            keep_idx.append(idx[part])
            keep_val.append(r[part])
        if not keep_idx:
            return math.inf, np.zeros((0, N), dtype=np.int64), np.zeros(0)
        idx, val = np.concatenate(keep_idx), np.concatenate(keep_val)
        k = min(n_keep, val.size)
        part = np.argpartition(val, k - 1)[:k]
        return min_r, idx[part].astype(np.int64), val[part]


def _initial_tuples(P: MCOTProblem, sites: list[np.ndarray]) -> np.ndarray:
    """A feasible start when the candidates are the marginals' own points: a coupling's support.

    North-west corner on the points sorted along the first axis (the monotone coupling in 1D); for
    a symmetric problem the cyclic quantile shift ``(F^-1(u), F^-1(u + 1/N), ...)``, whose tuples
    avoid the diagonal.  Sites that are not a marginal's own points get uniform weights (the tuples
    are then only a start; the slack columns keep the first master feasible).
    """
    N = P.n_marginals
    cums, orders = [], []
    for m, s in zip(P.marginals, sites):
        if isinstance(m, Marginal) and m.points.shape == s.shape and np.array_equal(m.points, s):
            w = m.weights
        else:  # candidates are not the support: any tuples do (slack columns make the master feasible)
            w = np.full(s.shape[0], 1.0 / s.shape[0])
        order = np.lexsort(s.T[::-1])
        orders.append(order)
        cums.append(np.concatenate([[0.0], np.cumsum(w[order])]))
    shifts = [k / N if P.symmetric else 0.0 for k in range(N)]
    q = np.unique(np.concatenate([np.mod(c + sh, 1.0) for c, sh in zip(cums, shifts)] + [[0.0, 1.0]]))
    mid = (q[:-1] + q[1:]) / 2
    cols = []
    for c, sh, order in zip(cums, shifts, orders):
        k = np.clip(np.searchsorted(c, np.mod(mid - sh, 1.0), side="right") - 1, 0, order.size - 1)
        cols.append(order[k])
    idx = np.stack(cols, axis=1).astype(np.int64)
    if P.symmetric:
        idx = np.sort(idx, axis=1)
    return np.unique(idx, axis=0)


def mcot_sites(problem: MCOTProblem, backend: str = "highs", *, sites: list[np.ndarray],
               source: MMOTProblem | None = None, delta: float | None = None, max_iterations: int = 200,
               n_add: int | None = None, time_limit: float | None = None, threads: int | None = None,
               verbose: bool = False) -> Solution:
    """Column generation over tuples of the candidate ``sites`` with exact pricing (module docstring).

    Same LP, same value and same bound semantics as the full candidate LP of solver ``"lp"``,
    without building all ``prod(l_i)`` columns.  Called by :func:`~.moments.solve_mcot`.
    """
    from ..backends.highs import HighsSession
    from ..backends.highs import solve_lp as highs_solve_lp
    from .mcot_lp import CERT_REL_TOL, _lp_solution, candidate_count
    from .refine import needs_refinement, refine

    if backend != "highs":
        raise MMOTInputError("solver='sites' warm-starts a HiGHS session; use backend='highs' "
                             "(or solver='lp' with backend='pyomo' for a candidate LP that fits in memory)")
    t0 = time.perf_counter()
    P = problem
    N = P.n_marginals
    pou = np.abs(np.asarray(P.families[0].evaluate_sparse(sites[0]).sum(axis=1)).reshape(-1) - 1.0).max() <= 1e-12
    form = MomentLP(P, mass_row=not pou)
    n_tuples = candidate_count(P, sites)
    if n_tuples > MAX_PRICED_TUPLES:
        raise MMOTInputError(
            f"exact pricing would scan {n_tuples:,} candidate tuples per round (> {MAX_PRICED_TUPLES:,}); "
            "pass fewer candidate sites with candidates=... (then the value bounds only MCOT on those sites) "
            "or, for an MCOTProblem, use solver='colgen' (continuous positions, an estimate)")
    pricer = _Pricer(P, sites, form)
    if n_add is None:
        n_add = max(200, 2 * sum(pricer.sizes)) if N == 2 else 2000
    idx0 = _initial_tuples(P, sites)
    cost0 = pricer.tuple_costs(idx0) if idx0.shape[0] else np.zeros(0)
    ok = np.isfinite(cost0)
    idx0, cost0 = idx0[ok], cost0[ok]
    A0 = form.columns_from_indices(sites, idx0) if idx0.shape[0] else sp.csc_matrix((form.n_rows, 0))
    # HiGHS's tolerances are absolute: the master sees the costs divided by a power of two near their
    # largest magnitude (exact in floating point; its duals and objective are scaled back exactly)
    cmax = float(np.max(np.abs(cost0), initial=0.0))
    s_c = 2.0 ** round(math.log2(cmax)) if 0 < cmax < math.inf else 1.0
    M = 1e3 * (1.0 + cmax / s_c)  # slack penalty, in master units
    lp0 = form.build(cost0 / s_c, A0, indices=idx0, slack_penalty=M)
    n0, n_slack = cost0.size, lp0.n_cols - cost0.size
    session = HighsSession(lp0, time_limit=None, threads=threads, verbose=verbose,  # round 1: no limit
                           options=dict(MASTER_HIGHS_OPTIONS))
    all_idx, all_cost, all_cols = [idx0], [cost0], [A0]
    seen = set(map(tuple, idx0.tolist()))
    t_build = time.perf_counter() - t0
    mass = pricer.mass_bound()
    floor = pricer.cost_floor(cost0)
    status, res, good, it = Status.ITERATION_LIMIT, None, None, 0
    best_lower, history = -math.inf, []
    cert: dict[str, Any] = {"min_r": -math.inf, "dual": math.nan, "lower": -math.inf}
    final_ref = None  # the refined answer of the last master solve, if refinement ran

    def certify(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scan all tuples with duals ``y`` (clipped to the signs the rows allow); the rounding-safe bound."""
        nonlocal best_lower
        yc = _clip_duals(form, y)
        min_r, cand, val = pricer.scan(yc, n_add)
        dual = exact_dot(yc, _dual_rhs(form, yc))
        lower = shifted_lower_bound(dual, min_r, pricer.rc_error(yc, min_r), mass, dual_error=2 * EPS * abs(dual))
        best_lower = max(best_lower, lower)
        cert.update(min_r=min_r, dual=dual, lower=lower)
        return cand, val

    def fresh(cand: np.ndarray, val: np.ndarray, stop: float) -> np.ndarray:
        """Tuples priced below ``-1e-3 stop`` that are not in the master yet (none once ``min r >= -stop``)."""
        if not cert["min_r"] < -stop:
            return np.zeros((0, N), dtype=np.int64)
        new = cand[val < -1e-3 * stop]
        if P.symmetric:
            new = np.sort(new, axis=1)
        new = np.unique(new, axis=0)
        return np.array([t for t in new.tolist() if tuple(t) not in seen], dtype=np.int64).reshape(-1, N)

    def refine_master(r: Any) -> Any:
        """Iterative refinement of the master without its slack columns (``None`` if nothing ran)."""
        x = np.asarray(r.x, dtype=float)
        if float(x[n0:n0 + n_slack].sum()) > SLACK_TOL:
            return None  # slack mass: no feasible measure on the master's columns to refine towards
        lp = form.build(np.concatenate(all_cost) / s_c, sp.hstack(all_cols).tocsc())
        r0 = replace(r, x=np.concatenate([x[:n0], x[n0 + n_slack:]]), col_dual=None)
        if not needs_refinement(lp, r0):
            return None
        left = None
        if time_limit is not None:
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                return None
        ref = refine(lp, r0, lambda m: highs_solve_lp(m, time_limit=left, threads=threads,
                                                        options=dict(MASTER_HIGHS_OPTIONS)))
        return ref if ref.refinement is not None else None

    try:
        for it in range(1, max_iterations + 1):
            if time_limit is not None and it > 1:  # one round always runs: it yields a certified bound
                left = time_limit - (time.perf_counter() - t0)
                if left <= 0:
                    status = Status.TIME_LIMIT
                    break
                session.set_time_limit(left)
            res = session.run()
            final_ref = None
            if res.row_dual is None or res.x is None or res.status != Status.OPTIMAL:
                status = res.status if res.status != Status.OPTIMAL else Status.NUMERICAL_ERROR
                res = good if good is not None else res  # keep the last solved master (its scan is cert)
                break
            good = res
            master = float(res.objective) * s_c
            stop = max(SITES_TOL * abs(master), floor)
            cand, val = certify(res.row_dual * s_c)
            entry: dict[str, Any] = {"iteration": it, "master": master, "min_reduced_cost": cert["min_r"],
                                     "lower": cert["lower"]}
            history.append(entry)
            new = fresh(cand, val, stop)
            if new.shape[0] == 0:
                # priced out, or every improving tuple is already in the master (HiGHS's duals are only
                # accurate to its tolerance): refine the master, then price again with the refined duals
                ref = refine_master(res)
                if ref is not None:
                    final_ref = ref
                    cand, val = certify(ref.row_dual * s_c)
                    entry.update(refined=True, min_reduced_cost_refined=cert["min_r"], lower_refined=cert["lower"])
                    new = fresh(cand, val, stop)
                if new.shape[0] == 0:
                    # the bracket decides below: OPTIMAL only if it closes, else an honest numerical_error
                    status = Status.OPTIMAL
                    break
            seen.update(map(tuple, new.tolist()))
            nc = pricer.tuple_costs(new)
            fin = np.isfinite(nc)
            new, nc = new[fin], nc[fin]
            cols = form.columns_from_indices(sites, new)
            session.add_columns(nc / s_c, np.zeros(nc.size), np.full(nc.size, np.inf), cols)
            all_idx.append(new)
            all_cost.append(nc)
            all_cols.append(cols)
    finally:
        session.close()
    if res is None:
        raise MMOTInputError("column generation over sites made no master solve; raise time_limit")
    if res.x is None or res.row_dual is None:
        # the solver's word is kept as the termination; no plan and no duals certify nothing
        return assemble_solution(
            problem=source, method="mcot", backend=res.backend,
            termination=res.status if res.status != Status.OPTIMAL else Termination.NUMERICAL_ERROR,
            value=math.nan, bound=Bound.ESTIMATE, iterations=it, t0=t0,
            message=f"the restricted master LP stopped without a solution: {res.message}",
            info={"solver": "sites", "colgen_iterations": it, "history": history})
    idx = np.concatenate(all_idx)
    c_all = np.concatenate(all_cost)
    A_all = sp.hstack(all_cols).tocsc()
    x = res.x
    slack = float(x[n0:n0 + n_slack].sum())
    if final_ref is not None:  # the refined master answer (slack columns dropped)
        w = np.asarray(final_ref.x, dtype=float)
        res = final_ref
    else:
        w = np.concatenate([x[:n0], x[n0 + n_slack:]])
    w = np.concatenate([w, np.zeros(c_all.size - w.size)])[:c_all.size]  # columns added after the last solve
    lp_final = form.build(c_all, A_all, indices=idx)
    out: dict[str, Any] = {"status": status}
    out.update(form.certificate(c_all, A_all, np.maximum(w, 0.0), None))
    # the certified lower bound over ALL candidate tuples (the scan), rounding-safe, best over the rounds
    min_r = cert["min_r"]
    viol = max(0.0, -min_r) if math.isfinite(min_r) else math.inf
    out.update(dual_value=cert["dual"], dual_violation=viol, certified_lower=best_lower, min_reduced_cost=min_r,
               abs_floor=floor)
    w = np.maximum(w, 0.0)
    keep = np.flatnonzero(w > 1e-12)
    out.update(atom_columns=keep, atom_weights=w[keep], slack_mass=slack, weights=w)
    gap = out["primal_value"] - best_lower
    closed = math.isfinite(gap) and gap <= max(CERT_REL_TOL * abs(out["primal_value"]), floor)
    why = ""
    if slack > SLACK_TOL:
        out["status"] = Status.INFEASIBLE
    elif status == Status.OPTIMAL and not closed:
        out["status"] = Status.NUMERICAL_ERROR
        why = (f"pricing found no new improving tuple but the certified gap is {gap:.3g} (relative "
               f"{gap / max(abs(out['primal_value']), GAP_ZERO_FLOOR):.3g} > {CERT_REL_TOL:g}); ")
    extra = {"colgen_iterations": it, "n_master_columns": int(c_all.size), "n_candidate_tuples": int(n_tuples),
             "pricing_certified": True, "master_value": out.get("primal_value", math.nan),
             "certified_gap": gap, "history": history}
    if final_ref is not None:
        extra["refinement"] = final_ref.refinement
    run_status = out["status"]
    sol = _lp_solution(P, source, form, lp_final, res, out, sites, idx, delta, t0, t_build, "sites", extra=extra)

    sol.info["n_candidates"] = int(n_tuples)
    if run_status == Status.INFEASIBLE:  # slack mass left: no measure on the candidates has these moments
        return replace(sol, value=math.nan, lower_bound=-math.inf, bound=Bound.ESTIMATE, iterations=it,
                       message="no measure on the candidate sites matches the moments (slack mass "
                               f"{slack:.2e} left); add candidates (refine/grid) or check the data")
    if sol.status == Status.OPTIMAL:
        return replace(sol, iterations=it)
    # unfinished: the master value bounds nothing; report the best certified bound met
    status_out = run_status if run_status != Status.OPTIMAL else Status.NUMERICAL_ERROR
    master = out.get("primal_value", math.nan)
    if _bounds_ot(P, sites, delta) and math.isfinite(best_lower):
        lower = best_lower - (delta or 0.0)
        msg = (f"column generation over sites stopped ({status_out.value}) after {it} rounds; {why}value = the "
               f"certified lower bound, restricted master value {master:.6g}")
        return replace(sol, status=status_out, value=lower, lower_bound=lower, bound=Bound.LOWER, iterations=it,
                       message=msg)
    msg = (f"column generation over sites stopped ({status_out.value}) after {it} rounds; {why}value = restricted "
           "master value (an estimate: bounds nothing)")
    return replace(sol, status=status_out, value=master, lower_bound=-math.inf, bound=Bound.ESTIMATE,
                   iterations=it, message=msg)


def _clip_duals(form: MomentLP, y: np.ndarray) -> np.ndarray:
    """Row duals with the signs the row bounds allow (a wrong-signed multiplier of a one-sided row is 0)."""
    y = np.asarray(y, dtype=float).copy()
    y[(y > 0) & ~np.isfinite(form.row_lower)] = 0.0
    y[(y < 0) & ~np.isfinite(form.row_upper)] = 0.0
    return y


def _dual_rhs(form: MomentLP, y: np.ndarray) -> np.ndarray:
    """The row bound each multiplier of :func:`_clip_duals` pairs with in the dual objective."""
    lo, up = form.row_lower, form.row_upper
    return np.where(y > 0, np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(up), up, 0.0))


def _bounds_ot(P: MCOTProblem, sites: list[np.ndarray], delta: float | None) -> bool:
    from .mcot_lp import _covers_supports

    return _covers_supports(P, sites) or delta is not None
