"""Parsing in DuckDB: a text file's records, every cell as text, with the line each starts on.

`textfile` has turned the bytes into UTF-8 text within the file's limits and said what it looks
like (delimiter, quotes); DuckDB parses it here; raw contract v1 (`contract`) and source layouts
(`read`) then stage the records.
"""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from observatory import privacy
from observatory.sqltext import registered, sql_literal
from observatory.textfile import Deadline, FileRejected, TextFile

# What Python's str.strip() takes off a cell (tabs, no-break spaces, ideographic spaces …).
BLANKS = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
# Records parsed, cleaned and scanned at a time: a file's cells never sit whole in Python.
PARSE_BATCH_ROWS = 100_000


class Records:
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
              scan: privacy.ValueScan, clean: bool) -> "Records":
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
