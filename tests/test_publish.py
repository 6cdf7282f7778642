"""Publishing while a researcher holds the published database open, in another process."""
import subprocess
import sys
import textwrap

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
