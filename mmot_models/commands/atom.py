"""``mmot atom``: SCE energy of an atom from its radial density (application layer over
:mod:`mmot_models.studies.atoms`)."""
from __future__ import annotations

import argparse
from typing import Any

from ..cli import EXIT_NOT_CERTIFIED, EXIT_OK, check_outputs, emit_json
from ..errors import MMOTInputError
from ..physics.densities import atomic_density, shipped_atoms
from ..plotting import plot_atom
from ..studies.atoms import sce_energy

__all__ = ["register_cli"]


def _cmd_atom(args: argparse.Namespace) -> int:
    check_outputs(("--plot", args.plot, True))
    name = args.name
    known = [a.lower() for a in shipped_atoms()] + ["bohr"]
    if name.strip().lower() not in known:
        raise MMOTInputError(f"unknown atom {name!r}; choose one of {', '.join(shipped_atoms())}, bohr")
    sol = sce_energy(name, n_electrons=args.electrons, points=args.points, method=args.method, grid=args.grid,
                     time_limit=args.time_limit)
    density = atomic_density(name, args.electrons)
    if args.plot:
        plot_atom(density, sol, args.plot, title=f"{name}: V_ee^SCE = {sol.value:.6f}")
    summary = sol.summary()
    summary["info"] = {k: v for k, v in summary.get("info", {}).items()
                       if k in ("atom", "density", "n_electrons", "grid", "points", "published_sgs", "comotion_value",
                                "comotion_kind", "discretisation_gap", "dual_violation", "grid_tail_mass",
                                "quadrature_error", "cost_evaluations")}
    if args.json:
        if args.plot:
            summary["plot"] = str(args.plot)
        emit_json(summary)
    else:
        print(f"mmot atom {name}: N={density.n_electrons}, {density.name}")
        for key in ("value", "lower_bound", "upper_bound", "gap", "status", "method"):
            print(f"  {key:<12} {summary[key]}")
        for key in ("points", "comotion_value", "discretisation_gap", "published_sgs"):
            if key in summary["info"]:
                print(f"  {key:<12} {summary['info'][key]}")
        if sol.message:
            print(f"  note         {sol.message}")
    return EXIT_OK if sol.status.ok else EXIT_NOT_CERTIFIED


def register_cli(subparsers: Any) -> None:
    """Add ``mmot atom NAME [--electrons N] [--points L] [--method M] [--grid G] [--json] [--plot PNG]``."""
    p = subparsers.add_parser("atom", help="SCE energy of an atom from its radial density (He, Li, Be, Ne, bohr)")
    p.add_argument("name", help="He, Li, Be, Ne (shipped Hartree-Fock densities) or bohr (Bohr atom)")
    p.add_argument("--electrons", type=int, default=None, help="number of electrons (bohr only; default 2)")
    p.add_argument("--points", type=int, default=None, help="radial grid points (default by N: 200, 40, 16)")
    p.add_argument("--method", default="auto", help="auto, symmetric, primal, colgen or comotion")
    p.add_argument("--grid", default=None, choices=["quantile", "uniform", "graded"],
                   help="radial grid (default: graded for N=2, quantile = equal mass for N>2)")
    p.add_argument("--time-limit", type=float, default=None, help="LP time limit (s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", default=None, help="write a PNG (density, co-motion functions, potential)")
    p.set_defaults(func=_cmd_atom)
