"""Spherically symmetric electron densities ``rho(r)`` of atoms (integrating to ``N`` over R^3).

A :class:`RadialDensity` is a vectorised callable ``rho(r)`` plus ``N``; it derives the radial
probability density of one electron (the *radial marginal*)

.. math::
    \\lambda(r) = \\frac{4\\pi r^2 \\rho(r)}{N},\\qquad \\int_0^\\infty \\lambda(r)\\,dr = 1,

its cumulative distribution ``Lambda(r)`` (closed form where known, otherwise a fine
Gauss-Legendre table) and the quantile ``Lambda^{-1}``.

Sources of densities:

* :func:`hydrogen_like` -- ``N`` electrons in a hydrogenic 1s orbital (``N Z^3 e^{-2Zr}/pi``);
* :func:`bohr_atom` -- ``N`` non-interacting electrons filling hydrogenic shells (1s, 2s, 2p, ...)
  of nuclear charge ``Z``; ``bohr_atom(2)`` is ``(2/pi) e^{-2r}``;
* :func:`slater_density` -- Slater-type orbitals ``r^{n-1} e^{-zeta r}`` with occupations
  (e.g. Clementi-Raimondi single-zeta exponents, :data:`CLEMENTI_RAIMONDI`);
* :func:`load_atomic_density` -- the shipped spherically averaged Hartree-Fock densities of
  He, Li, Be, Ne (``mmot_models/data/atomic_densities.json``, generated with PySCF by
  ``scripts/generate_atomic_densities.py``; loading needs no PySCF).
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable, Sequence

import numpy as np
from scipy.special import factorial, genlaguerre

from ..errors import MMOTInputError

__all__ = [
    "RadialDensity", "hydrogen_like", "bohr_atom", "slater_density", "clementi_raimondi",
    "load_atomic_density", "shipped_atoms", "atomic_density", "CLEMENTI_RAIMONDI", "SHELL_ORDER",
]

#: Aufbau order of hydrogenic subshells ``(n, l)`` used by :func:`bohr_atom`.
SHELL_ORDER: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (4, 0), (3, 2), (4, 1),
                                             (5, 0), (4, 2), (5, 1))

#: Clementi & Raimondi (J. Chem. Phys. 38, 2686 (1963)) single-zeta orbital exponents
#: ``(n, zeta, occupation)`` for the ground states used in the examples.
CLEMENTI_RAIMONDI: dict[str, tuple[tuple[int, float, float], ...]] = {
    "He": ((1, 1.6875, 2),),
    "Li": ((1, 2.6906, 2), (2, 0.6396, 1)),
    "Be": ((1, 3.6848, 2), (2, 0.9560, 2)),
    "Ne": ((1, 9.6421, 2), (2, 2.8792, 2), (2, 2.8792, 6)),
}

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def _cell_integrals(f: Callable[[np.ndarray], np.ndarray], edges: np.ndarray) -> np.ndarray:
    """``int_{e_k}^{e_{k+1}} f`` for every cell, 16-point Gauss-Legendre per cell (vectorised)."""
    a, b = edges[:-1, None], edges[1:, None]
    x = 0.5 * (b - a) * _GL_X[None, :] + 0.5 * (a + b)
    return (0.5 * (b - a)[:, 0]) * (f(x) @ _GL_W)


@dataclass(frozen=True, eq=False)
class RadialDensity:
    """A spherically symmetric electron density.

    Parameters
    ----------
    rho : callable
        Vectorised ``rho(r)`` in electrons per bohr^3, ``int 4 pi r^2 rho = n_electrons``.
    n_electrons : int
    name : str
    cumulative : callable, optional
        Closed-form ``Lambda(r) = int_0^r lambda``; otherwise tabulated numerically.
    r_max : float
        Radius beyond which the density is treated as zero by the numerical table and the
        default grids (the neglected mass is reported by :meth:`tail_mass`).
    meta : dict
        Provenance (method, basis, energies) for shipped densities.
    """

    rho: Callable[[np.ndarray], np.ndarray]
    n_electrons: int
    name: str = "density"
    cumulative: Callable[[np.ndarray], np.ndarray] | None = None
    r_max: float = 30.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.n_electrons) != self.n_electrons or self.n_electrons < 1:
            raise MMOTInputError(f"n_electrons must be a positive integer, got {self.n_electrons}")
        if not (np.isfinite(self.r_max) and self.r_max > 0):
            raise MMOTInputError(f"r_max must be a positive number, got {self.r_max}")
        object.__setattr__(self, "n_electrons", int(self.n_electrons))

    def __call__(self, r: np.ndarray) -> np.ndarray:
        return np.asarray(self.rho(np.asarray(r, dtype=float)), dtype=float)

    def radial_marginal(self, r: np.ndarray) -> np.ndarray:
        """``lambda(r) = 4 pi r^2 rho(r) / N`` (a probability density on ``[0, inf)``)."""
        r = np.asarray(r, dtype=float)
        return 4.0 * math.pi * r * r * self(r) / self.n_electrons

    @functools.cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        edges = np.concatenate([[0.0], np.geomspace(1e-6, self.r_max, 3000)])
        cells = _cell_integrals(self.radial_marginal, edges)
        return edges, np.concatenate([[0.0], np.cumsum(cells)])

    def cdf(self, r: np.ndarray) -> np.ndarray:
        """``Lambda(r)``: probability that one electron is within radius ``r`` (not renormalised)."""
        r = np.asarray(r, dtype=float)
        if self.cumulative is not None:
            return np.asarray(self.cumulative(r), dtype=float)
        edges, cum = self._table
        return np.interp(r, edges, cum, right=cum[-1])

    def charge(self) -> float:
        """``int 4 pi r^2 rho dr`` up to ``r_max`` plus the closed-form tail when available."""
        if self.cumulative is not None:
            return float(self.cdf(np.array([np.inf]))[0] * self.n_electrons)
        return float(self._table[1][-1] * self.n_electrons)

    def tail_mass(self, r: float | None = None) -> float:
        """Probability ``1 - Lambda(r)`` beyond ``r`` (default ``r_max``)."""
        r = self.r_max if r is None else r
        return float(max(0.0, 1.0 - self.cdf(np.array([r]))[0]))

    def quantile(self, t: np.ndarray) -> np.ndarray:
        """``Lambda^{-1}(t)`` by monotone interpolation of a fine table (accurate to ~1e-9 in r)."""
        t = np.asarray(t, dtype=float)
        r = np.concatenate([[0.0], np.geomspace(1e-7, self.r_max, 20000)])
        F = self.cdf(r)
        F = np.maximum.accumulate(F)
        keep = np.concatenate([[True], np.diff(F) > 0])
        x = np.interp(t, F[keep], r[keep])
        if self.cumulative is not None:  # polish with Newton steps on the closed-form cdf
            for _ in range(3):
                lam = self.radial_marginal(x)
                ok = (lam > 1e-300) & (t > 0) & (t < 1)
                dx = np.where(ok, (self.cdf(x) - t) / np.where(ok, lam, 1.0), 0.0)
                x = np.maximum(x - dx, 0.0)
        return x

    def radius_containing(self, fraction: float) -> float:
        """Radius enclosing ``fraction`` of the charge (used to size grids)."""
        return float(self.quantile(np.array([fraction]))[0])


# ---------------------------------------------------------------------------------------- closed forms
def _hydrogenic_radial(n: int, l: int, Z: float) -> Callable[[np.ndarray], np.ndarray]:
    """Normalised hydrogenic radial function ``R_nl`` (``int R^2 r^2 dr = 1``)."""
    norm = math.sqrt((2.0 * Z / n) ** 3 * math.factorial(n - l - 1) / (2.0 * n * math.factorial(n + l)))
    lag = genlaguerre(n - l - 1, 2 * l + 1)

    def R(r: np.ndarray) -> np.ndarray:
        x = 2.0 * Z * r / n
        return norm * np.exp(-x / 2.0) * x ** l * lag(x)
    return R


def hydrogen_like(n_electrons: int = 1, Z: float = 1.0) -> RadialDensity:
    """``N`` electrons in a hydrogenic 1s orbital: ``rho(r) = N Z^3 e^{-2 Z r} / pi``.

    ``Lambda(r) = 1 - e^{-2Zr}(1 + 2Zr + 2Z^2 r^2)`` in closed form.
    """
    if not (Z > 0):
        raise MMOTInputError(f"nuclear charge Z must be positive, got {Z}")
    N = int(n_electrons)

    def rho(r: np.ndarray) -> np.ndarray:
        return N * Z ** 3 * np.exp(-2.0 * Z * r) / math.pi

    def cum(r: np.ndarray) -> np.ndarray:
        x = 2.0 * Z * np.asarray(r, dtype=float)
        with np.errstate(invalid="ignore", over="ignore"):
            out = 1.0 - np.exp(-x) * (1.0 + x + 0.5 * x * x)
        return np.where(np.isinf(x), 1.0, out)

    return RadialDensity(rho, N, name=f"hydrogen-like 1s^{N} (Z={Z:g})", cumulative=cum, r_max=40.0 / Z)


def bohr_atom(n_electrons: int = 2, Z: float = 1.0) -> RadialDensity:
    """Bohr atom: ``N`` non-interacting electrons filling hydrogenic shells of charge ``Z``.

    Subshells fill in :data:`SHELL_ORDER` (two electrons per orbital, ``2(2l+1)`` per subshell);
    a partly filled subshell is spherically averaged.  ``bohr_atom(2)`` is ``(2/pi) e^{-2r}``,
    whose SCE energy (N = 2) is 0.339180.  The SCE energy scales like ``Z`` (``rho_Z(r) =
    Z^3 rho_1(Z r)``).
    """
    N = int(n_electrons)
    if N < 1:
        raise MMOTInputError(f"the Bohr atom needs n_electrons >= 1, got {n_electrons}")
    if N == 2 or N == 1:
        d = hydrogen_like(N, Z)
        return RadialDensity(d.rho, N, name=f"Bohr atom N={N} (Z={Z:g})", cumulative=d.cumulative, r_max=d.r_max)
    shells: list[tuple[Callable, int]] = []
    left = N
    for n, l in SHELL_ORDER:
        if left <= 0:
            break
        occ = min(left, 2 * (2 * l + 1))
        shells.append((_hydrogenic_radial(n, l, Z), occ))
        left -= occ
    if left > 0:
        raise MMOTInputError(f"bohr_atom supports up to {N - left} electrons")
    n_max = max(n for n, _ in SHELL_ORDER[:len(shells)])

    def rho(r: np.ndarray) -> np.ndarray:
        return sum(occ * R(r) ** 2 for R, occ in shells) / (4.0 * math.pi)

    return RadialDensity(rho, N, name=f"Bohr atom N={N} (Z={Z:g})", r_max=(30.0 + 12.0 * n_max * n_max) / Z)


def slater_density(orbitals: Sequence[tuple[int, float, float]], name: str = "Slater") -> RadialDensity:
    """Density of Slater-type orbitals ``R(r) = (2 zeta)^{n + 1/2} r^{n-1} e^{-zeta r} / sqrt((2n)!)``.

    Parameters
    ----------
    orbitals : sequence of ``(n, zeta, occupation)``
        Principal quantum number, exponent and number of electrons in that (sub)shell.  Each STO
        is normalised, so the density integrates to the total occupation (orbitals are not
        orthogonalised: this is a model density, not a determinant's).
    """
    orbs = [(int(n), float(z), float(o)) for n, z, o in orbitals]
    if not orbs or any(n < 1 or z <= 0 or o <= 0 for n, z, o in orbs):
        raise MMOTInputError("slater_density needs (n >= 1, zeta > 0, occupation > 0) triples")
    total = sum(o for _, _, o in orbs)
    if abs(total - round(total)) > 1e-12:
        raise MMOTInputError(f"occupations must add up to an integer number of electrons, got {total}")
    norms = [(2 * z) ** (n + 0.5) / math.sqrt(float(factorial(2 * n, exact=True))) for n, z, _ in orbs]

    def rho(r: np.ndarray) -> np.ndarray:
        out = np.zeros_like(np.asarray(r, dtype=float))
        for (n, z, o), c in zip(orbs, norms):
            out = out + o * (c * r ** (n - 1) * np.exp(-z * r)) ** 2
        return out / (4.0 * math.pi)

    zmin = min(z for _, z, _ in orbs)
    nmax = max(n for n, _, _ in orbs)
    return RadialDensity(rho, int(round(total)), name=name, r_max=(25.0 + 10.0 * nmax) / zmin)


def clementi_raimondi(symbol: str) -> RadialDensity:
    """Single-zeta Slater density of ``symbol`` from :data:`CLEMENTI_RAIMONDI`."""
    key = _atom_key(symbol, CLEMENTI_RAIMONDI)
    return slater_density(CLEMENTI_RAIMONDI[key], name=f"{key} (Clementi-Raimondi STO)")


# ---------------------------------------------------------------------------------------- shipped data
@functools.lru_cache(maxsize=1)
def _shipped() -> dict:
    try:
        text = resources.files("mmot_models").joinpath("data/atomic_densities.json").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - broken install
        raise MMOTInputError("the shipped atomic densities (mmot_models/data/atomic_densities.json) are missing; "
                             "regenerate them with scripts/generate_atomic_densities.py") from None
    return json.loads(text)


def shipped_atoms() -> tuple[str, ...]:
    """Atoms whose Hartree-Fock density ships with the package."""
    return tuple(_shipped()["atoms"])


def _atom_key(symbol: str, table: dict) -> str:
    for k in table:
        if k.lower() == str(symbol).strip().lower():
            return k
    raise MMOTInputError(f"unknown atom {symbol!r}; choose one of {', '.join(table)}")


def load_atomic_density(symbol: str) -> RadialDensity:
    """Shipped spherically averaged Hartree-Fock density of ``symbol`` (He, Li, Be, Ne).

    The table (log grid ``1e-5 .. 40`` bohr) is interpolated by a monotone cubic in
    ``(log r, log rho)``; below the first point the density is held constant (cusp region,
    mass ``< 1e-12``), beyond the last point it is zero.  ``meta`` holds method, basis,
    HF energy and the PySCF version that produced it.
    """
    from scipy.interpolate import PchipInterpolator

    data = _shipped()["atoms"]
    key = _atom_key(symbol, data)
    entry = data[key]
    r = np.asarray(entry["r"], dtype=float)
    rho_tab = np.asarray(entry["rho"], dtype=float)
    pos = rho_tab > 0
    interp = PchipInterpolator(np.log(r[pos]), np.log(rho_tab[pos]), extrapolate=False)
    r_lo, r_hi = float(r[pos][0]), float(r[pos][-1])
    rho0 = float(rho_tab[pos][0])

    def rho(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        inside = (x > r_lo) & (x < r_hi)
        out = np.zeros_like(x)
        out[inside] = np.exp(interp(np.log(x[inside])))
        out[x <= r_lo] = rho0
        return out

    meta = dict(entry["meta"])
    N = int(meta["n_electrons"])
    name = f"{key} ({meta.get('method', 'HF')}/{meta.get('basis', '?')})"
    d = RadialDensity(rho, N, name=name, r_max=r_hi, meta=meta)
    # the interpolant integrates to N within ~3e-7 (relative); rescale to exactly N
    scale = N / d.charge()
    meta["interpolation_charge_correction"] = scale - 1.0

    def rho_n(x: np.ndarray) -> np.ndarray:
        return scale * rho(x)

    d = RadialDensity(rho_n, N, name=name, r_max=r_hi, meta=meta)
    # cut where the remaining charge is negligible (keeps grids on the physical range)
    r_cut = max(d.radius_containing(1.0 - 1e-12), 1.0)
    return RadialDensity(rho_n, N, name=name, r_max=min(r_hi, r_cut), meta=meta)


def atomic_density(name: str, n_electrons: int | None = None) -> RadialDensity:
    """Density by name: a shipped atom (``He``, ``Li``, ``Be``, ``Ne``) or ``bohr`` (Bohr atom).

    ``n_electrons`` is required to differ from the atom's own only for ``bohr`` (default 2);
    for a shipped atom it must match (the density integrates to its electron count).
    """
    key = str(name).strip().lower()
    if key == "bohr":
        return bohr_atom(2 if n_electrons is None else int(n_electrons))
    d = load_atomic_density(name)
    if n_electrons is not None and int(n_electrons) != d.n_electrons:
        raise MMOTInputError(f"{name} has {d.n_electrons} electrons; drop --electrons or use 'bohr' "
                             f"for a Bohr atom with {n_electrons} electrons")
    return d
