"""Build time of a ~205k-column model through the modelling layer vs today's direct path.

Direct: ``formulation.build(problem)`` + ``Highs.passModel``.  Layer: ``Model(problem, ...)``
+ ``Model.to_standard_lp()`` + ``Highs.passModel`` (and, reported apart, the same with one user row
``E_plan[f] <= t`` stacked below).  Paths are interleaved, repeated, and medians are compared.

    python benchmarks/bench_modeling.py              # primal N=3 l=60 and symmetric N=3 l=108, 5 repeats
    python benchmarks/bench_modeling.py --quick      # smaller sizes, 3 repeats
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import mmot_models as mm  # noqa: E402
from mmot_models.backends.highs import _to_highs_lp, make_highs  # noqa: E402
from mmot_models.formulations.kantorovich import KantorovichPrimal  # noqa: E402
from mmot_models.formulations.standard_lp import StandardLP  # noqa: E402
from mmot_models.formulations.symmetric import SymmetricPrimal  # noqa: E402

from _common import command, machine, write_section  # noqa: E402

#: Target of issue 13: the layer may cost at most this factor over the direct build.
TARGET_RATIO = 1.2


def _pass(lp) -> None:
    h = make_highs()
    h.passModel(_to_highs_lp(lp))


def _direct(problem, formulation: str) -> float:
    t0 = time.perf_counter()
    builder = KantorovichPrimal() if formulation == "primal" else SymmetricPrimal()
    _pass(builder.build(problem))
    return time.perf_counter() - t0


def _row_f(P: np.ndarray) -> np.ndarray:
    return np.abs(P[:, 0, 0] - P[:, 1, 0])


def _direct_row(problem, formulation: str) -> float:
    """Today's way to add the same row by hand: build, evaluate f per column, scipy vstack, passModel."""
    t0 = time.perf_counter()
    builder = KantorovichPrimal() if formulation == "primal" else SymmetricPrimal()
    lp = builder.build(problem)
    cols = lp.meta["tuples" if formulation == "primal" else "multisets"]
    pts = problem.marginals[0].points
    P = np.stack([pts[cols[:, k]] for k in range(cols.shape[1])], axis=1)
    coef = _row_f(P)
    if formulation == "symmetric":  # the symmetrised plan: average over the orderings of the pair
        coef = np.mean([_row_f(P[:, list(q)]) for q in __import__("itertools").permutations(range(3))], axis=0)
    A = sp.vstack([lp.A, sp.csr_matrix(coef[None, :])], format="csc")
    lp2 = StandardLP(c=lp.c, A=A, row_lower=np.append(lp.row_lower, -np.inf), row_upper=np.append(lp.row_upper, 10.0),
                     col_lower=lp.col_lower, col_upper=lp.col_upper)
    _pass(lp2)
    return time.perf_counter() - t0


def _layer(problem, formulation: str, user_row: bool) -> float:
    t0 = time.perf_counter()
    m = mm.Model(problem, formulation=formulation)
    if user_row:
        m.add_constraint(m.plan.expectation(_row_f) <= 10.0)
    _pass(m.to_standard_lp())
    return time.perf_counter() - t0


def run(formulation: str, l: int, repeats: int) -> dict:
    p = mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-4, 4, l, midpoints=True)), 3, "coulomb")
    cols = mm.Model(p, formulation=formulation).n_cols
    d, a, dr, u = [], [], [], []
    for _ in range(repeats):
        d.append(_direct(p, formulation))
        a.append(_layer(p, formulation, False))
        dr.append(_direct_row(p, formulation))
        u.append(_layer(p, formulation, True))
    md, ma, mdr, mu = (statistics.median(v) for v in (d, a, dr, u))
    return {"formulation": formulation, "l": l, "cols": cols, "direct": md, "layer": ma, "direct_row": mdr,
            "row": mu, "ratio": ma / md, "ratio_row": mu / mdr}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    cases = [("primal", 30), ("symmetric", 50)] if args.quick else [("primal", 60), ("symmetric", 108)]
    run("primal", 10, 1)  # warm-up: imports are not measured
    rows = [run(f, l, repeats) for f, l in cases]
    lines = ["## Modelling layer build time (issue 13)", "",
             f"Machine: {machine()}  ", f"Command: `{command()}`", "",
             "Coulomb, N = 3, Gaussian on l midpoints of [-4, 4]. 'direct' is today's path "
             "(`formulation.build(problem)` + `Highs.passModel`); 'Model' is `Model(problem, formulation)` + "
             "`to_standard_lp()` + `Highs.passModel`. '+1 row' adds the dense row `E_plan[|x_1 - x_2|] <= 10` "
             "(one nonzero per column: a third more nonzeros), by hand (numpy + `scipy.sparse.vstack`) on the "
             "direct path and through `m.add_constraint(m.plan.expectation(f) <= 10)` on the layer. "
             "Most of either time is `_to_highs_lp` + `passModel` copying the arrays into HiGHS. "
             f"Medians of {repeats} interleaved repeats; "
             f"target ratio <= {TARGET_RATIO}.", "",
             "| formulation | l | columns | direct (s) | Model (s) | ratio | direct +1 row (s) | Model +1 row (s) | ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['formulation']} | {r['l']} | {r['cols']:,} | {r['direct']:.3f} | {r['layer']:.3f} | "
                     f"{r['ratio']:.2f}x | {r['direct_row']:.3f} | {r['row']:.3f} | {r['ratio_row']:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("modeling", text)


if __name__ == "__main__":
    main()
