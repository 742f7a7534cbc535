"""``threads=``: validated against the machine, and honoured across runs and forked workers.

HiGHS keeps one global task scheduler per process, sized by the first run; a later run with
another ``threads`` value used to fail (status error, value nan, message "Not Set").
"""
from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import ot
import pytest

import mmot_models as mm
from mmot_models.backends import highs as highs_backend
from mmot_models.errors import MMOTInputError

#: Agreement of the LP value with POT's network simplex (both exact up to LP tolerances).
VALUE_TOL = 1e-7


def _problem() -> tuple[mm.MMOTProblem, float]:
    rng = np.random.default_rng(7)
    a = mm.Marginal(rng.uniform(-2, 2, (12, 1)), rng.uniform(0.2, 1.0, 12), normalize=True)
    b = mm.Marginal(rng.uniform(-2, 2, (10, 1)), rng.uniform(0.2, 1.0, 10), normalize=True)
    p = mm.MMOTProblem((a, b), mm.costs.Power(2))
    M = (a.points[:, None, 0] - b.points[None, :, 0]) ** 2
    return p, float(ot.emd2(a.weights, b.weights, M))


def _solve(threads):
    p, _ = _problem()
    s = mm.solve(p, method="primal", threads=threads)
    return s.status.value, s.value, s.message


def test_changing_threads_in_one_process_stays_optimal():
    p, ref = _problem()
    cores = os.cpu_count() or 1
    for t in (None, 1, min(2, cores), 1, None):
        s = mm.solve(p, method="primal", threads=t)
        assert s.status == mm.Status.OPTIMAL, (t, s.status, s.message)
        assert abs(s.value - ref) <= VALUE_TOL * max(1.0, abs(ref)), (t, s.value, ref)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_forked_worker_after_parent_solve():
    p, ref = _problem()
    assert mm.solve(p, method="primal", threads=min(2, os.cpu_count() or 1)).status == mm.Status.OPTIMAL
    with mp.get_context("fork").Pool(1) as pool:
        results = pool.map(_solve, [1, None, 1])
    for status, value, message in results:
        assert status == "optimal", message
        assert abs(value - ref) <= VALUE_TOL * max(1.0, abs(ref))


@pytest.mark.parametrize("bad", [-3, (os.cpu_count() or 1) + 1, 100_000, 2.5, "4", True])
def test_bad_threads_refused_before_any_thread_starts(bad):
    p, _ = _problem()
    with pytest.raises(MMOTInputError, match="threads"):
        mm.solve(p, method="primal", threads=bad)
    with pytest.raises(MMOTInputError, match="threads"):
        highs_backend.make_highs(threads=bad)


def test_cli_threads_too_many_is_a_clean_error(tmp_path):
    import subprocess
    import sys

    f = tmp_path / "p.json"
    f.write_text('{"points": [0, 1, 2, 3], "weights": [0.25, 0.25, 0.25, 0.25], "n_marginals": 2, '
                 '"cost": "coulomb"}')
    r = subprocess.run([sys.executable, "-m", "mmot_models.cli", "solve", str(f), "--threads", "100000"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error:") and "threads" in r.stderr and "100000" in r.stderr and "Traceback" not in r.stderr


def test_failed_run_says_what_happened(monkeypatch):
    """Without the scheduler reset HiGHS refuses the run: the result must be an explained error."""
    import highspy

    p, _ = _problem()
    assert mm.solve(p, method="primal", threads=None).status == mm.Status.OPTIMAL
    # pretend this process's pool has another size and the reset is unavailable
    monkeypatch.setattr(highspy.Highs, "resetGlobalScheduler", staticmethod(lambda blocking: None))
    highs_backend._SCHED["threads"] = "default"
    outcomes = []
    try:
        for t in (1, 2) if (os.cpu_count() or 1) >= 2 else (1,):
            outcomes.append(mm.solve(p, method="primal", threads=t))
    finally:
        monkeypatch.undo()
        highspy.Highs.resetGlobalScheduler(True)
        highs_backend._SCHED["threads"] = None
    for s in outcomes:
        if s.status != mm.Status.OPTIMAL:
            assert s.status == mm.Status.ERROR and not s.status.ok
            assert "threads" in s.message and "Not Set" in s.message, s.message
    if len(outcomes) == 2:  # two pool sizes without a reset: HiGHS must have refused one run
        assert any(s.status == mm.Status.ERROR for s in outcomes)
    # and the real reset repairs the process
    assert mm.solve(p, method="primal", threads=1).status == mm.Status.OPTIMAL
