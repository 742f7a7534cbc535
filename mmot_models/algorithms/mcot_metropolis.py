"""MCOT by Metropolis-Hastings on cells (method ``"mcot"``, solver ``"metropolis"``; the paper's
section 6.1): an estimate."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..costs import PairCost
from ..errors import MMOTInputError
from ..formulations.moments import ATOM_TOL
from ..formulations.standard_lp import StandardLP
from ..moment_functions import Cells, MCOTProblem
from ..solution import GAP_ZERO_FLOOR, Bound, Solution, assemble_solution, Status
from .lp import solve_standard_lp
from .mcot_lp import CERT_REL_TOL

__all__ = ["mcot_metropolis"]


# =========================================================================== Metropolis-Hastings (6.1)
def _cell_pair_cost(P: MCOTProblem, fx: Cells, fy: Cells) -> np.ndarray:
    """``c~(i, j)``: minimum of the cost over cell ``i`` x cell ``j`` (exact for non-decreasing radial costs)."""
    def boxes(f: Cells) -> tuple[np.ndarray, np.ndarray]:
        idx = np.stack(np.unravel_index(np.arange(f.n_functions), f.shape), axis=1)
        lo = np.stack([f.edges[a][idx[:, a]] for a in range(f.dim)], axis=1)
        hi = np.stack([f.edges[a][idx[:, a] + 1] for a in range(f.dim)], axis=1)
        return lo, hi
    lx, hx = boxes(fx)
    ly, hy = boxes(fy)
    gap = np.maximum(0.0, np.maximum(ly[None, :, :] - hx[:, None, :], lx[:, None, :] - hy[None, :, :]))
    r = np.sqrt(np.einsum("ijk,ijk->ij", gap, gap))
    if isinstance(P.cost, PairCost) and hasattr(P.cost, "of_distance") and P.cost.kind in ("power", "coulomb",
                                                                                         "soft_coulomb", "yukawa"):
        if P.cost.kind == "power":
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                return P.cost.of_distance(r)
    raise MMOTInputError("solver='metropolis' needs a power cost |x - y|^p (cell-pair minimum in closed form); "
                         "use solver='auto' for other costs")


def mcot_metropolis(problem: MCOTProblem, backend: str = "highs", *, n_cells_state: int | None = None,
                    beta: float = 1e-4, n_steps: int = 2000, seed: int = 0, time_limit: float | None = None,
                    **_: Any) -> Solution:
    """Metropolis-Hastings over ``K`` distinct cell pairs (paper, Algorithm 6.1; two marginals, cells).

    The state's weights solve the cells MCOT LP restricted to the state (HiGHS).  Returns the lowest
    cost met; the exact cells-MCOT value (the same LP over all cell pairs, a certified lower bound
    of OT since ``c~ <= c`` on every cell pair) is ``info["exact_cells_value"]``; the status is
    ``CONVERGED`` only when the chain reached it.
    """
    t0 = time.perf_counter()
    P = problem
    if P.n_marginals != 2 or not all(isinstance(f, Cells) for f in P.families) or P.martingale is not None:
        raise MMOTInputError("solver='metropolis' needs two marginals with 'cells:n' test functions; "
                             "use solver='auto' for other families")
    fx, fy = P.families
    C = _cell_pair_cost(P, fx, fy)
    bx, by = P.targets()
    nx, ny = C.shape
    K = int(n_cells_state or min(nx * ny, 3 * max(nx, ny) + 2))
    rng = np.random.default_rng(seed)

    def lp_value(state: np.ndarray) -> tuple[float, np.ndarray | None]:
        i, j = state // ny, state % ny
        k = state.size
        A = sp.vstack([sp.csr_matrix((np.ones(k), (i, np.arange(k))), shape=(nx, k)),
                       sp.csr_matrix((np.ones(k), (j, np.arange(k))), shape=(ny, k))]).tocsc()
        rhs = np.concatenate([bx, by])
        lp = StandardLP(c=C[i, j], A=A, row_lower=rhs, row_upper=rhs, col_lower=np.zeros(k),
                        col_upper=np.full(k, np.inf))
        res = solve_standard_lp(lp, backend)
        if res.status != Status.OPTIMAL:
            return math.inf, None
        return float(res.objective), res.x

    # initial state: inverse-transform coupling with a random permutation of nu's cells (paper 6.1.1)
    perm = rng.permutation(ny)
    Fx = np.concatenate([[0.0], np.cumsum(bx)])
    Fy = np.concatenate([[0.0], np.cumsum(by[perm])])
    q = np.unique(np.concatenate([Fx, Fy]))
    mid = (q[:-1] + q[1:]) / 2
    mid = mid[np.diff(q) > 1e-15]
    ii = np.clip(np.searchsorted(Fx, mid) - 1, 0, nx - 1)
    jj = perm[np.clip(np.searchsorted(Fy, mid) - 1, 0, ny - 1)]
    state = np.unique(ii * ny + jj)
    free = np.setdiff1d(np.arange(nx * ny), state)
    state = np.concatenate([state, rng.choice(free, size=max(0, K - state.size), replace=False)])
    cur, _ = lp_value(state)
    if not math.isfinite(cur):
        raise MMOTInputError("Metropolis-Hastings: the initial configuration does not satisfy the moments; "
                             "use solver='auto'")
    best, best_state = cur, state.copy()
    occupied = np.zeros(nx * ny, dtype=bool)
    occupied[state] = True

    def free_neighbours(s: int) -> np.ndarray:
        i, j = divmod(int(s), ny)
        cand = [(i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)]
        out = [a * ny + b for a, b in cand if 0 <= a < nx and 0 <= b < ny and not occupied[a * ny + b]]
        return np.array(out, dtype=int)

    trace = [cur]
    accepted = 0
    step = 0
    for step in range(1, n_steps + 1):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        l = int(rng.integers(state.size))
        fn = free_neighbours(state[l])
        if fn.size == 0:
            continue
        new = int(rng.choice(fn))
        trial = state.copy()
        trial[l] = new
        val, _ = lp_value(trial)
        if not math.isfinite(val):
            continue
        occupied[state[l]] = False
        occupied[new] = True
        n_new = free_neighbours(new).size
        occupied[new] = False
        occupied[state[l]] = True
        ratio = math.exp(-(val - cur) / beta) * fn.size / max(n_new, 1) if val > cur else math.inf
        if rng.random() < min(1.0, ratio):
            occupied[state[l]] = False
            occupied[new] = True
            state, cur = trial, val
            accepted += 1
            if cur < best:
                best, best_state = cur, state.copy()
        trace.append(cur)
    _, w = lp_value(best_state)
    keep = w > ATOM_TOL
    exact, _ = lp_value(np.arange(nx * ny))  # the cells-MCOT optimum: all cell pairs
    info = {"solver": "metropolis", "n_state": int(K), "beta": beta, "steps": step, "accepted": accepted,
            "trace": trace, "atom_cells": np.stack([best_state[keep] // ny, best_state[keep] % ny], axis=1),
            "atom_weights": w[keep], "exact_cells_value": exact, "excess_over_exact": best - exact}
    if best - exact <= CERT_REL_TOL * max(abs(exact), GAP_ZERO_FLOOR):
        status = Status.CONVERGED
    else:
        status = Status.ITERATION_LIMIT if step >= n_steps else Status.TIME_LIMIT
    return assemble_solution(problem=None, termination=status, value=best, method="mcot",
                    backend=backend, bound=Bound.ESTIMATE, primal_value=best, wall_time_s=time.perf_counter() - t0,
                    iterations=step, message="lowest cells-MCOT cost met by Metropolis-Hastings", info=info)
