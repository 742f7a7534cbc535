"""The moment-constrained OT problem (:class:`MCOTProblem`) and the cost of configurations
(:func:`config_cost`): data only, nothing solved."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..costs import NaryCost, PairCost, cost_from_spec
from ..errors import MMOTInputError
from ..problem import Marginal, MMOTProblem, as_points
from .densities import Density, integrate, moments_of
from .families import QUAD_ORDER, TestFamily, family_from_spec

__all__ = ["MCOTProblem", "config_cost"]


# --------------------------------------------------------------------------- costs on configurations
def config_cost(cost: PairCost | NaryCost | Callable, configs: np.ndarray) -> np.ndarray:
    """Cost of configurations ``(m, N, d)`` -> ``(m,)``: a pair cost is summed over pairs ``i < j``."""
    configs = np.asarray(configs, dtype=float)
    m, N, _ = configs.shape
    if isinstance(cost, NaryCost):
        return cost.evaluate(configs)
    if isinstance(cost, PairCost):
        out = np.zeros(m)
        for i in range(N):
            for j in range(i + 1, N):
                out += _pair_values(cost, configs[:, i], configs[:, j])
        return out
    if callable(cost):
        if N == 2:
            out = np.asarray(cost(configs[:, 0], configs[:, 1]), dtype=float).reshape(-1)
        else:
            out = np.asarray(cost(configs), dtype=float).reshape(-1)
        if out.shape[0] != m:
            raise MMOTInputError(f"the cost returned {out.shape[0]} values for {m} configurations; "
                                 "a callable cost must be vectorised: c(X, Y) -> (m,) for N = 2, c(C (m, N, d)) else")
        return out
    raise MMOTInputError(f"unsupported cost {cost!r}")


def _pair_values(cost: PairCost, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from ..costs import CallablePairCost

    if not isinstance(cost, CallablePairCost):
        r = np.sqrt(np.einsum("ij,ij->i", x - y, x - y))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return np.asarray(cost.of_distance(r), dtype=float)
    out = np.empty(x.shape[0])
    step = 512
    for s in range(0, x.shape[0], step):  # the user's fn gives matrices: take diagonals in blocks
        out[s:s + step] = np.diagonal(cost.matrix(x[s:s + step], y[s:s + step]))
    return out


# --------------------------------------------------------------------------- the problem
def _theta_default(r: np.ndarray) -> np.ndarray:
    return r * r


@dataclass(frozen=True, eq=False)
class MCOTProblem:
    r"""Moment-constrained optimal transport problem (paper, (2.1.3), (3.3.3), (3.3.6), (3.3.13)).

    .. math::
        I = \min_{\gamma \in \mathcal P(X_1 \times \dots \times X_N)} \int c\, d\gamma
        \quad\text{s.t.}\quad \int \phi^i_m(x_i)\, d\gamma = \int \phi^i_m\, d\mu_i\ \ \forall i, m,
        \qquad [\ \int \textstyle\sum_i \theta(|x_i|)\, d\gamma \le A\ ]

    ``symmetric=True`` (equal marginals and one family, symmetric cost) imposes only the averaged
    constraint :math:`\int \frac1N \sum_i \phi_m(x_i)\, d\gamma = \int \phi_m d\mu` (Prop. 3.5:
    same value, a minimiser with at most ``n + 2`` atoms whatever ``N``).  ``martingale`` (``N = 2``)
    adds :math:`\int y\, \chi_l(x)\, d\gamma = \int x\, \chi_l(x)\, d\mu` for the family ``chi``
    (Prop. 3.6; ``d`` rows per ``chi_l``).

    Parameters
    ----------
    marginals : sequence of Marginal, Density or sample arrays ``(m,)``/``(m, d)``
        Samples become an empirical :class:`~mmot_models.Marginal` (uniform weights).
    cost : PairCost, NaryCost, cost spec or callable
        A pair cost is summed over pairs; a callable is ``c(X, Y) -> (m,)`` for two marginals
        and ``c(C) -> (m,)`` on configurations ``(m, N, d)`` otherwise.
    families : TestFamily, spec string, or one per marginal
    """

    marginals: tuple
    cost: Any
    families: Any = "hats:10"
    symmetric: bool = False
    martingale: Any = None
    moment_bound: float | None = None
    theta: Callable[[np.ndarray], np.ndarray] | None = None
    name: str = "mcot"
    quadrature_order: int = QUAD_ORDER
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.marginals, (tuple, list)):
            raise MMOTInputError("MCOT marginals must be a tuple or list of Marginal, Density or point arrays, "
                                 f"got {type(self.marginals).__name__}")
        margs = []
        for m in self.marginals:
            if isinstance(m, (Marginal, Density)):
                margs.append(m)
            else:
                pts = as_points(m)
                margs.append(Marginal(pts, np.full(pts.shape[0], 1.0 / pts.shape[0])))
        if len(margs) < 2:
            raise MMOTInputError(f"MCOT needs at least 2 marginals, got {len(margs)}")
        dims = {m.dim for m in margs}
        if len(dims) != 1:
            raise MMOTInputError(f"marginals live in different dimensions {sorted(dims)}; use one dimension d")
        cost = self.cost
        if isinstance(cost, (str, dict)):
            cost = cost_from_spec(cost)
        elif not (isinstance(cost, (PairCost, NaryCost)) or callable(cost)):
            raise MMOTInputError("cost must be a PairCost, an NaryCost, a cost spec or a vectorised callable")
        if isinstance(cost, NaryCost) and cost.n_body != len(margs):
            raise MMOTInputError(f"N-ary cost is for {cost.n_body} bodies but there are {len(margs)} marginals")
        fams = self.families
        if isinstance(fams, (str, TestFamily)):
            fams = [fams] * len(margs)
        fams = list(fams)
        if len(fams) != len(margs):
            raise MMOTInputError(f"give one test-function family per marginal ({len(margs)}), got {len(fams)}")
        built = []
        for i, (f, m) in enumerate(zip(fams, margs)):
            lo, hi = self._box(m)
            built.append(family_from_spec(f, lo, hi, sites=m.points if isinstance(m, Marginal) else None))
            if built[-1].dim != m.dim:
                raise MMOTInputError(f"family {i} is {built[-1].dim}-dimensional but marginal {i} is {m.dim}-dimensional")
        if self.symmetric:
            m0 = margs[0]
            same = all(m is m0 or (isinstance(m, Marginal) and isinstance(m0, Marginal) and m0.same_as(m))
                       for m in margs[1:])
            if not same or any(f is not built[0] and type(f) is not type(built[0]) for f in built[1:]):
                raise MMOTInputError("symmetric MCOT needs identical marginals and one family; pass the same "
                                     "object N times or set symmetric=False")
            built = [built[0]] * len(margs)
            if isinstance(cost, NaryCost) and not cost.symmetric:
                raise MMOTInputError("symmetric MCOT needs a symmetric cost")
        chi = self.martingale
        if chi is not None:
            if len(margs) != 2:
                raise MMOTInputError("the martingale constraint needs exactly two marginals (x, y)")
            lo, hi = self._box(margs[0])
            chi = family_from_spec(chi, lo, hi)
        if self.moment_bound is not None and not (np.isfinite(self.moment_bound) and self.moment_bound > 0):
            raise MMOTInputError(f"moment_bound A must be a positive number, got {self.moment_bound}")
        object.__setattr__(self, "marginals", tuple(margs))
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "families", tuple(built))
        object.__setattr__(self, "martingale", chi)

    @staticmethod
    def _box(m: "Marginal | Density") -> tuple[np.ndarray, np.ndarray]:
        if isinstance(m, Density):
            return m.lows, m.highs
        return m.points.min(axis=0), m.points.max(axis=0)

    # ------------------------------------------------------------------ structure
    @property
    def n_marginals(self) -> int:
        return len(self.marginals)

    @property
    def dim(self) -> int:
        return self.marginals[0].dim

    def domain(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Box where candidate positions of marginal ``i`` are searched (union of marginal and family boxes)."""
        lo, hi = self._box(self.marginals[i])
        f = self.families[i]
        if f.lows is not None:
            lo, hi = np.minimum(lo, f.lows), np.maximum(hi, f.highs)
        return lo.astype(float), hi.astype(float)

    @property
    def singular_diagonal(self) -> bool:
        return bool(getattr(self.cost, "singular_diagonal", False))

    def n_moment_rows(self) -> int:
        """Number of moment equality rows (without the mass row)."""
        n = self.families[0].n_functions if self.symmetric else sum(f.n_functions for f in self.families)
        if self.martingale is not None:
            n += self.martingale.n_functions * self.dim
        return n

    def tchakaloff_bound(self) -> int:
        """Paper's bound on the atoms of a minimiser: moment rows + 2 (the +2: mass and the A row)."""
        return self.n_moment_rows() + 2

    # ------------------------------------------------------------------ moments
    def targets(self) -> list[np.ndarray]:
        """Right-hand sides ``int phi^i_m dmu_i`` (one array per marginal; one only when symmetric)."""
        if "targets" not in self._cache:
            idx = [0] if self.symmetric else range(self.n_marginals)
            self._cache["targets"] = [moments_of(self.families[i], self.marginals[i], self.quadrature_order)
                                      for i in idx]
        return self._cache["targets"]

    def martingale_target(self) -> np.ndarray | None:
        """``int x chi_l(x) dmu`` flattened as ``(l, coordinate)``; ``None`` without martingale."""
        if self.martingale is None:
            return None
        if "mart" not in self._cache:
            chi = self.martingale

            def f(x: np.ndarray) -> np.ndarray:
                return (chi.evaluate(x)[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)
            self._cache["mart"] = integrate(self.marginals[0], f, chi, self.quadrature_order)
        return self._cache["mart"]

    def theta_values(self, x: np.ndarray) -> np.ndarray:
        th = self.theta or _theta_default
        return np.asarray(th(np.sqrt(np.einsum("ij,ij->i", x, x))), dtype=float)

    def config_cost(self, configs: np.ndarray) -> np.ndarray:
        return config_cost(self.cost, configs)

    # ------------------------------------------------------------------ from a discrete problem
    @classmethod
    def from_mmot(cls, problem: MMOTProblem, families: Any = None, n_functions: int = 10,
                  symmetric: bool | None = None) -> "MCOTProblem":
        """MCOT relaxation of a discrete :class:`~mmot_models.MMOTProblem` (default: ``hats:n_functions``)."""
        fam = families if families is not None else f"hats:{int(n_functions)}"
        sym = problem.is_symmetric if symmetric is None else bool(symmetric)
        if sym:
            m0 = problem.marginals[0]
            lo, hi = cls._box(m0)
            f0 = family_from_spec(fam if isinstance(fam, (str, TestFamily)) else fam[0], lo, hi, sites=m0.points)
            return cls(tuple([m0] * problem.n_marginals), problem.cost, f0, symmetric=True, name=problem.name)
        return cls(problem.marginals, problem.cost, fam, symmetric=False, name=problem.name)

    def __repr__(self) -> str:
        fams = ", ".join(f"{f.name}[{f.n_functions}]" for f in (self.families[:1] if self.symmetric else self.families))
        return (f"MCOTProblem(name={self.name!r}, N={self.n_marginals}, d={self.dim}, families=({fams}), "
                f"symmetric={self.symmetric}, martingale={self.martingale is not None})")
