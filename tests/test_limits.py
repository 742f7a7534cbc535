"""Resources and limits: refuse what cannot fit before allocating, honour ``time_limit`` in every
long phase, format huge sizes without float overflow (issue 12, section 3)."""
from __future__ import annotations

import math
import time
from decimal import Decimal, getcontext

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.errors import MMOTInputError, ProblemTooLargeError
from mmot_models.formulations.multisets import multiset_pair_costs
from mmot_models.formulations.standard_lp import LPSize, format_bytes, format_count

#: Wall-clock slack over a time limit (interpreter load, one uninterruptible solver call / contraction;
#: the test machine is shared, so generous).
TIME_SLACK_S = 3.0
#: A refusal must come before any large allocation: well under this.
REFUSAL_MAX_S = 5.0
#: Relative agreement of the occupation-number pair costs with the direct pair loop.
PAIR_COST_RTOL = 1e-12


def _sym(l: int, N: int, cost=None, d: int = 1) -> mm.MMOTProblem:
    if d == 1:
        x = mm.line(-3, 3, l, midpoints=True)
        mu = mm.gaussian(x, 0.0, 1.0)
    else:
        x = mm.box([-2, -2], [2, 2], (l, l))
        mu = mm.gaussian(x, mean=np.zeros(2), cov=np.eye(2))
    return mm.MMOTProblem.symmetric(mu, N, cost or mm.costs.SoftCoulomb(0.5))


# ------------------------------------------------------------------ integer-safe sizes
@pytest.mark.parametrize("n", [0, 7, 999_999_999_999_999, 10**15, 123_456_789_012_345_678,
                               math.comb(10_039, 10_000), math.comb(20_000, 10_000), 10**5000 - 1, 2**70_000],
                         ids=lambda n: f"{n.bit_length()}bits")
def test_format_count_matches_decimal(n):
    out = format_count(n)
    if n < 10**15:
        assert out == f"{n:,}"
        return
    mant, exp = out.split("e+")
    getcontext().prec = 50
    ref = Decimal(n).scaleb(-int(exp))  # exact leading digits, independent of float
    assert abs(ref - Decimal(mant)) <= Decimal("0.005") + Decimal("1e-40"), (out, ref)
    assert Decimal(1) <= Decimal(mant) < Decimal(10)


def test_lp_size_message_of_huge_counts():
    M = math.comb(40 + 10_000 - 1, 10_000)
    text = str(LPSize(M, 40, M * 10_000))
    assert "e+" in text and "GiB" in text and len(text) < 200
    assert format_bytes(3 * 2**30) == "3.00 GiB"


def test_n_marginals_10000_refused_fast_by_every_method():
    p = _sym(40, 10_000)
    for method in ("auto", "symmetric", "primal", "colgen", "entropic"):
        t0 = time.perf_counter()
        with pytest.raises(MMOTInputError) as exc:
            mm.solve(p, method=method, time_limit=5)
        assert time.perf_counter() - t0 < REFUSAL_MAX_S, method
        msg = str(exc.value)
        assert "\n" not in msg and len(msg) < 400, msg
    with pytest.raises(ProblemTooLargeError, match="krep"):
        mm.solve(p, method="colgen")


def test_occupation_pair_costs_match_direct_sum():
    rng = np.random.default_rng(3)
    for l, n in [(5, 12), (3, 40), (7, 30)]:
        C = rng.uniform(0, 1, (l, l))
        C = C + C.T
        ms = np.sort(rng.integers(0, l, (60, n)), axis=1)
        ref = np.array([sum(C[r[a], r[b]] for a in range(n) for b in range(a + 1, n)) for r in ms])
        np.testing.assert_allclose(multiset_pair_costs(C, ms), ref, rtol=PAIR_COST_RTOL)
        Cinf = C.copy()
        np.fill_diagonal(Cinf, np.inf)   # repeated sites under a singular diagonal: +inf, never nan
        got = multiset_pair_costs(Cinf, ms)
        assert np.all(np.isinf(got) == np.array([len(set(r)) < n for r in ms]))


# ------------------------------------------------------------------ refusals before allocating
def test_sdp_on_600_points_refused_with_size_and_alternatives():
    p = _sym(600, 3)
    t0 = time.perf_counter()
    with pytest.raises(ProblemTooLargeError) as exc:
        mm.solve(p, method="sdp")
    assert time.perf_counter() - t0 < REFUSAL_MAX_S
    msg = str(exc.value)
    assert "601x601" in msg and "krep" in msg and "symmetric" in msg


def test_atom_with_huge_grid_refused_before_the_grid():
    from mmot_models.studies.atoms import sce_energy
    from mmot_models.physics.densities import atomic_density
    from mmot_models.physics.radial import radial_grid

    t0 = time.perf_counter()
    with pytest.raises(ProblemTooLargeError, match="comotion"):
        sce_energy("He", points=100_000_000)
    with pytest.raises(ProblemTooLargeError, match="fewer points"):
        radial_grid(atomic_density("He"), 10**12)
    # an explicit budget is honoured too (N=2: 2000 points need a 30 MiB cost matrix)
    with pytest.raises(ProblemTooLargeError):
        sce_energy("He", points=2000, memory_limit_gb=0.01)
    assert time.perf_counter() - t0 < REFUSAL_MAX_S


@pytest.mark.slow
def test_cli_atom_huge_points_is_a_clean_error():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mmot_models.cli", "atom", "He", "--points", "100000000"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith("error:") and "100,000,000 points" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ time limits
def test_colgen_2d_grid_honours_time_limit():
    p = _sym(30, 3, mm.costs.Coulomb(), d=2)   # takes tens of seconds to certify
    limit = 0.5
    t0 = time.perf_counter()
    s = mm.solve(p, method="colgen", time_limit=limit)
    elapsed = time.perf_counter() - t0
    assert elapsed <= limit + TIME_SLACK_S, elapsed
    assert s.status == mm.Status.TIME_LIMIT and not s.status.ok
    assert s.lower_bound <= s.upper_bound
    assert s.bound != mm.Bound.EXACT


def test_entropic_honours_time_limit_in_post_processing():
    p = _sym(1000, 3, mm.costs.Coulomb())   # ~70 s before: Sinkhorn stopped, then plan and bounds ran on
    limit = 1.0
    t0 = time.perf_counter()
    s = mm.solve(p, method="entropic", time_limit=limit)
    elapsed = time.perf_counter() - t0
    assert elapsed <= limit + TIME_SLACK_S, elapsed
    assert s.status == mm.Status.TIME_LIMIT
    assert s.info["skipped_after_time_limit"], s.info
    assert "time limit" in s.message and ("skipped" in s.message or "not computed" in s.message)


def test_entropic_deadline_checks_in_bounds_and_plan():
    from mmot_models.entropic.kernels import PairEngine
    from mmot_models.entropic.plan import ctransform_lower_bound, extract_plan, rounded_upper_bound

    p = _sym(30, 3)
    mus = [m.weights for m in p.marginals]
    C = p.pair_matrix(0, 0)
    eng = PairEngine({(0, 1): C, (0, 2): C, (1, 2): C}, mus)
    eng.absorb([np.zeros(30)] * 3, 1.0)
    v = [np.ones(30)] * 3
    past = time.perf_counter() - 1.0
    u = [np.zeros(30)] * 3
    assert ctransform_lower_bound(p, u, 1e9, deadline=past) == -math.inf
    assert ctransform_lower_bound(p, u, 1e9) > -math.inf          # and without a deadline it runs
    ub, info = rounded_upper_bound(eng, p, mus, v, deadline=past)
    assert ub == math.inf and "time limit" in info["rounding_note"]
    idx, w, info = extract_plan(eng, v, 1e-9, 10**6, deadline=past)
    assert idx is None and w is None and "plan_skipped" in info


def test_sdp_time_limit_is_reported_not_optimal():
    p = _sym(40, 3)
    limit = 0.2    # about the model construction: stopped while building or early in the solver (~8 s)
    t0 = time.perf_counter()
    s = mm.solve(p, method="sdp", time_limit=limit)
    assert time.perf_counter() - t0 <= limit + TIME_SLACK_S
    assert s.status == mm.Status.TIME_LIMIT and not s.status.ok
    # no uncertified number: either nothing (nan, no bound) or the certified dual bound itself
    assert (math.isnan(s.value) and s.lower_bound == -math.inf) or s.value == s.lower_bound


@pytest.mark.slow
def test_sdp_time_limit_in_solver_keeps_a_certified_lower_bound():
    p = _sym(60, 3)        # ~30 s to solve
    exact = mm.solve(p, method="symmetric").value
    limit = 3.0
    t0 = time.perf_counter()
    s = mm.solve(p, method="sdp", time_limit=limit)
    assert time.perf_counter() - t0 <= limit + TIME_SLACK_S
    assert s.status == mm.Status.TIME_LIMIT
    assert s.lower_bound <= exact * (1 + 1e-9)
    assert math.isnan(s.value) or s.value == s.lower_bound


def test_suggested_alternatives_for_n_marginals_10000_answer_fast():
    """The refusal names krep / meanfield: both must answer quickly and bracket consistently."""
    p = _sym(40, 10_000)
    t0 = time.perf_counter()
    mf = mm.solve(p, method="meanfield")
    kr = mm.solve(p, method="krep", time_limit=20)
    assert time.perf_counter() - t0 < REFUSAL_MAX_S
    w = p.marginals[0].weights
    C = p.pair_matrix(0, 0)
    ref = math.comb(10_000, 2) * float(w @ C @ w)       # product plan, computed directly
    assert math.isclose(mf.value, ref, rel_tol=1e-12)
    assert kr.lower_bound <= mf.upper_bound
