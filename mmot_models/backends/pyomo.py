"""Pyomo backend: a declarative :class:`pyomo.environ.ConcreteModel` of any standard-form LP.

The model is meant to be inspected, extended and exported::

    m = to_pyomo(lp)                    # m.x[t] variables indexed like the formulation's columns
    m.extra = pyo.Constraint(expr=m.x[0] <= 0.1)
    m.write("model.lp")                 # or .mps
    res = solve_pyomo_model(m, lp, solver="glpk")

Variables are indexed by column number; ``m.col_label[j]`` (a plain list on the model) names
what each column means (the index tuple of a Kantorovich plan column, when the formulation has one).  Rows are ``m.rows[i]``.  Duals are
read through ``m.dual`` (an import suffix), so any Pyomo solver that reports duals works
(``appsi_highs`` by default, ``glpk``, ``cbc``, ...).

Building costs one Python object per variable and nonzero (a Pyomo property); the direct highspy
backend is the fast default (see ``docs/benchmarks.md``).
"""
from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

from ..errors import MethodNotAvailableError
from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Status

__all__ = ["to_pyomo", "solve_pyomo_model", "solve_lp"]


def to_pyomo(lp: StandardLP, col_labels: list | None = None):
    """Build a Pyomo ``ConcreteModel`` with variables ``x``, constraints ``rows`` and objective ``obj``."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m = pyo.ConcreteModel(name=lp.name)
    n, r = lp.n_cols, lp.n_rows
    m.C = pyo.RangeSet(0, n - 1)
    m.R = pyo.RangeSet(0, r - 1)
    lo = [None if not np.isfinite(v) else float(v) for v in lp.col_lower]
    hi = [None if not np.isfinite(v) else float(v) for v in lp.col_upper]
    m.x = pyo.Var(m.C, domain=pyo.Reals, bounds=lambda _m, j: (lo[j], hi[j]))
    xs = [m.x[j] for j in range(n)]
    m.obj = pyo.Objective(expr=LinearExpression(constant=float(lp.offset), linear_coefs=lp.c.tolist(),
                                                linear_vars=xs), sense=pyo.minimize)
    A = lp.A.tocsr()
    indptr, indices, data = A.indptr, A.indices.tolist(), A.data.tolist()
    rl = [None if not np.isfinite(v) else float(v) for v in lp.row_lower]
    ru = [None if not np.isfinite(v) else float(v) for v in lp.row_upper]

    def row_rule(_m, i):
        a, b = indptr[i], indptr[i + 1]
        body = LinearExpression(constant=0.0, linear_coefs=data[a:b], linear_vars=[xs[j] for j in indices[a:b]])
        if rl[i] is not None and ru[i] is not None and rl[i] == ru[i]:
            return body == rl[i]
        return pyo.inequality(rl[i], body, ru[i]) if (rl[i] is not None and ru[i] is not None) else (
            body >= rl[i] if rl[i] is not None else body <= ru[i])

    m.rows = pyo.Constraint(m.R, rule=row_rule)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    # what each column means: index tuples for plan formulations (m.x[j] <-> m.col_label[j])
    if col_labels is None and "tuples" in lp.meta and lp.meta["tuples"].shape[0] == n:
        col_labels = [tuple(int(v) for v in row) for row in lp.meta["tuples"]]
    m.col_label = col_labels
    return m


_TERM = {
    "optimal": Status.OPTIMAL, "infeasible": Status.INFEASIBLE, "unbounded": Status.UNBOUNDED,
    "infeasibleOrUnbounded": Status.INFEASIBLE, "maxTimeLimit": Status.TIME_LIMIT,
    "maxIterations": Status.ITERATION_LIMIT,
}


def solve_pyomo_model(m, lp: StandardLP, *, solver: str = "appsi_highs", time_limit: float | None = None,
                      verbose: bool = False, options: dict[str, Any] | None = None) -> LPResult:
    """Solve a model made by :func:`to_pyomo` and read values and duals back as arrays."""
    import pyomo.environ as pyo

    from pyomo.common.log import LoggingIntercept

    # Pyomo logs a warning with a traceback (on stdout) for an unknown solver name; the
    # MethodNotAvailableError below says the same in one line
    with LoggingIntercept(io.StringIO(), "pyomo"):
        try:
            opt = pyo.SolverFactory(solver)
            available = bool(opt.available(exception_flag=False))
        except Exception:  # noqa: BLE001 - Pyomo plugins raise various errors when a binary is absent
            available = False
    if not available:
        raise MethodNotAvailableError(
            f"Pyomo solver {solver!r} is not available on this machine; install it or use --pyomo-solver appsi_highs")
    if time_limit is not None:
        key = {"appsi_highs": "time_limit", "glpk": "tmlim", "cbc": "sec"}.get(solver)
        if key:
            opt.options[key] = time_limit
    for k, v in (options or {}).items():
        opt.options[k] = v
    t0 = time.perf_counter()
    res = opt.solve(m, tee=verbose, load_solutions=False)
    elapsed = time.perf_counter() - t0
    term = str(res.solver.termination_condition)
    status = _TERM.get(term, Status.ERROR)
    x = row_dual = None
    objective = float("nan")
    if status == Status.OPTIMAL or (len(getattr(res, "solution", [])) > 0 and status != Status.INFEASIBLE):
        try:
            m.solutions.load_from(res)
        except Exception:  # noqa: BLE001 - some solvers report no loadable solution
            try:
                if hasattr(opt, "load_vars"):
                    opt.load_vars()
            except Exception:  # noqa: BLE001
                pass
        vals = [m.x[j].value for j in range(lp.n_cols)]
        if all(v is not None for v in vals):
            x = np.asarray(vals, dtype=float)
            objective = lp.objective(x)
        duals = [m.dual.get(m.rows[i]) for i in range(lp.n_rows)]
        if all(d is not None for d in duals):
            row_dual = np.asarray(duals, dtype=float)
    col_dual = None if row_dual is None else lp.c - lp.A.T @ row_dual
    return LPResult(status=status, x=x, row_dual=row_dual, col_dual=col_dual, objective=objective,
                    iterations=None, solver_time_s=elapsed, backend=f"pyomo/{solver}", message=term,
                    log=str(res))


def solve_lp(lp: StandardLP, *, solver: str = "appsi_highs", time_limit: float | None = None,
             verbose: bool = False, options: dict[str, Any] | None = None, col_labels: list | None = None) -> LPResult:
    """Build the Pyomo model of ``lp`` and solve it with ``solver``."""
    m = to_pyomo(lp, col_labels)
    return solve_pyomo_model(m, lp, solver=solver, time_limit=time_limit, verbose=verbose, options=options)
