"""The one result type of every method: :class:`Solution`, with a :class:`Status`.

A solution says what happened (``status``), what was computed (``value``) and how far it can be
trusted (``lower_bound <= exact optimum <= upper_bound`` where certified, ``bound`` naming the
direction of a relaxation or heuristic).  ``status`` is kept apart from whether a plan is present:
a time-limited LP may carry a feasible plan whose value is only an upper bound.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .problem import MMOTProblem

__all__ = ["Status", "Bound", "Solution", "marginal_errors", "symmetrize_plan", "aggregate_plan",
           "certify_status", "GAP_ZERO_FLOOR", "certify_plan", "PLAN_RESIDUAL_FACTOR"]

#: A final (optimal/converged) result's returned plan may miss its marginals (L1, summed over sites,
#: worst marginal) by at most this many times the method's own tolerance, plus the mass it dropped.
PLAN_RESIDUAL_FACTOR = 10.0


class Status(str, enum.Enum):
    """What the method reached."""

    OPTIMAL = "optimal"                    #: certified optimum (LP optimal, gap within tolerance)
    CONVERGED = "converged"                #: an iterative method met its stopping tolerance
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NUMERICAL_ERROR = "numerical_error"
    NO_BOUND = "no_bound"                  #: the method ran but gives no finite bound on this problem
    ERROR = "error"

    @property
    def ok(self) -> bool:
        """``True`` when the result is final (optimal or converged)."""
        return self in (Status.OPTIMAL, Status.CONVERGED)


class Bound(str, enum.Enum):
    """How ``value`` relates to the exact optimum of the problem."""

    EXACT = "exact"          #: value is the optimum (within the reported gap)
    LOWER = "lower"          #: value <= optimum (a relaxation)
    UPPER = "upper"          #: value >= optimum (a feasible plan, heuristic or restriction)
    ESTIMATE = "estimate"    #: approximation without a direction (e.g. entropic transport cost)


#: Smallest scale of the relative gap (smallest positive normal float): only used where ``|value|``
#: is (almost) exactly 0, where a relative statement has no scale.
GAP_ZERO_FLOOR = 2.2250738585072014e-308


def certify_status(status: Status, lower: float, upper: float, value: float, rel_tol: float,
                   what: str = "the certificate", abs_floor: float = 0.0) -> tuple[Status, str]:
    """Keep ``OPTIMAL`` only if our own bracket ``[lower, upper]`` closes to ``rel_tol`` relative to ``|value|``.

    The test is ``upper - lower <= max(rel_tol * |value|, abs_floor)``: relative at every magnitude,
    also below 1 (a value of 2.5e-7 needs a gap below 2.5e-14 at ``rel_tol = 1e-7``).  ``abs_floor``
    (default 0) is for optima that are exactly 0: LP callers pass ``64 u max|c|`` (``u = 2**-53``),
    the rounding level of the cost data, below which no floating-point certificate can resolve a gap.
    Returns the (possibly downgraded) status and a message; other statuses pass through with an
    empty message.  Every certified method uses this one rule instead of trusting a solver's word.
    """
    if status != Status.OPTIMAL:
        return status, ""
    gap = upper - lower
    limit = max(rel_tol * abs(value), abs_floor) if math.isfinite(value) else -math.inf
    if math.isfinite(gap) and gap <= limit:
        return status, ""
    rel = gap / max(abs(value), GAP_ZERO_FLOOR) if math.isfinite(value) else math.inf
    return Status.NUMERICAL_ERROR, (f"solver reported optimal but the gap of {what} is {gap:.3g} "
                                    f"(relative {rel:.3g} > {rel_tol:g})")


def certify_plan(status: Status, plan_l1_error: float, tol: float, dropped_mass: float = 0.0,
                 what: str = "the returned plan") -> tuple[Status, str]:
    """Keep a final status (``OPTIMAL``/``CONVERGED``) only if the plan handed back is what it claims.

    The rule, in one place: a result is final only when the worst L1 marginal error of the plan it
    *returns* (``sum_s |m_i(s) - mu_i(s)|``, not the error of an internal iterate) is at most
    ``PLAN_RESIDUAL_FACTOR * tol + dropped_mass`` (``dropped_mass``: what truncating the plan
    removed on purpose).  Otherwise the status becomes ``NUMERICAL_ERROR`` and the message says by
    how much the plan misses; non-final statuses pass through with an empty message.
    """
    if not status.ok:
        return status, ""
    allowed = PLAN_RESIDUAL_FACTOR * tol + max(float(dropped_mass), 0.0)
    if plan_l1_error <= allowed:   # False for nan
        return status, ""
    return Status.NUMERICAL_ERROR, (
        f"the solver stopped as {status.value}, but {what} misses its marginals by L1 {plan_l1_error:.3g} "
        f"(allowed {allowed:.3g} = {PLAN_RESIDUAL_FACTOR:g} x tol {tol:g} + dropped mass): not a final result")


def _problem_hash(problem: "MMOTProblem") -> str | None:
    try:
        from .io import problem_hash
        return problem_hash(problem)
    except (TypeError, ValueError, AttributeError):  # a problem type without hashable data
        return None


def aggregate_plan(indices: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge repeated index tuples of a sparse plan (weights added), rows sorted lexicographically."""
    if indices.shape[0] == 0:
        return indices, weights
    uniq, inv = np.unique(indices, axis=0, return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=weights, minlength=uniq.shape[0])


def symmetrize_plan(indices: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average a sparse plan over all ``N!`` permutations of its coordinates.

    A plan on multisets (or any plan whose *average* marginal is ``mu``) becomes a plan with every
    marginal equal to ``mu`` and, for a symmetric cost, the same cost.  Size grows by at most ``N!``.
    """
    import itertools

    N = indices.shape[1]
    perms = list(itertools.permutations(range(N)))
    idx = np.concatenate([indices[:, list(p)] for p in perms], axis=0)
    w = np.tile(weights / len(perms), len(perms))
    return aggregate_plan(idx, w)


def marginal_errors(problem: "MMOTProblem", indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Max-norm error of each marginal of the sparse plan ``(indices, weights)``."""
    errs = np.empty(problem.n_marginals)
    for i, m in enumerate(problem.marginals):
        got = np.bincount(indices[:, i], weights=weights, minlength=m.size)
        errs[i] = float(np.max(np.abs(got - m.weights)))
    return errs


@dataclass(frozen=True, eq=False)
class Solution:
    """Result of :func:`mmot_models.solve`.

    Attributes
    ----------
    value : float
        The number the method computed, on the scale of the N-marginal cost
        ``E[sum_{i<j} c(x_i, x_j)]``.  For exact LPs the optimal value.
    lower_bound, upper_bound : float
        Certified bracket of the exact optimum of *this discrete problem* (``-inf``/``inf``
        when nothing is certified on that side).
    status : Status
    bound : Bound
        Direction of ``value`` relative to the exact optimum.
    plan_indices : ndarray of int, shape (K, N) or None
        Support of the plan as index tuples into each marginal's points.
    plan_weights : ndarray, shape (K,) or None
    potentials : tuple of ndarray or None
        Kantorovich potentials, one per marginal (the same array N times when symmetric).
    primal_value, dual_value : float
        Objective values behind the certificate (``nan`` when not available).
    marginal_error : ndarray, shape (N,)
        Max-norm residual of each marginal of the returned plan.
    """

    value: float
    status: Status
    method: str
    backend: str
    lower_bound: float = -math.inf
    upper_bound: float = math.inf
    bound: Bound = Bound.EXACT
    plan_indices: np.ndarray | None = None
    plan_weights: np.ndarray | None = None
    potentials: tuple[np.ndarray, ...] | None = None
    primal_value: float = math.nan
    dual_value: float = math.nan
    marginal_error: np.ndarray | None = None
    wall_time_s: float = math.nan
    solver_time_s: float = math.nan
    iterations: int | None = None
    message: str = ""
    log: str = field(default="", repr=False)
    info: dict[str, Any] = field(default_factory=dict, repr=False)
    problem: "MMOTProblem | None" = field(default=None, repr=False)

    # ------------------------------------------------------------ certificate
    @property
    def has_plan(self) -> bool:
        return self.plan_weights is not None

    @property
    def gap(self) -> float:
        """Absolute gap ``upper_bound - lower_bound`` (``inf`` if a side is missing)."""
        return float(self.upper_bound - self.lower_bound)

    @property
    def relative_gap(self) -> float:
        """``gap / |value|`` (relative at every magnitude; ``inf`` without a finite value)."""
        if not np.isfinite(self.value):
            return math.inf
        return self.gap / max(abs(self.value), GAP_ZERO_FLOOR)

    @property
    def max_marginal_error(self) -> float:
        return float(np.max(self.marginal_error)) if self.marginal_error is not None else math.nan

    @property
    def support_size(self) -> int:
        return 0 if self.plan_weights is None else int(np.count_nonzero(self.plan_weights > 0))

    # ------------------------------------------------------------ derived data
    def _need_plan(self) -> None:
        if self.plan_weights is None or self.problem is None:
            from .errors import MMOTInputError

            raise MMOTInputError(f"this solution ({self.method}, {self.status.value}) carries no plan; "
                                 "use a method that returns one (e.g. symmetric, primal, colgen, entropic)")

    def pair_density(self, i: int = 0, j: int = 1) -> np.ndarray:
        """Two-marginal projection ``P[a, b] = gamma(x_i = a, x_j = b)`` as a dense array."""
        self._need_plan()
        from .problem import _index

        n = self.problem.n_marginals
        i, j = _index(i, n, "pair_density: marginal index i"), _index(j, n, "pair_density: marginal index j")
        li, lj = self.problem.marginals[i].size, self.problem.marginals[j].size
        flat = self.plan_indices[:, i] * lj + self.plan_indices[:, j]
        return np.bincount(flat, weights=self.plan_weights, minlength=li * lj).reshape(li, lj)

    def support_points(self, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Support configurations as points ``(K, N, d)`` and their weights (``> tol``)."""
        self._need_plan()
        keep = self.plan_weights > tol
        idx = self.plan_indices[keep]
        pts = np.stack([self.problem.marginals[k].points[idx[:, k]] for k in range(idx.shape[1])], axis=1)
        return pts, self.plan_weights[keep]

    def marginals(self) -> list[np.ndarray]:
        """The N marginals of the returned plan (to compare with the problem's)."""
        self._need_plan()
        return [np.bincount(self.plan_indices[:, k], weights=self.plan_weights, minlength=m.size)
                for k, m in enumerate(self.problem.marginals)]

    # ------------------------------------------------------------ reporting
    def summary(self) -> dict[str, Any]:
        """Scalar fields only (what ``mmot solve --json`` prints)."""
        def num(x: float | None) -> float | None:
            if x is None:
                return None
            x = float(x)
            return x if math.isfinite(x) else None  # JSON has no inf/nan: null = not available
        out = {
            "value": num(self.value),
            "lower_bound": num(self.lower_bound),
            "upper_bound": num(self.upper_bound),
            "gap": num(self.gap),
            "relative_gap": num(self.relative_gap),
            "bound": self.reported_bound,
            "status": self.status.value,
            "method": self.method,
            "backend": self.backend,
            "wall_time_s": num(self.wall_time_s),
            "solver_time_s": num(self.solver_time_s),
            "support_size": self.support_size,
            "max_marginal_error": num(self.max_marginal_error),
            "primal_value": num(self.primal_value),
            "dual_value": num(self.dual_value),
            "iterations": self.iterations,
            "message": self.message,
        }
        if self.problem is not None:
            out["problem"] = {"name": self.problem.name, "n_marginals": self.problem.n_marginals,
                              "sizes": list(self.problem.sizes), "dim": self.problem.dim,
                              "cost": getattr(self.problem.cost, "kind", "?"), "hash": _problem_hash(self.problem)}
        scalars = {k: v for k, v in self.info.items() if isinstance(v, (int, float, str, bool)) or v is None}
        if scalars:
            out["info"] = {k: (num(v) if isinstance(v, float) else v) for k, v in scalars.items()}
        return out

    def to_dict(self, include_plan: bool = True) -> dict[str, Any]:
        """JSON-ready dictionary: :meth:`summary` plus the plan and potentials as lists."""
        out = self.summary()
        if include_plan and self.plan_weights is not None:
            out["plan"] = {"indices": self.plan_indices.tolist(), "weights": self.plan_weights.tolist()}
        if include_plan and self.potentials is not None:
            out["potentials"] = [np.asarray(p).tolist() for p in self.potentials]
        if include_plan and self.problem is not None:
            try:  # the problem itself, so the file can be loaded back and verified (mmot_models.load_solution)
                out["problem_data"] = self.problem.to_dict()
            except (TypeError, ValueError, AttributeError):  # a cost without a JSON form: the hash only
                pass
        return out

    @property
    def reported_bound(self) -> str:
        """``bound`` as it may be printed: an unfinished run never claims ``exact``.

        For a run whose status is not ok and whose ``bound`` is :attr:`Bound.EXACT`, the direction
        the bracket still certifies: ``"bracket"`` (both sides finite), ``"upper"``, ``"lower"`` or
        ``"none"``.
        """
        if self.status.ok or self.bound != Bound.EXACT:
            return self.bound.value
        lo, up = math.isfinite(self.lower_bound), math.isfinite(self.upper_bound)
        return "bracket" if lo and up else "upper" if up else "lower" if lo else "none"

    def __repr__(self) -> str:
        return (f"Solution(method={self.method!r}, status={self.status.value!r}, value={self.value:.10g}, "
                f"bound={self.reported_bound!r}, lower_bound={self.lower_bound:.10g}, "
                f"upper_bound={self.upper_bound:.10g}, support_size={self.support_size})")

    def __str__(self) -> str:
        shown = "n/a" if math.isnan(self.value) else f"{self.value:.12g}"
        lines = [f"{self.method} ({self.backend}): {self.status.value}",
                 f"  value        {shown}  [{self.reported_bound}]",
                 f"  bounds       [{self.lower_bound:.12g}, {self.upper_bound:.12g}]  gap {self.gap:.3g}"]
        if self.marginal_error is not None:
            lines.append(f"  marginal err {self.max_marginal_error:.3g}")
        if self.has_plan:
            lines.append(f"  support      {self.support_size} configurations")
        lines.append(f"  time         {self.wall_time_s:.3f} s")
        if self.message:
            lines.append(f"  note         {self.message}")
        return "\n".join(lines)
