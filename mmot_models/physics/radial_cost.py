"""The effective radial Coulomb cost ``c~(r_1, ..., r_N)`` (minimum over the electrons' directions):
closed form for N = 2, two-angle Newton for N = 3, batched projected gradient for general N, and the
caching N-ary cost :class:`RadialCoulombCost` (see :mod:`mmot_models.physics.radial`)."""
from __future__ import annotations

import math

import numpy as np

from ..costs import CallablePairCost, NaryCost
from ..errors import MMOTInputError

__all__ = ["radial_cost_n2", "radial_pair_cost", "radial_cost_n3", "radial_cost_general", "radial_cost_bruteforce",
           "radial_cost", "RadialCoulombCost", "effective_radial_cost", "GENERAL_ACCURACY", "N3_ACCURACY",
           "default_starts"]



#: Relative accuracy of :func:`radial_cost_n3` (Newton to a stationary point from the best grid start).
N3_ACCURACY = 1e-12
#: Relative accuracy of :func:`radial_cost_general` at the local minimum it reaches (gradient
#: tolerance 1e-8 relative => energy within ~1e-12 relative of that local minimum).
GENERAL_ACCURACY = 1e-12



# ------------------------------------------------------------------------------------------- N = 2
def radial_cost_n2(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """``1/(r_1 + r_2)``: two electrons on spheres of radii ``r_1, r_2``, antipodal."""
    r1, r2 = np.asarray(r1, dtype=float), np.asarray(r2, dtype=float)
    s = r1 + r2
    with np.errstate(divide="ignore"):
        return np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), np.inf)


def radial_pair_cost() -> CallablePairCost:
    """The N=2 effective radial cost as a pair cost (the pair / POT machinery applies)."""
    return CallablePairCost(fn=lambda x, y: radial_cost_n2(x[:, :1], y[:, 0][None, :]), name="radial_coulomb_2")


# ------------------------------------------------------------------------------------------- N = 3
def _pair_terms(a: np.ndarray, b: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``g = D^{-1/2}``, ``g'``, ``g''`` in the angle ``phi`` with ``D = a^2 + b^2 - 2ab cos phi``."""
    ab = a * b
    D = np.maximum(a * a + b * b - 2.0 * ab * np.cos(phi), 1e-200)  # coincident points: huge, not inf
    with np.errstate(over="ignore", invalid="ignore"):
        g = D ** -0.5
        s = np.sin(phi)
        g1 = -ab * s * g ** 3
        g2 = -ab * np.cos(phi) * g ** 3 + 3.0 * ab * ab * s * s * g ** 5
    return g, g1, g2


def _energy_n3(r: np.ndarray, t2: np.ndarray, t3: np.ndarray) -> np.ndarray:
    return (_pair_terms(r[:, 0], r[:, 1], t2)[0] + _pair_terms(r[:, 0], r[:, 2], t3)[0]
            + _pair_terms(r[:, 1], r[:, 2], t3 - t2)[0])


def _newton_n3(r: np.ndarray, t2: np.ndarray, t3: np.ndarray, steps: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton on ``(t_2, t_3)`` for rows of radii ``r`` (monotone: energy never increases)."""
    t2, t3 = t2.copy(), t3.copy()
    E = _energy_n3(r, t2, t3)
    act = np.arange(r.shape[0])
    for _ in range(steps):
        ra, a2_, a3_ = r[act], t2[act], t3[act]
        _, a1, a2 = _pair_terms(ra[:, 0], ra[:, 1], a2_)
        _, b1, b2 = _pair_terms(ra[:, 0], ra[:, 2], a3_)
        _, c1, c2 = _pair_terms(ra[:, 1], ra[:, 2], a3_ - a2_)
        g2, g3 = a1 - c1, b1 + c1
        moving = np.abs(g2) + np.abs(g3) > 1e-14 * E[act]
        act, ra, a2_, a3_ = act[moving], ra[moving], a2_[moving], a3_[moving]
        if act.size == 0:
            break
        g2, g3, a2, b2, c2 = g2[moving], g3[moving], a2[moving], b2[moving], c2[moving]
        h22, h33, h23 = a2 + c2, b2 + c2, -c2
        det = h22 * h33 - h23 * h23
        pd = (h22 > 0) & (det > 0)
        safe = np.where(pd, det, 1.0)
        d2 = np.where(pd, -(h33 * g2 - h23 * g3) / safe, -g2 / (np.abs(h22) + np.abs(h23) + 1e-12))
        d3 = np.where(pd, -(h22 * g3 - h23 * g2) / safe, -g3 / (np.abs(h33) + np.abs(h23) + 1e-12))
        step = np.ones(act.size)
        todo = np.arange(act.size)
        Ea = E[act]
        for _bt in range(30):  # monotone backtracking on the configurations still searching
            nt2, nt3 = a2_[todo] + step[todo] * d2[todo], a3_[todo] + step[todo] * d3[todo]
            En = _energy_n3(ra[todo], nt2, nt3)
            ok = En <= Ea[todo]
            idx = act[todo[ok]]
            t2[idx], t3[idx], E[idx] = nt2[ok], nt3[ok], En[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
            step[todo] *= 0.5
        stuck = np.zeros(act.size, dtype=bool)
        stuck[todo] = True  # no decrease at any step length: converged to rounding
        act = act[~stuck]
    return E, t2, t3


def radial_cost_n3(radii: np.ndarray, n_grid: int = 12, n_starts: int = 4, newton_steps: int = 40,
                   return_angles: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Effective radial cost for N=3: electrons in a plane through the nucleus.

    ``x_1 = r_1 (1, 0)``, ``x_k = r_k (cos t_k, sin t_k)``; the energy is evaluated on an
    ``n_grid x 2 n_grid`` grid of cell centres (``t_2 in (0, pi)`` by reflection symmetry; no
    start on a collinear saddle), and damped Newton (analytic gradient and Hessian, gradient
    steps where the Hessian is not positive definite, monotone backtracking) runs from the
    ``n_starts`` best grid points; the lowest local minimum is returned.  Several starts are
    needed: when one radius is small the angular landscape has several local minima.

    Parameters
    ----------
    radii : (m, 3) array
    return_angles : also return the ``(m, 2)`` optimal angles.
    """
    r = np.atleast_2d(np.asarray(radii, dtype=float))
    if r.shape[1] != 3:
        raise MMOTInputError(f"radial_cost_n3 needs (m, 3) radii, got shape {r.shape}")
    m = r.shape[0]
    t2g = (np.arange(n_grid) + 0.5) * math.pi / n_grid
    t3g = (np.arange(2 * n_grid) + 0.5) * math.pi / n_grid
    T2, T3 = (a.reshape(-1) for a in np.meshgrid(t2g, t3g, indexing="ij"))
    k = max(1, min(int(n_starts), T2.size))
    st2 = np.empty((m, k))
    st3 = np.empty((m, k))
    chunk = max(1, 2_000_000 // T2.size)
    for s in range(0, m, chunk):
        rr = r[s:s + chunk]
        E = (_pair_terms(rr[:, :1], rr[:, 1:2], T2[None, :])[0] + _pair_terms(rr[:, :1], rr[:, 2:3], T3[None, :])[0]
             + _pair_terms(rr[:, 1:2], rr[:, 2:3], (T3 - T2)[None, :])[0])
        best = np.argpartition(E, k - 1, axis=1)[:, :k] if k < T2.size else np.tile(np.arange(k), (rr.shape[0], 1))
        st2[s:s + chunk], st3[s:s + chunk] = T2[best], T3[best]
    E, t2, t3 = _newton_n3(np.repeat(r, k, axis=0), st2.reshape(-1), st3.reshape(-1), newton_steps)
    E = E.reshape(m, k)
    j = np.argmin(E, axis=1)
    rows = np.arange(m)
    out = E[rows, j]
    if return_angles:
        return out, np.stack([t2.reshape(m, k)[rows, j], t3.reshape(m, k)[rows, j]], axis=1)
    return out


# ------------------------------------------------------------------------------------------- general N
def _pairs(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    I, J = np.triu_indices(N, 1)
    B = np.zeros((N, I.size))
    B[I, np.arange(I.size)] = 1.0
    B[J, np.arange(I.size)] = -1.0
    return I, J, B


def _energy_vectors(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coulomb energy of configurations ``x`` (P, N, 3) and its Euclidean gradient (P, N, 3)."""
    I, J, B = _pairs(x.shape[-2])
    diff = x[:, I, :] - x[:, J, :]
    d2 = np.maximum(np.einsum("pqk,pqk->pq", diff, diff), 1e-300)
    inv = 1.0 / np.sqrt(d2)
    E = inv.sum(axis=1)
    grad = -np.einsum("nq,pqk->pnk", B, (inv * inv * inv)[:, :, None] * diff)
    return E, grad


def _polygon_start(N: int) -> np.ndarray:
    ang = 2 * math.pi * np.arange(N) / N
    return np.stack([np.cos(ang), np.sin(ang), np.zeros(N)], axis=1)


def _fibonacci_sphere(n: int) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = math.pi * (1.0 + math.sqrt(5.0)) * k
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def _greedy_start(r: np.ndarray, order: np.ndarray, n_dirs: int = 64) -> np.ndarray:
    """Place electrons one by one (in ``order`` per row) at the candidate direction of least energy
    with those already placed (vectorised over rows; a loop over the N electrons only)."""
    m, N = r.shape
    dirs = _fibonacci_sphere(n_dirs)
    u = np.zeros((m, N, 3))
    rows = np.arange(m)
    first = order[:, 0]
    u[rows, first] = dirs[0]
    placed = [first]
    for k in range(1, N):
        j = order[:, k]
        cand = r[rows, j][:, None, None] * dirs[None]  # (m, D, 3)
        E = np.zeros((m, n_dirs))
        for i in placed:
            xi = (r[rows, i][:, None] * u[rows, i])[:, None, :]
            E += 1.0 / np.maximum(np.linalg.norm(cand - xi, axis=-1), 1e-300)
        u[rows, j] = dirs[np.argmin(E, axis=1)]
        placed.append(j)
    return u


def default_starts(n_electrons: int) -> int:
    """Default number of starts of :func:`radial_cost_general`: 8 (N <= 4), 16 (N <= 6), 32 beyond."""
    return 8 if n_electrons <= 4 else (16 if n_electrons <= 6 else 32)


def radial_cost_general(radii: np.ndarray, n_starts: int | None = None, max_iter: int = 2000, tol: float = 1e-8,
                        seed: int = 0, return_vectors: bool = False, starts: np.ndarray | None = None
                        ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Effective radial cost for any N by batched projected gradient on ``(S^2)^N``.

    All configurations and ``n_starts`` starts per configuration descend together: the step of each
    is Barzilai-Borwein, accepted only if the energy does not increase (else halved).  A start
    stops when its tangent-gradient norm is below ``tol * E`` (the energy is then within about
    ``tol^2`` of the local minimum, relative); only active starts are updated.  Start 0 is the
    regular N-gon in a plane through the nucleus, the others are uniform random unit vectors
    (seeded, so the result is deterministic).

    ``starts`` (``(m, K, N, 3)``) adds user starts (e.g. the optimum of a neighbouring
    configuration); with ``starts`` given, ``n_starts`` may be 0.

    Returns the best energy per configuration (an actual configuration's energy, so an upper
    bound of ``c~``), and optionally its unit vectors ``(m, N, 3)``.
    """
    r = np.atleast_2d(np.asarray(radii, dtype=float))
    m, N = r.shape
    rng = np.random.default_rng(seed)
    S = int(n_starts if n_starts is not None else default_starts(N))
    S = max(0 if starts is not None else 1, S)
    u = rng.normal(size=(m, S, N, 3))
    if S >= 1:
        u[:, 0] = _polygon_start(N)[None]
    if S >= 3 and N >= 4:  # greedy placements, outermost first and innermost first
        desc = np.argsort(-r, axis=1, kind="stable")
        u[:, 1] = _greedy_start(r, desc)
        u[:, 2] = _greedy_start(r, desc[:, ::-1])
    if starts is not None:
        st = np.asarray(starts, dtype=float).reshape(m, -1, N, 3)
        u = np.concatenate([u, st], axis=1)
        S = u.shape[1]
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    u = u.reshape(m * S, N, 3)
    rr = np.repeat(r, S, axis=0)[:, :, None]

    def energy_grad(uu: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        E, gx = _energy_vectors(rad * uu)
        g = gx * rad
        return E, g - np.sum(g * uu, axis=-1, keepdims=True) * uu  # tangent projection

    E, g = energy_grad(u, rr)
    gn = np.sqrt(np.sum(g * g, axis=(-1, -2)))
    step = 0.1 / np.maximum(gn, 1e-300)
    act = np.flatnonzero(gn > tol * np.maximum(E, 1e-300))
    for _ in range(max_iter):
        if act.size == 0:
            break
        ua, ga, sa = u[act], g[act], step[act]
        un = ua - sa[:, None, None] * ga
        un /= np.linalg.norm(un, axis=-1, keepdims=True)
        En, gnew = energy_grad(un, rr[act])
        ok = En <= E[act]
        sv = (un - ua).reshape(act.size, -1)
        yv = (gnew - ga).reshape(act.size, -1)
        sy = np.einsum("ak,ak->a", sv, yv)
        ss = np.einsum("ak,ak->a", sv, sv)
        bb = np.where(sy > 0, ss / np.where(sy > 0, sy, 1.0), 2.0 * sa)
        acc = act[ok]
        u[acc], g[acc], E[acc] = un[ok], gnew[ok], En[ok]
        step[act] = np.where(ok, np.clip(bb, 1e-6 * sa, 1e3 * sa), 0.5 * sa)
        gna = np.sqrt(np.sum(g[act] * g[act], axis=(-1, -2)))
        act = act[(gna > tol * np.maximum(E[act], 1e-300)) & (step[act] > 1e-200)]
    E = E.reshape(m, S)
    k = np.argmin(E, axis=1)
    best = E[np.arange(m), k]
    if return_vectors:
        return best, u.reshape(m, S, N, 3)[np.arange(m), k]
    return best


def radial_cost_bruteforce(radii: np.ndarray, n_angles: int = 720) -> np.ndarray:
    """Brute-force N=3 reference: dense angle grid (``t_2 in [0, pi]``, ``t_3 in [0, 2 pi)``), no
    local refinement.  Its value exceeds the true minimum by ``O((2 pi / n_angles)^2)``."""
    r = np.atleast_2d(np.asarray(radii, dtype=float))
    t2 = np.linspace(0.0, math.pi, n_angles // 2 + 1)
    t3 = np.linspace(0.0, 2 * math.pi, n_angles, endpoint=False)
    out = np.empty(r.shape[0])
    for i in range(r.shape[0]):  # reference only: one config at a time keeps memory small
        a, b, c = r[i]
        E = (_pair_terms(a, b, t2[:, None])[0] + _pair_terms(a, c, t3[None, :])[0]
             + _pair_terms(b, c, t3[None, :] - t2[:, None])[0])
        out[i] = E.min()
    return out


def radial_cost(radii: np.ndarray, **kw) -> np.ndarray:
    """Effective radial Coulomb cost of rows of radii ``(m, N)`` (dispatch on N)."""
    r = np.atleast_2d(np.asarray(radii, dtype=float))
    N = r.shape[1]
    if N == 2:
        return radial_cost_n2(r[:, 0], r[:, 1])
    if N == 3:
        return radial_cost_n3(r, **kw)
    return radial_cost_general(r, **kw)


class RadialCoulombCost:
    """Vectorised effective radial cost with a per-multiset cache.

    Calling it on configurations ``(m, N, 1)`` (or ``(m, N)``) sorts each row of radii (the cost is
    symmetric), looks the distinct rows up in the cache by one ``np.unique`` over cache keys and
    queries, minimises only the missing ones, and stores them.
    """

    def __init__(self, n_body: int, **options) -> None:
        if int(n_body) < 2:
            raise MMOTInputError(f"the radial cost needs N >= 2, got {n_body}")
        self.n_body = int(n_body)
        self.options = options
        self._keys = np.empty((0, self.n_body))
        self._vals = np.empty(0)
        self.evaluations = 0

    def __call__(self, configs: np.ndarray) -> np.ndarray:
        x = np.asarray(configs, dtype=float)
        if x.ndim == 3:
            x = x[..., 0]
        x = np.sort(x, axis=1)
        if self.n_body == 2:
            return radial_cost_n2(x[:, 0], x[:, 1])
        q, qinv = np.unique(x, axis=0, return_inverse=True)
        qinv = qinv.reshape(-1)
        K = self._keys.shape[0]
        vals = np.full(q.shape[0], np.nan)
        if K:
            allk, inv = np.unique(np.concatenate([self._keys, q]), axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            slot = np.full(allk.shape[0], np.nan)
            slot[inv[:K]] = self._vals
            vals = slot[inv[K:]]
        miss = np.isnan(vals)
        if miss.any():
            new = radial_cost(q[miss], **self.options)
            self.evaluations += int(miss.sum())
            vals[miss] = new
            self._keys = np.concatenate([self._keys, q[miss]])
            self._vals = np.concatenate([self._vals, new])
        return vals[qinv]

    @property
    def cache_size(self) -> int:
        return int(self._vals.size)


def effective_radial_cost(n_electrons: int, **options) -> NaryCost:
    """The effective radial Coulomb cost as a symmetric :class:`~mmot_models.costs.NaryCost`.

    Options go to :func:`radial_cost_n3` (N=3) or :func:`radial_cost_general` (N>3).
    """
    N = int(n_electrons)
    return NaryCost(RadialCoulombCost(N, **options), n_body=N, symmetric=True, name=f"radial_coulomb_{N}")
