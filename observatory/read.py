"""Read: raw bytes -> text -> dialect -> canonical rows with their line numbers, staged in DuckDB.

Cells stay text here; harmonize turns them into codes and numbers. A file that cannot be read
at all is rejected whole with a reason; a row that cannot be split cleanly is kept as a problem.
"""
from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import IO, Callable, Iterator

import duckdb
import pyarrow as pa

from observatory import layouts, reference

log = logging.getLogger(__name__)

STAGE_TABLES = {"observation": "stage_row", "policy_instrument": "stage_policy_row"}
DELIMITERS = ",;\t|"
SAMPLE_BYTES = 1 << 20
BATCH_ROWS = 100_000
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
# Reads of one file: the detected encoding, a wider code page after a bad byte, the layout's own.
MAX_ATTEMPTS = 3


@lru_cache(maxsize=None)
def row_schema(kind: str) -> pa.Schema:
    return pa.schema(
        [("row_id", pa.int64()), ("file_id", pa.int32()), ("line", pa.int32())]
        + [(column, pa.string()) for column in reference.kind_columns()[kind]]
    )


class FileRejected(Exception):
    """The whole file is quarantined: `reason_code` names why, `details` fill the message."""

    def __init__(self, reason_code: str, rows_read: int = 0, rows_skipped: int = 0, **details: object):
        super().__init__(reason_code)
        self.reason_code = reason_code
        self.rows_read = rows_read
        self.rows_skipped = rows_skipped
        self.details = details


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
    next_row_id: int = 0


@dataclass
class _Stager:
    """Buffers rows and problems and writes them to DuckDB in Arrow batches."""

    con: duckdb.DuckDBPyConnection
    file_id: int
    next_row_id: int
    kind: str = "observation"
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
            batch = pa.Table.from_pydict(self.columns, schema=row_schema(self.kind))
            self.con.register("_stage_batch", batch)
            self.con.execute(f"INSERT INTO {STAGE_TABLES[self.kind]} BY NAME SELECT * FROM _stage_batch")
            self.con.unregister("_stage_batch")
            self.start(self.kind)
        if self.problems:
            self.con.executemany("INSERT INTO stage_problem VALUES (?, ?, ?, ?, ?)", self.problems)
            self.problems = []

    def discard(self) -> None:
        """Forget what this file staged (a rejected file loads nothing, not even its good rows)."""
        self.columns = {}
        self.problems = []
        for table in STAGE_TABLES.values():
            self.con.execute(f"DELETE FROM {table} WHERE file_id = ?", [self.file_id])
        self.con.execute("DELETE FROM stage_problem WHERE file_id = ?", [self.file_id])


def read_file(con: duckdb.DuckDBPyConnection, path: Path, file_id: int, first_row_id: int) -> ReadOutcome:
    """Stage one raw file's rows; a file-level failure comes back as `rejection`, never raised."""
    stager = _Stager(con, file_id, first_row_id)
    restart = _RestartAs()
    tried: list[str] = []
    for _ in range(MAX_ATTEMPTS):
        outcome = ReadOutcome(next_row_id=first_row_id)
        try:
            if path.suffix.lower() in XLSX_SUFFIXES:
                outcome.delimiter = "xlsx"
                records = _xlsx_records(path)
            else:
                records = _text_records(path, outcome, restart.encoding)
            outcome.rows_read = _stage_records(records, stager, outcome, path.name)
            stager.flush()
        except _RestartAs as again:
            stager.discard()
            stager.next_row_id = first_row_id
            tried.append(outcome.encoding)
            restart = again
            continue
        except FileRejected as rejection:
            stager.discard()
            outcome.rejection = rejection
            outcome.rows_read, outcome.rows_skipped = rejection.rows_read, rejection.rows_skipped
        except (OSError, csv.Error, ValueError, EOFError) as error:
            stager.discard()
            outcome.rejection = FileRejected("file_unreadable", detail=_short(error))
            outcome.rows_read = outcome.rows_skipped = 0
        break
    else:  # the bytes decode in no encoding that was tried (e.g. a layout's fixed one)
        outcome.rejection = FileRejected("file_unreadable", detail="encodings tried / codificaciones probadas: " + ", ".join(tried))
        outcome.rows_skipped = 0
    outcome.next_row_id = stager.next_row_id
    return outcome


def _stage_records(records: Iterator[tuple[int, list[str]]], stager: _Stager, outcome: ReadOutcome, file_name: str) -> int:
    """A file a layout recognizes is read by its layout; any other by raw contract v1 (a header
    row of canonical column names). Blank rows are skipped everywhere."""
    records = ((line, cells) for line, cells in records if any(cell.strip() for cell in cells))
    head = list(islice(records, layouts.MAX_HEADER_ROWS))
    layout = layouts.recognize(file_name, [cells for _, cells in head])
    records = chain(head, records)
    if layout is None:
        return _stage_canonical(records, stager, outcome)
    outcome.layout = layout
    if _needs_layout_encoding(layout, outcome.encoding):
        raise _RestartAs(layout.encoding)
    return _stage_layout(layout, records, stager, outcome)


def _needs_layout_encoding(layout: layouts.Layout, detected: str) -> bool:
    """A layout's fixed encoding settles what detection could not tell apart (Latin-1 or
    Windows-1252); bytes that are valid UTF-8 stay UTF-8."""
    if not layout.encoding or not detected or detected.startswith(("utf", "UTF")):
        return False
    return _codec(layout.encoding) != _codec(detected)


def _stage_layout(layout: layouts.Layout, records: Iterator[tuple[int, list[str]]], stager: _Stager, outcome: ReadOutcome) -> int:
    """Every record the layout makes of a row is staged with the row's line number; rows the
    layout skips by design are counted apart; a value outside a filter's lists is a problem."""
    header = [cells for _, cells in islice(records, layout.header_rows)]
    outcome.kind = layout.kind
    try:
        bound = layouts.BoundLayout(layout, header)
    except layouts.LayoutMismatch as mismatch:
        rows = sum(1 for _ in records)
        raise FileRejected("layout_mismatch", rows_read=rows, layout=layout.name, layout_file=layout.file_hint,
                           missing=", ".join(mismatch.missing), header=_show_header(header[-1] if header else []))
    stager.start(layout.kind)
    rows_read = 0
    for line, cells in records:
        if len(cells) > bound.width and any(cell.strip() for cell in cells[bound.width:]):
            rows_read += 1
            stager.add_problem(line, "extra_fields", fields=len(cells), header_fields=bound.width,
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
    if rows_read == 0 and not outcome.rows_skipped:
        raise FileRejected("no_data_rows")
    if rows_read == 0:
        raise FileRejected("no_rows_in_scope", rows_skipped=outcome.rows_skipped, layout=layout.name,
                           skipped=outcome.rows_skipped, reasons="; ".join(rule.reason for rule in layout.filters))
    return rows_read


def _stage_canonical(records: Iterator[tuple[int, list[str]]], stager: _Stager, outcome: ReadOutcome) -> int:
    """Raw contract v1: a header row, then data rows; every non-blank row is counted as read."""
    header: list[str] | None = None
    columns: list[tuple[str, int | None]] = []
    missing: list[str] = []
    rows_read = 0
    for line, cells in records:
        if header is None:
            header = cells
            outcome.kind, positions, missing = _map_header(header)
            columns = [(name, positions.get(name)) for name in reference.kind_columns()[outcome.kind]]
            stager.start(outcome.kind)
            continue
        rows_read += 1
        if missing:
            continue  # counted, so the receipt says how many rows the rejection covers
        extra = [cell for cell in cells[len(header):] if cell.strip()]
        if extra:
            stager.add_problem(line, "extra_fields", fields=len(cells), header_fields=len(header),
                               delimiter=_show_delimiter(outcome.delimiter))
            continue
        width = len(cells)
        stager.add_row(line, {
            name: _clean(cells[index]) if index is not None and index < width else None
            for name, index in columns
        })
    if header is None:
        raise FileRejected("no_data_rows")
    if missing:
        raise _unrecognized(header, outcome.kind, missing, rows_read)
    if rows_read == 0:
        raise FileRejected("no_data_rows")
    return rows_read


def _unrecognized(header: list[str], kind: str, missing: list[str], rows_read: int) -> FileRejected:
    """A header that is neither raw contract v1 nor a known layout. With most of the contract's
    required columns present, staff probably meant the contract: say which are missing;
    otherwise say which layout comes closest and how to add one."""
    required = [column for column, needed in reference.kind_columns()[kind].items() if needed]
    nearest, overlap = layouts.nearest(header)
    details = dict(
        kind=kind, missing=", ".join(missing), required=", ".join(required), header=_show_header(header),
        nearest=f"{nearest.name} ({overlap:.0%})" if nearest else "—",
    )
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
        return (f"sin encabezado: la primera fila parece de datos ({len(cells)} columnas) / "
                f"no header: the first row looks like data ({len(cells)} columns)")
    return " | ".join(cells)


def _map_header(header: list[str]) -> tuple[str, dict[str, int], list[str]]:
    """The file's dataset kind, canonical column -> position, and missing required columns.

    The kind is the one whose required columns the header holds; when none is complete, the
    one it comes closest to, so the message names what to add."""
    aliases = dict(zip(reference.keyed("column_aliases")["alias_key"], reference.load("column_aliases")["column"]))
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


def _clean(cell: str) -> str | None:
    cell = cell.strip()
    return cell or None


# --- text files -------------------------------------------------------------------------

def _opener(path: Path) -> Callable[[], IO[bytes]]:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return lambda: gzip.open(path, "rb")
    if suffix == ".bz2":
        return lambda: bz2.open(path, "rb")
    return lambda: open(path, "rb")


def _text_records(path: Path, outcome: ReadOutcome, encoding: str | None) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number where the record starts, cells) for every record of a text file."""
    open_bytes = _opener(path)
    with open_bytes() as handle:
        sample = handle.read(SAMPLE_BYTES)
    outcome.encoding = encoding or detect_encoding(sample)
    text_sample = sample.decode(outcome.encoding, errors="replace")
    outcome.delimiter = sniff_delimiter(text_sample)
    outcome.decimal_mark = "," if outcome.delimiter == ";" else "."
    try:
        yield from _csv_records(open_bytes, outcome.encoding, outcome.delimiter)
    except UnicodeDecodeError:
        if outcome.encoding == "latin_1":
            raise
        # The sample decoded but a later byte does not: read again with a wider code page.
        raise _RestartAs("cp1252" if outcome.encoding.startswith("utf") else "latin_1")


class _RestartAs(Exception):
    """Read the file again in this encoding (a later byte did not decode, or the recognized
    layout fixes the encoding)."""

    def __init__(self, encoding: str | None = None):
        self.encoding = encoding


def _codec(name: str) -> str:
    """'latin-1', 'ISO-8859-1' and 'latin_1' are one codec."""
    return codecs.lookup(name).name


def _csv_records(open_bytes: Callable[[], IO[bytes]], encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    with open_bytes() as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter, quotechar='"', strict=False)
        previous_end = 0
        for cells in reader:
            yield previous_end + 1, cells
            previous_end = reader.line_num


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) first; otherwise ask charset-normalizer between the
    Windows code pages staff's spreadsheets save in. Binary content is rejected."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in sample:
        raise FileRejected("file_not_text", detail="binary content / contenido binario")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and len(sample) == SAMPLE_BYTES:
            return "utf-8"  # the sample cut a multi-byte character in half
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1252", "latin_1"]).best()
    if best is None:
        raise FileRejected("file_not_text", detail="unknown character encoding / codificación desconocida")
    return best.encoding


def sniff_delimiter(text: str) -> str:
    """The header line decides when it holds only one candidate; otherwise csv.Sniffer looks at
    the sample's consistency; failing that, the most frequent candidate in the header wins."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS if header.count(d)}
    if len(counts) == 1:
        return next(iter(counts))
    try:
        return csv.Sniffer().sniff("\n".join(lines[:200]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return max(counts, key=counts.get) if counts else ","


def _show_delimiter(delimiter: str) -> str:
    return {"\t": "tab", "": "?", "xlsx": "xlsx"}.get(delimiter, delimiter)


# --- xlsx -------------------------------------------------------------------------------

def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The sheet a layout names and recognizes, else the first; row numbers are the
    spreadsheet's own, so staff find the line."""
    from openpyxl import load_workbook
    from zipfile import BadZipFile

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError) as error:
        raise FileRejected("file_not_text", detail=f"xlsx: {_short(error)}")
    try:
        def rows_of(sheet) -> Iterator[tuple[int, list[str]]]:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_xlsx_cell(value) for value in row]

        def head_of(name: str) -> list[list[str]]:
            rows = (cells for _, cells in rows_of(workbook[name]) if any(cell.strip() for cell in cells))
            return list(islice(rows, layouts.MAX_HEADER_ROWS))

        named = layouts.sheet_for(path.name, workbook.sheetnames, head_of)
        yield from rows_of(workbook[named] if named else workbook.worksheets[0])
    finally:
        workbook.close()


def _xlsx_cell(value: object) -> str:
    """A cell as the text staff see; dates as ISO dates (what date fields of layouts accept)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _short(error: BaseException) -> str:
    return (str(error) or type(error).__name__)[:200]
