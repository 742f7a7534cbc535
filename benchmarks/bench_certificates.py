"""Certified brackets on badly scaled data against an exact rational reference (issue 12).

Runs the property check of ``tests/test_certificates_property.py`` over many seeds: for every
seed, every applicable method, ``Fraction(lower) <= OPT <= Fraction(upper)`` in exact arithmetic
(OPT from an independent rational simplex on the stored floats), and ``optimal`` only with a
closed bracket.  Writes the seed count, time, methods and the counts found to the
``certificates`` section of ``docs/benchmarks.md``.

    python benchmarks/bench_certificates.py [--seeds 2000] [--start 10000] [--no-write]
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import command, machine, write_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2000)
    ap.add_argument("--start", type=int, default=10_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    import mmot_models as mm
    from tests.test_certificates_property import exact_optimum, make_instance, methods_for

    from fractions import Fraction
    import math

    t0 = time.perf_counter()
    solves = collections.Counter()
    optimal = collections.Counter()
    kinds = collections.Counter()
    Ns = collections.Counter()
    refined = 0
    bad: list[str] = []
    errors: list[str] = []
    t_ref = 0.0
    for seed in range(args.start, args.start + args.seeds):
        if (seed - args.start) % 200 == 0:
            print(f"seed {seed} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        problem = make_instance(seed)
        kinds[problem.cost.kind] += 1
        Ns[problem.n_marginals] += 1
        t1 = time.perf_counter()
        opt, _ = exact_optimum(problem)
        t_ref += time.perf_counter() - t1
        for method, opts, upper_side in methods_for(problem):
            name = method + (f"(k={opts['k']})" if "k" in opts else "")
            try:
                sol = mm.solve(problem, method=method, **opts)
            except Exception as exc:  # noqa: BLE001 - e.g. a transient memory refusal: count, do not hide
                errors.append(f"seed {seed} {name}: {type(exc).__name__}: {exc}")
                continue
            solves[name] += 1
            optimal[name] += sol.status == mm.Status.OPTIMAL
            refined += "refinement" in sol.info
            if math.isfinite(sol.lower_bound) and Fraction(sol.lower_bound) > opt:
                bad.append(f"seed {seed} {name}: lower > OPT")
            if upper_side and math.isfinite(sol.upper_bound) and Fraction(sol.upper_bound) < opt:
                bad.append(f"seed {seed} {name}: upper < OPT")
    wall = time.perf_counter() - t0
    lines = [
        "## Certified brackets on badly scaled data (issue 12)",
        "",
        f"`{command()}` -- {machine()}.",
        "",
        f"Seeds {args.start}..{args.start + args.seeds - 1} ({args.seeds} random instances: dyadic weights with "
        "tiny sites 2^-30..2^-40 next to large ones, clustered points 1e-6..1e3 apart or integer grids (ties), "
        "1D/2D, N = 2..4, equal and unequal marginals). Reference: exact rational simplex on the stored floats "
        f"({t_ref:.1f} s of the {wall:.1f} s total). Checked: `Fraction(lower) <= OPT <= Fraction(upper)` for every "
        "solve (krep with k < N: lower side only).",
        "",
        f"Costs: {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}; "
        f"N: {', '.join(f'{k}: {v}' for k, v in sorted(Ns.items()))}.",
        "",
        "| method | solves | optimal | bracket violations |",
        "|---|---:|---:|---:|",
    ]
    for name in sorted(solves):
        nb = sum(1 for b in bad if f" {name}:" in b)
        lines.append(f"| {name} | {solves[name]} | {optimal[name]} | {nb} |")
    lines += ["", f"Total: {sum(solves.values())} solves, {len(bad)} bracket violations, iterative refinement ran in "
              f"{refined} solves; {len(errors)} solves raised instead of answering.",
              "",
              "Not `optimal` means the certificate did not close to the tolerance: the run reports "
              "`numerical_error`/`iteration_limit` with its (still valid) bracket. Most such colgen runs are "
              "symmetric power-cost instances whose optimum is exactly 0 (the diagonal plan), where only the "
              "absolute floor `64 u max|c|` applies and the master's dual tolerance (1e-10 of costs up to 1e6) "
              "leaves a larger certified gap; krep(k=2) counts include k < N runs (lower bound only)."]
    body = "\n".join(lines)
    print(body)
    if bad or errors:
        print("\n".join(bad[:50] + errors[:50]), file=sys.stderr)
    if not args.no_write:
        write_section("certificates", body)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
