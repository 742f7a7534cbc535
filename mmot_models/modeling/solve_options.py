"""Declared options of :meth:`Model.solve <mmot_models.modeling.Model.solve>`: one schema, :data:`MODEL_OPTIONS`.

``m.solve(backend=..., **options)``, ``m.solve_pyomo(pm, **options)`` and
``m.solve_cvxpy(cm, **options)`` validate their keywords against :data:`MODEL_OPTIONS`: an unknown
or misspelt name (``tme_limit=1``) is an :class:`~mmot_models.errors.MMOTInputError` with a
suggestion, values are domain-checked, and an option that does not apply to the backend
(``solver=`` on ``"highs"``) is rejected.  Solver options go in ``solver_options``; their names are
checked before solving wherever the solver can tell: HiGHS (backend ``"highs"``, Pyomo's
``appsi_highs``/``highs``, cvxpy's ``HIGHS``) through a HiGHS instance, cvxpy's ``CLARABEL``
against its settings.  Other Pyomo or cvxpy solvers receive their options unchecked.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ..errors import MMOTInputError
from ..options import COMMON, Option, OptionSchema, suggest

__all__ = ["MODEL_OPTIONS", "validate_model_options", "check_solver_options"]

_BACKENDS = ("highs", "pyomo", "cvxpy")
#: Pyomo solvers whose options are HiGHS options.
_PYOMO_HIGHS = ("appsi_highs", "highs")


def _common() -> tuple[Option, ...]:
    out = []
    for o in COMMON:
        if o.name.startswith("memory_limit"):
            o = replace(o, used=False, doc=f"{o.doc}; no effect at solve time: the model is built by "
                                           "Model(..., memory_limit_bytes=...)")
        elif o.name == "threads":
            o = replace(o, only=(("backend", ("highs",)),),
                        doc="HiGHS threads (backend highs); for pyomo/cvxpy pass the solver's own option "
                            "in solver_options")
        out.append(o)
    return tuple(out)


#: Options of :meth:`Model.solve` and its ``solve_pyomo``/``solve_cvxpy`` variants.
MODEL_OPTIONS = OptionSchema("model", _common() + (
    Option("solver", "str", None,
           "the solver behind the backend: Pyomo solver name (backend pyomo, default 'appsi_highs') or cvxpy "
           "solver (backend cvxpy, default 'HIGHS' when installed, else 'CLARABEL')",
           only=(("backend", ("pyomo", "cvxpy")),)),
    Option("solver_options", "dict", None,
           "options of the solver: HiGHS option names (backend highs, and Pyomo's appsi_highs / cvxpy's HIGHS), "
           "the Pyomo solver's own options, or keyword arguments of cvxpy's solve; names are checked where the "
           "solver can tell (HiGHS, CLARABEL)"),
), doc="Model.solve: the certified LP of a modelling-layer Model on highs, pyomo or cvxpy")


def check_solver_options(backend: str, solver: str | None, solver_options: Mapping[str, Any] | None) -> None:
    """Check ``solver_options`` names (and HiGHS values) before solving; raise :class:`MMOTInputError`."""
    if not solver_options:
        return
    s = (solver or "").lower()
    if backend == "highs" or (backend == "pyomo" and s in _PYOMO_HIGHS + ("",)) or (backend == "cvxpy" and
                                                                                  s in ("highs", "")):
        if backend == "cvxpy" and s == "":
            from .cvxpy_io import default_cvxpy_solver
            s = default_cvxpy_solver().lower()
            if s != "highs":
                return check_solver_options(backend, s, solver_options)
        from ..backends.highs import make_highs
        make_highs(options=dict(solver_options))   # raises MMOTInputError naming an unknown/bad option
        return
    if backend == "cvxpy" and s == "clarabel":
        try:
            import clarabel
        except ImportError:  # pragma: no cover - cvxpy ships clarabel
            return
        names = [n for n in dir(clarabel.DefaultSettings()) if not n.startswith("_")]
        for key in solver_options:
            if key not in names:
                raise MMOTInputError(f"unknown CLARABEL setting {key!r} in solver_options;{suggest(str(key), names)}"
                                     " see the Clarabel documentation for setting names")


def validate_model_options(backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``options`` of :meth:`Model.solve` for ``backend``; returns the checked keyword arguments
    (``time_limit``, ``threads``, ``verbose``, ``solver``, ``solver_options``; absent ones are ``None``/``False``)."""
    if backend not in _BACKENDS:
        raise MMOTInputError(f"unknown backend {backend!r}; choose one of {', '.join(_BACKENDS)}")
    kw = MODEL_OPTIONS.validate(options, context={"backend": backend}, others={})
    out = {"time_limit": kw.get("time_limit"), "threads": kw.get("threads"), "verbose": bool(kw.get("verbose")),
           "solver": kw.get("solver"), "solver_options": dict(kw.get("solver_options") or {})}
    check_solver_options(backend, out["solver"], out["solver_options"])
    return out
