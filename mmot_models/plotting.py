"""Figures (the application layer: every function of the package that draws is here): optimal plans /
co-motion functions in 1D, pair densities, atoms (:func:`plot_atom`), the bracket of ``mmot compare``
(:func:`plot_bracket`) and sweep summaries (:func:`plot_sweep`).

Importing or calling these helpers never chooses a matplotlib backend (Jupyter's inline backend
keeps working); the ``mmot`` command picks Agg for itself when no backend was chosen.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .fileio import atomic_savefig
from .solution import Solution

if TYPE_CHECKING:  # pragma: no cover
    from .physics.densities import RadialDensity
    from .report import CompareRow

__all__ = ["plot_comotion_1d", "plot_pair_density", "save_figure", "plot_atom", "plot_bracket", "plot_sweep"]


def _plt():
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save in the format named by the suffix, atomically (no partial file), and close the figure.

    See :func:`mmot_models.fileio.atomic_savefig`: symbolic links are followed and kept, devices
    are written to directly, an existing file keeps its mode, a new one gets ``0o666 & ~umask``.
    """
    return atomic_savefig(fig, path)


def plot_comotion_1d(sol: Solution, path: str | os.PathLike | None = None, reference: np.ndarray | None = None,
                     x_ref: np.ndarray | None = None, title: str | None = None):
    """Scatter the support of a 1D plan as ``(x_1, x_k)`` pairs (marker area ~ weight) and,
    optionally, overlay reference co-motion functions ``reference[k](x_ref)``."""
    plt = _plt()
    pts, w = sol.support_points(tol=1e-12)
    N = pts.shape[1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    ax = axes[0]
    x1 = pts[:, 0, 0]
    size = 400 * w / w.max()
    colors = plt.cm.viridis(np.linspace(0, 0.85, max(N - 1, 1)))
    for k in range(1, N):
        ax.scatter(x1, pts[:, k, 0], s=size, color=colors[k - 1], alpha=0.6, label=f"plan: x_{k + 1} vs x_1")
    if reference is not None and x_ref is not None:
        for k in range(1, reference.shape[0]):
            ax.plot(x_ref, reference[k], "k.", ms=1.5)
        ax.plot([], [], "k.", label="closed-form co-motion")
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_k")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title or f"{sol.method}: value {sol.value:.6g}")
    ax = axes[1]
    prob = sol.problem
    x = prob.marginals[0].points[:, 0]
    ax.plot(x, prob.marginals[0].weights, "o-", ms=2, label="marginal mu")
    if sol.potentials is not None:
        ax2 = ax.twinx()
        ax2.plot(x, sol.potentials[0], "r-", lw=1, label="potential u")
        ax2.set_ylabel("Kantorovich potential", color="r")
    ax.set_xlabel("x")
    ax.set_ylabel("mu")
    ax.set_title("marginal and potential")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_pair_density(P: np.ndarray, extent: tuple[float, float, float, float] | None = None,
                      path: str | os.PathLike | None = None, title: str = "pair density"):
    """Image of a pair density matrix ``P[a, b]``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(P.T, origin="lower", extent=extent, aspect="auto", cmap="magma")
    fig.colorbar(im, ax=ax)
    ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_atom(density: "RadialDensity", sol: Solution | None, path: str | Path, title: str | None = None) -> Path:
    """Three panels: radial marginal, co-motion functions (with the LP plan's support), potential."""
    from .physics.atoms import comotion_functions, kantorovich_potential, support_pairs

    plt = _plt()
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


def plot_bracket(rows: Sequence["CompareRow"], path: str | Path, title: str = "") -> Path:
    """V_k against k (lower for k < N, exact at N, upper above) with the other bounds as lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    kr = [r for r in rows if r.k is not None and math.isfinite(r.value) and r.status == "optimal"]
    if kr:
        ks = np.array([r.k for r in kr])
        vs = np.array([r.value for r in kr])
        colors = ["tab:blue" if r.bound == "lower" else ("tab:green" if r.bound == "exact" else "tab:red")
                  for r in kr]
        ax.plot(ks, vs, "-", color="0.6", zorder=1)
        ax.scatter(ks, vs, c=colors, zorder=2, label="$V_k$ (blue lower, green exact, red upper)")
    styles = {"lower": "--", "upper": "-.", "exact": "-", "estimate": ":"}
    palette = iter(["tab:orange", "tab:purple", "tab:brown", "tab:cyan", "tab:olive", "tab:pink", "0.4"])
    for r in rows:
        if r.k is None and math.isfinite(r.value) and r.status in ("optimal", "converged"):
            c = "k" if r.bound == "exact" else next(palette, "0.5")
            ax.axhline(r.value, color=c, ls=styles.get(r.bound, ":"), lw=1.2,
                       label=f"{r.method} ({r.bound}) {r.value:.6g}")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("k (bodies of the representing plan)")
    ax.set_ylabel("value (N-marginal scale)")
    ax.set_title(title or "bracket of the exact value")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    out = Path(path)
    save_figure(fig, out)
    plt.close(fig)
    return out


def plot_sweep(rows: Sequence[Mapping[str, Any]] | str | os.PathLike, path: str | os.PathLike,
               x: str | None = None) -> Path:
    """Summary plot: value with its certified bracket against the swept parameter ``x``, one line
    per method label (other varying parameters split the lines too).  Returns the written path."""
    from matplotlib.figure import Figure

    from .errors import MMOTInputError
    from .studies.store import read_rows
    from .studies.sweeps import _varying

    if isinstance(rows, (str, os.PathLike)):
        rows = read_rows(rows)
    rows = [r for r in rows if r.get("value") is not None]
    if not rows:
        raise MMOTInputError("nothing to plot: no row has a value")
    vary = _varying(rows)
    numeric = [k for k in vary if all(isinstance(json.loads(r["params"]).get(k), (int, float)) for r in rows)]
    if x is None:
        if not numeric:
            raise MMOTInputError("no numeric parameter varies in these rows; pass x=PARAMETER")
        x = max(numeric, key=lambda k: len({json.loads(r["params"]).get(k) for r in rows}))
    elif x not in {k for r in rows for k in json.loads(r["params"])}:
        raise MMOTInputError(f"x={x!r} is not a parameter of these rows; varying parameters: {', '.join(vary)}")
    others = [k for k in vary if k != x]
    groups: dict[str, list[tuple[float, float, float, float]]] = {}
    for r in rows:
        p = json.loads(r["params"])
        name = r["label"] + "".join(f", {k}={p.get(k)}" for k in others)
        # a side that is not certified is left open (no band there), never replaced by the value
        lo = r.get("lower_bound") if r.get("lower_bound") is not None else math.nan
        hi = r.get("upper_bound") if r.get("upper_bound") is not None else math.nan
        groups.setdefault(name, []).append((float(p[x]), float(r["value"]), float(lo), float(hi)))
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for name, pts in sorted(groups.items()):
        pts.sort()
        xs, v, lo, hi = (list(c) for c in zip(*pts))
        line, = ax.plot(xs, v, marker="o", ms=3, label=name)
        both = [math.isfinite(a) and math.isfinite(b) for a, b in zip(lo, hi)]
        ax.fill_between(xs, lo, hi, where=both, color=line.get_color(), alpha=0.2, linewidth=0)
        for side in (lo, hi):  # a one-sided bound alone is drawn as a dotted line
            one = [v if math.isfinite(v) and not b else math.nan for v, b in zip(side, both)]
            if any(math.isfinite(v) for v in one):
                ax.plot(xs, one, ls=":", color=line.get_color(), marker="_")
    ax.set_xlabel(x)
    ax.set_ylabel("value (band: certified bracket; dotted: one-sided bound)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out
