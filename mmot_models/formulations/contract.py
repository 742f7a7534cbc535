"""The formulation contract: ``apply(problem) -> (standard form, inverse data)`` and
``invert(result, inverse data) -> Inverted`` (in the spirit of cvxpy's ``Reduction.apply/invert``).

A formulation never calls a solver.  :meth:`Formulation.apply` builds the
:class:`~mmot_models.formulations.standard_lp.StandardLP` and records in :class:`InverseData` what
its columns and rows mean; :meth:`Formulation.invert` reads a backend's
:class:`~mmot_models.formulations.standard_lp.LPResult` back into :class:`Inverted`, the fields that
:func:`mmot_models.solution.assemble_solution` turns into a :class:`~mmot_models.Solution` (the one
place where the certificate rules are applied).  :func:`mmot_models.algorithms.lp.run_lp` is
``apply -> solve -> invert -> assemble``.

LP formulations implement :meth:`LPFormulationBase.build` (the standard form) and
:meth:`LPFormulationBase.read` (the answer as a dictionary of Solution fields with certified
bounds); the base class supplies ``apply`` and ``invert`` on top of them.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from ..solution import Bound, Termination
from .standard_lp import LPResult, StandardLP

__all__ = ["InverseData", "Inverted", "Formulation", "LPFormulationBase"]


@dataclass(frozen=True, eq=False)
class InverseData:
    """What :meth:`Formulation.invert` needs to map a solver's answer back (no solver state).

    Attributes
    ----------
    problem : object
        The problem the standard form was built for (an :class:`~mmot_models.MMOTProblem`, or a
        formulation's own input such as a sub-density).
    formulation : str
        The formulation's name.
    lp : StandardLP
        The standard form (its data are needed for the certificate; not copied).
    meta : Mapping
        What the columns and rows mean (``lp.meta``: index tuples, multisets, row offsets, ...).
    n_cols, n_rows, nnz : int
        Sizes of the standard form.
    build_time_s : float
        Time ``apply`` took.
    """

    problem: Any
    formulation: str
    lp: StandardLP
    meta: Mapping[str, Any]
    n_cols: int
    n_rows: int
    nnz: int
    build_time_s: float = math.nan

    def diagnostics_info(self) -> dict[str, Any]:
        """The sizes and build time as ``info`` keys of :class:`~mmot_models.solution.Diagnostics`."""
        return {"build_time_s": self.build_time_s, "n_cols": self.n_cols, "n_rows": self.n_rows, "nnz": self.nnz}


@dataclass(frozen=True, eq=False)
class Inverted:
    """A formulation's reading of a backend's answer: the inputs of
    :func:`~mmot_models.solution.assemble_solution` (bounds certified by the formulation)."""

    termination: Termination
    value: float = math.nan
    lower_bound: float = -math.inf
    upper_bound: float = math.inf
    bound: Bound = Bound.EXACT
    plan_indices: np.ndarray | None = None
    plan_weights: np.ndarray | None = None
    potentials: tuple[np.ndarray, ...] | None = None
    primal_value: float = math.nan
    dual_value: float = math.nan
    marginal_error: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    _FIELDS = ("value", "lower_bound", "upper_bound", "bound", "plan_indices", "plan_weights", "potentials",
               "primal_value", "dual_value", "marginal_error")

    @classmethod
    def from_fields(cls, result: LPResult, fields: Mapping[str, Any]) -> "Inverted":
        """From a ``read`` dictionary (keys: ``status``, the Solution fields, ``info``; others go to ``info``)."""
        f = dict(fields)
        status = f.pop("status", result.status)
        info = dict(f.pop("info", {}) or {})
        kw = {k: f.pop(k) for k in cls._FIELDS if k in f}
        info.update(f)
        return cls(termination=Termination.from_status(status), info=info, **kw)

    def assemble_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`~mmot_models.solution.assemble_solution` (``info`` excluded)."""
        return {"termination": self.termination, **{k: getattr(self, k) for k in self._FIELDS}}


@runtime_checkable
class Formulation(Protocol):
    """The typed contract every LP formulation meets."""

    name: str

    def apply(self, problem: Any, memory_limit_bytes: int | None = None) -> tuple[StandardLP, InverseData]:
        """Build the standard form of ``problem`` and the data to invert a solver's answer."""
        ...

    def invert(self, result: LPResult, inverse_data: InverseData) -> Inverted:
        """Map a backend's answer back to plans, potentials and certified bounds."""
        ...


class LPFormulationBase:
    """``apply``/``invert`` on top of a formulation's ``build`` and ``read``."""

    name: str = "lp"

    def build(self, problem: Any, memory_limit_bytes: int | None = None) -> StandardLP:  # pragma: no cover
        raise NotImplementedError

    def read(self, problem: Any, lp: StandardLP, res: LPResult) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def apply(self, problem: Any, memory_limit_bytes: int | None = None) -> tuple[StandardLP, InverseData]:
        """:meth:`build`, timed, with its :class:`InverseData`."""
        t0 = time.perf_counter()
        lp = self.build(problem, memory_limit_bytes=memory_limit_bytes)
        return lp, InverseData(problem=problem, formulation=self.name, lp=lp, meta=lp.meta, n_cols=lp.n_cols,
                               n_rows=lp.n_rows, nnz=int(lp.A.nnz), build_time_s=time.perf_counter() - t0)

    def invert(self, result: LPResult, inverse_data: InverseData) -> Inverted:
        """:meth:`read` of the answer, as :class:`Inverted`."""
        return Inverted.from_fields(result, self.read(inverse_data.problem, inverse_data.lp, result))
