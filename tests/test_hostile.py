"""Hostile and malformed input: a catalogue of files staff (or an attacker) could drop, each with
the outcome a user expects. All of them go into one run, as they would arrive: the run
completes, every file gets its receipt with a clear reason, nothing is lost
(rows_read = rows_loaded + rows_quarantined) and the good files load beside the bad ones.
Limits are settings, so bombs and oversized files are small versions."""
from __future__ import annotations

import bz2
import gzip
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from observatory.settings import Settings
from tests.conftest import query, run

H = "country,year,indicator,value,source\n"


def row(year: int = 2015, value: str = "95", source: str = "MIMP", country: str = "PER",
        indicator: str = "femicide_count") -> str:
    return f"{country},{year},{indicator},{value},{source}\n"


def xlsx(rows: list[list], title: str = "Hoja1") -> bytes:
    workbook = Workbook()
    workbook.active.title = title
    for cells in rows:
        workbook.active.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_bomb() -> bytes:
    """A workbook whose sheet inflates 1,000 times (40 MiB of one character)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<a>" + "a" * (40 << 20) + "</a>")
    return out.getvalue()


def bz2_bomb(mib: int) -> bytes:
    rows = (row(source="bomba") * 40_000).encode()[: 1 << 20]
    return bz2.compress(H.encode() + rows) + bz2.compress(rows) * (mib - 1)


@dataclass(frozen=True)
class Case:
    name: str  # the file's name under data/raw/hostil/
    content: bytes
    status: str  # the receipt's status
    reason: str | None = None  # a quarantine reason the file must carry
    loaded: int | None = None  # rows loaded, when it matters


CASES = [
    # empty, blank, not text
    Case("empty.csv", b"", "rejected", "no_data_rows"),
    Case("header_only.csv", H.encode(), "rejected", "no_data_rows"),
    Case("blank_lines.csv", b"\n\n \n\t\n", "rejected", "no_data_rows"),
    Case("bom_only.csv", b"\xef\xbb\xbf", "rejected", "no_data_rows"),
    Case("binary.csv", bytes(range(256)) * 4, "rejected", "file_not_text"),
    Case("png_named_csv.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(200)), "rejected", "file_not_text"),
    Case("nul_bytes.csv", (H + row(source="MI\x00MP")).encode(), "rejected", "file_not_text"),
    Case("utf16_without_bom.csv", (H + row(2001)).encode("utf-16-le"), "rejected", "file_not_text"),
    # wrong extension
    Case("workbook_named_csv.csv", xlsx([["country"], ["PER"]]), "rejected", "file_not_text"),
    Case("csv_named_xlsx.xlsx", (H + row(2002)).encode(), "rejected", "file_not_text"),
    Case("text_named_gz.csv.gz", (H + row(2003)).encode(), "rejected", "file_unreadable"),
    Case("damaged.csv.gz", gzip.compress((H + row(2004)).encode())[:30], "rejected", "file_unreadable"),
    Case("truncated.csv.bz2", bz2.compress((H + row(2005) * 1000).encode())[:100], "rejected", "file_unreadable"),
    # encodings and line endings
    Case("two_encodings.csv", (H + row(country="Perú")).encode() + row(2016, country="Perú").encode("cp1252"),
         "partially_loaded", "unknown_country", loaded=1),
    Case("bare_cr.csv", (H + row(2006) + row(2007)).replace("\n", "\r").encode(), "loaded", loaded=2),
    Case("zero_width_and_rtl.csv", (H + row(country="P\u200bER") + row(2016, country="PER\u202e")).encode(), "loaded", loaded=2),
    # shape
    Case("ragged_short.csv", (H + "PER,2015,femicide_count\n" + row(2016)).encode(), "partially_loaded", "missing_value", loaded=1),
    Case("ragged_long.csv", (H + "PER,2015,femicide_count,95,MIMP,x,y\n" + row(2016)).encode(), "partially_loaded", "extra_fields", loaded=1),
    Case("duplicate_header.csv", b"country,year,indicator,value,value\nPER,2015,femicide_count,95,96\n", "rejected", "ambiguous_column"),
    Case("ten_thousand_columns.csv", (H.strip() + "," + ",".join(f"x{i}" for i in range(10_000)) + "\n"
                                      + row(2008).strip() + "," * 10_000 + "\n").encode(), "rejected", "file_too_large"),
    Case("one_line_of_64_mib.csv", (H + 'PER,2015,femicide_count,95,"' + "a" * (64 << 20) + '"\n').encode(), "rejected", "file_unreadable"),
    Case("cell_of_300_kib.csv", (H + 'PER,2015,femicide_count,95,"' + "b" * 300_000 + '"\n').encode(), "rejected", "file_unreadable"),
    Case("unclosed_quote.csv", (H + 'PER,2015,femicide_count,95,"MIMP\n' + row(2016)).encode(), "rejected", "file_unreadable"),
    Case("trailing_delimiters.csv", (H.strip() + ",\n" + row(2009).strip() + ",\n").encode(), "loaded", loaded=1),
    # Excel's "sep=;" hint above the header is passed over like a title row.
    Case("excel_sep_line.csv", ("sep=;\n" + H.replace(",", ";") + row(2010).replace(",", ";")).encode(), "loaded", loaded=1),
    # cells that are code
    Case("formulas.csv", (H + 'PER,2011,femicide_count,95,"=HYPERLINK(""http://evil.example"",""clic"")"\n'
                          "PER,2012,femicide_count,96,+cmd|' /C calc'!A0\n"
                          "PER,2013,femicide_count,97,@SUM(1+1)*cmd|' /C calc'!A0\n"
                          "PER,2014,femicide_count,98,-2+3+cmd|' /C calc'!A0\n").encode(), "loaded", loaded=4),
    Case("html_script.csv", (H + 'COL,2015,femicide_count,95,"<script>alert(1)</script><img src=x onerror=alert(2)>"\n').encode(),
         "loaded", loaded=1),
    Case("sql_in_values.csv", (H + "ECU,2015,femicide_count,95,\"'); DROP TABLE fact_observation; -- $$ \\\\ ;\"\n").encode(),
         "loaded", loaded=1),
    Case("sql_in_header.csv", ("country,year,indicator,value,\"x'); DROP TABLE quarantine; --\"\n" + row(2015, country="BOL")).encode(),
         "loaded", loaded=1),
    # odd file names
    Case("name with spaces.csv", (H + row(2016, country="CHL")).encode(), "loaded", loaded=1),
    Case("name\nwith a newline.csv", (H + row(2017, country="CHL")).encode(), "loaded", loaded=1),
    Case("a..b.csv", (H + row(2018, country="CHL")).encode(), "loaded", loaded=1),
    Case(unicodedata.normalize("NFC", "nfc_Perú.csv"), (H + row(2019, country="CHL")).encode(), "loaded", loaded=1),
    Case(unicodedata.normalize("NFD", "nfd_Perú.csv"), (H + row(2020, country="CHL")).encode(), "loaded", loaded=1),
    # numbers and years
    Case("huge_and_not_numbers.csv", (H + row(2015, "1e308") + row(2016, "1e400") + row(2017, "NaN") + row(2018, "Inf")
                                      + row(2019, "-Inf") + row(2020, "12")).encode(), "partially_loaded", "value_not_numeric", loaded=1),
    Case("currency_sign.csv", (H + row(value="$1000")).encode(), "rejected", "value_not_numeric"),
    Case("whitespace_value.csv", (H + row(value="   ")).encode(), "rejected", "missing_value"),
    Case("three_year_formats.csv", (H + row(2015, country="ARG") + "ARG,2016-01-01,femicide_count,96,MIMP\n"
                                    "ARG,01/01/2017,femicide_count,97,MIMP\n").encode(), "partially_loaded", "invalid_year", loaded=1),
    Case("future_year.csv", (H + row(2999)).encode(), "rejected", "invalid_year"),
    Case("negative_count.csv", (H + row(value="-3")).encode(), "rejected", "value_out_of_range"),
    Case("percent_over_100.csv", (H + row(indicator="vaw_budget_share", value="140")).encode(), "rejected", "value_out_of_range"),
    # duplicate and conflicting keys
    Case("repeated_row.csv", (H + row(2015, country="URY") * 2).encode(), "partially_loaded", "duplicate_row", loaded=1),
    Case("conflicting_rows.csv", (H + row(2015, "95", country="PRY") + row(2015, "96", country="PRY")).encode(),
         "rejected", "conflicting_duplicate"),
    Case("between_files_first.csv", (H + row(2015, "10", source="X", country="GTM")).encode(), "loaded", loaded=1),
    Case("between_files_second.csv", (H + row(2015, "11", source="X", country="GTM")).encode(), "loaded", loaded=1),
    # workbooks
    Case("empty_workbook.xlsx", xlsx([]), "rejected", "no_data_rows"),
    Case("formula_without_value.xlsx", xlsx([["country", "year", "indicator", "value"], ["PER", 2015, "femicide_count", "=1+1"]]),
         "rejected", "missing_value"),
    Case("hostile_sheet_name.xlsx", xlsx([["país", "año", "indicador", "valor"], ["HND", 2015, "femicide_count", 95]],
                                         title="x'); DROP--"), "loaded", loaded=1),
    Case("xlsx_bomb.xlsx", xlsx_bomb(), "rejected", "compression_bomb"),
    Case("bz2_bomb.csv.bz2", bz2_bomb(20), "rejected", "compression_bomb"),
]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Settings:
    """Every case dropped at once, plus a symbolic link to a file outside the raw folder, a
    hidden file and an editor's lock file; then one run."""
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings.resolve(root / "raw", root / "curated", root / "receipts")
    folder = settings.raw_dir / "hostil"
    folder.mkdir(parents=True)
    for case in CASES:
        (folder / case.name).write_bytes(case.content)
    outside = root / "outside.csv"
    outside.write_text(H + row(2015, country="CRI"))
    (folder / "link_outside.csv").symlink_to(outside)
    (folder / ".hidden.csv").write_text(H + row(2015, country="DOM"))
    (folder / "~$lock.xlsx").write_bytes(b"lock")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OBSERVATORY_MAX_INFLATION", "50")
        run(settings)
    return settings


def test_the_catalogue_has_at_least_forty_cases():
    assert len(CASES) >= 40 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name.replace("\n", "\\n"))
def test_each_hostile_file_gets_the_outcome_a_user_expects(hostile_run, case):
    path = f"hostil/{case.name}"
    status, rows_read, loaded, quarantined = query(
        hostile_run, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM file_receipt WHERE file_path = ?", [path])[0]
    assert rows_read == loaded + quarantined
    assert status == case.status, query(hostile_run, "SELECT reason_code, message_en FROM quarantine WHERE source_file = ?", [path])
    if case.reason:
        reasons = {code for (code,) in query(hostile_run, "SELECT reason_code FROM quarantine WHERE source_file = ?", [path])}
        assert case.reason in reasons
    if case.loaded is not None:
        assert loaded == case.loaded
    messages = query(hostile_run, "SELECT message_es, message_en FROM quarantine WHERE source_file = ?", [path])
    assert all(es and en and "{" not in es + en for es, en in messages)  # every placeholder filled, both languages


def test_a_symbolic_link_is_not_followed_but_recorded(hostile_run):
    assert query(hostile_run, "SELECT status, rows_read FROM file_receipt WHERE file_path = 'hostil/link_outside.csv'") == [("rejected", 0)]
    ((code, message),) = query(hostile_run, "SELECT reason_code, message_en FROM quarantine WHERE source_file = 'hostil/link_outside.csv'")
    assert code == "symlink_not_followed" and "outside.csv" not in message
    assert query(hostile_run, "SELECT count(*) FROM fact_observation WHERE country_iso3 = 'CRI'") == [(0,)]


def test_hidden_and_lock_files_wait_and_nothing_else_is_missing(hostile_run):
    paths = {path for (path,) in query(hostile_run, "SELECT file_path FROM file_receipt")}
    assert paths == {f"hostil/{case.name}" for case in CASES} | {"hostil/link_outside.csv"}


def test_code_in_cells_is_stored_as_text_never_run(hostile_run):
    sources = {source for (source,) in query(hostile_run, "SELECT source FROM fact_observation")}
    assert '=HYPERLINK("http://evil.example","clic")' in sources
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in sources
    assert "'); DROP TABLE fact_observation; -- $$ \\\\ ;" in sources
    assert query(hostile_run, "SELECT count(*) FROM quarantine") != [(0,)]  # nothing was dropped


def test_the_later_file_wins_between_conflicting_files(hostile_run):
    assert query(hostile_run, "SELECT value FROM fact_observation WHERE country_iso3 = 'GTM'") == [(11.0,)]
    assert query(hostile_run, "SELECT count(*) FROM observation_history WHERE country_iso3 = 'GTM'") == [(2,)]


def test_limits_reject_a_file_over_them_with_the_limit_named(settings, monkeypatch):
    """Small versions of the per-file limits: bytes, lines."""
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_MIB", "1")
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_LINES", "1000")
    folder = settings.raw_dir / "hostil"
    folder.mkdir(parents=True)
    (folder / "lines.csv").write_text(H + "".join(row(1990 + i % 30, str(i)) for i in range(2_000)))
    (folder / "bytes.csv.gz").write_bytes(gzip.compress((H + row(source="x" * 2_000) * 800).encode()))
    (folder / "ok.csv").write_text(H + row())
    run(settings)
    receipts = dict(query(settings, "SELECT file_path, status FROM file_receipt"))
    assert receipts == {"hostil/lines.csv": "rejected", "hostil/bytes.csv.gz": "rejected", "hostil/ok.csv": "loaded"}
    messages = dict(query(settings, "SELECT source_file, message_en FROM quarantine WHERE reason_code = 'file_too_large'"))
    assert "1,000" in messages["hostil/lines.csv"] and "1 MiB" in messages["hostil/bytes.csv.gz"]


def test_the_published_database_is_whole_after_the_hostile_run(hostile_run):
    with duckdb.connect(str(hostile_run.published_db), read_only=True) as con:
        tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"fact_observation", "quarantine", "file_receipt"} <= tables
    assert Path(hostile_run.parquet_dir, "fact_observation.parquet").exists()
