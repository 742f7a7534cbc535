"""Damped Newton on sparse multiscale supports: against Sinkhorn, POT, the exact LP and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import mmot_models as mm
from mmot_models.entropic import solve_entropic
from mmot_models.entropic.api import _comotion
from mmot_models.errors import MMOTInputError
from mmot_models.physics.reference import cyclic_quantile_plan
from mmot_models.solution import Status

#: Newton and Sinkhorn solve the same restricted problem to tol: costs agree to about tol
SOLVER_RTOL = 1e-6
#: multiscale (restricted support) vs the dense solver at the same eps
MS_DENSE_RTOL = 1e-6
#: pair marginals of two solvers, max-norm (entries ~1/l)
PAIR_ATOL = 1e-6
#: co-motion estimate vs the closed form, in grid cells
COMOTION_CELLS = 3


def uniform3(l: int) -> tuple[mm.MMOTProblem, float]:
    m = mm.uniform(mm.line(0, 1, l, midpoints=True))
    p = mm.MMOTProblem.symmetric(m, 3, mm.Coulomb())
    idx, w = cyclic_quantile_plan(m.weights, 3)
    return p, float(np.sum(p.tuple_costs(idx) * w))


def three_gaussians(l: int) -> mm.MMOTProblem:
    """Unequal marginals on unequal grids: the general (non-symmetric) problem."""
    margs = [mm.gaussian(mm.line(-4, 4, l, midpoints=True)),
             mm.gaussian(mm.line(-3, 5, l + 7, midpoints=True), mean=1.0, cov=1.44),
             mm.gaussian(mm.line(-5, 3, l - 5, midpoints=True), mean=-0.5, cov=0.64)]
    return mm.MMOTProblem(tuple(margs), mm.SoftCoulomb(0.5))


def test_newton_and_sinkhorn_solve_the_same_restricted_problem():
    p, _ = uniform3(64)
    kw = dict(eps=4e-3, tol=1e-7, multiscale=True, max_iter=50000, multiscale_options={"coarse_size": 16})
    newton = solve_entropic(p, solver="newton", **kw)
    sinkhorn = solve_entropic(p, solver="sinkhorn", overrelax=1.5, **kw)
    assert newton.status == sinkhorn.status == Status.CONVERGED
    assert (newton.info["inner_solver"], sinkhorn.info["inner_solver"]) == ("newton", "sinkhorn")
    assert newton.info["multiscale_final_nnz"] == sinkhorn.info["multiscale_final_nnz"]
    assert newton.value == pytest.approx(sinkhorn.value, rel=SOLVER_RTOL)
    P_n, P_s = newton.pair_density(0, 1), sinkhorn.pair_density(0, 1)
    assert np.max(np.abs(P_n - P_s)) < PAIR_ATOL
    fine = newton.info["multiscale_levels"][-1]
    assert fine["iterations"] < 30 < sinkhorn.info["multiscale_levels"][-1]["iterations"]


def test_newton_general_marginals_match_dense_sinkhorn():
    p = three_gaussians(90)
    dense = solve_entropic(p, eps=0.02, tol=1e-8, multiscale=False, max_iter=100000)
    ms = solve_entropic(p, eps=0.02, tol=1e-8, multiscale=True, solver="newton",
                        multiscale_options={"coarse_size": 30, "level_eps_factor": 1.0})
    assert dense.status == ms.status == Status.CONVERGED
    assert (dense.info["inner_solver"], ms.info["inner_solver"]) == ("sinkhorn", "newton")
    assert ms.value == pytest.approx(dense.value, rel=MS_DENSE_RTOL)
    assert max(ms.info["marginal_l1_errors"]) <= 1e-8
    # the certified bracket still holds for the discrete problem
    assert ms.lower_bound <= dense.value <= ms.upper_bound + 1e-9


def test_newton_n2_matches_pot():
    ot = pytest.importorskip("ot")
    m = mm.gaussian(mm.line(-4, 4, 300, midpoints=True))
    p = mm.MMOTProblem.symmetric(m, 2, mm.SoftCoulomb(0.1))
    eps = 0.05
    ms = solve_entropic(p, eps=eps, tol=1e-10, multiscale=True, solver="newton",
                        multiscale_options={"coarse_size": 75, "threshold": 1e-12})
    assert ms.status == Status.CONVERGED
    C = p.pair_matrix(0, 1)
    G = ot.sinkhorn(m.weights, m.weights, C, eps, method="sinkhorn_log", stopThr=1e-12, numItermax=100000)
    assert ms.value == pytest.approx(float(np.sum(G * C)), rel=MS_DENSE_RTOL)


def test_newton_close_to_exact_lp_and_converges_in_few_steps():
    """l = 256, eps = 40 h^2: the cost is above the exact LP optimum (independent closed-form plan)
    by less than 1e-4 relative, and every sparse level needs only a handful of Newton steps."""
    p, exact = uniform3(256)
    s = solve_entropic(p, eps=40.0 / 256 ** 2, tol=1e-5, multiscale=True, plan=False,
                       multiscale_options={"coarse_size": 64})
    assert s.status == Status.CONVERGED
    assert s.info["multiscale_levels"][-1]["eps"] == pytest.approx(40.0 / 256 ** 2)
    assert max(s.info["marginal_l1_errors"]) <= 1e-5
    assert 0 < s.value - exact < 1e-4 * exact
    assert all(L["iterations"] <= 20 for L in s.info["multiscale_levels"][1:])
    assert s.upper_bound >= exact - 1e-12


def test_comotion_from_sparse_pair_density_matches_closed_form():
    """Uniform density, N = 3: the other two electrons sit at the points of {y, y + 1/3, y + 2/3}
    (y = x mod 1/3) other than x (Seidl's co-motion functions)."""
    l = 768
    p, _ = uniform3(l)
    s = solve_entropic(p, eps=40.0 / l ** 2, tol=1e-5, multiscale=True, plan=False,
                       multiscale_options={"coarse_size": 96})
    assert s.status == Status.CONVERGED
    x = s.info["comotion_x"]
    f = s.info["comotion"]
    y = np.mod(x, 1 / 3)
    trio = np.stack([y, y + 1 / 3, y + 2 / 3], axis=1)
    others = np.sort(np.where(np.abs(trio - x[:, None]) < 1e-9, np.nan, trio), axis=1)[:, :2]
    # away from the thirds' edges, where the co-motion jumps
    inner = np.min(np.abs(y[:, None] - np.array([0, 1 / 3])[None, :]), axis=1) > 5.0 / l
    assert np.nanmax(np.abs(f.T[inner] - others[inner])) <= COMOTION_CELLS / l


def test_sparse_comotion_equals_dense_version():
    rng = np.random.default_rng(0)
    P = rng.random((40, 50)) * (rng.random((40, 50)) < 0.2)
    P[3] = 0.0
    x = np.sort(rng.random(50))
    perm = rng.permutation(50)   # columns not sorted by x: both versions must sort
    levels = np.array([0.25, 0.5, 0.75])
    dense = _comotion(P[:, perm], None, x[perm], levels)
    sparse = _comotion(sp.csr_matrix(P[:, perm]), None, x[perm], levels)
    assert np.array_equal(np.isnan(dense), np.isnan(sparse))
    assert np.allclose(dense[~np.isnan(dense)], sparse[~np.isnan(sparse)])


def test_newton_iteration_limit_is_reported():
    p, _ = uniform3(128)
    s = solve_entropic(p, eps=40.0 / 128 ** 2, tol=1e-10, multiscale=True, solver="newton", max_iter=2,
                       multiscale_options={"coarse_size": 64})
    assert s.status == Status.ITERATION_LIMIT and not s.status.ok


def test_support_too_large_for_memory_is_refused(monkeypatch):
    import mmot_models.formulations.standard_lp as slp

    monkeypatch.setattr(slp, "available_memory_bytes", lambda: 1e5)
    p, _ = uniform3(128)
    with pytest.raises(MMOTInputError, match="triples"):
        solve_entropic(p, eps=40.0 / 128 ** 2, tol=1e-5, multiscale=True, multiscale_options={"coarse_size": 64})


def test_bad_solver_name():
    p, _ = uniform3(16)
    with pytest.raises(MMOTInputError, match="solver"):
        solve_entropic(p, eps=0.1, solver="bfgs")


def test_overflow_of_a_triple_is_flagged():
    from mmot_models.entropic.kernels import PairEngine, SparsePattern

    l = 6
    r, c = np.nonzero(~np.eye(l, dtype=bool))
    pat = SparsePattern.from_coo(r, c, np.ones(r.size), (l, l))
    mus = [np.full(l, 1 / l)] * 3
    eng = PairEngine({(0, 1): pat, (0, 2): pat, (1, 2): pat}, mus)
    eng.absorb([np.zeros(l)] * 3, 1.0)
    assert not eng.overflow
    eng.absorb([np.full(l, 1e4)] * 3, 1.0)
    assert eng.overflow


@pytest.mark.slow
def test_newton_l4096_converges_and_approaches_exact():
    """l = 4096 (about 1 min): the three dense l x l kernels would take 400 MB; the support is O(l)."""
    l = 4096
    p, exact = uniform3(l)
    s = solve_entropic(p, eps=40.0 / l ** 2, tol=1e-5, multiscale=True, plan=False)
    assert s.status == Status.CONVERGED
    assert 0 < s.value - exact < 1e-6 * exact
