"""Checking the library's certificates with the independent verifier (not by re-solving)."""
from __future__ import annotations

import math
import time
from typing import Any

from ..studies.verifier import Verification, verify
from .library import CERT_GAP_TOL, Certificate, get_instance, load_certificate

__all__ = ["verify_certificate", "verify_instance"]


def verify_certificate(cert: Certificate, *, gap_tol: float = CERT_GAP_TOL) -> Verification:
    """Verify a shipped certificate: plan feasibility and cost, dual feasibility of the potential
    over all multisets, the bracket, and the stated value against the verified bracket."""
    from ..studies.problems import problem_hash

    v = verify(cert.problem, plan=(cert.plan_indices, cert.plan_weights), potentials=cert.potential,
               value=cert.value, lower_bound=cert.lower_bound, upper_bound=cert.upper_bound, gap_tol=gap_tol)
    if problem_hash(cert.problem) != cert.problem_hash:
        from dataclasses import replace
        v = replace(v, ok=False, failures=v.failures + ("the shipped problem data does not match its stored hash",))
    return v


def verify_instance(name: str, *, generated: bool = False, gap_tol: float = CERT_GAP_TOL) -> dict[str, Any]:
    """Verify instance ``name``: its shipped certificate, or -- for a generated instance with
    ``generated=True`` -- a certificate computed now by the instance's exact method.  Returns a row
    ``{name, ok, value, lower_bound, upper_bound, failures, time_s, regenerates}``."""
    inst = get_instance(name)
    t0 = time.perf_counter()
    notes: list[str] = []
    if inst.shipped:
        cert = load_certificate(name)
        v = verify_certificate(cert, gap_tol=gap_tol)
        value = cert.value
        import numpy as np
        gen = inst.generate()
        m0, g0 = cert.problem.marginals[0], gen.marginals[0]
        regenerates = (gen.n_marginals == cert.problem.n_marginals and gen.cost == cert.problem.cost
                       and np.array_equal(g0.points, m0.points)
                       and bool(np.max(np.abs(g0.weights - m0.weights)) <= 8 * np.finfo(float).eps))
        if not regenerates:
            notes.append("the specification no longer regenerates the shipped problem (the shipped data is used)")
    elif generated:
        from ..solve import solve
        problem = inst.generate()
        sol = solve(problem, method=inst.method, **inst.options)
        v = verify(problem, sol, gap_tol=gap_tol)
        value, regenerates = sol.value, True
    else:
        return {"name": name, "ok": None, "skipped": "generated instance (use --generated)"}
    return {"name": name, "ok": v.ok, "value": value, "lower_bound": v.lower_bound, "upper_bound": v.upper_bound,
            "gap": v.gap if math.isfinite(v.gap) else None, "dual_check": v.dual_check, "failures": list(v.failures),
            "notes": list(v.notes) + notes, "regenerates": regenerates, "time_s": time.perf_counter() - t0}
