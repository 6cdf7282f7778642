"""Read: a raw file -> records parsed by DuckDB with their line numbers -> staged canonical rows.

`textfile` turns the bytes into UTF-8 text within the file's limits and says what it looks like;
DuckDB parses it (every column as text); raw contract v1 is then staged by one SQL statement,
and a source layout turns the parsed records into canonical rows. Cells stay text here;
harmonize turns them into codes and numbers. Whatever goes wrong with one file (a limit, a
damaged file, an error of ours) rejects that file with its reason and never stops the run.
"""
from __future__ import annotations

import csv
import json
import logging
import re
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from observatory import layouts, months, privacy, reference, registry, staff_forms
from observatory.sqltext import registered, sql_literal
from observatory.textfile import LINE_TOO_LONG, Deadline, FileRejected, Limits, RestartAs, TextFile, codec, prepare, too_large

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
STAGE_TABLES = {"observation": "stage_row", "policy_instrument": "stage_policy_row"}
DUCKDB_TYPES = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "VARCHAR"}
BATCH_ROWS = 100_000
# Reads of one file: the detected encoding, a wider code page after a bad byte, the layout's own.
MAX_ATTEMPTS = 3
# Columns parsed beyond the header's: a row whose extra cells hold something is a problem.
EXTRA_COLUMNS = 8
# What Python's str.strip() takes off a cell (tabs, no-break spaces, ideographic spaces …).
BLANKS = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
# Records parsed, cleaned and scanned at a time: a file's cells never sit whole in Python.
PARSE_BATCH_ROWS = 100_000

__all__ = ["FileRejected", "Limits", "ReadOutcome", "read_file", "STAGE_TABLES", "row_schema"]


@lru_cache(maxsize=None)
def row_schema(kind: str) -> pa.Schema:
    return pa.schema(
        [("row_id", pa.int64()), ("file_id", pa.int32()), ("line", pa.int32())]
        + [(column, pa.string()) for column in reference.kind_columns()[kind]]
    )


@dataclass
class ReadOutcome:
    kind: str = ""
    rows_read: int = 0
    # Rows the file's layout leaves out by design (another crime, a linked victim), with the
    # layout's reason; not counted in rows_read.
    rows_skipped: int = 0
    encoding: str = ""
    delimiter: str = ""
    decimal_mark: str = "."
    layout: layouts.Layout | None = None
    rejection: FileRejected | None = None
    # How the file's records are summed (a layout's, or a contract v1 file with a month column).
    aggregate: layouts.Aggregate | None = None
    # Title rows above the header (counted in rows_skipped too).
    title_rows: int = 0
    # Columns the file leaves out that the registry of observatories supplied ("country=PER").
    from_registry: str | None = None


def create_stage_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The run's stage: sql/stage_tables.sql, and one table per dataset kind whose columns are
    those of reference/dataset_kinds.csv (the Arrow schema of staged rows is derived alike)."""
    con.execute((SQL_DIR / "stage_tables.sql").read_text())
    for kind, table in STAGE_TABLES.items():
        columns = ", ".join(f"{field.name} {DUCKDB_TYPES[field.type]}" for field in row_schema(kind))
        con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")


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
class _Stager:
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


def read_file(con: duckdb.DuckDBPyConnection, path: Path, file_id: int, first_row_id: int,
              limits: Limits | None = None, temp_dir: Path | None = None,
              buffer: StageBuffer | None = None, observatory: str = "") -> ReadOutcome:
    """Stage one raw file's rows (into `buffer`, which the caller flushes; without one, they
    are written before returning); a file-level failure comes back as `rejection`, never raised
    (only an interrupt from the person at the terminal goes through)."""
    if buffer is None:
        buffer = StageBuffer(con)
        try:
            return read_file(con, path, file_id, first_row_id, limits, temp_dir, buffer, observatory)
        finally:
            buffer.flush()
    limits = limits or Limits()
    deadline = Deadline(limits)
    # DuckDB's own work is interrupted when the file's seconds are up; Python's checks the deadline.
    deadline.connections.append(con)
    timer = threading.Timer(limits.max_seconds, deadline.expire)
    timer.daemon = True
    timer.start()
    try:
        return _read_attempts(con, path, file_id, first_row_id, limits, deadline,
                              temp_dir or Path(tempfile.gettempdir()), buffer, observatory)
    finally:
        timer.cancel()
        _Records.drop(con)  # a large file's cells leave with it


def _read_attempts(con, path: Path, file_id: int, first_row_id: int, limits: Limits, deadline: Deadline,
                   temp_dir: Path, buffer: StageBuffer, observatory: str = "") -> ReadOutcome:
    stager = _Stager(buffer, file_id, first_row_id, observatory=observatory)
    encoding: str | None = None
    tried: list[str] = []
    for _ in range(MAX_ATTEMPTS):
        outcome = ReadOutcome()
        text: TextFile | None = None
        try:
            text = prepare(path, limits, deadline, temp_dir, encoding)
            outcome.encoding = text.encoding
            outcome.delimiter = "xlsx" if text.encoding == "xlsx" else text.delimiter
            outcome.decimal_mark = "," if outcome.delimiter == ";" else "."
            outcome.rows_read = _stage(con, text, path.name, stager, outcome, deadline)
            stager.flush()
        except RestartAs as again:
            stager.discard()
            _Records.drop(con)  # this attempt's records: the next one parses the file again
            stager.next_row_id = first_row_id
            tried.append(outcome.encoding or encoding or "?")
            encoding = again.encoding
            continue
        except Exception as error:  # noqa: BLE001 - one file never stops the others
            stager.discard()
            outcome.rejection = _rejection(error, path, limits)
            outcome.rows_read, outcome.rows_skipped = outcome.rejection.rows_read, outcome.rejection.rows_skipped
        finally:
            if text is not None:
                text.remove_copy()
        break
    else:  # the bytes decode in no encoding that was tried (e.g. a layout's fixed one)
        outcome.rejection = FileRejected("file_unreadable", detail="encodings tried / codificaciones probadas: " + ", ".join(tried))
        outcome.rows_skipped = 0
    return outcome


def _rejection(error: BaseException, path: Path, limits: Limits) -> FileRejected:
    """The reason a file is set aside. Messages never quote the error's text: DuckDB's CSV
    errors print the offending line, which could identify a person."""
    if isinstance(error, FileRejected):
        return error
    if isinstance(error, duckdb.InterruptException):
        return FileRejected("file_timeout", seconds=int(limits.max_seconds))
    if isinstance(error, (MemoryError, duckdb.OutOfMemoryException)):
        return FileRejected("file_too_large", **too_large("memory", "OBSERVATORY_DUCKDB_MEMORY_LIMIT"))
    if isinstance(error, duckdb.InvalidInputException):
        if "line size" in str(error).lower():
            return FileRejected("file_unreadable", detail=LINE_TOO_LONG)
        return FileRejected("file_unreadable", detail=f"el CSV no se pudo interpretar / the CSV could not be parsed ({type(error).__name__})")
    if isinstance(error, (OSError, csv.Error, UnicodeError)):
        return FileRejected("file_unreadable", detail=type(error).__name__)
    log.warning("internal error while reading %s: %s", path.name, type(error).__name__)
    return FileRejected("internal_error", step="lectura / read", error=type(error).__name__)


def _stage(con, text: TextFile, file_name: str, stager: _Stager, outcome: ReadOutcome, deadline: Deadline) -> int:
    """A file a layout recognizes is read by its layout; any other by raw contract v1 (a header
    row of canonical column names). Blank rows are skipped everywhere."""
    if not text.head:
        raise FileRejected("no_data_rows")
    _check_shape(text, deadline.limits)
    # Rows above the header (a title, a note) are skipped; line numbers stay the file's.
    titles, layout = staff_forms.header_index(file_name, text.head, _contract_header)
    outcome.title_rows = outcome.rows_skipped = titles
    if layout is not None:
        outcome.layout, outcome.aggregate = layout, layout.aggregate
        if _needs_layout_encoding(layout, outcome.encoding):
            raise RestartAs(layout.encoding)
    width = max(max(len(cells) for cells in text.head), (layout.columns or 0) if layout else 0)
    scan = privacy.ValueScan(skip=titles)
    records = _Records.parse(con, text, width + EXTRA_COLUMNS, deadline, scan, clean=layout is None)
    if text.odd_quotes and records.last_spans_lines:
        raise FileRejected("file_unreadable", detail="quotes do not pair up / las comillas no cierran")
    privacy.check(con, records.relation, records.width, text.head[titles:], layout, titles, scan)  # personal data: the whole file is rejected
    if layout is None:
        return _stage_canonical(records, text.head[titles], stager, outcome)
    return _stage_layout(records, layout, text.head[titles:], stager, outcome, deadline)


def _check_shape(text: TextFile, limits: Limits) -> None:
    """Thousands of columns would cost DuckDB its memory: refused with a reason staff can act on."""
    if max(len(cells) for cells in text.head) > limits.max_columns:
        raise FileRejected("file_too_large", **too_large("columns", f"{limits.max_columns:,}"))


def _needs_layout_encoding(layout: layouts.Layout, detected: str) -> bool:
    """A layout's fixed encoding settles what detection could not tell apart (Latin-1 or
    Windows-1252); bytes that are valid UTF-8 stay UTF-8."""
    if not layout.encoding or not detected or detected.startswith(("utf", "UTF")) or detected == "xlsx":
        return False
    return codec(layout.encoding) != codec(detected)


# --- parsing in DuckDB ------------------------------------------------------------------

class _Records:
    """The file's non-blank records as a relation `relation(rec, line, c0, c1, …)`: `rec` their
    order among all records, `line` the line where each one starts. Raw contract v1 reads it
    in one query; a layout materializes it as the temporary table `_data` to page through it.

    DuckDB parses the file; each batch of records is then cleaned in Arrow (the blanks around
    a cell taken off, an empty cell made NULL: vectorized, where SQL regular expressions cost a
    third of a file's time) and scanned for personal data, and kept as `_records`: the batch
    itself when the file is one batch, a temporary table otherwise. A layout gets its cells as
    written (its specs say what to strip); blank records are marked either way."""

    def __init__(self, con: duckdb.DuckDBPyConnection, width: int, relation: str, last_spans_lines: bool):
        self.con, self.width, self.relation = con, width, relation
        # The last record holds a line break: with a quote never closed, the quoted cell
        # swallowed every later line (a stray quote inside a cell swallows nothing).
        self.last_spans_lines = last_spans_lines

    @classmethod
    def parse(cls, con: duckdb.DuckDBPyConnection, text: TextFile, width: int, deadline: Deadline,
              scan: privacy.ValueScan, clean: bool) -> "_Records":
        names = [f"c{i}" for i in range(width)]
        columns = ", ".join(f"'{name}': 'VARCHAR'" for name in names)
        source = (
            f"SELECT * FROM read_csv({sql_literal(text.path)}, header = false, "
            f"delim = {sql_literal(text.delimiter)}, quote = '\"', escape = '\"', columns = {{{columns}}}, "
            "null_padding = true, strict_mode = false, parallel = false, auto_detect = false)"
        )
        reader_con = con.cursor()  # streams the parse while `con` keeps the batches
        deadline.connections.append(reader_con)
        pending, several = None, False
        rec, last_spans_lines = 0, False
        try:
            reader = reader_con.sql(source).to_arrow_reader(PARSE_BATCH_ROWS)
            while (batch := _next_batch(reader)) is not None:
                deadline.check()
                cells = [batch.column(i) for i in range(width)]
                trimmed = [_nullif_empty(pc.utf8_trim(cell, BLANKS)) for cell in cells]
                nonblank = pc.is_valid(pc.coalesce(*trimmed))
                scan.add(trimmed, nonblank)
                last_spans_lines = _spans_lines(cells, nonblank, last_spans_lines)
                numbers = pc.cumulative_sum(pa.array([1] * batch.num_rows, pa.int64()), start=rec)
                table = pa.table([numbers, nonblank,
                                  *(trimmed if clean else cells)], names=["rec", "nonblank", *names])
                rec += batch.num_rows
                if pending is not None:
                    cls._append(con, pending)
                    several = True
                pending = table
        finally:
            deadline.connections.remove(reader_con)
            reader_con.close()
        if pending is None:
            pending = pa.table({"rec": pa.array([], pa.int64()), "nonblank": pa.array([], pa.bool_()),
                                **{name: pa.array([], pa.string()) for name in names}})
        if several:
            cls._append(con, pending)
        else:
            con.register("_records", pending)
        cells = ", ".join(names)
        if text.simple:  # no quote, no empty line: record n starts on line n
            relation = f"SELECT rec, rec AS line, {cells} FROM _records WHERE nonblank"
        else:
            _record_starts(con, text)
            relation = f"SELECT rec, s.line, {cells} FROM _records JOIN _starts AS s USING (rec) WHERE nonblank"
        return cls(con, width, relation, last_spans_lines)

    @staticmethod
    def _append(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
        """A file of several batches is kept in a temporary table (DuckDB spills it past its
        memory limit), one batch at a time."""
        with registered(con, "_batch", batch):
            con.execute("CREATE TEMP TABLE IF NOT EXISTS _records AS SELECT * FROM _batch LIMIT 0")
            con.execute("INSERT INTO _records SELECT * FROM _batch")

    @staticmethod
    def drop(con: duckdb.DuckDBPyConnection) -> None:
        con.unregister("_records")
        con.execute("DROP TABLE IF EXISTS _records; DROP TABLE IF EXISTS _starts; DROP TABLE IF EXISTS _data")

    def materialize(self) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _data AS {self.relation}")
        self.relation = "SELECT * FROM _data"

    def count_after(self, header_rec: int) -> int:
        return self.con.execute("SELECT count(*) FROM _data WHERE rec > ?", [header_rec]).fetchall()[0][0]

    def header_rec(self, header_rows: int) -> int:
        """`rec` of the last header record (0 when there is none)."""
        if header_rows == 0:
            return 0
        return self.con.execute(
            "SELECT coalesce(max(rec), 0) FROM (SELECT rec FROM _data ORDER BY rec LIMIT ?)", [header_rows]
        ).fetchall()[0][0]

    def batches(self, header_rec: int, size: int = 50_000):
        """(line, cells) of every record after the header, in the file's order, a batch at a
        time (each batch fetched whole, so the caller may write to the database in between)."""
        after = header_rec
        names = ", ".join(f"c{i}" for i in range(self.width))
        while True:
            rows = self.con.execute(
                f"SELECT rec, line, {names} FROM _data WHERE rec > ? ORDER BY rec LIMIT ?", [after, size]
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [(row[1], [cell or "" for cell in row[2:]]) for row in rows]


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    """The next parsed batch, None at the end. DuckDB's errors after the first batch (a line
    too long, the file's seconds up, memory) reach Python through Arrow's stream as OSError or
    ArrowInvalid: raised again as DuckDB's own, so the file's rejection says which."""
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except (OSError, pa.ArrowException) as error:
        text = str(error)
        if "INTERRUPT" in text.upper():
            raise duckdb.InterruptException("interrupted") from None
        if "out of memory" in text.lower():
            raise duckdb.OutOfMemoryException("out of memory") from None
        raise duckdb.InvalidInputException(text) from None


def _nullif_empty(cells: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(cells, ""), pa.scalar(None, pa.string()), cells)


def _spans_lines(cells: list[pa.Array], nonblank: pa.Array, before: bool) -> bool:
    """Whether the last non-blank record so far holds a line break (`before`: the answer for
    the batches before, when this one has no such record)."""
    positions = pc.indices_nonzero(nonblank)
    if not len(positions):
        return before
    last = positions[-1].as_py()
    return any(("\n" in value or "\r" in value) for value in (cell[last].as_py() for cell in cells) if value)


def _record_starts(con: duckdb.DuckDBPyConnection, text: TextFile) -> None:
    """`_starts(rec, line)`: the line each record starts on. A workbook's copy knows each
    record's sheet row. Otherwise a record starts on a non-empty line outside quotes (an even
    number of quote characters before it); when quotes do not pair up as DuckDB read them,
    Python's csv module counts the lines instead."""
    records = con.execute("SELECT count(*) FROM _records").fetchall()[0][0]
    lines = text.starts
    if lines is None:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _starts AS
            SELECT row_number() OVER (ORDER BY n) AS rec, n AS line FROM (
                SELECT n, l, coalesce(sum(length(l) - length(replace(l, '"', '')))
                    OVER (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS quotes
                FROM (SELECT row_number() OVER () AS n, l FROM read_csv({sql_literal(text.path)}, header = false,
                      delim = '\\0', quote = '', escape = '', columns = {{'l': 'VARCHAR'}}, auto_detect = false,
                      strict_mode = false, parallel = false))
            ) WHERE quotes % 2 = 0 AND l IS NOT NULL AND l NOT IN ('', chr(13))
        """)
        if con.execute("SELECT count(*) FROM _starts").fetchall()[0][0] == records:
            return
        lines = _python_starts(text.path, text.delimiter)
    if len(lines) != records:
        raise FileRejected("file_unreadable", detail="quotes do not pair up / las comillas no cierran")
    starts = pa.table({"rec": pa.array(range(1, len(lines) + 1), pa.int64()), "line": pa.array(lines, pa.int64())})
    with registered(con, "_known_starts", starts):
        con.execute("CREATE OR REPLACE TEMP TABLE _starts AS SELECT * FROM _known_starts")


def _python_starts(path: Path, delimiter: str) -> list[int]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', strict=False)
        starts, previous_end = [], 0
        for cells in reader:
            if cells:
                starts.append(previous_end + 1)
            previous_end = reader.line_num
        return starts


# --- raw contract v1 --------------------------------------------------------------------

def _stage_canonical(records: _Records, header: list[str], stager: _Stager, outcome: ReadOutcome) -> int:
    """Raw contract v1: a header row, then data rows, parsed, cleaned and mapped to canonical
    columns by one query; every non-blank row is counted as read. A wide table (years as
    columns) is melted by the same query (UNPIVOT), one record per year cell, each with its
    own line and column; a month column makes the rows monthly records summed into the year."""
    outcome.kind, positions, missing = _map_header(header)
    wide = staff_forms.year_columns(header, set(positions.values())) if staff_forms.is_wide(
        outcome.kind, missing, header, set(positions.values())) else []
    if wide:
        missing = [column for column in missing if column not in staff_forms.WIDE_REPLACES]
    supplied = registry.supplied(stager.observatory, missing) if outcome.kind == "observation" else {}
    if supplied:
        missing = [column for column in missing if column not in supplied]
        outcome.from_registry = ", ".join(f"{column}={value}" for column, value in supplied.items())
    names = list(reference.kind_columns()[outcome.kind])
    monthly = outcome.kind == "observation" and "period" in positions
    # Cells come cleaned from the parse (no blanks around them, NULL when empty).
    extra = " OR ".join(f"c{i} IS NOT NULL" for i in range(len(header), records.width)) or "false"
    melted = {"year", "value", "cell"} | ({"unit"} if "unit" not in positions else set()) if wide else set()
    fields = ", ".join(f"c{positions[name]} AS {name}" if name in positions else
                       f"CAST({sql_literal(supplied[name]) if name in supplied else 'NULL'} AS VARCHAR) AS {name}"
                       for name in names if name not in melted)
    width = ", ".join(f"CASE WHEN c{i} IS NOT NULL THEN {i + 1} END" for i in range(records.width))
    period = f"c{positions['period']}" if monthly else ""
    month = f", {months.month_sql(period)} AS month_number" if monthly else ""
    select = f"""SELECT rec, CAST(line AS INTEGER) AS line, ({extra}) AS extra,
               CASE WHEN {extra} THEN greatest({width}) END AS fields, {fields}{month}"""
    if wide:
        cells = ", ".join(f"c{column.position} AS w{j}" for j, column in enumerate(wide))
        query = f"""
            SELECT * EXCLUDE (w_column), CAST(substr(w_column, 2) AS INTEGER) AS w
            FROM ({select}, {cells} FROM ({records.relation}))
            UNPIVOT INCLUDE NULLS (value FOR w_column IN ({', '.join(f'w{j}' for j in range(len(wide)))}))
            ORDER BY rec, w"""
    else:
        query = f"{select} FROM ({records.relation}) ORDER BY rec"
    parsed = records.con.sql(query).to_arrow_table()
    per_record = max(1, len(wide))
    data = parsed.slice(per_record * (outcome.title_rows + 1))  # the titles and the header
    if missing:
        raise _unrecognized(header, outcome.kind, missing, data.num_rows // per_record, wide=bool(wide))
    if data.num_rows == 0:
        raise FileRejected("no_data_rows")
    first = stager.next_row_id
    row_ids = pc.add(pc.multiply(data["rec"], pa.scalar(per_record, pa.int64())), pa.scalar(first, pa.int64()))
    if wide:
        row_ids = pc.add(row_ids, pc.cast(data["w"], pa.int64()))
        data = _with_wide_columns(data, wide, "unit" in melted)
    if monthly:
        data, bad_months = _with_periods(data)
        outcome.aggregate = layouts.Aggregate(period="month", unique=("period",))
    data = data.append_column("row_id", row_ids)
    good = data.filter(pc.invert(data["extra"]))
    if monthly:
        good = good.filter(pc.invert(bad_months.filter(pc.invert(data["extra"]))))
    stager.buffer.add(stager.file_id, STAGE_TABLES[outcome.kind], pa.table({
        "row_id": good["row_id"],
        "file_id": pc.fill_null(pa.nulls(good.num_rows, pa.int32()), stager.file_id),
        "line": good["line"],
        **{name: good[name] for name in names},
    }).cast(row_schema(outcome.kind)))
    delimiter = _show_delimiter(outcome.delimiter)
    extra_rows = data.filter(data["extra"])
    if wide:  # one problem per row of the file, not per year cell
        extra_rows = extra_rows.filter(pc.equal(extra_rows["w"], 0))
    problems = [
        (stager.file_id, row["row_id"], row["line"], "extra_fields",
         json.dumps({"fields": row["fields"], "header_fields": len(header), "delimiter": delimiter}))
        for row in extra_rows.select(["row_id", "line", "fields"]).to_pylist()
    ]
    if monthly:
        wrong = data.filter(pc.and_(bad_months, pc.invert(data["extra"])))
        problems += [(stager.file_id, row["row_id"], row["line"], "invalid_month",
                      json.dumps({"raw": row["period_raw"] or "", "column": header[positions["period"]].strip()}))
                     for row in wrong.select(["row_id", "line", "period_raw"]).to_pylist()]
    stager.buffer.add_problems(stager.file_id, problems)
    stager.next_row_id = first + (parsed["rec"][-1].as_py() + 1) * per_record
    return good.num_rows + len(problems)


def _with_wide_columns(data: pa.Table, wide: list[staff_forms.YearColumn], unit_from_header: bool) -> pa.Table:
    """A melted cell's year, its column as the file writes it and, without a unit column, the
    unit its header gives in parentheses (`2019 (casos)`)."""
    index = data["w"]
    data = data.append_column("year", pc.take(pa.array([column.year for column in wide], pa.string()), index))
    data = data.append_column("cell", pc.take(pa.array([column.label for column in wide], pa.string()), index))
    if unit_from_header:
        data = data.append_column("unit", pc.take(pa.array([column.unit for column in wide], pa.string()), index))
    return data


def _with_periods(data: pa.Table) -> tuple[pa.Table, pa.ChunkedArray]:
    """A monthly record's period (YYYY-MM, for the year's completeness) and record key (a
    month given twice is a repeat); rows whose month is not a month are problems."""
    month = data["month_number"]
    bad = pc.is_null(month)
    padded = pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0")
    year_ok = pc.fill_null(pc.match_substring_regex(data["year"], r"^\d{4}$"), False)
    period = pc.if_else(year_ok, pc.binary_join_element_wise(data["year"], padded, "-"), pa.scalar(None, pa.string()))
    position = data.schema.get_field_index("period")
    data = data.set_column(position, "period", period).append_column("period_raw", data["period"])
    data = data.append_column("record_key", pc.cast(month, pa.string())) if "record_key" not in data.schema.names else \
        data.set_column(data.schema.get_field_index("record_key"), "record_key", pc.cast(month, pa.string()))
    return data, bad


def _contract_header(cells: list[str]) -> tuple[bool, int]:
    """Whether a record is a complete raw contract v1 header (long or wide), and how many of
    its cells are known column names (to choose the header a message talks about)."""
    try:
        kind, positions, missing = _map_header(cells)
    except FileRejected:  # a column named twice: a header, with a problem of its own
        return True, len(cells)
    complete = not missing or (set(missing) == staff_forms.WIDE_REPLACES
                               and staff_forms.is_wide(kind, missing, cells, set(positions.values())))
    return complete, len(positions)


def _unrecognized(header: list[str], kind: str, missing: list[str], rows_read: int, wide: bool = False) -> FileRejected:
    """A header that is neither raw contract v1 nor a known layout. With most of the contract's
    required columns present, staff probably meant the contract: say which are missing;
    a wide table (years as columns) says which of its other columns is missing; otherwise say
    which layout comes closest and how to add one. Column names in each message's language."""
    required = [column for column, needed in reference.kind_columns()[kind].items() if needed]
    nearest, overlap = layouts.nearest(header)
    missing_es, missing_en = staff_forms.column_names(kind, missing)
    required_es, required_en = staff_forms.column_names(kind, required)
    details = dict(
        kind=kind, missing=", ".join(missing), required=", ".join(required), header=_show_header(header),
        nearest=f"{nearest.name} ({overlap:.0%})" if nearest else "—", missing_es=missing_es, missing_en=missing_en,
        required_es=required_es, required_en=required_en,
    )
    years = staff_forms.year_columns(header, set())
    if kind == "observation" and years and (wide or staff_forms.WIDE_REPLACES <= set(missing)):
        others = [column for column in missing if column not in staff_forms.WIDE_REPLACES]
        details["missing_es"], details["missing_en"] = staff_forms.column_names(kind, others)
        details["years"] = ", ".join(column.label for column in years[:3]) + (" …" if len(years) > 3 else "")
        return FileRejected("wide_table_incomplete", rows_read=rows_read, **details)
    if len(missing) * 2 <= len(required):
        return FileRejected("missing_required_column", rows_read=rows_read, **details)
    return FileRejected("unknown_layout", rows_read=rows_read, **details)


DATA_LIKE = re.compile(r"[\d\s.,/:+-]+")


def _show_header(header: list[str]) -> str:
    """The header as found, for messages. A first row with figures or dates in it is data, not
    a header (a file without one): its cells are not quoted, since a case record's cells
    could help identify a person."""
    cells = [cell.strip() for cell in header]
    if any(cell and DATA_LIKE.fullmatch(cell) for cell in cells):
        return (f"sin encabezado: la primera fila ya parece de datos ({len(cells)} columnas); la primera fila debe "
                f"llevar los nombres de las columnas / no header: the first row already looks like data "
                f"({len(cells)} columns); the first row must hold the column names")
    return " | ".join(cells)


@lru_cache(maxsize=None)
def _column_aliases() -> dict[str, str]:
    return dict(zip(reference.keyed("column_aliases")["alias_key"], reference.load("column_aliases")["column"]))


def _map_header(header: list[str]) -> tuple[str, dict[str, int], list[str]]:
    """The file's dataset kind, canonical column -> position, and missing required columns.

    The kind is the one whose required columns the header holds; when none is complete, the
    one it comes closest to, so the message names what to add."""
    aliases = _column_aliases()
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = aliases.get(reference.norm_key(name))
        if canonical is None:
            continue
        if canonical in found:
            raise FileRejected("ambiguous_column", column=canonical,
                               names=f"{header[found[canonical]].strip()}, {name.strip()}")
        found[canonical] = index

    def fit(kind: str) -> tuple[int, int]:
        required = [c for c, needed in reference.kind_columns()[kind].items() if needed]
        return (-sum(c not in found for c in required), sum(c in found for c in reference.kind_columns()[kind]))

    kind = max(reference.kind_columns(), key=fit)
    columns = reference.kind_columns()[kind]
    positions = {column: index for column, index in found.items() if column in columns}
    missing = [column for column, needed in columns.items() if needed and column not in found]
    return kind, positions, missing


# --- source layouts ---------------------------------------------------------------------

def _stage_layout(records: _Records, layout: layouts.Layout, head: list[list[str]], stager: _Stager,
                  outcome: ReadOutcome, deadline: Deadline) -> int:
    """Every record the layout makes of a row is staged with the row's line number; rows the
    layout skips by design are counted apart; a value outside a filter's lists is a problem."""
    header = head[: layout.header_rows]
    records.materialize()
    header_rec = records.header_rec(outcome.title_rows + layout.header_rows)
    outcome.kind = layout.kind
    try:
        bound = layouts.BoundLayout(layout, header)
    except layouts.LayoutMismatch as mismatch:
        raise FileRejected("layout_mismatch", rows_read=records.count_after(header_rec), layout=layout.name,
                           layout_file=layout.file_hint, missing=", ".join(mismatch.missing),
                           header=_show_header(header[-1] if header else []))
    stager.start(layout.kind)
    rows_read = 0
    for batch in records.batches(header_rec):
        deadline.check()
        for line, cells in batch:
            if len(cells) > bound.width and any(cell.strip() for cell in cells[bound.width:]):
                rows_read += 1
                stager.add_problem(line, "extra_fields", fields=_width(cells), header_fields=bound.width,
                                   delimiter=_show_delimiter(outcome.delimiter))
                continue
            for record in bound.records(cells):
                if record.skipped:
                    outcome.rows_skipped += record.skipped
                elif record.problem:
                    rows_read += 1
                    stager.add_problem(line, record.problem[0], **record.problem[1])
                else:
                    rows_read += 1
                    stager.add_row(line, record.fields)
    by_design = outcome.rows_skipped - outcome.title_rows
    if rows_read == 0 and not by_design:
        raise FileRejected("no_data_rows")
    if rows_read == 0:
        raise FileRejected("no_rows_in_scope", rows_skipped=outcome.rows_skipped, layout=layout.name,
                           skipped=by_design, reasons="; ".join(rule.reason for rule in layout.filters))
    return rows_read


def _width(cells: list[str]) -> int:
    """How many fields a row has, up to its last non-empty one."""
    return max((i + 1 for i, cell in enumerate(cells) if cell), default=0)


def _show_delimiter(delimiter: str) -> str:
    return {"\t": "tab", "": "?", "xlsx": "xlsx"}.get(delimiter, delimiter)

