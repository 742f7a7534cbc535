"""Benchmark: SCE-DFT energy minimisation (cvxpy + Clarabel) vs grid size, against its own LP part.

For each grid size the 1D H2-like model (charges 1, 1 at distance 2, soft Coulomb) is minimised
over densities (one convex program with the multiset transport LP inside); the peer in the same
run is the HiGHS multiset LP of the transport term alone at the optimal density (same number of
multiset columns).  The ratio says how much the density optimisation (cone constraints, the
density as a variable, the interior-point method) costs over one transport LP of that size.

Writes a markdown table between ``<!-- BEGIN dissociation -->`` / ``<!-- END dissociation -->``
in ``docs/benchmarks.md`` (only that section is rewritten).

Run:  python benchmarks/bench_dissociation.py [--quick] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine, write_section  # noqa: E402
from mmot_models.algorithms.partial import homogeneous_cost  # noqa: E402
from mmot_models.physics.dissociation import line_model  # noqa: E402
from mmot_models.studies.dissociation import minimise_energy  # noqa: E402


def run(cases: list[tuple[int, int]], repeats: int) -> list[dict]:
    rows = []
    minimise_energy(line_model([1.0, 1.0], [-1.0, 1.0], 11))          # warm-up: imports, first canonicalisation
    for N, l in cases:
        model = line_model([1.0, 1.0], [-1.0, 1.0], l, n_electrons=N)
        best_e = best_lp = float("inf")
        res = None
        solver_s = float("nan")
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = minimise_energy(model, verify=False)
            elapsed = time.perf_counter() - t0
            if elapsed < best_e:
                best_e, solver_s = elapsed, res.accuracy["solver_time_s"]
            t0 = time.perf_counter()
            lp = homogeneous_cost(res.weights, model.points, N, pair_matrix=model.pair_matrix)
            best_lp = min(best_lp, time.perf_counter() - t0)
        rows.append({"N": N, "l": l, "multisets": res.accuracy["n_multisets"], "energy_s": best_e,
                     "solver_s": solver_s, "lp_s": best_lp, "ratio": best_e / best_lp,
                     "status": res.status.value, "F": res.energy, "lp_status": lp.status.value})
        print(f"N={N} l={l:4d} M={rows[-1]['multisets']:7d}  energy {best_e:7.3f} s  LP {best_lp:7.3f} s  "
              f"ratio {best_e / best_lp:6.1f}  F={res.energy:.6f} {res.status.value}", flush=True)
    return rows


def table(rows: list[dict], command: str) -> str:
    import cvxpy
    from importlib.metadata import version

    lines = ["## Dissociation: energy minimisation over densities, cvxpy + Clarabel (issue 8)", "",
             f"Machine: {machine()}, cvxpy {cvxpy.__version__}, clarabel {version('clarabel')}  ",
             f"Command: `{command}`", "",
             "1D H2-like model (charges 1, 1 at R = 2, soft Coulomb a = 1), N electrons, l grid points. Best of "
             "the repeats. Peer: the HiGHS multiset LP of the transport term alone at the optimal density "
             "(same columns); 'ratio' = energy minimisation / transport LP.", "",
             "| N | grid points | multisets | energy min. (s) | of which Clarabel (s) | transport LP, HiGHS (s) "
             "| ratio | F | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['N']} | {r['l']} | {r['multisets']} | {r['energy_s']:.3f} | {r['solver_s']:.3f} | "
                     f"{r['lp_s']:.3f} | {r['ratio']:.1f} | {r['F']:.6f} | {r['status']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids only (about 10 s)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args()
    if args.quick:
        cases, repeats = [(2, 31), (2, 61), (3, 15)], args.repeats or 1
    else:
        cases, repeats = [(2, 31), (2, 61), (2, 91), (2, 121), (3, 15), (3, 21), (3, 31)], args.repeats or 2
    rows = run(cases, repeats)
    command = "python benchmarks/bench_dissociation.py" + (" --quick" if args.quick else "")
    if not args.no_write:
        write_section("dissociation", table(rows, command))
        print("wrote the dissociation section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
