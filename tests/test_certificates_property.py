"""Property test: every certified bracket contains the exact optimum on badly scaled data.

Random tiny instances with dyadic weights (integers / 2**40, so the stored floats sum to exactly 1
and the exact LP on them is feasible), tiny weights 2**-30..2**-40 (1e-9..1e-12) next to large
ones, costs from about 1e-3 to 1e6 (clusters 1e-6 apart, 1e3 apart), ties (integer grids), 1D and
2D, N = 2..4, Coulomb / soft Coulomb / power costs.  The reference is an independent exact
rational simplex (:mod:`tests.exact_simplex`) on the exact rationals of the floats the package
stored: the marginal weights and the pair-cost matrix entries (a tuple's cost is their exact sum).
Checked in exact arithmetic: ``Fraction(lower_bound) <= OPT <= Fraction(upper_bound)`` for every
method (krep with k < N: the lower side only), and ``optimal`` implies a bracket closed to the
method's tolerance.  The default run covers :data:`N_DEFAULT` seeds; ``-m slow`` runs
:data:`N_SLOW` (``benchmarks/bench_certificates.py`` records a run in ``docs/benchmarks.md``).
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.costs import Coulomb, Power, SoftCoulomb
from mmot_models.algorithms.lp import CERT_REL_TOL
from tests.exact_simplex import exact_lp_min

#: Seeds in the default run (about 4 s on an idle core) and in the slow run.
N_DEFAULT = 60
N_SLOW = 2000
#: Denominator exponent of the dyadic weights.
DYADIC_BITS = 40
#: Relative gap an ``optimal`` answer must close to (colgen's own tol is tighter), plus the
#: absolute rounding floor ``64 u max|c|`` used for optima at 0.
CLOSED_REL_TOL = CERT_REL_TOL
FLOOR_ULPS = 64 * 2.0 ** -53


def dyadic_weights(rng: np.random.Generator, l: int, cap: float | None) -> np.ndarray:
    """``l`` positive weights, integer multiples of ``2**-DYADIC_BITS`` summing to exactly 1, each ``<= cap``."""
    total = 2 ** DYADIC_BITS
    for _ in range(1000):
        n_tiny = int(rng.integers(0, min(3, l - 1) + 1))
        tiny = [2 ** (DYADIC_BITS - int(rng.integers(30, DYADIC_BITS + 1))) for _ in range(n_tiny)]
        rest = total - sum(tiny)
        k = l - n_tiny
        p = rng.uniform(0.2, 1.0, size=k)
        if rng.random() < 0.3:
            p[:] = 1.0  # ties in the weights
        parts = np.floor(p / p.sum() * rest).astype(np.int64)
        parts[-1] += rest - int(parts.sum())
        ints = np.array(tiny + parts.tolist(), dtype=np.int64)
        rng.shuffle(ints)
        if ints.min() <= 0:
            continue
        w = ints.astype(float) / total
        if cap is None or w.max() <= cap:
            assert sum(Fraction(float(v)) for v in w) == 1  # dyadic: the stored floats sum to exactly 1
            return w
    raise RuntimeError("could not draw weights")


def random_points(rng: np.random.Generator, l: int, d: int) -> np.ndarray:
    """Clustered points: clusters up to 1e3 apart, members 1e-6..1e-2 apart; sometimes an integer grid (ties)."""
    if rng.random() < 0.25:
        pts = rng.permutation(np.arange(l * 2))[:l].astype(float)[:, None] * np.ones((1, d))
        if d == 2:
            pts[:, 1] = rng.integers(0, 3, size=l)
        return pts
    n_cl = int(rng.integers(1, l + 1))
    centres = rng.uniform(0.0, 1e3, size=(n_cl, d))
    lab = np.concatenate([np.arange(n_cl), rng.integers(0, n_cl, size=l - n_cl)])
    spread = 10.0 ** rng.uniform(-6, -2, size=(l, 1))
    pts = centres[lab] + spread * rng.normal(size=(l, d))
    return pts


def random_cost(rng: np.random.Generator):
    kind = rng.integers(0, 3)
    if kind == 0:
        return Coulomb()
    if kind == 1:
        return SoftCoulomb(a=float(10.0 ** rng.uniform(-6, 0)))
    return Power(p=float(rng.choice([0.5, 1.0, 2.0])))


def make_instance(seed: int) -> mm.MMOTProblem:
    rng = np.random.default_rng(seed)
    cost = random_cost(rng)
    singular = bool(cost.singular_diagonal)
    d = int(rng.integers(1, 3))
    N = int(rng.choice([2, 2, 3, 3, 4]))
    if N == 2 and rng.random() < 0.3:  # unequal marginals
        l1, l2 = int(rng.integers(2, 7)), int(rng.integers(2, 7))
        m1 = mm.Marginal(random_points(rng, l1, d), dyadic_weights(rng, l1, None))
        # shifted by 0.5: no point shared with the first marginal (Coulomb-feasible for any weights)
        m2 = mm.Marginal(random_points(rng, l2, d) + 0.5, dyadic_weights(rng, l2, None))
        return mm.MMOTProblem((m1, m2), cost)
    if N == 2:
        l = int(rng.integers(3, 7))
    elif N == 3:
        l = int(rng.integers(4, 7 if singular else 6))
    else:
        l = int(rng.integers(5, 7)) if singular else 4
    cap = (1.0 / N) * (1 - 1e-9) if singular else None
    return mm.MMOTProblem.symmetric(mm.Marginal(random_points(rng, l, d), dyadic_weights(rng, l, cap)), N, cost)


def exact_optimum(problem: mm.MMOTProblem) -> tuple[Fraction, float]:
    """Exact OPT of the stored data (multiset LP if symmetric, tuple LP otherwise) and max |finite pair cost|."""
    N = problem.n_marginals
    big = 0.0
    if problem.is_symmetric:
        C = problem.pair_matrix(0, 0)
        l = problem.sizes[0]
        mu = [Fraction(float(w)) for w in problem.marginals[0].weights]
        gen = (itertools.combinations(range(l), N) if problem.singular_diagonal
               else itertools.combinations_with_replacement(range(l), N))
        cols, costs = [], []
        for m in gen:
            vals = [C[m[a], m[b]] for a in range(N) for b in range(a + 1, N)]
            if not all(math.isfinite(v) for v in vals):
                continue
            big = max(big, max(abs(v) for v in vals))
            cols.append(m)
            costs.append(sum((Fraction(float(v)) for v in vals), Fraction(0)))
        A = [[Fraction(m.count(s)) for m in cols] for s in range(l)]
        b = [N * mu[s] for s in range(l)]
        return exact_lp_min(costs, A, b), big
    sizes = problem.sizes
    Cs = {(i, j): problem.pair_matrix(i, j) for i in range(N) for j in range(i + 1, N)}
    cols, costs = [], []
    for t in itertools.product(*[range(s) for s in sizes]):
        vals = [Cs[i, j][t[i], t[j]] for (i, j) in Cs]
        if not all(math.isfinite(v) for v in vals):
            continue
        big = max(big, max(abs(v) for v in vals))
        cols.append(t)
        costs.append(sum((Fraction(float(v)) for v in vals), Fraction(0)))
    A, b = [], []
    for i, m in enumerate(problem.marginals):
        w = [Fraction(float(x)) for x in m.weights]
        for s in range(m.size):
            A.append([Fraction(int(t[i] == s)) for t in cols])
            b.append(w[s])
    return exact_lp_min(costs, A, b), big


def methods_for(problem: mm.MMOTProblem) -> list[tuple[str, dict, bool]]:
    """``(method, options, upper side certified)``: all methods that apply."""
    out = [("primal", {}, True), ("dual", {}, True), ("auto", {}, True)]
    if problem.is_symmetric:
        N = problem.n_marginals
        out += [("symmetric", {}, True), ("symmetric_dual", {}, True), ("colgen", {}, True),
                ("krep", {"k": N}, True)]
        if N > 2:
            out.append(("krep", {"k": 2}, False))
    return out


def check_instance(seed: int) -> list[str]:
    """All bracket violations of one seed (empty when every method is sound)."""
    problem = make_instance(seed)
    opt, big = exact_optimum(problem)
    bad = []
    for method, opts, upper_side in methods_for(problem):
        sol = mm.solve(problem, method=method, **opts)
        tag = f"seed {seed} {method}{opts} N={problem.n_marginals} sizes={problem.sizes} {problem.cost.kind}"
        if sol.status == mm.Status.INFEASIBLE:
            bad.append(f"{tag}: infeasible reported for a feasible LP")
            continue
        if math.isfinite(sol.lower_bound) and Fraction(sol.lower_bound) > opt:
            bad.append(f"{tag}: lower {sol.lower_bound!r} > OPT {float(opt)!r}")
        if upper_side and math.isfinite(sol.upper_bound) and Fraction(sol.upper_bound) < opt:
            bad.append(f"{tag}: upper {sol.upper_bound!r} < OPT {float(opt)!r}")
        if upper_side and sol.status == mm.Status.OPTIMAL:
            gap = Fraction(sol.upper_bound) - Fraction(sol.lower_bound)
            K = problem.n_marginals * (problem.n_marginals - 1) // 2  # column costs are sums of K pair costs
            limit = max(Fraction(CLOSED_REL_TOL) * abs(opt), Fraction(FLOOR_ULPS * K * big))
            if not gap <= limit * (1 + Fraction(1, 10**6)):
                bad.append(f"{tag}: optimal but gap {float(gap):.3g} > {float(limit):.3g}")
    return bad


def run_seeds(seeds) -> tuple[int, list[str]]:
    bad: list[str] = []
    n = 0
    for s in seeds:
        bad += check_instance(s)
        n += 1
    return n, bad


def test_brackets_contain_exact_optimum_default():
    n, bad = run_seeds(range(N_DEFAULT))
    assert n == N_DEFAULT
    assert not bad, "\n".join(bad[:20])


@pytest.mark.slow
def test_brackets_contain_exact_optimum_2000():
    n, bad = run_seeds(range(10_000, 10_000 + N_SLOW))
    assert n == N_SLOW
    assert not bad, "\n".join(bad[:20])


def test_exact_simplex_matches_pot_on_a_small_transport():
    """The reference itself: N = 2 transport against POT's network simplex."""
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(7)
    a = dyadic_weights(rng, 4, None)
    b = dyadic_weights(rng, 5, None)
    M = rng.uniform(0, 10, size=(4, 5))
    cols = list(itertools.product(range(4), range(5)))
    A = [[Fraction(int(t[0] == s)) for t in cols] for s in range(4)] + \
        [[Fraction(int(t[1] == s)) for t in cols] for s in range(5)]
    rhs = [Fraction(float(x)) for x in a] + [Fraction(float(x)) for x in b]
    opt = exact_lp_min([Fraction(float(M[t])) for t in cols], A, rhs)
    assert abs(float(opt) - ot.emd2(a, b, M)) < 1e-12
