r"""The certificate of a model: a safe lower bound from ANY row duals, an upper bound from a checked plan.

For the LP

.. math::
    \min_x c^T x + c_0 \quad\text{s.t.}\quad r_\ell \le A x \le r_u,\qquad x_\ell \le x \le x_u

(``A`` holding every row: the formulation's, the blocks', the user's) and any vector of row duals
``y`` -- from any backend, optimal or not -- weak duality gives (Neumaier and Shcherbina 2004,
*Safe bounds in linear and mixed-integer linear programming*)

.. math::
    L(y) = c_0 + \sum_i \min(y_i r_{\ell,i},\, y_i r_{u,i}) + \sum_j \min(z_j x_{\ell,j},\, z_j x_{u,j}),
    \qquad z = c - A^T y,

with ``0 * inf = 0`` and ``L = -inf`` when a needed bound is infinite.  Plan columns have *implied*
finite upper bounds (``x_t <= min_k mu_k(t_k)`` for the primal, ``gamma_m <= min_s N mu_s / n_s(m)``
for the symmetric formulation; :func:`implied_column_upper`), valid while the marginal rows are
in the model, so a slightly infeasible dual still gives a finite valid bound.

Floating point: :func:`safe_lower_bound` is the package's one weak-duality function,
:func:`mmot_models.certificate.dual_lower_bound`: each ``z_j`` is enclosed by an a-priori
rounding bound ``gamma_{nnz_j + 2} (|c_j| + (|A|^T |y|)_j)`` (rounded outward), each term is the
worst corner of ``z_j`` over its enclosure times ``x_j`` over its bounds (a column with an infinite
bound and a possibly negative ``z_j`` on that side makes ``L = -inf``), ``y^T r`` is an exact dot
product, and the products' and the sum's rounding is charged.

Upper bound: ``c^T x + c_0`` of the returned plan only when it satisfies every row and column bound
to :data:`FEAS_REL_TOL` relative to the row's scale ``1 + |r| + (|A| |x|)_i``; otherwise ``inf``,
and the message names the violated block and row.  :func:`certify` puts both together; a status
is ``optimal`` only when the bracket closes by the package's one rule
(:func:`~mmot_models.solution.certify_status`: :data:`CERT_REL_TOL` relative to ``|value|``, with the
rounding level of the costs as the only absolute floor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..certificate import dual_lower_bound
from ..solution import CERT_REL_TOL
from ..formulations.standard_lp import StandardLP

__all__ = ["CERT_REL_TOL", "FEAS_REL_TOL", "Certificate", "safe_lower_bound", "plan_violation",
           "implied_column_upper", "certify"]

#: Row / bound violation, relative to the row's scale, below which a plan counts as feasible.
FEAS_REL_TOL = 1e-9


def _products(v: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``min(v lo, v up)`` elementwise with ``0 * inf = 0`` (``-inf`` where the needed bound is infinite)."""
    out = np.zeros_like(v)
    pos, neg = v > 0, v < 0
    with np.errstate(invalid="ignore", over="ignore"):
        out[pos] = v[pos] * lo[pos]
        out[neg] = v[neg] * up[neg]
    return out


def safe_lower_bound(lp: StandardLP, y: np.ndarray, col_lower: np.ndarray | None = None,
                     col_upper: np.ndarray | None = None) -> float:
    """Weak-duality lower bound ``L(y)`` of ``lp`` for any row duals ``y`` (see the module docstring).

    The package's one weak-duality function, :func:`mmot_models.certificate.dual_lower_bound`, with
    the LP's column bounds (no mass bound).

    Parameters
    ----------
    lp : StandardLP
        The LP with every row.
    y : ndarray, shape (n_rows,)
        Row duals in HiGHS's convention (``c - A^T y`` are the reduced costs).
    col_lower, col_upper : ndarray, optional
        Column bounds valid for every feasible point (default: the LP's own); pass the implied
        finite upper bounds of plan columns here.
    """
    y = np.asarray(y, dtype=float)
    if y.shape != (lp.n_rows,) or not np.all(np.isfinite(y)):
        return -math.inf
    xl = lp.col_lower if col_lower is None else np.asarray(col_lower, dtype=float)
    xu = lp.col_upper if col_upper is None else np.asarray(col_upper, dtype=float)
    return float(dual_lower_bound(lp.c, lp.A, y, lp.row_lower, lp.row_upper, col_lower=xl, col_upper=xu,
                                  offset=float(lp.offset)).bound)


def plan_violation(lp: StandardLP, x: np.ndarray) -> tuple[float, int, str]:
    """Largest violation of ``x`` relative to its row's (or column's) scale.

    Returns ``(violation, index, kind)`` with ``kind`` ``"row"`` or ``"column"`` (``index`` of the
    worst one; ``-1`` if nothing is violated).
    """
    x = np.asarray(x, dtype=float)
    ax = lp.A @ x
    scale = 1.0 + abs(lp.A) @ np.abs(x)
    with np.errstate(invalid="ignore"):
        rv = np.maximum(np.maximum(lp.row_lower - ax, ax - lp.row_upper), 0.0)
        rv = rv / (scale + np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0))
        cv = np.maximum(np.maximum(lp.col_lower - x, x - lp.col_upper), 0.0)
        cv = cv / (1.0 + np.abs(x))
    rv = np.nan_to_num(rv, nan=np.inf)
    cv = np.nan_to_num(cv, nan=np.inf)
    r = int(np.argmax(rv)) if rv.size else -1
    c = int(np.argmax(cv)) if cv.size else -1
    rmax = float(rv[r]) if r >= 0 else 0.0
    cmax = float(cv[c]) if c >= 0 else 0.0
    if max(rmax, cmax) <= 0.0:
        return 0.0, -1, ""
    return (rmax, r, "row") if rmax >= cmax else (cmax, c, "column")


def implied_column_upper(formulation: str, columns: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Finite upper bounds every feasible plan satisfies while the marginal rows hold.

    ``primal``: ``x_t <= min_k mu_k(t_k)``; ``symmetric``: ``gamma_m <= min_s N mu_s / n_s(m)``.
    """
    N = columns.shape[1]
    if formulation == "primal":
        return np.min(np.stack([weights[k][columns[:, k]] for k in range(N)], axis=1), axis=1)
    mu = weights[0]
    # n_s(m) for the site at each position of the multiset row (a loop over the N coordinates)
    counts = np.stack([(columns == columns[:, a:a + 1]).sum(axis=1) for a in range(N)], axis=1)
    return np.min(N * mu[columns] / counts, axis=1)


@dataclass(frozen=True)
class Certificate:
    """What :func:`certify` found."""

    lower_bound: float
    upper_bound: float
    primal_value: float
    violation: float
    message: str

    @property
    def gap(self) -> float:
        return self.upper_bound - self.lower_bound


def certify(lp: StandardLP, x: np.ndarray | None, y: np.ndarray | None, *,
            col_upper: np.ndarray | None = None,
            row_name: Callable[[int], str] | None = None,
            col_name: Callable[[int], str] | None = None) -> Certificate:
    """Lower bound from ``y``, upper bound from ``x`` (checked against every row and bound).

    ``col_upper`` are valid (implied) column upper bounds for the lower bound; ``row_name`` /
    ``col_name`` name a violated row or column in the message.
    """
    lower = -math.inf if y is None else safe_lower_bound(lp, y, col_upper=col_upper)
    upper, primal, viol, msgs = math.inf, math.nan, math.nan, []
    if x is not None:
        x = np.asarray(x, dtype=float)
        primal = math.fsum(lp.c * x) + float(lp.offset)
        viol, idx, kind = plan_violation(lp, x)
        if viol <= FEAS_REL_TOL:
            upper = primal
        else:
            what = (row_name(idx) if (kind == "row" and row_name) else
                    col_name(idx) if (kind == "column" and col_name) else f"{kind} {idx}")
            msgs.append(f"the plan violates {what} by {viol:.3g} (relative): no upper bound")
    else:
        msgs.append("the backend returned no plan: no upper bound")
    if y is None:
        msgs.append("the backend returned no row duals: no lower bound")
    elif not math.isfinite(lower):
        msgs.append("the row duals leave a reduced cost negative on an unbounded column: no lower bound")
    return Certificate(lower, upper, primal, viol, "; ".join(msgs))
