"""Figures: optimal plans / co-motion functions in 1D, pair densities.

Importing or calling these helpers never chooses a matplotlib backend (Jupyter's inline backend
keeps working); the ``mmot`` command picks Agg for itself when no backend was chosen.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .fileio import atomic_savefig
from .solution import Solution

__all__ = ["plot_comotion_1d", "plot_pair_density", "save_figure"]


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
