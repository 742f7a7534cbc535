"""Declared options of the solver methods: one :class:`OptionSchema` per method.

Every method of :func:`mmot_models.solve` declares, next to its implementation, the options it
takes: name, type, domain, default and meaning (:class:`Option`).  The schema is the single source
for

* validation -- :meth:`OptionSchema.validate` rejects unknown or misspelt names with a suggestion,
  coerces strings coming from the command line (``--option max_iter=500``) and checks domains
  (finite positive time limits and tolerances, ``threads >= 1``, ...), raising
  :class:`~mmot_models.errors.MMOTInputError` with a one-line message;
* documentation -- ``mmot methods`` (text or ``--json``) and the "Options" section of the docs
  print the same schema.

A method function is registered with :func:`declares` (the decorator validates every call, also
direct ones such as ``solve_entropic(problem, tme_limit=1)``), so a misspelt option can never reach
a catch-all ``**options``.

The run-level options of :data:`COMMON` (``time_limit``, ``threads``, ``verbose``,
``memory_limit_gb``/``memory_limit_bytes``) are in every schema; a method on which one has no effect
says so in its schema (``used=False``: accepted, documented as having no effect, not passed on).

Pyomo is not imported here (the design follows its ``ConfigDict``/``ConfigValue`` idea of a typed,
documented value with a domain, in plain frozen dataclasses).
"""
from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from .errors import MMOTInputError

__all__ = ["Option", "OptionSchema", "declares", "schema_of", "COMMON", "LP_BACKEND_OPTIONS",
           "common_options", "cpu_count", "suggest", "options_markdown"]

#: Option types (the ``type`` field; ``"object"`` for values checked by a custom ``check``).
TYPES = ("float", "int", "bool", "str", "dict", "choice", "object")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def cpu_count() -> int:
    """CPUs of this machine (the upper end of the ``threads`` domain)."""
    return max(1, os.cpu_count() or 1)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """``" did you mean 'x'?"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Option:
    """One declared option.

    Parameters
    ----------
    name : str
        The keyword (as given to :func:`mmot_models.solve` and ``--option``).
    type : str
        One of :data:`TYPES`.
    default : object
        The method's default (``None`` usually means "chosen automatically", see ``doc``).
    doc : str
        What the option means *for this method*.
    low, high : float, optional
        Bounds of a number; ``low_open``/``high_open`` make them strict.
    finite : bool
        Numbers must be finite (no NaN or infinity).
    choices : tuple
        Allowed values of a ``"choice"`` option (strings compared case-sensitively unless
        ``upper`` is set, then upper-cased first).
    nullable : bool
        ``None`` is accepted (meaning the default).  Defaults to ``default is None``.
    aliases : tuple of str
        Other names mapped to this one (the schema states them).
    only : tuple of (str, tuple)
        Conditions ``(key, values)``: the option applies only when ``key`` (another option, or
        ``backend``) has one of ``values``; otherwise it is rejected as not applicable.
    target : str, optional
        Keyword under which the checked value is passed (after ``convert``); default ``name``.
    convert : callable, optional
        Applied to the checked value before it is passed on (e.g. GiB to bytes).
    used : bool
        ``False``: accepted for uniformity with the other methods but without effect (not passed).
    check : callable, optional
        Custom coercion for ``"object"`` options: returns the value or raises ``ValueError``.
    domain_text : str, optional
        Text of the domain when ``check`` is used.
    default_by : tuple of (str, tuple of (value, default)), optional
        Defaults that depend on another option, e.g. ``("solver", (("lp", 4), ("colgen", 1)))``.
    """

    name: str
    type: str
    default: Any = None
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True
    choices: tuple[Any, ...] = ()
    upper: bool = False
    nullable: bool | None = None
    aliases: tuple[str, ...] = ()
    only: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    target: str | None = None
    convert: Callable[[Any], Any] | None = None
    used: bool = True
    check: Callable[[Any], Any] | None = None
    domain_text: str | None = None
    default_by: tuple[str, tuple[tuple[Any, Any], ...]] | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: unknown type {self.type!r}")
        if self.nullable is None:
            object.__setattr__(self, "nullable", self.default is None)

    # ------------------------------------------------------------------ description
    @property
    def domain(self) -> str:
        """The allowed values, in words (used in error messages and ``mmot methods``)."""
        return self._domain()

    def _domain(self, here: bool = False) -> str:
        if self.domain_text is not None:
            d = self.domain_text
        elif self.type == "bool":
            d = "true or false"
        elif self.type == "str":
            d = "a string"
        elif self.type == "dict":
            d = "a dict of names to values"
        elif self.type == "choice":
            d = "one of " + ", ".join("None" if c is None else repr(c) for c in self.choices)
        elif self.type in ("float", "int"):
            noun = "an integer" if self.type == "int" else ("a finite number" if self.finite else "a number")
            parts = []
            if self.low is not None and self.high is not None:
                lo = "(" if self.low_open else "["
                hi = ")" if self.high_open else "]"
                if self.type == "int" and not self.low_open and not self.high_open:
                    parts.append(f"in {_fmt(self.low)}..{_fmt(self.high)}")
                else:
                    parts.append(f"in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}")
            elif self.low is not None:
                parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
            elif self.high is not None:
                parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
            d = " ".join([noun] + parts)
        else:
            d = "any value"
        if here and self.domain_text and self.high is not None:
            d += f" ({_fmt(self.high)} here)"
        if self.nullable and self.type != "choice":
            d += " (or None)"
        return d

    def applies_text(self) -> str:
        return "; ".join(f"{k}={'|'.join(str(v) for v in vals)}" for k, vals in self.only)

    def notes(self, quote: str = "") -> list[str]:
        """Aliases, conditions and "no effect" remarks (``quote`` wraps aliases, e.g. a backtick)."""
        out = []
        if self.aliases:
            out.append("alias " + ", ".join(f"{quote}{a}{quote}" for a in self.aliases))
        if self.only:
            out.append(f"only with {self.applies_text()}")
        if not self.used:
            out.append("no effect for this method")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: name, type, default, domain, doc (and aliases, conditions)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": _json_value(self.default),
                               "domain": self.domain, "doc": self.doc}
        if self.choices:
            out["choices"] = [_json_value(c) for c in self.choices]
        if self.default_by is not None:
            key, pairs = self.default_by
            out["default_by"] = {key: {str(v): _json_value(d) for v, d in pairs}}
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.only:
            out["applies_when"] = {k: [_json_value(v) for v in vals] for k, vals in self.only}
        if not self.used:
            out["used"] = False
        if self.target and self.target != self.name:
            out["passed_as"] = self.target
        return out

    # ------------------------------------------------------------------ checking
    def coerce(self, value: Any, method: str) -> Any:
        """The checked, typed value; :class:`MMOTInputError` when it is outside the domain."""
        if value is None:
            if self.nullable or (self.type == "choice" and None in self.choices):
                return None
            raise self._bad(value, method)
        try:
            if self.check is not None:
                return self.check(value)
            return getattr(self, f"_as_{self.type}")(value)
        except (ValueError, TypeError, OverflowError):
            raise self._bad(value, method) from None

    def _bad(self, value: Any, method: str) -> MMOTInputError:
        shown = repr(value) if not isinstance(value, float) else _fmt(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return MMOTInputError(f"option {self.name} of method {method} must be {self._domain(here=True)}, "
                              f"got {shown}")

    def _in_bounds(self, x: float) -> bool:
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        if self.high is not None and (x >= self.high if self.high_open else x > self.high):
            return False
        return True

    def _as_float(self, v: Any) -> float:
        if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
            raise TypeError
        if isinstance(v, str):
            x = float(v.strip())
        elif isinstance(v, numbers.Real):
            x = float(v)
        else:
            raise TypeError
        if (self.finite and not math.isfinite(x)) or math.isnan(x) or not self._in_bounds(x):
            raise ValueError
        return x

    def _as_int(self, v: Any) -> int:
        if isinstance(v, bool) or type(v).__name__ == "bool_":
            raise TypeError
        if isinstance(v, numbers.Integral):
            n = int(v)
        elif isinstance(v, numbers.Real) or isinstance(v, str):
            x = float(v.strip()) if isinstance(v, str) else float(v)
            if not math.isfinite(x) or x != int(x):
                raise ValueError
            n = int(x)
        else:
            raise TypeError
        if not self._in_bounds(n):
            raise ValueError
        return n

    def _as_bool(self, v: Any) -> bool:
        if isinstance(v, bool) or type(v).__name__ == "bool_":
            return bool(v)
        if isinstance(v, numbers.Integral) and int(v) in (0, 1):
            return bool(v)
        if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            return v.strip().lower() in _TRUE
        raise ValueError

    def _as_str(self, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise TypeError
        return v

    def _as_dict(self, v: Any) -> dict[str, Any]:
        if not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v):
            raise TypeError
        return dict(v)

    def _as_choice(self, v: Any) -> Any:
        for c in self.choices:
            if isinstance(c, str) and isinstance(v, str):
                if (v.upper() == c.upper()) if self.upper else (v == c):
                    return c
            elif c is None or isinstance(c, bool):
                if v is c or (type(v).__name__ == "bool_" and bool(v) is c):
                    return c
        raise ValueError

    def _as_object(self, v: Any) -> Any:
        return v


def _json_value(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return repr(v)


@dataclass(frozen=True)
class OptionSchema:
    """The options of one method (see the module docstring).

    Parameters
    ----------
    method : str
        Method name used in messages (``"primal"``, ``"entropic"``, ...).
    options : tuple of Option
    doc : str
        One line: what the method computes.
    exclusive : tuple of tuple of str
        Groups of options of which at most one may be given (e.g. the two memory limits).
    """

    method: str
    options: tuple[Option, ...]
    doc: str = ""
    exclusive: tuple[tuple[str, ...], ...] = (("memory_limit_gb", "memory_limit_bytes"),)
    _by_name: dict[str, Option] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[str, Option] = {}
        for opt in self.options:
            for key in (opt.name, *opt.aliases):
                if key in table:
                    raise ValueError(f"schema {self.method}: option name {key!r} declared twice")
                table[key] = opt
        object.__setattr__(self, "_by_name", table)

    @property
    def names(self) -> list[str]:
        """Canonical option names, in declaration order."""
        return [o.name for o in self.options]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Option:
        return self._by_name[name]

    def with_options(self, *options: Option, method: str | None = None, doc: str | None = None) -> "OptionSchema":
        """A copy with ``options`` added or replacing those of the same name."""
        new = {o.name: o for o in self.options}
        new.update({o.name: o for o in options})
        return replace(self, method=method or self.method, options=tuple(new.values()),
                       doc=self.doc if doc is None else doc)

    def unknown_message(self, key: str, others: Mapping[str, list[str]] | None = None,
                        chosen_by_auto: bool = False) -> str:
        """The error text for a key this schema does not declare."""
        elsewhere = (others or {}).get(key, [])
        via = " (chosen by method='auto' for this problem)" if chosen_by_auto else ""
        if elsewhere:
            return (f"option {key!r} does not apply to method {self.method!r}{via}; it is an option of "
                    f"method {', '.join(elsewhere)}: pass method={elsewhere[0]!r} or drop it "
                    f"(options of {self.method}: {', '.join(self.names)})")
        return (f"unknown option {key!r} for method {self.method!r}{via};"
                f"{suggest(key, self._by_name) or ''} options: {', '.join(self.names)}")

    def validate(self, options: Mapping[str, Any], *, context: Mapping[str, Any] | None = None,
                 others: Mapping[str, list[str]] | None = None, chosen_by_auto: bool = False) -> dict[str, Any]:
        """Check ``options`` and return the keyword arguments to pass to the method.

        Unknown keys (with a close-match suggestion), values outside their domain, two names of one
        option, options that do not apply (``only``) and exclusive pairs raise
        :class:`~mmot_models.errors.MMOTInputError`.  The result maps each option's ``target`` to
        its checked (and converted) value; options with ``used=False`` are dropped.

        Parameters
        ----------
        options : mapping
            As given by the caller (values may be strings from the command line).
        context : mapping, optional
            Values the ``only`` conditions may refer to besides the options (``backend``).
        others : mapping, optional
            Option name -> methods that take it, for a more helpful message on a foreign option.
        """
        checked: dict[str, Any] = {}
        for key, value in options.items():
            if not isinstance(key, str) or key not in self._by_name:
                if others is None:
                    others = _options_elsewhere(self.method)
                raise MMOTInputError(self.unknown_message(str(key), others, chosen_by_auto))
            opt = self._by_name[key]
            if opt.name in checked:
                names = " and ".join(repr(n) for n in (opt.name, *opt.aliases) if n in options)
                raise MMOTInputError(f"{names} are one option of method {self.method}; give it once")
            checked[opt.name] = opt.coerce(value, self.method)
        for group in self.exclusive:
            given = [n for n in group if checked.get(n) is not None]
            if len(given) > 1:
                raise MMOTInputError(f"give only one of the options {', '.join(given)} of method {self.method}")
        env = dict(context or {})
        for name, value in checked.items():
            opt = self._by_name[name]
            for key, allowed in opt.only:
                current = checked.get(key, env.get(key, self._by_name[key].default if key in self._by_name else None))
                if current not in allowed:
                    raise MMOTInputError(
                        f"option {name} of method {self.method} applies with {key}="
                        f"{' or '.join(repr(a) for a in allowed)} only (here {key}={current!r}); drop it")
        out: dict[str, Any] = {}
        for name, value in checked.items():
            opt = self._by_name[name]
            if not opt.used:
                continue
            out[opt.target or opt.name] = opt.convert(value) if (opt.convert and value is not None) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"doc": ..., "options": [Option.to_dict(), ...]}`` (JSON-ready)."""
        return {"doc": self.doc, "options": [o.to_dict() for o in self.options]}

    def describe(self, indent: str = "  ") -> list[str]:
        """Text lines ``name  type = default  domain  doc`` for ``mmot methods``."""
        lines = []
        for o in self.options:
            default = o.default
            if o.default_by is not None:
                key, pairs = o.default_by
                default = ", ".join(f"{v}: {d!r}" for v, d in pairs) + f" (by {key})"
            head = f"{indent}{o.name} ({o.type}, default {default!r})" if o.default_by is None else \
                f"{indent}{o.name} ({o.type}, default {default})"
            extra = o.notes()
            tail = f" [{'; '.join(extra)}]" if extra else ""
            lines.append(f"{head}: {o.domain}{tail}")
            if o.doc:
                lines.append(f"{indent}    {o.doc}")
        return lines


# ============================================================================ shared declarations
def _gib_to_bytes(gb: float) -> int:
    return int(gb * 2**30)


#: Run-level options accepted by every method.
COMMON: tuple[Option, ...] = (
    Option("time_limit", "float", None, "wall-clock limit in seconds (None: no limit)", low=0, low_open=True),
    Option("threads", "int", None, "solver threads (None: the solver's default)", low=1, high=cpu_count(),
           domain_text="an integer >= 1, at most the number of CPUs"),
    Option("verbose", "bool", False, "print solver logs"),
    Option("memory_limit_gb", "float", None,
           "refuse formulations whose estimated memory exceeds this many GiB (default: a fraction of the "
           "available memory)", low=0, low_open=True, target="memory_limit_bytes", convert=_gib_to_bytes),
    Option("memory_limit_bytes", "int", None, "the same limit in bytes (give one of the two)", low=1),
)

#: Options of methods that solve an LP on the HiGHS or Pyomo backend.
LP_BACKEND_OPTIONS: tuple[Option, ...] = (
    Option("pyomo_solver", "str", "appsi_highs", "Pyomo solver name (backend pyomo), e.g. 'glpk'",
           only=(("backend", ("pyomo",)),)),
    Option("solver_options", "dict", None,
           "options of the LP solver: HiGHS option names and values (backend highs; unknown names or bad "
           "values are an error) or the Pyomo solver's own options (backend pyomo)"),
)


def common_options(*, unused: Iterable[str] = (), why: str = "", **docs: str) -> tuple[Option, ...]:
    """:data:`COMMON`, with ``unused`` names marked as without effect (``why`` says why) and
    method-specific ``docs`` overriding the default descriptions."""
    unused = set(unused)
    out = []
    for o in COMMON:
        if o.name in unused:
            o = replace(o, used=False, doc=f"{o.doc}; no effect here: {why}" if why else o.doc)
        if o.name in docs:
            o = replace(o, doc=docs[o.name])
        out.append(o)
    return tuple(out)


# ============================================================================ registration
_REGISTRY: dict[str, OptionSchema] = {}


def declares(schema: OptionSchema) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: attach ``schema`` to a method function ``fn(problem, backend=..., **options)``
    and validate every call against it (``fn.options`` is the schema, ``fn.__wrapped__`` the
    undecorated function)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        backend_default = sig.parameters["backend"].default if "backend" in sig.parameters else None

        @functools.wraps(fn)
        def wrapper(problem: Any, backend: str | None = None, **options: Any) -> Any:
            backend = backend_default if backend is None else backend
            kwargs = schema.validate(options, context={"backend": backend})
            return fn(problem, backend, **kwargs)

        wrapper.options = schema  # type: ignore[attr-defined]
        _REGISTRY[schema.method] = schema
        return wrapper

    return deco


def schema_of(fn: Callable[..., Any]) -> OptionSchema | None:
    """The schema a method function declares (``None`` for an undeclared function)."""
    return getattr(fn, "options", None)


def _options_elsewhere(method: str) -> dict[str, list[str]]:
    """Option name -> the other methods declaring it (error path only).

    Every method declares its schema when its module is imported, and importing the package imports
    them all (:data:`mmot_models.solve.METHODS` holds the functions themselves), so the registry is
    complete here without this module reaching up to :mod:`mmot_models.solve`."""
    schemas = dict(_REGISTRY)
    out: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        if schema.method == method or name != schema.method:
            continue
        for key in schema._by_name:
            out.setdefault(key, []).append(name)
    return out


# ============================================================================ documentation
def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(options: Iterable[Option]) -> list[str]:
    lines = ["| option | type | default | domain | meaning |", "|---|---|---|---|---|"]
    for o in options:
        if o.default_by is not None:
            key, pairs = o.default_by
            default = ", ".join(f"{v}: `{d!r}`" for v, d in pairs)
        else:
            default = f"`{o.default!r}`"
        notes = o.notes(quote="`")
        doc = o.doc + (f" ({'; '.join(notes)})" if notes else "")
        lines.append(f"| `{o.name}` | {o.type} | {_md(default)} | {_md(o.domain)} | {_md(doc)} |")
    return lines


def options_markdown(schemas: Mapping[str, OptionSchema]) -> str:
    """The options of every method as Markdown tables (``mmot methods --markdown``; the docs page
    ``docs/options.md`` is this output, and a test checks that it is up to date)."""
    common = {o.name for o in COMMON}
    out = ["## Options of every method", "",
           "Run-level options; a method on which one has no effect says so below.", ""]
    out += _md_table(COMMON)
    for name, schema in schemas.items():
        out += ["", f"## `{name}`", ""]
        if schema.method != name:
            out.append(f"Alias of `{schema.method}`.")
            continue
        out.append(schema.doc[:1].upper() + schema.doc[1:] + ".")
        idle = [o.name for o in schema.options if o.name in common and not o.used]
        if idle:
            out += ["", f"No effect here: {', '.join(f'`{n}`' for n in idle)}."]
        own = [o for o in schema.options if o.name not in common]
        if own:
            out += [""] + _md_table(own)
    return "\n".join(out) + "\n"
