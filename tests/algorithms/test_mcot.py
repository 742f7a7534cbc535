"""Moment-constrained OT (MCOT): families, the candidate LP, the solvers, against independent references.

References used here (none is the code's own earlier output):
* 1D W2^2 between densities 3x^2 and 2-2y on [0, 1] by quantiles (scipy quad);
* Bures closed form for two Gaussians;
* the martingale optimum 1/64 of the paper (Jensen argument, section 6.2.4);
* the exact discrete Kantorovich LP (``method="primal"``) for discrete problems;
* scipy quad for density moments; finite differences for analytic gradients.
"""
from __future__ import annotations

import re

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import sqrtm

import mmot_models as mm
from mmot_models.algorithms.moments import CERT_REL_TOL, solve_mcot
from mmot_models.costs import Power
from mmot_models.errors import MMOTInputError
from mmot_models.moment_functions import (Cells, Density, Hats1D, HatsMesh, MCOTProblem, Monomials,
                                          RegularisedRelu1D, TestFamily, family_from_spec, integrate, moments_of)
from mmot_models.solution import Bound, Status

#: LP certificate / equality tolerances (absolute, values are O(1)).
LP_TOL = 1e-8
#: Quadrature of density moments vs scipy quad.
QUAD_TOL = 1e-10
#: Analytic vs central-difference gradients.
GRAD_TOL = 1e-5
#: Truncation of the Gaussians to [-4, 4]^2 changes W2^2 by far less than this.
TRUNC_TOL = 1e-3
#: Smallest fitted decay exponent accepted for the 1D hat-function convergence (paper: 2).
RATE_MIN = 1.7
#: Martingale: the MCOT relaxation may exceed 1/64 only by quadrature/LP noise.
MART_TOL = 1e-9
#: Particle method (penalised, 1/eta = 100): distance to the exact MCOT value.
PARTICLE_TOL = 2e-2


def _w2_reference() -> float:
    """W2^2 between 3x^2 and 2-2y on [0, 1] by quantiles: F^-1(u) = u^(1/3), G^-1(u) = 1 - sqrt(1-u)."""
    val, err = quad(lambda u: (u ** (1 / 3) - 1 + math.sqrt(1 - u)) ** 2, 0, 1, limit=200)
    assert err < 1e-9
    return val


W2_REF = _w2_reference()
MU_1D = Density(lambda x: 3 * x ** 2, 0.0, 1.0, name="3x^2")
NU_1D = Density(lambda y: 2 - 2 * y, 0.0, 1.0, name="2-2y")


# --------------------------------------------------------------------------- families
def test_reference_value_matches_paper():
    assert abs(W2_REF - 0.184459) < 1e-6


@pytest.mark.parametrize("family", [Hats1D.uniform(0, 1, 5), Cells.box(0, 1, 7), HatsMesh.box([-1, -2], [1, 2], 3),
                                    Cells.box([0, 0], [1, 1], [2, 3])])
def test_partition_of_unity(family):
    rng = np.random.default_rng(0)
    x = family.lows + (family.highs - family.lows) * rng.random((200, family.dim))
    vals = family.evaluate(x)
    assert vals.shape == (200, family.n_functions)
    assert np.all(vals >= -1e-15)
    assert np.max(np.abs(vals.sum(axis=1) - 1.0)) < 1e-12
    assert np.allclose(family.evaluate_sparse(x).toarray(), vals)


def test_hats_are_nodal():
    f1 = Hats1D.uniform(-1, 2, 6)
    assert np.allclose(f1.evaluate(f1.nodes), np.eye(7))
    f2 = HatsMesh.box([0, 0], [1, 1], 4)
    assert np.allclose(f2.evaluate(f2.vertices), np.eye(25))
    assert np.all(f1.evaluate(np.array([-1.5, 2.5])) == 0)  # zero outside the mesh


@pytest.mark.parametrize("family", [Hats1D.uniform(0, 1, 4), HatsMesh.box([0, 0], [1, 1], 3),
                                    RegularisedRelu1D(0, 1, 5), Monomials(3, 2)])
def test_analytic_gradients(family):
    rng = np.random.default_rng(1)
    lo = family.lows if family.lows is not None else np.zeros(family.dim)
    hi = family.highs if family.highs is not None else np.ones(family.dim)
    x = lo + (hi - lo) * (0.05 + 0.9 * rng.random((30, family.dim)))
    assert np.max(np.abs(family.gradient(x) - TestFamily.gradient(family, x))) < GRAD_TOL


def test_relu_family_spans_hats():
    """With eps = 0 the positive parts span the continuous piecewise affine functions (paper 6.2)."""
    r = RegularisedRelu1D(0, 1, 4, eps=0.0)
    h = Hats1D.uniform(0, 1, 4)
    x = np.linspace(0, 1, 57)
    R, H = r.evaluate(x), h.evaluate(x)
    coef, *_ = np.linalg.lstsq(R, H, rcond=None)
    assert np.max(np.abs(R @ coef - H)) < 1e-10


def test_density_moments_match_scipy_quad():
    fam = Hats1D.uniform(0, 1, 5)
    b = moments_of(fam, MU_1D)
    ref = [quad(lambda t, k=k: fam.evaluate(np.array([t]))[0, k] * 3 * t * t, 0, 1, points=fam.nodes[1:-1])[0]
           for k in range(fam.n_functions)]
    assert np.max(np.abs(b - ref)) < QUAD_TOL
    assert abs(b.sum() - 1.0) < QUAD_TOL


def test_gaussian_density_moments_on_triangles():
    S = np.array([[1, .7], [.7, 1]])
    Si = np.linalg.inv(S)
    nu = Density(lambda x: np.exp(-0.5 * np.einsum("ij,jk,ik->i", x - 1, Si, x - 1)), [-4, -4], [4, 4])
    fam = HatsMesh.box([-4, -4], [4, 4], 6)
    from scipy.integrate import dblquad

    mean = integrate(nu, lambda x: x, fam)
    f = lambda y, x: float(nu(np.array([[x, y]]))[0])  # noqa: E731
    mass = dblquad(f, -4, 4, -4, 4, epsabs=1e-12)[0]
    ref = dblquad(lambda y, x: x * f(y, x), -4, 4, -4, 4, epsabs=1e-12)[0] / mass
    assert abs(mean[0] - ref) < 1e-7 and abs(mean[1] - ref) < 1e-7
    assert abs(ref - 1.0) < 1e-2  # the truncation to [-4, 4]^2 (3 sigma above the mean) shifts it a little
    assert abs(moments_of(fam, nu).sum() - 1.0) < 1e-12


def test_family_specs_and_errors():
    assert family_from_spec("hats:4", 0, 1).n_functions == 5
    assert family_from_spec("affine:4", 0, 1).n_functions == 8
    assert family_from_spec("relu:4", 0, 1).n_functions == 5
    assert family_from_spec("cells:3", [0, 0], [1, 1]).n_functions == 9
    assert family_from_spec("monomials:2", [0, 0], [1, 1]).n_functions == 5
    assert family_from_spec("hats:2", [0, 0], [1, 1]).n_functions == 9
    for bad in ("splines:3", "hats", "hats:0", "hats:x"):
        with pytest.raises(MMOTInputError):
            family_from_spec(bad, 0, 1)
    with pytest.raises(MMOTInputError):
        family_from_spec("relu:3", [0, 0], [1, 1])


# --------------------------------------------------------------------------- 1D reference
def test_1d_reference_lower_bounds_and_rate():
    grid = np.linspace(0, 1, 129)  # contains the nodes of every mesh below: V_n is monotone in n
    ns, vals, errs = [4, 8, 16], [], []
    for n in ns:
        P = MCOTProblem((MU_1D, NU_1D), Power(2), f"hats:{n}")
        s = solve_mcot(P, candidates=grid)
        assert s.status == Status.OPTIMAL and s.bound == Bound.LOWER
        assert s.info["lp_gap"] < LP_TOL
        assert s.info["moment_residual"] < LP_TOL
        assert s.info["n_atoms"] <= s.info["n_rows"] <= P.tchakaloff_bound()
        # certified: LP dual certificate minus the grid correction bounds the continuum MCOT <= OT
        delta = s.info["discretisation_correction"]
        assert abs(delta - 2 * (1 / 128) ** 2 / 4) < 1e-15
        assert s.lower_bound <= W2_REF
        assert s.value <= W2_REF
        vals.append(s.value)
        errs.append(W2_REF - s.value)
    assert vals[0] <= vals[1] + LP_TOL and vals[1] <= vals[2] + LP_TOL
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert slope >= RATE_MIN, f"convergence exponent {slope:.2f}"


def test_moment_bound_A():
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:4")
    base = solve_mcot(P, refine=2).value
    loose = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:4", moment_bound=10.0)
    s = solve_mcot(loose, refine=2)
    assert abs(s.value - base) < LP_TOL and s.info["n_rows"] == solve_mcot(P, refine=2).info["n_rows"] + 1
    tight = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:4", moment_bound=0.1)  # E x^2 + E y^2 ~ 0.77
    assert solve_mcot(tight, refine=2).status == Status.INFEASIBLE


def test_colgen_between_certified_bound_and_grid_lp():
    """Continuous positions can only improve on a grid; the certified bound is below both."""
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:4")
    lp = solve_mcot(P, refine=8)
    cg = solve_mcot(P, solver="colgen", seed=3)
    assert cg.status == Status.CONVERGED, cg.message
    assert lp.lower_bound - LP_TOL <= cg.value <= lp.value + LP_TOL
    assert cg.info["moment_residual"] < 1e-7
    assert cg.info["n_atoms"] <= cg.info["n_rows"]


def test_particles_reproduce_paper_behaviour():
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "relu:6")
    exact_mcot = solve_mcot(MCOTProblem((MU_1D, NU_1D), Power(2), "hats:6"), refine=16).value
    s = solve_mcot(P, solver="particles", penalty=100.0, max_iterations=200, seed=0)
    assert s.bound == Bound.ESTIMATE
    assert abs(s.value - exact_mcot) < PARTICLE_TOL
    assert s.info["moment_residual"] < 1e-2
    w = s.info["atom_weights"]
    assert abs(w.sum() - 1) < 1e-12 and np.all(w >= 0)


def test_metropolis_reaches_exact_cells_value():
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "cells:6")
    s = solve_mcot(P, solver="metropolis", n_steps=600, beta=1e-4, seed=0)
    exact = s.info["exact_cells_value"]
    assert s.value >= exact - LP_TOL
    assert exact <= W2_REF  # c~ <= c on every cell pair: a certified lower bound of OT
    # the cells value equals discrete OT between cell masses with cost c~ (independent: POT)
    import ot
    f = P.families[0]
    b0, b1 = P.targets()
    e = f.edges[0]
    gap = np.maximum(0, np.maximum(e[None, :-1] - e[1:, None], e[:-1, None] - e[None, 1:]))
    assert abs(ot.emd2(b0, b1, gap ** 2) - exact) < LP_TOL
    assert s.status == Status.CONVERGED and abs(s.value - exact) < LP_TOL


# --------------------------------------------------------------------------- 2D Gaussians
def test_2d_gaussians_below_bures_and_discretised_ot():
    """Hats on the paper's triangulated mesh of [-4, 4]^2.  Independent references: the Bures closed
    form, and POT's exact OT between the hat projections of the two laws on the mesh nodes (a coupling
    of those discrete laws is feasible for the candidate LP, whose grid contains the nodes)."""
    import ot

    S2, m2 = np.array([[1, .7], [.7, 1]]), np.array([1.0, 1.0])
    iS = np.linalg.inv(S2)
    bures = float(m2 @ m2 + np.trace(np.eye(2) + S2 - 2 * np.real(sqrtm(S2))))
    mu = Density(lambda x: np.exp(-0.5 * (x ** 2).sum(1)), [-4, -4], [4, 4])
    nu = Density(lambda x: np.exp(-0.5 * np.einsum("ij,jk,ik->i", x - m2, iS, x - m2)), [-4, -4], [4, 4])
    P = MCOTProblem((mu, nu), Power(2), "hats:4")
    s = solve_mcot(P, refine=4)
    assert s.status == Status.OPTIMAL, s.message
    assert s.info["n_atoms"] <= s.info["n_rows"]
    assert s.value <= bures + TRUNC_TOL
    nodes = P.families[0].vertices
    b0, b1 = P.targets()
    C = ((nodes[:, None, :] - nodes[None, :, :]) ** 2).sum(-1)
    assert s.value <= ot.emd2(b0, b1, C) + LP_TOL


# --------------------------------------------------------------------------- martingale
def test_martingale_approaches_one_over_64():
    mu = Density(lambda x: np.ones_like(x), 0.25, 0.75)
    nu = Density(lambda y: np.ones_like(y), 0.0, 1.0)
    grid = np.linspace(0, 1, 65)
    vals = []
    for n in (4, 8, 16):
        P = MCOTProblem((mu, nu), Power(3), [f"hats:{n}", f"hats:{2 * n}"], martingale=f"hats:{n}")
        s = solve_mcot(P, candidates=[grid[(grid >= .25) & (grid <= .75)], grid])
        assert s.status == Status.OPTIMAL
        assert s.value <= 1 / 64 + MART_TOL
        assert s.info["n_atoms"] <= s.info["n_rows"]
        Z, w = s.info["atoms"], s.info["atom_weights"]
        # martingale rows recomputed independently: sum_k p_k y_k chi_l(x_k) = int x chi_l(x) dmu (scipy quad)
        chi = P.martingale
        lhs = (w * Z[:, 1, 0]) @ chi.evaluate(Z[:, 0, :])
        rhs = [quad(lambda t, l=l: t * chi.evaluate(np.array([t]))[0, l] * 2.0, .25, .75, points=chi.nodes)[0]
               for l in range(chi.n_functions)]
        assert np.max(np.abs(lhs - rhs)) < 1e-9
        vals.append(s.value)
        if n == 16:  # atoms sit near the optimal lines y = x +- 1/4
            assert w @ np.abs(np.abs(Z[:, 1, 0] - Z[:, 0, 0]) - 0.25) < 1e-3
    assert vals[0] < vals[1] < vals[2]
    assert 1 / 64 - vals[2] < 1e-4


# --------------------------------------------------------------------------- discrete problems
def _random_problem(n_marg: int, l: int, seed: int) -> mm.MMOTProblem:
    rng = np.random.default_rng(seed)
    x = mm.line(0, 1, l)
    margs = tuple(mm.Marginal(x, rng.random(l) + 0.1, normalize=True) for _ in range(n_marg))
    return mm.MMOTProblem(margs, "power")


@pytest.mark.parametrize("n_marg,l", [(2, 9), (3, 6)])
def test_mcot_on_mmot_is_lower_bound_and_exact_with_indicators(n_marg, l):
    p = _random_problem(n_marg, l, seed=n_marg)
    exact = mm.solve(p, method="primal").value
    for n in (1, 2, 4):
        s = mm.solve(p, method="mcot", n_functions=n)
        assert s.status == Status.OPTIMAL and s.bound == Bound.LOWER
        assert s.lower_bound <= exact + LP_TOL and s.value <= exact + LP_TOL
        assert s.info["n_atoms"] <= s.info["n_rows"]
    for fam in ("indicators", f"hats:{l - 1}"):  # both span all indicators of the equispaced sites
        s = mm.solve(p, method="mcot", moments=fam)
        assert abs(s.value - exact) < LP_TOL
        assert s.max_marginal_error < 1e-9


@pytest.mark.parametrize("N", [2, 3, 4])
def test_symmetric_coulomb_atoms_do_not_grow_with_N(N):
    m = mm.gaussian(mm.line(-1, 1, 10))
    p = mm.MMOTProblem.symmetric(m, N, "coulomb")
    exact = mm.solve(p, method="primal").value
    s = mm.solve(p, method="mcot", n_functions=4)
    assert s.status == Status.OPTIMAL
    assert s.value <= exact + LP_TOL
    assert s.info["symmetric"] and s.plan_indices.shape[1] == N
    # Prop. 3.5: at most n + 2 atoms (5 hats here) whatever N
    assert s.info["n_atoms"] <= 5 + 2
    assert s.info["tchakaloff_bound"] == 7
    si = mm.solve(p, method="mcot", moments="indicators")
    assert abs(si.value - exact) < LP_TOL * max(1, exact)


def test_samples_marginals():
    rng = np.random.default_rng(5)
    xs, ys = rng.random(40), rng.random(40) ** 2
    P = MCOTProblem((xs, ys), Power(2), "hats:3")
    b0 = P.targets()[0]
    assert np.allclose(b0, Hats1D.uniform(xs.min(), xs.max(), 3).evaluate(xs).mean(axis=0))
    import ot
    exact = ot.emd2(np.full(40, 1 / 40), np.full(40, 1 / 40), (xs[:, None] - ys[None, :]) ** 2)
    s = solve_mcot(P)
    assert s.status == Status.OPTIMAL and s.value <= exact + LP_TOL and s.lower_bound <= exact + LP_TOL


def test_bad_inputs():
    with pytest.raises(MMOTInputError):
        MCOTProblem((MU_1D, NU_1D, MU_1D), Power(2), "hats:3", martingale="hats:3")
    with pytest.raises(MMOTInputError):
        MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3", symmetric=True)
    with pytest.raises(MMOTInputError):
        MCOTProblem((MU_1D,), Power(2), "hats:3")
    with pytest.raises(MMOTInputError):
        solve_mcot(MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3"), solver="newton")
    with pytest.raises(MMOTInputError):
        solve_mcot(MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3"), solver="metropolis")
    with pytest.raises(MMOTInputError):
        mm.solve(_random_problem(2, 4, 0), method="mcot", moments="wavelets:3")


def test_cli_solve_with_mcot(tmp_path, capsys):
    from mmot_models.cli import main

    p = _random_problem(2, 8, seed=7)
    path = tmp_path / "p.json"
    mm.save_problem(p, path)
    code = main(["solve", str(path), "--method", "mcot", "--option", "moments=hats:3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["bound"] == "lower" and out["status"] == "optimal"
    assert out["value"] <= mm.solve(p, method="primal").value + LP_TOL
    assert out["info"]["n_atoms"] <= out["info"]["n_rows"]


def test_pyomo_backend_same_value():
    """Second solver path: the same candidate LP through Pyomo (appsi_highs) gives the same optimum."""
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3")
    a = solve_mcot(P, refine=2)
    b = solve_mcot(P, backend="pyomo", refine=2)
    assert b.status == Status.OPTIMAL
    assert abs(a.value - b.value) < LP_TOL


@pytest.mark.parametrize("N", [2, 3])
def test_symmetric_coulomb_density_below_sce(N):
    """Continuum uniform density on [0, 1], averaged hat constraints: below the SCE closed form."""
    from mmot_models.costs import Coulomb
    from mmot_models.physics.reference import uniform_sce_value

    mu = Density(lambda x: np.ones_like(x), 0.0, 1.0)
    s = solve_mcot(MCOTProblem((mu,) * N, Coulomb(), "hats:8", symmetric=True), refine=4)
    assert s.status == Status.OPTIMAL
    assert s.value <= uniform_sce_value(N) + LP_TOL
    assert s.info["n_atoms"] <= s.info["n_rows"] == 9  # 9 hats, mass row implied: independent of N


def test_no_certified_bound_when_candidates_miss_support_points():
    rng = np.random.default_rng(2)
    xs, ys = rng.random(12), rng.random(12)
    P = MCOTProblem((xs, ys), Power(1.5), "hats:2")  # not |x-y|^2: no grid correction either
    assert math.isfinite(solve_mcot(P).lower_bound)  # candidates = the sample points
    s = solve_mcot(P, candidates=[P.families[0].nodes, P.families[1].nodes])  # the mesh nodes miss them
    assert s.status == Status.OPTIMAL and s.lower_bound == -math.inf


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(l=st.integers(3, 9), n=st.integers(1, 6), p=st.sampled_from([1.0, 1.5, 2.0]), seed=st.integers(0, 10 ** 6))
def test_property_mcot_below_pot(l, n, p, seed):
    """Random discrete pairs: the MCOT value and its certified bound never exceed POT's exact OT."""
    import ot

    rng = np.random.default_rng(seed)
    x, y = np.sort(rng.random(l)), np.sort(rng.random(l))
    a, b = rng.random(l) + 0.05, rng.random(l) + 0.05
    a, b = a / a.sum(), b / b.sum()
    prob = mm.MMOTProblem((mm.Marginal(x, a), mm.Marginal(y, b)), Power(p))
    exact = ot.emd2(a, b, np.abs(x[:, None] - y[None, :]) ** p)
    s = mm.solve(prob, method="mcot", n_functions=n)
    assert s.status == Status.OPTIMAL
    assert s.value <= exact + LP_TOL and s.lower_bound <= exact + LP_TOL
    assert s.info["n_atoms"] <= s.info["n_rows"]


@pytest.mark.parametrize("kind", ["martingale", "symmetric"])
def test_particle_gradient_matches_finite_differences(kind):
    from mmot_models.algorithms.moments import PenalisedObjective

    if kind == "martingale":
        mu = Density(lambda x: np.ones_like(x), 0.25, 0.75)
        nu = Density(lambda y: np.ones_like(y), 0.0, 1.0)
        P = MCOTProblem((mu, nu), Power(3), ["relu:4", "relu:6"], martingale="relu:3")
    else:
        P = MCOTProblem((MU_1D,) * 3, Power(2), "relu:4", symmetric=True)
    K = 7
    F = PenalisedObjective(P, K, penalty=50.0)
    rng = np.random.default_rng(0)
    v = np.concatenate([0.3 + 0.4 * rng.random(K * P.n_marginals), rng.standard_normal(K)])
    f, g = F(v)
    h = 1e-6
    E = np.eye(v.size) * h
    fd = np.array([(F(v + e)[0] - F(v - e)[0]) / (2 * h) for e in E])
    assert np.max(np.abs(fd - g)) < GRAD_TOL * max(1.0, np.abs(g).max())


def test_cli_method_moments_flag(tmp_path, capsys):
    """`mmot solve FILE --method moments --moments hats:n` (the issue's spelling) is a lower bound."""
    import json as _json

    from mmot_models.cli import main as cli_main

    prob = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3, 3, 16, midpoints=True)), 3, "coulomb")
    path = tmp_path / "p.json"
    mm.save_problem(prob, path)
    exact = mm.solve(prob, method="symmetric").value
    assert cli_main(["solve", str(path), "--method", "moments", "--moments", "hats:6", "--json"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["bound"] == "lower" and out["value"] <= exact + 1e-7


# --------------------------------------------------------------------------- large candidate sets (issue 12)
#: The pricing scan stops at a relative reduced cost of 1e-9; values are O(1e-4 .. 1).
SITES_TOL = 1e-8
#: A polished (column generation) value may sit above the grid LP by its pricing tolerance.
POLISH_TOL = 1e-5
#: Network-simplex iterations for POT's ot.emd2 (its default 1e5 can stop before optimality).
EMD_MAX_ITER = 10_000_000


def _random_pair(l: int, seed: int, dim: int = 1, p: float = 2.0) -> tuple[mm.MMOTProblem, float]:
    """Two random discrete marginals and POT's exact OT value (the independent reference)."""
    import ot

    rng = np.random.default_rng(seed)
    x, y = rng.random((l, dim)), rng.random((l, dim))
    a, b = rng.random(l) + 0.05, rng.random(l) + 0.05
    a, b = a / a.sum(), b / b.sum()
    prob = mm.MMOTProblem((mm.Marginal(x, a), mm.Marginal(y, b)), Power(p))
    if dim == 1 and p == 2.0:  # POT's 1D exact solver (monotone coupling), O(l log l)
        return prob, float(ot.emd2_1d(x[:, 0], y[:, 0], a, b, metric="sqeuclidean"))
    return prob, float(ot.emd2(a, b, ot.dist(x, y, metric="euclidean") ** p, numItermax=EMD_MAX_ITER))


def test_pot_references_agree():
    import ot

    prob, v1d = _random_pair(300, seed=9)
    m0, m1 = prob.marginals
    assert abs(v1d - ot.emd2(m0.weights, m1.weights, (m0.points - m1.points.T) ** 2, numItermax=EMD_MAX_ITER)) < 1e-12


def test_default_solves_two_2000_point_marginals():
    """The issue's case: 4 million candidate tuples, solved by default (column generation over sites)."""
    import time

    prob, exact = _random_pair(2000, seed=0)
    t0 = time.perf_counter()
    s = mm.solve(prob, method="mcot")
    elapsed = time.perf_counter() - t0
    assert s.status == Status.OPTIMAL and s.bound == Bound.LOWER, s.message
    assert s.info["solver"] == "sites" and s.info["n_candidates"] == 2000 ** 2
    assert s.info["pricing_certified"] and s.info["n_master_columns"] < 2000 ** 2 // 100
    assert s.lower_bound <= exact + LP_TOL and s.value <= exact + LP_TOL
    assert s.value - s.lower_bound <= CERT_REL_TOL * abs(s.value)  # relative: the value is 1.3e-4
    assert s.info["n_atoms"] <= s.info["n_rows"]
    assert elapsed < 20.0  # about 1 s on an idle 2-core machine


def test_sites_with_indicators_is_exact_ot():
    """Indicators make MCOT the exact discrete LP: column generation over 2D sites meets POT's value."""
    prob, exact = _random_pair(200, seed=3, dim=2, p=1.5)
    s = mm.solve(prob, method="mcot", moments="indicators", solver="sites")
    assert s.status == Status.OPTIMAL and s.iterations > 1
    assert abs(s.value - exact) <= SITES_TOL and s.lower_bound <= exact + LP_TOL
    assert s.max_marginal_error < 1e-9


@pytest.mark.parametrize("case", ["1d-density", "martingale", "symmetric-coulomb", "three-marginals"])
def test_sites_equal_full_candidate_lp(case):
    """Same LP, two algorithms: the full candidate LP and column generation over its tuples agree."""
    if case == "1d-density":
        P, kw = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:8"), {"refine": 8}
    elif case == "martingale":
        mu, nu = Density(lambda x: np.ones_like(x), 0.25, 0.75), Density(lambda y: np.ones_like(y), 0.0, 1.0)
        g = np.linspace(0, 1, 65)
        P = MCOTProblem((mu, nu), Power(3), ["hats:8", "hats:16"], martingale="hats:8")
        kw = {"candidates": [g[(g >= .25) & (g <= .75)], g]}
    elif case == "symmetric-coulomb":
        P = MCOTProblem.from_mmot(mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-1, 1, 30)), 3, "coulomb"),
                                  n_functions=4)
        kw = {}
    else:
        P = MCOTProblem.from_mmot(_random_problem(3, 15, seed=4), n_functions=3)
        kw = {}
    full = solve_mcot(P, solver="lp", **kw)
    cg = solve_mcot(P, solver="sites", **kw)
    assert full.status == cg.status == Status.OPTIMAL, cg.message
    assert abs(full.value - cg.value) <= SITES_TOL
    assert cg.info["moment_residual"] < LP_TOL and cg.info["n_atoms"] <= cg.info["n_rows"]
    if case == "1d-density":  # the grid correction carries over: a certified lower bound of W2^2
        assert cg.lower_bound <= W2_REF and abs(cg.lower_bound - full.lower_bound) <= SITES_TOL


def test_unfinished_sites_run_reports_a_certified_bound():
    prob, exact = _random_pair(300, seed=5, dim=2)
    s = mm.solve(prob, method="mcot", solver="sites", max_iterations=1, n_functions=6)
    assert s.status == Status.ITERATION_LIMIT and s.bound == Bound.LOWER
    assert s.value == s.lower_bound and s.lower_bound <= exact + LP_TOL
    assert s.info["master_value"] >= s.lower_bound
    t = mm.solve(prob, method="mcot", solver="sites", time_limit=1e-6, n_functions=6)  # one round always runs
    assert t.status == Status.TIME_LIMIT and t.bound == Bound.LOWER and t.value <= exact + LP_TOL


_DROP = object()


def _merge(base: dict, override: dict) -> dict:
    """``base | override`` without the keys ``override`` sets to ``_DROP``."""
    return {k: v for k, v in (base | override).items() if v is not _DROP}


def _refusals():
    """(call that is refused, the option its message advises) for every MCOT refusal with a way out."""
    dens = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3")
    bounded = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:3", moment_bound=10.0)
    prob, _ = _random_pair(60, seed=6)
    return [
        (lambda **o: mm.solve(prob, method="mcot", **_merge({"solver": "lp", "max_columns": 1000}, o)), "solver='sites'"),
        (lambda **o: solve_mcot(dens, **_merge({"solver": "lp", "max_columns": 10}, o)), "solver='sites'"),
        (lambda **o: solve_mcot(dens, **_merge({"solver": "lp", "memory_limit_bytes": 10}, o)), "solver='sites'"),
        (lambda **o: mm.solve(prob, method="mcot", **_merge({"solver": "particles"}, o)), "solver='auto'"),
        (lambda **o: mm.solve(prob, method="mcot", **_merge({"solver": "metropolis"}, o)), "solver='auto'"),
        (lambda **o: solve_mcot(dens, **_merge({"solver": "metropolis"}, o)), "solver='auto'"),
        (lambda **o: solve_mcot(bounded, **_merge({"solver": "particles"}, o)), "solver='auto'"),
        (lambda **o: solve_mcot(dens, **_merge({"solver": "colgen", "backend": "pyomo"}, o)), "backend='highs'"),
        (lambda **o: solve_mcot(dens, **_merge({"solver": "sites", "backend": "pyomo"}, o)), "backend='highs'"),
    ]


@pytest.mark.parametrize("k", range(9))
def test_every_refusal_names_an_option_that_works(k):
    call, advice = _refusals()[k]
    with pytest.raises(MMOTInputError) as exc:
        call()
    assert advice in str(exc.value), str(exc.value)
    key, val = advice.split("=")
    follow = {key: val.strip("'")}
    try:
        s = call(**follow)
    except MMOTInputError as again:  # the schema names an option of the refused solver to drop
        dropped = re.search(r"option (\w+) of method mcot applies with .* drop it", str(again))
        assert dropped, str(again)
        s = call(**follow, **{dropped.group(1): _DROP})
    assert s.status in (Status.OPTIMAL, Status.CONVERGED), s.message


def test_particles_polish_reaches_exact_moments_on_paper_cases():
    """polish=True (column generation seeded by the particles) satisfies the moments exactly and lands
    between the certified lower bound and the grid LP value on the paper's 1D case.  Before the fix the
    weights-only LP on the particles was infeasible on every paper case (``polished_status='infeasible'``)."""
    P = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:6")
    grid = solve_mcot(P, refine=16)
    s = solve_mcot(P, solver="particles", penalty=100.0, max_iterations=50, seed=0, polish=True)
    assert s.status == Status.CONVERGED and s.info["polished_status"] == "converged", s.message
    assert s.info["polished_moment_residual"] < 1e-9 and s.info["moment_residual"] > 1e-4
    assert grid.lower_bound - LP_TOL <= s.value <= grid.value + POLISH_TOL
    assert abs(s.value - grid.value) < abs(s.info["penalised_value"] - grid.value)


@pytest.mark.slow
def test_particles_polish_martingale_paper_case():
    mu, nu = Density(lambda x: np.ones_like(x), 0.25, 0.75), Density(lambda y: np.ones_like(y), 0.0, 1.0)
    Pm = MCOTProblem((mu, nu), Power(3), ["relu:4", "relu:8"], martingale="relu:4")
    sm = solve_mcot(Pm, solver="particles", max_iterations=200, seed=0, polish=True)
    assert sm.status == Status.CONVERGED and sm.info["polished_moment_residual"] < 1e-9
    assert sm.value <= 1 / 64 + MART_TOL
    assert sm.info["moment_residual"] > 1e-4  # the particles alone miss the moments


def test_too_many_tuples_to_price_names_candidates_and_labels_the_result():
    """N = 3 with 600 sites each: 2.2e8 tuples per pricing scan is refused; the advised candidates=
    runs, and since the candidates miss support points the value carries no bound direction."""
    p = _random_problem(3, 600, seed=8)
    with pytest.raises(MMOTInputError, match="candidates="):
        mm.solve(p, method="mcot", n_functions=3)
    fewer = [m.points[::20] for m in p.marginals]
    s = mm.solve(p, method="mcot", n_functions=3, candidates=fewer)
    assert s.status == Status.OPTIMAL and s.bound == Bound.ESTIMATE and s.lower_bound == -math.inf


def test_sites_reports_infeasible_moments_without_a_value():
    """E x^2 + E y^2 ~ 0.77 > A = 0.1: no measure qualifies; the slack mass must not become a value."""
    tight = MCOTProblem((MU_1D, NU_1D), Power(2), "hats:4", moment_bound=0.1)
    s = solve_mcot(tight, solver="sites", refine=2)
    assert s.status == Status.INFEASIBLE and math.isnan(s.value) and s.lower_bound == -math.inf
