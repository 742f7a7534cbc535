"""Tightness and time of every relaxation against the exact LP, measured in the same run.

For a few standard densities this runs :func:`mmot_models.report.compare` (exact symmetric LP,
k-representability k = 2..N+1, SDP, mean field, variance, and mcot/entropic when installed) and
writes a table per instance into ``docs/benchmarks.md`` between ``<!-- BEGIN relaxations -->`` and
``<!-- END relaxations -->``: value, direction, relative gap to the exact value and time relative to
the exact LP.

Run: ``python benchmarks/bench_relaxations.py [--quick] [--no-write]``.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvxpy  # noqa: E402,F401  (imported up front: its import time is not the SDP's)

from mmot_models import MMOTProblem, box, gaussian, line, solve, uniform  # noqa: E402
from mmot_models.report import CompareRow, compare  # noqa: E402

from _common import command, machine, write_section  # noqa: E402


def instances(quick: bool) -> list[tuple[str, MMOTProblem]]:
    l1, l2, lsc = (16, 6, 12) if quick else (30, 8, 20)
    out = [
        (f"Gaussian 1D, Coulomb, N=3, l={l1}",
         MMOTProblem.symmetric(gaussian(line(-4, 4, l1, midpoints=True)), 3, "coulomb", name="gauss1d")),
        (f"Gaussian 1D, soft Coulomb a=0.5, N=4, l={lsc}",
         MMOTProblem.symmetric(gaussian(line(-4, 4, lsc, midpoints=True)), 4, {"kind": "soft_coulomb", "a": 0.5},
                               name="gauss1d-soft")),
        (f"uniform 2D square, Coulomb, N=3, l={l2}x{l2}",
         MMOTProblem.symmetric(uniform(box([0, 0], [1, 1], [l2, l2], midpoints=True)), 3, "coulomb",
                               name="square2d")),
    ]
    if not quick:
        out.append(("Gaussian 1D, Coulomb, N=6, l=24",
                    MMOTProblem.symmetric(gaussian(line(-5, 5, 24, midpoints=True)), 6, "coulomb", name="gauss1d-N6")))
    return out


def cut_row(p: MMOTProblem) -> CompareRow:
    """k = 2 with the bipartition cuts of order N (not part of compare's default set)."""
    s = solve(p, method="krep", k=2, cuts=True)
    return CompareRow(method=f"krep k=2 + cuts (K={p.n_marginals}, {s.info['cuts_added']} cuts)", value=s.value,
                      bound=s.bound.value, lower_bound=s.lower_bound, upper_bound=s.upper_bound, gap=math.nan,
                      time_s=s.wall_time_s, status=s.status.value, k=None)


def fmt(x: float, spec: str) -> str:
    return format(x, spec) if (x is not None and math.isfinite(x)) else "-"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids (about 20 s)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = ap.parse_args(argv)

    parts = ["## Relaxations vs the exact LP (issue 5)", "",
             f"Machine: {machine()}  ", f"Command: `{command()}`", "",
             "Each row: the method's value on the N-marginal scale, its direction, the relative gap "
             "`(value - exact) / exact` and its wall time divided by the exact LP's wall time (same run). "
             "`inf` = the method's honest answer is +infinity (mean field of a Coulomb grid; k > N when a "
             "site is heavier than 1/k).", ""]
    for title, p in instances(args.quick):
        rows = compare(p)
        ex = [r for r in rows if r.method.startswith("exact")][0]
        t_ex = ex.time_s
        cr = cut_row(p)
        cr.gap = cr.value - ex.value
        rows.insert(2, cr)
        print(f"\n{title}: exact {ex.value:.8f} ({ex.method}, {t_ex:.2f} s)")
        parts += [f"### {title}", "", f"exact value {ex.value:.8f} by `{ex.method}` in {t_ex:.2f} s", "",
                  "| method | value | bound | rel. gap to exact | time / exact LP | status |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            if r.status == "skipped":
                why = "not applicable" if "not applicable" in r.note else "not available"
                line_ = f"| {r.method} | - | - | - | - | skipped ({why}) |"
            else:
                val = "inf" if r.value == math.inf else fmt(r.value, ".8f")
                rel = fmt(r.gap / abs(ex.value), "+.2e") if math.isfinite(r.gap) else "-"
                ratio = fmt(r.time_s / t_ex, ".3g") if t_ex > 0 else "-"
                line_ = f"| {r.method} | {val} | {r.bound} | {rel} | {ratio} | {r.status} |"
            parts.append(line_)
            print("  " + line_)
        parts.append("")
    if not args.no_write:
        write_section("relaxations", "\n".join(parts))
        print("\nwrote docs/benchmarks.md (section relaxations)")


if __name__ == "__main__":
    main()
