"""The standard-form LP every LP formulation builds and every LP backend solves.

.. math::
    \\min_x\\ c^T x + \\text{offset}
    \\quad\\text{s.t.}\\quad r_\\ell \\le A x \\le r_u,\\qquad x_\\ell \\le x \\le x_u

with ``A`` a :class:`scipy.sparse.csc_matrix`.  Formulations also record in ``meta`` what the
columns and rows mean (index tuples, sites, marginals) so that the solver's answer can be mapped
back to plans and potentials.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import ProblemTooLargeError

__all__ = ["StandardLP", "LPSize", "estimate_lp_size", "available_memory_bytes", "check_fits", "format_count",
           "format_bytes"]

#: Bytes HiGHS and this package hold per nonzero and per column/row (copies, presolve, factor).
_BYTES_PER_NNZ = 48
_BYTES_PER_COL = 120
_BYTES_PER_ROW = 120
#: Fraction of available memory one LP may claim by default.
MEMORY_FRACTION = 0.5


#: Counts up to this are printed in full with thousands separators; larger ones as ``d.dd x 10^e``.
_FULL_DIGITS_MAX = 10**15


def format_count(n: int) -> str:
    """``n`` for a message, exact below 10^15, else ``1.23e+4567`` -- integer arithmetic only.

    Counts of multisets and tensor entries are Python ints that can exceed the float range (and
    Python's 4300-digit ``str`` limit); this never converts them to float or to a full decimal string.
    """
    n = int(n)
    if abs(n) < _FULL_DIGITS_MAX:
        return f"{n:,}"
    sign = "-" if n < 0 else ""
    n = abs(n)
    e = int(math.log10(n))          # math.log10 accepts ints of any size
    if 10**e > n:                   # float rounding of log10 near a power of ten
        e -= 1
    elif 10 ** (e + 1) <= n:
        e += 1
    lead = (n * 100 + 10**e // 2) // 10**e   # three significant digits, rounded: 100..1000
    if lead >= 1000:
        lead //= 10
        e += 1
    return f"{sign}{lead // 100}.{lead % 100:02d}e+{e}"


def format_bytes(n: int) -> str:
    """``n`` bytes as ``"1.23 GiB"`` (``format_count`` of the GiB beyond 10^15 GiB)."""
    n = int(n)
    gib = n // 2**30
    if gib < _FULL_DIGITS_MAX:
        return f"{n / 2**30:.2f} GiB"
    return f"{format_count(gib)} GiB"


@dataclass(frozen=True)
class LPSize:
    """Size of an LP before it is built."""

    n_cols: int
    n_rows: int
    nnz: int

    @property
    def bytes(self) -> int:
        """Estimated peak memory to build and solve the LP."""
        return int(_BYTES_PER_NNZ * self.nnz + _BYTES_PER_COL * self.n_cols + _BYTES_PER_ROW * self.n_rows)

    def __str__(self) -> str:
        return (f"{format_count(self.n_cols)} variables, {format_count(self.n_rows)} rows, "
                f"{format_count(self.nnz)} nonzeros, ~{format_bytes(self.bytes)}")


def estimate_lp_size(n_cols: int, n_rows: int, nnz: int) -> LPSize:
    return LPSize(int(n_cols), int(n_rows), int(nnz))


def available_memory_bytes() -> int:
    """Memory available to this process (``MemAvailable``; falls back to physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 * 2**30


def check_fits(size: LPSize, what: str, better: str, memory_limit_bytes: int | None = None) -> None:
    """Raise :class:`ProblemTooLargeError` naming ``better`` if ``size`` would not fit in memory."""
    limit = memory_limit_bytes if memory_limit_bytes is not None else int(MEMORY_FRACTION * available_memory_bytes())
    if size.bytes > limit:
        raise ProblemTooLargeError(
            f"the {what} would need {size} but only {format_bytes(limit)} may be used; {better}")


@dataclass(frozen=True, eq=False)
class StandardLP:
    """A minimisation LP in standard form (see the module docstring)."""

    c: np.ndarray
    A: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    offset: float = 0.0
    name: str = "lp"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        A = self.A if sp.isspmatrix_csc(self.A) else sp.csc_matrix(self.A)
        m, n = A.shape
        for nm, arr, k in (("c", self.c, n), ("col_lower", self.col_lower, n), ("col_upper", self.col_upper, n),
                           ("row_lower", self.row_lower, m), ("row_upper", self.row_upper, m)):
            if np.shape(arr) != (k,):
                raise ValueError(f"StandardLP.{nm} has shape {np.shape(arr)}, expected ({k},)")
        object.__setattr__(self, "A", A)

    @property
    def n_cols(self) -> int:
        return int(self.A.shape[1])

    @property
    def cost_scale(self) -> float:
        """Largest finite ``|c_j|`` (for a dual LP also the largest finite row upper bound, its costs):
        the scale of the gap floor ``64 u max|c|`` of :func:`~mmot_models.solution.certify_status`."""
        c = self.c[np.isfinite(self.c)]
        if self.name.endswith("dual"):
            c = np.concatenate([c, self.row_upper[np.isfinite(self.row_upper)]])
        return float(np.max(np.abs(c), initial=0.0))

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def size(self) -> LPSize:
        return LPSize(self.n_cols, self.n_rows, int(self.A.nnz))

    def objective(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.offset)

    def primal_residual(self, x: np.ndarray) -> float:
        """Max violation of row and column bounds by ``x``."""
        ax = self.A @ x
        viol = np.concatenate([np.maximum(self.row_lower - ax, 0), np.maximum(ax - self.row_upper, 0),
                               np.maximum(self.col_lower - x, 0), np.maximum(x - self.col_upper, 0)])
        return float(viol.max(initial=0.0))


@dataclass(frozen=True, eq=False)
class LPResult:
    """What an LP backend returns: raw arrays, mapped to a :class:`~mmot_models.Solution` by the formulation.

    ``row_dual`` follows HiGHS's convention for minimisation: ``c - A^T y = col_dual`` (reduced
    costs), so the duals of marginal rows are the Kantorovich potentials without a sign flip.
    """

    status: "Any"                 # mmot_models.solution.Status
    x: np.ndarray | None
    row_dual: np.ndarray | None
    col_dual: np.ndarray | None
    objective: float
    iterations: int | None
    solver_time_s: float
    backend: str
    message: str = ""
    log: str = ""
    basis: Any = None
    #: What :func:`mmot_models.algorithms.refine.refine` did (``None``: not run).
    refinement: dict[str, Any] | None = None


__all__.append("LPResult")
