"""The conformance table: small instances with known optima, and an independent dense-LP builder.

Nothing here calls the package's LP builders: columns are enumerated with ``itertools``, costs
and row coefficients are computed from the points with Python loops, in the row order the
modelling layer documents (base block, then the blocks in the order they were added, each in
its label order).  The optimum of that LP comes from ``scipy.optimize.linprog`` (a second
solver); the instances' exact MMOT values also come from independent references (``ot.emd2``,
the exact rational simplex of :mod:`tests.exact_simplex`, the 1D co-motion closed form).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import linprog

import mmot_models as mm

#: Soft-Coulomb regularisation of the main instance.
SOFT_A = 0.5
#: Pairs closer than this count as "close" in the user row.
CLOSE = 0.9
#: Cells of the hat family of the moment block (CELLS + 1 hats).
HAT_CELLS = 2


# ----------------------------------------------------------------------------- instances
@dataclass(frozen=True)
class Instance:
    """A problem, its 1D points and pair cost (for the independent builder), and its exact value."""

    name: str
    problem: mm.MMOTProblem
    points: tuple[np.ndarray, ...]                       # 1D sites of each marginal
    weights: tuple[np.ndarray, ...]
    cost: Callable[[tuple[int, ...]], float]            # cost of an index tuple (inf: forbidden)
    pair: Callable[[float, float], float] | None         # pair cost of two points (None: tabulated)
    exact: float                                        # exact MMOT value from an independent reference
    formulations: tuple[str, ...]                       # formulations that apply
    krep_high: int = 0                                  # k > N of the "krep_hi" formulation


def _soft(a: float, b: float) -> float:
    return 1.0 / math.sqrt((a - b) ** 2 + SOFT_A ** 2)


def _coulomb(a: float, b: float) -> float:
    return math.inf if a == b else 1.0 / abs(a - b)


def _pair_tuple_cost(pts: tuple[np.ndarray, ...], pair: Callable[[float, float], float]):
    def cost(t: tuple[int, ...]) -> float:
        xs = [float(pts[k][i]) for k, i in enumerate(t)]
        return math.fsum(pair(xs[i], xs[j]) for i in range(len(xs)) for j in range(i + 1, len(xs)))
    return cost


def soft_gauss(N: int = 3) -> Instance:
    """N (3 or 4), 5 sites, Gaussian weights, soft Coulomb: every formulation and block applies.

    The exact value is the linprog optimum of the enumerated tuple LP (checked against the
    multiset LP by the formulations agreeing)."""
    x = np.linspace(-2.0, 2.0, 5)
    w = np.exp(-0.5 * x ** 2)
    w = w / w.sum()
    prob = mm.MMOTProblem.symmetric(mm.Marginal(x, w), N, mm.SoftCoulomb(SOFT_A))
    pts = (x,) * N
    inst = Instance(f"soft_gauss{N}", prob, pts, (w,) * N, _pair_tuple_cost(pts, _soft), _soft, math.nan,
                    ("primal", "symmetric", "krep_lo", "krep_hi", "moments"), krep_high=N + 1)
    return _with_exact(inst, dense_optimum(build_reference(inst, "primal", [])))


def soft_gauss3() -> Instance:
    return soft_gauss(3)


def soft_gauss4() -> Instance:
    return soft_gauss(4)


def coulomb_uniform3() -> Instance:
    """N = 3 uniform on 6 sites, Coulomb: the co-motion plan ``(i, i+2, i+4 mod 6)`` is optimal (1D closed form)."""
    x = np.linspace(0.0, 1.0, 6)
    w = np.full(6, 1.0 / 6)
    prob = mm.MMOTProblem.symmetric(mm.Marginal(x, w), 3, mm.Coulomb())
    pts = (x, x, x)
    cost = _pair_tuple_cost(pts, _coulomb)
    comotion = math.fsum(cost((i, (i + 2) % 6, (i + 4) % 6)) / 6 for i in range(6))
    return Instance("coulomb_uniform3", prob, pts, (w, w, w), cost, _coulomb, comotion,
                    ("primal", "symmetric", "krep_lo", "krep_hi", "moments"), krep_high=4)


def pot_pair() -> Instance:
    """N = 2 with different marginals and a tabulated cost matrix: ``ot.emd2`` and the exact simplex."""
    import ot

    rng = np.random.default_rng(13)
    a = np.array([0.125, 0.25, 0.375, 0.25])     # dyadic: both sum to exactly 1 (the exact simplex needs it)
    b = np.array([0.5, 0.25, 0.25])
    M = rng.random((4, 3))
    prob = mm.from_pot(a, b, M)
    pts = (np.arange(4.0), np.arange(3.0))
    return Instance("pot_pair", prob, pts, (prob.marginals[0].weights, prob.marginals[1].weights),
                    lambda t: float(M[t[0], t[1]]), None, float(ot.emd2(a, b, M)), ("primal", "moments"))


def _with_exact(inst: Instance, value: float) -> Instance:
    return Instance(inst.name, inst.problem, inst.points, inst.weights, inst.cost, inst.pair, value,
                    inst.formulations, inst.krep_high)


# ----------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class BlockSpec:
    """A block as data: how the model gets it, and its rows from the points (for the reference)."""

    name: str
    formulations: tuple[str, ...]                      # where it applies (elsewhere: MMOTInputError)
    params: dict = field(default_factory=dict)


def close_fraction(xs: list[float]) -> float:
    """Fraction of the pairs of ``xs`` closer than :data:`CLOSE` (a pair-density functional)."""
    pairs = list(itertools.combinations(xs, 2))
    return sum(abs(a - b) < CLOSE for a, b in pairs) / len(pairs)


def close_fraction_points(P: np.ndarray) -> np.ndarray:
    """:func:`close_fraction` of configurations ``P`` (K, n, 1), vectorised, for ``m.plan.expectation``."""
    n = P.shape[1]
    i, j = np.triu_indices(n, 1)
    return (np.abs(P[:, i, 0] - P[:, j, 0]) < CLOSE).mean(axis=1)


def independent_close_fraction(inst: Instance) -> float:
    x, w = inst.points[0], inst.weights[0]
    return float(sum(w[a] * w[b] * (abs(x[a] - x[b]) < CLOSE) for a in range(x.size) for b in range(x.size)))


def hat(x: float, lo: float, hi: float, j: int, cells: int) -> float:
    """Hat function ``j`` of ``cells + 1`` uniform hats on ``[lo, hi]`` (written out here, not imported)."""
    h = (hi - lo) / cells
    return max(0.0, 1.0 - abs(x - (lo + j * h)) / h)


BLOCKS = {
    "none": BlockSpec("none", ("primal", "symmetric", "krep_lo", "krep_hi", "moments")),
    "user": BlockSpec("user", ("primal", "symmetric", "krep_lo", "krep_hi", "moments")),
    "moment": BlockSpec("moment", ("primal", "symmetric", "krep_lo", "krep_hi", "moments")),
    "occupation": BlockSpec("occupation", ("primal", "symmetric", "moments"), {"sites": (0, 1), "count": 1}),
    "cuts": BlockSpec("cuts", ("krep_lo",), {"order": 3}),
}
#: Fraction of the independent coupling's close-pair mass the user row asks for (binding).
USER_SHARE = 0.9


def user_threshold(inst: Instance) -> float:
    return USER_SHARE * independent_close_fraction(inst)


def occupation_upper(inst: Instance) -> float:
    """Halfway between the least and the largest mass of "at least one point in S" a plan can have."""
    p = float(sum(inst.weights[0][s] for s in BLOCKS["occupation"].params["sites"]))
    N = inst.problem.n_marginals
    return p + 0.5 * (min(1.0, N * p) - p)


def add_block(model: mm.Model, inst: Instance, block: str) -> None:
    """Add ``block`` to ``model`` through the public API (raises MMOTInputError where it does not apply)."""
    if block == "none":
        return
    if block == "user":
        model.add_constraint(model.plan.expectation(close_fraction_points, symmetric=True) >= user_threshold(inst),
                             name="close")
    elif block == "moment":
        model.add(mm.MomentRows(mm.hats(HAT_CELLS)))
    elif block == "occupation":
        p = BLOCKS["occupation"].params
        model.add(mm.OccupationBounds(p["sites"], occupation_upper(inst), count=p["count"]))
    elif block == "cuts":
        model.add(mm.KRepresentabilityCuts(k=BLOCKS["cuts"].params["order"]))
    else:  # pragma: no cover
        raise ValueError(block)


def model_of(inst: Instance, formulation: str) -> mm.Model:
    N = inst.problem.n_marginals
    if formulation == "krep_lo":
        return mm.Model(inst.problem, "krep", k=2)
    if formulation == "krep_hi":
        return mm.Model(inst.problem, "krep", k=inst.krep_high or N + 1)
    return mm.Model(inst.problem, formulation)


def bodies_of(inst: Instance, formulation: str) -> int:
    N = inst.problem.n_marginals
    return {"krep_lo": 2, "krep_hi": inst.krep_high or N + 1}.get(formulation, N)


def direction_of(inst: Instance, formulation: str) -> mm.Bound:
    """The bound direction each formulation must report (stated here, not read from the package)."""
    N = inst.problem.n_marginals
    if formulation in ("primal", "symmetric"):
        return mm.Bound.EXACT
    if formulation == "moments":
        return mm.Bound.LOWER
    k = bodies_of(inst, formulation)
    return mm.Bound.LOWER if k < N else (mm.Bound.EXACT if k == N else mm.Bound.UPPER)


# ----------------------------------------------------------------------------- reference LP
@dataclass
class RefLP:
    """``min c^T x, lo <= A x <= up, x >= 0`` over the enumerated columns ``keys``."""

    keys: list[tuple[int, ...]]
    c: np.ndarray
    A: np.ndarray
    lo: np.ndarray
    up: np.ndarray
    blocks: list[tuple[str, int]]     # (block name, number of rows), in row order
    index: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {k: j for j, k in enumerate(self.keys)}


def _columns(inst: Instance, formulation: str) -> tuple[list[tuple[int, ...]], list[float], bool]:
    """Enumerated finite-cost columns, their costs, and whether they are multisets."""
    N = inst.problem.n_marginals
    if formulation in ("primal", "moments"):
        keys = list(itertools.product(*[range(p.size) for p in inst.points]))
        costs = [inst.cost(t) for t in keys]
        multiset = False
    else:
        k = bodies_of(inst, formulation)
        l = inst.points[0].size
        keys = list(itertools.combinations_with_replacement(range(l), k))
        x = inst.points[0]
        scale = math.comb(N, 2) / math.comb(k, 2)
        costs = [scale * math.fsum(inst.pair(float(x[m[a]]), float(x[m[b]])) for a in range(k)
                                   for b in range(a + 1, k)) for m in keys]
        multiset = True
    keep = [j for j, c in enumerate(costs) if math.isfinite(c)]
    return [keys[j] for j in keep], [costs[j] for j in keep], multiset


def all_bipartitions(l: int) -> list[list[int]]:
    """Sign vectors with ``s_0 = +1``, all but the all-plus one, in the documented order (bit b of r -> site b+1)."""
    return [[1] + [1 - 2 * ((r >> b) & 1) for b in range(l - 1)] for r in range(1, 2 ** (l - 1))]


def build_reference(inst: Instance, formulation: str, blocks: list[str]) -> RefLP:
    """The LP of ``formulation`` with ``blocks`` added in order, assembled independently with loops."""
    keys, costs, multiset = _columns(inst, formulation)
    N = inst.problem.n_marginals
    nb = bodies_of(inst, formulation)
    rows: list[list[float]] = []
    lo: list[float] = []
    up: list[float] = []
    names: list[tuple[str, int]] = []

    def add(name: str, coef_rows: list[list[float]], lows: list[float], ups: list[float]) -> None:
        rows.extend(coef_rows)
        lo.extend(lows)
        up.extend(ups)
        names.append((name, len(coef_rows)))

    pts = inst.points
    # base rows
    if formulation == "moments":
        add("mass", [[1.0] * len(keys)], [1.0], [1.0])
    elif multiset:
        l, mu = pts[0].size, inst.weights[0]
        add("marginal", [[float(m.count(s)) for m in keys] for s in range(l)],
            [nb * float(mu[s]) for s in range(l)], [nb * float(mu[s]) for s in range(l)])
    else:
        r, b = [], []
        for k in range(N):
            for s in range(pts[k].size):
                r.append([1.0 if t[k] == s else 0.0 for t in keys])
                b.append(float(inst.weights[k][s]))
        add("marginal", r, b, list(b))
    for blk in blocks:
        if blk == "none":
            continue
        if blk == "user":
            vals = [close_fraction([float(pts[0 if multiset else a][t[a]]) for a in range(len(t))]) for t in keys]
            add("user", [vals], [user_threshold(inst)], [math.inf])
        elif blk == "moment":
            r, b = [], []
            for k in ([0] if multiset else range(N)):
                x, w = pts[k], inst.weights[k]
                lo_k, hi_k = float(x.min()), float(x.max())
                for j in range(HAT_CELLS + 1):
                    if multiset:
                        r.append([sum(hat(float(x[s]), lo_k, hi_k, j, HAT_CELLS) for s in m) / nb for m in keys])
                    else:
                        r.append([hat(float(x[t[k]]), lo_k, hi_k, j, HAT_CELLS) for t in keys])
                    b.append(math.fsum(float(w[s]) * hat(float(x[s]), lo_k, hi_k, j, HAT_CELLS) for s in range(x.size)))
            add("moment", r, b, list(b))
        elif blk == "occupation":
            p = BLOCKS["occupation"].params
            S = set(p["sites"])
            add("occupation", [[1.0 if sum(s in S for s in t) >= p["count"] else 0.0 for t in keys]],
                [-math.inf], [occupation_upper(inst)])
        elif blk == "cuts":
            K = BLOCKS["cuts"].params["order"]
            l = pts[0].size
            r = []
            for s in all_bipartitions(l):
                r.append([((sum(s[a] for a in m)) ** 2 - nb) / (nb * (nb - 1)) for m in keys])
            rhs = ((K % 2) - K) / (K * (K - 1))
            add("krep_cuts", r, [rhs] * len(r), [math.inf] * len(r))
        else:  # pragma: no cover
            raise ValueError(blk)
    return RefLP(keys, np.array(costs), np.array(rows), np.array(lo), np.array(up), names)


def dense_optimum(ref: RefLP) -> float:
    """Optimum of the reference LP by ``scipy.optimize.linprog`` (equalities and both inequality sides)."""
    eq = np.isfinite(ref.lo) & (ref.lo == ref.up)
    ub_rows, ub_rhs = [], []
    for i in np.flatnonzero(~eq):
        if np.isfinite(ref.up[i]):
            ub_rows.append(ref.A[i])
            ub_rhs.append(ref.up[i])
        if np.isfinite(ref.lo[i]):
            ub_rows.append(-ref.A[i])
            ub_rhs.append(-ref.lo[i])
    r = linprog(ref.c, A_ub=np.array(ub_rows) if ub_rows else None, b_ub=np.array(ub_rhs) if ub_rhs else None,
                A_eq=ref.A[eq], b_eq=ref.lo[eq], bounds=(0, None), method="highs")
    if r.status == 2:
        return math.inf
    assert r.status == 0, r.message
    return float(r.fun)
