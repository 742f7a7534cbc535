"""Problem files: JSON and NPZ round trips and unreadable files."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mmot_models as mm

TOL = 1e-14


def _same(p: mm.MMOTProblem, q: mm.MMOTProblem) -> bool:
    return (p.n_marginals == q.n_marginals and p.cost == q.cost and p.is_symmetric == q.is_symmetric
            and all(np.allclose(a.points, b.points, atol=TOL) and np.allclose(a.weights, b.weights, atol=TOL)
                    for a, b in zip(p.marginals, q.marginals)))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_round_trip_symmetric_and_general(tmp_path, suffix):
    sym = mm.MMOTProblem.symmetric(mm.gaussian(mm.box([0, 0], [1, 1], [3, 3])), 3, mm.SoftCoulomb(0.2))
    gen = mm.MMOTProblem((mm.uniform([0.0, 1.0]), mm.Marginal([0.0, 2.0, 3.0], [0.2, 0.3, 0.5])), "power")
    for prob in (sym, gen):
        path = tmp_path / f"p{suffix}"
        mm.save_problem(prob, path)
        assert _same(mm.load_problem(path), prob)


def test_json_layouts(tmp_path):
    path = tmp_path / "flat.json"
    path.write_text(json.dumps({"points": [0, 1, 2, 3], "weights": [0.25] * 4, "n_marginals": 2,
                                "cost": {"kind": "soft_coulomb", "a": 0.5}}))
    p = mm.load_problem(path)
    assert p.dim == 1 and p.is_symmetric and p.cost == mm.SoftCoulomb(0.5)


@pytest.mark.parametrize("content, pattern", [
    ("{not json", "not valid JSON"),
    ('{"points": [0, 1], "weights": [0.5, 0.5], "cost": "coulomb"}', "n_marginals"),
    ('{"points": [0, 1], "weights": [0.5, 0.5], "n_marginals": 2}', "cost"),
    ('{"points": [0, 1], "weights": [0.5], "n_marginals": 2, "cost": "coulomb"}', "2 points"),
    ('{"points": [0, 1], "weights": [0.5, 0.5], "n_marginals": 1.5, "cost": "coulomb"}', "integer"),
    ('[1, 2]', "top level"),
])
def test_bad_json(tmp_path, content, pattern):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(mm.MMOTInputError, match=pattern):
        mm.load_problem(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(mm.MMOTInputError, match="no such file"):
        mm.load_problem(tmp_path / "missing.json")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(mm.MMOTInputError, match="npz"):
        mm.load_problem(bad)
    other = tmp_path / "p.txt"
    other.write_text("x")
    with pytest.raises(mm.MMOTInputError, match="extension"):
        mm.load_problem(other)
