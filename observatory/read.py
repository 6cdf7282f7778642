"""Read: a raw file -> records parsed by DuckDB with their line numbers -> staged canonical rows.

`textfile` turns the bytes into UTF-8 text within the file's limits and says what it looks like;
`records` has DuckDB parse it (every column as text); raw contract v1 (`contract`) is then staged
by one SQL statement, and a source layout (here) turns the parsed records into canonical rows,
which `staging` writes to the stage. Cells stay text; harmonize turns them into codes and
numbers. Whatever goes wrong with one file (a limit, a damaged file, an error of ours) rejects
that file with its reason and never stops the run.
"""
from __future__ import annotations

import csv
import logging
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from observatory import faults, interrupts, layouts, privacy, reference, staff_forms
from observatory.contract import contract_header, header_fields, show_delimiter, stage_canonical
from observatory.records import Records
from observatory.staging import StageBuffer, Stager
from observatory.textfile import LINE_TOO_LONG, Deadline, FileRejected, Limits, RestartAs, TextFile, codec, prepare, too_large

log = logging.getLogger(__name__)

# Reads of one file: the detected encoding, a wider code page after a bad byte, the layout's own.
MAX_ATTEMPTS = 3
# Columns parsed beyond the header's: a row whose extra cells hold something is a problem.
EXTRA_COLUMNS = 8
# What a rejection for a workbook's header or shape adds when the workbook has several visible sheets.
SHEET_NOTE_ES = (" Del libro se leyó la hoja {position}, la primera visible (el libro tiene {visible} hojas visibles): "
                 "solo se lee la primera hoja visible. Si los datos están en otra hoja, póngala primera u oculte las "
                 "que van antes.")
SHEET_NOTE_EN = (" Sheet {position} of the workbook was read, the first visible one ({visible} sheets are visible): "
                 "only the first visible sheet is read. If the data are on another sheet, move it first or hide the "
                 "sheets before it.")

__all__ = ["FileRejected", "Limits", "ReadOutcome", "read_file"]


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
    # A raw contract v1 file without a month column: a column not read whose name says it holds
    # dates (`Fecha`), as the header writes it; monthly figures under it look like duplicates.
    unread_date_column: str | None = None


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
        Records.drop(con)  # a large file's cells leave with it


def _read_attempts(con, path: Path, file_id: int, first_row_id: int, limits: Limits, deadline: Deadline,
                   temp_dir: Path, buffer: StageBuffer, observatory: str = "") -> ReadOutcome:
    stager = Stager(buffer, file_id, first_row_id, observatory=observatory)
    encoding: str | None = None
    tried: list[str] = []
    for _ in range(MAX_ATTEMPTS):
        outcome = ReadOutcome()
        text: TextFile | None = None
        try:
            text = prepare(path, limits, deadline, temp_dir, encoding)
            faults.point("read_with_a_copy")
            outcome.encoding = text.encoding
            outcome.delimiter = "xlsx" if text.encoding == "xlsx" else text.delimiter
            outcome.decimal_mark = "," if outcome.delimiter == ";" else "."
            outcome.rows_read = _stage(con, text, path.name, stager, outcome, deadline)
            stager.flush()
        except RestartAs as again:
            stager.discard()
            Records.drop(con)  # this attempt's records: the next one parses the file again
            stager.next_row_id = first_row_id
            tried.append(outcome.encoding or encoding or "?")
            encoding = again.encoding
            continue
        except Exception as error:  # noqa: BLE001 - one file never stops the others
            interrupts.reraise(error)  # Ctrl+C during a DuckDB query: the run stops, no file is to blame
            stager.discard()
            outcome.rejection = _rejection(error, path, limits)
            _note_sheet(outcome.rejection, text)
            outcome.rows_read, outcome.rows_skipped = outcome.rejection.rows_read, outcome.rejection.rows_skipped
        finally:
            if text is not None:
                text.remove_copy()
        break
    else:  # the bytes decode in no encoding that was tried (e.g. a layout's fixed one)
        outcome.rejection = FileRejected("file_unreadable", detail="encodings tried / codificaciones probadas: " + ", ".join(tried))
        outcome.rows_skipped = 0
    return outcome


def _note_sheet(rejection: FileRejected, text: TextFile | None) -> None:
    """A rejection for the header or shape of a workbook with several visible sheets says which
    sheet was read (by its place: a sheet's name is text staff typed, and could name someone),
    and that only the first visible one is: the data may be on another. The reasons whose
    templates in reasons.csv have {sheet_es} take it; it is empty for any other file."""
    if rejection.reason_code not in _sheet_noted():
        return
    position, visible = text.sheet_read if text is not None and text.sheet_read else (0, 0)
    several = visible > 1
    rejection.details.setdefault("sheet_es", SHEET_NOTE_ES.format(position=position, visible=visible) if several else "")
    rejection.details.setdefault("sheet_en", SHEET_NOTE_EN.format(position=position, visible=visible) if several else "")


@lru_cache(maxsize=1)
def _sheet_noted() -> frozenset[str]:
    reasons = reference.load("reasons")
    return frozenset(reasons.loc[reasons["message_es"].str.contains("{sheet_es}", regex=False), "reason_code"])


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


def _stage(con, text: TextFile, file_name: str, stager: Stager, outcome: ReadOutcome, deadline: Deadline) -> int:
    """A file a layout recognizes is read by its layout; any other by raw contract v1 (a header
    row of canonical column names). Blank rows are skipped everywhere."""
    if not text.head:
        raise FileRejected("no_data_rows")
    _check_shape(text, deadline.limits)
    # Rows above the header (a title, a note) are skipped; line numbers stay the file's.
    titles, layout = staff_forms.header_index(file_name, text.head, contract_header)
    outcome.title_rows = outcome.rows_skipped = titles
    if layout is not None:
        outcome.layout, outcome.aggregate = layout, layout.aggregate
        if _needs_layout_encoding(layout, outcome.encoding):
            raise RestartAs(layout.encoding)
    width = max(max(len(cells) for cells in text.head), (layout.columns or 0) if layout else 0)
    scan = privacy.ValueScan(skip=titles)
    records = Records.parse(con, text, width + EXTRA_COLUMNS, deadline, scan, clean=layout is None)
    if text.odd_quotes and records.last_spans_lines:
        raise FileRejected("file_unreadable", detail="quotes do not pair up / las comillas no cierran")
    privacy.check(con, records.relation, records.width, text.head[titles:], layout, titles, scan)  # personal data: the whole file is rejected
    if layout is None:
        return stage_canonical(records, text.head[titles], stager, outcome)
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


# --- source layouts ---------------------------------------------------------------------

def _stage_layout(records: Records, layout: layouts.Layout, head: list[list[str]], stager: Stager,
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
                           **header_fields(header[-1] if header else []))
    stager.start(layout.kind)
    rows_read = 0
    for batch in records.batches(header_rec):
        deadline.check()
        for line, cells in batch:
            if len(cells) > bound.width and any(cell.strip() for cell in cells[bound.width:]):
                rows_read += 1
                stager.add_problem(line, "extra_fields", fields=_width(cells), header_fields=bound.width,
                                   delimiter=show_delimiter(outcome.delimiter))
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
