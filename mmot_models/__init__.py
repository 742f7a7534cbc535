"""mmot_models: multi-marginal optimal transport (strictly correlated electrons) as certified
LPs, convex programs and entropic models.

Layers (imports point down this list; declared and checked in ``mmot_models/_layers.py``):
core data (:mod:`~mmot_models.problem`, :mod:`~mmot_models.costs`, :mod:`~mmot_models.io`,
:mod:`~mmot_models.solution`, ...) -> formulations (:mod:`mmot_models.formulations`) -> physics
(:mod:`mmot_models.physics`) -> backends (:mod:`mmot_models.backends`) -> methods
(:mod:`mmot_models.algorithms`, :mod:`mmot_models.entropic`) -> :func:`solve` and
:mod:`mmot_models.modeling` -> drivers (:mod:`mmot_models.studies`, :mod:`mmot_models.bench`,
:mod:`mmot_models.report`) -> application (:mod:`mmot_models.cli`, :mod:`mmot_models.commands`,
:mod:`mmot_models.plotting`).
"""
from __future__ import annotations

from .costs import (COST_NAMES, CallablePairCost, Coulomb, GaussianCost, NaryCost, PairCost, Power,
                    RepulsiveHarmonic, SoftCoulomb, Yukawa, cost_from_spec)
from .errors import (InfeasibleProblemError, MethodNotAvailableError, MMOTInputError, ProblemTooLargeError)
from .io import load_problem, problem_from_dict, save_problem
from .problem import (MASS_TOL, Marginal, MMOTProblem, as_points, box, from_density, from_samples, gaussian,
                      line, uniform)
from .moment_functions import Density, MCOTProblem, family_from_spec
from .solution import Bound, Diagnostics, Solution, Status, Termination, Verdict
from .solve import METHODS, available_methods, choose_method, solve
from .modeling import (KRepresentabilityCuts, Model, MomentRows, OccupationBounds, TabulatedCost, UserRows,
                       from_cost_tensor, from_pot, hats, to_dense_plan)

from .studies.results import load_solution
from .studies.sweeps import sweep
from .studies.verifier import Verification, verify

__version__ = "0.1.0"

__all__ = [
    "Marginal", "MMOTProblem", "line", "box", "as_points", "uniform", "gaussian", "from_density", "from_samples",
    "MASS_TOL", "PairCost", "Coulomb", "SoftCoulomb", "Power", "RepulsiveHarmonic", "Yukawa", "GaussianCost",
    "CallablePairCost", "NaryCost", "cost_from_spec", "COST_NAMES", "load_problem", "save_problem",
    "problem_from_dict", "Solution", "Status", "Bound", "Termination", "Verdict", "Diagnostics", "solve", "METHODS", "available_methods", "choose_method",
    "MCOTProblem", "Density", "family_from_spec",
    "Model", "MomentRows", "OccupationBounds", "UserRows", "KRepresentabilityCuts", "TabulatedCost", "from_pot", "from_cost_tensor",
    "to_dense_plan", "hats", "sweep", "verify", "Verification", "load_solution",
    "MMOTInputError", "ProblemTooLargeError", "InfeasibleProblemError", "MethodNotAvailableError", "__version__",
]
