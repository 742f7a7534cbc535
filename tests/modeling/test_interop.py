"""POT-style entry points against POT itself and the dense linprog reference."""
from __future__ import annotations

import itertools

import numpy as np
import ot
import pytest
from scipy.optimize import linprog

import mmot_models as mm

AGREE_TOL = 1e-9


def test_from_pot_matches_emd():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 1, 5); a /= a.sum()
    b = rng.uniform(0.1, 1, 7); b /= b.sum()
    M = rng.uniform(0, 3, (5, 7))
    prob = mm.from_pot(a, b, M)
    sol = mm.Model(prob, formulation="primal").solve()
    assert sol.status == mm.Status.OPTIMAL
    assert abs(sol.value - ot.emd2(a, b, M)) <= AGREE_TOL
    assert np.abs(mm.to_dense_plan(sol) - ot.emd(a, b, M)).max() <= AGREE_TOL  # generic M: unique plan


def test_from_cost_tensor_n3_against_linprog():
    rng = np.random.default_rng(4)
    sizes = (3, 4, 2)
    ws = [rng.uniform(0.1, 1, s) for s in sizes]
    ws = [w / w.sum() for w in ws]
    C = rng.uniform(0, 2, sizes)
    C[0, 0, 0] = np.inf                       # a forbidden tuple
    sol = mm.Model(mm.from_cost_tensor(ws, C), formulation="primal").solve(backend="cvxpy")
    tuples = [t for t in itertools.product(*map(range, sizes)) if np.isfinite(C[t])]
    A = [[1.0 if t[k] == s else 0.0 for t in tuples] for k in range(3) for s in range(sizes[k])]
    ref = linprog([C[t] for t in tuples], A_eq=A, b_eq=np.concatenate(ws), bounds=(0, None), method="highs").fun
    assert sol.status == mm.Status.OPTIMAL and abs(sol.value - ref) <= AGREE_TOL
    assert np.max(sol.marginal_error) <= 1e-9


def test_symmetric_tensor_uses_symmetric_formulation():
    rng = np.random.default_rng(5)
    l = 5
    B = rng.uniform(0, 1, (l, l, l))
    idx = np.sort(np.stack(np.meshgrid(*[np.arange(l)] * 3, indexing="ij"), axis=-1), axis=-1)
    C = B[idx[..., 0], idx[..., 1], idx[..., 2]]          # C[t] = B[sorted t]: exactly symmetric
    w = rng.uniform(0.2, 1, l); w /= w.sum()
    prob = mm.from_cost_tensor([w, w, w], C)
    assert prob.is_symmetric
    vs = mm.Model(prob, formulation="symmetric").solve().value
    vp = mm.Model(prob, formulation="primal").solve().value
    assert abs(vs - vp) <= AGREE_TOL


def test_bad_pot_input():
    with pytest.raises(mm.MMOTInputError, match="shape"):
        mm.from_pot([0.5, 0.5], [1.0], np.ones((3, 1)))
    with pytest.raises(mm.MMOTInputError, match="NaN"):
        mm.from_pot([0.5, 0.5], [1.0], np.array([[np.nan], [1.0]]))
