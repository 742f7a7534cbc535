"""Where sweep rows go: a directory that only ever gains whole rows.

Two formats, both resumable (a row is keyed by its task key; a key present is a finished task):

``parquet`` (default, needs ``pyarrow``)
    one file ``part-<key>.parquet`` per finished task, written to a temporary name and renamed, so
    an interrupted sweep never leaves half a row; the directory reads as one Parquet dataset.
``jsonl``
    one line per finished task in ``rows.jsonl``, appended and flushed to disk; a line cut short
    by a crash is ignored on reading (and terminated before the next append).

Every row has the fixed columns of :data:`ROW_FIELDS`; ``params``, ``options`` and ``versions`` are
JSON strings so that every row has the same schema whatever was swept.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from ..errors import MMOTInputError

__all__ = ["ROW_FIELDS", "FLOAT_FIELDS", "INT_FIELDS", "ResultStore", "read_rows"]

#: Column names and kinds of a result row (``str`` unless listed in the float/int sets).
ROW_FIELDS = ("key", "sweep", "label", "method", "backend", "params", "options", "status", "bound", "value",
              "lower_bound", "upper_bound", "gap", "relative_gap", "max_marginal_error", "wall_time_s",
              "solver_time_s", "task_time_s", "peak_rss_mb", "error", "message", "worker", "pid", "started",
              "finished", "versions")
FLOAT_FIELDS = frozenset({"value", "lower_bound", "upper_bound", "gap", "relative_gap", "max_marginal_error",
                          "wall_time_s", "solver_time_s", "task_time_s", "peak_rss_mb"})
INT_FIELDS = frozenset({"pid"})
FORMATS = ("parquet", "jsonl")


def _schema():
    import pyarrow as pa

    def kind(name: str):
        if name in FLOAT_FIELDS:
            return pa.float64()
        if name in INT_FIELDS:
            return pa.int64()
        return pa.string()
    return pa.schema([(n, kind(n)) for n in ROW_FIELDS])


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in ROW_FIELDS:
        v = row.get(n)
        if n in FLOAT_FIELDS:
            v = None if v is None else float(v)
        elif n in INT_FIELDS:
            v = None if v is None else int(v)
        elif v is not None and not isinstance(v, str):
            v = json.dumps(v, sort_keys=True)
        out[n] = v
    return out


class ResultStore:
    """A result directory in one of :data:`FORMATS` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, fmt: str = "parquet") -> None:
        if fmt not in FORMATS:
            raise MMOTInputError(f"unknown result format {fmt!r}; choose parquet or jsonl")
        if fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise MMOTInputError("the parquet format needs pyarrow (pip install 'mmot_models[sweeps]'); "
                                     "or use format = \"jsonl\"") from None
        self.path = Path(path)
        self.fmt = fmt
        if self.path.exists() and not self.path.is_dir():
            raise MMOTInputError(f"result path {self.path} exists and is not a directory; choose another output")

    def create(self) -> None:
        """Create the directory (and parents)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MMOTInputError(f"cannot create the result directory {self.path}: {exc.strerror}") from None

    # ------------------------------------------------------------------ writing
    def write(self, row: dict[str, Any]) -> None:
        """Add one finished row (atomically)."""
        row = _clean(row)
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist([row], schema=_schema())
            final = self.path / f"part-{row['key']}.parquet"
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=".parquet")
            os.close(fd)
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, final)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        else:
            target = self.path / "rows.jsonl"
            line = json.dumps(row, sort_keys=True, allow_nan=False) + "\n"
            with open(target, "a+b") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":   # a line cut short by a crash: terminate it
                        fh.write(b"\n")
                fh.write(line.encode())
                fh.flush()
                os.fsync(fh.fileno())

    # ------------------------------------------------------------------ reading
    def rows(self) -> list[dict[str, Any]]:
        """Every finished row, one per key (the last written wins), sorted by key."""
        return read_rows(self.path)

    def done_keys(self) -> set[str]:
        """Keys of the finished tasks."""
        if not self.path.is_dir():
            return set()
        if self.fmt == "parquet":
            return {p.name[5:-8] for p in self.path.glob("part-*.parquet")}
        return {r["key"] for r in self.rows()}


def _jsonl_rows(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue   # a line cut short by a crash
            if isinstance(row, dict) and "key" in row:
                yield row


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a result directory (Parquet parts and/or ``rows.jsonl``), one per key, sorted by key."""
    p = Path(path)
    if not p.is_dir():
        raise MMOTInputError(f"no results at {p}: not a directory (run the sweep first)")
    by_key: dict[str, dict[str, Any]] = {}
    parts = sorted(p.glob("part-*.parquet"))
    if parts:
        import pyarrow.parquet as pq

        for part in parts:
            for row in pq.read_table(part).to_pylist():
                by_key[row["key"]] = row
    if (p / "rows.jsonl").exists():
        for row in _jsonl_rows(p / "rows.jsonl"):
            by_key[row["key"]] = row
    return [by_key[k] for k in sorted(by_key)]
