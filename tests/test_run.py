"""End to end through `observatory run`, as staff and analysts use it."""
import json
import time

import duckdb
import pytest
from click.testing import CliRunner

from observatory.cli import main
from observatory.publish import public_schema
from observatory.settings import PROJECT_ROOT
from tests.conftest import HEADER, drop, query, run

GOOD = HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,124,MIMP\n"


def receipts(settings):
    return {row[0]: row[1:] for row in query(settings, "SELECT file_path, status, rows_read, rows_loaded, rows_quarantined FROM file_receipt")}


def test_run_loads_a_file_and_prints_a_summary(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    result = run(settings)
    assert "1 files seen" in result.output and "2 rows loaded" in result.output
    # Each line of the summary in Spanish first, for the staff who read it, then in English.
    assert "Esta ejecución — archivos vistos: 1, nuevos o modificados: 1 (rechazados enteros: 0)" in result.output
    assert "Publicado — archivos: 1 (cargados: 1); filas cargadas: 2, filas en cuarentena: 0" in result.output
    assert "Published: 1 files (loaded: 1); 2 rows loaded, 0 rows quarantined" in result.output
    assert str(settings.published_db) in result.output
    assert query(settings, "SELECT country_iso3, year, indicator_code, value, source, source_file, source_row FROM fact_observation ORDER BY year") == [
        ("PER", 2015, "femicide_count", 95.0, "MIMP", "mimp/2016.csv", 2),
        ("PER", 2016, "femicide_count", 124.0, "MIMP", "mimp/2016.csv", 3),
    ]
    assert receipts(settings) == {"mimp/2016.csv": ("loaded", 2, 2, 0)}


def test_every_row_is_loaded_or_quarantined_with_its_reason(settings):
    drop(settings, "obs/mixed.csv", HEADER + "\n".join([
        "Perú,2015,femicide_count,95,MIMP",        # 2 loaded
        "Hondras,2015,femicide_count,1,MIMP",      # 3 unknown_country
        ",2015,femicide_count,1,MIMP",             # 4 missing_country
        "Perú,20l5,femicide_count,1,MIMP",         # 5 invalid_year
        "Perú,1850,femicide_count,1,MIMP",         # 6 invalid_year (range)
        "Perú,2014,femicidios,1,MIMP",             # 7 unknown_indicator
        "Perú,2014,femicide_count,n/d,MIMP",       # 8 missing_value
        "Perú,2013,femicide_count,muchos,MIMP",    # 9 value_not_numeric
        "Perú,2013,femicide_rate,-1,MIMP",         # 10 value_out_of_range
        "Perú,2012,ipv_prevalence_12m,101,MIMP",   # 11 value_out_of_range
        "Perú,2011,femicide_count,7,MIMP",         # 12 conflicting with 13
        "Perú,2011,femicide_count,8,MIMP",         # 13
        "Perú,2010,femicide_count,5,MIMP",         # 14 loaded
        "Perú,2010,femicide_count,5,MIMP",         # 15 duplicate_row of 14
        "Perú,2009,VC_VAW_MARR,11.2,ENDES",        # 16 loaded through the SDG alias
    ]) + "\n")
    run(settings)
    reasons = dict(query(settings, "SELECT source_row, reason_code FROM quarantine"))
    assert reasons == {
        3: "unknown_country", 4: "missing_country", 5: "invalid_year", 6: "invalid_year",
        7: "unknown_indicator", 8: "missing_value", 9: "value_not_numeric", 10: "value_out_of_range",
        11: "value_out_of_range", 12: "conflicting_duplicate", 13: "conflicting_duplicate", 15: "duplicate_row",
    }
    assert sorted(r[0] for r in query(settings, "SELECT source_row FROM fact_observation")) == [2, 14, 16]
    assert receipts(settings)["obs/mixed.csv"] == ("partially_loaded", 15, 3, 12)
    messages = dict(query(settings, "SELECT source_row, message_es || ' | ' || message_en FROM quarantine"))
    assert "Honduras" in messages[3]
    assert "12, 13" in messages[12] and "12, 13" in messages[13]
    assert "línea 14" in messages[15] and "line 14" in messages[15]


def test_semicolon_file_in_windows_1252_with_thousands(settings):
    drop(settings, "obs/tasas.csv", "País;Año;Indicador;Valor;Unidad\nMéxico;2019;femicide_count;1.012;casos\nMéxico;2019;femicide_rate;1,5;por cada 100.000 mujeres\n", encoding="cp1252")
    run(settings)
    assert query(settings, "SELECT indicator_code, value, unit, source FROM fact_observation ORDER BY 1") == [
        ("femicide_count", 1012.0, "count", "obs"), ("femicide_rate", 1.5, "per_100k_women", "obs")]


def test_a_count_that_is_not_a_whole_number_is_quarantined(settings):
    """Counts (indicators whose unit is `count`, units.csv `whole`) are whole numbers: 12.5
    femicides is a mistake, and 1.234 in a file whose decimal mark is the point is most likely
    1234 typed with a Spanish thousands point. Rates and percentages keep their decimals."""
    drop(settings, "obs/conteos.csv", HEADER + "\n".join([
        "Honduras,2019,femicide_count,12.5,Obs Y",          # 2 not whole
        "Honduras,2018,femicide_attempt_count,0.3,Obs Y",   # 3 not whole
        "Honduras,2017,femicide_count,1.234,Obs Y",         # 4 not whole: a thousands point?
        "Honduras,2016,helpline_calls_count,\"1,234\",Obs Y",  # 5 loaded: the comma groups thousands here
        "Honduras,2015,femicide_count,96.0,Obs Y",          # 6 loaded: a whole number
        "Honduras,2015,femicide_rate,0.58,Obs Y",           # 7 loaded: a rate
        "Honduras,2014,femicide_count,4567891.5,Obs Y",     # 8 not whole, and shaped like an ID: not quoted
    ]) + "\n")
    run(settings)
    assert query(settings, "SELECT source_row, reason_code FROM quarantine ORDER BY 1") == [
        (2, "value_not_whole"), (3, "value_not_whole"), (4, "value_not_whole"), (8, "value_not_whole")]
    assert query(settings, "SELECT source_row, value FROM fact_observation ORDER BY 1") == [(5, 1234.0), (6, 96.0), (7, 0.58)]
    messages = dict(((line, (es, en)) for line, es, en in query(settings, "SELECT source_row, message_es, message_en FROM quarantine")))
    assert messages[2] == ("El valor «12.5» no es un número entero, y femicide_count es un recuento: cada cifra debe ser un "
                           "número entero, sin decimales.",
                           "The value '12.5' is not a whole number, and femicide_count is a count: each figure must be a "
                           "whole number, without decimals.")
    es, en = messages[4]
    assert "«1.234»" in es and "Si el punto separa los miles" in es and "escriba el número sin el punto (en ese ejemplo, 1234)" in es
    assert "'1.234'" in en and "If the point separates thousands" in en and "write the number without the point (in that example, 1234)" in en
    assert "miles" not in messages[2][0] and "thousands" not in messages[2][1]
    es, en = messages[8]
    assert "4567891" not in es + en and "«…»" in es and "No se cita" in es
    # Where the comma is the decimal mark (a file separated by `;`), 1,234 is one point two
    # three four: the hint names the comma.
    drop(settings, "obs/puntoycoma.csv", "país;año;indicador;valor;fuente\nHonduras;2013;femicide_count;1,234;Obs Y\n"
                                         "Honduras;2012;femicide_count;1.234;Obs Y\n")
    run(settings)
    (es, en), = query(settings, "SELECT message_es, message_en FROM quarantine WHERE source_file = 'obs/puntoycoma.csv'")
    assert "Si la coma separa los miles (por ejemplo, 1,234" in es and "en este archivo la coma es la marca decimal" in es
    assert "If the comma separates thousands" in en and "write the number without the comma (in that example, 1234)" in en
    assert query(settings, "SELECT value FROM fact_observation WHERE source_file = 'obs/puntoycoma.csv'") == [(1234.0,)]


def test_a_unit_that_contradicts_the_indicator_is_quarantined(settings):
    drop(settings, "obs/u.csv", "country,year,indicator,value,unit\nPER,2015,femicide_rate,1.5,%\nPER,2015,femicide_count,3,kg\n")
    run(settings)
    assert query(settings, "SELECT source_row, reason_code FROM quarantine ORDER BY 1") == [(2, "unit_mismatch"), (3, "unit_mismatch")]
    # The unit expected is named as staff write it in each language, not by its code.
    assert query(settings, "SELECT message_es, message_en FROM quarantine WHERE source_row = 2") == [(
        "La unidad «%» no corresponde al indicador femicide_rate (unidad esperada: por cada 100.000 mujeres).",
        "Unit '%' does not match indicator femicide_rate (expected unit: per 100,000 women).")]


def test_rejected_files_get_a_receipt_and_one_quarantine_row(settings):
    drop(settings, "obs/no_indicator.csv", "country,year,value\nPER,2015,95\nPER,2016,9\n")
    drop(settings, "obs/picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00")
    drop(settings, "loose.csv", GOOD)
    run(settings)
    assert receipts(settings) == {
        "obs/no_indicator.csv": ("rejected", 2, 0, 2),
        "obs/picture.csv": ("rejected", 0, 0, 0),
        "loose.csv": ("rejected", 0, 0, 0),
    }
    rows = query(settings, "SELECT source_file, source_row, reason_code, message_es, message_en FROM quarantine ORDER BY 1")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("loose.csv", None, "no_observatory_folder"),
        ("obs/no_indicator.csv", None, "missing_required_column"),
        ("obs/picture.csv", None, "file_not_text"),
    ]
    assert "indicator" in rows[1][4] and "country | year | value" in rows[1][4]
    assert "Faltan columnas obligatorias" in rows[1][3]


def test_a_second_run_with_nothing_new_loads_nothing_twice(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    before = query(settings, "SELECT * FROM file_receipt")
    result = run(settings)
    assert "0 new or changed" in result.output and "1 unchanged" in result.output
    assert query(settings, "SELECT * FROM file_receipt") == before
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


def test_timings_name_every_step_and_add_up_to_the_run(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    started = time.perf_counter()
    lines = run(settings, "--timings").stderr.splitlines()
    wall = time.perf_counter() - started
    seconds = {name.strip(): float(value) for name, value in (line.rsplit(None, 1) for line in lines[1:])}
    assert lines[0] == "Tiempos / timings (s):"
    assert {"staged_observations", "validated_observations", "curated_tables", "marts", "published_database",
            "research_outputs", "file_receipt_receipts_balance"} <= set(seconds)
    total, rest = seconds.pop("total"), seconds.pop("resto / rest (arranque / start-up)")
    # The steps and the rest are parts of the command's own time, which the caller's clock
    # brackets (each figure is rounded to a hundredth).
    assert min(seconds.values()) >= 0 and rest >= 0
    assert sum(seconds.values()) + rest == pytest.approx(total, abs=0.01 * (len(seconds) + 2))
    assert 0 < total <= wall + 0.005
    # Nothing new: the run ends before Dagster, and says that no step ran.
    again = run(settings, "--timings").stderr
    assert "nothing to do, no step ran" in again and "staged_observations" not in again
    assert "Tiempos" not in run(settings).stderr  # only when asked


def test_quarantine_rows_are_written_a_batch_at_a_time_with_their_messages(settings, monkeypatch):
    from observatory import build

    monkeypatch.setattr(build, "QUARANTINE_BATCH", 2)  # 50,000 by default
    bad = "Hondras,2015,femicide_count,1,MIMP\n" * 3 + "Perú,2016,femicide_count,n/d,MIMP\nPerú,2017,femicide_count,,MIMP\n"
    drop(settings, "mimp/2016.csv", GOOD + bad)
    run(settings)
    # Written in the order of file and line (as stored, without ORDER BY), batch after batch.
    rows = query(settings, "SELECT source_row, reason_code, message_es, message_en FROM quarantine")
    assert [(line, code) for line, code, *_ in rows] == [(4, "unknown_country"), (5, "unknown_country"),
                                                        (6, "unknown_country"), (7, "missing_value"), (8, "missing_value")]
    assert all("Hondras" in es and "Hondras" in en for _, code, es, en in rows if code == "unknown_country")
    assert "«n/d»" in rows[3][2] and "'n/d'" in rows[3][3] and "«»" in rows[4][2]
    assert receipts(settings) == {"mimp/2016.csv": ("partially_loaded", 7, 2, 5)}


def test_same_content_under_another_name_is_a_duplicate_that_adds_nothing(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    copy = drop(settings, "otro/copia.csv", GOOD)
    checked = json.loads(CliRunner().invoke(main, ["check", str(copy), "--json", "--raw-dir", str(settings.raw_dir)]).output)
    run(settings)
    assert receipts(settings)["otro/copia.csv"] == ("duplicate", 0, 0, 0)
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]
    # The run's receipt names the file that brought the content, as `observatory check` did.
    written = json.loads((settings.receipts_dir / "otro" / "copia.csv.json").read_text())
    assert written["problems"] == checked["problems"] and "mimp/2016.csv" in written["problems"][0]["message_es"]
    assert (written["problems_total"], written["problems_by_reason"]) == (1, {"duplicate_file": 1})
    assert "`duplicate_file`" in (settings.receipts_dir / "otro" / "copia.csv.md").read_text()


def test_two_identical_files_dropped_together_load_once(settings):
    drop(settings, "a/uno.csv", GOOD)
    drop(settings, "b/dos.csv", GOOD)
    run(settings)
    assert receipts(settings)["b/dos.csv"][0] == "duplicate"
    problems = json.loads((settings.receipts_dir / "b" / "dos.csv.json").read_text())["problems"]
    assert [p["reason_code"] for p in problems] == ["duplicate_file"] and "a/uno.csv" in problems[0]["message_en"]
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


def test_changed_content_at_the_same_path_replaces_what_it_contributed(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    drop(settings, "mimp/2016.csv", HEADER + "Perú,2016,femicide_count,125,MIMP\nPerú,2017,femicide_count,,MIMP\n")
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation ORDER BY year") == [(2016, 125.0)]
    assert query(settings, "SELECT source_row, reason_code FROM quarantine") == [(3, "missing_value")]
    assert receipts(settings)["mimp/2016.csv"] == ("partially_loaded", 2, 1, 1)


def test_between_files_the_later_file_wins_and_the_earlier_comes_back_if_it_is_withdrawn(settings):
    drop(settings, "mimp/primera.csv", GOOD)
    run(settings)
    drop(settings, "mimp/revision.csv", HEADER + "Perú,2016,femicide_count,130,MIMP\n")
    run(settings)
    assert query(settings, "SELECT value, source_file FROM fact_observation WHERE year = 2016") == [(130.0, "mimp/revision.csv")]
    drop(settings, "mimp/revision.csv", HEADER + "Perú,2017,femicide_count,140,MIMP\n")
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation ORDER BY year") == [(2015, 95.0), (2016, 124.0), (2017, 140.0)]


def test_figures_from_different_sources_stay_side_by_side(settings):
    drop(settings, "a/x.csv", HEADER + "Guatemala,2013,femicide_count,282,CEPALSTAT 2019\n")
    drop(settings, "b/y.csv", HEADER + "Guatemala,2013,femicide_count,246,CEPALSTAT 2023\n")
    run(settings)
    assert query(settings, "SELECT source, value FROM fact_observation ORDER BY 1") == [("CEPALSTAT 2019", 282.0), ("CEPALSTAT 2023", 246.0)]


def test_receipts_always_balance(settings):
    drop(settings, "obs/a.csv", GOOD)
    drop(settings, "obs/b.csv", HEADER + "X,2015,femicide_count,1,\nPerú,2015,femicide_count,1,\n")
    drop(settings, "obs/c.csv", "nothing useful here\n1\n")
    run(settings)
    for path, status, read, loaded, quarantined in query(settings, "SELECT file_path, status, rows_read, rows_loaded, rows_quarantined FROM file_receipt"):
        assert read == loaded + quarantined, path


def test_environment_variables_set_the_folders_and_flags_win(settings, monkeypatch, tmp_path):
    drop(settings, "mimp/2016.csv", GOOD)
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(tmp_path / "elsewhere"))
    result = CliRunner().invoke(main, ["run", "--curated-dir", str(settings.curated_dir)])
    assert result.exit_code == 0, result.output
    assert settings.published_db.exists() and not (tmp_path / "elsewhere").exists()


def test_a_pipeline_failure_exits_non_zero_with_one_line(tmp_path):
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(tmp_path / "missing"), "--curated-dir", str(tmp_path / "c")])
    assert result.exit_code != 0
    assert "observatory run failed" in result.output and "raw folder not found" in result.output
    assert len([line for line in result.output.splitlines() if "observatory run failed" in line]) == 1


def test_published_schema_matches_the_documented_one_with_comments(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    columns = query(settings, "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = 'observatory'")
    published = {}
    for table, column, comment in columns:
        published.setdefault(table, []).append(column)
        assert comment, f"{table}.{column} has no COMMENT"
    assert published == {table: list(spec["columns"]) for table, spec in public_schema().items()}
    readme = (PROJECT_ROOT / "README.md").read_text()
    for table, spec in public_schema().items():
        assert f"`{table}`" in readme, table
        for column in spec["columns"]:
            assert f"`{column}`" in readme, f"{table}.{column} is not documented in README.md"
    parquet = {p.stem for p in settings.parquet_dir.glob("*.parquet")}
    assert parquet == set(public_schema())
    assert duckdb.sql(f"SELECT count(*) FROM '{settings.parquet_dir / 'fact_observation.parquet'}'").fetchall() == [(2,)]
    assert query(settings, "SELECT count(*) FROM dim_country") == [(33,)]


def test_the_shipped_sample_data_runs_clean(tmp_path):
    """What `make run` does on a fresh clone: every sample file accounted for, one partly bad."""
    from observatory.settings import Settings

    settings = Settings.resolve(PROJECT_ROOT / "data" / "raw", tmp_path / "curated")
    run(settings)
    statuses = receipts(settings)
    assert len(statuses) >= 4 and len({path.split("/")[0] for path in statuses}) >= 3
    assert [s for s in statuses.values() if s[0] == "partially_loaded"]
    assert not [path for path, s in statuses.items() if s[0] == "rejected"]
    for path, (status, read, loaded, quarantined) in statuses.items():
        assert read == loaded + quarantined, path
    sources = query(settings, "SELECT count(*) FROM fact_observation WHERE source IS NULL OR source = ''")
    assert sources == [(0,)]
    # CEPAL's published rates fill the mart's rate column for their countries, and only those.
    rates = dict(query(settings, """SELECT country_iso3, femicide_rate_latest FROM mart_country_progress
        WHERE year = (SELECT max(year) FROM mart_country_progress) AND femicide_rate_latest IS NOT NULL"""))
    assert rates == {"HND": 6.0, "DOM": 2.9, "SLV": 1.6, "URY": 1.6, "TTO": 3.1, "BOL": 2.3}
    # The SDG 5.1.1 area 2 scores (UN Women) fill the score column of 25 countries, from 2022.
    scores = query(settings, """SELECT count(*), count(DISTINCT sdg511_vaw_score_year), min(sdg511_vaw_score_year)
        FROM mart_country_progress WHERE year = (SELECT max(year) FROM mart_country_progress) AND sdg511_vaw_score_latest IS NOT NULL""")
    assert scores == [(25, 1, 2022)]


def test_a_receipt_lists_its_first_revised_figures_and_counts_them_all(settings, monkeypatch):
    from observatory import receipts

    monkeypatch.setattr(receipts, "ROWS_SHOWN", 2)  # 1,000 by default
    drop(settings, "cepal/2019.csv", HEADER + "".join(f"Guatemala,{2010 + i},femicide_count,{200 + i},CEPALSTAT\n" for i in range(5)))
    run(settings)
    drop(settings, "cepal/2023.csv", HEADER + "".join(f"Guatemala,{2010 + i},femicide_count,{300 + i},CEPALSTAT\n" for i in range(5)))
    run(settings)
    receipt = json.loads((settings.receipts_dir / "cepal" / "2023.csv.json").read_text())
    assert [(c["line"], c["previous_value"], c["value"]) for c in receipt["changes"]] == [(2, 200.0, 300.0), (3, 201.0, 301.0)]
    assert receipt["changes_total"] == 5
    assert "The first 2 of 5 revised figures are listed" in (settings.receipts_dir / "cepal" / "2023.csv.md").read_text()
    assert query(settings, "SELECT count(*) FROM observation_history") == [(10,)]


def test_revisions_keep_every_vintage_and_the_receipt_lists_the_change(settings):
    drop(settings, "cepal/2019.csv", HEADER + "Guatemala,2013,femicide_count,282,CEPALSTAT\nGuatemala,2014,femicide_count,240,CEPALSTAT\n")
    run(settings)
    drop(settings, "cepal/2023.csv", HEADER + "Guatemala,2013,femicide_count,246,CEPALSTAT\nGuatemala,2014,femicide_count,240,CEPALSTAT\n")
    run(settings)
    assert query(settings, "SELECT value, source_file FROM fact_observation WHERE year = 2013") == [(246.0, "cepal/2023.csv")]
    assert query(settings, "SELECT year, value, source_file FROM observation_history ORDER BY year, received_at") == [
        (2013, 282.0, "cepal/2019.csv"), (2013, 246.0, "cepal/2023.csv"), (2014, 240.0, "cepal/2019.csv")]
    receipt = json.loads((settings.receipts_dir / "cepal" / "2023.csv.json").read_text())
    assert [(c["line"], c["previous_value"], c["value"], c["previous_file"]) for c in receipt["changes"]] == [(2, 282.0, 246.0, "cepal/2019.csv")]
    # a file replaced at the same path keeps its earlier vintage in the history
    drop(settings, "cepal/2023.csv", HEADER + "Guatemala,2013,femicide_count,247,CEPALSTAT\n")
    run(settings)
    assert [r[0] for r in query(settings, "SELECT value FROM observation_history WHERE year = 2013 ORDER BY received_at")] == [282.0, 246.0, 247.0]
    assert "| 2 | GTM 2013 femicide_count total total total (CEPALSTAT) | 246 | 247 | cepal/2023.csv |" in (settings.receipts_dir / "cepal" / "2023.csv.md").read_text()


def test_a_first_run_with_an_empty_raw_folder_publishes_empty_tables_and_the_next_file_loads(settings):
    """A new deployment runs before any file came: it publishes empty tables
    (it failed at every run, its build looking for harmonized tables no stage had made)."""
    run(settings)
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(0,)]
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    assert query(settings, "SELECT value FROM fact_observation") == [(95.0,)]


def test_a_file_gone_from_the_raw_folder_that_loaded_nothing_leaves_no_receipt(settings):
    """Moved into its observatory's folder as its rejection says, a loose file would otherwise
    stay "rejected" for good (in the receipts, the quarantine, `status`); a deleted copy too. A
    gone file that loaded rows stays published (no run withdraws a file by itself)."""
    loose = drop(settings, "suelto.csv", HEADER + "Perú,2014,femicide_count,90,MIMP\n")
    drop(settings, "mimp/2016.csv", GOOD)
    copy = drop(settings, "otro/copia.csv", GOOD)
    run(settings)
    assert receipts(settings)["suelto.csv"][0] == "rejected" and receipts(settings)["otro/copia.csv"][0] == "duplicate"
    assert (settings.receipts_dir / "suelto.csv.md").is_file()
    (settings.raw_dir / "mimp").joinpath("suelto.csv").write_bytes(loose.read_bytes())
    loose.unlink()
    copy.unlink()
    (settings.raw_dir / "mimp" / "2016.csv").unlink()  # loaded: stays published
    shown = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)]).output
    assert "the next run removes their receipts: 2" in shown, shown
    result = run(settings)
    assert "Receipts removed of files no longer in the raw folder that loaded nothing (rejected, or copies): 2." in result.output
    assert set(receipts(settings)) == {"mimp/suelto.csv", "mimp/2016.csv"}
    assert query(settings, "SELECT count(*) FROM quarantine WHERE source_file IN ('suelto.csv', 'otro/copia.csv')") == [(0,)]
    assert not (settings.receipts_dir / "suelto.csv.md").exists() and not (settings.receipts_dir / "otro").exists()
    assert "nuevos o modificados: 0" in run(settings).output  # and a run after it has nothing to do
