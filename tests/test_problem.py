"""Problem data: grids, marginals, validation, costs."""
from __future__ import annotations

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.costs import pairwise_distances

TOL = 1e-12


def test_line_midpoints_and_box():
    x = mm.line(0.0, 1.0, 4, midpoints=True)[:, 0]
    assert np.allclose(x, [0.125, 0.375, 0.625, 0.875], atol=TOL)
    pts = mm.box([0, 0], [1, 2], [2, 3])
    assert pts.shape == (6, 2)
    assert np.allclose(pts[-1], [1, 2], atol=TOL)


def test_marginal_normalisation_within_tolerance():
    m = mm.Marginal([0.0, 1.0], [0.5, 0.5 + 0.5 * mm.MASS_TOL])
    assert abs(m.weights.sum() - 1.0) <= TOL


def test_marginal_mass_error_names_the_fix():
    with pytest.raises(mm.MMOTInputError, match="normalize=True"):
        mm.Marginal([0.0, 1.0], [0.5, 0.6])
    m = mm.Marginal([0.0, 1.0], [1.0, 3.0], normalize=True)
    assert np.allclose(m.weights, [0.25, 0.75], atol=TOL)


@pytest.mark.parametrize("weights, pattern", [
    ([0.5, -0.1, 0.6], "non-negative"),
    ([0.5, np.nan, 0.5], "NaN"),
    ([0.5, np.inf, 0.5], "NaN or infinite"),
    ([0.5, 0.5], "3 points"),
    ([0.0, 0.0, 0.0], "zero"),
])
def test_bad_weights(weights, pattern):
    with pytest.raises(mm.MMOTInputError, match=pattern):
        mm.Marginal([0.0, 1.0, 2.0], weights)


def test_bad_points():
    with pytest.raises(mm.MMOTInputError, match="NaN"):
        mm.Marginal([0.0, np.nan], [0.5, 0.5])
    with pytest.raises(mm.MMOTInputError, match="different dimensions"):
        mm.MMOTProblem((mm.uniform([0.0, 1.0]), mm.uniform([[0.0, 0.0], [1.0, 1.0]])), "coulomb")


def test_density_helpers():
    pts = mm.line(-3, 3, 61)
    g = mm.gaussian(pts, 0.5, 0.25)
    assert abs(g.mean()[0] - 0.5) < 1e-6
    f = mm.from_density(pts, lambda x: np.exp(-x ** 2))
    assert abs(f.weights.sum() - 1.0) < TOL and f.weights.argmax() == 30
    rng = np.random.default_rng(0)
    h = mm.from_samples(rng.normal(size=(5000, 2)), bins=10)
    assert h.dim == 2 and abs(h.weights.sum() - 1) < TOL and np.all(h.weights > 0)


def test_symmetric_detection():
    m = mm.uniform(mm.line(0, 1, 5))
    assert mm.MMOTProblem.symmetric(m, 3, "coulomb").is_symmetric
    other = mm.Marginal(m.points, [0.1, 0.2, 0.3, 0.2, 0.2])
    assert not mm.MMOTProblem((m, other), "coulomb").is_symmetric
    asym = mm.NaryCost(lambda X: X[:, 0, 0] - X[:, 1, 0], n_body=2, symmetric=False)
    assert not mm.MMOTProblem.symmetric(m, 2, asym).is_symmetric


def test_coulomb_site_heavier_than_one_over_n():
    m = mm.Marginal([0.0, 1.0, 2.0], [0.5, 0.25, 0.25])
    p = mm.MMOTProblem.symmetric(m, 3, "coulomb")
    with pytest.raises(mm.InfeasibleProblemError, match=r"1/N"):
        p.check_feasible()
    with pytest.raises(mm.InfeasibleProblemError):
        mm.solve(p, method="primal")
    # a soft Coulomb cost is finite on the diagonal: the same marginal is fine
    s = mm.solve(mm.MMOTProblem.symmetric(m, 3, mm.SoftCoulomb(0.5)), method="primal")
    assert s.status is mm.Status.OPTIMAL


COSTS = [mm.Coulomb(), mm.SoftCoulomb(0.3), mm.Power(1.5), mm.RepulsiveHarmonic(), mm.Yukawa(0.7),
         mm.GaussianCost(0.8)]


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.kind)
def test_costs_match_formulas(cost):
    x = np.array([[0.0], [0.5], [2.0]])
    r = pairwise_distances(x, x)
    C = cost.matrix(x)
    expected = {
        "coulomb": lambda r: 1 / r, "soft_coulomb": lambda r: 1 / np.sqrt(r ** 2 + 0.09),
        "power": lambda r: r ** 1.5, "repulsive_harmonic": lambda r: -r ** 2,
        "yukawa": lambda r: np.exp(-0.7 * r) / r, "gaussian": lambda r: np.exp(-r ** 2 / (2 * 0.64)),
    }[cost.kind]
    off = ~np.eye(3, dtype=bool)
    with np.errstate(divide="ignore"):
        assert np.allclose(C[off], expected(r)[off], rtol=1e-12)
    if cost.singular_diagonal:
        assert np.all(np.isinf(np.diag(C)))
    else:
        assert np.all(np.isfinite(np.diag(C)))
    assert mm.cost_from_spec(cost.to_dict()) == cost


def test_cost_specs_and_errors():
    assert isinstance(mm.cost_from_spec("soft-coulomb"), mm.SoftCoulomb)
    assert mm.cost_from_spec({"kind": "soft_coulomb", "a": 0.5}).a == 0.5
    with pytest.raises(mm.MMOTInputError, match="unknown cost"):
        mm.cost_from_spec("coulom")
    with pytest.raises(mm.MMOTInputError, match="a > 0"):
        mm.SoftCoulomb(0.0)
    with pytest.raises(mm.MMOTInputError, match="bad parameters"):
        mm.cost_from_spec({"kind": "power", "q": 2})


def test_user_callable_and_nary_costs():
    pts = np.array([[0.0], [1.0], [3.0]])
    user = mm.CallablePairCost(lambda X, Y: np.abs(X[:, None, 0] - Y[None, :, 0]) ** 2, name="sq")
    assert np.allclose(user.matrix(pts), mm.Power(2).matrix(pts), atol=TOL)
    nary = mm.NaryCost(lambda X: np.sum((X[:, :, 0] - X[:, :, 0].mean(axis=1, keepdims=True)) ** 2, axis=1),
                       n_body=3)
    p = mm.MMOTProblem.symmetric(mm.uniform(pts), 3, nary)
    got = p.tuple_costs(np.array([[0, 1, 2]]))
    assert abs(got[0] - np.var([0, 1, 3]) * 3) < 1e-12
    with pytest.raises(mm.MMOTInputError, match="3 bodies"):
        mm.MMOTProblem.symmetric(mm.uniform(pts), 2, nary)
