"""One dispatch: problem + method -> formulation -> backend -> :class:`~mmot_models.Solution`.

Methods are looked up in :data:`METHODS` (name -> :class:`Method`, which holds the method's function
itself, imported here: a broken method module fails at import, it is never skipped); each function
``fn(problem, **options) -> Solution`` declares its options (:func:`mmot_models.options.declares`);
:func:`solve` validates the options against the chosen method's
:class:`~mmot_models.options.OptionSchema` before dispatch.  The method modules import numpy and
scipy only; Pyomo and cvxpy are imported inside them when a run asks for that backend.

To add a method: write ``fn(problem, backend="highs", **options)`` in :mod:`mmot_models.algorithms`
(or its own package below this module), decorate it with :func:`~mmot_models.options.declares`, and
add ``Method("name", fn)`` to :data:`METHODS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .algorithms.colgen import solve_colgen
from .algorithms.exact import solve_dual, solve_primal
from .algorithms.moments import solve_mcot
from .algorithms.relaxations import solve_krep, solve_meanfield, solve_sdp, solve_variance_bound
from .algorithms.symmetric import solve_symmetric, solve_symmetric_dual
from .entropic.api import solve_entropic
from .errors import MethodNotAvailableError, MMOTInputError
from .options import COMMON, OptionSchema, schema_of
from .problem import MMOTProblem
from .solution import Solution

__all__ = ["solve", "Method", "METHODS", "available_methods", "choose_method", "method_schema", "all_schemas"]


@dataclass(frozen=True)
class Method:
    """A registered method: its name in :func:`solve`, the function that runs it, and (for an alias
    such as ``"moments"``) the name of the method it stands for."""

    name: str
    function: Callable[..., Solution]
    alias_of: str | None = None

    @property
    def schema(self) -> OptionSchema:
        """The options the function declares (:func:`~mmot_models.options.declares`)."""
        schema = schema_of(self.function)
        if schema is None:  # pragma: no cover - every registered method declares its options
            raise MethodNotAvailableError(f"method {self.name!r} declares no options schema")
        return schema

    @property
    def summary(self) -> str:
        """One line on what the method computes (the schema's ``doc``)."""
        return self.schema.doc


def _registry(*methods: Method) -> dict[str, Method]:
    return {m.name: m for m in methods}


#: Registry of methods: name -> :class:`Method` (the function object, not a string to import).
METHODS: dict[str, Method] = _registry(
    Method("primal", solve_primal),
    Method("dual", solve_dual),
    Method("symmetric", solve_symmetric),
    Method("symmetric_dual", solve_symmetric_dual),
    Method("colgen", solve_colgen),
    Method("entropic", solve_entropic),
    Method("krep", solve_krep),
    Method("sdp", solve_sdp),
    Method("meanfield", solve_meanfield),
    Method("variance", solve_variance_bound),
    Method("mcot", solve_mcot),
    Method("moments", solve_mcot, alias_of="mcot"),   # alias: moment-constrained OT
)


def _load(name: str) -> Callable[..., Solution]:
    """The function of method ``name`` (:class:`MethodNotAvailableError` naming the choices if unknown)."""
    try:
        return METHODS[name].function
    except KeyError:
        raise MethodNotAvailableError(
            f"unknown method {name!r}; choose one of auto, {', '.join(METHODS)}") from None


def available_methods() -> list[str]:
    """Names of the registered methods (aliases included); every one is importable."""
    return list(METHODS)


def method_schema(name: str) -> OptionSchema:
    """The :class:`~mmot_models.options.OptionSchema` of method ``name``."""
    _load(name)  # unknown name -> MethodNotAvailableError
    return METHODS[name].schema


def all_schemas() -> dict[str, OptionSchema]:
    """``{method: schema}`` for every available method (aliases such as ``moments`` included)."""
    out = {}
    for name in available_methods():
        out[name] = method_schema(name)
    return out


def _takers(schemas: dict[str, OptionSchema]) -> dict[str, list[str]]:
    """Option name (or alias) -> the methods declaring it (aliases of methods skipped)."""
    out: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        if name != schema.method:
            continue
        for key in schema.names + [a for o in schema.options for a in o.aliases]:
            out.setdefault(key, []).append(name)
    return out


_COMMON_SCHEMA = OptionSchema("auto", COMMON)


def choose_method(problem: MMOTProblem, memory_limit_bytes: int | None = None, backend: str = "highs") -> str:
    """The method ``auto`` picks: the exact symmetric LP (or column generation when it is large)
    for symmetric problems, the full primal LP when it fits, otherwise the entropic solver.

    Column generation drives a warm-started HiGHS instance, so with another ``backend`` the
    enumerated symmetric LP is chosen instead."""
    from .formulations.standard_lp import LPSize, available_memory_bytes, MEMORY_FRACTION
    from .formulations.kantorovich import KantorovichPrimal

    if not isinstance(problem, MMOTProblem):
        raise MMOTInputError(f"choose_method expects an MMOTProblem, got {type(problem).__name__}")
    limit = memory_limit_bytes if memory_limit_bytes is not None else int(MEMORY_FRACTION * available_memory_bytes())
    avail = set(available_methods())
    if problem.is_symmetric and "symmetric" in avail:
        try:
            from .algorithms.symmetric import recommended_method  # type: ignore[attr-defined]
        except ImportError:
            return "symmetric"
        chosen = recommended_method(problem, limit, avail)
        return "symmetric" if (chosen == "colgen" and backend != "highs") else chosen
    size: LPSize = KantorovichPrimal().size(problem)
    if size.bytes <= limit:
        return "primal"
    if "entropic" in avail:
        return "entropic"
    return "primal"  # raises ProblemTooLargeError with the size and the advice


def solve(problem: MMOTProblem, method: str = "auto", backend: str = "highs", **options: Any) -> Solution:
    """Solve ``problem`` with ``method`` on ``backend``.

    Parameters
    ----------
    problem : MMOTProblem
    method : str
        ``"auto"`` (see :func:`choose_method`), ``"primal"``, ``"dual"``, ``"symmetric"``,
        ``"colgen"``, ``"entropic"``, ``"krep"``, ``"sdp"``, ``"meanfield"``, ... (:data:`METHODS`).
    backend : str
        ``"highs"`` (direct highspy, default) or ``"pyomo"`` for LP methods.
    **options
        Declared per method (``mmot methods`` lists them, with types, defaults and domains; in
        Python ``method_schema(name)``).  Common to all methods: ``time_limit`` (s), ``threads``,
        ``verbose``, ``memory_limit_gb`` (or ``memory_limit_bytes``); LP methods also take
        ``pyomo_solver`` (backend pyomo) and ``solver_options`` (dict of backend options).
        Unknown or misspelt names, values outside their domain and options of another method
        raise :class:`~mmot_models.errors.MMOTInputError` before anything is built.  With
        ``method="auto"`` the options are checked against the method it chooses.

    Returns
    -------
    Solution
        Always returned for a well-posed problem; ``status`` says whether it is final.
    """
    if type(problem).__name__ == "MCOTProblem":  # moment-constrained problems have one solver family
        if method not in ("auto", "mcot", "moments"):
            raise MMOTInputError(f"an MCOTProblem is solved by method='mcot', not {method!r}")
        method = "mcot"
    elif not isinstance(problem, MMOTProblem):
        raise MMOTInputError(f"solve expects an MMOTProblem or MCOTProblem, got {type(problem).__name__}")
    context = {"backend": backend}
    chosen_by_auto = method == "auto"
    if chosen_by_auto:
        schemas = all_schemas()
        takers = _takers(schemas)
        unknown = [k for k in options if k not in takers]
        if unknown:
            from .options import suggest
            raise MMOTInputError(f"unknown option {unknown[0]!r}: no method takes it;{suggest(unknown[0], takers)} "
                                 f"common options: {', '.join(o.name for o in COMMON)}; `mmot methods` lists the "
                                 "options of each method")
        common = _COMMON_SCHEMA.validate({k: v for k, v in options.items() if k in _COMMON_SCHEMA}, context=context)
        method = choose_method(problem, common.get("memory_limit_bytes"), backend)
    fn = _load(method)
    schema = schema_of(fn)
    if schema is None:  # pragma: no cover - every registered method declares its options
        raise MethodNotAvailableError(f"method {method!r} declares no options schema")
    kwargs = schema.validate(options, context=context, chosen_by_auto=chosen_by_auto,
                             others=_takers(all_schemas()) if chosen_by_auto else None)
    return fn(problem, backend=backend, **kwargs)
