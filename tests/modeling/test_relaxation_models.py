"""formulation='krep' and 'moments': the package's own relaxation solvers agree, directions, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mmot_models as mm

AGREE_TOL = 1e-7


@pytest.mark.parametrize("k", [2, 3, 5])
def test_krep_model_matches_solve_krep(problems, k):
    """The Model on 'krep' and mm.solve(method='krep') (its own LP and certificate) give the same V_k."""
    prob = problems[3]
    ref = mm.solve(prob, method="krep", k=k)
    sol = mm.Model(prob, "krep", k=k).solve()
    assert sol.status == ref.status == mm.Status.OPTIMAL
    assert abs(sol.value - ref.value) <= AGREE_TOL
    assert sol.bound == ref.bound
    assert (sol.lower_bound == -math.inf) == (ref.lower_bound == -math.inf)
    assert (sol.upper_bound == math.inf) == (ref.upper_bound == math.inf)
    if k != 3:   # a k-body plan is no N-body plan: it is reported in info only
        assert sol.plan_weights is None and sol.info["pair_density"].shape == (prob.sizes[0],) * 2
        assert abs(sol.info["pair_density"].sum() - 1.0) <= 1e-9
    else:
        assert sol.max_marginal_error <= 1e-9


def test_krep_cuts_match_the_cutting_plane_solver_bound(problems):
    """All order-3 bipartition cuts at once are at least as tight as the cutting-plane loop."""
    prob = problems[3]
    loop = mm.solve(prob, method="krep", k=2, cuts=3)
    m = mm.Model(prob, "krep", k=2)
    m.add(mm.KRepresentabilityCuts(k=3))
    sol = m.solve()
    exact = mm.Model(prob).solve().value
    assert loop.lower_bound - AGREE_TOL <= sol.value <= exact + AGREE_TOL


def test_krep_above_n_infeasible_under_coulomb_reports_upper_side():
    """Coulomb, a site heavier than 1/k: no k-body plan avoids the diagonal; the model says infeasible."""
    x = np.linspace(0, 1, 5)
    w = np.array([0.4, 0.15, 0.15, 0.15, 0.15])
    prob = mm.MMOTProblem.symmetric(mm.Marginal(x, w), 2, mm.Coulomb())
    sol = mm.Model(prob, "krep", k=3).solve()
    assert sol.status == mm.Status.INFEASIBLE and sol.bound == mm.Bound.UPPER
    assert sol.lower_bound == -math.inf and sol.value == math.inf


def test_moments_model_is_a_lower_bound_that_tightens(problems):
    prob = problems[3]
    exact = mm.Model(prob).solve().value
    vals = []
    for cells in (1, 2, 5):
        m = mm.Model(prob, "moments")
        m.add(mm.MomentRows(mm.hats(cells)))
        sol = m.solve()
        assert sol.status == mm.Status.OPTIMAL and sol.bound == mm.Bound.LOWER
        assert sol.upper_bound == math.inf and sol.potentials is None
        vals.append(sol.value)
    assert vals[0] <= vals[1] + AGREE_TOL <= vals[2] + 2 * AGREE_TOL <= exact + 3 * AGREE_TOL
    # indicator functions on every site are the marginal rows: the exact value again
    m = mm.Model(prob, "moments")
    m.add(mm.MomentRows("indicators"))
    assert abs(m.solve().value - exact) <= AGREE_TOL


def test_moments_model_exports_named_rows(problems, tmp_path):
    pytest.importorskip("pyomo")
    m = mm.Model(problems[2], "moments")
    m.add(mm.MomentRows(mm.hats(2), marginals=[0]))
    pm = m.to_pyomo()
    assert list(m.blocks) == ["mass", "moment"]
    assert len(pm.mass) == 1 and (0, 2) in pm.moment
    sol = m.solve_pyomo(pm)
    assert sol.status == mm.Status.OPTIMAL and sol.bound == mm.Bound.LOWER
    m.write(str(tmp_path / "moments.lp"))
    assert "mass_0" in (tmp_path / "moments.lp").read_text()


@pytest.mark.parametrize("kwargs, match", [
    ({"formulation": "krep"}, "needs k"),
    ({"formulation": "krep", "k": 1}, "k must be an integer >= 2"),
    ({"formulation": "primal", "k": 3}, "k applies to formulation='krep' only"),
    ({"formulation": "dual"}, "unknown formulation 'dual'"),
])
def test_bad_formulation_input(problems, kwargs, match):
    with pytest.raises(mm.MMOTInputError, match=match):
        mm.Model(problems[3], **kwargs)


def test_cut_order_must_exceed_the_model_k_and_not_n(problems):
    m = mm.Model(problems[3], "krep", k=2)
    with pytest.raises(mm.MMOTInputError, match="3 <= k <= N=3"):
        m.add(mm.KRepresentabilityCuts(k=4))
    m3 = mm.Model(problems[4], "krep", k=3)
    with pytest.raises(mm.MMOTInputError, match="satisfies order-3 cuts already"):
        m3.add(mm.KRepresentabilityCuts(k=3))
    with pytest.raises(mm.MMOTInputError, match="does not apply to formulation 'krep'"):
        m.add(mm.OccupationBounds([0, 1], 0.5))


def test_interval_bipartitions_are_distinct_valid_cuts(problems):
    from mmot_models.modeling import interval_bipartitions
    from mmot_models.modeling.krep import all_bipartitions

    S = interval_bipartitions(6)
    assert S.shape == (15, 6) and np.all(S[:, 0] == 1) and len({tuple(r) for r in S.tolist()}) == 15
    full = {tuple(r) for r in all_bipartitions(6).tolist()}
    assert {tuple(r) for r in S.tolist()} <= full
    prob = problems[3]
    exact = mm.Model(prob).solve().value
    m = mm.Model(prob, "krep", k=2)
    m.add(mm.KRepresentabilityCuts(k=3, signs=S))
    sol = m.solve()
    base = mm.Model(prob, "krep", k=2).solve().value
    assert base - AGREE_TOL <= sol.value <= exact + AGREE_TOL and sol.bound == mm.Bound.LOWER
