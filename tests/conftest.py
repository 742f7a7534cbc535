"""Shared fixtures: small random problems (seeded) for the formulation and backend tests."""
from __future__ import annotations

import numpy as np
import pytest

import mmot_models as mm


def random_marginal(rng: np.random.Generator, l: int, d: int = 1, zero_frac: float = 0.0) -> mm.Marginal:
    pts = rng.uniform(-2.0, 2.0, size=(l, d))
    w = rng.uniform(0.2, 1.0, size=l)
    if zero_frac > 0:
        w[rng.uniform(size=l) < zero_frac] = 0.0
        w[0] = max(w[0], 0.5)
    return mm.Marginal(pts, w, normalize=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
