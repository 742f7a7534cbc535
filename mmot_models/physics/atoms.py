"""SCE energies of atoms from their radial densities: radial LP, co-motion functions, potentials.

:func:`sce_energy` turns a spherically symmetric density (a shipped Hartree-Fock atom, the Bohr
atom, or any :class:`~mmot_models.physics.densities.RadialDensity`) into the radial N-marginal
problem of :mod:`mmot_models.physics.radial` and solves it:

* ``method="auto"`` / ``"symmetric"`` / ``"primal"`` / ``"colgen"``: the exact LP on a radial grid
  (certified ``lower_bound <= optimum of the discrete radial problem <= upper_bound``); the
  discretisation error against the continuum is estimated in ``info`` from the independent
  co-motion value (closed form for N=2, SGS ansatz for N>2).
* ``method="comotion"``: the continuum value of the radial co-motion plan -- exact for N=2
  (``V = int dt / (Q(t) + Q(1-t))``), the SGS upper bound for N>2 -- evaluated by quadrature
  without an error bound, so labelled ``Bound.ESTIMATE`` (only the variance lower bound is certified).

``auto`` uses the LP for N <= 4 and the co-motion (SGS) upper bound beyond (the N>4 radial LP
needs ``binom(L+N-1, N)`` angular minimisations).

Certificate caveat: for N >= 3 the effective cost is computed by angular minimisation; the value
used is the energy of an actual configuration, i.e. ``>= c~`` (equal to it within
:data:`~mmot_models.physics.radial.N3_ACCURACY` for N=3 and for N=4 in our checks).  The LP bounds
certify the radial problem *with these computed costs*.

Published SGS-ansatz values (Seidl, Gori-Giorgi, Savin 2007, from accurate densities) are in
:data:`PUBLISHED_SGS` for comparison.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MMOTInputError, ProblemTooLargeError
from ..problem import MMOTProblem
from ..solution import Bound, Solution, Status
from .densities import RadialDensity, atomic_density
from .radial import GRID_BYTES_PER_POINT
from .radial import (comotion_n2, effective_radial_cost, potential_from_comotion, radial_grid,
                     radial_pair_cost, sce_value_n2, sgs_comotion, sgs_value)

__all__ = ["sce_energy", "PUBLISHED_SGS", "DEFAULT_POINTS", "comotion_functions", "kantorovich_potential",
           "variance_bound",
           "support_pairs", "plot_atom", "LP_METHODS"]

#: Published SGS (Seidl, Gori-Giorgi, Savin) V_ee^SCE values in hartree (upper bounds for N > 2).
PUBLISHED_SGS: dict[str, float] = {"He": 0.5517, "Be": 3.1517, "Ne": 46.06}
#: Default radial grid sizes per N for the LP (fast: seconds).
DEFAULT_POINTS: dict[int, int] = {2: 200, 3: 40, 4: 16}
LP_METHODS = ("auto", "symmetric", "primal", "colgen", "symmetric_dual", "dual")
#: Largest N for which ``auto`` solves the radial LP.
AUTO_LP_MAX_N = 4


def _density(atom: str | RadialDensity, n_electrons: int | None) -> RadialDensity:
    if isinstance(atom, RadialDensity):
        if n_electrons is not None and int(n_electrons) != atom.n_electrons:
            raise MMOTInputError(f"the density has {atom.n_electrons} electrons, not {n_electrons}")
        return atom
    return atomic_density(atom, n_electrons)


def _atom_label(atom: str | RadialDensity, density: RadialDensity) -> str:
    return atom if isinstance(atom, str) else density.name


def _published(label: str) -> float | None:
    for k, v in PUBLISHED_SGS.items():
        if k.lower() == label.strip().lower():
            return v
    return None


def _comotion_solution(density: RadialDensity, label: str, t0: float, **cost_options: Any) -> Solution:
    N = density.n_electrons
    if N == 2:
        v = sce_value_n2(density)
        v_coarse = sce_value_n2(density, n_panels=100)
        err = max(abs(v - v_coarse), 1e-12)
        # the quadrature error is estimated (two panel counts), not bounded: no certified bracket
        return Solution(value=v, status=Status.CONVERGED, method="radial_comotion", backend="quadrature",
                        bound=Bound.ESTIMATE, wall_time_s=time.perf_counter() - t0,
                        message="continuum N=2 value of the exact radial co-motion map by quadrature (an "
                                "estimate: info['quadrature_error'] is the difference to a coarser rule, not a bound)",
                        info={"atom": label, "n_electrons": N, "quadrature_error": err,
                              "estimate_bracket": (v - err, v + err), "published_sgs": _published(label)})
    v = sgs_value(density, **cost_options)
    lower = variance_bound(density)
    # The SGS co-motion plan is feasible, so its *exact* cost bounds V_ee^SCE from above; ``v`` is that
    # cost by quadrature, without an error bound (N=4 Bohr: 9.6e-7 below the published value), so it is
    # an estimate, not a certified upper bound.
    return Solution(value=v, status=Status.CONVERGED, method="radial_sgs", backend="quadrature",
                    lower_bound=lower, bound=Bound.ESTIMATE, wall_time_s=time.perf_counter() - t0,
                    message="continuum SGS co-motion plan by quadrature: an estimate of an upper bound of "
                            "V_ee^SCE (no quadrature error bound; angular minima: best of several starts and "
                            "continuation sweeps); certified lower bound from the variance of rho/N",
                    info={"atom": label, "n_electrons": N, "published_sgs": _published(label),
                          "comotion_upper_estimate": v,
                          "lower_bound_kind": "variance bound P sqrt((N-1)/(2N <r^2>))"})


def variance_bound(density: RadialDensity) -> float:
    """Certified (weak) lower bound ``P sqrt((N-1) / (2 N Var))``, ``P = N(N-1)/2``, ``Var = <r^2>``
    of ``rho/N`` (mean 0 by symmetry); see :func:`mmot_models.physics.reference.variance_lower_bound`."""
    from .densities import _cell_integrals

    N = density.n_electrons
    edges = np.concatenate([[0.0], np.geomspace(1e-6, density.r_max, 4000)])
    var = float(np.sum(_cell_integrals(lambda r: r * r * density.radial_marginal(r), edges)))
    return N * (N - 1) / 2 * math.sqrt((N - 1) / (2 * N * var))


def sce_energy(atom: str | RadialDensity, n_electrons: int | None = None, points: int | None = None,
               method: str = "auto", grid: str | None = None, backend: str = "highs", reference: bool = True,
               cost_options: dict[str, Any] | None = None, max_configurations: int = 50_000,
               **options: Any) -> Solution:
    """Strictly-correlated-electrons energy ``V_ee^SCE`` of a spherically symmetric atom.

    Parameters
    ----------
    atom : str or RadialDensity
        ``"He"``, ``"Li"``, ``"Be"``, ``"Ne"`` (shipped HF densities), ``"bohr"`` (Bohr atom with
        ``n_electrons``, default 2) or a density object.
    n_electrons : int, optional
        Only for ``bohr`` (must match otherwise).
    points : int, optional
        Radial grid size for LP methods (default :data:`DEFAULT_POINTS`).
    method : str
        ``auto``, an LP method of :func:`mmot_models.solve` (``symmetric``, ``primal``, ``colgen``,
        ...), or ``comotion`` (continuum co-motion value: exact N=2, SGS bound N>2).
    grid : {"quantile", "uniform", "graded"}, optional
        Radial grid kind (:func:`~mmot_models.physics.radial.radial_grid`).  Default: ``graded``
        for N=2 (second-order convergence of the LP value), ``quantile`` (equal mass) for N>2
        (the SGS plan is then a grid plan, and the LP equals it).
    reference : bool
        Also compute the continuum co-motion value (``info["comotion_value"]``) and the
        difference to the LP (``info["discretisation_gap"]``).
    cost_options : dict, optional
        Passed to the angular minimisation (e.g. ``{"n_starts": 16}``).
    max_configurations : int
        For N >= 4 refuse LPs needing more angular minimisations (multisets) than this.
    **options
        Passed to :func:`mmot_models.solve` (``time_limit``, ``threads``, ...).

    Returns
    -------
    Solution
        ``value``, ``lower_bound``, ``upper_bound`` on the full scale ``E[sum_{i<j} 1/|x_i - x_j|]``
        (hartree); ``info`` holds the atom, grid, published SGS value and references.
    """
    t0 = time.perf_counter()
    density = _density(atom, n_electrons)
    label = _atom_label(atom, density)
    N = density.n_electrons
    if N < 2:
        raise MMOTInputError(f"{label} has {N} electron(s); SCE needs at least 2")
    copts = dict(cost_options or {})
    if method == "comotion" or (method == "auto" and N > AUTO_LP_MAX_N):
        return _comotion_solution(density, label, t0, **copts)
    if method not in LP_METHODS:
        raise MMOTInputError(f"unknown method {method!r} for atoms; choose comotion or one of {', '.join(LP_METHODS)}")
    from ..solve import solve

    L = int(points) if points is not None else DEFAULT_POINTS.get(N, 12)
    check_radial_fits(L, N, options.get("memory_limit_bytes", options.get("memory_limit_gb")),
                      gigabytes="memory_limit_gb" in options and "memory_limit_bytes" not in options)
    if N >= 4:
        from ..formulations.multisets import multiset_count
        n_cfg = multiset_count(L, N, False)
        if n_cfg > max_configurations:
            raise MMOTInputError(
                f"the radial LP for N={N} on {L} points needs {n_cfg} angular minimisations (limit "
                f"{max_configurations}, ~3 ms each); use fewer points, method='comotion', or raise "
                "max_configurations")
    grid = grid or ("graded" if N == 2 else "quantile")
    g = radial_grid(density, L, kind=grid)
    cost = radial_pair_cost() if N == 2 else effective_radial_cost(N, **copts)
    problem = MMOTProblem.symmetric(g.marginal(), N, cost, name=f"{label} radial N={N} L={L}")
    sol = solve(problem, method=method, backend=backend, **options)
    info = dict(sol.info)
    info.update({"atom": label, "density": density.name, "n_electrons": N, "grid": grid, "points": L,
                 "grid_tail_mass": g.tail_mass, "published_sgs": _published(label)})
    if N > 2:
        info["cost_evaluations"] = int(getattr(cost.fn, "evaluations", 0))
    if reference:
        ref = sce_value_n2(density) if N == 2 else (sgs_value(density, **copts) if N <= 4 else None)
        if ref is not None:
            info["comotion_value"] = ref
            info["comotion_kind"] = "exact radial map" if N == 2 else "SGS ansatz (upper bound)"
            info["discretisation_gap"] = float(sol.value - ref)
    info["radial_grid"] = g
    return dataclasses.replace(sol, info=info, wall_time_s=time.perf_counter() - t0)


def radial_lp_bytes(n_points: int, n_electrons: int) -> int:
    """Least memory of any radial LP on ``n_points`` (integer arithmetic): the grid, plus the dense
    ``L x L`` pair-cost matrix (N = 2) or the enumerated multiset LP (N >= 3, N-ary cost)."""
    from ..formulations.multisets import multiset_count
    from ..formulations.standard_lp import LPSize

    L, N = int(n_points), int(n_electrons)
    grid = GRID_BYTES_PER_POINT * L
    if N == 2:
        return grid + 8 * L * L
    M = multiset_count(L, N, False)
    return grid + LPSize(M, L, M * N).bytes


def check_radial_fits(n_points: int, n_electrons: int, memory_limit: float | None = None,
                      gigabytes: bool = False) -> None:
    """Refuse, before the grid is built, a radial LP that cannot fit in memory (size and a way out)."""
    from ..formulations.standard_lp import MEMORY_FRACTION, available_memory_bytes, format_bytes, format_count

    if memory_limit is None:
        limit = int(MEMORY_FRACTION * available_memory_bytes())
    else:
        limit = int(float(memory_limit) * (2**30 if gigabytes else 1))
    need = radial_lp_bytes(n_points, n_electrons)
    if need > limit:
        what = "an L x L pair-cost matrix" if int(n_electrons) == 2 else "the enumerated multiset LP"
        raise ProblemTooLargeError(
            f"the radial LP on {format_count(n_points)} points needs {what} (~{format_bytes(need)}) but only "
            f"{format_bytes(limit)} may be used; use fewer points (default {DEFAULT_POINTS.get(int(n_electrons), 12)})"
            f" or method='comotion' (continuum co-motion value)")


# ----------------------------------------------------------------------------- co-motion and potential
def comotion_functions(density: RadialDensity, r: np.ndarray) -> np.ndarray:
    """Radial co-motion functions ``(N, m)`` at ``r``: the exact map for N=2, SGS for N>2."""
    if density.n_electrons == 2:
        return np.stack([np.asarray(r, dtype=float), comotion_n2(density, r)])
    return sgs_comotion(density, r)


def kantorovich_potential(density: RadialDensity, r: np.ndarray, value: float | None = None, n_quad: int = 4000,
                          **cost_options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kantorovich potential ``u(r)`` of the co-motion plan and ``-r^2 u'(r)`` (tends to ``N - 1``).

    ``value`` fixes the additive constant (``N int u lambda = V``; default: the co-motion value).
    """
    if value is None:
        value = sce_value_n2(density) if density.n_electrons == 2 else sgs_value(density, **cost_options)
    return potential_from_comotion(density, r, lambda s: comotion_functions(density, s), value, n_quad=n_quad,
                                   **cost_options)


def support_pairs(sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered radius pairs ``(r_i, r_j, weight)`` of the LP plan (the support of the pair density)."""
    if sol.plan_indices is None or sol.problem is None:
        raise MMOTInputError("this solution carries no plan")
    P = sol.pair_density(0, 1)
    a, b = np.nonzero(P > 1e-12)
    r = sol.problem.marginals[0].points[:, 0]
    return r[a], r[b], P[a, b]


# ----------------------------------------------------------------------------- plots
def plot_atom(density: RadialDensity, sol: Solution | None, path: str | Path, title: str | None = None) -> Path:
    """Three panels: radial marginal, co-motion functions (with the LP plan's support), potential."""
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    N = density.n_electrons
    rmax = density.radius_containing(0.999)
    r = np.linspace(1e-3, rmax, 400)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    ax[0].plot(r, density.radial_marginal(r) * N)
    ax[0].set_xlabel("r (bohr)")
    ax[0].set_ylabel(r"$4\pi r^2\rho(r)$")
    ax[0].set_title(f"{density.name}: radial density")
    f = comotion_functions(density, r)
    if sol is not None and sol.plan_indices is not None:
        ra, rb, w = support_pairs(sol)
        ax[1].scatter(ra, rb, s=4 + 30 * w / w.max(), c="0.55", label="LP plan support (pairs)", zorder=1)
    for i in range(1, N):
        ax[1].plot(r, f[i], lw=1.5, label=f"$f_{i + 1}$" + (" (exact)" if N == 2 else " (SGS)"), zorder=2)
    ax[1].set_xlim(0, rmax)
    ax[1].set_ylim(0, rmax)
    ax[1].set_xlabel("r")
    ax[1].set_ylabel("co-motion radius")
    ax[1].legend(fontsize=8)
    ax[1].set_title("radial co-motion functions")
    rp = np.linspace(0.05, 3 * rmax, 300)
    val = None
    if sol is not None and math.isfinite(sol.value):
        val = sol.value
    u, tail = kantorovich_potential(density, rp, value=val, n_quad=4000 if N <= 3 else 400)
    ax[2].plot(rp, u, label="u(r) from co-motion")
    if sol is not None and sol.potentials is not None and sol.problem is not None:
        ax[2].plot(sol.problem.marginals[0].points[:, 0], sol.potentials[0], ".", ms=4, label="LP dual potential")
    far = rp >= 0.5 * rmax
    ax[2].plot(rp[far], u[-1] + (N - 1) / rp[far] - (N - 1) / rp[-1], "--", lw=1.2, label=f"({N}-1)/r + const")
    span = float(u.max() - u.min())
    ax[2].set_ylim(u.min() - 0.1 * span, u.max() + 0.1 * span)
    ax[2].set_xlabel("r")
    ax[2].set_ylabel("Kantorovich potential")
    ax[2].legend(fontsize=8)
    ax[2].set_title(f"potential; -r^2 u'(r) at r={rp[-1]:.1f}: {tail[-1]:.3f}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
