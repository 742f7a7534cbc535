"""Options as declared schemas (mmot_models.options): every method rejects misspelt, foreign and
out-of-domain options before anything runs, the command line turns them into one ``error:`` line with
exit 2, HiGHS ``solver_options`` are checked, and the schemas cannot drift from the code or from
``mmot methods --json``."""
from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmot_models as mm
from mmot_models.cli import main
from mmot_models.errors import MMOTInputError
from mmot_models.options import COMMON, Option, OptionSchema, cpu_count
from mmot_models.solve import METHODS, _load, all_schemas, method_schema

ROOT = Path(__file__).resolve().parents[1]
#: Seconds any single CLI subprocess below may take (they fail in option validation, before solving).
SUBPROCESS_TIMEOUT_S = 120
#: Methods whose implementation forwards ``**options`` to sub-solvers chosen by an option.
FORWARDING = {"mcot"}


@pytest.fixture(scope="module")
def problem() -> mm.MMOTProblem:
    return mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 6, midpoints=True)), 3, "coulomb")


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory, problem) -> Path:
    path = tmp_path_factory.mktemp("opts") / "u3.json"
    mm.save_problem(problem, path)
    return path


def _misspell(name: str) -> str:
    """Drop the second character (``time_limit`` -> ``tme_limit``), or double the last for short names."""
    return name[0] + name[2:] if len(name) > 4 else name + name[-1]


# ------------------------------------------------------------------------------ unknown names
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_rejects_a_misspelt_common_option_with_a_suggestion(problem, method):
    with pytest.raises(MMOTInputError) as exc:
        mm.solve(problem, method=method, tme_limit=1)
    msg = str(exc.value)
    assert "unknown option 'tme_limit'" in msg and "did you mean 'time_limit'?" in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("method", list(METHODS))
def test_every_option_of_every_method_misspelt_is_rejected_naming_it(problem, method):
    schema = method_schema(method)
    everywhere = {k for s in all_schemas().values() for o in s.options for k in (o.name, *o.aliases)}
    checked = 0
    for opt in schema.options:
        bad = _misspell(opt.name)
        if bad in everywhere:  # the misspelling is itself an option of some method
            continue
        with pytest.raises(MMOTInputError) as exc:
            mm.solve(problem, method=method, **{bad: 1})
        assert f"unknown option {bad!r}" in str(exc.value)
        assert f"did you mean {opt.name!r}?" in str(exc.value), (method, opt.name, str(exc.value))
        checked += 1
    assert checked >= len(schema.options) - 2


@pytest.mark.parametrize("method", [m for m in METHODS if m not in ("moments",)])
def test_direct_calls_of_method_functions_are_validated_too(problem, method):
    fn = _load(method)
    with pytest.raises(MMOTInputError, match="did you mean 'time_limit'"):
        fn(problem, tme_limit=1)


def test_an_option_of_another_method_names_that_method(problem):
    with pytest.raises(MMOTInputError) as exc:
        mm.solve(problem, method="primal", eps=0.1)
    assert "it is an option of method entropic" in str(exc.value)
    with pytest.raises(MMOTInputError) as exc:  # auto chooses the symmetric LP here: eps would be ignored
        mm.solve(problem, eps=0.1)
    assert "chosen by method='auto'" in str(exc.value) and "entropic" in str(exc.value)
    with pytest.raises(MMOTInputError, match="no method takes it; did you mean 'time_limit'"):
        mm.solve(problem, tme_limit=1)


def test_options_of_another_sub_solver_or_backend_do_not_apply(problem):
    with pytest.raises(MMOTInputError, match="applies with solver='metropolis' only"):
        mm.solve(problem, method="mcot", n_steps=3)
    with pytest.raises(MMOTInputError, match="applies with backend='cvxpy' only"):
        mm.solve(problem, method="krep", tol=1e-3)
    with pytest.raises(MMOTInputError, match="applies with backend='pyomo' only"):
        mm.solve(problem, method="primal", pyomo_solver="glpk")


def test_alias_and_exclusive_options(problem):
    with pytest.raises(MMOTInputError, match="give it once"):
        mm.solve(problem, method="mcot", moments="hats:4", families="hats:5")
    with pytest.raises(MMOTInputError, match="only one of the options memory_limit_gb, memory_limit_bytes"):
        mm.solve(problem, method="primal", memory_limit_gb=1, memory_limit_bytes=2**30)


# ------------------------------------------------------------------------------ domains
BAD_VALUES = [
    ("primal", "time_limit", -5), ("primal", "time_limit", math.nan), ("primal", "time_limit", math.inf),
    ("primal", "time_limit", "soon"), ("primal", "threads", -3), ("primal", "threads", 0),
    ("primal", "threads", cpu_count() + 1), ("primal", "threads", 2.5), ("primal", "threads", True),
    ("primal", "memory_limit_gb", math.nan), ("primal", "memory_limit_gb", math.inf),
    ("primal", "memory_limit_gb", 0), ("primal", "verbose", "perhaps"), ("primal", "solver_options", [1, 2]),
    ("colgen", "tol", math.inf), ("colgen", "tol", 0), ("colgen", "max_rounds", "abc"),
    ("colgen", "pricing", "greedy"), ("entropic", "max_iter", "abc"), ("entropic", "eps", -1e-3),
    ("entropic", "overrelax", 2.0), ("entropic", "eps_factor", 1.0), ("entropic", "solver", "lbfgs"),
    ("krep", "k", 1), ("krep", "cuts", 2), ("sdp", "solver", "MOSEKX"), ("symmetric", "expand", "sorted"),
    ("mcot", "solver", "annealing"), ("mcot", "n_functions", 0), ("variance", "time_limit", -1),
]


@pytest.mark.parametrize("method,name,value", BAD_VALUES)
def test_values_outside_the_domain_are_rejected_before_solving(problem, method, name, value):
    with pytest.raises(MMOTInputError) as exc:
        mm.solve(problem, method=method, **{name: value})
    msg = str(exc.value)
    assert msg.startswith(f"option {name} of method {method} must be "), msg
    assert "\n" not in msg


def test_strings_from_the_command_line_are_coerced():
    opt = Option("n", "int", 1, low=1)
    assert opt.coerce("500", "m") == 500 and type(opt.coerce("500", "m")) is int
    assert opt.coerce(7.0, "m") == 7
    assert Option("x", "float", None, low=0, low_open=True).coerce("1e-3", "m") == pytest.approx(1e-3)
    b = Option("b", "bool", False)
    assert b.coerce("true", "m") is True and b.coerce("off", "m") is False and b.coerce(0, "m") is False
    c = Option("s", "choice", "CLARABEL", choices=("CLARABEL", "SCS"), upper=True)
    assert c.coerce("scs", "m") == "SCS"
    with pytest.raises(MMOTInputError, match=r"option n of method m must be an integer >= 1, got 'abc'"):
        opt.coerce("abc", "m")


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)),
       as_text=st.booleans())
def test_float_domain_agrees_with_its_definition(x, as_text):
    """``(0, 2)`` open interval, finite: accepted exactly when 0 < x < 2 (also given as text)."""
    opt = Option("overrelax", "float", 1.0, low=0, high=2, low_open=True, high_open=True)
    value = repr(x) if as_text else x
    inside = math.isfinite(x) and 0 < x < 2
    if inside:
        assert opt.coerce(value, "m") == float(x)
    else:
        with pytest.raises(MMOTInputError, match=r"must be a finite number in \(0, 2\)"):
            opt.coerce(value, "m")


@settings(max_examples=300, deadline=None)
@given(n=st.integers(-10**9, 10**9), form=st.sampled_from(["int", "str", "float"]))
def test_int_domain_agrees_with_its_definition(n, form):
    opt = Option("max_iter", "int", 20000, low=1)
    value = {"int": n, "str": str(n), "float": float(n)}[form]
    if n >= 1:
        assert opt.coerce(value, "m") == n
    else:
        with pytest.raises(MMOTInputError, match="must be an integer >= 1"):
            opt.coerce(value, "m")


def test_coerced_values_reach_the_method(problem):
    """``max_iter="3"`` (a string, as from ``--option``) becomes the int 3: the run stops at 3 sweeps."""
    sol = mm.solve(problem, method="entropic", max_iter="3", tol="1e-12", plan="false", upper_bound=False)
    assert sol.status == mm.Status.ITERATION_LIMIT
    assert sol.iterations == 3 and sol.plan_indices is None


def test_colgen_infinite_tol_no_longer_reports_optimal_with_a_gap(problem):
    # regression: tol=inf stopped at round 1 and reported 'optimal' with a 90% gap
    with pytest.raises(MMOTInputError, match="option tol of method colgen must be a finite number > 0"):
        mm.solve(problem, method="colgen", tol=math.inf)


def test_schema_declaration_errors():
    with pytest.raises(ValueError, match="declared twice"):
        OptionSchema("m", (Option("a", "int", 0), Option("b", "int", 0, aliases=("a",))))
    with pytest.raises(ValueError, match="unknown type"):
        Option("a", "complex")


# ------------------------------------------------------------------------------ HiGHS solver_options
def test_unknown_highs_option_raises_naming_it(problem):
    with pytest.raises(MMOTInputError) as exc:
        mm.solve(problem, method="primal", solver_options={"tme_limit": 1.0})
    assert "unknown HiGHS option 'tme_limit'" in str(exc.value) and "did you mean 'time_limit'" in str(exc.value)
    with pytest.raises(MMOTInputError, match="HiGHS option 'presolve' in solver_options does not accept 'maybe'"):
        mm.solve(problem, method="symmetric", solver_options={"presolve": "maybe"})
    with pytest.raises(MMOTInputError, match="unknown HiGHS option 'dual_feas_tol'"):
        mm.solve(problem, method="colgen", solver_options={"dual_feas_tol": 1e-9})


def test_valid_highs_option_is_applied(problem):
    """A real HiGHS option still works: an iteration limit of 0 stops the simplex at once."""
    sol = mm.solve(problem, method="primal", solver_options={"simplex_iteration_limit": 0, "presolve": "off"})
    assert sol.status == mm.Status.ITERATION_LIMIT
    ok = mm.solve(problem, method="primal", solver_options={"presolve": "off"})
    assert ok.status == mm.Status.OPTIMAL


# ------------------------------------------------------------------------------ schema vs code
def _params(fn) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(inspect.unwrap(fn))
    return {n: p for n, p in sig.parameters.items() if n not in ("problem", "backend")}


def _mcot_functions():
    from mmot_models.algorithms import moments as mo
    from mmot_models.algorithms import mcot_sites as ms
    return {"lp": mo.mcot_lp, "sites": ms.mcot_sites, "colgen": mo.mcot_colgen, "particles": mo.mcot_particles,
            "metropolis": mo.mcot_metropolis}


@pytest.mark.parametrize("method", [m for m in METHODS if m != "moments"])
def test_signature_and_schema_agree(method):
    """Every keyword the method function takes is declared; every declared (used) option is taken,
    with the same default; no catch-all ``**kwargs`` outside the forwarding mcot entry point."""
    fn = _load(method)
    schema = method_schema(method)
    targets = {(o.target or o.name): o for o in schema.options if o.used}
    if method in FORWARDING:
        subs = _mcot_functions()
        common = {o.name for o in COMMON} | {"memory_limit_bytes"}
        source_keys = {"moments", "n_functions", "symmetric"}  # consumed for a discrete MMOTProblem
        for solver, sub in subs.items():
            internal = {"source", "sites", "delta"}  # filled in by the entry point, not user options
            params = {n: p for n, p in _params(sub).items() if p.kind != p.VAR_KEYWORD and n not in internal}
            for name, p in params.items():
                assert name in schema, f"{sub.__name__} takes {name!r}, not declared in the mcot schema"
                opt = schema[name]
                applies = dict(opt.only).get("solver", (solver,))
                assert solver in applies, f"{name} is taken by solver {solver} but declared for {applies}"
                default = dict(opt.default_by[1]).get(solver) if opt.default_by else opt.default
                assert p.default == default, (solver, name, p.default, default)
            for opt in schema.options:
                applies = dict(opt.only).get("solver")
                taken_before = {"candidates", "refine", "grid"} if solver == "sites" else set()  # mcot_candidates
                if applies and solver in applies and opt.name not in common | taken_before:
                    assert opt.name in params, f"{opt.name} declared for solver {solver}, not taken by it"
        own = _params(fn)
        assert set(own) == {"solver", "options"} and own["solver"].default == schema["solver"].default
        unconditioned = {o.name for o in schema.options if "solver" not in dict(o.only)}
        assert unconditioned - common - source_keys == {"solver"}
        return
    params = _params(fn)
    assert all(p.kind != p.VAR_KEYWORD for p in params.values()), f"{method} has a **kwargs catch-all"
    assert set(params) == set(targets), (set(params) ^ set(targets))
    for name, p in params.items():
        opt = targets[name]
        if opt.name == name:
            assert p.default == opt.default or (p.default is opt.default), (name, p.default, opt.default)


def test_every_declared_option_appears_in_methods_json(cli_runs):
    code, out, err = cli_runs["methods --json"]
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == set(METHODS)
    for method in METHODS:
        schema = method_schema(method)
        listed = {o["name"]: o for o in doc[method]["options"]}
        assert list(listed) == schema.names
        for opt in schema.options:
            entry = listed[opt.name]
            assert entry["type"] == opt.type and entry["domain"] == opt.domain and entry["doc"] == opt.doc
            assert entry["default"] == opt.default or (opt.default is None and entry["default"] is None)
            assert {"name", "type", "default", "domain", "doc"} <= set(entry)


def test_methods_text_lists_every_option(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for method in METHODS:
        assert f"\n{method}: " in out or out.startswith(f"{method}: ")
    for schema in all_schemas().values():
        for opt in schema.options:
            assert f"    {opt.name} (" in out, opt.name


# ------------------------------------------------------------------------------ command line
@pytest.mark.parametrize("method", list(METHODS))
def test_cli_rejects_a_misspelt_option_for_every_method(problem_file, capsys, method):
    code = main(["solve", str(problem_file), "--method", method, "--option", "tme_limit=1", "--json"])
    cap = capsys.readouterr()
    assert code == 2 and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown option 'tme_limit'")
    assert "did you mean 'time_limit'?" in lines[0]


#: Bad inputs of the issue's catalogue: each must exit 2 with one ``error:`` line, in a real process.
CLI_BAD = {
    "time_limit_negative": (["--time-limit", "-5"], "option time_limit"),
    "time_limit_nan": (["--time-limit", "nan"], "option time_limit"),
    "threads_negative": (["--threads", "-3"], "option threads"),
    "memory_nan": (["--memory-limit-gb", "nan"], "option memory_limit_gb"),
    "memory_inf": (["--memory-limit-gb", "inf"], "option memory_limit_gb"),
    "colgen_tol_inf": (["--method", "colgen", "--tol", "inf"], "option tol of method colgen"),
    "entropic_max_iter_abc": (["--method", "entropic", "--option", "max_iter=abc"],
                              "option max_iter of method entropic must be an integer >= 1, got 'abc'"),
    "colgen_max_rounds_abc": (["--method", "colgen", "--option", "max_rounds=abc"],
                              "option max_rounds of method colgen must be an integer >= 1, got 'abc'"),
}


def test_cli_unknown_highs_option_exits_2(problem_file, capsys):
    code = main(["solve", str(problem_file), "--method", "primal", "--option", 'solver_options={"tme_limit": 1}'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: unknown HiGHS option 'tme_limit'")


@pytest.fixture(scope="module")
def cli_runs(problem_file):
    """All catalogue cases started at once (they are independent), then collected."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {name: subprocess.Popen([sys.executable, "-m", "mmot_models.cli", "solve", str(problem_file), *args],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
             for name, (args, _) in CLI_BAD.items()}
    for extra in (["solve", "--help"], ["methods", "--json"]):
        procs[" ".join(extra[-2:])] = subprocess.Popen([sys.executable, "-m", "mmot_models.cli", *extra],
                                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                       cwd=ROOT, env=env)
    out = {}
    for name, p in procs.items():
        o, e = p.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        out[name] = (p.returncode, o, e)
    return out


@pytest.mark.parametrize("case", list(CLI_BAD))
def test_cli_bad_option_values_exit_2_with_one_error_line(cli_runs, case):
    code, out, err = cli_runs[case]
    assert code == 2, (case, code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert CLI_BAD[case][1] in lines[0]
    assert "Traceback" not in err


def test_solve_help_points_to_mmot_methods(cli_runs):
    code, out, _ = cli_runs["solve --help"]
    assert code == 0 and "mmot methods" in out
    for method in METHODS:
        assert method in out


# ------------------------------------------------------------------------------ documentation
MARKER = "<!-- generated by `mmot methods --markdown`"


def test_docs_options_page_is_the_schema():
    from mmot_models.options import options_markdown

    text = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    generated = text.split(MARKER, 1)[1].split("\n", 1)[1]
    assert generated == options_markdown(all_schemas()), \
        "docs/options.md is stale: regenerate the part below the marker with `mmot methods --markdown`"


def test_getting_started_options_section_matches_the_schema():
    from mmot_models.options import _md_table

    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    table = text.split("<!-- options:common", 1)[1].split("\n", 1)[1].split("<!-- /options:common -->", 1)[0]
    assert table.strip() == "\n".join(_md_table(COMMON))
    meanings = text.split("| method | `tol` | `solver` |", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("`")[1] for line in meanings.splitlines() if line.startswith("| `")}
    takers = {name for name, s in all_schemas().items() if name == s.method and ("tol" in s or "solver" in s)}
    assert rows == takers
