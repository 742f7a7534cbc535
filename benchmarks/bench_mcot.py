"""MCOT solvers on the paper's 1D reference (3x^2 -> 2-2y, quadratic cost), and discretised exact OT.

For each number n of mesh cells: the candidate LP (hats, grid refining the mesh 8 times), column
generation over continuous positions (hats), the penalised particle method (relu, 1/eta = 100) and
Metropolis-Hastings (cells) -- time and accuracy against the exact W2^2 (quantiles).  Peer: the
discretised exact OT (``ot.emd2`` on M midpoints with exact cell masses); we report the smallest M
(doubling) whose error is at most the MCOT LP error, and its time.

Second table (issue 12): large discrete pairs, where the candidate LP has ``l^2`` columns.  The
default solver (``"auto"``: column generation over site tuples with exact pricing above 50k columns)
against the full candidate LP (``solver="lp"``, up to 1000 points) and POT's exact ``ot.emd2`` (the
value MCOT must stay below), and the 2D Gaussian case of the paper (hats on an 8 x 8 mesh, grid
refine 3: 390,625 candidate columns), full LP vs sites.

    python benchmarks/bench_mcot.py            # n = 4, 8, 16, 32; l = 500 .. 4000
    python benchmarks/bench_mcot.py --quick    # n = 4, 8, 16; l = 500 .. 2000
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.integrate import quad  # noqa: E402

from mmot_models.algorithms.moments import solve_mcot  # noqa: E402
from mmot_models.costs import Power  # noqa: E402
from mmot_models.moment_functions import Density, MCOTProblem  # noqa: E402

from _common import command, machine, write_section  # noqa: E402

MU = Density(lambda x: 3 * x ** 2, 0, 1)
NU = Density(lambda y: 2 - 2 * y, 0, 1)


def exact_w2() -> float:
    return quad(lambda u: (u ** (1 / 3) - 1 + math.sqrt(1 - u)) ** 2, 0, 1, limit=200)[0]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def discretised_ot(M: int) -> float:
    import ot

    e = np.linspace(0, 1, M + 1)
    x = (e[:-1] + e[1:]) / 2
    a = np.diff(e ** 3)              # exact cell masses of 3x^2
    b = np.diff(2 * e - e ** 2)      # and of 2 - 2y
    return float(ot.emd2(a, b, (x[:, None] - x[None, :]) ** 2))


def emd_table(ref: float, Ms: list[int]) -> list[dict]:
    out = []
    for M in Ms:
        val, t = timed(lambda: discretised_ot(M))
        out.append({"M": M, "value": val, "err": ref - val, "t": t})
    return out


def run(n: int, ref: float, emd: list[dict]) -> dict:
    out: dict = {"n": n}
    hats = MCOTProblem((MU, NU), Power(2), f"hats:{n}")
    s, t = timed(lambda: solve_mcot(hats, solver="lp", refine=8))
    out["lp"] = {"value": s.value, "err": ref - s.value, "t": t, "atoms": s.info["n_atoms"], "lower": s.lower_bound}
    s, t = timed(lambda: solve_mcot(hats, solver="colgen", seed=0))
    out["colgen"] = {"value": s.value, "err": ref - s.value, "t": t, "it": s.iterations, "status": s.status.value}
    s, t = timed(lambda: solve_mcot(MCOTProblem((MU, NU), Power(2), f"relu:{n}"), solver="particles",
                                    penalty=100.0, max_iterations=300, seed=0))
    out["particles"] = {"value": s.value, "err": ref - s.value, "t": t, "resid": s.info["moment_residual"]}
    s, t = timed(lambda: solve_mcot(MCOTProblem((MU, NU), Power(2), f"cells:{n}"), solver="metropolis",
                                    n_steps=1000, beta=1e-4, seed=0))
    out["mh"] = {"value": s.value, "exact": s.info["exact_cells_value"], "t": t, "status": s.status.value}
    out["emd_same_n"] = ref - discretised_ot(n)
    target = abs(out["lp"]["err"])
    # smallest M from which every finer discretisation is at least as accurate (the error of the
    # midpoint discretisation changes sign, so a single lucky M is not "equal accuracy")
    ok = [all(abs(e["err"]) <= target for e in emd[k:]) for k in range(len(emd))]
    k = ok.index(True) if any(ok) else len(emd) - 1
    out["emd"] = emd[k]
    return out


def random_pair(l: int, seed: int = 0):
    import mmot_models as mm

    rng = np.random.default_rng(seed)
    x, y = np.sort(rng.random(l)), np.sort(rng.random(l))
    a, b = rng.random(l) + 0.1, rng.random(l) + 0.1
    return mm.MMOTProblem((mm.Marginal(x, a, normalize=True), mm.Marginal(y, b, normalize=True)), Power(2))


def run_large(ls: list[int], lp_max: int = 1000) -> list[str]:
    import ot

    import mmot_models as mm

    lines = ["| l | columns | default: solver | value | certified lower | rounds | master columns | time (s) "
             "| full LP (s) | full LP value - default | ot.emd2 value | emd (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for l in ls:
        p = random_pair(l)
        s, t = timed(lambda: mm.solve(p, method="mcot"))
        (ex, te) = timed(lambda: float(ot.emd2(p.marginals[0].weights, p.marginals[1].weights,
                                                p.cost.matrix(p.marginals[0].points, p.marginals[1].points),
                                                numItermax=10_000_000)))
        full = "-"
        diff = "-"
        if l <= lp_max:
            f, tf = timed(lambda: mm.solve(p, method="mcot", solver="lp"))
            full, diff = f"{tf:.2f}", f"{f.value - s.value:.1e}"
        lines.append(f"| {l} | {l * l:,} | {s.info['solver']} | {s.value:.6e} | {s.lower_bound:.6e} | {s.iterations} "
                     f"| {s.info.get('n_master_columns', l * l):,} | {t:.2f} | {full} | {diff} | {ex:.6e} | {te:.2f} |")
        assert s.lower_bound <= ex + 1e-9, "MCOT lower bound above exact OT"
    return lines


def run_2d() -> str:
    from scipy.linalg import sqrtm  # noqa: F401

    S2, m2 = np.array([[1, .7], [.7, 1]]), np.array([1.0, 1.0])
    iS = np.linalg.inv(S2)
    mu = Density(lambda x: np.exp(-0.5 * (x ** 2).sum(1)), [-4, -4], [4, 4])
    nu = Density(lambda x: np.exp(-0.5 * np.einsum("ij,jk,ik->i", x - m2, iS, x - m2)), [-4, -4], [4, 4])
    P = MCOTProblem((mu, nu), Power(2), "hats:8")
    a, ta = timed(lambda: solve_mcot(P, solver="lp", refine=3))
    b, tb = timed(lambda: solve_mcot(P, refine=3))
    return (f"2D Gaussians (paper 6.3), hats on the 8 x 8 mesh, grid refine 3 ({a.info['n_candidates']:,} candidate "
            f"columns): full LP {a.value:.6f} in {ta:.1f} s; default ({b.info['solver']}, {b.iterations} rounds, "
            f"{b.info['n_master_columns']:,} master columns) {b.value:.6f} in {tb:.2f} s "
            f"({ta / max(tb, 1e-9):.0f}x faster, difference {a.value - b.value:.1e}).")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    ns = [4, 8, 16] if args.quick else [4, 8, 16, 32]
    ref = exact_w2()
    solve_mcot(MCOTProblem((MU, NU), Power(2), "hats:2"))  # warm-up (imports)
    discretised_ot(8)
    emd = emd_table(ref, [4, 8, 16, 32, 64, 128, 256, 512, 1024])
    rows = [run(n, ref, emd) for n in ns]
    lines = [
        "## Moment-constrained OT (issue 6)",
        "",
        f"Machine: {machine()}  ",
        f"Command: `{command()}`",
        "",
        f"1D reference of the paper: densities 3x^2 and 2-2y on [0, 1], cost |x-y|^2, exact W2^2 = {ref:.6f} "
        "(quantiles). 'err' = W2^2 - value (the LP and colgen values are lower bounds up to the grid "
        "correction). LP: hats on n cells, candidate grid refining the mesh 8 times, HiGHS primal simplex. "
        "colgen: same hats, continuous positions. particles: paper 6.2, relu:n, 1/eta = 100, 300 L-BFGS-B "
        "iterations (an estimate: constraints hold only up to the penalty). MH: paper 6.1, cells:n, 1000 "
        "steps, its target is the exact cells-MCOT value (a certified but cruder lower bound). emd: "
        "`ot.emd2` on M midpoints with exact cell masses; 'emd M' is the smallest M (doubling, up to 1024) "
        "from which every finer M has |err| <= LP err.",
        "",
        "| n | LP value | LP err | LP (s) | atoms | colgen err | colgen (s) | particles err | particles (s) "
        "| MH best / exact cells | MH (s) | emd err, M = n | emd M | emd err | emd (s) | LP time / emd time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lp, cg, pa, mh, em = r["lp"], r["colgen"], r["particles"], r["mh"], r["emd"]
        lines.append(
            f"| {r['n']} | {lp['value']:.6f} | {lp['err']:.2e} | {lp['t']:.2f} | {lp['atoms']} | {cg['err']:.2e} | "
            f"{cg['t']:.2f} | {pa['err']:.2e} | {pa['t']:.2f} | {mh['value']:.5f} / {mh['exact']:.5f} | {mh['t']:.2f} "
            f"| {r['emd_same_n']:.2e} | {em['M']} | {em['err']:.2e} | {em['t']:.1e} | {lp['t'] / max(em['t'], 1e-9):.0f}x |")
    lines += ["", "The LP error decays like n^-2 (the paper's rate) and is a certified lower bound. The "
              "midpoint discretisation with exact cell masses is more accurate at equal size on this smooth "
              "1D case (its error has no sign: it changes sign between M = 8 and 16) and ot.emd2 is much "
              "faster: in 1D MCOT does not pay off in speed; its interest is the certified direction and the "
              "atom count (<= number of constraints, independent of N in the symmetric case)."]
    lines += ["", "### Large discrete pairs (issue 12): the default over l^2 candidate tuples", "",
              "Two random discrete marginals of l sorted points in [0, 1] (random weights), cost |x-y|^2, "
              "test functions hats:10 on each support box (the default). The certified lower bound comes from "
              "the master duals with the reduced cost scanned over all l^2 tuples; it must not exceed ot.emd2 "
              "(asserted). 'full LP' builds all l^2 columns (solver='lp').", ""]
    lines += run_large([500, 1000, 2000] if args.quick else [500, 1000, 2000, 4000])
    lines += ["", run_2d()]
    lines += ["", "Discretised exact OT alone: " + ", ".join(f"M={e['M']}: err {e['err']:.1e} ({e['t']:.1e} s)"
                                                       for e in emd) + "."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("mcot", body)


if __name__ == "__main__":
    main()
