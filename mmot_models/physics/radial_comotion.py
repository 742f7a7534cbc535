"""Radial co-motion functions and what follows from them: the exact N = 2 map and value
(:func:`comotion_n2`, :func:`sce_value_n2`), the SGS ansatz (Seidl, Gori-Giorgi, Savin, PRA 75,
042511 (2007): :func:`sgs_comotion`, :func:`sgs_value`, an upper bound of the SCE energy), its grid
plan, the radial forces and the Kantorovich potential (:func:`potential_from_comotion`)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import MMOTInputError
from .densities import RadialDensity
from .radial_cost import radial_cost, radial_cost_general, radial_cost_n2, radial_cost_n3

__all__ = ["comotion_n2", "sce_value_n2", "sgs_comotion", "sgs_value", "sgs_grid_plan", "radial_force",
           "potential_from_comotion"]


# ------------------------------------------------------------------------------------------- co-motion
def comotion_n2(density: RadialDensity, r: np.ndarray) -> np.ndarray:
    """Radial co-motion map of N=2: ``f(r) = Lambda^{-1}(1 - Lambda(r))`` (antipodal direction)."""
    return density.quantile(1.0 - density.cdf(np.asarray(r, dtype=float)))


def _gl_panels(breaks: np.ndarray, n_per_panel: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n_per_panel)
    a, b = breaks[:-1, None], breaks[1:, None]
    t = 0.5 * (b - a) * x[None, :] + 0.5 * (a + b)
    return t.reshape(-1), (0.5 * (b - a) * w[None, :]).reshape(-1)


def sce_value_n2(density: RadialDensity, n_panels: int = 200, n_per_panel: int = 8) -> float:
    """Exact N=2 SCE energy from the radial map: ``V = 2 int_0^{1/2} dt / (Q(t) + Q(1-t))``.

    Gauss-Legendre on ``n_panels`` panels of ``[0, 1/2]`` graded towards ``t = 0`` (where ``Q``
    behaves like ``t^{1/3}``).  Independent of any LP.
    """
    s = np.linspace(0.0, 1.0, n_panels + 1)
    breaks = 0.5 * s ** 3
    t, w = _gl_panels(breaks, n_per_panel)
    q = density.quantile(np.concatenate([t, 1.0 - t]))
    return float(2.0 * np.sum(w * radial_cost_n2(q[:t.size], q[t.size:])))


def sgs_comotion(density: RadialDensity, r: np.ndarray, n_electrons: int | None = None) -> np.ndarray:
    """SGS radial co-motion functions ``f_1 = id, f_2, ..., f_N`` at radii ``r`` (shape ``(N, m)``).

    With ``N_e(r) = N Lambda(r)`` and ``a_k = N_e^{-1}(k)``:

    .. math::
        f_{2k}(r) = N_e^{-1}(2k - N_e(r))\\ (r \\le a_{2k}),\\quad N_e^{-1}(N_e(r) - 2k)\\ (r > a_{2k}),\\\\
        f_{2k+1}(r) = N_e^{-1}(N_e(r) + 2k)\\ (r \\le a_{N-2k}),\\quad N_e^{-1}(2N - 2k - N_e(r))\\ (r > a_{N-2k}).

    The sum of the push-forwards of ``lambda`` by ``f_1..f_N`` is ``N lambda``, so the symmetrised
    plan is feasible; for N=2 this is the exact map :func:`comotion_n2`.
    """
    N = int(n_electrons or density.n_electrons)
    r = np.asarray(r, dtype=float)
    Ne = N * density.cdf(r)
    out = [r]
    for i in range(2, N + 1):
        if i % 2 == 0:
            k2 = i
            s = np.where(Ne <= k2, k2 - Ne, Ne - k2)
        else:
            k2 = i - 1
            s = np.where(Ne <= N - k2, Ne + k2, 2 * N - k2 - Ne)
        out.append(density.quantile(np.clip(s / N, 0.0, 1.0)))
    return np.stack(out)


def sgs_value(density: RadialDensity, n_electrons: int | None = None, n_panels: int | None = None,
              n_per_panel: int = 8, sweeps: int = 20, **cost_options) -> float:
    """Energy of the SGS radial plan, ``int_0^1 c~(Q(t), f_2(Q(t)), ..., f_N(Q(t))) dt``.

    An upper bound of the SCE energy (a feasible plan; ``c~`` from local minimisation is itself an
    upper bound), exact for N=2.  Gauss-Legendre on ``n_panels`` panels of each ``[k/N, (k+1)/N]``
    (default 24 for N <= 4, 8 for N <= 6, 4 beyond: the angular minimisations dominate the cost;
    Ne: 4 and 8 panels differ by 5e-5 hartree).  For N >= 4 the distinct multisets, ordered
    along the curve, are minimised with up to ``sweeps`` continuation sweeps
    (:func:`_continued_minimum`).
    """
    N = int(n_electrons or density.n_electrons)
    if n_panels is None:
        n_panels = 24 if N <= 4 else (8 if N <= 6 else 4)
    if N == 2:
        return sce_value_n2(density)
    breaks = np.concatenate([np.linspace(k / N, (k + 1) / N, n_panels + 1)[:-1] for k in range(N)] + [[1.0]])
    t, w = _gl_panels(breaks, n_per_panel)
    r = density.quantile(t)
    f = np.sort(sgs_comotion(density, r, N).T, axis=1)
    # the SGS multisets repeat between the intervals [k/N, (k+1)/N]: minimise each distinct one once
    _, first, inv = np.unique(np.round(f, 10), axis=0, return_index=True, return_inverse=True)
    if N <= 3:
        c = radial_cost(f[first], **cost_options)
    else:
        order = np.argsort(first)  # distinct multisets in the order of t: neighbours are similar
        rows = f[first][order]
        c_ord = _continued_minimum(rows, max_sweeps=sweeps, **cost_options)
        c = np.empty_like(c_ord)
        c[order] = c_ord
    return float(np.sum(w * c[inv.reshape(-1)]))


def _continued_minimum(rows: np.ndarray, max_sweeps: int = 20, **cost_options) -> np.ndarray:
    """Angular minima of radii ``rows`` ordered along a path (SGS curve): multi-start first, then
    sweeps restarting every row from the optimal directions of its two neighbours until no row
    improves (continuation; finds lower local minima than many more random starts for N=10)."""
    c, u = radial_cost_general(rows, return_vectors=True, **cost_options)
    opts = {k: v for k, v in cost_options.items() if k != "n_starts"}
    for _ in range(max_sweeps):
        st = np.stack([np.roll(u, 1, axis=0), np.roll(u, -1, axis=0)], axis=1)
        c2, u2 = radial_cost_general(rows, n_starts=0, starts=st, return_vectors=True, **opts)
        better = c2 < c * (1 - 1e-13)
        if not better.any():
            break
        c = np.where(better, c2, c)
        u = np.where(better[:, None, None], u2, u)
    return c


def sgs_grid_plan(n_points: int, n_electrons: int) -> tuple[np.ndarray, np.ndarray]:
    """The SGS co-motion plan on an equal-mass (``"quantile"``) radial grid of ``L`` cells.

    In the coordinate ``s = N t`` (``t`` the cumulative mass) the SGS maps are reflections and
    shifts by integers, so when ``N`` divides ``2L`` they map cell centres ``t_k = (k + 1/2)/L``
    onto cell centres.  Returns index rows ``(L, N)`` (``f_1 = id`` first) and weights ``1/L``: a
    feasible plan of the discrete radial problem, hence an upper bound of its LP optimum.
    """
    L, N = int(n_points), int(n_electrons)
    if (2 * L) % N:
        raise MMOTInputError(f"the SGS grid plan needs N | 2L (N={N}, L={L}); choose L a multiple of N")
    s = N * (np.arange(L) + 0.5) / L
    cols = [s]
    for i in range(2, N + 1):
        if i % 2 == 0:
            cols.append(np.where(s <= i, i - s, s - i))
        else:
            k2 = i - 1
            cols.append(np.where(s <= N - k2, s + k2, 2 * N - k2 - s))
    idx = np.floor(np.stack(cols, axis=1) * L / N).astype(np.int64)
    return np.clip(idx, 0, L - 1), np.full(L, 1.0 / L)


# ------------------------------------------------------------------------------------------- potential
def radial_force(radii: np.ndarray, **cost_options) -> np.ndarray:
    """``d c~ / d r_1`` at ``(r_1, ..., r_N)`` rows (envelope theorem: the derivative of the
    Coulomb energy along ``u_1`` at the optimal directions); ``-1/(r_1+r_2)^2`` for N=2."""
    r = np.atleast_2d(np.asarray(radii, dtype=float))
    N = r.shape[1]
    if N == 2:
        return -radial_cost_n2(r[:, 0], r[:, 1]) ** 2
    if N == 3:
        _, ang = radial_cost_n3(r, return_angles=True, **cost_options)
        th = np.concatenate([np.zeros((r.shape[0], 1)), ang], axis=1)
        u = np.stack([np.cos(th), np.sin(th), np.zeros_like(th)], axis=-1)
    else:
        _, u = radial_cost_general(r, return_vectors=True, **cost_options)
    x = r[:, :, None] * u
    diff = x[:, :1, :] - x[:, 1:, :]
    d = np.linalg.norm(diff, axis=-1)
    return -np.sum(np.einsum("mjk,mk->mj", diff, u[:, 0]) / d ** 3, axis=1)


def potential_from_comotion(density: RadialDensity, r: np.ndarray, comotion: Callable[[np.ndarray], np.ndarray],
                            value: float, r_far: float | None = None, n_quad: int = 4000,
                            **cost_options) -> tuple[np.ndarray, np.ndarray]:
    """Kantorovich potential ``u(r)`` from co-motion functions by integrating the force.

    ``u'(r) = d c~/d r_1 (r, f_2(r), ..., f_N(r))``; ``u(r) = u_inf - int_r^inf u'``, with the
    constant fixed by the dual value ``N int u lambda = V``.  Returns ``(u(r), -r^2 u'(r))``; the
    latter tends to ``N - 1`` as ``r -> inf`` (the SCE potential's ``(N-1)/r`` tail).
    """
    r = np.asarray(r, dtype=float)
    R = float(r_far if r_far is not None else max(density.r_max, float(r.max())))
    s = np.concatenate([[0.0], np.geomspace(1e-6, R, n_quad)])
    f = comotion(s)
    N = f.shape[0]
    du = radial_force(np.stack([s] + [f[i] for i in range(1, N)], axis=1), **cost_options)
    # v(s) = u(s) - u(R) = int_s^R (-u') (trapezoid from the far end); tail beyond R ~ (N-1)/R
    seg = 0.5 * (du[1:] + du[:-1]) * np.diff(s)
    v = np.concatenate([np.cumsum(-seg[::-1])[::-1], [0.0]]) + (N - 1) / R
    lam = density.radial_marginal(s)
    mean_v = float(np.sum(0.5 * (lam[1:] * v[1:] + lam[:-1] * v[:-1]) * np.diff(s)))
    u_inf = value / N - mean_v
    u = np.interp(r, s, v) + u_inf
    tail = -r * r * np.interp(r, s, du)
    return u, tail
