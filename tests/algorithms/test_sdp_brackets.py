"""SDP relaxation (cvxpy), mean-field and variance brackets against the exact LP and the k = 2 LP."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mmot_models import MMOTInputError, MMOTProblem, Marginal, gaussian, line, solve
from mmot_models.backends.cvxpy import map_status
from mmot_models.formulations.sdp import SDPRelaxation, moment_matrix
from mmot_models.solution import Bound, Status

#: Clarabel's default accuracy is ~1e-8 relative; we allow this much between SDP and LP optima.
SDP_TOL = 1e-6
#: The certified (dual-derived) SDP bound must be this close to Clarabel's value.
SDP_CERT_TOL = 1e-6
#: SCS is a first-order method: looser agreement.
SCS_TOL = 1e-3
LP_TOL = 1e-7


def random_problem(seed: int, l: int, N: int, cost, d: int = 1) -> MMOTProblem:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-2, 2, size=(l, d))
    w = np.minimum(rng.dirichlet(np.full(l, 8.0)), 0.9 / N)
    return MMOTProblem.symmetric(Marginal(pts, w, normalize=True), N, cost)


@pytest.mark.parametrize("seed,l,N,cost", [
    (0, 8, 3, "coulomb"), (1, 7, 4, "coulomb"), (2, 8, 3, {"kind": "soft_coulomb", "a": 0.5}),
    (3, 6, 4, {"kind": "soft_coulomb", "a": 0.2}), (4, 6, 5, {"kind": "soft_coulomb", "a": 1.0}),
])
def test_sdp_between_v2_and_exact(seed, l, N, cost):
    p = random_problem(seed, l, N, cost, d=1 + seed % 2)
    exact = solve(p, method="primal").value
    v2 = solve(p, method="krep", k=2).value
    s = solve(p, method="sdp")
    assert s.status == Status.OPTIMAL, s.message
    assert s.bound == Bound.LOWER
    assert v2 - SDP_TOL <= s.value <= exact + SDP_TOL
    # certified lower bound: valid (below the exact value) and tight against the solver value
    assert s.lower_bound <= exact + 1e-9
    assert s.value - s.lower_bound <= SDP_CERT_TOL * max(1.0, s.value)
    # solver accuracy is reported
    for key in ("rowsum_residual", "psd_min_eigenvalue", "nonneg_violation", "solver_dual_gap"):
        assert key in s.info
    assert s.info["rowsum_residual"] <= SDP_TOL
    assert s.info["psd_min_eigenvalue"] >= -SDP_TOL


def test_sdp_without_psd_is_the_k2_lp_in_cvxpy():
    """The same k = 2 LP written as a cvxpy model (P symmetric, row sums) vs the HiGHS multiset LP."""
    for seed, cost in ((5, "coulomb"), (6, {"kind": "soft_coulomb", "a": 0.4})):
        p = random_problem(seed, 9, 3, cost)
        h = solve(p, method="krep", k=2)
        c = solve(p, method="sdp", psd=False)
        assert c.status == Status.OPTIMAL
        assert abs(h.value - c.value) <= SDP_TOL
        assert c.lower_bound <= h.value + LP_TOL


def test_sdp_strictly_tighter_than_v2_on_gaussian():
    p = MMOTProblem.symmetric(gaussian(line(-3, 3, 10, midpoints=True)), 3, "coulomb")
    v2 = solve(p, method="krep", k=2).value
    s = solve(p, method="sdp")
    exact = solve(p, method="primal").value
    assert s.value > v2 + 0.1 * (exact - v2)


@pytest.mark.parametrize("seed,l,N", [(15, 8, 3), (16, 7, 4), (17, 9, 5)])
def test_occupation_bounds_tighten_validly(seed, l, N):
    p = random_problem(seed, l, N, "coulomb", d=1 + seed % 2)
    exact = solve(p, method="primal").value
    plain = solve(p, method="sdp")
    occ = solve(p, method="sdp", occupation_bounds=True)
    assert occ.status == Status.OPTIMAL, occ.message
    assert plain.value - SDP_TOL <= occ.value <= exact + SDP_TOL
    assert occ.lower_bound <= exact + 1e-9
    assert occ.value - occ.lower_bound <= SDP_CERT_TOL * max(1.0, occ.value)


def test_occupation_bounds_need_singular_cost():
    p = random_problem(18, 6, 3, {"kind": "soft_coulomb", "a": 0.5})
    with pytest.raises(MMOTInputError):
        solve(p, method="sdp", occupation_bounds=True)


def test_sdp_scs_agrees_with_clarabel():
    p = random_problem(7, 7, 3, {"kind": "soft_coulomb", "a": 0.5})
    a = solve(p, method="sdp")
    b = solve(p, method="sdp", solver="SCS")
    assert b.backend == "cvxpy-scs"
    assert abs(a.value - b.value) <= SCS_TOL * max(1, a.value)
    exact = solve(p, method="primal").value
    assert b.lower_bound <= exact + 1e-9  # certified whatever the solver's accuracy


def test_moment_matrix_of_true_plan_is_psd():
    p = random_problem(8, 6, 3, {"kind": "soft_coulomb", "a": 0.5})
    s = solve(p, method="primal")
    # symmetric pair density: average over the ordered pairs i != j
    P = sum(s.pair_density(i, j) + s.pair_density(i, j).T for i in range(3) for j in range(i + 1, 3)) / 6
    M = moment_matrix(P, np.asarray(p.marginals[0].weights), 3)
    assert np.linalg.eigvalsh(M).min() >= -1e-9


def test_meanfield_upper_and_limit_of_hierarchy():
    p = random_problem(9, 6, 3, {"kind": "soft_coulomb", "a": 0.5})
    mf = solve(p, method="meanfield")
    mu = np.asarray(p.marginals[0].weights)
    C = p.pair_matrix(0, 0)
    assert mf.value == pytest.approx(3 * float(mu @ C @ mu), rel=1e-12)
    assert mf.bound == Bound.UPPER and mf.upper_bound == mf.value
    assert mf.value >= solve(p, method="primal").value - LP_TOL
    # the product plan is k-representable for every k: V_k <= mean field
    for k in range(2, 7):
        assert solve(p, method="krep", k=k).value <= mf.value + LP_TOL


def test_meanfield_coulomb_grid_is_infinite():
    p = random_problem(10, 6, 3, "coulomb")
    mf = solve(p, method="meanfield")
    assert mf.value == math.inf and mf.bound == Bound.UPPER
    assert math.isfinite(mf.info["offdiagonal_mean_field"])
    # +inf is no upper bound: never reported with an ok status (was `optimal` with value null)
    assert mf.status == Status.NO_BOUND and not mf.status.ok


@pytest.mark.parametrize("seed,N", [(11, 2), (12, 3), (13, 4)])
def test_variance_bound_below_exact(seed, N):
    p = random_problem(seed, 8, N, "coulomb", d=1 + seed % 2)
    v = solve(p, method="variance")
    exact = solve(p, method="primal").value
    assert v.bound == Bound.LOWER and v.lower_bound == v.value
    assert 0 < v.value <= exact + LP_TOL


def test_variance_needs_coulomb_and_sdp_needs_symmetric():
    p = random_problem(14, 6, 3, {"kind": "soft_coulomb", "a": 0.5})
    with pytest.raises(MMOTInputError):
        solve(p, method="variance")
    q = MMOTProblem((p.marginals[0], Marginal(np.arange(6.0)[:, None], np.full(6, 1 / 6))), "coulomb")
    with pytest.raises(MMOTInputError):
        SDPRelaxation().build(q)


def test_cvxpy_status_map():
    import cvxpy as cp

    assert map_status(cp.OPTIMAL) == Status.OPTIMAL
    assert map_status(cp.OPTIMAL_INACCURATE) == Status.NUMERICAL_ERROR  # never final
    assert map_status(cp.INFEASIBLE) == Status.INFEASIBLE
    assert map_status(cp.USER_LIMIT) == Status.TIME_LIMIT
