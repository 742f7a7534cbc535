"""Linear expressions over a model's plan columns, and the constraints they make.

A :class:`LinearExpr` is ``a^T x + b`` with ``a`` a dense coefficient vector over the model's
columns (one float per column: cheap next to the LP itself) and ``b`` a constant.  Comparisons
``<=``, ``>=``, ``==`` with a number or another expression of the same model give a
:class:`Constraint` ``lower <= a^T x <= upper`` (the constant moved to the bounds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..errors import MMOTInputError

__all__ = ["LinearExpr", "Constraint"]


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (Real, np.floating, np.integer)) and not isinstance(v, bool)


class LinearExpr:
    """``coef^T x + constant`` over the columns of one :class:`~mmot_models.modeling.Model`.

    Built by :meth:`PlanVariable.expectation`, :meth:`PlanVariable.mass` or ``m.plan[t]``; supports
    ``+``, ``-``, multiplication and division by a scalar, and ``<=``, ``>=``, ``==``.
    """

    __slots__ = ("coef", "constant", "owner")
    __hash__ = None  # type: ignore[assignment]  # == builds a Constraint

    def __init__(self, coef: np.ndarray, constant: float, owner: int) -> None:
        self.coef = np.asarray(coef, dtype=float)
        self.constant = float(constant)
        self.owner = owner

    # --------------------------------------------------------------- arithmetic
    def _other(self, other: Any) -> "LinearExpr":
        if isinstance(other, LinearExpr):
            if other.owner != self.owner:
                raise MMOTInputError("the expressions belong to different models; build both from the same Model")
            return other
        if _is_scalar(other):
            return LinearExpr(np.zeros_like(self.coef), float(other), self.owner)
        raise MMOTInputError(f"cannot combine a linear expression with {type(other).__name__}; "
                             "use numbers or expressions of the same model")

    def __add__(self, other: Any) -> "LinearExpr":
        o = self._other(other)
        return LinearExpr(self.coef + o.coef, self.constant + o.constant, self.owner)

    __radd__ = __add__

    def __sub__(self, other: Any) -> "LinearExpr":
        o = self._other(other)
        return LinearExpr(self.coef - o.coef, self.constant - o.constant, self.owner)

    def __rsub__(self, other: Any) -> "LinearExpr":
        return self._other(other) - self

    def __neg__(self) -> "LinearExpr":
        return LinearExpr(-self.coef, -self.constant, self.owner)

    def __mul__(self, k: Any) -> "LinearExpr":
        if not _is_scalar(k):
            raise MMOTInputError("a linear expression can only be multiplied by a number (the model is linear)")
        return LinearExpr(self.coef * float(k), self.constant * float(k), self.owner)

    __rmul__ = __mul__

    def __truediv__(self, k: Any) -> "LinearExpr":
        if not _is_scalar(k) or float(k) == 0.0:
            raise MMOTInputError("a linear expression can only be divided by a non-zero number")
        return self * (1.0 / float(k))

    # --------------------------------------------------------------- comparisons
    def _constraint(self, other: Any, lower: bool, upper: bool) -> "Constraint":
        d = self - self._other(other)  # d.coef^T x + d.constant  (cmp)  0
        if not np.all(np.isfinite(d.coef)) or not math.isfinite(d.constant):
            raise MMOTInputError("a constraint has NaN or infinite coefficients; check the function or threshold")
        lo = -d.constant if lower else -math.inf
        up = -d.constant if upper else math.inf
        return Constraint(d.coef, lo, up, self.owner)

    def __le__(self, other: Any) -> "Constraint":
        return self._constraint(other, lower=False, upper=True)

    def __ge__(self, other: Any) -> "Constraint":
        return self._constraint(other, lower=True, upper=False)

    def __eq__(self, other: Any) -> "Constraint":  # type: ignore[override]
        return self._constraint(other, lower=True, upper=True)

    def value(self, x: np.ndarray) -> float:
        """The expression at the column values ``x``."""
        return float(self.coef @ np.asarray(x, dtype=float) + self.constant)

    def __repr__(self) -> str:
        return f"LinearExpr({np.count_nonzero(self.coef)} nonzero coefficients, constant={self.constant:g})"


@dataclass(frozen=True, eq=False)
class Constraint:
    """``lower <= coef^T x <= upper`` over one model's columns (what a comparison returns)."""

    coef: np.ndarray
    lower: float
    upper: float
    owner: int

    def __bool__(self) -> bool:
        raise MMOTInputError("a model constraint has no truth value; pass it to Model.add_constraint")
