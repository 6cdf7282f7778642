"""Staging: the run's stage tables and the buffer that writes what the read threads stage.

Each dataset kind's staged columns come from reference/dataset_kinds.csv; the stage tables and
the Arrow schema of staged rows are both derived from it (`row_schema`). Cells stay text here.
"""
from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa

from observatory import reference
from observatory.sqltext import registered

SQL_DIR = Path(__file__).parent / "sql"
STAGE_TABLES = {"observation": "stage_row", "policy_instrument": "stage_policy_row"}
# Dataset kind (= suite name in expectations/) -> what harmonize.py makes of its stage table.
HARMONIZED_TABLES = {"observation": "stage_harmonized", "policy_instrument": "stage_policy_harmonized"}
DUCKDB_TYPES = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "VARCHAR"}
# Rows a layout stages at a time before they go to the buffer.
BATCH_ROWS = 100_000


@lru_cache(maxsize=None)
def row_schema(kind: str) -> pa.Schema:
    return pa.schema(
        [("row_id", pa.int64()), ("file_id", pa.int32()), ("line", pa.int32())]
        + [(column, pa.string()) for column in reference.kind_columns()[kind]]
    )


def create_stage_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The run's stage: sql/stage_tables.sql, and one table per dataset kind whose columns are
    those of reference/dataset_kinds.csv (the Arrow schema of staged rows is derived alike)."""
    con.execute((SQL_DIR / "stage_tables.sql").read_text())
    for kind, table in STAGE_TABLES.items():
        columns = ", ".join(f"{field.name} {DUCKDB_TYPES[field.type]}" for field in row_schema(kind))
        con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")


def empty(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the stage once the build has applied it. The staged and harmonized rows and
    harmonize.py's maps of raw cells to codes (`map_*`) hold every cell as typed, the
    quarantined ones too (a name typed by mistake): applied, they are kept no longer."""
    named = ["stage_file", "stage_problem", "stage_duplicate", "stage_withdrawn", "stage_gone", *STAGE_TABLES.values(), *HARMONIZED_TABLES.values()]
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND (table_name IN ? OR table_name LIKE 'map\\_%' ESCAPE '\\')", [named]).fetchall():
        con.execute(f"DELETE FROM {table}")


PROBLEM_SCHEMA = pa.schema([("file_id", pa.int32()), ("row_id", pa.int64()), ("line", pa.int32()),
                            ("reason_code", pa.string()), ("details", pa.string())])


class StageBuffer:
    """The staged rows and problems of the files read so far, written to DuckDB a few large
    batches at a time: an append to a DuckDB table has a fixed cost, so 200 small files become
    a handful of appends, not 200. The threads that read files only add to it; the run's own
    thread writes it. A rejected file's rows are dropped (and deleted, were they written)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, flush_rows: int = 250_000):
        self.con, self.flush_rows = con, flush_rows
        self.pending: list[tuple[int, str, pa.Table]] = []  # (file_id, target table, rows)
        self.rows = 0
        self.written: set[int] = set()
        self.lock = threading.RLock()  # files are read by several threads; one writes at a time

    def add(self, file_id: int, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            with self.lock:
                self.pending.append((file_id, table, rows))
                self.rows += rows.num_rows

    def add_problems(self, file_id: int, problems: list[tuple]) -> None:
        if problems:
            self.add(file_id, "stage_problem", pa.Table.from_pylist(
                [dict(zip(PROBLEM_SCHEMA.names, problem)) for problem in problems], schema=PROBLEM_SCHEMA))

    def maybe_flush(self) -> None:
        if self.rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        """All pending rows in one transaction: a failed write leaves nothing half-written (and
        fails the run: it is no file's fault)."""
        by_table: dict[str, list[pa.Table]] = {}
        for _, table, rows in self.pending:
            by_table.setdefault(table, []).append(rows)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, parts in by_table.items():
                with registered(self.con, "_stage_batch", pa.concat_tables(parts)):
                    self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage_batch")
            self.con.execute("COMMIT")
        except BaseException:
            # A failed statement can have ended the transaction already (one interrupted by Ctrl+C
            # does): a failing ROLLBACK would hide the error that goes up.
            with contextlib.suppress(duckdb.TransactionException):
                self.con.execute("ROLLBACK")
            raise
        self.written.update(file_id for file_id, _, _ in self.pending)
        self.pending, self.rows = [], 0

    def discard(self, file_id: int) -> None:
        """Forget what a file staged: a rejected file loads nothing, not even its good rows."""
        with self.lock:
            self.pending = [entry for entry in self.pending if entry[0] != file_id]
            self.rows = sum(rows.num_rows for _, _, rows in self.pending)
            if file_id in self.written:
                for table in (*STAGE_TABLES.values(), "stage_problem"):
                    self.con.execute(f"DELETE FROM {table} WHERE file_id = ?", [file_id])


@dataclass
class Stager:
    """Collects one file's rows and problems as a layout makes them, for the stage buffer."""

    buffer: StageBuffer
    file_id: int
    next_row_id: int
    kind: str = "observation"
    observatory: str = ""  # the file's folder under data/raw/ (registry of observatories)
    columns: dict[str, list] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # the kind's canonical columns
    problems: list[tuple] = field(default_factory=list)

    def start(self, kind: str) -> None:
        self.kind = kind
        self.columns = {name: [] for name in row_schema(kind).names}
        self.names = list(reference.kind_columns()[kind])

    def add_row(self, line: int, cells: dict[str, str | None]) -> None:
        columns = self.columns
        columns["row_id"].append(self.next_row_id)
        columns["file_id"].append(self.file_id)
        columns["line"].append(line)
        for name in self.names:
            columns[name].append(cells.get(name))
        self.next_row_id += 1
        if len(self.columns["row_id"]) >= BATCH_ROWS:
            self.flush()

    def add_problem(self, line: int, reason_code: str, **details: object) -> None:
        self.problems.append((self.file_id, self.next_row_id, line, reason_code, json.dumps(details)))
        self.next_row_id += 1

    def flush(self) -> None:
        if self.columns.get("row_id"):
            self.buffer.add(self.file_id, STAGE_TABLES[self.kind], pa.Table.from_pydict(self.columns, schema=row_schema(self.kind)))
            self.start(self.kind)
        self.buffer.add_problems(self.file_id, self.problems)
        self.problems = []

    def discard(self) -> None:
        self.columns = {}
        self.problems = []
        self.buffer.discard(self.file_id)
