"""``mmot dissociate``: the dissociation scan of a 1D molecule (application layer over
:mod:`mmot_models.studies.dissociation`)."""
from __future__ import annotations

import argparse
from typing import Any

from ..cli import EXIT_NOT_CERTIFIED, EXIT_OK, emit_json
from ..errors import MMOTInputError
from ..physics.dissociation import DEFAULT_MARGIN, DEFAULT_POINTS, DEFAULT_SOFTENING
from ..studies.dissociation import limit_fractions, scan_distances

__all__ = ["register_cli"]


def _parse_list(text: str, what: str) -> list[float]:
    try:
        vals = [float(t) for t in str(text).split(",") if t.strip() != ""]
    except ValueError:
        raise MMOTInputError(f"--{what} must be a comma-separated list of numbers, e.g. 1,1; got {text!r}") from None
    if not vals:
        raise MMOTInputError(f"--{what} is empty; give a comma-separated list of numbers")
    return vals


def _cmd_dissociate(args: argparse.Namespace) -> int:
    charges = _parse_list(args.charges, "charges")
    distances = _parse_list(args.distances, "distances")
    if len(charges) < 2:
        raise MMOTInputError(f"--charges needs at least two nuclei, got {len(charges)}")
    if args.electrons < 2:
        raise MMOTInputError(f"--electrons must be >= 2, got {args.electrons}")
    if args.points < 3:
        raise MMOTInputError(f"--points must be >= 3, got {args.points}")
    rows = []
    ok = True
    if args.spacing is not None and not args.spacing > 0:
        raise MMOTInputError(f"--spacing must be positive, got {args.spacing}")
    for d, res in scan_distances(charges, distances, n_points=args.points, n_electrons=args.electrons,
                                 softening=args.softening, margin=args.margin, eps=args.eps,
                                 spacing=args.spacing, progress=not args.no_progress):
        rows.append({"distance": d, **res.terms()})
        ok = ok and res.status.ok
    out: dict[str, Any] = {"charges": charges, "n_electrons": args.electrons, "points": args.points,
                           "spacing": args.spacing,
                           "softening": args.softening, "model": "1D soft-Coulomb", "scan": rows}
    if args.limit:
        if args.electrons != 2:
            raise MMOTInputError("--limit (the R -> infinity problem of the paper) is for --electrons 2")
        lim = limit_fractions(charges, n_points=args.points, softening=args.softening, extent=args.margin,
                              spacing=args.spacing)
        out["limit"] = {"fractions": lim.fractions.tolist(), "electrons": (2 * lim.fractions).tolist(),
                        "energies": lim.energies.tolist(), "energy": lim.energy, "status": lim.status.value}
        ok = ok and lim.status.ok
    if args.json:
        emit_json(out)
    else:
        grid = f"cells of width {args.spacing:g}" if args.spacing else f"{args.points} points"
        print(f"mmot dissociate: charges {charges}, N = {args.electrons}, {grid} (1D soft Coulomb)")
        head = f"{'R':>8} {'F':>12} {'T':>10} {'C':>10} {'U':>10}  electrons per nucleus"
        print(head)
        for r in rows:
            el = ", ".join(f"{e:.4f}" for e in r["electrons"])
            print(f"{r['distance']:8.3f} {r['energy']:12.6f} {r['kinetic']:10.5f} {r['transport']:10.5f} "
                  f"{r['attraction']:10.5f}  [{el}]  {r['status']}")
        if "limit" in out:
            el = ", ".join(f"{e:.4f}" for e in out["limit"]["electrons"])
            print(f"{'inf':>8} {out['limit']['energy']:12.6f} {'':>10} {'':>10} {'':>10}  [{el}]  "
                  f"{out['limit']['status']}  (limit problem (5.5))")
    return EXIT_OK if ok else EXIT_NOT_CERTIFIED


def register_cli(subparsers: Any) -> None:
    """Add ``mmot dissociate`` (dissociation scan of a 1D molecule)."""
    p = subparsers.add_parser("dissociate", help="dissociation scan: energy terms and electrons per nucleus vs R")
    p.add_argument("--charges", default="1,1", help="nuclear charges, comma-separated (default 1,1)")
    p.add_argument("--distances", default="1,2,4,8", help="internuclear distances, comma-separated")
    p.add_argument("--electrons", type=int, default=2, help="number of electrons N (default 2)")
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help=f"grid points (default {DEFAULT_POINTS})")
    p.add_argument("--spacing", type=float, default=None,
                   help="cell width (overrides --points; keeps the resolution fixed as R grows)")
    p.add_argument("--softening", type=float, default=DEFAULT_SOFTENING, help="soft-Coulomb length a (default 1)")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="grid margin beyond the nuclei (default 8)")
    p.add_argument("--eps", type=float, default=1.0, help="kinetic weight eps (default 1)")
    p.add_argument("--limit", action="store_true", help="also solve the R -> infinity limit problem (N = 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_dissociate)
