"""Atomic densities (normalisation, shipped data without PySCF), SCE energies of atoms,
Kantorovich potentials and the ``mmot atom`` command."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from scipy.integrate import quad

from mmot_models import cli
from mmot_models.physics import densities as dens
from mmot_models.physics.atoms import PUBLISHED_SGS, kantorovich_potential
from mmot_models.studies.atoms import sce_energy
from mmot_models.physics.densities import (bohr_atom, clementi_raimondi, hydrogen_like, load_atomic_density,
                                           shipped_atoms, slater_density)
from mmot_models.physics.radial import sgs_grid_plan, sgs_value

CHARGE_TOL = 1e-8            # our own charge (Gauss-Legendre table / closed form)
QUAD_CHARGE_TOL = 1e-6       # scipy.integrate.quad of 4 pi r^2 rho (independent, relative)
BOHR_REF = 0.339180
CLI_BOHR_TOL = 1e-4          # default CLI grid (200 equal-mass points): discretisation 5.4e-5
HF_ENERGY_TOL = 5e-3         # shipped HF energies vs numerical HF limit (basis error, hartree)
TAIL_TOL = 0.01              # -r^2 u'(r) vs N - 1 at large r (relative)
PUBLISHED_TOL = 5e-4         # HF-density values vs published SGS from correlated densities (He: 2.1e-4), relative
LP_DUAL_POT_TOL = 2e-3       # LP dual potential vs co-motion potential where the mass is >= 1e-4


def _quad_charge(d) -> float:
    f = lambda r: 4 * math.pi * r * r * float(d(np.array([r]))[0])  # noqa: E731
    pts = [0.0, 0.01, 0.1, 1.0, 5.0, d.r_max]
    return sum(quad(f, a, b, limit=200)[0] for a, b in zip(pts[:-1], pts[1:]) if b > a)


@pytest.mark.parametrize("density", [
    bohr_atom(2), bohr_atom(3), bohr_atom(4), bohr_atom(10), bohr_atom(3, Z=3.0), hydrogen_like(1, Z=2.0),
    clementi_raimondi("He"), clementi_raimondi("Li"), clementi_raimondi("Be"), clementi_raimondi("Ne"),
    slater_density([(1, 1.2, 1), (3, 0.7, 2)]),
], ids=lambda d: d.name)
def test_model_densities_integrate_to_n(density):
    assert abs(density.charge() - density.n_electrons) < CHARGE_TOL * density.n_electrons
    assert abs(_quad_charge(density) - density.n_electrons) < QUAD_CHARGE_TOL * density.n_electrons


@pytest.mark.parametrize("symbol,N", [("He", 2), ("Li", 3), ("Be", 4), ("Ne", 10)])
def test_shipped_hf_densities_integrate_to_n(symbol, N):
    d = load_atomic_density(symbol)
    assert d.n_electrons == N
    assert abs(d.charge() - N) < CHARGE_TOL * N
    assert abs(_quad_charge(d) - N) < QUAD_CHARGE_TOL * N
    assert abs(d.meta["energy_hartree"] - d.meta["hf_limit_hartree"]) < HF_ENERGY_TOL
    assert abs(d.meta["interpolation_charge_correction"]) < 1e-6


def test_bohr_atom_closed_form():
    r = np.linspace(0, 5, 11)
    np.testing.assert_allclose(bohr_atom(2)(r), 2 / math.pi * np.exp(-2 * r), rtol=1e-14)
    # hydrogenic shells: 1s^2 2s^1 from Laguerre polynomials vs the textbook 2s orbital
    r2s = (1 / (2 * math.sqrt(2))) * (2 - r) * np.exp(-r / 2)
    np.testing.assert_allclose(bohr_atom(3)(r), (2 * 4 * np.exp(-2 * r) + r2s ** 2) / (4 * math.pi), rtol=1e-12)


def test_shipped_densities_load_without_pyscf(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyscf", None)  # import pyscf now raises ImportError
    dens._shipped.cache_clear()
    try:
        assert set(shipped_atoms()) >= {"He", "Li", "Be", "Ne"}
        he = load_atomic_density("He")
        assert he.n_electrons == 2 and he(np.array([1.0]))[0] > 0
    finally:
        dens._shipped.cache_clear()


def test_unknown_atom_is_bad_input():
    from mmot_models.errors import MMOTInputError
    with pytest.raises(MMOTInputError, match="unknown atom"):
        load_atomic_density("Xx")


# ------------------------------------------------------------------------------------------ energies
def test_he_energy_lp_and_closed_form_against_published():
    sol = sce_energy("He", points=200, grid="graded")
    assert sol.status.ok and sol.gap < 1e-7
    ref = sol.info["comotion_value"]
    assert 0 < sol.value - ref < 2e-5                    # discretisation, second order
    assert abs(ref - PUBLISHED_SGS["He"]) / PUBLISHED_SGS["He"] < PUBLISHED_TOL


def test_be_radial_lp_equals_sgs_grid_plan_and_sgs_value_matches_published():
    sol = sce_energy("Be", points=8, reference=False)
    idx, w = sgs_grid_plan(8, 4)
    sgs_grid = float(sol.problem.tuple_costs(idx) @ w)
    assert sol.status.ok and sol.gap < 1e-7
    assert sol.value <= sgs_grid + 1e-9 and abs(sol.value - sgs_grid) < 1e-8
    v = sgs_value(load_atomic_density("Be"), n_panels=6)
    assert abs(v - PUBLISHED_SGS["Be"]) / PUBLISHED_SGS["Be"] < PUBLISHED_TOL


@pytest.mark.parametrize("symbol", ["He", "Li"])
def test_kantorovich_potential_tail_is_n_minus_one_over_r(symbol):
    d = load_atomic_density(symbol)
    N = d.n_electrons
    r = np.array([20.0, 25.0])
    u, tail = kantorovich_potential(d, r)
    assert np.all(np.abs(tail - (N - 1)) < TAIL_TOL * (N - 1))
    # u(r1) - u(r2) ~ (N-1)(1/r1 - 1/r2)
    assert abs((u[0] - u[1]) / ((N - 1) * (1 / r[0] - 1 / r[1])) - 1) < 0.02


def test_lp_dual_potential_matches_comotion_potential_for_two_electrons():
    sol = sce_energy("He", points=100, grid="graded", reference=False)
    r = sol.problem.marginals[0].points[:, 0]
    w = sol.problem.marginals[0].weights
    u_co, _ = kantorovich_potential(load_atomic_density("He"), r, value=sol.value)
    mask = w >= 1e-4
    assert np.max(np.abs(sol.potentials[0][mask] - u_co[mask])) < LP_DUAL_POT_TOL


def test_variance_lower_bound_closed_form_and_below_energies():
    from mmot_models.physics.atoms import variance_bound
    # hydrogen 1s: <r^2> = 3, so for N=2: 1 * sqrt(1 / (4 * 3))
    assert abs(variance_bound(bohr_atom(2)) - math.sqrt(1 / 12)) < 1e-10
    assert variance_bound(bohr_atom(2)) < BOHR_REF
    sol = sce_energy("Be", method="comotion")
    assert sol.lower_bound == variance_bound(load_atomic_density("Be")) < sol.value
    # the co-motion cost by quadrature has no error bound: an estimate, never a certified upper bound
    assert sol.bound.value == "estimate" and sol.upper_bound == math.inf


# ------------------------------------------------------------------------------------------ CLI
def _run(capsys, argv):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_atom_bohr_json(capsys):
    code, out, _ = _run(capsys, ["atom", "bohr", "--json"])
    assert code == 0
    d = json.loads(out)
    for key in ("value", "lower_bound", "upper_bound", "status"):
        assert key in d
    assert d["status"] == "optimal"
    assert d["lower_bound"] - 1e-12 <= d["value"] <= d["upper_bound"] + 1e-12
    assert abs(d["value"] - BOHR_REF) < CLI_BOHR_TOL


def test_cli_atom_he_json(capsys):
    code, out, _ = _run(capsys, ["atom", "He", "--json", "--points", "60"])
    assert code == 0
    d = json.loads(out)
    assert d["status"] == "optimal" and d["info"]["atom"] == "He" and d["info"]["points"] == 60
    assert d["lower_bound"] - 1e-12 <= d["value"] <= d["upper_bound"] + 1e-12
    assert abs(d["value"] - PUBLISHED_SGS["He"]) < 5e-3


def test_cli_atom_bad_input(capsys):
    code, _, err = _run(capsys, ["atom", "Xe"])
    assert code == 2 and err.startswith("error: unknown atom")
    code, _, err = _run(capsys, ["atom", "He", "--electrons", "3"])
    assert code == 2 and "error:" in err


def test_cli_atom_refuses_huge_radial_lp(capsys):
    code, _, err = _run(capsys, ["atom", "Ne", "--method", "symmetric", "--points", "10"])
    assert code == 2 and "angular minimisations" in err


def test_cli_atom_text_bohr_three_electrons(capsys):
    code, out, _ = _run(capsys, ["atom", "bohr", "--electrons", "3", "--points", "12"])
    assert code == 0
    assert "value" in out and "lower_bound" in out and "upper_bound" in out


# ------------------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_neon_sgs_upper_bound_near_published_value():
    """Ne (N=10): SGS plan with the shipped HF density (32 starts + continuation sweeps, ~8 s)."""
    v = sgs_value(load_atomic_density("Ne"))
    assert abs(v - PUBLISHED_SGS["Ne"]) / PUBLISHED_SGS["Ne"] < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("symbol,L", [("Li", 60), ("Be", 20)])
def test_refined_radial_lp_equals_sgs_grid_plan(symbol, L):
    sol = sce_energy(symbol, points=L, reference=False)
    idx, w = sgs_grid_plan(L, sol.problem.n_marginals)
    sgs_grid = float(sol.problem.tuple_costs(idx) @ w)
    assert sol.status.ok and sol.value <= sgs_grid + 1e-9 and abs(sol.value - sgs_grid) < 1e-8
