"""Entropic multi-marginal Sinkhorn: against POT, the exact LP, its own variants and engines."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.entropic import solve_entropic
from mmot_models.errors import MMOTInputError
from mmot_models.solution import Status

#: relative agreement of transport costs with POT at the same eps
POT_COST_RTOL = 1e-6
#: max-norm agreement of (centred) potentials with POT, in cost units
POT_POTENTIAL_ATOL = 1e-6
#: max-norm agreement of plans with POT (plan entries are ~1/l^2)
POT_PLAN_ATOL = 1e-9
#: agreement between two variants / engines of this solver run to tol
VARIANT_RTOL = 1e-5
#: certificate slack (floating point only)
CERT_TOL = 1e-9
TOL = 1e-8


def gauss_problem(l: int, N: int, a: float = 0.1) -> mm.MMOTProblem:
    return mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4.0, 4.0, l, midpoints=True)), N, mm.SoftCoulomb(a))


def centred(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    return u - w @ u


def test_n2_agrees_with_pot_sinkhorn_log():
    ot = pytest.importorskip("ot")
    p = gauss_problem(80, 2)
    eps = 0.05
    sol = solve_entropic(p, eps=eps, tol=1e-11)
    assert sol.status == Status.CONVERGED
    mu = p.marginals[0].weights
    C = p.pair_matrix(0, 1)
    G, log = ot.sinkhorn(mu, mu, C, eps, method="sinkhorn_log", stopThr=1e-13, numItermax=100000, log=True)
    pot_cost = float((G * C).sum())
    assert sol.value == pytest.approx(pot_cost, rel=POT_COST_RTOL)
    assert np.max(np.abs(sol.pair_density(0, 1) - G)) < POT_PLAN_ATOL
    # POT: G = exp(log_u + log_v - C/eps); here G = exp((u + v - C)/eps) mu mu
    f = eps * (log["log_u"] - np.log(mu))
    g = eps * (log["log_v"] - np.log(mu))
    shift = (f @ mu - sol.potentials[0] @ mu)
    assert np.max(np.abs((f - shift) - sol.potentials[0])) < POT_POTENTIAL_ATOL
    assert np.max(np.abs((g + shift) - sol.potentials[1])) < POT_POTENTIAL_ATOL


@pytest.mark.parametrize("N,l", [(2, 60), (3, 24)])
def test_symmetric_variant_agrees_with_general(N, l):
    p = gauss_problem(l, N)
    eps = 0.1
    gen = solve_entropic(p, eps=eps, tol=TOL, symmetric=False)
    sym = solve_entropic(p, eps=eps, tol=TOL, symmetric=True)
    assert gen.status == sym.status == Status.CONVERGED
    assert sym.info["symmetric_variant"] and not gen.info["symmetric_variant"]
    assert sym.value == pytest.approx(gen.value, rel=VARIANT_RTOL)
    mu = p.marginals[0].weights
    # the general potentials differ from the symmetric one by constants summing to 0
    avg = sum(centred(u, mu) for u in gen.potentials) / N
    assert np.max(np.abs(avg - centred(sym.potentials[0], mu))) < 1e-4


def test_marginal_errors_below_tol_and_certificates():
    p = mm.MMOTProblem((mm.gaussian(mm.line(-3, 3, 40)), mm.uniform(mm.line(-2, 2, 30)),
                        mm.gaussian(mm.line(-3, 3, 35), mean=0.5)), mm.SoftCoulomb(0.3))
    sol = solve_entropic(p, eps=0.05, tol=TOL)
    assert sol.status == Status.CONVERGED and sol.status.ok
    assert sol.info["max_marginal_l1_error"] <= TOL
    # returned (truncated) plan: residual within tol + dropped mass
    assert sol.max_marginal_error <= TOL + sol.info["plan_dropped_mass"] + CERT_TOL
    errs = mm.solution.marginal_errors(p, sol.plan_indices, sol.plan_weights)
    assert np.allclose(errs, sol.marginal_error)
    exact = mm.solve(p, method="primal")
    assert sol.lower_bound <= exact.value + CERT_TOL
    assert sol.upper_bound >= exact.value - CERT_TOL
    assert sol.lower_bound <= sol.upper_bound


@pytest.mark.parametrize("N,l,eps_list", [(2, 50, [0.2, 0.05, 0.0125]), (3, 18, [0.2, 0.05, 0.0125])])
def test_cost_approaches_lp_value(N, l, eps_list):
    p = gauss_problem(l, N, a=0.2)
    exact = mm.solve(p, method="primal").value
    errs = []
    for eps in eps_list:
        sol = solve_entropic(p, eps=eps, tol=1e-7)
        assert sol.status == Status.CONVERGED
        assert sol.lower_bound <= exact + CERT_TOL <= sol.upper_bound + 2 * CERT_TOL
        errs.append(abs(sol.value - exact))
    assert errs[0] > errs[1] > errs[2]
    assert errs[-1] < 0.1 * errs[0]  # at least linear in eps


def test_coulomb_uniform_n3_plan_avoids_diagonal():
    """Coulomb: kernel entries on coincident sites are exactly 0, so the plan never uses them."""
    p = mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 30, midpoints=True)), 3, "coulomb")
    sol = solve_entropic(p, eps=0.01, tol=1e-6)
    assert sol.status == Status.CONVERGED
    idx = sol.plan_indices
    assert not np.any((idx[:, 0] == idx[:, 1]) | (idx[:, 0] == idx[:, 2]) | (idx[:, 1] == idx[:, 2]))
    exact = mm.solve(p, method="primal").value
    assert sol.lower_bound <= exact + CERT_TOL
    assert abs(sol.value - exact) < 0.01 * exact
    # the cyclic-quantile rounding correction avoids the diagonal: a finite certified upper bound
    assert math.isfinite(sol.upper_bound) and sol.upper_bound >= exact - CERT_TOL
    assert "comotion" in sol.info and sol.info["comotion"].shape == (2, 30)


def test_log_domain_fallback_matches_fast_contraction():
    """N = 3: the max-shifted log-domain contraction (used when absorbed kernels would overflow)
    equals the plain BLAS contraction where both are finite."""
    from mmot_models.entropic.kernels import PairEngine
    rng = np.random.default_rng(3)
    p = mm.MMOTProblem((mm.gaussian(mm.line(-2, 2, 20)), mm.uniform(mm.line(-1, 1, 15)),
                        mm.gaussian(mm.line(-2, 2, 17), mean=0.3)), "coulomb")
    mus = [m.weights for m in p.marginals]
    eng = PairEngine({(i, j): p.pair_matrix(i, j) for i in range(3) for j in range(i + 1, 3)}, mus)
    u = [rng.normal(size=m.size) for m in mus]
    eng.absorb(u, 0.3)
    v = [m * rng.uniform(0.5, 2.0, m.size) for m in mus]
    for i in range(3):
        fast = eng.weights(i, v)
        j, k = [m for m in range(3) if m != i]
        slow = eng._weights3_stable(i, j, k, v)
        assert np.allclose(fast, slow, rtol=1e-10, atol=0)
    for (i, j) in [(0, 1), (0, 2), (1, 2)]:
        assert np.allclose(eng.pair_marginal(i, j, v), eng._pair3_stable(i, j, v), rtol=1e-10, atol=1e-300)


def test_non_convergence_is_reported():
    p = gauss_problem(60, 2)
    sol = solve_entropic(p, eps=0.01, tol=1e-12, max_iter=5)
    assert sol.status == Status.ITERATION_LIMIT and not sol.status.ok
    assert "not converged" in sol.message
    assert sol.info["max_marginal_l1_error"] > 1e-12
    sol = solve_entropic(p, eps=0.01, tol=1e-12, time_limit=1e-9)
    assert sol.status == Status.TIME_LIMIT and not sol.status.ok


def test_multiscale_matches_dense():
    for N, l in [(2, 400), (3, 48)]:
        p = gauss_problem(l, N)
        dense = solve_entropic(p, eps=0.05, tol=1e-8, multiscale=False)
        ms = solve_entropic(p, eps=0.05, tol=1e-8, multiscale=True, multiscale_options={"coarse_size": l // 4})
        assert dense.status == ms.status == Status.CONVERGED
        assert ms.info["multiscale_n_levels"] == 3
        assert ms.info["multiscale_final_nnz"] < 3 * l * l
        assert ms.value == pytest.approx(dense.value, rel=1e-6)
        assert ms.upper_bound >= dense.lower_bound - CERT_TOL


def test_tensor_fallback_n4_and_nary():
    p = gauss_problem(7, 4, a=0.5)
    sol = solve_entropic(p, eps=0.02, tol=1e-7)
    assert sol.info["engine"].startswith("dense-tensor")
    exact = mm.solve(p, method="primal").value
    assert sol.status == Status.CONVERGED
    assert sol.lower_bound <= exact + CERT_TOL <= sol.upper_bound + 2 * CERT_TOL
    # an N-ary cost equal to the pair cost gives the same entropic solution as the pair engine
    pair = gauss_problem(12, 3, a=0.5)
    cost = mm.SoftCoulomb(0.5)

    def fn(X):
        r01 = np.linalg.norm(X[:, 0] - X[:, 1], axis=1)
        r02 = np.linalg.norm(X[:, 0] - X[:, 2], axis=1)
        r12 = np.linalg.norm(X[:, 1] - X[:, 2], axis=1)
        return cost.of_distance(r01) + cost.of_distance(r02) + cost.of_distance(r12)

    nary = mm.MMOTProblem(pair.marginals, mm.NaryCost(fn, 3))
    a = solve_entropic(pair, eps=0.05, tol=1e-9)
    b = solve_entropic(nary, eps=0.05, tol=1e-9)
    assert b.value == pytest.approx(a.value, rel=VARIANT_RTOL)


def test_solve_dispatch_auto_and_cli(tmp_path, capsys):
    p = mm.MMOTProblem((mm.gaussian(mm.line(-3, 3, 40)), mm.uniform(mm.line(-2, 2, 30))), mm.SoftCoulomb(0.3))
    assert mm.choose_method(p, memory_limit_bytes=1000) == "entropic"
    sol = mm.solve(p, method="entropic", eps=0.05, tol=1e-7)
    assert sol.method == "entropic" and sol.status == Status.CONVERGED
    path = tmp_path / "p.json"
    mm.save_problem(p, path)
    from mmot_models.cli import main
    rc = main(["solve", str(path), "--method", "entropic", "--eps", "0.05", "--tol", "1e-7", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["method"] == "entropic" and out["status"] == "converged"
    assert out["value"] == pytest.approx(sol.value, rel=1e-6)
    assert out["info"]["eps"] == pytest.approx(0.05)
    rc = main(["solve", str(path), "--method", "entropic", "--eps", "0.01", "--tol", "1e-12",
               "--option", "max_iter=3", "--json"])
    assert rc == 3
    assert json.loads(capsys.readouterr().out)["status"] == "iteration_limit"


def test_bad_input():
    p = gauss_problem(10, 2)
    with pytest.raises(MMOTInputError):
        solve_entropic(p, eps=-1.0)
    with pytest.raises(MMOTInputError):
        solve_entropic(p, eps=0.1, bogus=3)
    q = mm.MMOTProblem((mm.uniform(mm.line(0, 1, 5)), mm.uniform(mm.line(0, 1, 6))), "power")
    with pytest.raises(MMOTInputError):
        solve_entropic(q, eps=0.1, symmetric=True)


def test_pointwise_tuple_costs_match_pair_matrices():
    """Radial pair costs are evaluated pointwise (no l x l matrix); they must equal the sum of the
    pair-matrix entries, built by the independent distance-matrix path."""
    rng = np.random.default_rng(5)
    for d in (1, 2):
        p = mm.MMOTProblem((mm.uniform(rng.normal(size=(9, d))), mm.uniform(rng.normal(size=(7, d))),
                            mm.uniform(rng.normal(size=(8, d)))), "coulomb")
        idx = np.stack([rng.integers(0, s, 50) for s in p.sizes], axis=1)
        ref = sum(p.pair_matrix(i, j)[idx[:, i], idx[:, j]] for i in range(3) for j in range(i + 1, 3))
        assert np.allclose(p.tuple_costs(idx), ref, rtol=1e-14, atol=0)


def test_verbose_progress_bar_goes_to_stderr(capsys):
    sol = mm.solve(gauss_problem(30, 2), method="entropic", eps=0.1, tol=1e-6, verbose=True)
    assert sol.status == Status.CONVERGED
    assert capsys.readouterr().out == ""


def test_multiscale_stopped_on_a_coarse_level_reports_status():
    p = gauss_problem(200, 2)
    sol = solve_entropic(p, eps=0.005, tol=1e-12, multiscale=True, max_iter=10,
                         multiscale_options={"coarse_size": 50})
    assert sol.status == Status.ITERATION_LIMIT and not sol.status.ok
    assert not sol.info["multiscale_complete"]
    assert not sol.has_plan and math.isnan(sol.value)


#: N = 3 multiscale with eps tied to the level vs the dense engine at the same final eps.
MS3_VALUE_RTOL = 1e-6


@pytest.mark.slow   # ~8 s per solver; the overflow regression itself is in test_plan_consistency.py (default)
@pytest.mark.parametrize("solver", ["sinkhorn", "newton"])
def test_n3_multiscale_level_eps_matches_dense_small_eps(solver):
    """Uniform Coulomb N = 3 at an eps where the product of three absorbed sparse pair factors used
    to overflow: the per-triple log-domain kernel, eps tied to the level (q = 4) and over-relaxation
    must reproduce the dense solver's transport cost and stay above the exact LP optimum's
    independent value (cyclic-quantile plan cost) only by the entropic error."""
    from mmot_models.physics.reference import cyclic_quantile_plan

    l, eps = 64, 4e-3
    m = mm.uniform(mm.line(0, 1, l, midpoints=True))
    p = mm.MMOTProblem.symmetric(m, 3, mm.Coulomb())
    dense = solve_entropic(p, eps=eps, tol=1e-7, multiscale=False, symmetric=False, max_iter=50000)
    ms = solve_entropic(p, eps=eps, tol=1e-7, multiscale=True, overrelax=1.5, max_iter=50000, solver=solver,
                        multiscale_options={"coarse_size": 16, "level_eps_factor": 4.0})
    assert dense.status == ms.status == Status.CONVERGED
    levels = ms.info["multiscale_levels"]
    assert [L["eps"] for L in levels] == pytest.approx([eps * 4.0 ** k for k in range(len(levels) - 1, -1, -1)])
    assert ms.value == pytest.approx(dense.value, rel=MS3_VALUE_RTOL)
    idx, w = cyclic_quantile_plan(m.weights, 3)
    exact = float(np.sum(p.tuple_costs(idx) * w))
    assert ms.lower_bound <= exact + CERT_TOL <= ms.upper_bound + 2 * CERT_TOL
    assert 0 < ms.value - exact < 0.05 * exact


def test_overrelaxation_same_solution():
    p = gauss_problem(60, 3)
    plain = solve_entropic(p, eps=0.05, tol=1e-9, symmetric=False)
    fast = solve_entropic(p, eps=0.05, tol=1e-9, symmetric=False, overrelax=1.5)
    assert plain.status == fast.status == Status.CONVERGED
    assert fast.value == pytest.approx(plain.value, rel=VARIANT_RTOL)
    assert fast.iterations < plain.iterations


@pytest.mark.slow
def test_n3_multiscale_l256_close_to_exact():
    """l = 256, eps = 40 h^2, Sinkhorn inner solver (about 80 s): converged, within 1e-3 of the exact LP optimum."""
    from mmot_models.physics.reference import cyclic_quantile_plan

    l = 256
    m = mm.uniform(mm.line(0, 1, l, midpoints=True))
    p = mm.MMOTProblem.symmetric(m, 3, mm.Coulomb())
    s = solve_entropic(p, eps=40.0 / l ** 2, tol=1e-5, multiscale=True, overrelax=1.5, max_iter=200000, plan=False,
                       solver="sinkhorn",
                       multiscale_options={"coarse_size": 64, "level_eps_factor": 4.0})
    idx, w = cyclic_quantile_plan(m.weights, 3)
    exact = float(np.sum(p.tuple_costs(idx) * w))
    assert s.status == Status.CONVERGED
    assert max(s.info["marginal_l1_errors"]) <= 1e-5
    assert 0 < s.value - exact < 1e-3 * exact
