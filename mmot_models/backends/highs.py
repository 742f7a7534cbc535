"""HiGHS backend: pass the standard-form arrays straight to ``highspy.Highs.passModel``.

No per-variable Python objects are created: the CSC arrays of :class:`StandardLP` become the
``HighsLp`` column-wise matrix, and solutions, row duals and reduced costs come back as arrays.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Status

__all__ = ["solve_lp", "make_highs", "map_status", "HighsSession", "check_threads", "run_highs"]


def _highspy():
    import highspy  # imported lazily: keeps `import mmot_models` fast
    return highspy


def map_status(model_status: Any) -> Status:
    """Map a ``highspy.HighsModelStatus`` to :class:`~mmot_models.Status`."""
    hs = _highspy().HighsModelStatus
    table = {
        hs.kOptimal: Status.OPTIMAL,
        hs.kInfeasible: Status.INFEASIBLE,
        hs.kUnbounded: Status.UNBOUNDED,
        hs.kUnboundedOrInfeasible: Status.INFEASIBLE,
        hs.kTimeLimit: Status.TIME_LIMIT,
        hs.kIterationLimit: Status.ITERATION_LIMIT,
        hs.kSolutionLimit: Status.ITERATION_LIMIT,
        hs.kInterrupt: Status.TIME_LIMIT,
    }
    return table.get(model_status, Status.ERROR)


def check_threads(threads: Any) -> int | None:
    """Validate a ``threads`` request: ``None`` or ``0`` (HiGHS's default) or ``1..os.cpu_count()``.

    More threads than cores are refused rather than started (HiGHS would start every one of them).

    Raises
    ------
    MMOTInputError
        For a non-integer, negative or too large value.
    """
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise MMOTInputError(f"threads must be a whole number, got {threads!r}; omit it for the default")
    n = int(threads)
    cores = os.cpu_count() or 1
    if n < 0:
        raise MMOTInputError(f"threads must be >= 0, got {n}; use 1..{cores} (0 or omitted: solver default)")
    if n > cores:
        raise MMOTInputError(f"threads={n} exceeds the {cores} CPU cores of this machine; "
                             f"use threads between 1 and {cores} (0 or omitted: solver default)")
    return n


# HiGHS runs its parallel work on one *global* task scheduler per process whose size is fixed by the
# first run; a later run with another ``threads`` value fails (model status "Not Set").  A forked
# child inherits the scheduler's bookkeeping but not its worker threads.  ``run_highs`` therefore
# resets the global scheduler when the requested size changes or the process id changed, unless
# another HiGHS run of this process is in flight (then the run joins the existing pool).
_SCHED_LOCK = threading.Lock()
_SCHED: dict[str, Any] = {"pid": None, "threads": None, "active": 0}


def run_highs(h: Any, threads: int | None = None) -> tuple[Any, str]:
    """``h.run()`` on a global scheduler of the requested size.

    Returns
    -------
    (HighsStatus, note)
        ``note`` is non-empty when the request could not be honoured exactly (said in messages).
    """
    hp = _highspy()
    want = int(threads) if threads else 0
    note = ""
    with _SCHED_LOCK:
        pid = os.getpid()
        if _SCHED["pid"] != pid:          # first run in this process, or a forked child
            if _SCHED["pid"] is not None:
                hp.Highs.resetGlobalScheduler(True)
            _SCHED.update(pid=pid, threads=None, active=0)
        if want and _SCHED["threads"] != want:
            if _SCHED["active"] == 0:
                if _SCHED["threads"] is not None:
                    hp.Highs.resetGlobalScheduler(True)
                _SCHED["threads"] = None
            else:
                h.setOptionValue("threads", 0)
                note = (f"threads={want} not applied: another HiGHS run in this process uses a "
                        f"{_SCHED['threads'] or 'default'}-thread pool")
                want = 0
        _SCHED["active"] += 1
    try:
        status = h.run()
    finally:
        with _SCHED_LOCK:
            _SCHED["active"] -= 1
            if _SCHED["threads"] is None:
                _SCHED["threads"] = want if want else "default"
    return status, note


def make_highs(*, time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
               options: dict[str, Any] | None = None, log_file: str | None = None):
    """A configured ``highspy.Highs`` instance (log to ``log_file``, not to the console, unless verbose)."""
    h = _highspy().Highs()
    h.setOptionValue("output_flag", bool(verbose or log_file))
    h.setOptionValue("log_to_console", bool(verbose))
    if log_file:
        h.setOptionValue("log_file", log_file)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    threads = check_threads(threads)
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    for key, val in (options or {}).items():
        _set_checked(h, key, val)
    return h


def _set_checked(h: Any, key: str, val: Any) -> None:
    """``h.setOptionValue(key, val)``; an unknown name or a bad value is an :class:`MMOTInputError`."""
    hp = _highspy()
    if isinstance(val, (np.generic,)):
        val = val.item()
    if h.setOptionValue(key, val) == hp.HighsStatus.kOk:
        return
    from ..errors import MMOTInputError
    from ..options import suggest

    known = h.getOptionType(key)[0] == hp.HighsStatus.kOk if isinstance(key, str) else False
    if not known:
        names = [n for n in dir(h.getOptions()) if not n.startswith("_")]
        raise MMOTInputError(f"unknown HiGHS option {key!r} in solver_options;{suggest(str(key), names)} "
                             "see the HiGHS documentation for option names")
    kind = str(h.getOptionType(key)[1]).rsplit(".", 1)[-1].removeprefix("k").lower()
    raise MMOTInputError(f"HiGHS option {key!r} in solver_options does not accept {val!r} (a {kind} option; "
                         "see its allowed values in the HiGHS documentation)")


def _to_highs_lp(lp: StandardLP):
    hp = _highspy()
    model = hp.HighsLp()
    model.num_col_ = lp.n_cols
    model.num_row_ = lp.n_rows
    model.col_cost_ = np.ascontiguousarray(lp.c, dtype=np.float64)
    model.col_lower_ = np.ascontiguousarray(lp.col_lower, dtype=np.float64)
    model.col_upper_ = np.ascontiguousarray(lp.col_upper, dtype=np.float64)
    model.row_lower_ = np.ascontiguousarray(lp.row_lower, dtype=np.float64)
    model.row_upper_ = np.ascontiguousarray(lp.row_upper, dtype=np.float64)
    model.offset_ = float(lp.offset)
    A = lp.A
    model.a_matrix_.format_ = hp.MatrixFormat.kColwise
    model.a_matrix_.num_col_ = lp.n_cols
    model.a_matrix_.num_row_ = lp.n_rows
    model.a_matrix_.start_ = np.ascontiguousarray(A.indptr, dtype=np.int32)
    model.a_matrix_.index_ = np.ascontiguousarray(A.indices, dtype=np.int32)
    model.a_matrix_.value_ = np.ascontiguousarray(A.data, dtype=np.float64)
    return model


class HighsSession:
    """A HiGHS instance holding one LP, for algorithms that modify and re-solve it (column generation).

    ``add_columns`` keeps the current basis, so the next :meth:`run` is warm-started.
    """

    def __init__(self, lp: StandardLP, *, time_limit: float | None = None, threads: int | None = None,
                 verbose: bool = False, options: dict[str, Any] | None = None) -> None:
        self.threads = check_threads(threads)   # before anything is created: a refusal leaves no file
        self._logfd, self._logpath = tempfile.mkstemp(prefix="mmot_highs_", suffix=".log")
        os.close(self._logfd)
        self.h = make_highs(time_limit=time_limit, threads=threads, verbose=verbose, options=options,
                            log_file=self._logpath)
        self.h.passModel(_to_highs_lp(lp))
        self.n_cols = lp.n_cols
        self.n_rows = lp.n_rows

    def add_columns(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, A_cols) -> None:
        """Append columns given as a CSC matrix with ``n_rows`` rows."""
        A_cols = A_cols.tocsc()
        self.h.addCols(int(A_cols.shape[1]), np.asarray(cost, float), np.asarray(lower, float),
                       np.asarray(upper, float), int(A_cols.nnz), A_cols.indptr[:-1].astype(np.int32),
                       A_cols.indices.astype(np.int32), A_cols.data.astype(np.float64))
        self.n_cols += int(A_cols.shape[1])

    def set_time_limit(self, seconds: float) -> None:
        """Allow the next :meth:`run` at most ``seconds`` more.

        HiGHS compares ``time_limit`` with the instance's *total* run time, so the limit is set to
        the time already used plus ``seconds``.
        """
        self.h.setOptionValue("time_limit", float(self.h.getRunTime() + max(seconds, 1e-3)))

    def run(self) -> LPResult:
        t0 = time.perf_counter()
        run_status, note = run_highs(self.h, self.threads)
        elapsed = time.perf_counter() - t0
        return _collect(self.h, elapsed, self._logpath, run_status, note)

    def close(self) -> None:
        path = getattr(self, "_logpath", None)   # None when __init__ refused its arguments
        if path is None:
            return
        try:
            os.remove(path)
        except OSError:
            pass

    def __del__(self) -> None:  # pragma: no cover - best effort cleanup
        self.close()


def _log_errors(log: str) -> str:
    """The ERROR/WARNING lines of a HiGHS log, joined (what explains a failed run)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip().upper().startswith(("ERROR", "WARNING"))]
    return " ".join(lines[-3:])


def _collect(h, elapsed: float, logpath: str | None, run_status: Any = None, note: str = "") -> LPResult:
    model_status = h.getModelStatus()
    status = map_status(model_status)
    info = h.getInfo()
    sol = h.getSolution()
    x = row_dual = col_dual = None
    if sol.value_valid:
        x = np.asarray(sol.col_value, dtype=float)
    if sol.dual_valid:
        row_dual = np.asarray(sol.row_dual, dtype=float)
        col_dual = np.asarray(sol.col_dual, dtype=float)
    log = ""
    if logpath:
        try:
            with open(logpath, encoding="utf-8", errors="replace") as fh:
                log = fh.read()
        except OSError:
            pass
    iters = int(getattr(info, "simplex_iteration_count", 0) or 0) + int(getattr(info, "ipm_iteration_count", 0) or 0)
    message = h.modelStatusToString(model_status)
    if run_status is not None and run_status == _highspy().HighsStatus.kError:
        status = Status.ERROR
        why = _log_errors(log) or "no reason in the HiGHS log"
        message = f"HiGHS run failed (model status {message!r}): {why}"
    if note:
        message = f"{message}; {note}" if message else note
    return LPResult(status=status, x=x, row_dual=row_dual, col_dual=col_dual,
                    objective=float(info.objective_function_value), iterations=iters, solver_time_s=elapsed,
                    backend="highs", message=message, log=log)


def solve_lp(lp: StandardLP, *, time_limit: float | None = None, threads: int | None = None,
             verbose: bool = False, options: dict[str, Any] | None = None) -> LPResult:
    """Solve ``lp`` with HiGHS (``options`` are HiGHS option names, e.g. ``{"solver": "ipm"}``)."""
    session = HighsSession(lp, time_limit=time_limit, threads=threads, verbose=verbose, options=options)
    try:
        return session.run()
    finally:
        session.close()
