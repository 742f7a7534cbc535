"""Pyomo export and read-back for :class:`~mmot_models.modeling.Model` (Pyomo is imported lazily).

:func:`to_pyomo` builds a ``ConcreteModel`` whose components have meaning:

* ``pm.T``: the columns as Python tuples (index tuples, or sorted multisets for ``"symmetric"``);
* ``pm.plan[t]``: the plan variables (non-negative);
* ``pm.marginal[k, i]`` (primal) / ``pm.marginal[i]`` (symmetric, krep): the marginal rows
  (``pm.mass[0]``: the mass row of ``"moments"``);
* one indexed constraint per block, named like the block (``pm.user[name]``, ``pm.moment[k, j]``,
  ``pm.occupation[0]``), over the index set ``pm.<block>_index``;
* ``pm.obj`` and the import suffix ``pm.dual``.

A user may add constraints, variables or change the objective, then call
:func:`solve_pyomo` (``Model.solve_pyomo``): every *active* constraint becomes a row of the
certified LP -- the package's own rows from its arrays, the user's from Pyomo's
``generate_standard_repn`` -- and every row's dual enters the lower bound.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..errors import MethodNotAvailableError, MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Solution, Status

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["to_pyomo", "solve_pyomo"]

_TERM = {
    "optimal": Status.OPTIMAL, "infeasible": Status.INFEASIBLE, "unbounded": Status.UNBOUNDED,
    "infeasibleOrUnbounded": Status.INFEASIBLE, "maxTimeLimit": Status.TIME_LIMIT,
    "maxIterations": Status.ITERATION_LIMIT,
}
_TIME_KEY = {"appsi_highs": "time_limit", "highs": "time_limit", "glpk": "tmlim", "cbc": "sec"}


@dataclass(eq=False)
class _Link:
    """What ties a Pyomo model to the :class:`Model` that built it."""

    model: "Model"
    lp: StandardLP
    xs: list
    rows: list            # constraint data of each row of lp, in order
    obj: Any
    obj_expr: Any


def _bound(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def to_pyomo(model: "Model"):
    """Build the named Pyomo model of ``model`` (see the module docstring)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    lp = model.to_standard_lp()
    N = model.columns.shape[1]
    pm = pyo.ConcreteModel(name=f"mmot_{model.formulation}")
    keys = [tuple(r) for r in model.columns.tolist()]
    pm.T = pyo.Set(initialize=keys, dimen=N, ordered=True)
    pm.plan = pyo.Var(pm.T, domain=pyo.NonNegativeReals)
    xs = [pm.plan[k] for k in keys]
    obj_expr = LinearExpression(constant=float(lp.offset), linear_coefs=lp.c.tolist(), linear_vars=xs)
    pm.obj = pyo.Objective(expr=obj_expr, sense=pyo.minimize)
    A = lp.A.tocsr()
    indptr, indices, data = A.indptr, A.indices.tolist(), A.data.tolist()
    rl, ru = lp.row_lower, lp.row_upper
    rows: list = [None] * lp.n_rows
    for name, info in model.blocks.items():
        labels = info.labels
        if not labels:
            continue
        start = info.rows.start
        rowmap = {lab: start + i for i, lab in enumerate(labels)}
        dimen = len(labels[0]) if isinstance(labels[0], tuple) else 1

        def rule(_m, *idx, _rowmap=rowmap):
            i = _rowmap[idx[0] if len(idx) == 1 else tuple(idx)]
            a, b = indptr[i], indptr[i + 1]
            body = LinearExpression(constant=0.0, linear_coefs=data[a:b], linear_vars=[xs[j] for j in indices[a:b]])
            lo, up = _bound(rl[i]), _bound(ru[i])
            if lo is not None and lo == up:
                return body == lo
            return (lo, body, up)

        index = pyo.Set(initialize=labels, dimen=dimen, ordered=True)
        pm.add_component(f"{name}_index", index)
        con = pyo.Constraint(index, rule=rule)
        pm.add_component(name, con)
        for i, lab in enumerate(labels):
            rows[start + i] = con[lab]
    pm.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    pm._mmot_link = _Link(model, lp, xs, rows, pm.obj, obj_expr)
    return pm


def _solve(pm, solver: str, time_limit: float | None, verbose: bool, options: dict[str, Any]):
    import pyomo.environ as pyo

    opt = pyo.SolverFactory(solver)
    try:
        available = bool(opt.available(exception_flag=False))
    except Exception:  # noqa: BLE001 - Pyomo plugins raise various errors when a binary is absent
        available = False
    if not available:
        raise MethodNotAvailableError(f"Pyomo solver {solver!r} is not available on this machine; "
                                      "install it or use solver='appsi_highs'")
    if time_limit is not None and solver in _TIME_KEY:
        opt.options[_TIME_KEY[solver]] = float(time_limit)
    for k, v in options.items():
        opt.options[k] = v
    t0 = time.perf_counter()
    res = opt.solve(pm, tee=verbose, load_solutions=False)
    elapsed = time.perf_counter() - t0
    term = str(res.solver.termination_condition)
    status = _TERM.get(term, Status.ERROR)
    if status != Status.INFEASIBLE:
        try:
            pm.solutions.load_from(res)
        except Exception:  # noqa: BLE001 - some solvers report no loadable solution
            pass
    return res, status, term, elapsed


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def solve_pyomo(model: "Model", pm, *, solver: str = "appsi_highs", time_limit: float | None = None,
                verbose: bool = False, options: dict[str, Any] | None = None) -> Solution:
    """Solve ``pm`` (from :func:`to_pyomo`, maybe extended) and certify it against every active row."""
    import pyomo.environ as pyo
    from pyomo.repn import generate_standard_repn

    link: _Link | None = getattr(pm, "_mmot_link", None)
    if link is None or link.model is not model:
        raise MMOTInputError("this Pyomo model was not built by this Model's to_pyomo(); call m.to_pyomo() first")
    t0 = time.perf_counter()
    lp, n = link.lp, link.model.n_cols
    col_of = {id(v): j for j, v in enumerate(link.xs)}
    extra_vars: list = []

    def column(v) -> int:
        j = col_of.get(id(v))
        if j is None:
            j = n + len(extra_vars)
            col_of[id(v)] = j
            extra_vars.append(v)
        return j

    row_of = {id(c): i for i, c in enumerate(link.rows)}
    base_rows: list[int] = []
    base_cons: list = []
    ex_rows, ex_cols, ex_vals, ex_lo, ex_up, ex_cons = [], [], [], [], [], []
    for con in pm.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        i = row_of.get(id(con))
        if i is not None:
            base_rows.append(i)
            base_cons.append(con)
            continue
        repn = generate_standard_repn(con.body, compute_values=True, quadratic=False)
        if not repn.is_linear():
            raise MMOTInputError(f"constraint {con.name!r} is not linear; the certified model takes linear rows only")
        r = len(ex_cons)
        for v, a in zip(repn.linear_vars, repn.linear_coefs):
            ex_rows.append(r)
            ex_cols.append(column(v))
            ex_vals.append(float(a))
        const = float(repn.constant)
        ex_lo.append(-math.inf if con.lb is None else float(con.lb) - const)
        ex_up.append(math.inf if con.ub is None else float(con.ub) - const)
        ex_cons.append(con)

    order = np.argsort(base_rows, kind="stable")
    base_rows = [base_rows[k] for k in order]
    base_cons = [base_cons[k] for k in order]
    objs = list(pm.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objs) != 1:
        raise MMOTInputError(f"the Pyomo model has {len(objs)} active objectives; keep exactly one")
    obj = objs[0]
    if obj.sense != pyo.minimize:
        raise MMOTInputError("the objective must be minimised; minimise the negated expression instead")
    if obj is link.obj and obj.expr is link.obj_expr:
        obj_cols, obj_vals, offset = None, None, float(lp.offset)
    else:
        repn = generate_standard_repn(obj.expr, compute_values=True, quadratic=False)
        if not repn.is_linear():
            raise MMOTInputError("the objective is not linear; the certified model takes a linear objective only")
        obj_cols = [column(v) for v in repn.linear_vars]
        obj_vals = [float(a) for a in repn.linear_coefs]
        offset = float(repn.constant)

    n_tot = n + len(extra_vars)
    allvars = link.xs + extra_vars
    xl = np.array([-math.inf if v.lb is None else float(v.lb) for v in allvars])
    xu = np.array([math.inf if v.ub is None else float(v.ub) for v in allvars])
    fixed = np.array([v.fixed for v in allvars])
    if fixed.any():
        fv = np.array([_nan(v.value) for v in allvars])
        xl[fixed], xu[fixed] = fv[fixed], fv[fixed]
    if obj_cols is None:
        c = np.concatenate([lp.c, np.zeros(len(extra_vars))])
    else:
        c = np.zeros(n_tot)
        np.add.at(c, np.asarray(obj_cols, dtype=int), np.asarray(obj_vals))
    Ab = lp.A.tocsr()[base_rows]
    Ab.resize((len(base_rows), n_tot))
    Ae = sp.csr_matrix((ex_vals, (ex_rows, ex_cols)), shape=(len(ex_cons), n_tot))
    A = sp.vstack([Ab, Ae], format="csc")
    lo = np.concatenate([lp.row_lower[base_rows], ex_lo])
    up = np.concatenate([lp.row_upper[base_rows], ex_up])
    full = StandardLP(c=c, A=A, row_lower=lo, row_upper=up, col_lower=xl, col_upper=xu, offset=offset,
                      name="pyomo_extended")

    res, status, term, elapsed = _solve(pm, solver, time_limit, verbose, dict(options or {}))
    cons = base_cons + ex_cons
    vals = [v.value for v in allvars]
    x = np.asarray(vals, dtype=float) if all(v is not None for v in vals) else None
    duals = [pm.dual.get(con) for con in cons]
    y = np.asarray(duals, dtype=float) if all(d is not None for d in duals) else None
    # the implied plan bounds need every base row active (marginal rows; the mass row of "moments")
    # and plan columns >= 0
    marg = next(iter(link.model.blocks.values())).rows
    marginal_active = set(range(marg.start, marg.stop)) <= set(base_rows)
    col_upper = xu.copy()
    if marginal_active and np.all(xl[:n] >= 0):
        col_upper[:n] = np.minimum(xu[:n], link.model.implied_col_upper())
    nb = len(base_rows)

    def row_name(i: int) -> str:
        return link.model.row_name(base_rows[i]) if i < nb else f"Pyomo constraint {ex_cons[i - nb].name!r}"

    result = LPResult(status=status, x=x, row_dual=None if y is None else y, col_dual=None,
                      objective=math.nan, iterations=None, solver_time_s=elapsed, backend=f"pyomo/{solver}",
                      message=term, log=str(res))
    aligned = base_rows == list(range(lp.n_rows))
    sol = link.model.assemble(full, result, t0=t0, col_upper=col_upper, row_name=row_name,
                            rows_aligned=aligned,
                            info={"pyomo_rows_added": len(ex_cons), "pyomo_rows_deactivated": lp.n_rows - nb})
    return sol
