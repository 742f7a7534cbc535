"""``mmot compare``: every applicable method and relaxation on one problem, tabulated (application
layer over :mod:`mmot_models.report`; the figure is :func:`mmot_models.plotting.plot_bracket`)."""
from __future__ import annotations

import argparse
from typing import Any

from ..plotting import plot_bracket
from ..report import DEFAULT_METHODS, OPTIONAL_METHODS, compare, format_table
from ..solution import Bound

__all__ = ["register_cli"]


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..cli import EXIT_NOT_CERTIFIED, EXIT_OK, check_outputs, emit_json
    from ..io import load_problem

    check_outputs(("--plot", args.plot, True))
    problem = load_problem(args.file)
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = compare(problem, k_max=args.k_max, methods=methods, time_limit=args.time_limit)
    if args.plot:
        plot_bracket(rows, args.plot, title=f"{problem.name}: N={problem.n_marginals}, l={problem.sizes[0]}")
    if args.json:
        emit_json([r.to_json() for r in rows])
    else:
        print(f"{problem!r}")
        print(format_table(rows))
        if args.plot:
            print(f"plot: {args.plot}")
    # an infeasible upper-bound relaxation (V_k = +inf for k > N) is a valid, final answer, and so
    # is a bound that does not exist on this problem (mean field on a Coulomb grid: no_bound)
    failed = [r for r in rows if r.status not in ("optimal", "converged", "skipped", "no_bound")
              and not (r.status == "infeasible" and r.bound == Bound.UPPER.value)]
    return EXIT_NOT_CERTIFIED if failed else EXIT_OK


def register_cli(subparsers: Any) -> None:
    """Add ``mmot compare FILE [--json] [--plot PNG] [--k-max K] [--methods a,b] [--time-limit S]``."""
    p = subparsers.add_parser("compare", help="run every applicable method/relaxation and tabulate the bounds")
    p.add_argument("file", help="problem file (.json or .npz)")
    p.add_argument("--k-max", type=int, default=None, help="largest k of the k-representability hierarchy "
                   "(default N+1)")
    p.add_argument("--methods", default=None,
                   help=f"comma-separated subset of {','.join(DEFAULT_METHODS + OPTIONAL_METHODS)} "
                   "(default: all but cuts)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per LP method")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")
    p.add_argument("--plot", default=None, help="write a PNG of the bracket closing")
    p.set_defaults(func=_cmd_compare)
