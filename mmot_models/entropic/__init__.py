"""The package's own numpy multi-marginal Sinkhorn (entropic regularisation, Bregman projections).

* :mod:`.kernels` -- pair-factorised Gibbs kernels (dense or sparse) and their BLAS contractions;
  full-tensor fallback for ``N >= 4`` / N-ary costs.
* :mod:`.sinkhorn` -- the loop: eps-scaling, absorption stabilisation, stopping, status.
* :mod:`.multiscale` -- coarse-to-fine sparse solver (Benamou-Carlier-Nenna section 3.4).
* :mod:`.plan` -- sparse plan extraction, rounding to exact marginals (upper bound), c-transform
  dual bound (lower bound).
* :mod:`.api` -- :func:`solve_entropic`, registered as ``method="entropic"``.
"""
from __future__ import annotations

from .api import default_eps, solve_entropic

__all__ = ["solve_entropic", "default_eps"]
