"""``mmot verify``: check a claimed plan / potentials independently (application layer over
:mod:`mmot_models.studies.verifier`)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import MMOTInputError
from ..studies.verifier import DEFAULT_TOL, verify

__all__ = ["register_cli"]


def register_cli(sub: Any) -> None:
    """Add ``mmot verify``."""
    p = sub.add_parser("verify", help="check a claimed plan/potentials independently (certified bracket)",
                       description="Check a result written by `mmot solve --output` (JSON), a JSON of tuples and "
                                   "weights, or a dense plan array (.npy, e.g. POT ot.emd for N = 2) against its "
                                   "problem: marginal residuals, cost, dual feasibility, certified bracket. "
                                   "Exit 0 when every check passes, 3 when one fails, 2 on bad input.")
    p.add_argument("result", help="result file: .json (mmot output or {tuples, weights[, potentials]}), .npy or .npz")
    p.add_argument("--problem", help="problem file (.json/.npz) when the result does not embed its problem")
    p.add_argument("--instance", help="a library instance name (mmot bench list) as the problem")
    p.add_argument("--potentials", help="potentials as .npy (one row per marginal, or one vector if symmetric)")
    p.add_argument("--tol", type=float, default=DEFAULT_TOL, help=f"marginal row tolerance (default {DEFAULT_TOL:g})")
    p.add_argument("--gap-tol", type=float, default=None,
                   help="also require the verified gap (and the claimed value) within this relative tolerance")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_verify)


def _cmd_verify(args: Any) -> int:
    from ..studies.results import load_result

    problem = None
    if args.problem and args.instance:
        raise MMOTInputError("give either --problem or --instance, not both")
    if args.problem:
        from ..io import load_problem
        problem = load_problem(args.problem)
    elif args.instance:
        from ..bench import get_instance
        problem = get_instance(args.instance).problem()
    res = load_result(args.result, problem=problem)
    pots = res.potentials
    if args.potentials:
        pots = list(np.load(args.potentials, allow_pickle=False))
    if args.gap_tol is not None and not (math.isfinite(args.gap_tol) and args.gap_tol >= 0):
        raise MMOTInputError(f"--gap-tol must be a finite number >= 0, got {args.gap_tol}")
    v = verify(res.problem, plan=res.plan, potentials=pots, value=res.value, lower_bound=res.lower_bound,
               upper_bound=res.upper_bound, tol=args.tol, gap_tol=args.gap_tol)
    if args.json:
        from ..cli import emit_json
        emit_json({"result": str(args.result), "problem": res.problem.name, **v.summary()})
    else:
        print(f"{args.result}: problem {res.problem.name} ({res.source})")
        print(v)
    return 0 if v.ok else 3
