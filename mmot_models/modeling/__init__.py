"""Declarative modelling layer: compose a transport LP, extend it, solve it anywhere, keep the certificate.

See ``docs/modeling.md``.  Pyomo and cvxpy are imported only when their export is used.
"""
from __future__ import annotations

from .blocks import Block, MomentRows, OccupationBounds, RowBlock, UserRows, hats
from .certify import CERT_REL_TOL, FEAS_REL_TOL, Certificate, certify, implied_column_upper, safe_lower_bound
from .expr import Constraint, LinearExpr
from .formulations import EXACT_FORMULATIONS, direction_of
from .interop import TabulatedCost, from_cost_tensor, from_pot, to_dense_plan
from .krep import KRepresentabilityCuts, interval_bipartitions
from .model import BACKENDS, FORMULATIONS, BlockInfo, Model, PlanVariable, assemble_solution
from .solve_options import MODEL_OPTIONS

__all__ = [
    "Model", "PlanVariable", "BlockInfo", "LinearExpr", "Constraint", "Block", "RowBlock", "UserRows",
    "MomentRows", "OccupationBounds", "KRepresentabilityCuts", "interval_bipartitions", "hats", "certify", "safe_lower_bound",
    "implied_column_upper", "Certificate",
    "CERT_REL_TOL", "FEAS_REL_TOL", "TabulatedCost", "from_pot", "from_cost_tensor", "to_dense_plan",
    "assemble_solution", "FORMULATIONS", "EXACT_FORMULATIONS", "BACKENDS", "MODEL_OPTIONS", "direction_of",
]
