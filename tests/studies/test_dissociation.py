"""SCE-DFT energy minimisation over densities (formulations.energy) and dissociation (physics.dissociation models, studies.dissociation drivers).

Independent references: finite-difference ground-state eigenvalues (scipy ``eigh_tridiagonal``)
for the non-interacting model; the hydrogen energy ``-Z^2/4`` (paper's units) in the radial model;
the transport term re-solved as a HiGHS LP and by POT for a fixed density; the homogeneity of
``g_b`` (Remark 5.4); separately computed ``g_b`` values for the joint limit program (5.5).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from mmot_models.algorithms.partial import homogeneous_cost
from mmot_models.backends.cvxpy import solve_problem
from mmot_models.cli import main
from mmot_models.formulations.energy import kinetic_value, transport_problem
from mmot_models.physics.dissociation import electron_fractions, line_model, radial_model
from mmot_models.studies.dissociation import g_b, limit_fractions, minimise_energy, scan_distances, scan_eps
from mmot_models.solution import Status

#: Mass and positivity of the minimising density (interior-point accuracy).
MASS_TOL = 1e-7
#: Symmetric split for equal charges (fractions and mirrored density).
SYMMETRY_TOL = 1e-4
#: cvxpy (Clarabel) vs HiGHS on the same LP.
TRANSPORT_REL_TOL = 1e-6
#: Grid discretisation vs a fine finite-difference eigenvalue (61 points) / hydrogen (120 shells).
DISCRETISATION_REL_TOL = 5e-3
HYDROGEN_ABS_TOL = 2e-3
#: Hydrogen energy on the coarser 60-shell grid of the limit program.
HYDROGEN_COARSE_ABS_TOL = 3e-3
#: Recomputed energy vs the solver objective.
OBJECTIVE_TOL = 1e-6
#: Joint limit program vs separately solved g_b values.
LIMIT_TOL = 1e-5


def fd_ground_state(Z, X, a, lo, hi, n=4000) -> float:
    """Lowest eigenvalue of -d^2/dx^2 - sum_k Z_k / sqrt((x - X_k)^2 + a^2) on [lo, hi], Dirichlet."""
    h = (hi - lo) / (n + 1)
    x = lo + h * np.arange(1, n + 1)
    V = np.sum(np.asarray(Z)[None, :] / np.sqrt((x[:, None] - np.asarray(X)[None, :]) ** 2 + a * a), axis=1)
    return float(eigh_tridiagonal(2 / h ** 2 - V, -np.ones(n - 1) / h ** 2, select="i", select_range=(0, 0))[0][0])


@pytest.fixture(scope="module")
def h2():
    return minimise_energy(line_model([1.0, 1.0], [-1.0, 1.0], 61))


def test_minimiser_is_a_valid_density(h2):
    assert h2.status == Status.OPTIMAL
    assert np.all(h2.weights >= 0.0)
    assert abs(h2.weights.sum() - 1.0) <= MASS_TOL
    assert h2.accuracy["constraint_violation"] <= MASS_TOL
    assert abs(h2.accuracy["energy_minus_objective"]) <= OBJECTIVE_TOL
    # terms recombine and the kinetic term is the numpy discretisation
    m = h2.model
    assert h2.energy == pytest.approx(m.eps * h2.kinetic + m.b * h2.transport - h2.attraction, rel=1e-12)
    assert h2.kinetic == pytest.approx(kinetic_value(h2.weights, m), rel=1e-12)


def test_equal_charges_split_symmetrically(h2):
    assert np.allclose(h2.fractions, 0.5, atol=SYMMETRY_TOL)
    assert np.allclose(h2.electrons, 1.0, atol=2 * SYMMETRY_TOL)
    assert np.max(np.abs(h2.weights - h2.weights[::-1])) <= SYMMETRY_TOL


def test_transport_term_is_certified_by_highs(h2):
    sol = h2.solution
    assert sol is not None and sol.status == Status.OPTIMAL
    assert abs(h2.accuracy["transport_gap"]) <= TRANSPORT_REL_TOL * max(1.0, h2.transport)
    assert sol.lower_bound <= h2.transport <= sol.upper_bound


def test_section2_bounds_bracket_the_transport(h2):
    assert h2.bounds["prop22_lower"] <= h2.transport <= h2.bounds["prop21_upper"]


@pytest.mark.parametrize("N,l", [(2, 25), (3, 14)])
def test_cvxpy_and_highs_agree_on_transport_for_fixed_density(N, l):
    model = line_model([1.0, 2.0], [-1.0, 1.5], l, n_electrons=N, margin=3.0)
    x = model.points[:, 0]
    w = np.exp(-0.5 * (x - 0.3) ** 2) + 0.3 * np.exp(-(x + 1.0) ** 2)
    w /= w.sum()
    prob, _ = transport_problem(w, model.pair_matrix, N)
    r = solve_problem(prob, "CLARABEL")
    lp = homogeneous_cost(w, model.points, N, pair_matrix=model.pair_matrix)
    assert r.status == Status.OPTIMAL and lp.status == Status.OPTIMAL
    assert abs(r.value - lp.value) <= TRANSPORT_REL_TOL * max(1.0, lp.value)
    if N == 2:  # and POT on the full two-marginal problem
        ot = pytest.importorskip("ot")
        assert float(ot.emd2(w, w, model.pair_matrix)) == pytest.approx(lp.value, rel=1e-9)


@pytest.mark.parametrize("Z,X", [([1.0], [0.0]), ([1.0, 1.0], [-1.5, 1.5])])
def test_noninteracting_energy_matches_eigenvalue(Z, X):
    model = line_model(Z, X, 61, b=0.0)
    res = minimise_energy(model)
    lo, hi = min(X) - 8.0, max(X) + 8.0
    ref = fd_ground_state(Z, X, 1.0, lo, hi)
    assert abs(res.energy - ref) <= DISCRETISATION_REL_TOL * abs(ref)


def test_radial_hydrogen_energy():
    res = minimise_energy(radial_model(1.0, 120, 20.0, b=0.0))
    assert abs(res.energy - (-0.25)) <= HYDROGEN_ABS_TOL
    assert abs(res.weights.sum() - 1.0) <= MASS_TOL


def test_radial_two_electron_ion_brackets():
    res = minimise_energy(radial_model(1.0, 50, 20.0))
    assert res.status == Status.OPTIMAL
    # SCE repulsion raises the energy above two independent electrons, stays below zero
    assert -0.25 < res.energy < 0.0
    assert res.bounds["prop22_lower"] <= res.transport <= res.bounds["prop21_upper"]


def test_g_b_is_linear_below_one_half_and_strictly_above_beyond():
    e1 = g_b(1.0, 1.0, b=0.0, n_points=41).energy        # b = 0: one-electron energy E_1
    for alpha in (0.25, 0.5):
        assert g_b(1.0, alpha, n_points=41).energy == pytest.approx(alpha * e1, rel=1e-6)
    for alpha in (0.75, 1.0):
        assert g_b(1.0, alpha, n_points=41).energy > alpha * e1 + 1e-3


def test_limit_equal_charges_one_half_each():
    lim = limit_fractions([1.0, 1.0], n_points=41)
    assert lim.status == Status.OPTIMAL
    assert np.allclose(lim.fractions, 0.5, atol=SYMMETRY_TOL)
    # Remark 5.11: the H2 limit energy is that of two separate one-electron atoms, F = E_1
    e1 = g_b(1.0, 1.0, b=0.0, n_points=41).energy
    assert lim.energy == pytest.approx(e1, rel=1e-6)


def test_limit_h2_radial_is_twice_hydrogen():
    """Remark 5.11 in 3D: 4 g_b(1, 1/2) = 2 * (-1/4) (paper's units, N F = 2 F per the remark)."""
    lim = limit_fractions([1.0, 1.0], geometry="radial", n_points=60, extent=20.0)
    assert np.allclose(lim.fractions, 0.5, atol=SYMMETRY_TOL)
    assert abs(2.0 * lim.energy - 2.0 * (-0.25)) <= 2.0 * HYDROGEN_COARSE_ABS_TOL


def test_limit_unequal_charges_matches_separate_g_b():
    Z1, Z2 = 1.0, 0.6
    lim = limit_fractions([Z1, Z2], n_points=41)
    assert lim.status == Status.OPTIMAL
    a = lim.fractions[0]
    assert 0.5 < a < 1.0 and lim.fractions.sum() == pytest.approx(1.0, abs=MASS_TOL)
    # the joint optimum is below every pair of separately computed g_b values (convexity: a minimum)
    sep = g_b(Z1, a, n_points=41).energy + g_b(Z2, 1.0 - a, n_points=41).energy
    assert lim.energy == pytest.approx(sep, abs=LIMIT_TOL)
    for alpha in (0.5, 0.75, 0.95):
        other = g_b(Z1, alpha, n_points=41).energy + g_b(Z2, 1.0 - alpha, n_points=41).energy
        assert lim.energy <= other + LIMIT_TOL


def test_electron_fractions_cells():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    w = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    assert electron_fractions(x, w, [-1.0, 1.0]) == pytest.approx([0.5, 0.5])
    assert electron_fractions(x, w, [-2.0, 0.5]) == pytest.approx([0.3, 0.7])


def test_scan_distances_and_eps_agree():
    by_r = scan_distances([1.0, 1.0], [2.0, 4.0], n_points=31, progress=False)
    by_eps = scan_eps([1.0, 1.0], [0.5, 0.25], separation=1.0, n_points=31, progress=False)
    for (_, a), (_, b) in zip(by_r, by_eps):
        assert a.energy == pytest.approx(b.energy, rel=1e-9)
        assert np.allclose(a.fractions, 0.5, atol=SYMMETRY_TOL)


def test_cli_dissociate_json(capsys):
    code = main(["dissociate", "--charges", "1,1", "--distances", "1,2,4,8", "--points", "31", "--json",
                 "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["distance"] for r in out["scan"]] == [1.0, 2.0, 4.0, 8.0]
    for r in out["scan"]:
        assert r["status"] == "optimal"
        assert r["energy"] == pytest.approx(r["eps"] * r["kinetic"] + r["b"] * r["transport"] - r["attraction"])
        assert r["fractions"] == pytest.approx([0.5, 0.5], abs=SYMMETRY_TOL)
        assert r["electrons"] == pytest.approx([1.0, 1.0], abs=2 * SYMMETRY_TOL)
        assert r["prop22_lower"] <= r["transport"] <= r["prop21_upper"]


@pytest.mark.parametrize("argv,needle", [
    (["--charges", "1,x"], "--charges"), (["--charges", "1"], "two nuclei"), (["--charges", "1,-1"], "positive"),
    (["--distances", "1,,a"], "--distances"), (["--electrons", "1"], "--electrons"),
])
def test_cli_bad_input_exit_2(capsys, argv, needle):
    code = main(["dissociate", *argv, "--points", "21", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


#: Finite-R fraction vs the R -> infinity limit at R = 32 (soft-Coulomb tails decay like 1/R).
LIMIT_FRACTION_TOL = 0.025


def test_unequal_charges_fraction_approaches_the_limit():
    lim = limit_fractions([1.0, 0.6], spacing=0.8)
    (_, near), (_, far) = scan_distances([1.0, 0.6], [8.0, 32.0], spacing=0.8, progress=False)
    assert near.status == Status.OPTIMAL and far.status == Status.OPTIMAL
    assert abs(far.fractions[0] - lim.fractions[0]) < abs(near.fractions[0] - lim.fractions[0])
    assert abs(far.fractions[0] - lim.fractions[0]) <= LIMIT_FRACTION_TOL
    assert far.fractions[0] > 0.5                          # the stronger nucleus holds more than one electron


def test_three_electrons_three_nuclei_valid_and_mirror_symmetric():
    res = minimise_energy(line_model([1.0, 1.0, 1.0], [-2.0, 0.0, 2.0], 21, n_electrons=3, margin=5.0))
    assert res.status == Status.OPTIMAL
    assert np.all(res.weights >= 0.0) and abs(res.weights.sum() - 1.0) <= MASS_TOL
    assert abs(res.fractions[0] - res.fractions[2]) <= SYMMETRY_TOL
    assert res.electrons.sum() == pytest.approx(3.0, abs=3 * MASS_TOL)
    assert res.bounds["prop22_lower"] <= res.transport <= res.bounds["prop21_upper"]


def test_radial_model_is_for_two_electrons():
    from mmot_models.errors import MMOTInputError

    with pytest.raises(MMOTInputError, match="N = 2"):
        radial_model(1.0, 20, 10.0, n_electrons=3)


def test_cli_spacing_and_limit(capsys):
    code = main(["dissociate", "--charges", "1,0.6", "--distances", "16", "--spacing", "0.8", "--limit", "--json",
                 "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    lim = out["limit"]
    assert lim["status"] == "optimal" and sum(lim["electrons"]) == pytest.approx(2.0, abs=1e-6)
    assert lim["electrons"][0] > 1.0                      # the stronger nucleus keeps a fractional surplus
    assert out["scan"][0]["electrons"][0] > 1.0


#: Clarabel (interior point) vs SCS (first-order, eps 1e-7) on the same energy program.
SOLVER_AGREEMENT_TOL = 1e-6


def test_clarabel_and_scs_agree_on_the_energy():
    model = line_model([1.0, 1.0], [-1.0, 1.0], 31)
    a = minimise_energy(model)
    b = minimise_energy(model, solver="SCS")
    assert a.status == Status.OPTIMAL and b.status == Status.OPTIMAL
    assert abs(a.energy - b.energy) <= SOLVER_AGREEMENT_TOL
    assert np.max(np.abs(a.weights - b.weights)) <= 1e-4


def test_remark_5_10_transition_radial():
    """3D radial, exact Coulomb.  Remark 5.10: if g_b(Z1, 1) > (E_1(Z1) + E_1(Z2)) / 2 the limit split
    is fractional (alpha < 1); for a weak second nucleus both electrons sit on the first (alpha = 1)."""
    kw = dict(geometry="radial", n_points=40, extent=20.0)
    e1 = {z: g_b(z, 1.0, b=0.0, **kw).energy for z in (1.0, 0.8)}   # one-electron energies (b = 0)
    g11 = g_b(1.0, 1.0, **kw).energy
    assert g11 > (e1[1.0] + e1[0.8]) / 2                            # the paper's sufficient condition holds
    frac = limit_fractions([1.0, 0.8], **kw).fractions[0]
    assert 0.5 < frac < 1.0
    assert limit_fractions([1.0, 0.3], **kw).fractions[0] >= 1.0 - 1e-4


@pytest.mark.slow
def test_fraction_converges_to_the_limit_at_large_distance():
    lim = limit_fractions([1.0, 0.6], spacing=0.4)
    (_, far), = scan_distances([1.0, 0.6], [64.0], spacing=0.4, progress=False)
    assert abs(far.fractions[0] - lim.fractions[0]) <= 5e-3
    assert abs(far.energy - lim.energy) <= 0.01                    # soft-Coulomb tails ~ 1/R
