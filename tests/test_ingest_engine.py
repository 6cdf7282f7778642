"""The ingest engine: every file on its own and within its limits, and a run with nothing new
does nothing. Limits are settings, so the hostile files here are small versions."""
import bz2
import gzip
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from observatory import pipeline, read
from observatory.progress import Progress
from observatory.settings import PROJECT_ROOT, Settings
from observatory.sqltext import registered
from tests.conftest import HEADER, drop, query, run

GOOD = HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,124,MIMP\n"


def receipt(settings, path):
    return query(settings, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM file_receipt WHERE file_path = ?", [path])[0]


def rejection(settings, path):
    return query(settings, "SELECT reason_code, message_es, message_en FROM quarantine WHERE source_file = ? AND source_row IS NULL", [path])[0]


def bomb(inflated_mib: int) -> bytes:
    """A .bz2 of valid CSV rows that inflates to `inflated_mib` MiB: one compressed stream of
    1 MiB written again and again (bzip2 readers read concatenated streams)."""
    rows = ("PER,2015,femicide_count,1,bomba\n" * 40_000).encode()[: 1 << 20]
    first = bz2.compress(HEADER.encode() + rows)
    again = bz2.compress(rows)
    return first + again * (inflated_mib - 1)


def test_a_compression_bomb_is_refused_in_seconds_and_the_other_files_load(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_MAX_INFLATION", "50")
    drop(settings, "mimp/good.csv", GOOD)
    drop(settings, "otro/bomba.csv.bz2", bomb(40))
    run(settings)
    assert receipt(settings, "mimp/good.csv") == ("loaded", 2, 2, 0)
    assert receipt(settings, "otro/bomba.csv.bz2") == ("rejected", 0, 0, 0)
    code, message_es, message_en = rejection(settings, "otro/bomba.csv.bz2")
    assert code == "compression_bomb"
    assert "se expande" in message_es and "inflates" in message_en and "bomba" not in message_en
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


@pytest.mark.parametrize("name, content", [
    ("grande.csv", (HEADER + "PER,2015,femicide_count,1,x\n" * 50_000).encode()),
    ("grande.csv.gz", gzip.compress((HEADER + "".join(f"PER,{1990 + i % 30},femicide_count,{i},s{i}\n" for i in range(60_000))).encode())),
])
def test_a_file_over_the_byte_limit_is_refused(settings, monkeypatch, name, content):
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_MIB", "1")
    drop(settings, "mimp/good.csv", GOOD)
    drop(settings, f"otro/{name}", content)
    run(settings)
    assert receipt(settings, f"otro/{name}")[0] == "rejected"
    code, message_es, message_en = rejection(settings, f"otro/{name}")
    assert code == "file_too_large" and "1 MiB" in message_en and "1 MiB" in message_es
    assert receipt(settings, "mimp/good.csv") == ("loaded", 2, 2, 0)


def test_a_file_over_the_line_limit_is_refused(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_LINES", "10")
    drop(settings, "mimp/good.csv", GOOD)
    drop(settings, "otro/largo.csv", HEADER + "".join(f"PER,{1990 + i},femicide_count,{i},s\n" for i in range(20)))
    run(settings)
    assert rejection(settings, "otro/largo.csv")[0] == "file_too_large"
    assert receipt(settings, "mimp/good.csv") == ("loaded", 2, 2, 0)


def test_a_file_over_its_seconds_is_refused_and_the_run_goes_on(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_SECONDS", "0")
    drop(settings, "mimp/good.csv", GOOD)
    result = run(settings)
    assert rejection(settings, "mimp/good.csv")[0] == "file_timeout"
    assert "1 rejected" in result.output


def test_an_internal_error_on_one_file_rejects_only_that_file(settings, monkeypatch):
    real = read.stage_canonical

    def broken(records, header, stager, outcome):
        if stager.file_id == 2:
            raise KeyError("a bug of ours, with a cell value: Juana Pérez")
        return real(records, header, stager, outcome)

    monkeypatch.setattr(read, "stage_canonical", broken)
    drop(settings, "a/one.csv", GOOD)
    drop(settings, "b/two.csv", GOOD.replace("MIMP", "INEI"))
    drop(settings, "c/three.csv", GOOD.replace("MIMP", "CEM"))
    run(settings)
    assert [receipt(settings, path)[0] for path in ("a/one.csv", "b/two.csv", "c/three.csv")] == ["loaded", "rejected", "loaded"]
    code, message_es, message_en = rejection(settings, "b/two.csv")
    assert code == "internal_error" and "KeyError" in message_en and "Juana" not in message_es + message_en


def published_bytes(settings) -> dict[str, str]:
    files = [settings.published_db, *sorted(settings.parquet_dir.resolve().glob("*.parquet"))]
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_a_run_with_nothing_new_does_nothing(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    before = published_bytes(settings)
    version = settings.parquet_dir.resolve()
    script = (
        "import sys\nfrom observatory.cli import main\n"
        f"main(['run', '--raw-dir', {str(settings.raw_dir)!r}, '--curated-dir', {str(settings.curated_dir)!r}], standalone_mode=False)\n"
        "print('great_expectations imported:', 'great_expectations' in sys.modules)\n"
    )
    script += "print('dagster imported:', 'dagster' in sys.modules, 'pandas imported:', 'pandas' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "0 new or changed" in result.stdout and "great_expectations imported: False" in result.stdout
    # Told apart before the steps are imported: neither Dagster nor pandas is loaded.
    assert "dagster imported: False pandas imported: False" in result.stdout
    assert published_bytes(settings) == before and settings.parquet_dir.resolve() == version


def test_with_a_dagster_instance_a_run_with_nothing_new_goes_through_dagster(settings, tmp_path, monkeypatch):
    """Where DAGSTER_HOME keeps a run history, every run, even one with nothing to do, is
    recorded there; and something left to publish is never taken for nothing to do."""
    import dagster as dg

    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    run(settings)
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_run_records()) == 1
    monkeypatch.delenv("DAGSTER_HOME")
    settings.published_db.unlink()  # removed by hand: published again, not "nothing to do"
    assert "0 new or changed" in run(settings).output
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


def test_something_new_changes_what_it_touches_and_is_published(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    before = published_bytes(settings)
    drop(settings, "inei/2017.csv", HEADER + "Perú,2017,femicide_count,131,INEI\n")
    run(settings)
    assert published_bytes(settings) != before
    assert query(settings, "SELECT year FROM fact_observation ORDER BY year") == [(2015,), (2016,), (2017,)]
    assert query(settings, "SELECT femicide_count_latest FROM mart_country_progress WHERE country_iso3 = 'PER' AND year = 2017") == [(131.0,)]


UNITS = "country,year,indicator,value,subnational_code,source\n"


def curated(settings) -> dict[str, list[tuple]]:
    """The working database's observation tables (a vintage's receipt time aside)."""
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return {
            "fact": con.execute("SELECT * FROM fact_observation ORDER BY ALL").fetchall(),
            "history": con.execute("SELECT * EXCLUDE (received_at) FROM observation_history ORDER BY ALL").fetchall(),
        }


def test_tables_computed_whole_equal_tables_kept_group_by_group(settings, tmp_path):
    """A first run (or a run reading every file again) computes fact_observation and
    observation_history whole; later runs only the groups they touch: the same tables."""
    first = UNITS + "PER,2019,femicide_count,3,PE.CS,MIMP\nPER,2019,femicide_count,9,PE.AM,MIMP\nARG,2019,femicide_count,60,,OVD\n"
    second = (UNITS + "PER,2019,femicide_count,4,PE.CS,MIMP\nPER,2020,femicide_count,2,PE.AM,MIMP\n"
              "ARG,2019,femicide_count,60,,OVD\nARG,2019,femicide_count,61,,Corte\n")
    drop(settings, "mimp/a.csv", first)
    run(settings)
    drop(settings, "mimp/b.csv", second)
    run(settings)  # group by group
    by_group = curated(settings)
    assert ("PER", None, 2019, "femicide_count", "total", "total", "total", 13.0) in [row[:8] for row in by_group["fact"]]
    assert len(by_group["history"]) == 6  # 5 keys, one revised (PE.CS 3 then 4); ARG's 60 given again is no vintage
    whole = Settings.resolve(settings.raw_dir, tmp_path / "whole")
    run(whole)  # both files in one run: computed whole
    assert curated(whole) == by_group
    run(settings, "--revalidate")  # every file read again: computed whole, over the history kept
    assert curated(settings) == by_group
    # A file received later wins a key whatever its name, also once every file is read again
    # (the code changed): reading again keeps when each file was received.
    drop(settings, "mimp/0.csv", UNITS + "PER,2019,femicide_count,5,PE.CS,MIMP\n")
    run(settings)
    latest = curated(settings)
    assert len(latest["history"]) == 7
    run(settings, "--revalidate")
    assert curated(settings) == latest
    assert query(settings, "SELECT value FROM fact_observation WHERE subnational_code = 'PE.CS'") == [(5.0,)]


def test_a_figure_that_wins_again_after_the_rules_change_is_the_latest_vintage(settings, monkeypatch):
    """b.csv revised a.csv's 10 to 12; a new limit rejects b.csv, so 10 is shown again: the
    history says 10, 12, 10 (not 10, 10, 12), and reading everything again adds nothing."""
    drop(settings, "mimp/a.csv", UNITS + "PER,2019,femicide_count,10,PE.CS,MIMP\n")
    run(settings)
    drop(settings, "mimp/b.csv", UNITS + "PER,2019,femicide_count,12,PE.CS,MIMP\nPER,2020,femicide_count,1,PE.AM,MIMP\n"
         "PER,2021,femicide_count,1,PE.AM,MIMP\n")
    run(settings)
    monkeypatch.setenv("OBSERVATORY_MAX_FILE_LINES", "2")  # the rules change: b.csv is now refused
    for _ in range(3):  # the change, then every file read again twice
        run(settings, "--revalidate") if _ else run(settings)
        with duckdb.connect(str(settings.working_db), read_only=True) as con:  # published vintages are suppressed
            assert con.execute("SELECT value FROM fact_observation WHERE subnational_code = 'PE.CS'").fetchall() == [(10.0,)]
            assert con.execute("SELECT value FROM observation_history WHERE subnational_code = 'PE.CS' "
                               "ORDER BY received_at").fetchall() == [(10.0,), (12.0,), (10.0,)]


def test_code_that_only_shapes_the_publication_republishes_without_reading_again(settings, tmp_path, monkeypatch):
    """Editing the report's code publishes again; editing the reader reads every file again."""
    import shutil

    import duckdb

    from observatory import build, state

    package = tmp_path / "observatory"
    shutil.copytree(state.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(state, "PACKAGE_DIR", package)
    con = duckdb.connect()
    build.ensure_working_tables(con)

    def fingerprints() -> tuple[str, str]:
        return state.rules(settings), state.published(con, settings)

    rules, published = fingerprints()
    with (package / "report.py").open("a") as module:
        module.write("# a change to the report\n")
    assert fingerprints()[0] == rules and fingerprints()[1] != published
    rules, published = fingerprints()
    (package / "report_templates" / "labels.yaml").write_text("changed: true\n")
    assert fingerprints()[0] == rules and fingerprints()[1] != published
    with (package / "read.py").open("a") as module:
        module.write("# a change to the reader\n")
    assert fingerprints()[0] != rules
    rules = fingerprints()[0]
    with (package / "layouts" / "binding.py").open("a") as module:
        module.write("# a change to how a layout reads a row\n")
    assert fingerprints()[0] != rules


def test_published_files_removed_by_hand_are_published_again(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    settings.published_db.unlink()
    run(settings)
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


def test_an_invariant_whose_table_is_missing_fails(settings):
    with pytest.raises(pipeline.MissingTable):
        pipeline.duplicated_keys(settings)
    with pytest.raises(pipeline.MissingTable):
        pipeline.missing_country_years(settings)


def test_the_observation_key_check_finds_a_key_given_twice_national_or_not(settings):
    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    assert pipeline.duplicated_keys(settings) == 0
    with pipeline.working_db(settings) as con:
        con.execute("INSERT INTO fact_observation SELECT * FROM fact_observation WHERE year = 2015")  # national: NULL unit
        con.execute("INSERT INTO fact_observation SELECT * REPLACE (year + 10 AS year, 'PE.LI' AS subnational_code) "
                    "FROM fact_observation WHERE year = 2016")
        con.execute("INSERT INTO fact_observation SELECT * REPLACE (year + 10 AS year, 'PE.LI' AS subnational_code) "
                    "FROM fact_observation WHERE year = 2016 AND subnational_code IS NULL")
    assert pipeline.duplicated_keys(settings) == 2


def test_marts_rebuilt_half_way_are_not_taken_for_current(settings, monkeypatch):
    """The marts and their fingerprint are one transaction: a rebuild that fails leaves the
    marts as they were."""
    from observatory import build, state

    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    with pipeline.working_db(settings) as con:
        before = con.execute("SELECT count(*) FROM mart_country_progress").fetchall()
        state.bump_data_version(con)  # a build: the marts are due

    def half_way(con, *args):
        con.execute("CREATE OR REPLACE TABLE mart_country_progress AS SELECT * FROM mart_country_progress LIMIT 0")
        raise RuntimeError("a mart's SQL failed")

    monkeypatch.setattr(build, "build_marts", half_way)
    with pytest.raises(RuntimeError):
        pipeline.build_marts(settings)
    with pipeline.working_db(settings) as con:
        assert con.execute("SELECT count(*) FROM mart_country_progress").fetchall() == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_stays_quiet_elsewhere():
    lines: list[str] = []
    terminal = _Terminal()
    progress = Progress(2, report=lines.append, stream=terminal, every_seconds=0)
    progress.last_draw -= 1
    progress.advance(1000)
    progress.finish()
    assert "1/2 archivos leídos / files read, 1,000 filas / rows" in terminal.getvalue()
    assert lines and "rows/s" in lines[-1]
    quiet = io.StringIO()
    Progress(1, stream=quiet).advance(5)
    assert quiet.getvalue() == ""


def test_a_file_validation_fails_on_is_rejected_and_the_others_load(settings, monkeypatch):
    """GX fails on any frame holding the year 2001, which only b/two.csv gives: first on the
    distinct combinations of all files, then on the batch of every row, then on that file."""
    from observatory import validate

    real = validate.failing_rows
    frames: list[bool] = []

    def fragile(suite, frame, parameters):
        frames.append("file_id" in frame)  # only frames of rows carry their file
        if suite.name == "observation" and (frame["year"] == 2001).any():
            raise validate.ValidationFailed("GX could not evaluate an expectation")
        return real(suite, frame, parameters)

    monkeypatch.setattr(validate, "failing_rows", fragile)
    drop(settings, "a/one.csv", GOOD)
    drop(settings, "b/two.csv", GOOD.replace("MIMP", "INEI").replace("2016", "2001"))
    drop(settings, "c/three.csv", GOOD.replace("MIMP", "CEM") + "Atlantis,2015,femicide_count,1,CEM\n")
    run(settings)
    assert receipt(settings, "a/one.csv") == ("loaded", 2, 2, 0)
    assert receipt(settings, "b/two.csv") == ("rejected", 2, 0, 2)
    assert receipt(settings, "c/three.csv") == ("partially_loaded", 3, 2, 1)
    assert rejection(settings, "b/two.csv")[0] == "internal_error"
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE source_file = 'b/two.csv'") == [(0,)]
    assert frames[0] is False and True in frames  # the distinct combinations first, then rows


MESSY = (
    "country,year,indicator,value,unit,subnational_code,sex,source\n"
    "PER,2015,femicide_count,95,count,,,MIMP\n"
    "PER,2016,femicide_rate,140,per_100k_women,,,MIMP\n"  # above the indicator's range
    "PER,2017,femicide_count,-3,count,,,MIMP\n"  # below it
    "PER,2018,femicide_count,5,per_100k_women,,,MIMP\n"  # not the indicator's unit
    "PER,2019,femicide_count,7,count,PE.XX,,MIMP\n"  # no such department
    "Atlantis,2015,femicide_count,1,count,,,MIMP\n"
    ",2015,femicide_count,1,count,,,MIMP\n"
    "PER,20x5,femicide_count,1,count,,,MIMP\n"
    "PER,1850,femicide_count,1,count,,,MIMP\n"
    "PER,2015,femicidios,1,count,,,MIMP\n"
    "PER,2014,femicide_count,n/d,count,,,MIMP\n"
    "PER,2013,femicide_count,,count,,,MIMP\n"
    "PER,2012,femicide_count,95,count,,,MIMP\n"
    "PER,2012,femicide_count,95,count,,,MIMP\n"  # given twice
    "PER,2011,femicide_count,8,count,,extraterrestre,MIMP\n"
    "Atlantis,2011,femicide_rate,140,per_100k_women,,,MIMP\n"  # fails several rules: the first counts
    "PER,2016,femicide_rate,1.5,per_100k_women,,,MIMP\n"
)
MESSY_POLICY = (
    "country,instrument_type,title,identifier,adopted_on,in_force_from,in_force_to,status,has_budget,"
    "has_monitoring,prevention,attention,sanction,reparation,source\n"
    "PER,comprehensive_law,Ley 30364,Ley 30364,2015-11-23,,,in_force,,,,,,,El Peruano\n"
    "PER,comprehensive_law,Ley A,1,2015-02-30,,,in_force,,,,,,,El Peruano\n"  # no such day
    "PER,law_of_nowhere,Ley B,2,2015,,,in_force,,,,,,,El Peruano\n"
    "Atlantis,comprehensive_law,Ley C,3,2015,,,in_force,,,,,,,El Peruano\n"
    "PER,comprehensive_law,,4,2015,,,in_force,,,,,,,El Peruano\n"
    "PER,comprehensive_law,Ley D,5,2015,2016,2014,in_force,,,,,,,El Peruano\n"  # ends before it starts
    "PER,comprehensive_law,Ley E,6,2015,,,vigente a medias,,,,,,,\n"
)


def test_checking_distinct_combinations_quarantines_what_checking_every_row_does(tmp_path, monkeypatch):
    """GX checks each distinct combination of the cells a suite's expectations read once; with
    every expectation type taken out of validate.ROW_WISE it checks every row. Both give the same
    quarantine, messages and loaded rows, also when the combinations fill several frames."""
    from observatory import validate

    raw = tmp_path / "raw"
    counts = HEADER + "PER,2014,femicide_count,12.5,MIMP\nPER,2013,femicide_attempt_count,1.234,MIMP\n"  # not whole
    for name, content in {"mimp/messy.csv": MESSY, "mimp/second.csv": MESSY.replace("MIMP", "INEI"),
                          "registro/messy.csv": MESSY_POLICY, "mimp/counts.csv": counts}.items():
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text(content, encoding="utf-8")
    monkeypatch.setenv("OBSERVATORY_VALIDATION_BATCH_ROWS", "3")
    real = validate.failing_rows
    frames: list[tuple[str, bool]] = []
    monkeypatch.setattr(validate, "failing_rows",
                        lambda suite, frame, parameters: frames.append((suite.name, "file_id" in frame))
                        or real(suite, frame, parameters))
    published = {}
    for way in ("distinct", "every_row"):
        if way == "every_row":
            monkeypatch.setattr(validate, "ROW_WISE", frozenset())
        frames.clear()
        settings = Settings.resolve(raw, tmp_path / way)
        run(settings)
        assert {name for name, rows in frames if rows == (way == "every_row")} == {"observation", "policy_instrument"}
        assert not [name for name, rows in frames if rows != (way == "every_row")]
        published[way] = {table: query(settings, f"SELECT * FROM {table} ORDER BY ALL")
                          for table in ("quarantine", "fact_observation", "policy_instrument")}
        published[way]["receipts"] = query(settings, "SELECT file_path, status, rows_read, rows_loaded, "
                                                     "rows_quarantined FROM file_receipt ORDER BY ALL")
    assert published["distinct"] == published["every_row"]
    reasons = {row[2] for row in published["distinct"]["quarantine"]}
    assert {"unknown_country", "missing_country", "invalid_year", "value_out_of_range", "unit_mismatch",
            "unknown_subnational", "duplicate_row", "value_not_whole"} <= reasons, reasons
    assert len(published["distinct"]["quarantine"]) >= 2 * 14 + 4


def test_cells_judged_in_an_earlier_run_keep_their_verdict_and_new_ones_go_to_great_expectations(
        settings, tmp_path, monkeypatch, caplog):
    """A new file whose cells GX judged before is validated without GX, and quarantined as a
    fresh store (GX judging every cell) quarantines it; one new cell sends only that cell to GX;
    `--revalidate` and other parameters judge everything again. The store keeps no cell."""
    from observatory import validate

    real = validate.failing_rows
    frames: list[int] = []
    monkeypatch.setattr(validate, "failing_rows",
                        lambda suite, frame, parameters: frames.append(len(frame)) or real(suite, frame, parameters))

    def quarantine(of: Settings, path: str) -> list[tuple]:
        return query(of, "SELECT source_row, reason_code, message_es, message_en FROM quarantine "
                         "WHERE source_file = ? ORDER BY ALL", [path])

    drop(settings, "mimp/messy.csv", MESSY)
    run(settings)
    assert frames
    frames.clear()
    again = MESSY.replace("MIMP", "INEI")  # other rows (another source), the same cells to judge
    drop(settings, "inei/messy.csv", again)
    run(settings)
    assert frames == []  # GX was not asked
    fresh = Settings.resolve(tmp_path / "raw_fresh", tmp_path / "curated_fresh")
    drop(fresh, "inei/messy.csv", again)
    run(fresh)
    assert frames  # judged by GX there
    assert quarantine(settings, "inei/messy.csv") == quarantine(fresh, "inei/messy.csv")
    assert len(quarantine(settings, "inei/messy.csv")) == 14

    frames.clear()
    drop(settings, "cem/one.csv", HEADER + "PER,2015,femicide_count,96,CEM\nPER,2015,femicide_count,-96,CEM\n")
    run(settings)
    assert frames == [2]  # the two new values only, one frame row each
    assert [row[1] for row in quarantine(settings, "cem/one.csv")] == ["value_out_of_range"]
    frames.clear()
    drop(settings, "cem/two.csv", HEADER + "PER,2015,femicide_count,97,CEM\n")  # a new value, passing
    run(settings)
    assert frames == [1] and "validating row by row" not in caplog.text

    frames.clear()
    run(settings, "--revalidate")  # every file read again, and judged again
    assert frames and max(frames) > 2
    assert quarantine(settings, "inei/messy.csv") == quarantine(fresh, "inei/messy.csv")

    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        columns = con.execute("SELECT DISTINCT column_name FROM duckdb_columns() "
                              "WHERE starts_with(table_name, 'verdict_observation_')").fetchall()
        judged = con.execute("SELECT sum(estimated_size) FROM duckdb_tables() "
                             "WHERE starts_with(table_name, 'verdict_observation_')").fetchall()[0][0]
    assert sorted(columns) == [("combination",), ("failing",)]  # a fingerprint of the cells, never the cells
    assert judged > 0

    frames.clear()
    parameters = validate.expectation_parameters
    monkeypatch.setattr(validate, "expectation_parameters", lambda con, s: {
        **parameters(con, s), "country_codes": [code for code in parameters(con, s)["country_codes"] if code != "PER"]})
    drop(settings, "dp/messy.csv", MESSY.replace("MIMP", "DP"))
    run(settings)
    assert frames  # other parameters: judged again, and the verdicts follow them
    assert len([row for row in quarantine(settings, "dp/messy.csv") if row[1] == "unknown_country"]) > 2
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        stores = {row[0].rsplit("_", 2)[1] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'verdict_observation_')").fetchall()}
    assert len(stores) == 1  # the stores of other parameters are gone
    assert "validating row by row" not in caplog.text  # every run went by combinations


def test_a_worker_never_asked_anything_is_stopped_at_once():
    """When every verdict was remembered, the worker started early is not left importing GX."""
    from observatory import validate_worker

    worker = validate_worker.Worker()
    worker.close()
    assert worker._process.poll() is not None


def test_a_suite_with_an_expectation_that_is_not_row_wise_is_checked_row_by_row(settings, tmp_path):
    """Whether a value is unique depends on the other rows: such a suite never goes by distinct
    combinations (there, every value would look unique)."""
    import dataclasses
    import json
    import shutil

    from observatory import validate

    expectations = tmp_path / "expectations"
    shutil.copytree(settings.expectations_dir, expectations)
    suite = json.loads((expectations / "observation.json").read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "value"},
                                  "meta": {"reason_code": "duplicate_row", "raw_column": "value"}})
    (expectations / "observation.json").write_text(json.dumps(suite))
    custom = dataclasses.replace(settings, expectations_dir=expectations)
    assert validate.row_wise_components(validate.load_suite(expectations, "observation")) is None
    assert validate.row_wise_components(validate.load_suite(settings.expectations_dir, "observation"))
    reads_row_id = {"name": "ids", "expectations": [  # row_id numbers the frame of combinations
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "row_id"}, "meta": {}}]}
    assert validate.row_wise_components(validate.Suite("ids", reads_row_id)) is None
    drop(custom, "mimp/a.csv", HEADER + "PER,2015,femicide_count,7,MIMP\nPER,2016,femicide_count,7,MIMP\n"
         "PER,2017,femicide_count,8,MIMP\n")
    pipeline.stage(custom)
    observations = pipeline.validate(custom)[0]
    assert observations.rows_checked == 3 and observations.rows_quarantined == 2
    assert [e.failed_rows for e in observations.expectations][-1] == 2


def test_great_expectations_runs_in_its_worker_not_in_the_run(settings):
    """The run's own process never imports GX (its import overlaps the run in the worker), yet
    GX's verdicts reach the quarantine."""
    drop(settings, "mimp/2016.csv", GOOD + "Atlantis,2016,femicide_count,3,MIMP\n")
    script = (
        "import sys\nfrom observatory.cli import main\n"
        f"main(['run', '--raw-dir', {str(settings.raw_dir)!r}, '--curated-dir', {str(settings.curated_dir)!r}], standalone_mode=False)\n"
        "print('great_expectations imported:', 'great_expectations' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "great_expectations imported: False" in result.stdout
    assert receipt(settings, "mimp/2016.csv") == ("partially_loaded", 3, 2, 1)
    assert query(settings, "SELECT reason_code FROM quarantine WHERE source_file = 'mimp/2016.csv'") == [("unknown_country",)]


def _workers() -> set[int]:
    """Process ids of the Great Expectations workers started from this checkout (their working
    folder): another checkout's tests running at the same time start their own."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and b"observatory.validate_worker" in (entry / "cmdline").read_bytes()
                    and os.readlink(entry / "cwd") == str(PROJECT_ROOT)):
                found.add(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")
def test_the_installed_command_ends_quickly_and_stops_its_worker(settings):
    """`observatory` as installed (cli.entry) skips Python's teardown, but what a normal exit
    does that matters still happens: the run is complete, its output whole, its exit code kept,
    its validation worker not left behind, and nothing is printed after it."""
    drop(settings, "mimp/2016.csv", GOOD + "Atlantis,2016,femicide_count,3,MIMP\n")
    before = _workers()

    def observatory(*arguments: str) -> subprocess.CompletedProcess:
        script = f"import sys\nfrom observatory.cli import entry\nsys.argv = ['observatory', *{list(arguments)!r}]\nentry()\n"
        return subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)

    result = observatory("run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir))
    assert result.returncode == 0, result.stderr
    assert "1 new or changed" in result.stdout and result.stdout.rstrip().endswith("standing for all its rows)")
    assert receipt(settings, "mimp/2016.csv") == ("partially_loaded", 3, 2, 1)
    assert "leaked" not in result.stderr  # DuckDB's bindings report objects a teardown left behind
    assert not settings.working_db.with_name("working.duckdb.wal").exists()
    assert _workers() - before == set()
    failed = observatory("run", "--raw-dir", str(settings.raw_dir / "missing"), "--curated-dir", str(settings.curated_dir))
    assert failed.returncode == 1 and "observatory run failed" in failed.stderr


def _suite(column: str = "x", expectation: str = "expect_column_values_to_not_be_null", name: str = "tiny"):
    """A one-expectation suite, as load_suite reads one from expectations/."""
    from observatory.validate import Suite

    return Suite(name, {"name": name, "expectations": [
        {"type": expectation, "kwargs": {"column": column}, "meta": {"reason_code": "missing_value"}}]})


def _frame(**columns):
    """A batch as validate hands it to GX: indexed by row_id, rows 1 and 2."""
    import pandas as pd

    frame = pd.DataFrame({"row_id": [1, 2], **columns}).set_index("row_id", drop=False)
    frame.index.name = None
    return frame


class _HangsWhenUnpickled:
    """Unpickled in the worker, it keeps the worker busy for a minute, as a hung call would."""

    def __reduce__(self):
        import time

        return (time.sleep, (60,))


class _DiesWhenUnpickled:
    """Unpickled in the worker, it ends the worker's process, as running out of memory would."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


@pytest.mark.parametrize("poison, failure", [(_HangsWhenUnpickled(), "TimeoutError"), (_DiesWhenUnpickled(), "stopped")],
                         ids=["hangs", "dies"])
def test_a_worker_that_hangs_or_dies_fails_its_batch_is_not_left_behind_and_is_replaced(poison, failure):
    """A hung worker is killed after the seconds a file may take (here 2); a dead one is never
    reused; either way the next batch gets a new worker."""
    from observatory import validate_worker
    from observatory.validate import ValidationFailed, failing_rows

    suite, frame = _suite(), _frame(x=[None, 1.0])
    try:
        assert failing_rows(suite, frame, {}) == {0: [1]}  # started and ready
        first = validate_worker.shared()
        validate_worker.configure(2)
        with pytest.raises(ValidationFailed, match=failure):
            failing_rows(suite, frame, {"poison": poison})
        # Not left behind (a hung one sleeps a minute: unless killed, this wait times out) and not reused.
        assert first._process.wait(timeout=10) is not None and not first.alive()
        assert failing_rows(suite, frame, {}) == {0: [1]}
        assert validate_worker.shared() is not first
    finally:
        validate_worker.configure(900)
        validate_worker.discard()


class _InterruptedWhenUnpickled:
    """Unpickled in the worker, it stops the worker as Ctrl+C does: a KeyboardInterrupt, which
    Python ends the process by SIGINT for."""

    def __reduce__(self):
        import signal

        return (signal.default_int_handler, (signal.SIGINT, None))


def test_a_worker_dead_of_ctrl_c_stops_the_run_instead_of_being_replaced():
    """Ctrl+C at the terminal reaches the worker too (one process group): its death is the
    person's interrupt, raised in the run (whose own KeyboardInterrupt DuckDB can have turned
    into another error), not a crash for the batch to be validated file by file around. Reported
    once: the next batch gets a new worker."""
    from observatory import validate_worker
    from observatory.validate import failing_rows

    suite, frame = _suite(), _frame(x=[None, 1.0])
    try:
        assert failing_rows(suite, frame, {}) == {0: [1]}
        first = validate_worker.shared()
        with pytest.raises(KeyboardInterrupt):
            failing_rows(suite, frame, {"poison": _InterruptedWhenUnpickled()})
        assert first._process.returncode == -2 and not first.alive()
        assert failing_rows(suite, frame, {}) == {0: [1]}
        assert validate_worker.shared() is not first
    finally:
        validate_worker.discard()


def test_the_worker_is_started_early_only_when_the_raw_folder_changed(settings):
    from observatory import validate_worker

    drop(settings, "mimp/2016.csv", GOOD)
    run(settings)
    validate_worker.discard()  # the tests keep one between runs
    try:
        validate_worker.prewarm_if_changed(settings.raw_dir, settings.discovery_marker)
        assert validate_worker._shared is None  # nothing new: no worker, no GX import
        drop(settings, "inei/2017.csv", HEADER + "Perú,2017,femicide_count,131,INEI\n")
        validate_worker.prewarm_if_changed(settings.raw_dir, settings.discovery_marker)
        assert validate_worker._shared is not None and validate_worker._shared.alive()
    finally:
        validate_worker.discard()


def test_the_steps_of_a_run_share_the_working_database_after_it_spilled_to_disk(settings):
    """The resource holds the working database open for the run; a later step opening it again
    must not fail because an earlier one spilled (DuckDB refuses to set its spill folder twice)."""
    with pipeline.working_db(settings) as held:
        held.execute("SET memory_limit = '200MB'")
        held.execute("CREATE TEMP TABLE big AS SELECT i, md5(i::VARCHAR) AS m FROM range(5000000) AS r(i)")
        held.execute("CREATE TEMP TABLE spilled AS SELECT * FROM big ORDER BY m")
        assert any(settings.temp_dir.iterdir())  # it did spill
        with pipeline.working_db(settings) as con:
            assert con.execute("SELECT count(*) FROM file_receipt").fetchall() == [(0,)]


def test_a_module_gx_imports_but_our_suites_never_use_is_imported_only_when_used():
    """The worker defers scipy.stats and altair (a second of GX's start-up); an expectation
    that does use one still gets the real module."""
    script = (
        "import sys\nfrom observatory.validate_worker import DEFERRED_MODULES, defer\n"
        "defer(DEFERRED_MODULES)\nfrom scipy import stats\n"
        "print(type(sys.modules['scipy.stats']).__name__, 'scipy.stats._stats_py' in sys.modules)\n"
        "import importlib.util\nassert importlib.util.find_spec('scipy.stats').name == 'scipy.stats'\n"
        "print(round(float(stats.entropy([0.5, 0.5], [0.9, 0.1])), 3))\n"
        "print(type(sys.modules['scipy.stats']).__name__, sys.modules['scipy.stats'].entropy is stats.entropy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["_Deferred False", "0.511", "module True"]


def test_the_worker_starts_great_expectations_without_sqlalchemy_and_validates():
    """SQLAlchemy is installed (Dagster needs it) but hidden in the worker: GX starts as the
    worker starts it, without SQLAlchemy, and the worker's own validation of a batch
    (`_failing`) finds the failing rows."""
    script = (
        "import json, sys\nimport pandas as pd\n"
        "from observatory import validate_worker\n"
        "gx, context, batch_definition = validate_worker._start()\n"
        "from great_expectations.compatibility import sqlalchemy\n"
        "print(sys.modules['sqlalchemy'], type(sqlalchemy.sqlalchemy).__name__)\n"
        "suite = context.suites.add(gx.ExpectationSuite(name='s', expectations=[\n"
        "    gx.expectations.ExpectColumnValuesToNotBeNull(column='x'),\n"
        "    gx.expectations.ExpectColumnValuesToBeInSet(column='y', value_set=['a'])]))\n"
        "frame = pd.DataFrame({'x': [1.0, None, 2.0], 'y': ['a', 'a', 'b']}, index=[7, 8, 9])\n"
        "print(json.dumps(validate_worker._failing(batch_definition, suite, frame, {})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["None NotImported", '{"0": [8], "1": [9]}']


def test_a_worker_kept_between_runs_validates_with_the_suite_as_it_is_now():
    from observatory import validate_worker
    from observatory.validate import failing_rows

    frame = _frame(x=[None, 1.0], y=[1.0, None])
    try:
        assert failing_rows(_suite("x"), frame, {}) == {0: [1]}
        assert failing_rows(_suite("y"), frame, {}) == {0: [2]}  # same name, edited: not the cached one
    finally:
        validate_worker.discard()


def test_a_suite_that_is_not_valid_fails_the_run_instead_of_rejecting_every_file():
    """A broken suite is the pipeline's fault, not a file's: it is raised (the run fails with
    its reason) rather than turned into internal_error rejections of every file."""
    from observatory import validate_worker
    from observatory.validate import _failing_by_file

    broken = _suite(expectation="expect_column_values_to_be_a_nonsense", name="broken")
    frame = _frame(file_id=[1, 2], x=[None, 1.0])
    rejected: set[int] = set()
    try:
        with pytest.raises(validate_worker.ValidatorBroken, match="suite broken is not valid"):
            _failing_by_file(None, "stage_harmonized", broken, frame, {}, rejected)
        assert rejected == set()
    finally:
        validate_worker.discard()


def test_a_registered_batch_is_gone_after_its_statement_even_when_the_statement_fails():
    """Arrow tables and frames registered for a statement (sqltext.registered) never outlive it:
    a later statement cannot read one file's rows by the name another file's rows had."""
    import pyarrow as pa

    con = duckdb.connect()
    with pytest.raises(duckdb.BinderException):
        with registered(con, "_batch", pa.table({"x": [1]})):
            assert con.execute("SELECT x FROM _batch").fetchall() == [(1,)]
            con.execute("SELECT no_such_column FROM _batch")
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM _batch")
