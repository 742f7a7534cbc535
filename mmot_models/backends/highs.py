"""HiGHS backend: pass the standard-form arrays straight to ``highspy.Highs.passModel``.

No per-variable Python objects are created: the CSC arrays of :class:`StandardLP` become the
``HighsLp`` column-wise matrix, and solutions, row duals and reduced costs come back as arrays.
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

from ..formulations.standard_lp import LPResult, StandardLP
from ..solution import Status

__all__ = ["solve_lp", "make_highs", "map_status", "HighsSession"]


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
        self.h.run()
        elapsed = time.perf_counter() - t0
        return _collect(self.h, elapsed, self._logpath)

    def close(self) -> None:
        try:
            os.remove(self._logpath)
        except OSError:
            pass

    def __del__(self) -> None:  # pragma: no cover - best effort cleanup
        self.close()


def _collect(h, elapsed: float, logpath: str | None) -> LPResult:
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
    return LPResult(status=status, x=x, row_dual=row_dual, col_dual=col_dual,
                    objective=float(info.objective_function_value), iterations=iters, solver_time_s=elapsed,
                    backend="highs", message=h.modelStatusToString(model_status), log=log)


def solve_lp(lp: StandardLP, *, time_limit: float | None = None, threads: int | None = None,
             verbose: bool = False, options: dict[str, Any] | None = None) -> LPResult:
    """Solve ``lp`` with HiGHS (``options`` are HiGHS option names, e.g. ``{"solver": "ipm"}``)."""
    session = HighsSession(lp, time_limit=time_limit, threads=threads, verbose=verbose, options=options)
    try:
        return session.run()
    finally:
        session.close()
