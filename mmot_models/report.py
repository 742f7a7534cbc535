"""Side-by-side comparison of every applicable method on one problem: which bound, how tight, how fast.

:func:`compare` runs the exact symmetric LP (``"symmetric"`` when available, else the full ``"primal"``
LP) when it fits, the k-representability relaxations ``k = 2..k_max``, the SDP relaxation, the
moment-constrained relaxation ``mcot`` and the entropic solver when they are installed, the mean-field
upper bound and (Coulomb) the variance lower bound.  Each row says what the value is (``bound``:
exact / lower / upper / estimate) and how far it is from the reference: the certified exact value
when one method delivered it, otherwise the closest certified bound on the other side.

``mmot compare FILE [--json] [--plot out.png] [--k-max K]`` (:mod:`mmot_models.commands.compare`) prints
the table (or a JSON list) and draws the bracket closing as k grows
(:func:`mmot_models.plotting.plot_bracket`).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from .errors import MethodNotAvailableError, MMOTInputError, ProblemTooLargeError
from .problem import MMOTProblem
from .solution import Bound, Solution

__all__ = ["CompareRow", "compare", "format_table", "DEFAULT_METHODS", "OPTIONAL_METHODS"]

#: Method groups run by :func:`compare` (in this order).
DEFAULT_METHODS = ("exact", "krep", "sdp", "mcot", "entropic", "meanfield", "variance")
#: Groups run only on request: ``"cuts"`` = k = 2 with the order-N bipartition cuts.
OPTIONAL_METHODS = ("cuts",)


@dataclass
class CompareRow:
    """One line of the comparison table."""

    method: str
    value: float
    bound: str                 # exact / lower / upper / estimate / "-" (skipped)
    lower_bound: float
    upper_bound: float
    gap: float                 # value - reference (negative for lower bounds); nan without reference
    time_s: float
    status: str                # solution status, or "skipped" / "error"
    k: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("value", "lower_bound", "upper_bound", "gap", "time_s"):
            v = d[key]
            d[key] = float(v) if (v is not None and math.isfinite(v)) else None
        return d


def _row(name: str, sol: Solution, k: int | None = None) -> CompareRow:
    return CompareRow(method=name, value=float(sol.value), bound=sol.reported_bound, lower_bound=float(sol.lower_bound),
                      upper_bound=float(sol.upper_bound), gap=math.nan, time_s=float(sol.wall_time_s),
                      status=sol.status.value, k=k, note=sol.message)


def _skipped(name: str, why: str, k: int | None = None, status: str = "skipped") -> CompareRow:
    return CompareRow(method=name, value=math.nan, bound="-", lower_bound=-math.inf, upper_bound=math.inf,
                      gap=math.nan, time_s=math.nan, status=status, k=k, note=why)


def _exact_method() -> str:
    from .solve import available_methods

    return "symmetric" if "symmetric" in available_methods() else "primal"


def _run(name: str, problem: MMOTProblem, method: str, row_k: int | None = None, **opts: Any) -> CompareRow:
    from .solve import solve

    k = row_k
    t0 = time.perf_counter()
    try:
        sol = solve(problem, method=method, **opts)
    except MethodNotAvailableError as exc:
        return _skipped(name, str(exc), k)
    except ProblemTooLargeError as exc:
        return _skipped(name, f"too large: {exc}", k)
    except MMOTInputError as exc:
        return _skipped(name, f"not applicable: {exc}", k)
    except Exception as exc:  # a failing optional method must not sink the report
        row = _skipped(name, f"{type(exc).__name__}: {exc}", k, status="error")
        row.time_s = time.perf_counter() - t0
        return row
    return _row(name, sol, k)


def compare(problem: MMOTProblem, k_max: int | None = None, methods: Sequence[str] | None = None,
            time_limit: float | None = None, exact_method: str | None = None) -> list[CompareRow]:
    """Run every applicable method on ``problem`` and return one :class:`CompareRow` each.

    Parameters
    ----------
    problem : MMOTProblem
    k_max : int, optional
        Largest k of the k-representability hierarchy (default ``N + 1``).
    methods : sequence of str, optional
        Subset of :data:`DEFAULT_METHODS` plus :data:`OPTIONAL_METHODS` (``"exact"`` is the symmetric
        LP when available, else the primal LP; ``exact_method`` overrides; ``"cuts"`` adds k = 2 with
        bipartition cuts).
    time_limit : float, optional
        Per-method time limit in seconds (LP methods).

    Returns
    -------
    list of CompareRow
        ``gap`` = ``value - reference``; the reference is the certified exact value when one method
        delivered it, else (per row) the best certified bound on the other side of the row's value.
    """
    methods = tuple(DEFAULT_METHODS if methods is None else methods)
    bad = [m for m in methods if m not in DEFAULT_METHODS + OPTIONAL_METHODS]
    if bad:
        raise MMOTInputError(f"unknown compare method(s) {bad}; choose from "
                             f"{', '.join(DEFAULT_METHODS + OPTIONAL_METHODS)}")
    problem.check_feasible()  # an infeasible problem is bad input (InfeasibleProblemError), not a table
    N = problem.n_marginals
    k_max = N + 1 if k_max is None else int(k_max)
    if k_max < 2:
        raise MMOTInputError(f"--k-max must be >= 2, got {k_max}")
    lp_opts: dict[str, Any] = {} if time_limit is None else {"time_limit": float(time_limit)}
    rows: list[CompareRow] = []
    for group in methods:
        if group == "exact":
            m = exact_method or _exact_method()
            rows.append(_run(f"exact ({m})", problem, m, **lp_opts))
        elif group == "krep":
            for k in range(2, k_max + 1):
                rows.append(_run(f"krep k={k}", problem, "krep", row_k=k, k=k, **lp_opts))
        elif group == "cuts":
            if N >= 3:
                rows.append(_run(f"krep k=2 + cuts (K={N})", problem, "krep", k=2, cuts=True, **lp_opts))
        elif group == "sdp":
            rows.append(_run("sdp", problem, "sdp"))
            if problem.singular_diagonal:
                rows.append(_run("sdp + occupation bounds", problem, "sdp", occupation_bounds=True))
        elif group in ("mcot", "entropic"):
            rows.append(_run(group, problem, group))
        elif group == "meanfield":
            rows.append(_run("meanfield", problem, "meanfield"))
        elif group == "variance":
            rows.append(_run("variance", problem, "variance"))
    _fill_gaps(rows)
    return rows


def _fill_gaps(rows: list[CompareRow]) -> None:
    ok = [r for r in rows if r.status in ("optimal", "converged")]
    exact = [r for r in ok if r.bound == Bound.EXACT.value and math.isfinite(r.value)]
    best_lower = max([r.lower_bound for r in ok if math.isfinite(r.lower_bound)], default=-math.inf)
    best_upper = min([r.upper_bound for r in ok if math.isfinite(r.upper_bound)], default=math.inf)
    for r in rows:
        if not math.isfinite(r.value):
            continue
        if exact:
            r.gap = r.value - exact[0].value
        elif r.bound == Bound.LOWER.value and math.isfinite(best_upper):
            r.gap = r.value - best_upper
        elif r.bound == Bound.UPPER.value and math.isfinite(best_lower):
            r.gap = r.value - best_lower


def format_table(rows: Sequence[CompareRow]) -> str:
    """Plain-text table: method, value, bound, gap, time, status."""
    def f(x: float, spec: str = ".8g") -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "-"
        return format(x, spec)

    head = f"{'method':<22} {'value':>16} {'bound':>8} {'gap to ref':>12} {'time (s)':>9}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.method:<22} {f(r.value, '.10g'):>16} {r.bound:>8} {f(r.gap, '.3e'):>12} "
                     f"{f(r.time_s, '.3f'):>9}  {r.status}" + (f"  ({r.note})" if r.note and r.status != "optimal"
                                                                else ""))
    return "\n".join(lines)
