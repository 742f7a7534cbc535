r"""An independent verifier of claimed plans and potentials.

:func:`verify` trusts nothing but the problem data.  Given a plan ``gamma`` (sparse tuples and
weights, or a dense array such as a POT ``ot.emd`` matrix) and/or potentials ``phi_1..phi_N`` it
checks, with rounding-safe sums (:func:`math.fsum` plus an explicit error allowance):

* **primal feasibility**: every weight is finite and non-negative, and every marginal row
  ``sum_{x: x_k = s} gamma(x) = mu_k(s)`` holds within ``tol``; a violated row is named
  (marginal ``k``, site ``s``, its point, both sides);
* **cost**: ``<c, gamma>``, refused if the plan puts mass on a tuple of infinite cost;
* **dual feasibility** over *all* tuples, by chunked vectorised enumeration of the ``prod l_k``
  tuples, or -- for symmetric problems -- of the multisets after symmetrising the potentials
  (``u = mean_k phi_k``, which has the same dual value and no larger violation because the cost
  is symmetric), or by exact branch-and-bound pricing
  (:func:`mmot_models.algorithms.pricing.price_bnb`) when even the multisets are too many;
* **the certified bracket**

  .. math::
      L = \sum_k \langle \phi_k, \mu_k\rangle - \max\big(0, \max_x \textstyle\sum_k \phi_k(x_k) - c(x)\big)
      \;\le\; \mathrm{OPT} \;\le\; U = \langle c, \gamma\rangle + R\, c_{\max},

  where ``R`` is the largest total marginal residual of the plan (zero for an exactly feasible plan)
  and ``c_max`` the largest finite tuple cost of the support grid; each side is widened by a bound
  on its floating-point error.  ``L`` is a valid lower bound for any potentials (weak duality with
  the violation charged on the unit mass).  For costs with an infinite diagonal ``R c_max`` prices
  the repair of a residual over tuples of distinct sites (exact when ``R = 0``).

A claimed bracket (the result's ``lower_bound``/``upper_bound``/``value``) is then checked against
``[L, U]``: a claim that excludes the verified bracket fails.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import MMOTInputError
from ..problem import MMOTProblem

__all__ = ["Verification", "verify", "as_sparse_plan", "DEFAULT_TOL", "DEFAULT_GAP_TOL", "MAX_ENUMERATE"]

#: Absolute tolerance on each marginal row (the marginals have unit mass).
DEFAULT_TOL = 1e-9
#: Relative tolerance for a claimed value against the verified bracket.
DEFAULT_GAP_TOL = 1e-7
#: Enumerate at most this many tuples or multisets for the dual check (then exact pricing).
MAX_ENUMERATE = 20_000_000
_EPS = np.finfo(float).eps
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        No check failed.
    lower_bound, upper_bound : float
        The verified bracket ``[L, U]`` of the optimum (``-inf``/``inf`` for a missing side).
    plan_cost : float
        ``<c, gamma>`` (``nan`` without a plan).
    max_residual : float
        Largest absolute marginal residual of the plan.
    worst_row : tuple of int or None
        ``(marginal, site)`` of that residual.
    dual_value, dual_violation : float
        ``sum_k <phi_k, mu_k>`` and ``max(0, max_x sum_k phi_k(x_k) - c(x))``.
    dual_check : str
        How dual feasibility was checked (enumeration of tuples or multisets, or exact pricing).
    failures, notes : tuple of str
        What failed (each names the violated row or bound) and what else is worth knowing.
    """

    ok: bool
    lower_bound: float = -math.inf
    upper_bound: float = math.inf
    plan_cost: float = math.nan
    max_residual: float = math.nan
    worst_row: tuple[int, int] | None = None
    dual_value: float = math.nan
    dual_violation: float = math.nan
    dual_check: str = ""
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def gap(self) -> float:
        """``upper_bound - lower_bound``."""
        return self.upper_bound - self.lower_bound

    def summary(self) -> dict[str, Any]:
        """JSON-ready dictionary (infinite or missing numbers as ``None``)."""
        def num(x: float) -> float | None:
            return float(x) if x is not None and math.isfinite(x) else None
        return {"ok": self.ok, "lower_bound": num(self.lower_bound), "upper_bound": num(self.upper_bound),
                "gap": num(self.gap), "plan_cost": num(self.plan_cost), "max_residual": num(self.max_residual),
                "worst_row": list(self.worst_row) if self.worst_row else None, "dual_value": num(self.dual_value),
                "dual_violation": num(self.dual_violation), "dual_check": self.dual_check,
                "failures": list(self.failures), "notes": list(self.notes)}

    def __str__(self) -> str:
        lines = [f"verification: {'OK' if self.ok else 'FAILED'}",
                 f"  bracket      [{self.lower_bound:.15g}, {self.upper_bound:.15g}]  gap {self.gap:.3g}"]
        if math.isfinite(self.plan_cost) or not math.isnan(self.max_residual):
            lines.append(f"  plan cost    {self.plan_cost:.15g}  max marginal residual {self.max_residual:.3g}")
        if not math.isnan(self.dual_value):
            lines.append(f"  dual value   {self.dual_value:.15g}  violation {self.dual_violation:.3g} "
                         f"({self.dual_check})")
        lines += [f"  FAIL  {f}" for f in self.failures]
        lines += [f"  note  {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------- inputs
def as_sparse_plan(problem: MMOTProblem, plan: Any) -> tuple[np.ndarray, np.ndarray]:
    """A plan as ``(indices (K, N) int64, weights (K,))``.

    Accepts ``(indices, weights)``, a mapping with ``indices`` (or ``tuples``) and ``weights``, a
    :class:`~mmot_models.Solution`, or a dense array of shape ``problem.sizes`` (e.g. the
    ``l_1 x l_2`` matrix of POT's ``ot.emd`` for N = 2; its non-zero entries are kept).
    """
    N, sizes = problem.n_marginals, problem.sizes
    if hasattr(plan, "plan_weights") and hasattr(plan, "plan_indices"):
        if plan.plan_weights is None:
            raise MMOTInputError("the solution carries no plan to verify")
        plan = (plan.plan_indices, plan.plan_weights)
    if isinstance(plan, Mapping):
        key = "indices" if "indices" in plan else "tuples" if "tuples" in plan else None
        if key is None or "weights" not in plan:
            raise MMOTInputError('a plan mapping needs "indices" (or "tuples") and "weights"')
        plan = (plan[key], plan["weights"])
    if isinstance(plan, (tuple, list)) and len(plan) == 2 and not isinstance(plan[0], (int, float)):
        try:
            idx = np.asarray(plan[0])
            w = np.asarray(plan[1], dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise MMOTInputError("plan indices and weights must be numeric arrays") from None
        if idx.ndim == 1 and w.size == idx.size and N == 1:  # pragma: no cover - N >= 2 always
            idx = idx[:, None]
        if idx.size == 0:
            idx = idx.reshape(0, N)
        if idx.ndim != 2 or idx.shape[1] != N:
            raise MMOTInputError(f"plan indices must have shape (K, {N}) for this {N}-marginal problem, got {idx.shape}")
        if idx.shape[0] != w.shape[0]:
            raise MMOTInputError(f"the plan has {idx.shape[0]} tuples but {w.shape[0]} weights")
        if not np.issubdtype(idx.dtype, np.integer):
            if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
                raise MMOTInputError("plan indices must be integers")
        idx = idx.astype(np.int64)
        bad = (idx < 0) | (idx >= np.asarray(sizes)[None, :])
        if np.any(bad):
            j, k = map(int, np.argwhere(bad)[0])
            raise MMOTInputError(f"plan tuple {j} has index {idx[j, k]} for marginal {k}, which has {sizes[k]} sites")
        return idx, w
    arr = np.asarray(plan, dtype=float)
    if arr.shape != tuple(sizes):
        raise MMOTInputError(f"a dense plan must have shape {tuple(sizes)} (one axis per marginal), got {arr.shape}")
    nz = np.nonzero(arr)
    return np.stack(nz, axis=1).astype(np.int64), arr[nz]


def _potentials(problem: MMOTProblem, potentials: Any) -> list[np.ndarray]:
    N = problem.n_marginals
    if hasattr(potentials, "potentials") and hasattr(potentials, "plan_weights"):
        potentials = potentials.potentials
        if potentials is None:
            raise MMOTInputError("the solution carries no potentials to verify")
    if isinstance(potentials, np.ndarray) and potentials.ndim == 1:
        potentials = [potentials]
    pots = [np.asarray(p, dtype=float).reshape(-1) for p in potentials]
    if len(pots) == 1 and problem.is_symmetric:
        pots = pots * N
    if len(pots) != N:
        raise MMOTInputError(f"give one potential per marginal ({N}), got {len(pots)}")
    for k, (p, m) in enumerate(zip(pots, problem.marginals)):
        if p.shape[0] != m.size:
            raise MMOTInputError(f"potential {k} has {p.shape[0]} entries but marginal {k} has {m.size} sites")
    return pots


# ---------------------------------------------------------------------------- checks
def _point(problem: MMOTProblem, k: int, s: int) -> str:
    x = problem.marginals[k].points[s]
    return "(" + ", ".join(f"{v:.6g}" for v in x) + ")"


def _max_finite_tuple_cost(problem: MMOTProblem) -> float:
    """Largest finite tuple cost: number of pairs times the largest finite pair cost (pair costs)."""
    if not problem.is_pair_cost:
        return math.inf
    N = problem.n_marginals
    best = 0.0
    pairs = [(0, 0)] if problem.is_symmetric else [(i, j) for i in range(N) for j in range(i + 1, N)]
    for i, j in pairs:
        C = problem.pair_matrix(i, j)
        fin = C[np.isfinite(C)]
        best = max(best, float(fin.max()) if fin.size else 0.0)
    return best * N * (N - 1) / 2 if problem.is_symmetric else best * len(pairs)


def _check_plan(problem: MMOTProblem, idx: np.ndarray, w: np.ndarray, tol: float,
                failures: list[str], notes: list[str]) -> tuple[float, float, float, tuple[int, int] | None]:
    """Returns (plan cost, certified upper bound, max residual, worst row)."""
    if not np.all(np.isfinite(w)):
        j = int(np.flatnonzero(~np.isfinite(w))[0])
        failures.append(f"plan weight {j} is {w[j]}; every weight must be a finite number")
        return math.nan, math.inf, math.nan, None
    if np.any(w < 0):
        j = int(np.argmin(w))
        failures.append(f"plan weight {j} (tuple {idx[j].tolist()}) is negative ({w[j]:.3g}); a plan is non-negative")
    worst, worst_row, residual_l1 = 0.0, None, 0.0
    for k, m in enumerate(problem.marginals):
        got = np.bincount(idx[:, k], weights=w, minlength=m.size)
        absmass = np.bincount(idx[:, k], weights=np.abs(w), minlength=m.size)
        r = got - m.weights
        # rounding allowance of a float sum of n terms: n * eps * sum |terms| (n bounded by the tuple count)
        allow = (np.bincount(idx[:, k], minlength=m.size) + 1) * _EPS * (absmass + m.weights)
        excess = np.abs(r) - allow
        s = int(np.argmax(np.abs(r)))
        if abs(r[s]) > worst:
            worst, worst_row = float(abs(r[s])), (k, s)
        residual_l1 = max(residual_l1, math.fsum(np.maximum(np.abs(r) - allow, 0.0)))
        bad = np.flatnonzero(excess > tol)
        if bad.size:
            s = int(bad[np.argmax(np.abs(r[bad]))])
            failures.append(
                f"marginal {k} row {s} (point {_point(problem, k, s)}) violated: the plan puts {got[s]:.17g} there, "
                f"the marginal is {m.weights[s]:.17g} (residual {r[s]:.3g} > tol {tol:g}; {bad.size} row(s) of "
                f"marginal {k} violated)")
    c = problem.tuple_costs(idx)
    pos = w > 0
    if np.any(pos & ~np.isfinite(c)):
        j = int(np.flatnonzero(pos & ~np.isfinite(c))[0])
        failures.append(f"plan tuple {j} {idx[j].tolist()} carries weight {w[j]:.3g} at infinite cost")
        return math.inf, math.inf, worst, worst_row
    terms = np.where(pos, w * np.where(np.isfinite(c), c, 0.0), 0.0)
    cost = math.fsum(terms)
    n_terms = problem.n_marginals ** 2
    allow = (n_terms + 2) * _EPS * math.fsum(np.abs(terms)) + _EPS * abs(cost)
    charge = 0.0
    if residual_l1 > 0:
        cmax = _max_finite_tuple_cost(problem)
        charge = residual_l1 * cmax
        notes.append(f"the plan's marginal residual (L1 {residual_l1:.3g}) is charged at the largest finite tuple cost "
                     f"{cmax:.6g}: +{charge:.3g} on the upper bound")
    return cost, cost + allow + charge, worst, worst_row


def _dual_value(problem: MMOTProblem, pots: list[np.ndarray]) -> tuple[float, float]:
    terms = np.concatenate([p * m.weights for p, m in zip(pots, problem.marginals)])
    return math.fsum(terms), 2 * _EPS * math.fsum(np.abs(terms))


def _violation_tuples(problem: MMOTProblem, pots: list[np.ndarray], chunk: int) -> tuple[float, float]:
    sizes = problem.sizes
    total = math.prod(sizes)
    worst, scale = -math.inf, 0.0
    for start in range(0, total, chunk):
        flat = np.arange(start, min(total, start + chunk), dtype=np.int64)
        idx = np.stack(np.unravel_index(flat, sizes), axis=1)
        lhs = np.zeros(flat.size)
        for k, p in enumerate(pots):
            lhs += p[idx[:, k]]
        worst, scale = _worst_violation(lhs, problem.tuple_costs(idx), worst, scale)
    return worst, scale


def _enumeration_peak(l: int, N: int, distinct: bool) -> int:
    """Rows held at once when enumerating the multisets level by level (complements when distinct)."""
    from ..formulations.multisets import multiset_count

    if distinct:
        n = min(N, l - N)
        return max(multiset_count(l, k, True) for k in range(1, max(n, 1) + 1))
    return multiset_count(l, N, False)


def _iter_all_multisets(l: int, N: int, distinct: bool, chunk: int):
    """Every multiset (sorted rows); distinct N-subsets of l sites with N > l/2 are enumerated as the
    complements of their (l-N)-subsets, which keeps the level-by-level enumeration small."""
    from ..formulations.multisets import iter_multisets

    if distinct and l - N < N:
        if l - N == 0:
            yield np.arange(l, dtype=np.int64)[None, :]
            return
        for comp in iter_multisets(l, l - N, distinct=True, max_rows=chunk):
            mask = np.ones((comp.shape[0], l), dtype=bool)
            mask[np.arange(comp.shape[0])[:, None], comp] = False
            yield np.nonzero(mask)[1].reshape(comp.shape[0], N)
        return
    yield from iter_multisets(l, N, distinct=distinct, max_rows=chunk)


def _worst_violation(lhs: np.ndarray, c: np.ndarray, worst: float, scale: float) -> tuple[float, float]:
    """Update the largest ``lhs - c`` over finite-cost entries and the magnitude ``|lhs| + |c|`` it is
    computed from (for the rounding allowance)."""
    fin = np.isfinite(c)
    if np.any(fin):
        worst = max(worst, float(np.max(lhs[fin] - c[fin])))
        scale = max(scale, float(np.max(np.abs(lhs[fin]) + np.abs(c[fin]))))
    return worst, scale


def _violation_multisets(problem: MMOTProblem, u: np.ndarray, distinct: bool, chunk: int) -> tuple[float, float]:
    l, N = problem.marginals[0].size, problem.n_marginals
    worst, scale = -math.inf, 0.0
    for ms in _iter_all_multisets(l, N, distinct, chunk):
        lhs = u[ms].sum(axis=1)
        worst, scale = _worst_violation(lhs, problem.tuple_costs(ms), worst, scale)
    return worst, scale


def _check_dual(problem: MMOTProblem, pots: list[np.ndarray], max_enumerate: int, chunk: int,
                failures: list[str], notes: list[str]) -> tuple[float, float, float, str]:
    """Returns (dual value, violation, certified lower bound, how)."""
    if not all(np.all(np.isfinite(p)) for p in pots):
        failures.append("a potential has NaN or infinite entries")
        return math.nan, math.nan, -math.inf, "not checked"
    D, d_allow = _dual_value(problem, pots)
    N = problem.n_marginals
    n_terms = N + N * (N - 1) // 2 + 2
    if problem.is_symmetric:
        from ..formulations.multisets import multiset_count

        u = np.mean(np.stack(pots), axis=0)
        distinct = problem.singular_diagonal
        l = problem.marginals[0].size
        count = multiset_count(l, N, distinct)
        if count <= max_enumerate and _enumeration_peak(l, N, distinct) <= max_enumerate:
            worst, scale = _violation_multisets(problem, u, distinct, chunk)
            how = f"all {count} multisets (symmetrised potentials)"
        elif problem.is_pair_cost:
            from ..algorithms.pricing import price_bnb, reduced_cost_matrix

            C = problem.pair_matrix(0, 0)
            B = reduced_cost_matrix(C, u, N, distinct)
            res = price_bnb(B, N, distinct, n_best=1, incumbent=0.0, node_budget=5e9)
            worst = -res.lower
            fin = C[np.isfinite(C)]
            scale = N * float(np.max(np.abs(u))) + N * N * float(np.max(np.abs(fin)) if fin.size else 0.0)
            how = (f"exact branch-and-bound pricing over {count:.3g} multisets"
                   + ("" if res.exact else " (node budget reached: a valid but loose bound)"))
        else:
            notes.append(f"dual feasibility not checked: {count:.3g} multisets exceed max_enumerate and the cost is "
                         "not a pair cost")
            return D, math.nan, -math.inf, "not checked"
    else:
        count = problem.n_tuples()
        if count > max_enumerate:
            notes.append(f"dual feasibility not checked: {count:.3g} tuples exceed max_enumerate={max_enumerate}")
            return D, math.nan, -math.inf, "not checked"
        worst, scale = _violation_tuples(problem, pots, chunk)
        how = f"all {count} tuples"
    allow = n_terms * _EPS * scale
    viol = max(0.0, worst)
    lower = D - d_allow - viol - allow
    return D, viol, lower, how


def verify(problem: MMOTProblem, plan: Any = None, potentials: Any = None, *, value: float | None = None,
           lower_bound: float | None = None, upper_bound: float | None = None, tol: float = DEFAULT_TOL,
           gap_tol: float | None = None, max_enumerate: int = MAX_ENUMERATE, chunk: int = _CHUNK) -> Verification:
    """Check a claimed plan and/or potentials of ``problem`` without trusting their origin.

    Parameters
    ----------
    problem : MMOTProblem
    plan : optional
        ``(indices, weights)``, ``{"indices"|"tuples": ..., "weights": ...}``, a dense array of shape
        ``problem.sizes`` (a POT plan for N = 2), or a :class:`~mmot_models.Solution` (its plan, its
        potentials and its claimed bracket are all checked).
    potentials : optional
        One array per marginal, or one array for a symmetric problem.
    value, lower_bound, upper_bound : float, optional
        A claimed value and bracket to check against the verified one.
    tol : float
        Absolute tolerance of each marginal row (beyond the rounding allowance).
    gap_tol : float, optional
        Relative tolerance of a claimed value: it must lie in ``[L, U]`` widened by
        ``gap_tol * max(1, |value|)``.  When given, the verified gap must also be below it
        (``ok`` then means "certified optimal to gap_tol").
    max_enumerate : int
        Largest number of tuples/multisets enumerated for the dual check; beyond it symmetric pair
        costs use exact branch-and-bound pricing and other problems are reported unchecked.
    chunk : int
        Rows per vectorised chunk (memory bound).

    Returns
    -------
    Verification
    """
    if not isinstance(problem, MMOTProblem):
        raise MMOTInputError(f"verify needs an MMOTProblem, got {type(problem).__name__}")
    if plan is None and potentials is None:
        raise MMOTInputError("nothing to verify: give a plan and/or potentials")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise MMOTInputError(f"tol must be a finite number >= 0, got {tol!r}")
    sol = plan if hasattr(plan, "plan_weights") else None
    if sol is not None:
        if potentials is None and sol.potentials is not None:
            potentials = sol.potentials
        value = sol.value if value is None else value
        lower_bound = sol.lower_bound if lower_bound is None else lower_bound
        upper_bound = sol.upper_bound if upper_bound is None else upper_bound
        if sol.plan_weights is None:
            plan = None
    failures: list[str] = []
    notes: list[str] = []
    cost, U, resid, row = math.nan, math.inf, math.nan, None
    if plan is not None:
        idx, w = as_sparse_plan(problem, plan)
        cost, U, resid, row = _check_plan(problem, idx, w, float(tol), failures, notes)
        if failures and any(f.startswith("marginal") or "negative" in f for f in failures):
            U = math.inf  # not a feasible plan: no upper bound from it
    D, viol, L, how = math.nan, math.nan, -math.inf, ""
    if potentials is not None:
        pots = _potentials(problem, potentials)
        D, viol, L, how = _check_dual(problem, pots, int(max_enumerate), int(chunk), failures, notes)
    if L > U:
        failures.append(f"inverted bracket: the potentials' lower bound {L:.15g} exceeds the plan's upper bound "
                        f"{U:.15g}; one of them is wrong")
    if lower_bound is not None and math.isfinite(lower_bound) and lower_bound > U:
        failures.append(f"claimed lower bound {lower_bound:.15g} exceeds the verified upper bound {U:.15g}")
    if upper_bound is not None and math.isfinite(upper_bound) and upper_bound < L:
        failures.append(f"claimed upper bound {upper_bound:.15g} is below the verified lower bound {L:.15g}")
    if value is not None and gap_tol is not None and math.isfinite(value):
        slack = gap_tol * max(1.0, abs(value))
        if not (L - slack <= value <= U + slack):
            failures.append(f"claimed value {value:.15g} lies outside the verified bracket [{L:.15g}, {U:.15g}]")
        if not (U - L <= slack):
            failures.append(f"the verified gap {U - L:.3g} exceeds gap_tol {gap_tol:g} x max(1, |value|)")
    return Verification(ok=not failures, lower_bound=L, upper_bound=U, plan_cost=cost, max_residual=resid,
                        worst_row=row, dual_value=D, dual_violation=viol, dual_check=how,
                        failures=tuple(failures), notes=tuple(notes))
