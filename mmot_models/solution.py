"""The one result type of every method: :class:`Solution`, and the one place it is assembled.

A solution says three things, kept apart (as Pyomo's results and MathOptInterface do):

- ``termination`` (:class:`Termination`): why the run stopped, in the solver's or loop's own word
  (``optimal``, ``time_limit``, ...), never changed by the package;
- ``verdict`` (:class:`Verdict`): what the package's own certificate proves about the exact
  optimum of the discrete problem (a closed bracket, an open bracket, one side, nothing,
  infeasibility);
- ``status`` (:class:`Status`, kept for compatibility and for the CLI's exit codes): the
  termination after the package's checks (a solver's ``optimal`` with an open bracket becomes
  ``numerical_error``), and ``bound`` the direction of ``value``.

:func:`assemble_solution` applies every rule that turns a run's raw numbers into these fields
(bracket check, plan check, value of an unfinished run, discarded upper bounds, messages); every
method builds its :class:`Solution` through it.  Common diagnostics are typed
(:class:`Diagnostics`); ``info`` holds method-specific extras.
"""
from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field
from dataclasses import fields as _dc_fields
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .problem import MMOTProblem

__all__ = ["Status", "Bound", "Termination", "Verdict", "Diagnostics", "Solution", "assemble_solution",
           "unfinished_value", "marginal_errors", "symmetrize_plan", "aggregate_plan", "certify_status",
           "GAP_ZERO_FLOOR", "certify_plan", "PLAN_RESIDUAL_FACTOR", "CERT_REL_TOL", "ZERO_FLOOR_REL", "FEASIBLE_RESIDUAL_TOL"]

#: Relative gap below which a bracket counts as closed (default of :func:`assemble_solution`).
CERT_REL_TOL = 1e-7
#: Absolute gap floor of an LP certificate, relative to the largest |cost|: ``64 u`` (u = 2**-53), the
#: rounding level of the cost data (only matters for optima within it of 0; see :func:`certify_status`).
ZERO_FLOOR_REL = 64 * 2.0 ** -53
#: Marginal residual (max norm) above which an unfinished run's plan is no feasible plan: its upper
#: bound is dropped by :func:`assemble_solution`.
FEASIBLE_RESIDUAL_TOL = 1e-9

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


class Termination(str, enum.Enum):
    """Why a run stopped: the solver's (or the iterative loop's) own word, before any check.

    :func:`assemble_solution` maps it to :class:`Status` after the package's certificate checks;
    the termination itself is reported unchanged (``Solution.termination``).
    """

    OPTIMAL = "optimal"                    #: the solver's optimality criterion was met
    CONVERGED = "converged"                #: an iterative method met its stopping tolerance
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"    #: also: a round/budget limit, a stalled loop
    INFEASIBLE = "infeasible"              #: the solver proved infeasibility
    UNBOUNDED = "unbounded"
    NUMERICAL_ERROR = "numerical_error"    #: the solver gave up on numerical grounds
    INTERRUPTED = "interrupted"            #: stopped from outside (signal, user)
    ERROR = "error"
    CLOSED_FORM = "closed_form"            #: no solver ran: a formula was evaluated

    @classmethod
    def from_status(cls, status: "Status") -> "Termination":
        """The termination a backend's :class:`Status` stands for (``no_bound`` -> ``closed_form``)."""
        return _STATUS_TO_TERMINATION[Status(status)]

    def to_status(self) -> "Status":
        """The :class:`Status` this termination gives before the certificate checks."""
        return _TERMINATION_TO_STATUS[self]


class Verdict(str, enum.Enum):
    """What the certificate proves about the exact optimum of the discrete problem.

    Derived from the certified bracket ``[lower_bound, upper_bound]`` only, never from a solver's word.
    """

    OPTIMAL = "optimal"          #: both sides finite and the bracket closed to the tolerance
    BRACKET = "bracket"          #: both sides finite, the bracket open
    UPPER = "upper"              #: an upper bound only (a feasible plan)
    LOWER = "lower"              #: a lower bound only (a relaxation, a dual)
    NONE = "none"                #: nothing certified
    INFEASIBLE = "infeasible"    #: the problem was proven infeasible

    @classmethod
    def of(cls, lower: float, upper: float, value: float = math.nan, *, rel_tol: float = CERT_REL_TOL,
           abs_floor: float = 0.0, infeasible: bool = False) -> "Verdict":
        """The verdict of a bracket: closed if ``upper - lower <= max(rel_tol |scale|, abs_floor)``.

        ``scale`` is ``value`` when finite, else ``upper`` (the same rule as :func:`certify_status`).
        """
        if infeasible:
            return cls.INFEASIBLE
        lo, up = math.isfinite(lower), math.isfinite(upper)
        if lo and up:
            scale = value if math.isfinite(value) else upper
            return cls.OPTIMAL if upper - lower <= max(rel_tol * abs(scale), abs_floor) else cls.BRACKET
        return cls.UPPER if up else cls.LOWER if lo else cls.NONE


class Bound(str, enum.Enum):
    """How ``value`` relates to the exact optimum of the problem."""

    EXACT = "exact"          #: value is the optimum (within the reported gap)
    LOWER = "lower"          #: value <= optimum (a relaxation)
    UPPER = "upper"          #: value >= optimum (a feasible plan, heuristic or restriction)
    ESTIMATE = "estimate"    #: approximation without a direction (e.g. entropic transport cost)


_TERMINATION_TO_STATUS = {
    Termination.OPTIMAL: Status.OPTIMAL, Termination.CLOSED_FORM: Status.OPTIMAL,
    Termination.CONVERGED: Status.CONVERGED, Termination.TIME_LIMIT: Status.TIME_LIMIT,
    Termination.ITERATION_LIMIT: Status.ITERATION_LIMIT, Termination.INFEASIBLE: Status.INFEASIBLE,
    Termination.UNBOUNDED: Status.UNBOUNDED, Termination.NUMERICAL_ERROR: Status.NUMERICAL_ERROR,
    Termination.INTERRUPTED: Status.ERROR, Termination.ERROR: Status.ERROR,
}
_STATUS_TO_TERMINATION = {
    Status.OPTIMAL: Termination.OPTIMAL, Status.CONVERGED: Termination.CONVERGED,
    Status.TIME_LIMIT: Termination.TIME_LIMIT, Status.ITERATION_LIMIT: Termination.ITERATION_LIMIT,
    Status.INFEASIBLE: Termination.INFEASIBLE, Status.UNBOUNDED: Termination.UNBOUNDED,
    Status.NUMERICAL_ERROR: Termination.NUMERICAL_ERROR, Status.NO_BOUND: Termination.CLOSED_FORM,
    Status.ERROR: Termination.ERROR,
}


@dataclass(frozen=True)
class Diagnostics:
    """Typed diagnostics common to many methods (``None``: not reported by this method).

    :meth:`from_info` reads them from an ``info`` dictionary under the same names, so a method
    that still fills ``info`` gets typed diagnostics too; ``Solution.info`` keeps these keys as
    well (backward compatibility of ``info[...]`` and of the ``--json`` output).
    """

    n_cols: int | None = None              #: columns (variables) of the LP solved last
    n_rows: int | None = None              #: rows of the LP solved last
    nnz: int | None = None                 #: nonzeros of its constraint matrix
    build_time_s: float | None = None      #: time to build the model before the first solve
    solver_message: str | None = None      #: the solver's own last message
    rounds: int | None = None              #: outer rounds (column generation, cuts, eps stages)
    max_violation: float | None = None     #: largest relative row/bound violation of the plan
    dual_violation: float | None = None    #: largest dual (reduced-cost) violation of the potentials
    dual_rounding_charge: float | None = None  #: what the lower bound charged for rounding/data error
    residual_l1: float | None = None       #: L1 marginal residual of the plan behind the upper bound
    residual_charge: float | None = None   #: what the upper bound charged for that residual
    plan_dropped_mass: float | None = None  #: mass removed on purpose when truncating the plan
    pricing_time_s: float | None = None    #: time spent pricing (column generation)
    refinement: Mapping[str, Any] | None = None  #: what iterative refinement did (``None``: not run)

    _INT = ("n_cols", "n_rows", "nnz", "rounds")

    @classmethod
    def from_info(cls, info: Mapping[str, Any] | None) -> "Diagnostics":
        """The common keys of ``info`` (ignored when of the wrong type)."""
        if not info:
            return cls()
        kw: dict[str, Any] = {}
        for f in _dc_fields(cls):
            v = info.get(f.name)
            if v is None:
                continue
            if f.name in cls._INT:
                if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                    kw[f.name] = int(v)
            elif f.name == "solver_message":
                if isinstance(v, str):
                    kw[f.name] = v
            elif f.name == "refinement":
                if isinstance(v, Mapping):
                    kw[f.name] = v
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                kw[f.name] = float(v)
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        """The reported diagnostics (``None`` left out; ``refinement`` left out: not a scalar)."""
        out: dict[str, Any] = {}
        for f in _dc_fields(self):
            v = getattr(self, f.name)
            if v is None or f.name == "refinement":
                continue
            out[f.name] = v if not isinstance(v, float) or math.isfinite(v) else None
        return out


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
    termination : Termination
        Why the run stopped (the solver's word; derived from ``status`` when not given).
    verdict : Verdict
        What the bracket certifies: always derived from the bounds, ``gap_rel_tol`` and
        ``gap_abs_floor`` (the closing rule of :func:`certify_status`, as the method applied it).
    diagnostics : Diagnostics
        Typed common diagnostics (read from ``info`` when not given).
    gap_rel_tol, gap_abs_floor : float
        The closing rule the method applied to its bracket (``upper - lower <=
        max(gap_rel_tol |value|, gap_abs_floor)``), used for ``verdict``.
    info : dict
        Method-specific extras (it also repeats the :class:`Diagnostics` keys, for compatibility).
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
    termination: Termination | None = None
    diagnostics: Diagnostics | None = field(default=None, repr=False)
    gap_rel_tol: float = field(default=CERT_REL_TOL, repr=False)
    gap_abs_floor: float = field(default=0.0, repr=False)
    verdict: Verdict = field(init=False, default=Verdict.NONE)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "bound", Bound(self.bound))
        if self.termination is None:
            object.__setattr__(self, "termination", Termination.from_status(self.status))
        else:
            object.__setattr__(self, "termination", Termination(self.termination))
        # always derived from the bracket (also after dataclasses.replace)
        object.__setattr__(self, "verdict", Verdict.of(
            float(self.lower_bound), float(self.upper_bound), float(self.value), rel_tol=self.gap_rel_tol,
            abs_floor=self.gap_abs_floor,
            infeasible=self.status == Status.INFEASIBLE and self.termination == Termination.INFEASIBLE))
        if self.diagnostics is None:
            object.__setattr__(self, "diagnostics", Diagnostics.from_info(self.info))

    @classmethod
    def assemble(cls, **kwargs: Any) -> "Solution":
        """Alias of :func:`assemble_solution` (the one place a Solution is assembled)."""
        return assemble_solution(**kwargs)

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
            "termination": self.termination.value,
            "verdict": self.verdict.value,
            "gap_rel_tol": self.gap_rel_tol,
            "gap_abs_floor": self.gap_abs_floor,
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
        out["diagnostics"] = self.diagnostics.to_dict()
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
                 f"  stopped      {self.termination.value}; certified: {self.verdict.value}",
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


def unfinished_value(lower: float, upper: float) -> tuple[float, Bound]:
    """Value and bound direction of a run that did not certify optimality.

    The certified upper bound when there is one (``Bound.UPPER``), else the certified lower bound
    (``Bound.LOWER``), else ``nan`` labelled ``Bound.ESTIMATE``: never a bare value labelled exact.
    """
    if math.isfinite(upper):
        return upper, Bound.UPPER
    if math.isfinite(lower):
        return lower, Bound.LOWER
    return math.nan, Bound.ESTIMATE


def assemble_solution(*, problem: "MMOTProblem | None", method: str, backend: str,
                      termination: Termination | Status, value: float = math.nan,
                      lower_bound: float = -math.inf, upper_bound: float = math.inf, bound: Bound = Bound.EXACT,
                      certify_bracket: tuple[float, float] | None = None, rel_tol: float = CERT_REL_TOL,
                      abs_floor: float = 0.0, what: str = "the certificate",
                      plan_indices: np.ndarray | None = None, plan_weights: np.ndarray | None = None,
                      potentials: tuple[np.ndarray, ...] | None = None, primal_value: float = math.nan,
                      dual_value: float = math.nan, marginal_error: np.ndarray | None = None,
                      plan_check: tuple[float, float, float] | None = None, plan_check_voids_upper: bool = False,
                      plan_check_what: str = "the returned plan", iterate_residual: float | None = None,
                      residual_tol: float = FEASIBLE_RESIDUAL_TOL, message: str = "",
                      t0: float | None = None, wall_time_s: float = math.nan, solver_time_s: float = math.nan,
                      iterations: int | None = None, log: str = "", diagnostics: Diagnostics | None = None,
                      info: dict[str, Any] | None = None) -> Solution:
    """The one place a :class:`Solution` is assembled from a run's raw numbers.

    Rules, applied in this order:

    1. ``status`` starts as ``termination.to_status()`` (``termination`` may be given as a
       backend's :class:`Status`; it is reported unchanged as ``Solution.termination``).
    2. Bracket check (:func:`certify_status`): an ``OPTIMAL`` status stays so only if the bracket
       ``certify_bracket`` (default ``(lower_bound, upper_bound)``, checked when ``bound`` is
       ``EXACT`` or ``certify_bracket`` is given: a relaxation passes the bracket of the problem it
       solved) closes to ``max(rel_tol |value|, abs_floor)``; else ``NUMERICAL_ERROR``.
    3. Plan check (:func:`certify_plan`): with ``plan_check = (plan_l1_error, tol, dropped_mass)``
       a final status stays so only if the returned plan meets its marginals; if it fails and
       ``plan_check_voids_upper``, the upper bound is dropped (``info["upper_bound_discarded"]``).
    4. The plan of a run that did not terminate as final (an interrupted iterate) with a marginal
       residual ``iterate_residual`` above ``residual_tol`` is no feasible plan: its upper bound is
       dropped.
    5. A non-final, non-infeasible run whose ``bound`` is ``EXACT`` reports
       :func:`unfinished_value` (certified upper, else lower, else ``nan``), never a value labelled
       exact; an infeasible run without a value is labelled ``ESTIMATE``.
    6. A final run whose value in its bound direction is not finite bounds nothing: ``NO_BOUND``.
    7. ``verdict`` = :meth:`Verdict.of` the final bracket (``INFEASIBLE`` if the solver proved it).

    ``message`` is the caller's note; messages of failed checks are put before it.  ``t0`` (a
    ``time.perf_counter()`` reading) sets ``wall_time_s``.  ``diagnostics`` default to those read
    from ``info``; given ones are also copied into ``info`` (compatibility of ``info[...]``).
    """
    term = termination if isinstance(termination, Termination) else Termination.from_status(Status(termination))
    status = term.to_status()
    info = dict(info or {})
    notes: list[str] = []
    lower, upper, value, bound = float(lower_bound), float(upper_bound), float(value), Bound(bound)
    if status == Status.OPTIMAL and (certify_bracket is not None or bound == Bound.EXACT):
        lo, up = certify_bracket if certify_bracket is not None else (lower, upper)
        status, why = certify_status(status, float(lo), float(up), value, rel_tol, what, abs_floor)
        notes.append(why)
    if plan_check is not None:
        l1, tol, dropped = plan_check
        status, why = certify_plan(status, float(l1), float(tol), float(dropped), what=plan_check_what)
        notes.append(why)
        if why and plan_check_voids_upper and math.isfinite(upper):
            info["upper_bound_discarded"] = upper
            upper = math.inf
    if (not term.to_status().ok and iterate_residual is not None and not iterate_residual <= residual_tol
            and math.isfinite(upper)):
        upper = math.inf   # an interrupted iterate is not a feasible plan: no upper bound
    if status == Status.INFEASIBLE:
        if math.isnan(value) and bound == Bound.EXACT:
            bound = Bound.ESTIMATE
    elif not status.ok and bound == Bound.EXACT:
        value, bound = unfinished_value(lower, upper)
    if status.ok and ((bound == Bound.UPPER and not math.isfinite(upper) and not math.isfinite(value))
                      or (bound == Bound.LOWER and not math.isfinite(lower) and not math.isfinite(value))):
        status = Status.NO_BOUND
    if diagnostics is None:
        diagnostics = Diagnostics.from_info(info)
    else:
        for f in _dc_fields(diagnostics):
            v = getattr(diagnostics, f.name)
            if v is not None:
                info.setdefault(f.name, v)
    wall = time.perf_counter() - t0 if t0 is not None else wall_time_s
    msg = "; ".join(m for m in [*notes, message] if m)
    return Solution(value=value, status=status, method=method, backend=backend, lower_bound=lower,
                    upper_bound=upper, bound=bound, plan_indices=plan_indices, plan_weights=plan_weights,
                    potentials=potentials, primal_value=primal_value, dual_value=dual_value,
                    marginal_error=marginal_error, wall_time_s=wall, solver_time_s=solver_time_s,
                    iterations=iterations, message=msg, log=log, info=info, problem=problem,
                    termination=term, diagnostics=diagnostics, gap_rel_tol=float(rel_tol),
                    gap_abs_floor=float(abs_floor))
