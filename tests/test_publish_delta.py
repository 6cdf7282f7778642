"""Publishing what changed: after each run of a sequence (a full run, a new file for one
country, a revised file, a removed file, a revision that un-suppresses a cell), the published
database and Parquet files, made by copying the previous ones and applying the delta, equal
what a publication from scratch of the same working database gives: table contents, comments
and suppression flags."""
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from observatory import pipeline, publish as publish_step, small_cells
from observatory.settings import Settings
from tests.conftest import drop, query, run

HEADER = "country,year,indicator,value,departamento,source\n"
OBSERVATORY = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "observatory")

PER_2019 = (HEADER + "PER,2019,femicide_count,93,,MIMP\nPER,2019,femicide_count,3,PE.CS,MIMP\n"
            "PER,2019,femicide_count,40,PE.PU,MIMP\nPER,2019,femicide_count,50,PE.AR,MIMP\n"
            "PER,2020,femicide_count,2,,MIMP\nPER,2020,femicide_count,2,PE.AM,MIMP\n")
ARG = (HEADER + "ARG,2019,femicide_count,60,,Corte Suprema\nARG,2019,femicide_count,20,AR.BA,Corte Suprema\n"
       "ARG,2019,femicide_count,40,AR.CB,Corte Suprema\nARG,2019,helpline_calls_count,3,AR.CB,Corte Suprema\n")
BRB = HEADER + "BRB,2014,femicide_count,2,,Royal Barbados Police Force\n"


def snapshot(database: Path, parquet: Path) -> dict:
    """Everything a researcher can read: every table's rows (in order of their values), the
    comments, the storage version, and the Parquet files' rows."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1").fetchall()]
        result = {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables}
        result["comments"] = con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT table_name || '.' || column_name || ':' || column_index, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY ALL").fetchall()
        result["storage"] = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                                        "WHERE database_name = current_database()").fetchall()
    files = sorted(path.name for path in parquet.iterdir())
    result["parquet"] = {name: duckdb.sql(f"SELECT * FROM '{parquet / name}' ORDER BY ALL").fetchall() for name in files}
    return result


def from_scratch(settings: Settings, folder: Path) -> dict:
    """A publication of a copy of the same working database into an empty curated folder."""
    fresh = Settings.resolve(settings.raw_dir, folder)
    fresh.work_dir.mkdir(parents=True)
    shutil.copyfile(settings.working_db, fresh.working_db)
    with pipeline.working_db(fresh) as con:
        publish_step.publish(con, fresh)
    return snapshot(fresh.published_db, fresh.parquet_dir)


def published(settings: Settings) -> dict:
    return snapshot(settings.published_db, settings.parquet_dir)


def inode(settings: Settings, table: str) -> int:
    return (settings.parquet_dir / f"{table}.parquet").stat().st_ino


def assert_same_as_from_scratch(settings: Settings, tmp_path: Path, step: str) -> dict:
    incremental = published(settings)
    scratch = from_scratch(settings, tmp_path / f"scratch_{step}")
    for key in scratch:
        assert incremental[key] == scratch[key], f"{step}: {key} differs"
    assert incremental.keys() == scratch.keys()
    return incremental


def test_incremental_publications_equal_publications_from_scratch(settings, tmp_path):
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "oig/brb.csv", BRB)
    run(settings)
    first = assert_same_as_from_scratch(settings, tmp_path, "full")
    dim_country = inode(settings, "dim_country")

    # A new file for one country (Argentina, not published before): its small cell too.
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    after_new = assert_same_as_from_scratch(settings, tmp_path, "new_file")
    assert inode(settings, "dim_country") == dim_country  # unchanged tables are shared, not rewritten
    assert after_new["fact_observation"] != first["fact_observation"]
    arg = dict(query(settings, "SELECT subnational_code, value FROM fact_observation "
                               "WHERE country_iso3 = 'ARG' AND indicator_code = 'femicide_count'"))
    assert arg == {None: 60, "AR.BA": 20, "AR.CB": 40}

    # A file touching only Mexico, with a small cell: suppressed, though no other file names Mexico.
    drop(settings, "sesnsp/mex.csv", HEADER + "MEX,2019,femicide_count,30,,SESNSP\nMEX,2019,femicide_count,4,MX.AG,SESNSP\n"
                                              "MEX,2019,femicide_count,26,MX.BN,SESNSP\n")
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "mexico")
    mex = query(settings, "SELECT subnational_code, value, flags FROM fact_observation WHERE country_iso3 = 'MEX' ORDER BY 1")
    assert mex == [("MX.AG", None, "suppressed"), ("MX.BN", None, "suppressed"), (None, 30.0, None)]
    assert (4.0,) not in query(settings, "SELECT value FROM observation_history WHERE country_iso3 = 'MEX'")

    # A revised file: Peru's 2019 figures change (a new vintage; superseded ones withheld).
    drop(settings, "mimp/per.csv", PER_2019.replace(",93,,", ",100,,").replace(",3,PE.CS", ",10,PE.CS"))
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "revised")

    # A file revised down to one row: Argentina's femicide figures leave the published files.
    drop(settings, "ovd/arg.csv", HEADER + "ARG,2019,helpline_calls_count,3,AR.CB,Corte Suprema\n")
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "shrunk")
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE country_iso3 = 'ARG' "
                           "AND indicator_code = 'femicide_count'") == [(0,)]

    # A removed file (the working database keeps what it gave: raw files are never deleted by
    # the pipeline, and one a person removes is not taken as withdrawn).
    (settings.raw_dir / "ovd/arg.csv").unlink()
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "removed")

    # A policy file for Peru: its mart rows change, its figures do not; the national total
    # hidden last time still withholds the mart's latest figure.
    drop(settings, "registro/leyes.csv", "country,instrument_type,title,identifier,adopted_on,status,has_budget,source\n"
         "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,in_force,,https://www.gob.pe/ley-30364\n")
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "policy")

    # A revision that un-suppresses: Peru's 2020 unit of 2 becomes 9 (and the national total 9).
    hidden = query(settings, "SELECT femicide_count_latest FROM mart_country_progress WHERE country_iso3 = 'PER' AND year = 2020")
    assert hidden == [(None,)]  # a national total hidden with its single unit
    drop(settings, "mimp/per.csv", PER_2019.replace(",93,,", ",100,,").replace(",3,PE.CS", ",10,PE.CS")
         .replace("2020,femicide_count,2,,", "2020,femicide_count,9,,").replace("2020,femicide_count,2,PE.AM", "2020,femicide_count,9,PE.AM"))
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, "unsuppressed")
    assert query(settings, "SELECT value, flags FROM fact_observation WHERE country_iso3 = 'PER' AND year = 2020 "
                           "AND subnational_code = 'PE.AM'") == [(9.0, None)]
    assert query(settings, "SELECT femicide_count_latest FROM mart_country_progress "
                           "WHERE country_iso3 = 'PER' AND year = 2020") == [(9.0,)]
    assert query(settings, "SELECT femicide_count_latest FROM mart_country_progress "
                           "WHERE country_iso3 = 'BRB' AND year = 2014") == [(2.0,)]


def test_a_new_year_of_a_published_country_redoes_only_that_group(settings, tmp_path, monkeypatch):
    """The delta is as fine as suppression allows (a country's indicator in one year): a file
    with Peru's 2021 figures replaces and suppresses again those alone, and the result equals a
    publication from scratch."""
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    redone = []
    decide = small_cells.decide

    def spy(con, *args, **kwargs):
        hidden = decide(con, *args, **kwargs)
        redone.append(con.execute("SELECT DISTINCT country_iso3, year, indicator_code FROM _small ORDER BY ALL").fetchall())
        return hidden

    monkeypatch.setattr(small_cells, "decide", spy)
    drop(settings, "mimp/per_2021.csv", HEADER + "PER,2021,femicide_count,12,,MIMP\nPER,2021,femicide_count,3,PE.CS,MIMP\n"
                                                 "PER,2021,femicide_count,9,PE.PU,MIMP\n")
    run(settings)
    assert redone == [[("PER", 2021, "femicide_count")]]
    assert_same_as_from_scratch(settings, tmp_path, "new_year")
    assert query(settings, "SELECT subnational_code, value FROM fact_observation WHERE country_iso3 = 'PER' "
                           "AND year = 2021 ORDER BY 1") == [("PE.CS", None), ("PE.PU", None), (None, 12.0)]


def test_a_stale_copy_is_not_reused_when_k_changes(settings, tmp_path, monkeypatch):
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    dim_country = inode(settings, "dim_country")
    monkeypatch.setenv("OBSERVATORY_SMALL_CELL_K", "3")
    run(settings)  # nothing new to read: only the publication follows k
    assert inode(settings, "dim_country") != dim_country  # rebuilt in full, nothing shared
    assert_same_as_from_scratch(settings, tmp_path, "k3")
    # 3 is no longer a small cell: the unit of 3 and the one hidden beside it are published.
    assert query(settings, "SELECT value FROM fact_observation WHERE subnational_code = 'PE.CS'") == [(3.0,)]


def test_published_files_replaced_behind_the_pipeline_s_back_are_rebuilt(settings, tmp_path):
    """The record says which files it describes: a published database that is not that one
    (copied back from a backup, say) is not patched but made again."""
    drop(settings, "mimp/per.csv", PER_2019)
    run(settings)
    backup = tmp_path / "backup.duckdb"
    shutil.copyfile(settings.published_db, backup)
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    shutil.copyfile(backup, settings.published_db)  # the old database, without Argentina
    drop(settings, "oig/brb.csv", BRB)
    run(settings)
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE country_iso3 = 'ARG'") == [(5,)]
    assert_same_as_from_scratch(settings, tmp_path, "restored")


@pytest.mark.parametrize("failpoint", ["publish_before_rename", "publish_between_database_and_parquet"])
def test_after_a_crash_mid_publication_the_next_one_equals_one_from_scratch(settings, tmp_path, failpoint):
    drop(settings, "mimp/per.csv", PER_2019)
    run(settings)
    drop(settings, "ovd/arg.csv", ARG)
    killed = subprocess.run(
        [OBSERVATORY, "run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OBSERVATORY_FAILPOINT": failpoint},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    drop(settings, "oig/brb.csv", BRB)
    run(settings)
    assert_same_as_from_scratch(settings, tmp_path, failpoint)
    assert query(settings, "SELECT count(DISTINCT country_iso3) FROM fact_observation") == [(3,)]


def test_a_copy_with_too_many_free_blocks_is_made_again(settings, tmp_path, monkeypatch):
    """Deletes leave free blocks in the copied database; past a share of them the publication
    starts from a new file instead (the published database does not grow run after run)."""
    from observatory import publication

    drop(settings, "mimp/per.csv", PER_2019)
    run(settings)
    dim_country = inode(settings, "dim_country")
    monkeypatch.setattr(publication, "MAX_FREE_SHARE", -1.0)  # every copy counts as too sparse
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    assert inode(settings, "dim_country") != dim_country
    assert_same_as_from_scratch(settings, tmp_path, "sparse")
    assert not list(settings.curated_dir.glob(".*.tmp*"))


def test_a_publication_that_withdraws_staff_text_is_made_fresh_not_copied(settings, tmp_path):
    """A copy of the published database keeps a deleted row's bytes in its free blocks: when a
    correction removes a policy instrument's title, identifier or source (a title that named a
    person), the publication is made from a new file, and the text is gone from the file's
    bytes. Other corrections (a bad row removed) still publish a copy."""
    policy = ("country,instrument_type,title,adopted_on,status,source\n"
              "PER,comprehensive_vaw_law,{title},2015-11-23,in_force,El Peruano\n")
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "mimp/bra.csv", HEADER + "BRA,2019,femicide_count,1300,,Ministério\nAtlantis,2019,femicide_count,1,,X\n")
    # A name with no word before it that introduces a person: not detected (privacy.py), so published.
    drop(settings, "registro/leyes.csv", policy.format(title="Ley 30364 (Rosa Plantada Quispe)"))
    run(settings)
    dim_country = inode(settings, "dim_country")
    drop(settings, "ovd/arg.csv", ARG)  # adds rows, withdraws none: a copy, as before
    run(settings)
    assert inode(settings, "dim_country") == dim_country
    drop(settings, "mimp/bra.csv", HEADER + "BRA,2019,femicide_count,1300,,Ministério\n")  # a bad row removed: a copy
    run(settings)
    assert inode(settings, "dim_country") == dim_country and query(settings, "SELECT count(*) FROM quarantine") == [(0,)]
    assert b"Plantada" in settings.published_db.read_bytes()
    drop(settings, "registro/leyes.csv", policy.format(title="Ley 30364"))
    run(settings)
    assert inode(settings, "dim_country") != dim_country  # made fresh
    assert query(settings, "SELECT title FROM policy_instrument") == [("Ley 30364",)]
    assert b"Plantada" not in settings.published_db.read_bytes()
    assert_same_as_from_scratch(settings, tmp_path, "withdrawn")


def test_the_working_database_keeps_what_the_publication_was_made_from(settings):
    """The record the next publication compares with: fingerprints per group (a country's
    indicator in one year) of the observations, per country of the mart, per table of the
    others, and the hidden national totals."""
    drop(settings, "mimp/per.csv", PER_2019)
    run(settings)
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        parts = con.execute("SELECT tbl, country_iso3, year, indicator_code FROM publication_fingerprint "
                            "WHERE country_iso3 <> '*' ORDER BY ALL").fetchall()
        totals = con.execute("SELECT country_iso3, year, indicator_code FROM publication_hidden_total").fetchall()
        tables = con.execute("SELECT count(*) FROM publication_fingerprint WHERE country_iso3 = '*'").fetchall()
    for table in ("fact_observation", "observation_history"):
        assert [part[1:] for part in parts if part[0] == table] == [("PER", 2019, "femicide_count"),
                                                                    ("PER", 2020, "femicide_count")]
    assert ("mart_country_progress", "PER", None, None) in parts
    assert totals == [("PER", 2020, "femicide_count")]  # 2 over its single unit of 2
    assert tables == [(len(publish_step.public_schema()) - 3,)]


def test_other_subnational_units_republish_every_country(settings, tmp_path):
    """Parent units decide which figures are suppressed (Lima's units against Lima): a change
    to dim_subnational is not a table to replace but a reason to publish everything again."""
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "ovd/arg.csv", ARG)
    run(settings)
    dim_country = inode(settings, "dim_country")
    with pipeline.working_db(settings) as con:
        con.execute("UPDATE dim_subnational SET parent_code = 'PE.AR' WHERE subnational_code = 'PE.PU'")
        publish_step.publish(con, settings)
    assert inode(settings, "dim_country") != dim_country  # rebuilt in full, nothing shared
    assert_same_as_from_scratch(settings, tmp_path, "units")


def test_a_full_publication_suppressed_a_few_countries_at_a_time_equals_one_done_at_once(settings, tmp_path, monkeypatch):
    """Millions of figures are suppressed a few countries at a time (memory): the same result."""
    drop(settings, "mimp/per.csv", PER_2019)
    drop(settings, "ovd/arg.csv", ARG)
    drop(settings, "rbpf/brb.csv", BRB)
    drop(settings, "ven/ven.csv", HEADER + "VEN,2019,femicide_count,30,,Ministerio Público\n")  # a part after Peru's
    run(settings)
    # Argentina's file now gives Uruguay's figure: Argentina is left in observation_history only,
    # where its withdrawn femicide breakdown is withheld, part or no part.
    drop(settings, "ovd/arg.csv", HEADER + "URY,2019,femicide_count,25,,Ministerio del Interior\n")
    run(settings)
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE country_iso3 = 'ARG'") == [(0,)]
    assert query(settings, "SELECT indicator_code, count(*), count(value) FROM observation_history "
                           "WHERE country_iso3 = 'ARG' GROUP BY 1 ORDER BY 1") == [
        ("femicide_count", 3, 0), ("helpline_calls_count", 1, 1)]  # helpline calls are not sensitive
    at_once = published(settings)
    monkeypatch.setattr(publish_step, "SUPPRESSION_PART_ROWS", 2)  # one country per part
    in_parts = from_scratch(settings, tmp_path / "in_parts")
    assert in_parts == at_once
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE flags LIKE '%suppressed%'") != [(0,)]
    # The hidden national totals recorded for later publications are every part's.
    recorded = "SELECT * FROM publication_hidden_total ORDER BY ALL"
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        expected = con.execute(recorded).fetchall()
    fresh = Settings.resolve(settings.raw_dir, tmp_path / "in_parts")
    with duckdb.connect(str(fresh.working_db), read_only=True) as con:
        assert con.execute(recorded).fetchall() == expected
