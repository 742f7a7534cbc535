"""The model object: a base transport LP (primal, symmetric, krep, moments) plus named row blocks, solvable anywhere.

::

    m = Model(problem, formulation="symmetric")
    m.add(MomentRows("hats:10"))
    m.add_constraint(m.plan.expectation(f) <= 0.1, name="cap")
    sol = m.solve(backend="highs")        # or "pyomo", "cvxpy"; certified by modeling.certify
    m.write("model.mps"); pm = m.to_pyomo(); cm = m.to_cvxpy()

Columns keep their meaning (``m.columns``: index tuples for ``"primal"``, sorted multisets for
``"symmetric"``), rows are grouped in named blocks (``m.blocks``), and every backend's answer goes
through one certificate (:func:`~mmot_models.modeling.certify.certify`) and one assembly function
(:func:`assemble_solution`).
"""
from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np
import scipy.sparse as sp

from ..errors import MMOTInputError
from ..formulations.standard_lp import LPResult, StandardLP
from ..formulations.symmetric import plan_fields
from ..problem import MMOTProblem
from ..solution import ZERO_FLOOR_REL, Solution, Status, marginal_errors
from ..solution import assemble_solution as _assemble
from .blocks import Block, RowBlock, UserRows
from .certify import CERT_REL_TOL, certify
from .expr import Constraint, LinearExpr
from .formulations import FORMULATIONS, build_base, implied_upper
from .solve_options import validate_model_options

__all__ = ["Model", "PlanVariable", "BlockInfo", "assemble_solution", "FORMULATIONS", "BACKENDS"]

BACKENDS = ("highs", "pyomo", "cvxpy")
#: Largest N for which a non-symmetric f is averaged over all N! orderings in the symmetric formulation.
MAX_PERMUTE_N = 6
_tokens = itertools.count(1)


@dataclass(frozen=True)
class BlockInfo:
    """Where a block's rows sit in :meth:`Model.to_standard_lp` and what they are called."""

    rows: slice
    labels: list[Hashable]
    block: Block | None


class PlanVariable:
    """The plan columns of a model: ``m.plan[t]``, ``m.plan.expectation(f)``, ``m.plan.mass()``."""

    def __init__(self, model: "Model") -> None:
        self._m = model
        self._keys: np.ndarray | None = None

    def __len__(self) -> int:
        return self._m.n_cols

    def points(self) -> np.ndarray:
        """Configurations of the columns as points, shape ``(n_cols, N, d)``."""
        m = self._m
        marg = [m.problem.marginals[0 if m.multiset_columns else k] for k in range(m.columns.shape[1])]
        return np.stack([marg[k].points[m.columns[:, k]] for k in range(m.columns.shape[1])], axis=1)

    def _expr(self, coef: np.ndarray, constant: float = 0.0) -> LinearExpr:
        return LinearExpr(coef, constant, self._m.token)

    def expectation(self, f: Callable[[np.ndarray], np.ndarray] | np.ndarray, *, symmetric: bool = False) -> LinearExpr:
        """``E_plan[f] = sum_t f(t) x_t`` as a :class:`LinearExpr`.

        Parameters
        ----------
        f : callable or array
            ``f(points)`` with ``points`` of shape ``(K, N, d)`` returning ``(K,)``, or an array of
            one value per column.
        symmetric : bool
            Declare ``f`` invariant under permutations of the N points (symmetric formulation: one
            evaluation instead of the average over all ``N!`` orderings that the symmetrised plan needs).
        """
        m = self._m
        if callable(f):
            pts = self.points()
            if m.multiset_columns and not symmetric:
                N = pts.shape[1]
                if N > MAX_PERMUTE_N:
                    raise MMOTInputError(
                        f"averaging f over all {N}! orderings is too costly; pass symmetric=True for a "
                        "permutation-invariant f or use formulation='primal'")
                perms = list(itertools.permutations(range(N)))
                vals = sum(self._call(f, pts[:, list(p)]) for p in perms) / len(perms)
            else:
                vals = self._call(f, pts)
        else:
            vals = np.asarray(f, dtype=float)
            if vals.shape != (m.n_cols,):
                raise MMOTInputError(f"an array for expectation needs one value per column ({m.n_cols}), "
                                     f"got shape {vals.shape}")
        if not np.all(np.isfinite(vals)):
            raise MMOTInputError("f is NaN or infinite on some configurations; use a finite function")
        return self._expr(vals)

    def _call(self, f: Callable, pts: np.ndarray) -> np.ndarray:
        v = np.asarray(f(pts), dtype=float)
        if v.shape != (pts.shape[0],):
            raise MMOTInputError(f"f(points) must return one value per configuration, shape ({pts.shape[0]},); "
                                 f"got {v.shape}")
        return v

    def marginal_expectation(self, g: Callable[[np.ndarray], np.ndarray], k: int = 0) -> LinearExpr:
        """``E_plan[g(x_k)]`` for ``g`` on ``(l, d)`` points (multiset columns: any ``k`` is the same)."""
        m = self._m
        pts = m.problem.marginals[k].points
        gv = np.asarray(g(pts), dtype=float).reshape(-1)
        if gv.shape != (pts.shape[0],):
            raise MMOTInputError(f"g(points) must return one value per site ({pts.shape[0]}), got {gv.shape}")
        if m.multiset_columns:
            return self._expr(np.asarray(m.occupation.T @ gv).reshape(-1) / m.bodies)
        return self._expr(gv[m.columns[:, k]])

    def mass(self) -> LinearExpr:
        """Total mass ``sum_t x_t`` (1 for every feasible plan)."""
        return self._expr(np.ones(self._m.n_cols))

    def index(self, t: tuple[int, ...] | np.ndarray) -> int:
        """Column number of the tuple (primal) or multiset (symmetric, any order) ``t``."""
        m = self._m
        t = np.asarray(t, dtype=np.int64).reshape(-1)
        if t.size != m.columns.shape[1]:
            raise MMOTInputError(f"a plan index has {m.columns.shape[1]} entries, got {t.size}")
        if m.multiset_columns:
            t = np.sort(t)
        sizes = m.problem.sizes[:1] * t.size if m.multiset_columns else m.problem.sizes
        if np.any(t < 0) or np.any(t >= np.asarray(sizes)):
            raise MMOTInputError(f"plan index {tuple(t.tolist())} is outside the supports {sizes}")
        if self._keys is None:
            try:   # columns are in lexicographic order: flat keys are sorted
                self._keys = np.ravel_multi_index(m.columns.T.astype(np.int64), sizes)
            except ValueError:  # l^N beyond int64: a dictionary instead
                self._keys = {tuple(r): j for j, r in enumerate(m.columns.tolist())}
        if isinstance(self._keys, dict):
            j = self._keys.get(tuple(t.tolist()), -1)
        else:
            key = np.ravel_multi_index(tuple(t), sizes)
            j = int(np.searchsorted(self._keys, key))
            if j >= self._keys.size or self._keys[j] != key:
                j = -1
        if j < 0:
            raise MMOTInputError(f"plan index {tuple(t.tolist())} is not a variable (infinite cost: forbidden)")
        return j

    def __getitem__(self, t: tuple[int, ...]) -> LinearExpr:
        coef = np.zeros(self._m.n_cols)
        coef[self.index(t)] = 1.0
        return self._expr(coef)


class Model:
    """A transport LP with meaning: plan columns, marginal rows, named blocks, extra costs.

    Parameters
    ----------
    problem : MMOTProblem
        The data (see :func:`~mmot_models.modeling.from_pot` and
        :func:`~mmot_models.modeling.from_cost_tensor` for POT-style data).
    formulation : {"symmetric", "primal", "krep", "moments"}
        ``"primal"``: one column per index tuple (:class:`~mmot_models.formulations.kantorovich.KantorovichPrimal`),
        marginal rows labelled ``(k, i)``.  ``"symmetric"``: one column per multiset
        (:class:`~mmot_models.formulations.symmetric.SymmetricPrimal`; equal marginals, symmetric
        cost), marginal rows labelled by site ``i``.  ``"krep"``: the k-representability LP of a
        k-body plan (:class:`~mmot_models.formulations.krep.KRepresentability`; lower bound for
        ``k < N``, upper for ``k > N``).  ``"moments"``: the primal tuples with a mass row only,
        constrained by the blocks added (a lower bound).  See :mod:`mmot_models.modeling.formulations`.
    k : int, optional
        Bodies of the representing plan (``formulation="krep"`` only, ``k >= 2``).
    memory_limit_bytes : int, optional
        Passed to the formulation's size check.
    """

    def __init__(self, problem: MMOTProblem, formulation: str = "symmetric", *, k: int | None = None,
                 memory_limit_bytes: int | None = None) -> None:
        if not isinstance(problem, MMOTProblem):
            raise MMOTInputError(f"Model needs an MMOTProblem, got {type(problem).__name__}; "
                                 "see mm.from_pot / mm.from_cost_tensor for weight arrays and cost matrices")
        base = build_base(problem, formulation, k, memory_limit_bytes)
        self.problem = problem
        self.formulation = formulation
        #: bodies of the k-body plan (``formulation="krep"``), else ``None``
        self.k: int | None = base.k
        self.token = next(_tokens)
        self.base: StandardLP = base.lp
        self.columns: np.ndarray = base.columns
        self._base_info = base
        self._blocks: "OrderedDict[str, Block]" = OrderedDict()
        self._user: UserRows | None = None
        self._extra_cost: LinearExpr | None = None
        self._lp: StandardLP | None = None
        self._row_blocks: list[tuple[str, RowBlock]] | None = None
        self.plan = PlanVariable(self)

    # ------------------------------------------------------------------ structure
    @property
    def n_cols(self) -> int:
        return self.base.n_cols

    @property
    def multiset_columns(self) -> bool:
        """Columns are sorted multisets of sites (``"symmetric"``, ``"krep"``), not ordered tuples."""
        return self._base_info.multiset

    @property
    def bodies(self) -> int:
        """Points per column: N, or k for ``formulation="krep"``."""
        return self._base_info.bodies

    @property
    def occupation(self) -> sp.csc_matrix:
        """Multiset columns: the ``(l, M)`` occupation-number matrix (the marginal rows)."""
        if not self.multiset_columns:
            raise MMOTInputError("occupation numbers exist for formulation='symmetric' or 'krep' only")
        return self.base.A

    def marginal_labels(self) -> list[Hashable]:
        """Labels of the base rows (the ``"marginal"`` block; the ``"mass"`` block of ``"moments"``)."""
        return list(self._base_info.labels)

    def _changed(self) -> None:
        self._lp = None
        self._row_blocks = None

    def add(self, block: Block) -> Block:
        """Add a row block (:class:`MomentRows`, :class:`OccupationBounds`, a :class:`UserRows`, ...)."""
        if not isinstance(block, Block):
            raise MMOTInputError(f"Model.add needs a Block (MomentRows, OccupationBounds, UserRows), "
                                 f"got {type(block).__name__}; use add_constraint for a single comparison")
        block.check(self)
        name = block.name
        if not isinstance(name, str) or not name.isidentifier() or name in ("marginal", "mass", "plan", "obj", "dual",
                                                                              "T"):
            raise MMOTInputError(f"block name {name!r} is reserved or not an identifier; pass name='...'")
        if name in self._blocks:
            raise MMOTInputError(f"the model has a block named {name!r} already; give the new one another name")
        self._blocks[name] = block
        self._changed()
        return block

    def add_constraint(self, con: Constraint, name: str | int | None = None) -> Hashable:
        """Append one row ``lower <= a^T x <= upper`` to the ``"user"`` block; returns its label."""
        if name is not None and not isinstance(name, (str, int)):
            raise MMOTInputError(f"a constraint name must be a string or an int, got {type(name).__name__}")
        if isinstance(con, Constraint) and con.owner != self.token:
            raise MMOTInputError("the constraint refers to variables of another model; build it from this model's m.plan")
        if self._user is None:
            existing = self._blocks.get("user")
            self._user = existing if isinstance(existing, UserRows) else self.add(UserRows())  # type: ignore[assignment]
        label = self._user.append(con, name)
        self._changed()
        return label

    def add_cost(self, expr: LinearExpr) -> None:
        """Add a linear term to the objective (``min c^T x + expr``)."""
        if not isinstance(expr, LinearExpr) or expr.owner != self.token:
            raise MMOTInputError("add_cost needs a linear expression of this model's plan")
        self._extra_cost = expr if self._extra_cost is None else self._extra_cost + expr
        self._changed()

    def _built_blocks(self) -> list[tuple[str, RowBlock]]:
        if self._row_blocks is None:
            out = []
            for name, blk in self._blocks.items():
                rb = blk.rows(self)
                if rb.A.shape[1] != self.n_cols or rb.lower.shape != (rb.n_rows,) or rb.upper.shape != (rb.n_rows,):
                    raise MMOTInputError(f"block {name!r} built rows of the wrong shape")
                out.append((name, rb))
            self._row_blocks = out
        return self._row_blocks

    @property
    def blocks(self) -> "OrderedDict[str, BlockInfo]":
        """Row blocks in order: ``name -> BlockInfo(rows=slice, labels, block)``; the base block first
        (``"marginal"``; ``"mass"`` for ``formulation="moments"``)."""
        out: "OrderedDict[str, BlockInfo]" = OrderedDict()
        r = self.base.n_rows
        out[self._base_info.block_name] = BlockInfo(slice(0, r), self.marginal_labels(), None)
        for name, rb in self._built_blocks():
            out[name] = BlockInfo(slice(r, r + rb.n_rows), rb.labels, self._blocks[name])
            r += rb.n_rows
        return out

    def row_name(self, i: int) -> str:
        """``"block 'name' row label"`` of row ``i`` of :meth:`to_standard_lp`."""
        for name, info in self.blocks.items():
            if info.rows.start <= i < info.rows.stop:
                return f"block {name!r} row {info.labels[i - info.rows.start]!r}"
        return f"row {i}"

    def to_standard_lp(self) -> StandardLP:
        """The base LP with every block's rows stacked below (no copy when nothing was added)."""
        if self._lp is not None:
            return self._lp
        blocks = self._built_blocks()
        if not blocks and self._extra_cost is None:
            self._lp = self.base
            return self._lp
        b = self.base
        A = _append_rows(b.A, sp.vstack([rb.A for _, rb in blocks], format="csc")) if blocks else b.A
        lo = np.concatenate([b.row_lower] + [rb.lower for _, rb in blocks])
        up = np.concatenate([b.row_upper] + [rb.upper for _, rb in blocks])
        c, off = b.c, b.offset
        if self._extra_cost is not None:
            c = c + self._extra_cost.coef
            off = off + self._extra_cost.constant
        meta = dict(b.meta)
        meta["blocks"] = {name: info.rows for name, info in self.blocks.items()}
        self._lp = StandardLP(c=c, A=A, row_lower=lo, row_upper=up, col_lower=b.col_lower, col_upper=b.col_upper,
                              offset=off, name=f"model_{self.formulation}", meta=meta)
        return self._lp

    def implied_col_upper(self) -> np.ndarray:
        """Finite upper bounds of the plan columns implied by the base rows (for the certificate)."""
        return implied_upper(self)

    # ------------------------------------------------------------------ export
    def write(self, path: str) -> None:
        """Write the LP in MPS or LP format (by extension) through highspy, with row names."""
        from ..backends.highs import _to_highs_lp, make_highs

        p = str(path)
        if not p.lower().endswith((".mps", ".lp")):
            raise MMOTInputError(f"cannot write {p!r}: use a .mps or .lp file name")
        h = make_highs()
        h.passModel(_to_highs_lp(self.to_standard_lp()))
        for name, info in self.blocks.items():
            for i, lab in enumerate(info.labels):
                lab_s = "_".join(map(str, lab)) if isinstance(lab, tuple) else str(lab)
                h.passRowName(info.rows.start + i, f"{name}_{lab_s}".replace(" ", "_"))
        if self.n_cols <= 100_000:
            for j, row in enumerate(self.columns.tolist()):
                h.passColName(j, "plan_" + "_".join(map(str, row)))
        h.writeModel(p)

    def to_pyomo(self):
        """A Pyomo ``ConcreteModel`` with named sets and components (see :mod:`.pyomo_io`)."""
        from .pyomo_io import to_pyomo
        return to_pyomo(self)

    def to_cvxpy(self):
        """A :class:`~mmot_models.modeling.cvxpy_io.CvxpyModel` (problem, variable, constraint blocks)."""
        from .cvxpy_io import to_cvxpy
        return to_cvxpy(self)

    # ------------------------------------------------------------------ solve
    def solve(self, backend: str = "highs", **options: Any) -> Solution:
        """Solve on ``backend`` and return a certified :class:`~mmot_models.Solution`.

        Parameters
        ----------
        backend : {"highs", "pyomo", "cvxpy"}
        **options
            Declared in :data:`~mmot_models.modeling.solve_options.MODEL_OPTIONS` and checked
            (a misspelt name is an :class:`MMOTInputError` with a suggestion): ``time_limit``,
            ``threads`` (highs), ``verbose``, ``solver`` (the Pyomo solver, default
            ``"appsi_highs"``, or the cvxpy solver, default ``"HIGHS"`` when cvxpy has it, else
            ``"CLARABEL"``) and ``solver_options`` (the solver's own options; HiGHS names are checked).

        Returns
        -------
        Solution
            Certified on the model's own LP; for ``"krep"`` (k != N) and ``"moments"`` ``bound``
            says how the value bounds the MMOT optimum (:mod:`mmot_models.modeling.formulations`).
        """
        kw = validate_model_options(backend, options)
        if backend == "highs":
            from ..backends.highs import solve_lp
            t0 = time.perf_counter()
            lp = self.to_standard_lp()
            res = solve_lp(lp, time_limit=kw["time_limit"], threads=kw["threads"], verbose=kw["verbose"],
                           options=kw["solver_options"] or None)
            return self.assemble(lp, res, t0=t0, col_upper=np.minimum(lp.col_upper, self.implied_col_upper()))
        if backend == "pyomo":
            from .pyomo_io import solve_pyomo
            return solve_pyomo(self, self.to_pyomo(), solver=kw["solver"] or "appsi_highs",
                               time_limit=kw["time_limit"], verbose=kw["verbose"], options=kw["solver_options"])
        from .cvxpy_io import solve_cvxpy
        return solve_cvxpy(self, self.to_cvxpy(), solver=kw["solver"], time_limit=kw["time_limit"],
                           verbose=kw["verbose"], options=kw["solver_options"])

    def solve_pyomo(self, pm, **options: Any) -> Solution:
        """Solve a Pyomo model from :meth:`to_pyomo` -- possibly extended by the user -- and certify it.

        Every active constraint counts, including ones added to ``pm`` (their rows come from
        Pyomo's ``generate_standard_repn``) and variables added to ``pm``.  ``options`` as in
        :meth:`solve` with ``backend="pyomo"``.
        """
        from .pyomo_io import solve_pyomo
        kw = validate_model_options("pyomo", options)
        return solve_pyomo(self, pm, solver=kw["solver"] or "appsi_highs", time_limit=kw["time_limit"],
                           verbose=kw["verbose"], options=kw["solver_options"])

    def solve_cvxpy(self, cm, **options: Any) -> Solution:
        """Solve a :meth:`to_cvxpy` model and certify it (``options`` as in :meth:`solve` with ``backend="cvxpy"``)."""
        from .cvxpy_io import solve_cvxpy
        kw = validate_model_options("cvxpy", options)
        return solve_cvxpy(self, cm, solver=kw["solver"], time_limit=kw["time_limit"], verbose=kw["verbose"],
                           options=kw["solver_options"])

    def assemble(self, lp: StandardLP, res: LPResult, *, t0: float, **kwargs: Any) -> Solution:
        """Certify a backend's answer on ``lp`` and make the :class:`~mmot_models.Solution`
        (:func:`assemble_solution`, then the bound direction of a relaxation:
        :func:`~mmot_models.modeling.formulations.assemble`)."""
        from .formulations import assemble
        return assemble(self, lp, res, t0=t0, **kwargs)

    def __repr__(self) -> str:
        return (f"Model({self.formulation}, {self.n_cols:,} columns, blocks="
                f"{[(n, i.rows.stop - i.rows.start) for n, i in self.blocks.items()]})")


def _append_rows(A: sp.csc_matrix, B: sp.csc_matrix) -> sp.csc_matrix:
    """``[A; B]`` for CSC matrices with the same columns, by index arithmetic (no COO round trip)."""
    A = A.tocsc()
    B = B.tocsc()
    nA, nB = np.diff(A.indptr), np.diff(B.indptr)
    indptr = (A.indptr + B.indptr).astype(np.int64)
    total = int(indptr[-1])
    posA = np.arange(A.nnz) + np.repeat(B.indptr[:-1], nA)
    posB = np.arange(B.nnz) + np.repeat(A.indptr[1:], nB)
    data = np.empty(total)
    indices = np.empty(total, dtype=np.int64)
    data[posA], data[posB] = A.data, B.data
    indices[posA], indices[posB] = A.indices, B.indices + A.shape[0]
    idx_dtype = np.int32 if max(total, A.shape[0] + B.shape[0]) < 2**31 - 1 else np.int64
    return sp.csc_matrix((data, indices.astype(idx_dtype), indptr.astype(idx_dtype)),
                         shape=(A.shape[0] + B.shape[0], A.shape[1]))


def assemble_solution(model: Model, lp: StandardLP, res: LPResult, *, t0: float,
                      col_upper: np.ndarray | None = None, row_name: Callable[[int], str] | None = None,
                      info: dict[str, Any] | None = None, rows_aligned: bool = True) -> Solution:
    """The one place a model's :class:`~mmot_models.Solution` is made: certificate, status, plan fields.

    ``lp`` holds every row and column the backend solved (the model's own, plus any a Pyomo user
    added: columns beyond ``model.n_cols`` are extra variables).  ``col_upper`` are valid column
    upper bounds for the lower bound (the implied plan bounds).  ``rows_aligned=False`` says the
    rows of ``lp`` do not start with the model's rows in order (a Pyomo user deactivated some): no
    potentials or per-block duals are then reported.
    """
    prob = model.problem
    n = model.n_cols
    x = None if res.x is None else np.asarray(res.x, dtype=float)
    if x is not None:
        x = np.maximum(x, lp.col_lower)  # clip to the lower bounds (rows are then checked as they are)
    cert = certify(lp, x, res.row_dual, col_upper=col_upper, row_name=row_name or model.row_name,
                   col_name=lambda j: f"column {j}" if j >= n else f"plan column {tuple(model.columns[j].tolist())}")
    lower, upper = float(cert.lower_bound), float(cert.upper_bound)
    value = cert.primal_value if x is not None else math.nan
    if res.status == Status.INFEASIBLE:
        message = "the model is infeasible: no plan satisfies every row" + (f" ({res.message})" if res.message else "")
    elif res.status == Status.OPTIMAL:
        message = cert.message
    else:
        message = f"solver stopped: {res.message}" + (f"; {cert.message}" if cert.message else "")
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {"formulation": model.formulation, "n_cols": lp.n_cols, "n_rows": lp.n_rows,
                             "nnz": int(lp.A.nnz), "solver_message": res.message,
                             "max_violation": cert.violation, "extra_columns": lp.n_cols - n}
    if x is not None:
        xp = np.maximum(x[:n], 0.0)
        if model.formulation == "primal":
            keep = xp > 1e-14
            idx, w = model.columns[keep], xp[keep]
            fields.update(plan_indices=idx, plan_weights=w, marginal_error=marginal_errors(prob, idx, w))
        else:
            pf = plan_fields(prob, model.columns, xp, lp.c[:n], "auto")
            extra.update(pf.pop("info"))
            pf.pop("upper_bound", None)
            pf.pop("primal_value", None)
            fields.update(pf)
    if res.row_dual is not None and rows_aligned:
        y = np.asarray(res.row_dual, dtype=float)
        r = model.base.n_rows
        if model.formulation == "primal":
            off = np.concatenate([[0], np.cumsum(prob.sizes)])
            fields["potentials"] = tuple(y[off[k]:off[k + 1]] for k in range(prob.n_marginals))
        else:
            fields["potentials"] = tuple([y[:r]] * prob.n_marginals)
        extra["row_duals"] = {name: y[info_.rows] for name, info_ in model.blocks.items()
                              if info_.rows.stop <= y.size}
        extra["dual_value"] = lower
    extra.update(info or {})
    return _assemble(problem=prob, method=f"model/{model.formulation}", backend=res.backend,
                     termination=res.status, value=value, lower_bound=lower, upper_bound=upper,
                     rel_tol=CERT_REL_TOL, abs_floor=ZERO_FLOOR_REL * lp.cost_scale, what="the certified bracket",
                     primal_value=cert.primal_value, dual_value=lower, t0=t0, solver_time_s=res.solver_time_s,
                     iterations=res.iterations, message=message, log=res.log, info=extra, **fields)
