"""Studies at scale: parameter sweeps on Dask (:mod:`~mmot_models.studies.sweeps`), result tables
(:mod:`~mmot_models.studies.store`), reproducible problem specifications
(:mod:`~mmot_models.studies.problems`), the independent verifier
(:mod:`~mmot_models.studies.verifier`), loading results back (:mod:`~mmot_models.studies.results`),
and the physics studies: atoms (:mod:`~mmot_models.studies.atoms`) and dissociation
(:mod:`~mmot_models.studies.dissociation`).  These are drivers above :func:`mmot_models.solve`; their
commands are in :mod:`mmot_models.commands` and their figures in :mod:`mmot_models.plotting`.

Dask and pyarrow are imported only when a sweep runs on a cluster or writes Parquet.
"""
from __future__ import annotations

from .problems import build_problem, problem_hash
from .store import read_rows
from .sweeps import SweepResult, parse_spec, report_table, sweep

__all__ = ["sweep", "parse_spec", "SweepResult", "report_table", "read_rows", "build_problem",
           "problem_hash"]
