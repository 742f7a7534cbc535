"""Build + solve time of the same Kantorovich LP through direct highspy and through Pyomo.

Both paths solve with HiGHS (Pyomo's ``appsi_highs``), so the ratio measures the modelling
overhead: per-variable Python objects in Pyomo versus arrays passed to ``Highs.passModel``.

    python benchmarks/bench_backends.py            # l = 20, 40, 60 (N = 3: up to 216,000 columns)
    python benchmarks/bench_backends.py --quick    # l = 12, 20
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmot_models as mm  # noqa: E402
from mmot_models.algorithms.lp import solve_standard_lp  # noqa: E402
from mmot_models.backends.highs import _to_highs_lp, make_highs  # noqa: E402
from mmot_models.backends.pyomo import to_pyomo  # noqa: E402
from mmot_models.formulations.kantorovich import KantorovichPrimal  # noqa: E402

from _common import command, machine, write_section  # noqa: E402

VALUE_TOL = 1e-8


def run(l: int, N: int) -> dict:
    p = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4, 4, l, midpoints=True)), N, "coulomb")
    form = KantorovichPrimal()
    out = {"l": l, "N": N}
    # model construction alone: arrays -> Highs.passModel  vs  arrays -> Pyomo ConcreteModel
    lp = form.build(p)
    t0 = time.perf_counter()
    h = make_highs()
    h.passModel(_to_highs_lp(lp))
    t_pass = time.perf_counter() - t0
    t0 = time.perf_counter()
    to_pyomo(lp)
    t_pyomo = time.perf_counter() - t0
    for backend in ("highs", "pyomo"):
        t0 = time.perf_counter()
        lp = form.build(p)
        res = solve_standard_lp(lp, backend)
        total = time.perf_counter() - t0
        out[backend] = {"total": total, "value": res.objective, "status": res.status.value}
        out["cols"] = lp.n_cols
    out["highs"]["model"], out["pyomo"]["model"] = t_pass, t_pyomo
    assert abs(out["highs"]["value"] - out["pyomo"]["value"]) < VALUE_TOL, out
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sizes = [12, 20] if args.quick else [20, 40, 60]
    run(10, 3)  # warm-up: imports and solver plugin loading are not measured
    rows = [run(l, 3) for l in sizes]
    lines = ["## Direct highspy vs Pyomo (issue 2)", "",
             f"Machine: {machine()}  ", f"Command: `{command()}`", "",
             "Full-tensor primal Kantorovich LP, N = 3, Coulomb, Gaussian on l midpoints of [-4, 4]. "
             "Both paths solve with HiGHS (Pyomo through `appsi_highs`). 'total' is build + solve + read-back; "
             "'model' is the construction of the solver model from the same arrays "
             "(`Highs.passModel` vs a Pyomo `ConcreteModel`).",
             "", "| l | columns | highspy total (s) | Pyomo total (s) | total ratio | passModel (s) | "
                 "Pyomo model (s) | model ratio | same value |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        h, p = r["highs"], r["pyomo"]
        lines.append(f"| {r['l']} | {r['cols']:,} | {h['total']:.2f} | {p['total']:.2f} | {p['total'] / h['total']:.1f}x | "
                     f"{h['model']:.4f} | {p['model']:.2f} | {p['model'] / max(h['model'], 1e-9):.0f}x | "
                     f"{abs(h['value'] - p['value']):.1e} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("backends", text)


if __name__ == "__main__":
    main()
