"""Publishing while a researcher holds the published database open, in another process."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import HEADER, drop, query, run

READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM fact_observation").fetchone()[0], flush=True)
    sys.stdin.readline()                      # the test runs the pipeline meanwhile
    print(con.execute("SELECT count(*) FROM fact_observation").fetchone()[0], flush=True)
    con.close()                               # DuckDB shares one instance per path in a process
    fresh = duckdb.connect(sys.argv[1], read_only=True)
    print(fresh.execute("SELECT count(*) FROM fact_observation").fetchone()[0], flush=True)
""")


def test_a_read_only_reader_never_blocks_a_run_and_keeps_its_snapshot(settings):
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.published_db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        drop(settings, "mimp/b.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
        run(settings)  # would fail with "Could not set lock on file" if it wrote the published file in place
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"  # the open connection keeps its snapshot
        assert reader.stdout.readline().strip() == "2"  # reconnecting sees the new data
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    assert reader.returncode == 0
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]


def test_no_temporary_files_are_left_behind(settings):
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    leftovers = [p.name for p in settings.curated_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert settings.published_db.exists()


def _storage_version(settings) -> str:
    return query(settings, "SELECT tags['storage_version'] FROM duckdb_databases() "
                           "WHERE database_name = current_database()")[0][0]


def test_the_published_database_is_written_in_a_format_duckdb_1_clients_read(settings):
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    assert _storage_version(settings) == "v1.0.0+"  # DuckDB 2's own format reports v2.0.0+
    comments = query(settings, "SELECT count(*) FROM duckdb_columns() WHERE comment IS NULL "
                               "AND database_name = current_database()")
    assert comments == [(0,)]


def test_changing_the_storage_version_publishes_again(settings, monkeypatch):
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    monkeypatch.setenv("OBSERVATORY_PUBLISHED_STORAGE_VERSION", "v1.2.0")
    run(settings)  # nothing new to read, but what is published must follow the setting
    assert _storage_version(settings) == "v1.2.0+"


DUCKDB1_PYTHON = "OBSERVATORY_TEST_DUCKDB1_PYTHON"
DUCKDB1_READER = textwrap.dedent("""
    import sys, duckdb
    assert duckdb.__version__.startswith("1."), duckdb.__version__
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM fact_observation").fetchall()[0][0])
    print(con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'fact_observation' "
                      "AND column_name = 'subnational_code'").fetchall()[0][0])
""")


def test_a_duckdb_1_client_opens_the_published_database(settings):
    """A real 1.x client (.ci/run installs duckdb 1.0.0 in a throwaway venv and names its
    python in OBSERVATORY_TEST_DUCKDB1_PYTHON)."""
    python = os.environ.get(DUCKDB1_PYTHON)
    if not python:
        pytest.skip(f"no DuckDB 1.x client: set {DUCKDB1_PYTHON} to a python with duckdb 1.x (see .ci/run)")
    drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    out = subprocess.run([python, "-c", DUCKDB1_READER, str(settings.published_db)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, comment = out.stdout.splitlines()
    assert count == "1" and "NULL for national figures" in comment
    # The next publication patches a copy of this file (publish.py): it stays readable too.
    drop(settings, "mimp/b.csv", HEADER + "Chile,2016,femicide_count,34,SernamEG\n")
    run(settings)
    out = subprocess.run([python, "-c", DUCKDB1_READER, str(settings.published_db)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "2"
