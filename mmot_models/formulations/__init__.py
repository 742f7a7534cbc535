"""Formulations: pure builders that map a problem to a standard-form LP (or a convex/entropic model)
and map a solver's answer back to plans, potentials and bounds.  No formulation calls a solver.

The contract (:mod:`mmot_models.formulations.contract`): ``apply(problem) -> (StandardLP, InverseData)``
and ``invert(result, inverse_data) -> Inverted``."""
from .standard_lp import StandardLP, LPSize, LPResult, estimate_lp_size, check_fits
from .contract import Formulation, InverseData, Inverted, LPFormulationBase
from .kantorovich import KantorovichPrimal, KantorovichDual

__all__ = ["StandardLP", "LPSize", "LPResult", "estimate_lp_size", "check_fits", "Formulation", "InverseData", "Inverted",
           "LPFormulationBase", "KantorovichPrimal", "KantorovichDual"]
