"""One checker for every formulation x backend x block: the certificate, verified from outside.

:func:`check_solution` takes the returned :class:`~mmot_models.Solution`, the model, and the
independent reference LP of :mod:`.instances` (columns enumerated by the test, rows assembled by
the test), and verifies with its own arithmetic:

* primal feasibility: the returned plan, mapped onto the enumerated columns, meets every row
  (base rows and added blocks) and ``x >= 0`` within :data:`FEAS_TOL`;
* dual feasibility over ALL enumerated columns: the reduced costs ``c - A^T y`` computed here
  from the returned row duals are ``>= -DUAL_TOL``, and the dual signs fit the row senses;
* complementarity: a column with ``x_j > SUPPORT_TOL`` has ``|c_j - A_j^T y| <= DUAL_TOL``, an
  inequality row with slack has a zero dual;
* gap: the dual objective computed here equals the plan's cost, and the model's own certified
  bracket closes (``upper - lower <= CERT_REL_TOL * max(1, |value|)``);
* value: the model's LP value equals the reference LP's optimum (linprog) within :data:`AGREE_TOL`;
* bound direction: EXACT formulations bracket the exact MMOT value, LOWER relaxations stay below
  it, UPPER restrictions above it.
"""
from __future__ import annotations

import math

import numpy as np

import mmot_models as mm
from mmot_models.modeling.certify import CERT_REL_TOL

from .instances import RefLP

#: Row violation (absolute, rows and right-hand sides are O(1)) below which a plan is feasible.
FEAS_TOL = 1e-8
#: Reduced cost / dual sign tolerance (absolute; costs are O(1..10)).
DUAL_TOL = 1e-7
#: Plan weights above this count as support (complementarity).
SUPPORT_TOL = 1e-7
#: Values of different backends / the reference LP must agree to this (absolute).
AGREE_TOL = 1e-7


def plan_vector(model: mm.Model, sol: mm.Solution, ref: RefLP) -> np.ndarray:
    """The returned plan as a vector over the reference's enumerated columns."""
    x = np.zeros(len(ref.keys))
    if model.multiset_columns:
        keys, w = sol.info["multisets"], sol.info["multiset_weights"]
        keys = [tuple(sorted(int(v) for v in t)) for t in np.asarray(keys).tolist()]
    else:
        keys = [tuple(int(v) for v in t) for t in np.asarray(sol.plan_indices).tolist()]
        w = sol.plan_weights
    for t, v in zip(keys, np.asarray(w, dtype=float)):
        assert t in ref.index, f"the plan uses column {t}, which is no finite-cost column of the problem"
        x[ref.index[t]] += v
    return x


def row_duals(model: mm.Model, sol: mm.Solution, ref: RefLP) -> np.ndarray:
    """Row duals in the reference's row order (block names and sizes must match)."""
    got = sol.info["row_duals"]
    assert [n for n, _ in ref.blocks] == list(got), (list(got), ref.blocks)
    parts = []
    for name, n in ref.blocks:
        y = np.asarray(got[name], dtype=float)
        assert y.shape == (n,), (name, y.shape, n)
        parts.append(y)
    return np.concatenate(parts)


def check_solution(model: mm.Model, sol: mm.Solution, ref: RefLP, *, ref_value: float, exact: float,
                   direction: mm.Bound) -> None:
    """Every certificate check of the module docstring; raises AssertionError naming the failed one."""
    assert sol.status == mm.Status.OPTIMAL, f"status {sol.status.value}: {sol.message}"
    x = plan_vector(model, sol, ref)
    y = row_duals(model, sol, ref)
    A, c, lo, up = ref.A, ref.c, ref.lo, ref.up
    # primal feasibility
    assert x.min() >= 0.0
    ax = A @ x
    viol = np.maximum(np.maximum(lo - ax, ax - up), 0.0)
    assert viol.max() <= FEAS_TOL, f"row {int(np.argmax(viol))} violated by {viol.max():.3g}"
    # dual signs (HiGHS convention: c - A^T y are the reduced costs of a minimisation)
    eq = np.isfinite(lo) & (lo == up)
    lower_only = np.isfinite(lo) & ~np.isfinite(up)
    upper_only = ~np.isfinite(lo) & np.isfinite(up)
    assert np.all(y[lower_only] >= -DUAL_TOL) and np.all(y[upper_only] <= DUAL_TOL), "dual of the wrong sign"
    # dual feasibility over every enumerated column
    rc = c - A.T @ y
    assert rc.min() >= -DUAL_TOL, f"reduced cost {rc.min():.3g} < 0 on column {ref.keys[int(np.argmin(rc))]}"
    # complementarity
    supp = x > SUPPORT_TOL
    assert np.all(np.abs(rc[supp]) <= DUAL_TOL), f"support column with reduced cost {np.abs(rc[supp]).max():.3g}"
    slack = np.where(eq, 0.0, np.minimum(np.where(np.isfinite(lo), ax - lo, np.inf),
                                         np.where(np.isfinite(up), up - ax, np.inf)))
    assert np.all(np.abs(y[slack > 1e-6]) <= DUAL_TOL), "an inequality row with slack has a nonzero dual"
    # gap: dual objective computed here against the plan's cost
    rhs = np.where(y > 0, lo, up)
    dual_obj = math.fsum(y[np.abs(y) > 0] * rhs[np.abs(y) > 0])
    primal_obj = math.fsum(c * x)
    assert abs(primal_obj - dual_obj) <= AGREE_TOL * max(1.0, abs(primal_obj)), (primal_obj, dual_obj)
    # the model's own certified bracket closes, and it holds the reference LP optimum
    lp_lower = sol.info.get("lp_lower", sol.lower_bound)
    lp_upper = sol.info.get("lp_upper", sol.upper_bound)
    lp_value = sol.primal_value
    assert lp_upper - lp_lower <= CERT_REL_TOL * max(1.0, abs(lp_value)), (lp_lower, lp_upper)
    assert lp_lower <= ref_value + AGREE_TOL and ref_value - AGREE_TOL <= lp_upper
    assert abs(lp_value - ref_value) <= AGREE_TOL, (lp_value, ref_value)
    assert abs(primal_obj - ref_value) <= AGREE_TOL
    # bound direction against the exact MMOT value
    assert sol.bound == direction, (sol.bound, direction)
    if direction == mm.Bound.EXACT:
        assert sol.lower_bound <= exact + AGREE_TOL and exact - AGREE_TOL <= sol.upper_bound
        assert abs(sol.value - exact) <= AGREE_TOL
    elif direction == mm.Bound.LOWER:
        assert sol.upper_bound == math.inf and sol.lower_bound <= exact + AGREE_TOL
        assert sol.value <= exact + AGREE_TOL
    else:
        assert sol.lower_bound == -math.inf and sol.upper_bound >= exact - AGREE_TOL
        assert sol.value >= exact - AGREE_TOL
