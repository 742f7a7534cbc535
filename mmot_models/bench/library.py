"""A library of named, certified MMOT instances.

Each :class:`Instance` is a problem specification (:mod:`mmot_models.studies.problems`: density,
grid, N, cost, seed) plus the exact method that certifies it.  Small instances ship with their
certificate in ``mmot_models/bench/data/<name>.npz`` (compressed): the problem's points and
weights, the certified value and bracket, a sparse optimal plan (index tuples and weights) and the
dual potential.  Larger instances (``shipped=False``) are generated from their seed and certified
when ``mmot bench verify --generated`` runs.

Every certificate is checked by the independent verifier (:func:`mmot_models.verify`), never by
re-solving: ``mmot bench verify``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem

__all__ = ["Instance", "Certificate", "INSTANCES", "instance_names", "get_instance", "load_certificate",
           "DATA_DIR", "CERT_GAP_TOL"]

#: Relative gap a shipped certificate must close (verified bracket width / max(1, |value|)).
CERT_GAP_TOL = 1e-7
#: Where the shipped certificates live.
DATA_DIR = Path(str(resources.files(__package__).joinpath("data")))


@dataclass(frozen=True)
class Instance:
    """A named problem of the library: its specification and the exact method that certifies it."""

    name: str
    spec: dict[str, Any]
    method: str = "symmetric"
    shipped: bool = True
    note: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def problem(self) -> MMOTProblem:
        """The problem (from the shipped data when there is a certificate, else generated from the spec)."""
        if self.shipped and (DATA_DIR / f"{self.name}.npz").exists():
            return load_certificate(self.name).problem
        return self.generate()

    def generate(self) -> MMOTProblem:
        """The problem generated from the specification (seeded, reproducible)."""
        from ..studies.problems import build_problem
        p = build_problem(self.spec, where=f"instance {self.name}")
        return MMOTProblem.symmetric(p.marginals[0], p.n_marginals, p.cost, name=self.name)

    def describe(self) -> dict[str, Any]:
        s = {**self.spec}
        return {"name": self.name, "method": self.method, "shipped": self.shipped, **s, "note": self.note}


@dataclass(frozen=True)
class Certificate:
    """A shipped certificate: the problem, the certified value and bracket, a sparse plan, potentials."""

    name: str
    problem: MMOTProblem
    value: float
    lower_bound: float
    upper_bound: float
    plan_indices: np.ndarray
    plan_weights: np.ndarray
    potential: np.ndarray
    method: str
    problem_hash: str
    meta: dict[str, Any]


def _inst(name: str, method: str = "symmetric", shipped: bool = True, note: str = "", **spec: Any) -> Instance:
    return Instance(name, spec, method, shipped, note)


#: The library (at least 30 instances; 1D/2D/3D; uniform/Gaussian/random/atomic; N = 2..30;
#: Coulomb, soft Coulomb, power costs).
INSTANCES: tuple[Instance, ...] = (
    # 1D Coulomb
    _inst("uniform-1d-l20-N2", density="uniform", n_points=20, n_marginals=2),
    _inst("uniform-1d-l20-N3", density="uniform", n_points=20, n_marginals=3),
    _inst("uniform-1d-l24-N4", density="uniform", n_points=24, n_marginals=4),
    _inst("gaussian-1d-l24-N2", density="gaussian", n_points=24, n_marginals=2),
    _inst("gaussian-1d-l24-N3", density="gaussian", n_points=24, n_marginals=3),
    _inst("gaussian-1d-l30-N4", density="gaussian", n_points=30, n_marginals=4, domain=[-5.0, 5.0], width=1.5),
    _inst("gaussian-1d-l24-N5", density="gaussian", n_points=24, n_marginals=5, domain=[-5.0, 5.0], width=2.0),
    _inst("random-1d-l20-N3", density="random", n_points=20, n_marginals=3, seed=1),
    _inst("random-1d-l24-N4", density="random", n_points=24, n_marginals=4, seed=2),
    _inst("atomic-1d-l10-N2", density="atomic", n_points=10, n_marginals=2, seed=3),
    _inst("atomic-1d-l14-N3", density="atomic", n_points=14, n_marginals=3, seed=4),
    # 1D many electrons (distinct-site multisets)
    _inst("uniform-1d-l12-N6", density="uniform", n_points=12, n_marginals=6),
    _inst("gaussian-1d-l14-N8", density="gaussian", n_points=14, n_marginals=8, domain=[-6.0, 6.0], width=3.0),
    _inst("uniform-1d-l16-N10", density="uniform", n_points=16, n_marginals=10),
    _inst("uniform-1d-l24-N20", density="uniform", n_points=24, n_marginals=20, domain=[0.0, 20.0]),
    _inst("uniform-1d-l33-N30", method="complement-lp", density="uniform", n_points=33, n_marginals=30,
          domain=[0.0, 30.0], note="exact multiset LP over complements (python -m mmot_models.bench.generate)"),
    _inst("uniform-1d-l28-N25", method="complement-lp", density="uniform", n_points=28, n_marginals=25,
          domain=[0.0, 25.0], note="exact multiset LP over complements"),
    # 1D soft Coulomb and power costs
    _inst("gaussian-1d-l30-N3-soft0.5", density="gaussian", n_points=30, n_marginals=3, cost="soft_coulomb",
          cost_a=0.5),
    _inst("uniform-1d-l16-N4-soft1", density="uniform", n_points=16, n_marginals=4, cost="soft_coulomb", cost_a=1.0),
    _inst("random-1d-l20-N3-soft0.2", density="random", n_points=20, n_marginals=3, cost="soft_coulomb", cost_a=0.2,
          seed=5),
    _inst("gaussian-1d-l20-N2-power2", density="gaussian", n_points=20, n_marginals=2, cost="power", cost_p=2.0),
    _inst("gaussian-1d-l20-N3-power2", density="gaussian", n_points=20, n_marginals=3, cost="power", cost_p=2.0),
    _inst("random-1d-l16-N3-power1", density="random", n_points=16, n_marginals=3, cost="power", cost_p=1.0, seed=6),
    # 2D
    _inst("uniform-2d-5x5-N2", density="uniform", dim=2, n_points=5, n_marginals=2),
    _inst("uniform-2d-5x5-N3", density="uniform", dim=2, n_points=5, n_marginals=3),
    _inst("gaussian-2d-6x6-N3", density="gaussian", dim=2, n_points=6, n_marginals=3),
    _inst("random-2d-4x4-N4-soft0.5", density="random", dim=2, n_points=4, n_marginals=4, cost="soft_coulomb",
          cost_a=0.5, seed=7),
    _inst("atomic-2d-12-N3", density="atomic", dim=2, n_points=12, n_marginals=3, seed=8),
    _inst("gaussian-2d-5x5-N2-power2", density="gaussian", dim=2, n_points=5, n_marginals=2, cost="power",
          cost_p=2.0),
    # 3D
    _inst("uniform-3d-3x3x3-N2", density="uniform", dim=3, n_points=3, n_marginals=2),
    _inst("uniform-3d-3x3x3-N3", density="uniform", dim=3, n_points=3, n_marginals=3),
    _inst("gaussian-3d-3x3x3-N4-soft0.5", density="gaussian", dim=3, n_points=3, n_marginals=4,
          cost="soft_coulomb", cost_a=0.5),
    _inst("atomic-3d-10-N2", density="atomic", dim=3, n_points=10, n_marginals=2, seed=9),
    _inst("random-3d-3x3x3-N3-power1", density="random", dim=3, n_points=3, n_marginals=3, cost="power", cost_p=1.0,
          seed=10),
    # generated from the seed, certified when `mmot bench verify --generated` runs
    _inst("gaussian-1d-l120-N3", method="colgen", shipped=False, density="gaussian", n_points=120, n_marginals=3,
          domain=[-5.0, 5.0], note="generated; certified by colgen at verify time"),
    _inst("gaussian-2d-12x12-N2", method="colgen", shipped=False, density="gaussian", dim=2, n_points=12,
          n_marginals=2, note="generated; certified by colgen at verify time"),
)
_BY_NAME = {i.name: i for i in INSTANCES}


def instance_names(shipped: bool | None = None) -> list[str]:
    """Names of the instances (only shipped or only generated ones when ``shipped`` is given)."""
    return [i.name for i in INSTANCES if shipped is None or i.shipped == shipped]


def get_instance(name: str) -> Instance:
    """The instance called ``name`` (:class:`~mmot_models.errors.MMOTInputError` naming close ones if unknown)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        from ..options import suggest
        raise MMOTInputError(f"unknown instance {name!r};{suggest(name, _BY_NAME)} `mmot bench list` shows all "
                             f"{len(_BY_NAME)}") from None


def load_certificate(name: str, path: str | Path | None = None) -> Certificate:
    """Read the shipped certificate of instance ``name`` (or the NPZ at ``path``)."""
    p = Path(path) if path is not None else DATA_DIR / f"{name}.npz"
    if not p.exists():
        raise MMOTInputError(f"instance {name!r} has no shipped certificate ({p.name}); it is generated: use "
                             "`mmot bench verify --generated`")
    with np.load(p, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        marg = Marginal(z["points"], z["weights"])
        problem = MMOTProblem.symmetric(marg, int(meta["n_marginals"]), meta["cost"], name=name)
        return Certificate(name=name, problem=problem, value=float(z["value"]), lower_bound=float(z["lower_bound"]),
                           upper_bound=float(z["upper_bound"]), plan_indices=z["plan_indices"].astype(np.int64),
                           plan_weights=z["plan_weights"].astype(float), potential=z["potential"].astype(float),
                           method=str(meta["method"]), problem_hash=str(meta["problem_hash"]), meta=meta)


def save_certificate(name: str, problem: MMOTProblem, sol: Any, path: str | Path) -> Path:
    """Write a certificate NPZ from an exact solution (used by :mod:`mmot_models.bench.generate`)."""
    from ..studies.problems import problem_hash

    if not sol.status.ok or not math.isfinite(sol.gap):
        raise MMOTInputError(f"{name}: the solution is not certified ({sol.status.value}, gap {sol.gap})")
    pots = np.stack([np.asarray(q, dtype=float) for q in sol.potentials])
    keep = sol.plan_weights > 0
    idx = sol.plan_indices[keep]
    # the hash of the problem exactly as load_certificate rebuilds it
    reloaded = MMOTProblem.symmetric(Marginal(problem.marginals[0].points, problem.marginals[0].weights),
                                     problem.n_marginals, problem.cost.to_dict(), name=name)
    meta = {"n_marginals": problem.n_marginals, "cost": problem.cost.to_dict(), "method": sol.method,
            "problem_hash": problem_hash(reloaded), "wall_time_s": sol.wall_time_s}
    p = Path(path)
    np.savez_compressed(p, meta=json.dumps(meta), points=problem.marginals[0].points,
                        weights=problem.marginals[0].weights, value=sol.value, lower_bound=sol.lower_bound,
                        upper_bound=sol.upper_bound, plan_indices=idx.astype(np.int16 if idx.max() < 2**15 else np.int32),
                        plan_weights=sol.plan_weights[keep], potential=pots.mean(axis=0))
    return p
