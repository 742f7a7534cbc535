"""The plan an entropic Solution returns is the Sinkhorn plan, and a plan that misses its marginals is
never reported final (issue 12: N = 3 Coulomb at small eps returned `converged` with a plan of mass 2.07)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.entropic import solve_entropic
from mmot_models.solution import PLAN_RESIDUAL_FACTOR, Status, certify_plan

#: Sinkhorn stopping tolerance (L1 marginal error) used here
TOL = 1e-7
#: extracted plan vs the dense reference plan, entry-wise (entries are O(1/l))
PLAN_ATOL = 1e-9
#: transport cost of the Solution vs the reference plan's cost, relative
COST_RTOL = 1e-9
#: slack of certified bounds around the exact LP value (floating point only)
CERT_TOL = 1e-9


def gaussian_n3(l: int = 12) -> mm.MMOTProblem:
    """The shipped examples/problems/gaussian_n3.json: N(0, 1) on 12 midpoints of [-3, 3], Coulomb."""
    return mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3.0, 3.0, l, midpoints=True)), 3, "coulomb")


def unequal_n3() -> mm.MMOTProblem:
    return mm.MMOTProblem((mm.gaussian(mm.line(-3, 3, 10, midpoints=True)), mm.uniform(mm.line(-2, 2, 9)),
                           mm.gaussian(mm.line(-3, 3, 11), mean=0.5)), "coulomb")


def reference_plan(problem: mm.MMOTProblem, u, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``exp((u_0 + u_1 + u_2 - c) / eps) mu_0 mu_1 mu_2`` and the cost tensor, built here from the
    points (``1/|x - y|`` summed over pairs, ``+inf`` on coincident sites) in the log domain."""
    x = [m.points[:, 0] for m in problem.marginals]
    mu = [m.weights for m in problem.marginals]
    X0, X1, X2 = np.meshgrid(*x, indexing="ij")
    with np.errstate(divide="ignore"):
        C = 1.0 / np.abs(X0 - X1) + 1.0 / np.abs(X0 - X2) + 1.0 / np.abs(X1 - X2)
    E = (u[0][:, None, None] + u[1][None, :, None] + u[2][None, None, :] - C) / eps
    E += np.log(mu[0])[:, None, None] + np.log(mu[1])[None, :, None] + np.log(mu[2])[None, None, :]
    return np.exp(E), C


def dense_from_sparse(sol: mm.Solution) -> np.ndarray:
    G = np.zeros(sol.problem.sizes)
    np.add.at(G, tuple(sol.plan_indices.T), sol.plan_weights)
    return G


CASES = [pytest.param(gaussian_n3, eps, id=f"gaussian_n3-{eps:g}") for eps in (0.1, 1e-2, 1e-3)] + [
    pytest.param(unequal_n3, 1e-2, id="unequal-0.01"),
    pytest.param(unequal_n3, 1e-3, id="unequal-0.001", marks=pytest.mark.slow),   # ~5 s: 5,800 sweeps
]


@pytest.mark.parametrize("make,eps", CASES)
def test_returned_plan_is_the_sinkhorn_plan(make, eps):
    problem = make()
    exact = mm.solve(problem, method="primal").value
    sol = solve_entropic(problem, eps=eps, tol=TOL)
    assert sol.status == Status.CONVERGED, sol.message
    if eps <= 1e-3:   # the case of the report: absorbed pair kernels beyond 1e150, log-domain contractions
        assert sol.info["absorptions"] > 1 and sol.info["log_domain_contractions"]
    G, C = reference_plan(problem, sol.potentials, sol.info["eps"])
    mu = [m.weights for m in problem.marginals]
    # the potentials' plan has the marginals (within the stopping tolerance)...
    for i in range(3):
        axes = tuple(a for a in range(3) if a != i)
        assert np.abs(G.sum(axis=axes) - mu[i]).sum() <= TOL * (1 + 1e-6)
    # ... and the returned sparse plan is that plan, with the same cost
    assert np.max(np.abs(dense_from_sparse(sol) - G)) <= PLAN_ATOL
    ref_cost = float(np.sum(G[G > 0] * C[G > 0]))
    assert sol.value == pytest.approx(ref_cost, rel=COST_RTOL)
    assert sol.max_marginal_error <= TOL + sol.info["plan_dropped_mass"]
    assert sol.info["plan_max_marginal_l1_error"] <= TOL + sol.info["plan_dropped_mass"] + CERT_TOL
    assert sol.info["plan_total_mass"] == pytest.approx(1.0, abs=TOL)
    assert sol.lower_bound <= exact + CERT_TOL
    # Coulomb grid: a finite certified upper bound (the rounding avoids coincident sites)
    assert math.isfinite(sol.upper_bound) and sol.upper_bound >= exact - CERT_TOL
    if eps <= 1e-3:
        assert sol.upper_bound - exact <= 1e-3 * exact
        assert sol.value == pytest.approx(exact, rel=1e-3)


def test_certify_plan_rule():
    assert certify_plan(Status.CONVERGED, 5e-7, 1e-6) == (Status.CONVERGED, "")
    st, msg = certify_plan(Status.CONVERGED, 0.34, 1e-6)
    assert st == Status.NUMERICAL_ERROR and "0.34" in msg and "not a final result" in msg
    st, _ = certify_plan(Status.OPTIMAL, math.nan, 1e-6)
    assert st == Status.NUMERICAL_ERROR
    # dropped mass (truncation asked for) is allowed on top of the tolerance
    assert certify_plan(Status.CONVERGED, PLAN_RESIDUAL_FACTOR * 1e-6 + 1e-3, 1e-6, dropped_mass=1e-3)[0] == \
        Status.CONVERGED
    assert certify_plan(Status.ITERATION_LIMIT, 1.0, 1e-6) == (Status.ITERATION_LIMIT, "")


def test_inconsistent_plan_is_not_reported_converged(monkeypatch):
    """If extraction and Sinkhorn disagree (the reported defect), status and message say so and the
    rounded upper bound (built from the same contractions) is withdrawn."""
    import mmot_models.entropic.api as api

    real = api.extract_plan

    def doubled(*args, **kwargs):
        idx, w, info = real(*args, **kwargs)
        return idx, 2.0 * w, info

    p = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3.0, 3.0, 10, midpoints=True)), 3, mm.SoftCoulomb(0.5))
    good = solve_entropic(p, eps=0.1, tol=TOL)
    assert good.status == Status.CONVERGED and math.isfinite(good.upper_bound)
    monkeypatch.setattr(api, "extract_plan", doubled)
    bad = solve_entropic(p, eps=0.1, tol=TOL)
    assert bad.status == Status.NUMERICAL_ERROR and not bad.status.ok
    assert "misses its marginals" in bad.message
    assert bad.upper_bound == math.inf and bad.info["upper_bound_discarded"] == pytest.approx(good.upper_bound)
    assert bad.lower_bound == pytest.approx(good.lower_bound)


@pytest.mark.parametrize("l", [4, 12])
def test_coulomb_rounding_spreads_the_deficit(l):
    """Equal marginals, Coulomb: the deficit of the rounded plan sits on the same sites in all three
    marginals, so every coupling of it alone hits the diagonal (upper bound was inf); mixing in a
    fraction theta of the plan gives a finite certified bound, tight to O(theta)."""
    p = gaussian_n3(l) if l == 12 else mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, l, midpoints=True)), 3,
                                                                 "coulomb")
    exact = mm.solve(p, method="primal").value
    sol = solve_entropic(p, eps=1e-2, tol=TOL)
    assert sol.status == Status.CONVERGED
    theta = sol.info["rounding_mix"]
    assert 0 < theta < 1e-3
    assert exact - CERT_TOL <= sol.upper_bound <= sol.value + 1e-3 * exact


@pytest.mark.slow
@pytest.mark.parametrize("kw", [{}, {"multiscale": True, "solver": "newton"}], ids=["dense", "multiscale-newton"])
def test_gaussian_n3_eps_1e_8(kw):
    """The report's `--eps 1e-8` (multiscale Newton) stopped with numerical_error at eps = 4.4e-4: the
    lossy log-domain contraction gave rows of zeros.  Now it converges (~7 s, 5,000 sweeps)."""
    p = gaussian_n3()
    exact = mm.solve(p, method="primal").value
    sol = solve_entropic(p, eps=1e-8, tol=1e-6, **kw)
    assert sol.status == Status.CONVERGED, sol.message
    assert sol.lower_bound <= exact + CERT_TOL <= sol.upper_bound + 2 * CERT_TOL
    assert sol.upper_bound - sol.lower_bound <= 1e-6 * exact
    assert sol.info["plan_max_marginal_l1_error"] <= 1e-6 + sol.info["plan_dropped_mass"]


def test_single_level_multiscale_says_what_ran():
    """A grid not above coarse_size is one dense Sinkhorn level: info must not claim Newton/sparse."""
    sol = solve_entropic(gaussian_n3(), eps=1e-2, tol=TOL, multiscale=True, solver="newton")
    assert sol.status == Status.CONVERGED
    assert sol.info["multiscale_n_levels"] == 1
    assert sol.info["inner_solver"] == "sinkhorn" and sol.info["engine"] == "multiscale-dense-N3"
