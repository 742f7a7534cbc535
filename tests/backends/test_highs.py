"""HiGHS backend: status mapping, time limits, warm-started sessions."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import mmot_models as mm
from mmot_models.backends.highs import HighsSession, solve_lp
from mmot_models.formulations.standard_lp import StandardLP

TOL = 1e-9


def _lp(c, A, b_lo, b_hi):
    n = len(c)
    return StandardLP(c=np.asarray(c, float), A=sp.csc_matrix(np.asarray(A, float)), row_lower=np.asarray(b_lo, float),
                      row_upper=np.asarray(b_hi, float), col_lower=np.zeros(n), col_upper=np.full(n, np.inf))


def test_infeasible_and_unbounded_are_reported():
    res = solve_lp(_lp([1, 1], [[1, 1]], [2], [1]))
    assert res.status is mm.Status.INFEASIBLE
    res = solve_lp(_lp([-1, 0], [[0, 1]], [0], [1]))
    assert res.status in (mm.Status.UNBOUNDED, mm.Status.INFEASIBLE)


def test_session_add_columns_warm_start():
    s = HighsSession(_lp([5.0], [[1.0]], [1.0], [1.0]))
    r1 = s.run()
    assert r1.status is mm.Status.OPTIMAL and abs(r1.objective - 5) < TOL
    s.add_columns(np.array([2.0]), np.zeros(1), np.full(1, np.inf), sp.csc_matrix(np.array([[1.0]])))
    r2 = s.run()
    assert r2.status is mm.Status.OPTIMAL and abs(r2.objective - 2) < TOL
    assert np.allclose(r2.x, [0, 1], atol=TOL)


def test_time_limit_is_honest():
    p = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3, 3, 40)), 3, "coulomb")
    s = mm.solve(p, method="primal", time_limit=1e-6)
    assert s.status is mm.Status.TIME_LIMIT
    assert not s.status.ok
    assert s.bound is not mm.Bound.EXACT or not np.isfinite(s.upper_bound)
