"""Conformance: every formulation x backend x block runs the same certificate checks (:mod:`.checker`).

The table (:mod:`.instances`): ``soft_gauss3`` carries the full formulation x block grid;
``coulomb_uniform3`` (co-motion closed form) and ``pot_pair`` (``ot.emd2``, exact rational
simplex) run every formulation that applies without blocks.  A combination that does not apply
must raise :class:`~mmot_models.MMOTInputError`.
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import pytest

import mmot_models as mm
from tests.exact_simplex import exact_lp_min

from .checker import AGREE_TOL, check_solution
from .instances import (BLOCKS, add_block, build_reference, coulomb_uniform3, dense_optimum, direction_of, model_of,
                        pot_pair, soft_gauss3, soft_gauss4)

BACKENDS = ("highs", "pyomo", "cvxpy")
FORMULATIONS = ("primal", "symmetric", "krep_lo", "krep_hi", "moments")


@functools.lru_cache(maxsize=None)
def instance(name: str):
    return {"soft_gauss3": soft_gauss3, "soft_gauss4": soft_gauss4, "coulomb_uniform3": coulomb_uniform3,
            "pot_pair": pot_pair}[name]()


@functools.lru_cache(maxsize=None)
def reference(name: str, formulation: str, block: str):
    """(reference LP, its linprog optimum, the exact MMOT value with the same rows)."""
    inst = instance(name)
    ref = build_reference(inst, formulation, [block])
    value = dense_optimum(ref)
    if block in ("none", "cuts", "moment"):   # cuts hold for N-body plans; moment rows are implied by marginals
        exact = inst.exact
    else:
        exact = dense_optimum(build_reference(inst, "primal", [block]))
    return ref, value, exact


@functools.lru_cache(maxsize=None)
def solved(name: str, formulation: str, block: str, backend: str):
    inst = instance(name)
    m = model_of(inst, formulation)
    add_block(m, inst, block)
    return m, m.solve(backend=backend)


def _grid():
    for form in FORMULATIONS:
        for block, spec in BLOCKS.items():
            if form in spec.formulations:
                yield form, block


GRID = list(_grid())
#: The block grid runs on soft_gauss3 by default; the N = 4 instance (625 tuples) is slow.
GRID_INSTANCES = ["soft_gauss3", pytest.param("soft_gauss4", marks=pytest.mark.slow)]
OTHER = [(name, form) for name in ("coulomb_uniform3", "pot_pair") for form in FORMULATIONS
         if form in instance(name).formulations]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("formulation, block", GRID)
@pytest.mark.parametrize("name", GRID_INSTANCES)
def test_certificate_on_the_block_grid(name, formulation, block, backend):
    inst = instance(name)
    ref, value, exact = reference(inst.name, formulation, block)
    m, sol = solved(inst.name, formulation, block, backend)
    check_solution(m, sol, ref, ref_value=value, exact=exact, direction=direction_of(inst, formulation))


@pytest.mark.parametrize("formulation, block", GRID)
@pytest.mark.parametrize("name", GRID_INSTANCES)
def test_backends_agree(name, formulation, block):
    sols = [solved(name, formulation, block, b)[1] for b in BACKENDS]
    for key in ("value", "lower_bound", "upper_bound"):
        vals = np.array([getattr(s, key) for s in sols])
        fin = np.isfinite(vals)
        assert fin.all() or (~fin).all(), (key, vals)       # the same side is certified everywhere
        if fin.all():
            assert vals.max() - vals.min() <= AGREE_TOL, (key, vals)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, formulation", OTHER)
def test_certificate_on_reference_instances(name, formulation, backend):
    inst = instance(name)
    ref, value, exact = reference(name, formulation, "none")
    m, sol = solved(name, formulation, "none", backend)
    check_solution(m, sol, ref, ref_value=value, exact=exact, direction=direction_of(inst, formulation))


REFUSED = [(f, b) for f in FORMULATIONS for b, spec in BLOCKS.items() if f not in spec.formulations]


@pytest.mark.parametrize("formulation, block", REFUSED)
def test_blocks_that_do_not_apply_are_refused(formulation, block):
    inst = instance("soft_gauss3")
    m = model_of(inst, formulation)
    with pytest.raises(mm.MMOTInputError, match="formulation|satisfies"):
        add_block(m, inst, block)


@pytest.mark.parametrize("formulation", ["symmetric", "krep_lo", "krep_hi"])
def test_formulations_that_do_not_apply_are_refused(formulation):
    with pytest.raises(mm.MMOTInputError, match="formulation='primal'"):
        model_of(instance("pot_pair"), formulation)


def test_table_references_agree_with_each_other():
    """The table's exact values: linprog on the enumerated tuples = the independent reference."""
    for name in ("coulomb_uniform3", "pot_pair"):
        inst = instance(name)
        assert abs(dense_optimum(build_reference(inst, "primal", [])) - inst.exact) <= AGREE_TOL, name
    # pot_pair: the exact rational simplex on the exact rationals of the float data
    inst = instance("pot_pair")
    ref = build_reference(inst, "primal", [])
    exact = exact_lp_min([Fraction(v) for v in ref.c], [[Fraction(v) for v in row] for row in ref.A],
                         [Fraction(v) for v in ref.lo])
    assert abs(float(exact) - inst.exact) <= 1e-12
    # co-motion: the cyclic quantile plan of the package's reference module has the same cost
    from mmot_models.physics.reference import cyclic_quantile_plan
    cu = instance("coulomb_uniform3")
    idx, w = cyclic_quantile_plan(cu.weights[0], 3)
    assert abs(float(cu.problem.tuple_costs(idx) @ w) - cu.exact) <= 1e-12


def test_blocks_of_the_grid_bind_or_are_implied():
    """The user row and the occupation bound change the exact optimum (else they test nothing);
    moment rows are implied by the marginals; the relaxations are strict on this instance."""
    inst = instance("soft_gauss3")
    free = inst.exact
    assert reference(inst.name, "primal", "user")[1] > free + 1e-4
    assert reference(inst.name, "primal", "occupation")[1] > free + 1e-4
    assert abs(reference(inst.name, "primal", "moment")[1] - free) <= AGREE_TOL
    lo = reference(inst.name, "krep_lo", "none")[1]
    cut = reference(inst.name, "krep_lo", "cuts")[1]
    hi = reference(inst.name, "krep_hi", "none")[1]
    mom = reference(inst.name, "moments", "moment")[1]
    assert lo < free - 1e-4 and hi > free + 1e-4 and mom < free - 1e-4
    assert lo - AGREE_TOL <= cut <= free + AGREE_TOL


def test_an_unfinished_relaxation_keeps_its_direction():
    """An iteration-limited krep model reports only the side it certifies, never the exact side."""
    inst = instance("soft_gauss3")
    stop = {"simplex_iteration_limit": 1, "presolve": "off"}
    lo = model_of(inst, "krep_lo").solve(backend="highs", solver_options=stop)
    assert lo.status == mm.Status.ITERATION_LIMIT and lo.bound == mm.Bound.LOWER
    assert lo.upper_bound == math.inf and lo.value == lo.lower_bound <= inst.exact
    hi = model_of(inst, "krep_hi").solve(backend="highs", solver_options=stop)
    assert hi.status == mm.Status.ITERATION_LIMIT and hi.bound == mm.Bound.UPPER
    assert hi.lower_bound == -math.inf and hi.upper_bound == math.inf and math.isnan(hi.value)


@pytest.mark.parametrize("tamper", ["dual", "plan", "direction", "value", "block_dual"])
def test_the_checker_fails_on_a_tampered_solution(tamper):
    """The checker is not vacuous: each kind of corrupted answer is caught."""
    import dataclasses

    inst = instance("soft_gauss3")
    form, block = ("krep_hi", "user") if tamper == "direction" else ("primal", "user")
    ref, value, exact = reference(inst.name, form, block)
    m, sol = solved(inst.name, form, block, "highs")
    check_solution(m, sol, ref, ref_value=value, exact=exact, direction=direction_of(inst, form))
    info = dict(sol.info)
    duals = {k: np.array(v, dtype=float) for k, v in info["row_duals"].items()}
    direction = direction_of(inst, form)
    if tamper == "dual":
        duals["marginal"][0] += 1e-3
    elif tamper == "block_dual":
        duals["user"][0] = 0.0          # the binding user row's dual dropped: as before the modelling layer
    info["row_duals"] = duals
    changes: dict = {"info": info}
    if tamper == "plan":
        w = np.array(sol.plan_weights)
        w[0] *= 1.5
        changes["plan_weights"] = w
    elif tamper == "direction":
        direction = mm.Bound.LOWER      # krep with k > N claimed a lower bound
    elif tamper == "value":
        changes["value"] = sol.value + 1e-5
        changes["primal_value"] = sol.primal_value + 1e-5
    bad = dataclasses.replace(sol, **changes)
    with pytest.raises(AssertionError):
        check_solution(m, bad, ref, ref_value=value, exact=exact, direction=direction)
