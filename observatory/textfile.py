"""Read, part one: a raw file's bytes -> one UTF-8 CSV file that DuckDB parses, within limits.

Python only streams, sniffs and decides here: decompression (.gz, .bz2), the encoding (UTF-8,
Windows-1252, Latin-1, UTF-16), the delimiter, the first records (to recognize the file), and
whether record n starts on line n (no quote, no empty line). A plain UTF-8 file is handed to
DuckDB as it is; any other is transcoded to a UTF-8 copy in the run's private temp folder. The
raw file is never modified. Every byte counts against the file's limits, so a compression bomb
or a runaway file is refused while it is being read, never after it has filled the memory.
"""
from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import re
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time as clock
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO, Iterator

DELIMITERS = ",;\t|"
SAMPLE_BYTES = 1 << 20
HEAD_CELL_CHARS = 128 << 10  # a cell of the first records longer than this is not a header or a figure
CHUNK_BYTES = 1 << 20
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
LINE_TOO_LONG = "una línea es demasiado larga / a line is too long"
# The most records looked at to recognize a file (title rows, a layout's header rows, or its first row).
HEAD_RECORDS = 10
# Lines from the header on that csv.Sniffer weighs when the header alone does not decide.
SNIFF_LINES = 200


class FileRejected(Exception):
    """The whole file is quarantined: `reason_code` names why, `details` fill the message."""

    def __init__(self, reason_code: str, rows_read: int = 0, rows_skipped: int = 0, **details: object):
        super().__init__(reason_code)
        self.reason_code = reason_code
        self.rows_read = rows_read
        self.rows_skipped = rows_skipped
        self.details = details


class RestartAs(Exception):
    """Read the file again in this encoding (a later byte did not decode, or the recognized
    layout fixes the encoding)."""

    def __init__(self, encoding: str | None = None):
        self.encoding = encoding


@dataclass(frozen=True)
class Limits:
    """What one file may cost. Bytes are counted after decompression and decoding."""

    max_bytes: int = 1 << 30
    max_inflation: float = 50.0  # decompressed / compressed bytes, for .gz, .bz2 and .xlsx
    max_lines: int = 20_000_000
    max_seconds: float = 900.0
    max_columns: int = 2_000  # fields of one row, as the first rows have them
    # Below this many decompressed bytes the inflation ratio is not judged (tiny files compress well).
    inflation_floor: int = 16 << 20


class Deadline:
    """Raises `FileRejected('file_timeout')` once a file has used up its seconds."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.at = time.monotonic() + limits.max_seconds
        # DuckDB connections working on the file: their queries are interrupted when time is up.
        self.connections: list = []

    def expire(self) -> None:
        for con in list(self.connections):
            try:
                con.interrupt()
            except Exception:  # noqa: BLE001 - closed meanwhile: nothing left to interrupt
                pass

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise FileRejected("file_timeout", seconds=int(self.limits.max_seconds))

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


@dataclass
class TextFile:
    path: Path  # what DuckDB parses: the raw file itself, or a UTF-8 copy
    encoding: str  # the raw file's encoding ("xlsx" for a workbook)
    delimiter: str
    head: list[list[str]]  # the first records with any non-blank cell
    simple: bool  # no quote and no empty line: record n starts on line n
    copy: bool  # `path` is a temporary copy, removed once the file is staged
    starts: list[int] | None = None  # the line (sheet row) each record starts on, when known
    odd_quotes: bool = False  # a quote is never closed: the last field would swallow the rest
    # A workbook's sheet read as its first visible one: (its position among the workbook's
    # sheets, from 1; how many sheets are visible). None for a text file or a sheet a layout names.
    sheet_read: tuple[int, int] | None = None

    def remove_copy(self) -> None:
        if self.copy:
            self.path.unlink(missing_ok=True)


# --- text files -------------------------------------------------------------------------

# A transcoded copy's name (`prepare`, `_prepare_xlsx`); leftovers.remove knows a killed run's by it.
COPY_NAME = re.compile(r"[0-9a-f]{32}\.csv")


def prepare(path: Path, limits: Limits, deadline: Deadline, temp_dir: Path, encoding: str | None = None) -> TextFile:
    """The file as UTF-8 text DuckDB can parse, its dialect and first records."""
    if path.suffix.lower() in XLSX_SUFFIXES:
        return _prepare_xlsx(path, limits, deadline, temp_dir)
    compressed = path.suffix.lower() in (".gz", ".bz2")
    with _open_bytes(path) as (raw, stream):
        sample = _read(stream, SAMPLE_BYTES)
        encoding = encoding or detect_encoding(sample)
        text_sample = sample.decode(encoding, errors="replace")
        delimiter = sniff_delimiter(text_sample)
        plain = encoding == "utf-8" and not compressed
        target = path if plain else temp_dir / f"{uuid.uuid4().hex}.csv"
        scan = _Scan(limits, deadline, raw if compressed else None)
        try:
            if plain:
                scan.stream(encoding, sample, stream, None)
            else:
                with open(target, "wb") as out:
                    scan.stream(encoding, sample, stream, out)
        except BaseException:
            if not plain:
                target.unlink(missing_ok=True)
            raise
    return TextFile(target, encoding, delimiter, head_records(text_sample, delimiter), scan.simple, copy=not plain,
                    odd_quotes=scan.quote_count % 2 == 1)


class _Scan:
    """Decodes the stream chunk by chunk: counts bytes and lines against the limits, notes
    quotes and empty lines, and writes UTF-8 when a copy is needed."""

    def __init__(self, limits: Limits, deadline: Deadline, compressed_source: IO[bytes] | None):
        self.limits, self.deadline, self.compressed_source = limits, deadline, compressed_source
        self.bytes = 0
        self.lines = 0
        self.quotes = False
        self.quote_count = 0
        self.empty_line = False
        self.bare_cr = False
        self.previous = "\n"  # the file's start counts as a line end: a leading empty line is seen

    @property
    def simple(self) -> bool:
        return not self.quotes and not self.empty_line and not self.bare_cr

    def stream(self, encoding: str, sample: bytes, stream: IO[bytes], out: IO[bytes] | None) -> None:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        chunk = sample
        while chunk:
            self._count(len(chunk))
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                raise RestartAs(_wider(encoding)) from None
            self._look(text)
            if out is not None:
                out.write(text.encode("utf-8"))
            chunk = _read(stream, CHUNK_BYTES)
        try:
            text = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise RestartAs(_wider(encoding)) from None
        self._look(text)
        if out is not None:
            out.write(text.encode("utf-8"))

    def _count(self, size: int) -> None:
        self.bytes += size
        self.deadline.check()
        if self.compressed_source is not None and self.bytes > self.limits.inflation_floor:
            ratio = self.bytes / max(1, self.compressed_source.tell())
            if ratio > self.limits.max_inflation:
                raise FileRejected("compression_bomb", ratio=f"{ratio:.0f}", max_ratio=f"{self.limits.max_inflation:.0f}")
        if self.bytes > self.limits.max_bytes:
            raise FileRejected("file_too_large", **too_large("bytes", _mib(self.limits.max_bytes)))

    def _look(self, text: str) -> None:
        if not text:
            return
        if "\x00" in text:
            raise FileRejected("file_not_text", detail="binary content / contenido binario")
        self.lines += text.count("\n")
        if "\r" in text:  # a line ending of a bare CR (old Mac files) is a line too
            bare = text.count("\r") - text.count("\r\n")
            self.lines += bare
            self.bare_cr = self.bare_cr or bare > 0
        if self.lines > self.limits.max_lines:
            raise FileRejected("file_too_large", **too_large("lines", f"{self.limits.max_lines:,}"))
        self.quote_count += text.count('"')
        self.quotes = self.quotes or self.quote_count > 0
        if not self.empty_line:
            joined = self.previous[-2:] + text
            self.empty_line = "\n\n" in joined or "\n\r\n" in joined
        self.previous = text


def _wider(encoding: str) -> str:
    """After a byte that does not decode: UTF-8 files are Windows-1252, Windows-1252 ones Latin-1."""
    if encoding in ("latin_1", "latin-1", "iso8859-1"):
        raise FileRejected("file_not_text", detail="unknown character encoding / codificación desconocida")
    return "cp1252" if encoding.startswith("utf") else "latin_1"


class _open_bytes:
    """(the raw file, the decompressed stream): the raw handle tells how far the compressed
    input has been read, to judge the inflation ratio."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> tuple[IO[bytes], IO[bytes]]:
        self.raw = open(self.path, "rb")
        suffix = self.path.suffix.lower()
        if suffix == ".gz":
            self.stream = gzip.GzipFile(fileobj=self.raw, mode="rb")
        elif suffix == ".bz2":
            self.stream = bz2.BZ2File(self.raw, mode="rb")
        else:
            self.stream = self.raw
        return self.raw, self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        self.raw.close()


def _read(stream: IO[bytes], size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, ValueError) as error:  # a damaged .gz/.bz2
        raise FileRejected("file_unreadable", detail=f"{type(error).__name__} ({_suffix_name(stream)})") from None


def _suffix_name(stream: IO[bytes]) -> str:
    return {gzip.GzipFile: "gzip", bz2.BZ2File: "bzip2"}.get(type(stream), "file")


def head_records(text: str, delimiter: str) -> list[list[str]]:
    """The first records with a non-blank cell: a layout's header rows or first data row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    try:
        head = list(islice((cells for cells in reader if any(cell.strip() for cell in cells)), HEAD_RECORDS))
    except csv.Error:  # a field over the csv module's limit in the first lines
        raise FileRejected("file_unreadable", detail=LINE_TOO_LONG) from None
    # The csv module's limit is process-wide and other libraries raise it: the rule stays ours.
    if any(len(cell) > HEAD_CELL_CHARS for cells in head for cell in cells):
        raise FileRejected("file_unreadable", detail=LINE_TOO_LONG)
    return head


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
    the sample's consistency; failing that, the most frequent candidate in the header wins.
    Title rows above the header are passed over: the header is the first line that has as
    many of a candidate as the line after it."""
    lines = _first_lines(text, HEAD_RECORDS + SNIFF_LINES)
    if not lines:
        return ","
    start = next((k for k in range(min(len(lines) - 1, HEAD_RECORDS))
                  if any(0 < lines[k].count(d) == lines[k + 1].count(d) for d in DELIMITERS)), 0)
    lines = lines[start:]
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS if header.count(d)}
    if len(counts) == 1:
        return next(iter(counts))
    try:
        return csv.Sniffer().sniff("\n".join(lines[:SNIFF_LINES]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return max(counts, key=counts.get) if counts else ","


def _first_lines(text: str, count: int, prefix_chars: int = 1 << 16) -> list[str]:
    """The first `count` non-blank lines (all of them when there are fewer), splitting only a
    prefix of the sample when it holds enough: the sample is up to a megabyte, the sniffing
    looks at a few hundred lines. The prefix's last line may be cut, so it is never used."""
    if len(text) > prefix_chars:
        lines = [line for line in text[:prefix_chars].splitlines() if line.strip()][:-1]
        if len(lines) >= count:
            return lines[:count]
    return [line for line in text.splitlines() if line.strip()][:count]


def codec(name: str) -> str:
    """'latin-1', 'ISO-8859-1' and 'latin_1' are one codec."""
    return codecs.lookup(name).name


# What a file is too large in, for the message of file_too_large.
MEASURES = {
    "bytes": ("tamaño (sin comprimir)", "size (uncompressed)"),
    "lines": ("líneas", "lines"),
    "memory": ("memoria para leerlo", "memory to read it"),
    "columns": ("columnas", "columns"),
}


def too_large(measure: str, limit: str) -> dict[str, str]:
    what_es, what_en = MEASURES[measure]
    return {"what_es": what_es, "what_en": what_en, "limit": limit}


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


# --- xlsx -------------------------------------------------------------------------------

def _prepare_xlsx(path: Path, limits: Limits, deadline: Deadline, temp_dir: Path) -> TextFile:
    """The sheet a layout names and recognizes, else the first visible one, written as a UTF-8
    CSV whose line n is the sheet's row n (so staff find the line); quoted cells keep their line
    breaks."""
    from openpyxl import load_workbook

    from observatory.layouts import sheet_for

    _check_zip(path, limits)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRejected("file_not_text", detail=f"xlsx: {type(error).__name__}") from None
    target = temp_dir / f"{uuid.uuid4().hex}.csv"
    try:
        def head_of(name: str) -> list[list[str]]:
            rows = (cells for cells in _sheet_rows(workbook[name]) if any(cell.strip() for cell in cells))
            return list(islice(rows, HEAD_RECORDS))

        named = sheet_for(path.name, workbook.sheetnames, head_of)
        sheet = workbook[named] if named else first_visible(workbook.worksheets)
        sheet_read = None if named else (workbook.worksheets.index(sheet) + 1,
                                         sum(ws.sheet_state == "visible" for ws in workbook.worksheets))
        head: list[list[str]] = []
        starts: list[int] = []  # the sheet row of each record written: a cell may hold line breaks
        written = 0
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            for number, cells in enumerate(_sheet_rows(sheet), start=1):
                blank = not any(cell.strip() for cell in cells)
                writer.writerow([] if blank else cells)
                if not blank:
                    starts.append(number)
                    if len(head) < HEAD_RECORDS:
                        head.append(cells)
                written += sum(len(cell) for cell in cells) + len(cells)
                if written > limits.max_bytes:
                    raise FileRejected("file_too_large", **too_large("bytes", _mib(limits.max_bytes)))
                if number > limits.max_lines:
                    raise FileRejected("file_too_large", **too_large("lines", f"{limits.max_lines:,}"))
                if number % 1_000 == 0:
                    deadline.check()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        workbook.close()
    return TextFile(target, "xlsx", ",", head, simple=False, copy=True, starts=starts, sheet_read=sheet_read)


def first_visible(worksheets: list) -> object:
    """The sheet staff see first when they open the workbook: hidden sheets (a lookup list, a
    validation list) and very hidden ones are passed over, whatever their place."""
    return next((ws for ws in worksheets if ws.sheet_state == "visible"), worksheets[0])


def _check_zip(path: Path, limits: Limits) -> None:
    """A workbook is a zip: what it says it inflates to is judged before anything is opened."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise FileRejected("file_not_text", detail=f"xlsx: {type(error).__name__}") from None
    inflated = sum(entry.file_size for entry in entries)
    ratio = inflated / max(1, sum(entry.compress_size for entry in entries))
    if inflated > limits.inflation_floor and ratio > limits.max_inflation:
        raise FileRejected("compression_bomb", ratio=f"{ratio:.0f}", max_ratio=f"{limits.max_inflation:.0f}")
    if inflated > limits.max_bytes * 4:  # sheet XML is several times the size of its text
        raise FileRejected("file_too_large", **too_large("bytes", _mib(limits.max_bytes)))


def _sheet_rows(sheet) -> Iterator[list[str]]:
    for row in sheet.iter_rows():
        yield [_sheet_cell(cell) for cell in row]


def _sheet_cell(cell) -> str:
    """A cell as the number staff see: Excel stores 7.2% as 0.072 and shows it x100, so a
    number whose format shows it as a percent is read as the percent shown (7.2), else a
    percent indicator would load 100 times too small and still pass its 0-100 range. Likewise a
    date shown as its year alone (`yyyy`: a year column Excel turned into dates) is read as the
    year, and one shown as its month alone (`mmmm`, `mm`) as the month's number."""
    value = cell.value
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and cell.has_style  # unstyled: General
            and shows_percent(cell.number_format)):
        return _decimal_text(Decimal(repr(value)) * 100)  # repr: 0.072 -> 7.2, never 7.199999999999999
    if isinstance(value, (datetime, date)) and cell.has_style:
        shown = date_parts_shown(cell.number_format)
        if shown == "y":
            return str(value.year)
        if shown == "m":
            return str(value.month)
    return _xlsx_cell(value)


# What a number format shows literally rather than as a format code: a quoted text ("%"), a
# bracketed code ([Red], [$-409]), an escaped character (\%), a padding or fill character (_%, *%).
FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|[_*].')


@lru_cache(maxsize=1024)  # a workbook has a few formats and many cells
def shows_percent(number_format: str | None) -> bool:
    """Whether Excel shows a number in this format x100 with a percent sign: a `%` that is a
    format code, not a literal (`0.0%` does; `0.0" %"` and `0.0\\%` do not)."""
    return bool(number_format) and "%" in FORMAT_LITERALS.sub("", number_format)


@lru_cache(maxsize=1024)
def date_parts_shown(number_format: str | None) -> str:
    """The letters of a date format's codes, sorted and once each (`yyyy` -> "y", `mmmm` -> "m",
    `dd/mm/yyyy` -> "dmy"): literals aside, as for shows_percent."""
    codes = FORMAT_LITERALS.sub("", number_format or "").lower()
    return "".join(sorted({c for c in codes if c.isalpha()}))


def _xlsx_cell(value: object) -> str:
    """A cell as the text staff see; dates as ISO dates (what date fields of layouts accept)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == clock(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _decimal_text(Decimal(repr(value)))
    return str(value)


def _decimal_text(number: Decimal) -> str:
    """A number written out in full, without exponent or trailing zeros (124, 0.58, 7.2)."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
