r"""Solvers of moment-constrained optimal transport (MCOT): :func:`solve_mcot` (method ``"mcot"``).

Solvers, chosen by ``solver=``:

``"auto"`` (default)
    ``"lp"`` when the candidate LP has at most :data:`AUTO_LP_COLUMNS` columns (or the backend is
    not HiGHS), else ``"sites"``: the same LP, value and certificate either way.
``"sites"``
    Column generation over the tuples of the same candidate sites with exact pricing (every tuple's
    reduced cost is scanned each round): :mod:`~mmot_models.algorithms.mcot_sites`.  It never builds
    the ``prod(l_i)`` columns (two 2,000-point marginals: 4 million tuples, about a second).
``"lp"``
    The MCOT LP (:class:`~mmot_models.formulations.moments.MomentLP`) over a finite candidate set:
    the product (or, symmetric, the multisets) of per-marginal candidate sites -- the marginal's own
    points for discrete marginals, a grid refining the family's mesh for densities.  Solved on HiGHS
    (or Pyomo); the optimal vertex has at most ``#rows`` atoms (Tchakaloff's bound, recorded in
    ``info["n_atoms"]`` / ``info["atoms_within_rows"]``).
``"colgen"``
    On an :class:`MCOTProblem`, column generation over *continuous* positions (on an
    ``MMOTProblem``, whose candidates are its sites, it means ``"sites"``): the restricted master LP
    is warm-started with
    :class:`~mmot_models.backends.highs.HighsSession`; a new atom is priced by minimising the
    reduced cost :math:`c(z) - \sum_r y_r a_r(z)` from many starts (vectorised screening and
    vectorised projected-gradient descent, then :func:`scipy.optimize.minimize` on the best).
``"particles"``
    The paper's penalised gradient (section 6.2): ``K`` particles with positions and softmax
    weights minimise ``sum_k p_k c(z_k) + (1/eta) |moment residual|^2`` (L-BFGS-B, analytic
    gradients of the families, finite differences of the cost).  An estimate, not a bound;
    ``polish=True`` seeds ``"colgen"`` with the particles, which makes the moments exact.
``"metropolis"``
    The paper's Metropolis-Hastings on cells (section 6.1): piecewise-constant families, a state
    of ``K`` distinct cell pairs whose weights solve a small LP, moves to free neighbouring cells.

What the value bounds
---------------------
Every feasible coupling of the marginals satisfies the moment constraints, so the continuum MCOT
value :math:`I^n` is :math:`\le` the OT value.  On a candidate set ``S`` the LP value :math:`V_S`
is MCOT *restricted to measures on S*: :math:`V_S \ge I^n`, and :math:`V_S \le OT(\hat\mu_i)` for
every choice of discrete marginals on ``S`` with the same moments (the discretised problem).  For
a discrete :class:`~mmot_models.MMOTProblem` (candidates = its sites) this gives the certified
``lower_bound <= exact LP value``.  For densities with hat functions in 1D and the quadratic cost
``|x-y|^2`` on a grid containing the mesh nodes, splitting each atom between its two neighbouring
grid points keeps every hat moment and raises the cost by at most
:math:`\delta = (N-1) \sum_i g_i^2 / 4` (``g_i`` the largest grid gap), hence
``lower_bound = LP dual certificate - delta <= I^n <= OT`` is certified
(``info["discretisation_correction"]``).  Otherwise ``lower_bound`` is the LP's own certificate
when all marginals are discrete and every support point is a candidate, else ``-inf``; ``bound`` is
``LOWER`` only when ``lower_bound`` is finite (else ``ESTIMATE``: MCOT restricted to the candidates
has no direction with respect to OT).

Where each solver lives: the candidate LP in :mod:`~mmot_models.algorithms.mcot_lp`, tuple
generation in :mod:`~mmot_models.algorithms.mcot_sites`, continuous column generation in
:mod:`~mmot_models.algorithms.mcot_colgen`, particles in :mod:`~mmot_models.algorithms.mcot_particles`,
Metropolis-Hastings in :mod:`~mmot_models.algorithms.mcot_metropolis`; this module declares the
options and dispatches.
"""
from __future__ import annotations

from typing import Any

from ..errors import MMOTInputError
from ..moment_functions import MCOTProblem
from ..options import LP_BACKEND_OPTIONS, Option, OptionSchema, common_options, declares
from ..problem import MMOTProblem
from ..solution import Solution
from .mcot_colgen import mcot_colgen
from .mcot_lp import (AUTO_LP_COLUMNS, CERT_REL_TOL, DEFAULT_GRID, DEFAULT_REFINE, MAX_COLUMNS, _candidate_list,
                      _discretisation_correction, _source, candidate_count, candidate_sites, mcot_lp)
from .mcot_metropolis import mcot_metropolis
from .mcot_particles import PenalisedObjective, mcot_particles

__all__ = ["solve_mcot", "candidate_sites", "mcot_lp", "mcot_colgen", "mcot_particles", "mcot_metropolis",
           "PenalisedObjective", "MCOT_OPTIONS",
           "mcot_candidates", "candidate_count", "SOLVERS", "SOLVER_OPTIONS", "CERT_REL_TOL", "DEFAULT_REFINE",
           "DEFAULT_GRID", "MAX_COLUMNS", "AUTO_LP_COLUMNS"]

SOLVERS = ("auto", "lp", "sites", "colgen", "particles", "metropolis")


# =========================================================================== entry point
#: Options of each solver (``solve_mcot`` passes only these; ``moments``/``families``/``n_functions``/
#: ``symmetric`` are read before, for an MMOTProblem).
SOLVER_OPTIONS: dict[str, frozenset[str]] = {
    "lp": frozenset({"candidates", "refine", "grid", "max_columns", "time_limit", "threads", "verbose",
                     "memory_limit_bytes", "pyomo_solver", "solver_options"}),
    "sites": frozenset({"candidates", "refine", "grid", "max_iterations", "n_add", "time_limit", "threads",
                        "verbose"}),
    "colgen": frozenset({"refine", "grid", "max_iterations", "n_screen", "n_starts", "n_polish", "n_add",
                         "descent_steps", "tol", "seed", "time_limit", "threads", "verbose", "max_columns"}),
    "particles": frozenset({"n_particles", "penalty", "max_iterations", "seed", "init", "polish",
                            "polish_iterations", "tol", "time_limit"}),
    "metropolis": frozenset({"n_cells_state", "beta", "n_steps", "seed", "time_limit"}),
}
SOLVER_OPTIONS["auto"] = SOLVER_OPTIONS["lp"] | SOLVER_OPTIONS["sites"]


def mcot_candidates(problem: MCOTProblem, backend: str = "highs", *, solver: str = "auto",
                    source: MMOTProblem | None = None, candidates: Any = None, refine: int = DEFAULT_REFINE,
                    grid: int | None = None, max_columns: int = MAX_COLUMNS, **options: Any) -> Solution:
    """The MCOT LP over candidate sites: full LP (``"lp"``), site column generation (``"sites"``) or ``"auto"``.

    ``"auto"`` builds the full LP up to :data:`AUTO_LP_COLUMNS` candidate columns (and on a
    non-HiGHS backend) and otherwise runs column generation over the same candidate tuples
    (:func:`~.mcot_sites.mcot_sites`): same LP, same value, same bound.
    """
    from .mcot_sites import mcot_sites

    P = problem
    sites = _candidate_list(P, candidates, refine, grid)
    if solver == "auto":
        count = candidate_count(P, sites)
        solver = "lp" if backend != "highs" or count <= min(AUTO_LP_COLUMNS, max_columns) else "sites"
    if solver == "lp":
        return mcot_lp(P, backend, source=source, sites=sites, max_columns=max_columns,
                       **{k: v for k, v in options.items() if k in SOLVER_OPTIONS["lp"]})
    delta = _discretisation_correction(P, sites) if source is None else None
    return mcot_sites(P, backend, sites=sites, source=source, delta=delta,
                      **{k: v for k, v in options.items() if k in SOLVER_OPTIONS["sites"]})


def _when(*solvers: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("solver", solvers),)


#: Options of ``method="mcot"`` (alias ``"moments"``).  ``solver`` picks the MCOT algorithm; options of
#: one algorithm given with another are an error.
MCOT_OPTIONS = OptionSchema("mcot", common_options(
    time_limit="wall-clock limit in seconds (all solvers)",
    threads="HiGHS threads (solver lp, colgen; no effect for particles, metropolis)",
    verbose="solver logs (solver lp, colgen)",
    memory_limit_gb="refuse candidate LPs estimated above this many GiB (solver lp)") + (
    Option("solver", "choice", "auto", "MCOT algorithm: LP over candidate sites ('auto': full LP when small, else "
           "column generation over candidate tuples, 'sites'), column generation over continuous positions, penalised particles (estimate) or Metropolis-Hastings on cells (estimate)", choices=SOLVERS),
    Option("moments", "object", None, "test functions when the problem is a discrete MMOTProblem: a spec such "
           "as 'hats:20', 'cells:n', 'relu:n', 'monomials:k', a TestFamily, or one per marginal (default "
           "'hats:<n_functions>')", aliases=("families",), domain_text="a spec string, a TestFamily or a list"),
    Option("n_functions", "int", 10, "test functions of the default family for a discrete MMOTProblem", low=1),
    Option("symmetric", "bool", None, "averaged (symmetric) moment constraint for a discrete MMOTProblem "
           "(default: when the problem is symmetric)"),
    Option("candidates", "object", None, "candidate sites per marginal (one array for all, or a list); default "
           "the marginal's points or a grid refining the family's mesh", only=_when("auto", "lp", "sites"),
           domain_text="an array of sites or a list of them"),
    Option("refine", "int", None, "sub-intervals of each mesh interval in the candidate grid of a density",
           low=1, only=_when("auto", "lp", "sites", "colgen"),
           default_by=("solver", (("auto", DEFAULT_REFINE), ("lp", DEFAULT_REFINE), ("sites", DEFAULT_REFINE),
                                  ("colgen", 1)))),
    Option("grid", "int", None, "equispaced candidate points per axis instead of the refined mesh", low=1,
           only=_when("auto", "lp", "sites", "colgen")),
    Option("max_columns", "int", MAX_COLUMNS, "largest candidate LP built (columns)", low=1,
           only=_when("auto", "lp", "colgen")),
    Option("pyomo_solver", "str", "appsi_highs", LP_BACKEND_OPTIONS[0].doc,
           only=(("backend", ("pyomo",)), ("solver", ("auto", "lp")))),
    Option("solver_options", "dict", None, "options of the candidate LP's solver (HiGHS names, checked; default "
           "primal simplex) or of the Pyomo solver", only=_when("auto", "lp")),
    Option("max_iterations", "int", None, "column-generation rounds (sites, colgen) or L-BFGS-B iterations "
           "(particles)", low=1, only=_when("auto", "sites", "colgen", "particles"),
           default_by=("solver", (("auto", 200), ("sites", 200), ("colgen", 60), ("particles", 1000)))),
    Option("n_screen", "int", 4000, "random positions screened per pricing round", low=1, only=_when("colgen")),
    Option("n_starts", "int", 24, "descent starts per pricing round", low=1, only=_when("colgen")),
    Option("n_polish", "int", 2, "scipy polishes per pricing round", low=0, only=_when("colgen")),
    Option("n_add", "int", None, "columns added per round (colgen: screened positions; sites: most negative "
           "tuples, default chosen from the sizes)", low=0, only=_when("auto", "sites", "colgen"),
           default_by=("solver", (("auto", None), ("sites", None), ("colgen", 60)))),
    Option("descent_steps", "int", 40, "projected-gradient steps per start", low=0, only=_when("colgen")),
    Option("init_configs", "object", None, "initial atom configurations, shape (K, N, d), that seed the master "
           "(the particles' polish passes its particles here)", only=_when("colgen"),
           domain_text="an array of shape (K, N, d)"),
    Option("tol", "float", None, "stopping tolerance: colgen stops when the most negative reduced cost is above "
           "-tol times the cost scale; particles passes it to L-BFGS-B as ftol (relative objective decrease)",
           low=0, low_open=True, only=_when("colgen", "particles"),
           default_by=("solver", (("colgen", 1e-7), ("particles", 1e-10)))),
    Option("seed", "int", 0, "random seed", low=0, only=_when("colgen", "particles", "metropolis")),
    Option("n_particles", "int", None, "particles K (default: the Tchakaloff bound)", low=1,
           only=_when("particles")),
    Option("penalty", "float", 100.0, "weight 1/eta of the squared moment residual", low=0, low_open=True,
           only=_when("particles")),
    Option("init", "object", None, "initial positions, shape (K, N, d)", only=_when("particles"),
           domain_text="an array of shape (K, N, d)"),
    Option("polish", "bool", False, "continue from the final particles by continuous column generation "
           "(moments then hold to rounding; the value stays an estimate)", only=_when("particles")),
    Option("polish_iterations", "int", 60, "column-generation rounds of the polish", low=1,
           only=_when("particles")),
    Option("n_cells_state", "int", None, "cell pairs in the state (default min(nx ny, 3 max(nx, ny) + 2))",
           low=1, only=_when("metropolis")),
    Option("beta", "float", 1e-4, "temperature of the acceptance rule", low=0, low_open=True,
           only=_when("metropolis")),
    Option("n_steps", "int", 2000, "Metropolis steps", low=1, only=_when("metropolis")),
), doc="moment-constrained OT (MCOT): a lower bound of the OT value (LP, column generation, particles, "
       "Metropolis)")


@declares(MCOT_OPTIONS)
def solve_mcot(problem: MMOTProblem | MCOTProblem, backend: str = "highs", *, solver: str = "auto",
               **options: Any) -> Solution:
    """Moment-constrained OT: method ``"mcot"`` of :func:`mmot_models.solve` (a LOWER bound).

    Parameters
    ----------
    problem : MMOTProblem or MCOTProblem
        A discrete problem is relaxed with ``moments`` (spec such as ``"hats:20"``, a
        :class:`~mmot_models.moment_functions.TestFamily`, or one per marginal; default
        ``"hats:<n_functions>"``, ``n_functions=10``) on the box of each marginal's support, with the
        averaged constraint when the problem is symmetric; candidates are its sites, so ``value``
        is certified ``<=`` the exact discrete LP value.
    solver : ``"auto"`` | ``"lp"`` | ``"sites"`` | ``"colgen"`` | ``"particles"`` | ``"metropolis"``
        ``"auto"`` (default): the candidate LP, built in full when it has at most
        :data:`AUTO_LP_COLUMNS` columns, else solved by column generation over the candidate tuples
        with exact pricing (``"sites"``: same value and certificate).  ``"colgen"`` on an
        :class:`MCOTProblem` moves atoms continuously; on an ``MMOTProblem`` (whose candidates are its
        sites) it is ``"sites"``.
    **options
        ``lp``: ``candidates``, ``refine``, ``grid``, ``max_columns``, ``time_limit``, ``threads``,
        ``verbose``, ``solver_options``; ``sites``: ``candidates``, ``refine``, ``grid``,
        ``max_iterations``, ``n_add``; ``colgen``: ``max_iterations``, ``n_screen``,
        ``n_starts``, ``tol``, ``seed``; ``particles``: ``n_particles``, ``penalty``,
        ``max_iterations``, ``tol``, ``seed``, ``polish``, ``polish_iterations``; ``metropolis``:
        ``n_steps``, ``beta``, ``seed`` (declared in :data:`MCOT_OPTIONS`; an option of another
        solver, or an unknown one, is an error).
    """
    opts = dict(options)
    P, source = _source(problem, opts)
    for k in ("memory_limit_gb", "eps", "k"):
        opts.pop(k, None)
    if solver not in SOLVERS:
        raise MMOTInputError(f"unknown MCOT solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if source is not None and solver == "colgen":
        solver = "sites"  # the candidates of a discrete problem are its sites: generate tuples of them
    if solver in ("auto", "lp", "sites"):
        return mcot_candidates(P, backend, solver=solver, source=source,
                               **{k: v for k, v in opts.items() if k in SOLVER_OPTIONS[solver]})
    if source is not None:
        raise MMOTInputError(f"solver={solver!r} moves atoms in a continuous domain and needs an MCOTProblem; "
                             "for an MMOTProblem use solver='auto' (the default)")
    fn = {"colgen": mcot_colgen, "particles": mcot_particles, "metropolis": mcot_metropolis}[solver]
    return fn(P, backend, **opts)
