"""Backends: solve a built model and return raw results (:class:`~mmot_models.formulations.standard_lp.LPResult`).

``highs`` passes arrays straight to highspy; ``pyomo`` builds an inspectable, extendable Pyomo model
solvable by any Pyomo solver."""
__all__ = ["highs", "pyomo"]
