"""Formulations: pure builders that map a problem to a standard-form LP (or a convex/entropic model)
and map a solver's answer back to plans, potentials and bounds.  No formulation calls a solver."""
from .standard_lp import StandardLP, LPSize, estimate_lp_size, check_fits
from .kantorovich import KantorovichPrimal, KantorovichDual

__all__ = ["StandardLP", "LPSize", "estimate_lp_size", "check_fits", "KantorovichPrimal", "KantorovichDual"]
