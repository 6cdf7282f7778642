import gzip
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from observatory import read, records, staging, textfile


def read_text(tmp_path: Path, content: str | bytes, name: str = "file.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return read_path(path)


def read_path(path: Path):
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    rows = con.execute("SELECT line, country, year, indicator, value, source, notes FROM stage_row ORDER BY line").fetchall()
    problems = con.execute("SELECT line, reason_code FROM stage_problem ORDER BY line").fetchall()
    return outcome, rows, problems


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_encodings_staff_save_in_are_decoded(tmp_path, encoding):
    outcome, rows, _ = read_text(tmp_path, "país;año;indicador;valor\nPerú;2015;femicide_count;95\n", encoding=encoding)
    assert outcome.rejection is None
    assert rows == [(2, "Perú", "2015", "femicide_count", "95", None, None)]


def test_windows_1252_characters_beyond_latin_1_survive(tmp_path):
    outcome, rows, _ = read_text(tmp_path, "country,year,indicator,value,notes\nPER,2015,femicide_count,95,“cifra” – oficial\n", encoding="cp1252")
    assert outcome.encoding == "cp1252"
    assert rows[0][-1] == "“cifra” – oficial"


def test_a_non_utf8_byte_after_the_sample_switches_encoding(tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "SAMPLE_BYTES", 64)
    monkeypatch.setattr(textfile, "CHUNK_BYTES", 64)
    body = "country,year,indicator,value,notes\n" + "PER,2015,femicide_count,95,ok\n" * 5 + "PER,2016,femicide_count,96,Apurímac\n"
    outcome, rows, _ = read_text(tmp_path, body, encoding="cp1252")
    assert outcome.rejection is None and len(rows) == 6
    assert rows[-1][-1] == "Apurímac"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_and_sets_the_decimal_mark(tmp_path, delimiter):
    body = delimiter.join(["country", "year", "indicator", "value"]) + "\n" + delimiter.join(["PER", "2015", "femicide_rate", "1"]) + "\n"
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.delimiter == delimiter
    assert outcome.decimal_mark == ("," if delimiter == ";" else ".")
    assert len(rows) == 1


def test_header_names_match_whatever_the_case_accents_and_spaces(tmp_path):
    outcome, rows, _ = read_text(tmp_path, " PAÍS ;Año; Indicador;VALOR;Fuente;columna extra\nPER;2015;femicide_count;95;MIMP;x\n")
    assert outcome.rejection is None
    assert rows == [(2, "PER", "2015", "femicide_count", "95", "MIMP", None)]


def test_blank_lines_are_skipped_and_line_numbers_are_the_files_own(tmp_path):
    body = '\ncountry,year,indicator,value,notes\n\nPER,2015,femicide_count,95,"two\nlines"\n\n  ,  ,\nPER,2016,femicide_count,96,\n'
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.rows_read == 2
    assert [(r[0], r[2]) for r in rows] == [(4, "2015"), (8, "2016")]


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 100_000])
def test_a_file_parsed_in_several_batches_reads_as_in_one(tmp_path, monkeypatch, batch_rows):
    """Records are cleaned and scanned a batch at a time: line numbers, blank records, cells
    with blanks around them and a quoted cell over two lines come out the same at any size."""
    monkeypatch.setattr(records, "PARSE_BATCH_ROWS", batch_rows)
    body = ('\ncountry,year,indicator,value,notes\n\nPER,2015,femicide_count,95,"two\nlines"\n\n  ,  ,\n'
            ' PER\u00a0,2016,femicide_count,\t96 ,\u3000\nPER,2017,femicide_count,97,x\n')
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.rejection is None and outcome.rows_read == 3
    assert rows == [(4, "PER", "2015", "femicide_count", "95", None, "two\nlines"),
                    (8, "PER", "2016", "femicide_count", "96", None, None),
                    (9, "PER", "2017", "femicide_count", "97", None, "x")]


@pytest.mark.parametrize("batch_rows", [1, 2, 100_000])
def test_a_quote_never_closed_is_caught_in_any_batch(tmp_path, monkeypatch, batch_rows):
    monkeypatch.setattr(records, "PARSE_BATCH_ROWS", batch_rows)
    body = 'country,year,indicator,value,notes\nPER,2015,femicide_count,95,x\nPER,2016,femicide_count,96,"open\nPER,2017,femicide_count,97,y\n'
    outcome, _, _ = read_text(tmp_path, body)
    assert outcome.rejection is not None and outcome.rejection.reason_code == "file_unreadable"


def test_missing_required_column_rejects_the_file_and_counts_its_rows(tmp_path):
    outcome, rows, _ = read_text(tmp_path, "country,year,value\nPER,2015,95\nPER,2016,96\n")
    assert outcome.rejection.reason_code == "missing_required_column"
    assert outcome.rejection.details["missing"] == "indicator"
    assert outcome.rows_read == 2 and rows == []


def test_repeated_column_rejects_the_file(tmp_path):
    outcome, _, _ = read_text(tmp_path, "country,país,year,indicator,value\nPER,PER,2015,femicide_count,95\n")
    assert outcome.rejection.reason_code == "ambiguous_column"


@pytest.mark.parametrize("content", ["", "\n\n", "country,year,indicator,value\n", "country,year,indicator,value\n\n,,,\n"])
def test_a_file_without_data_rows_is_rejected(tmp_path, content):
    outcome, _, _ = read_text(tmp_path, content)
    assert outcome.rejection.reason_code == "no_data_rows"


def test_binary_content_is_rejected_as_not_text(tmp_path):
    outcome, _, _ = read_text(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", name="chart.csv")
    assert outcome.rejection.reason_code == "file_not_text"


def test_a_row_with_extra_fields_is_a_problem_not_a_silent_cut(tmp_path):
    outcome, rows, problems = read_text(tmp_path, "country,year,indicator,value\nPER,2015,femicide_count,95\nPER,2016,femicide_count,1,5\nPER,2017,femicide_count,7,\n")
    assert outcome.rows_read == 3
    assert [r[0] for r in rows] == [2, 4]
    assert problems == [(3, "extra_fields")]


def test_xlsx_first_sheet_with_spreadsheet_row_numbers(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["País", "Año", "Indicador", "Valor"])
    sheet.append([None, None, None, None])
    sheet.append(["Perú", 2015, "femicide_rate", 0.58])
    sheet.append(["Perú", 2016, "femicide_count", 124.0])
    workbook.save(tmp_path / "carga.xlsx")
    outcome, rows, _ = read_path(tmp_path / "carga.xlsx")
    assert outcome.rejection is None
    assert [(r[0], r[2], r[4]) for r in rows] == [(3, "2015", "0.58"), (4, "2016", "124")]


def test_a_damaged_xlsx_is_rejected(tmp_path):
    outcome, _, _ = read_text(tmp_path, b"PK\x03\x04 not really a workbook", name="carga.xlsx")
    assert outcome.rejection.reason_code == "file_not_text"


def test_gzip_compressed_csv(tmp_path):
    path = tmp_path / "carga.csv.gz"
    path.write_bytes(gzip.compress("country,year,indicator,value\nPER,2015,femicide_count,95\n".encode()))
    outcome, rows, _ = read_path(path)
    assert outcome.rejection is None and len(rows) == 1


def test_stage_tables_have_the_columns_of_each_dataset_kind():
    con = duckdb.connect()
    staging.create_stage_tables(con)
    for kind, table in staging.STAGE_TABLES.items():
        columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
        assert columns == staging.row_schema(kind).names, kind


def test_a_policy_header_is_recognized_and_a_near_miss_names_what_is_missing(tmp_path):
    outcome, _, _ = read_text(tmp_path, "país,tipo de instrumento,título,fuente\nPER,protocol,Protocolo,El Peruano\n")
    assert outcome.kind == "policy_instrument" and outcome.rejection is None
    outcome, _, _ = read_text(tmp_path, "país,tipo de instrumento,título\nPER,protocol,Protocolo\n")
    assert outcome.kind == "policy_instrument"
    assert outcome.rejection.details["missing"] == "source"


def test_a_stray_quote_keeps_line_numbers_honest(tmp_path):
    body = 'country,year,indicator,value,notes\nPER,2015,femicide_count,95,ab"c\n\nPER,2016,femicide_count,96,x\nPER,2017,femicide_count,97,"dos\nlíneas"\nPER,2018,femicide_count,98,y\n'
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.rejection is None
    assert [(r[0], r[2]) for r in rows] == [(2, "2015"), (4, "2016"), (5, "2017"), (7, "2018")]


def test_nul_bytes_after_the_sample_are_not_text(tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "SAMPLE_BYTES", 64)
    monkeypatch.setattr(textfile, "CHUNK_BYTES", 64)
    body = b"country,year,indicator,value\n" + b"PER,2015,femicide_count,95\n" * 5 + b"PER,2016,\x00\x00\x00,1\n"
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.rejection.reason_code == "file_not_text" and rows == []


def test_a_workbook_that_inflates_like_a_bomb_is_refused_before_it_is_opened(tmp_path):
    import zipfile

    path = tmp_path / "carga.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<c>0</c>" * (4 << 20))
    outcome, _, _ = read_path(path)
    assert outcome.rejection.reason_code == "compression_bomb"


@pytest.mark.parametrize("before, batch_rows", [(0, 100_000), (10, 100_000), (10, 2)])
def test_a_line_longer_than_the_parser_takes_is_a_clear_rejection(tmp_path, monkeypatch, before, batch_rows):
    """Also when the line comes after the first parsed batch (DuckDB's error then reaches
    Python through Arrow's stream)."""
    monkeypatch.setattr(records, "PARSE_BATCH_ROWS", batch_rows)
    body = ("country,year,indicator,value,notes\n" + "PER,2014,femicide_count,9,ok\n" * before
            + "PER,2015,femicide_count,95," + "x" * (40 << 20) + "\n")
    outcome, rows, _ = read_text(tmp_path, body)
    assert outcome.rejection.reason_code == "file_unreadable" and rows == []
    assert "too long" in outcome.rejection.details["detail"]


def test_xlsx_line_numbers_stay_the_sheet_rows_after_a_cell_with_line_breaks(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["country", "year", "indicator", "value", "notes"])
    sheet.append(["PER", 2015, "femicide_count", 95, "línea uno\nlínea dos"])
    sheet.append(["PER", 2016, "femicide_count", 96, None])
    sheet.append(["PER", 2017, "femicide_count", 97, None])
    workbook.save(tmp_path / "carga.xlsx")
    outcome, rows, _ = read_path(tmp_path / "carga.xlsx")
    assert outcome.rejection is None
    assert [(r[0], r[2]) for r in rows] == [(2, "2015"), (3, "2016"), (4, "2017")]


def test_a_workbook_over_the_byte_limit_is_refused_while_it_is_written(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["country", "year", "indicator", "value", "notes"])
    for year in range(1960, 2020):  # a cell holds at most 32,767 characters
        sheet.append(["PER", year, "femicide_count", 1, "x" * 30_000])
    workbook.save(tmp_path / "carga.xlsx")
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, tmp_path / "carga.xlsx", 1, 0, textfile.Limits(max_bytes=1 << 20))
    assert outcome.rejection.reason_code == "file_too_large"
    assert outcome.rejection.details["what_en"] == "size (uncompressed)"


def test_old_mac_line_endings_are_read(tmp_path):
    outcome, rows, _ = read_text(tmp_path, "country,year,indicator,value\rPER,2015,femicide_count,95\r\rPER,2016,femicide_count,96\r")
    assert outcome.rejection is None
    assert [(r[0], r[2]) for r in rows] == [(2, "2015"), (4, "2016")]


def test_a_header_after_a_line_of_unicode_blanks_is_still_the_header(tmp_path):
    outcome, rows, _ = read_text(tmp_path, "\u3000\u3000\ncountry,year,indicator,value\nPER,2015,femicide_count,95\n")
    assert outcome.rejection is None
    assert [(r[0], r[2]) for r in rows] == [(3, "2015")]


@pytest.mark.parametrize("text", [
    "a;b\r\n1;2\r\n\r\n3;4\r\n" * 40,  # CRLF, so the prefix may end between \r and \n
    "título\n\n" + "x|y|z\n" * 300,
    "\n".join(f"{'v' * (i % 37)},{i}" for i in range(500)),  # lines of every length, blank ones too
    "a,b\n1,2\n",  # shorter than any prefix
])
@pytest.mark.parametrize("prefix", [1, 7, 64, 1000])
def test_sniffing_splits_a_prefix_into_the_same_lines_as_the_whole_sample(text, prefix):
    whole = [line for line in text.splitlines() if line.strip()]
    for count in (1, 5, 210):
        assert textfile._first_lines(text, count, prefix_chars=prefix) == whole[:count]
