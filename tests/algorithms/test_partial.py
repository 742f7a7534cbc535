"""Relaxed / 1-homogeneous transport cost of subprobabilities (formulations.partial, algorithms.partial).

Independent references: for N = 2 the formula (2.2) of Proposition 2.5 written as a full
(non-symmetric) two-marginal LP with the sub-density ``mu`` as a variable and solved by
``scipy.optimize.linprog``; the weak* construction of the proof (the missing mass ``1 - m`` put at
a far point ``Y``) solved as a balanced transport problem by POT's ``ot.emd2``; the full-tensor
primal LP (``method="primal"``) for probabilities.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import mmot_models as mm
from mmot_models.algorithms.partial import homogeneous_cost, relaxed_cost
from mmot_models.backends.highs import solve_lp
from mmot_models.errors import MMOTInputError
from mmot_models.formulations.partial import PartialTransportLP, SubDensity, required_mass
from mmot_models.solution import Status

#: Agreement of two exact LP solvers on the same optimum.
LP_TOL = 1e-7
#: Far point distance in the weak* construction and the resulting error bound slack.
FAR = 1e7
EMD_TOL = 1e-6
#: Constraint slack allowed on the returned mu.
FEAS_TOL = 1e-9


def _random_subdensity(rng: np.random.Generator, l: int, d: int, mass: float) -> tuple[np.ndarray, np.ndarray]:
    pts = rng.uniform(-2.0, 2.0, size=(l, d))
    w = rng.uniform(0.2, 1.0, size=l)
    return pts, mass * w / w.sum()


def prop25_linprog(weights: np.ndarray, points: np.ndarray, cost: mm.PairCost) -> float:
    """min { C(mu) : 0 <= mu <= rho, |mu| >= 2|rho| - 1 } with a full 2-plan P and mu as variables."""
    l = weights.size
    C = cost.matrix(points)
    pairs = np.argwhere(np.isfinite(C))                      # allowed (i, j), i != j under Coulomb
    n_p = pairs.shape[0]
    # variables: P (n_p), mu (l);  rows: row sums of P = mu, column sums of P = mu
    cols = np.arange(n_p)
    R1 = sp.csr_matrix((np.ones(n_p), (pairs[:, 0], cols)), shape=(l, n_p))
    R2 = sp.csr_matrix((np.ones(n_p), (pairs[:, 1], cols)), shape=(l, n_p))
    I = sp.identity(l, format="csr")
    A_eq = sp.vstack([sp.hstack([R1, -I]), sp.hstack([R2, -I])])
    b_eq = np.zeros(2 * l)
    A_ub = sp.hstack([sp.csr_matrix((1, n_p)), -np.ones((1, l))])  # -|mu| <= -(2|rho| - 1)
    b_ub = np.array([-(2 * weights.sum() - 1.0)])
    c = np.concatenate([C[pairs[:, 0], pairs[:, 1]], np.zeros(l)])
    bounds = [(0, None)] * n_p + [(0, float(w)) for w in weights]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs-ipm")
    assert res.status == 0, res.message
    return float(res.fun)


@pytest.mark.parametrize("seed,l,d,mass,cost", [
    (0, 6, 1, 0.8, mm.Coulomb()), (1, 8, 1, 0.65, mm.Coulomb()), (2, 7, 2, 0.9, mm.Coulomb()),
    (3, 9, 1, 0.55, mm.SoftCoulomb(0.5)), (4, 7, 3, 0.75, mm.Coulomb()), (5, 8, 1, 1.0, mm.Coulomb()),
])
def test_relaxed_cost_equals_prop25_formula_n2(seed, l, d, mass, cost):
    rng = np.random.default_rng(seed)
    pts, w = _random_subdensity(rng, l, d, mass)
    sol = relaxed_cost(w, pts, 2, cost)
    assert sol.status == Status.OPTIMAL
    ref = prop25_linprog(w, pts, cost)
    assert abs(sol.value - ref) <= LP_TOL * max(1.0, ref)
    assert sol.lower_bound <= sol.value + LP_TOL and sol.value <= sol.upper_bound + LP_TOL
    assert sol.gap <= LP_TOL
    assert sol.info["relaxation_exact"] is True


@pytest.mark.parametrize("seed,mass", [(10, 0.7), (11, 0.9), (12, 0.6)])
def test_relaxed_cost_is_limit_of_far_mass_construction_n2(seed, mass):
    """C(rho + (1 - m) delta_Y) -> C_bar(rho) as |Y| -> inf (the weak* sequence of Prop. 2.4/2.5)."""
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(seed)
    pts, w = _random_subdensity(rng, 7, 1, mass)
    ext_pts = np.vstack([pts, [[FAR]]])
    a = np.concatenate([w, [1.0 - mass]])
    M = mm.Coulomb().matrix(ext_pts)
    big = 1e3 * np.max(M[np.isfinite(M)])
    M = np.where(np.isfinite(M), M, big)                    # the diagonal is never used: weights <= 1/2
    emd = float(ot.emd2(a, a, M, numItermax=10_000_000))
    sol = relaxed_cost(w, pts, 2, "coulomb")
    slack = 2.0 * (1.0 - mass) / (FAR - 4.0)
    assert sol.value - EMD_TOL <= emd <= sol.value + slack + EMD_TOL


@pytest.mark.parametrize("N,mass", [(2, 0.5), (2, 0.3), (3, 1.0 / 3.0), (3, 0.2), (4, 0.25)])
def test_zero_when_mass_at_most_one_over_n(N, mass):
    rng = np.random.default_rng(7)
    pts, w = _random_subdensity(rng, 6, 1, mass)
    sol = relaxed_cost(w, pts, N)
    assert sol.value == 0.0 and sol.status == Status.OPTIMAL
    # the LP itself (no shortcut) agrees: kappa = 0 admits mu = 0
    form = PartialTransportLP(N, "coulomb")
    rho = SubDensity(pts, w)
    lp = form.build(rho)
    res = solve_lp(lp)
    assert res.status == Status.OPTIMAL and abs(res.objective) <= LP_TOL
    assert required_mass(mass, N) == pytest.approx(0.0, abs=1e-15)


def test_positive_just_above_one_over_n():
    """Remark 2.6: for N = 2, C_bar > 0 as soon as the mass exceeds 1/2."""
    rng = np.random.default_rng(8)
    pts, w = _random_subdensity(rng, 6, 1, 0.52)
    sol = relaxed_cost(w, pts, 2)
    assert sol.value > 0.0 and sol.status == Status.OPTIMAL


@pytest.mark.parametrize("N,l", [(2, 8), (3, 7)])
def test_probability_gives_the_ordinary_cost(N, l):
    rng = np.random.default_rng(20 + N)
    pts, w = _random_subdensity(rng, l, 1, 1.0)
    problem = mm.MMOTProblem.symmetric(mm.Marginal(pts, w), N, "coulomb")
    ref = mm.solve(problem, method="primal")
    assert ref.status == Status.OPTIMAL
    sym = mm.solve(problem, method="symmetric")          # the equality-constrained multiset LP
    assert abs(sym.value - ref.value) <= LP_TOL * max(1.0, ref.value)
    for mode in ("relaxed", "homogeneous"):
        sol = relaxed_cost(w, pts, N, mode=mode)
        assert sol.status == Status.OPTIMAL
        assert abs(sol.value - ref.value) <= LP_TOL * max(1.0, ref.value)


@pytest.mark.parametrize("mass", [0.3, 0.6, 0.85])
def test_homogeneous_extension_scales_linearly(mass):
    rng = np.random.default_rng(31)
    pts, w = _random_subdensity(rng, 7, 1, mass)
    ref = mm.solve(mm.MMOTProblem.symmetric(mm.Marginal(pts, w / w.sum()), 3, "coulomb"), method="primal")
    sol = homogeneous_cost(w, pts, 3)
    assert sol.status == Status.OPTIMAL
    assert abs(sol.value - mass * ref.value) <= LP_TOL * max(1.0, ref.value)
    assert sol.max_marginal_error <= FEAS_TOL


@pytest.mark.parametrize("N,mass", [(2, 0.8), (3, 0.7), (3, 0.95)])
def test_relaxed_mu_is_admissible_and_below_homogeneous(N, mass):
    rng = np.random.default_rng(40 + N)
    pts, w = _random_subdensity(rng, 8, 1, mass)
    sol = relaxed_cost(w, pts, N)
    hom = homogeneous_cost(w, pts, N)
    mu = sol.info["mu"]
    kappa = N / (N - 1) * (mass - 1.0 / N)
    assert np.all(mu <= w + FEAS_TOL) and np.all(mu >= -FEAS_TOL)
    assert mu.sum() == pytest.approx(kappa, abs=1e-8)          # 1-homogeneity: the mass bound is active
    assert sol.value <= hom.value + LP_TOL
    # the plan on multisets reproduces mu and the value
    occ = np.zeros_like(w)
    np.add.at(occ, sol.plan_indices.reshape(-1), np.repeat(sol.plan_weights, N) / N)
    assert np.max(np.abs(occ - mu)) <= FEAS_TOL
    C = mm.Coulomb().matrix(pts)
    pair_sum = sum(C[sol.plan_indices[:, a], sol.plan_indices[:, b]] for a in range(N) for b in range(a + 1, N))
    assert float(pair_sum @ sol.plan_weights) == pytest.approx(sol.value, rel=1e-9)


def test_too_heavy_site_is_infeasible_under_coulomb():
    pts = np.array([0.0, 1.0, 2.0])
    w = np.array([0.9, 0.03, 0.02])                   # kappa = 0.9; mu can hold at most 0.1 off-site mass
    sol = relaxed_cost(w, pts, 2)
    assert sol.status == Status.INFEASIBLE and math.isinf(sol.value)


@pytest.mark.parametrize("weights,N", [([0.7, 0.5], 2), ([-0.1, 0.5], 2), ([0.3, 0.3], 1), ([np.nan, 0.2], 2)])
def test_bad_input_raises(weights, N):
    with pytest.raises(MMOTInputError):
        relaxed_cost(np.array(weights), np.array([0.0, 1.0]), N)


def test_unknown_mode_raises():
    with pytest.raises(MMOTInputError, match="mode"):
        relaxed_cost(np.array([0.3, 0.3]), np.array([0.0, 1.0]), 2, mode="bogus")


#: Far points of the explicit weak* sequence sit at n * (10, 20, 40); pair slack per configuration.
FAR_DIRECTIONS = np.array([10.0, 20.0, 40.0])
#: Relative margin by which the stratified bound beats (2.1) on the N = 3 examples (6 % to 58 %).
STRICT_MARGIN = 0.05


@pytest.mark.parametrize("seed,mass", [(0, 0.8), (1, 0.6)])
def test_stratified_equals_relaxed_for_two_electrons(seed, mass):
    rng = np.random.default_rng(seed)
    pts, w = _random_subdensity(rng, 8, 1, mass)
    a = relaxed_cost(w, pts, 2)
    b = relaxed_cost(w, pts, 2, mode="stratified")
    assert b.status == Status.OPTIMAL and b.gap <= LP_TOL
    assert abs(a.value - b.value) <= LP_TOL * max(1.0, a.value)


def _far_cluster_sequence(w, pts, sol, N, n):
    """rho_n = rho + far atoms realising the stratified plan (clusters + singletons + empty)."""
    idx, g = sol.plan_indices, sol.plan_weights
    n_far = (idx < 0).sum(axis=1)
    singles = np.maximum(N * (w - sol.info["mu"]), 0.0).sum()
    empty = max(1.0 - g.sum() - singles, 0.0)
    far_w = np.array([g[n_far >= j].sum() + singles * (j <= N - 1) + empty for j in range(1, N + 1)]) / N
    return np.concatenate([pts[:, 0], n * FAR_DIRECTIONS[:N]]), np.concatenate([w, far_w])


@pytest.mark.parametrize("seed,mass", [(0, 0.7), (1, 0.9), (2, 0.5)])
def test_stratified_bound_is_attained_and_beats_prop24_for_three_electrons(seed, mass):
    """C_bar <= stratified < (2.1) for N = 3: the explicit weak* sequence rho_n -> rho (exact LP) costs
    the stratified value + O(1/n), strictly below the relaxed bound of Proposition 2.4."""
    N = 3
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-0.3, 0.3, size=(8, 1))
    w = rng.uniform(0.2, 1.0, size=8)
    w = mass * w / w.sum()
    strat = relaxed_cost(w, pts, N, mode="stratified")
    relax = relaxed_cost(w, pts, N)
    assert strat.status == Status.OPTIMAL and relax.status == Status.OPTIMAL
    assert strat.value < (1.0 - STRICT_MARGIN) * relax.value
    for n in (1e3, 1e5):
        x, wn = _far_cluster_sequence(w, pts, strat, N, n)
        exact = mm.solve(mm.MMOTProblem.symmetric(mm.Marginal(x, np.maximum(wn, 0.0), normalize=True), N, "coulomb"),
                         method="primal")
        assert exact.status == Status.OPTIMAL
        slack = 3.0 / (10.0 * n - 1.0)
        assert strat.value - 1e-7 <= exact.value <= strat.value + slack + 1e-7
    # at mass 1 nothing can leave: all three coincide with the ordinary cost
    one = relaxed_cost(w / mass, pts, N, mode="stratified")
    assert one.value == pytest.approx(relaxed_cost(w / mass, pts, N).value, rel=1e-9)
