"""Operations: sensor, schedules, receipts, check, status, one writer, crash safety."""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from assets.definitions import defs
from observatory.cli import main
from observatory.lock import writer_lock
from tests.conftest import HEADER, drop, query, run

OBSERVATORY = str(Path(sys.executable).with_name("observatory"))
GOOD = HEADER + "Perú,2015,femicide_count,95,MIMP\n"


def tick(instance, cursor):
    sensor = defs.resolve_sensor_def("raw_folder_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor


def test_sensor_waits_for_stable_files_batches_them_and_ignores_repeats(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(settings.curated_dir))
    with dg.instance_for_test() as instance:
        drop(settings, "mimp/a.csv", GOOD)
        drop(settings, "mimp/b.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
        drop(settings, "mimp/~$a.csv", "lock file of a spreadsheet")
        drop(settings, "mimp/c.csv.part", "half a download")
        requests, cursor = tick(instance, None)
        assert requests == []  # first look: not yet known to be stable
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1  # both files in one run, temporary names ignored
        assert requests[0].tags["observatory/files"] == "2"
        requests, cursor = tick(instance, cursor)
        assert requests == []  # asked for: not asked again while its run has not come
        run(settings)  # the run it asked for
        drop(settings, "otro/copia.csv", GOOD)  # the same content under another name
        for _ in range(2):
            requests, cursor = tick(instance, cursor)
            assert requests == []
        drop(settings, "mimp/a.csv", HEADER + "Perú,2015,femicide_count,96,MIMP\n")  # changed content
        requests, cursor = tick(instance, cursor)
        assert requests == []  # settling; meanwhile the copy is still a copy of what it had
        requests, cursor = tick(instance, cursor)
        # The changed file, and the copy, now the only file with the content it brought: read as
        # new, as a run and `observatory status` have it, so that no content is lost.
        assert len(requests) == 1 and requests[0].tags["observatory/files"] == "2"


def test_the_sensor_asks_for_a_file_put_back_as_it_was(settings, monkeypatch):
    """A file corrected, then put back as it was before (the correction was wrong): its earlier
    content is new against what is published, so a run is asked for (the sensor once
    remembered every content it had asked for, and never asked again)."""
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(settings.curated_dir))
    cursor = None
    with dg.instance_for_test() as instance:
        for value in (300, 310, 300):
            path = drop(settings, "mimp/a.csv", HEADER + f"Perú,2015,femicide_count,{value},MIMP\n")
            os.utime(path, ns=(value, value))  # another look than the last, as an editor's save gives
            requests, cursor = tick(instance, cursor)
            requests, cursor = tick(instance, cursor)
            assert len(requests) == 1, value
            run(settings)
            assert query(settings, "SELECT value FROM fact_observation") == [(value,)]


def test_the_sensor_asks_again_for_files_a_run_left_waiting_but_not_while_a_run_is_pending(settings, monkeypatch):
    """A run asked for failed or was cancelled (the writer busy, a crash): its files still wait,
    and the sensor asks again once OBSERVATORY_SENSOR_RETRY_SECONDS have passed; never while a
    run of the job is queued or running (it reads them, or the next tick asks)."""
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(settings.curated_dir))
    drop(settings, "mimp/a.csv", GOOD)
    with dg.instance_for_test() as instance:
        requests, cursor = tick(instance, None)
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1
        requests, cursor = tick(instance, cursor)  # its run failed: nothing was published
        assert requests == []
        monkeypatch.setenv("OBSERVATORY_SENSOR_RETRY_SECONDS", "0")
        instance.add_run(dg.DagsterRun(job_name="observatory_job", run_id="pending", status=dg.DagsterRunStatus.STARTED))
        requests, cursor = tick(instance, cursor)
        assert requests == []
        instance.report_run_canceled(instance.get_run_by_id("pending"))
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1 and requests[0].tags["observatory/files"] == "1"
        # The interval runs from the end of the job's last run, not from the asking: a run that
        # failed after longer than it is not asked for again at once.
        monkeypatch.setenv("OBSERVATORY_SENSOR_RETRY_SECONDS", "600")
        instance.add_run(dg.DagsterRun(job_name="observatory_job", run_id="long", status=dg.DagsterRunStatus.STARTED))
        monkeypatch.setattr(time, "time", lambda real=time.time: real() + 3600)  # it ran an hour, then failed
        instance.report_run_failed(instance.get_run_by_id("long"))
        requests, cursor = tick(instance, cursor)
        assert requests == []


def test_a_file_still_growing_waits(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    with dg.instance_for_test() as instance:
        path = drop(settings, "mimp/a.csv", HEADER)
        requests, cursor = tick(instance, None)
        with open(path, "a") as handle:
            handle.write("Perú,2015,femicide_count,95,MIMP\n")
        requests, cursor = tick(instance, cursor)
        assert requests == []
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1


def test_schedules_rebuild_marts_nightly_and_revalidate_weekly():
    nightly = defs.resolve_schedule_def("nightly_marts")
    weekly = defs.resolve_schedule_def("weekly_revalidation")
    assert (nightly.cron_schedule, nightly.execution_timezone) == ("0 2 * * *", "UTC")
    assert nightly.job_name == "marts_job"
    assert weekly.cron_schedule == "0 3 * * 0" and weekly.job_name == "observatory_job"
    context = dg.build_schedule_context(scheduled_execution_time=None)
    request = weekly.evaluate_tick(context).run_requests[0]
    assert request.run_config["resources"]["observatory"]["config"]["revalidate_all"] is True


def test_revalidate_reads_every_file_again(settings):
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    result = run(settings, "--revalidate")
    assert "0 new or changed, 1 read again unchanged (0 rejected whole)" in result.output
    assert "nuevos o modificados: 0, leídos de nuevo sin cambios: 1 (rechazados enteros: 0)" in result.output
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]


def test_receipts_next_to_the_data_for_every_file(settings):
    drop(settings, "mimp/carga.csv", GOOD + "Atlantis,2015,femicide_count,1,MIMP\n")
    run(settings)
    receipt = json.loads((settings.receipts_dir / "mimp" / "carga.csv.json").read_text())
    assert (receipt["status"], receipt["rows_read"], receipt["rows_loaded"], receipt["rows_quarantined"]) == ("partially_loaded", 2, 1, 1)
    assert receipt["problems"][0]["line"] == 3 and receipt["problems"][0]["reason_code"] == "unknown_country"
    markdown = (settings.receipts_dir / "mimp" / "carga.csv.md").read_text()
    assert "cargado en parte" in markdown and "| 3 |" in markdown and "No se cita el contenido de la celda" in markdown
    assert "Atlantis" not in markdown  # no known place, nor near one: it could be a name


def test_a_receipt_lists_its_first_problems_and_counts_them_all(settings, monkeypatch):
    from observatory import receipts

    monkeypatch.setattr(receipts, "ROWS_SHOWN", 3)  # 1,000 by default
    bad = "".join(f"Atlantis,{2000 + i},femicide_count,1,MIMP\n" for i in range(4))
    bad += "".join(f"Perú,{2000 + i},femicide_count,n/d,MIMP\n" for i in range(2))
    path = drop(settings, "mimp/carga.csv", GOOD + bad)
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--json"]).stdout)
    run(settings)
    receipt = json.loads((settings.receipts_dir / "mimp" / "carga.csv.json").read_text())
    for shown in (checked, receipt):
        assert [(p["line"], p["reason_code"]) for p in shown["problems"]] == [(3, "unknown_country"), (4, "unknown_country"),
                                                                              (5, "unknown_country")]
        assert shown["problems_total"] == shown["rows_quarantined"] == 6
        assert shown["problems_by_reason"] == {"unknown_country": 4, "missing_value": 2}
    markdown = (settings.receipts_dir / "mimp" / "carga.csv.md").read_text()
    assert "The first 3 of 6 problems are listed" in markdown
    assert "| `unknown_country` | 4 |\n| `missing_value` | 2 |" in markdown
    assert query(settings, "SELECT count(*) FROM quarantine WHERE source_file = 'mimp/carga.csv'") == [(6,)]
    # Under the limit, every problem is listed and nothing more is said.
    monkeypatch.setattr(receipts, "ROWS_SHOWN", 6)
    drop(settings, "mimp/otra.csv", GOOD.replace("95", "96") + bad)
    run(settings)
    assert "problems are listed" not in (settings.receipts_dir / "mimp" / "otra.csv.md").read_text()
    assert len(json.loads((settings.receipts_dir / "mimp" / "otra.csv.json").read_text())["problems"]) == 6


def test_check_prints_the_receipt_and_writes_nothing(settings, tmp_path):
    path = drop(settings, "mimp/carga.csv", GOOD + "Perú,2016,femicide_count,n/d,MIMP\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert "partially_loaded" in result.output and "| 3 | `missing_value`" in result.output
    assert sorted(p for p in tmp_path.rglob("*")) == before
    ok = drop(settings, "mimp/ok.csv", GOOD)
    assert CliRunner().invoke(main, ["check", str(ok), "--json"]).exit_code == 0
    bad = drop(settings, "mimp/bad.csv", "a,b\n1,2\n")
    result = CliRunner().invoke(main, ["check", str(bad), "--json"])
    assert result.exit_code == 3 and json.loads(result.stdout)["problems"][0]["reason_code"] == "unknown_layout"


def test_check_of_a_file_outside_the_raw_folder_says_which_observatory_it_checks_it_for(settings, tmp_path):
    """A file checked before it is dropped (from the downloads folder): its own folder is no
    observatory, so the check says whose file it took it for, and --observatory names the right
    one (a registered observatory's files may leave out the country, from the registry)."""
    path = tmp_path / "Descargas" / "carga.csv"
    path.parent.mkdir()
    path.write_text("year,indicator,value,source\n2015,femicide_count,95,MIMP\n")
    args = ["check", str(path), "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)]
    result = CliRunner().invoke(main, args)
    assert "checked as a file of observatory 'Descargas' (its folder); name another with --observatory" in result.stderr
    assert result.exit_code == 3, result.output
    result = CliRunner().invoke(main, [*args, "--observatory", "mimp", "--json"])
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert json.loads(result.stdout)["rows_loaded"] == 1
    inside = drop(settings, "mimp/carga.csv", path.read_text())
    result = CliRunner().invoke(main, ["check", str(inside), "--raw-dir", str(settings.raw_dir)])
    assert result.exit_code == 0 and result.stderr == "", result.output


def test_check_removes_the_folders_a_killed_check_left(settings, tmp_path, monkeypatch):
    """A check killed while it read leaves its folder (a copy of the file, every cell): a later
    check removes it once stale, and leaves a recent one (another check may be using it)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    stale, recent = tmp_path / "tmp" / "observatory-check-old", tmp_path / "tmp" / "observatory-check-new"
    for folder in (stale, recent):
        folder.mkdir()
        (folder / "0123456789abcdef0123456789abcdef.csv").write_text("Perú,2015,femicide_count,95,Rosa\n")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    path = drop(settings, "mimp/carga.csv", GOOD)
    assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0
    assert not stale.exists() and recent.exists()
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == ["observatory-check-new"]  # its own is gone too


def test_status_shows_what_is_published_and_what_waits(settings):
    drop(settings, "mimp/a.csv", GOOD)
    args = ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)]
    output = CliRunner().invoke(main, args).output
    assert "Nothing published yet" in output and "Aún no hay nada publicado" in output and "mimp/a.csv" in output
    run(settings)
    drop(settings, "cepal/b.csv", GOOD.replace("95", "96"))
    output = CliRunner().invoke(main, args).output
    assert "1 files, 1 observations" in output and "archivos: 1, observaciones: 1" in output  # staff read it in Spanish
    assert "En espera en / Waiting in" in output
    assert "mimp " in output and "Waiting" in output and "cepal/b.csv" in output and "  mimp/a.csv" not in output


def test_status_prints_receipts_without_sums_or_dates(settings):
    """No run leaves an observatory's receipts without counts or a reception time, but the
    published database is a file anyone can edit or replace: status prints 0 and — then."""
    import duckdb

    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    with duckdb.connect(str(settings.published_db)) as con:
        con.execute("UPDATE file_receipt SET rows_loaded = NULL, rows_quarantined = NULL, received_at = NULL")
    result = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert result.exit_code == 0, result.output + str(result.exception)
    assert [line.split()[:6] for line in result.output.splitlines() if line.startswith("mimp ")] == [
        ["mimp", "1", "0", "0", "0", "—"]]


def dagster_home(tmp_path: Path) -> Path:
    """A Dagster run history as `make` sets one up (the project's dagster.yaml: one writer slot)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    return home


@pytest.mark.parametrize("through_dagster", [False, True])
def test_a_second_writer_exits_with_a_clear_message(settings, monkeypatch, tmp_path, through_dagster):
    """With a Dagster run history or without, one line (Dagster's stack traces stay in its run log)."""
    drop(settings, "mimp/a.csv", GOOD)
    monkeypatch.setenv("OBSERVATORY_LOCK_WAIT_SECONDS", "1")
    if through_dagster:
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(tmp_path)))
    with writer_lock(settings.work_dir):
        result = subprocess.run([OBSERVATORY, "run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)],
                                capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "another run is writing" in result.stderr and "otra ejecución" in result.stderr
    assert not settings.published_db.exists()
    run(settings)  # once the lock is free, the run goes through
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]


def test_a_run_killed_under_dagster_is_marked_failed_and_the_next_run_goes_through(settings, tmp_path, monkeypatch):
    """With a Dagster run history (as `make run` keeps), a run killed with -9 while it holds the
    writer pool's slot stays "started" there; the next run found it holding the slot and waited
    for it forever. It now marks it failed, frees its slot, says so, and goes through."""
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(tmp_path)))
    drop(settings, "mimp/a.csv", GOOD)
    command = [OBSERVATORY, "run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OBSERVATORY_FAILPOINT": "build_before_commit"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        [dead] = instance.get_runs()
        assert dead.status == dg.DagsterRunStatus.STARTED and instance.event_log_storage.get_concurrency_run_ids() == {dead.run_id}
    after = subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert after.returncode == 0, after.stderr[-2000:]
    assert f"Run {dead.run_id} marked failed: its process is gone" in after.stderr
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
        assert not instance.event_log_storage.get_concurrency_run_ids()


def test_the_sensor_marks_failed_a_run_whose_process_is_gone(settings, monkeypatch):
    """Under `dagster dev`, a run whose process died would hold the run queue's one place: the
    sensor's next tick marks it failed, also when its pid now belongs to another process (it
    started at another time). A run whose process lives is left alone, and so is a run whose tag
    is another run's (re-executed from the UI, it carries its parent's tags until its resources
    start)."""
    from assets.dead_runs import PROCESS_TAG, process_tags

    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with dg.instance_for_test() as instance:
        for run_id, named, pid, started in (("dead", "dead", gone.pid, None), ("reused", "reused", os.getpid(), "1"),
                                            ("alive", "alive", os.getpid(), None), ("child", "parent", gone.pid, None)):
            process = json.loads(process_tags(named)[PROCESS_TAG])
            process.update(pid=pid, started=started or process["started"])
            instance.add_run(dg.DagsterRun(job_name="observatory_job", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                           tags={PROCESS_TAG: json.dumps(process)}))
        tick(instance, None)
        statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in ("dead", "reused", "alive", "child")}
        assert statuses == {"dead": dg.DagsterRunStatus.FAILURE, "reused": dg.DagsterRunStatus.FAILURE,
                            "alive": dg.DagsterRunStatus.STARTED, "child": dg.DagsterRunStatus.STARTED}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parquet_rows(settings) -> int:
    import duckdb

    return duckdb.sql(f"SELECT count(*) FROM '{settings.parquet_dir / 'fact_observation.parquet'}'").fetchall()[0][0]


def kill_a_run_at(settings, failpoint: str) -> None:
    """`observatory run` killed (SIGKILL) at a failpoint (observatory/faults.py)."""
    killed = subprocess.run(
        [OBSERVATORY, "run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OBSERVATORY_FAILPOINT": failpoint},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]


@pytest.mark.parametrize("failpoint", [
    "stage_before_harmonize", "build_before_commit", "publish_before_rename", "publish_between_database_and_parquet",
])
def test_killed_at_any_point_a_run_leaves_the_published_data_whole(settings, failpoint):
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    published = digest(settings.published_db)
    drop(settings, "mimp/b.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
    kill_a_run_at(settings, failpoint)
    if failpoint == "publish_between_database_and_parquet":
        assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]  # the new database, whole
        assert parquet_rows(settings) == 1  # the old Parquet set, whole
    else:
        assert digest(settings.published_db) == published
        assert parquet_rows(settings) == 1
    run(settings)  # the next run completes and publishes
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]
    assert parquet_rows(settings) == 2
    assert query(settings, "SELECT count(*) FROM file_receipt WHERE rows_read = rows_loaded + rows_quarantined") == [(2,)]
    # No leftover of the killed run: only the current version of each published folder, the
    # one its link points to.
    hidden = sorted(p.name for p in settings.curated_dir.iterdir() if p.name.startswith(".") and p.name != ".work")
    current = sorted(link.resolve().name for link in (settings.parquet_dir, settings.exports_dir, settings.report_dir))
    assert hidden == current and [name.split("-")[0] for name in current] == [".exports", ".parquet", ".report"]


def test_the_copy_of_a_raw_file_a_killed_run_left_is_removed_by_the_next_run(settings):
    """A Windows-1252 file is read from a UTF-8 copy; a run killed meanwhile leaves the copy,
    with every cell of the file, which the next run removes before it reads anything."""
    drop(settings, "mimp/a.csv", HEADER + "Perú,2016,femicide_count,124,Ministerio de la Mujer\n", encoding="cp1252")
    kill_a_run_at(settings, "read_with_a_copy")
    copies = list(settings.temp_dir.glob("*.csv"))
    assert len(copies) == 1 and "Ministerio de la Mujer" in copies[0].read_text(), copies
    run(settings)
    assert not copies[0].exists() and query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]


# A DuckDB process that spills a table of raw-looking cells into a folder and holds it there.
SPILLING = """
import sys, duckdb
con = duckdb.connect(config={"memory_limit": "16MB", "temp_directory": sys.argv[1], "threads": 1})
con.execute("CREATE TABLE x AS SELECT 'María Pérez ' || i AS name FROM range(1000000) r(i)")
con.execute("CREATE TABLE y AS SELECT name FROM x ORDER BY name DESC")
print("spilled", flush=True)
sys.stdin.read()
"""


def spilling(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SPILLING, str(folder)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "spilled"
    return process


def spill_files(settings, pid: int) -> list[Path]:
    return list(settings.temp_dir.rglob(f"duckdb_temp_{pid}_*"))


def test_spill_files_a_killed_run_left_are_removed_by_the_next_run(settings):
    """DuckDB removes a killed process's spill files only when another spills into the same
    folder; until then they hold pages of the tables. The next run removes them, whether it has
    something new or nothing to do, and leaves a live process's alone."""
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    alive = spilling(settings.temp_dir)
    # Where pids repeat (a container's run is often pid 7 every time), a killed run's files can
    # bear the pid of the run that finds them, this process here: written before it started.
    reused = settings.temp_dir / f"duckdb_temp_{os.getpid()}_9_storage_DEFAULT-0.tmp"
    reused.write_bytes(b"pages")
    os.utime(reused, (946684800, 946684800))  # 2000-01-01
    try:
        for folder, new_file in ((settings.temp_dir / "outputs", None), (settings.temp_dir, "mimp/b.csv")):
            killed = spilling(folder)  # as the exports and the report spill, or the working database
            killed.kill()
            killed.wait()
            assert spill_files(settings, killed.pid)
            if new_file:
                drop(settings, new_file, HEADER + "Perú,2016,femicide_count,124,MIMP\n")
            ran = run(settings)
            assert ("nuevos o modificados: 1" in ran.output) == bool(new_file)
            assert spill_files(settings, killed.pid) == [] and not reused.exists()
            assert spill_files(settings, alive.pid)
    finally:
        alive.kill()
        alive.wait()


def test_exports_and_report_a_killed_run_did_not_make_are_made_by_the_next_run(settings):
    """Killed after publishing, before the exports and the report: they still show the
    publication before. The next run finds no new file, leaves the published files as they are
    and makes them; the run after it has nothing to do."""
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    drop(settings, "mimp/b.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
    kill_a_run_at(settings, "outputs_before_making")
    exported, page = settings.exports_dir / "fact_observation" / "PER.csv", settings.report_dir / "country" / "PER.html"
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]
    assert ";2016;" not in exported.read_text(encoding="utf-8-sig") and 'data-value="124.0"' not in page.read_text()
    published, parquet = digest(settings.published_db), os.readlink(settings.parquet_dir)
    run(settings)
    assert ";2016;" in exported.read_text(encoding="utf-8-sig") and 'data-value="124.0"' in page.read_text()
    assert digest(settings.published_db) == published and os.readlink(settings.parquet_dir) == parquet  # not published again
    ran = run(settings)
    assert "nuevos o modificados: 0" in ran.output and digest(settings.published_db) == published


def test_the_suite_guard_sees_a_file_written_into_the_working_tree():
    """The session guard (conftest) compares this state before and after the suite."""
    from tests.conftest import _tree_state

    before = _tree_state()
    probe = Path(__file__).resolve().parents[1] / "data" / "receipts" / "_guard_probe.md"
    created_dir = not probe.parent.exists()
    probe.parent.mkdir(parents=True, exist_ok=True)
    try:
        probe.write_text("probe")
        assert _tree_state() != before
    finally:
        probe.unlink()
        if created_dir:
            probe.parent.rmdir()
    assert _tree_state() == before


def test_a_copy_of_received_content_is_a_duplicate_to_the_sensor_status_and_check(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(settings.curated_dir))
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)  # `make run` before `dagster dev`
    copy = drop(settings, "otro/copia.csv", GOOD)
    with dg.instance_for_test() as instance:  # the sensor's first ticks: nothing new to run
        requests, cursor = tick(instance, None)
        requests, cursor = tick(instance, cursor)
        assert requests == []
    status = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert "otro/copia.csv = mimp/a.csv" in status.output and "Nothing waiting" in status.output
    checked = CliRunner().invoke(main, ["check", str(copy), "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert checked.exit_code == 3 and "duplicate_file" in checked.output and "mimp/a.csv" in checked.output
    result = run(settings)  # and the run agrees
    assert "1 duplicates" in result.output
    assert query(settings, "SELECT status FROM file_receipt WHERE file_path = 'otro/copia.csv'") == [("duplicate",)]

    # The original removed (renamed by hand): the copy is new to status and check, as to the run.
    (settings.raw_dir / "mimp" / "a.csv").unlink()
    status = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert "otro/copia.csv = " not in status.output and "  otro/copia.csv" in status.output.split("Waiting in")[1]
    assert status.output.split("no longer in")[1].splitlines()[1:] == ["  mimp/a.csv"]
    checked = CliRunner().invoke(main, ["check", str(copy), "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert checked.exit_code == 0 and "duplicate_file" not in checked.output
    result = run(settings)
    assert "1 new or changed" in result.output
    assert query(settings, "SELECT status FROM file_receipt WHERE file_path = 'otro/copia.csv'") == [("loaded",)]
    # Checked again once loaded: the receipt, and a line that says a run will not read it again.
    checked = CliRunner().invoke(main, ["check", str(copy), "--json", "--raw-dir", str(settings.raw_dir),
                                        "--curated-dir", str(settings.curated_dir)])
    assert json.loads(checked.stdout)["status"] == "loaded" and "Already received unchanged on" in checked.stderr
    # The original put back: a run takes it as unchanged (its own receipt), and so does check.
    drop(settings, "mimp/a.csv", GOOD)
    checked = CliRunner().invoke(main, ["check", str(settings.raw_dir / "mimp" / "a.csv"), "--raw-dir", str(settings.raw_dir),
                                        "--curated-dir", str(settings.curated_dir)])
    assert "duplicate_file" not in checked.stdout and "Already received unchanged on" in checked.stderr
    assert "nuevos o modificados: 0" in run(settings).output


def test_the_run_summary_explains_the_quarantine_table(settings):
    drop(settings, "mimp/a.csv", GOOD + "Atlantis,2015,femicide_count,1,MIMP\n")
    drop(settings, "mimp/roto.csv", "a,b\n1,2\n3,4\n")
    result = run(settings)
    assert "3 rows quarantined" in result.output  # one row of a.csv, both rows of the rejected file
    assert "(2 rows there: one per quarantined row, and one per file rejected whole (1) standing for all its rows)" in result.output
    assert query(settings, "SELECT count(*) FROM quarantine") == [(2,)]


def test_revalidate_keeps_each_content_with_the_file_that_brought_it(settings):
    """Read again with --revalidate, a copy stays a duplicate of the file that brought its
    content, even when its name sorts first (the copy took the rows over, and with them the
    observatory they are counted for)."""
    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    drop(settings, "aaa/copia.csv", GOOD)
    run(settings)
    result = run(settings, "--revalidate")
    assert "0 new or changed, 1 read again unchanged (0 rejected whole), 1 duplicates" in result.output
    assert query(settings, "SELECT file_path, status FROM file_receipt ORDER BY 1") == [
        ("aaa/copia.csv", "duplicate"), ("mimp/a.csv", "loaded")]


def test_duckdb_turns_a_ctrl_c_during_a_query_into_the_error_taken_for_an_interrupt():
    """What observatory/interrupts.py rests on: an interrupt arriving while DuckDB runs a query
    calls the SIGINT handler, but comes out of the query as RuntimeError("Query interrupted"),
    not as the KeyboardInterrupt the handler raised."""
    import signal
    import threading

    import duckdb

    from observatory import interrupts

    called = []

    def handler(signum, frame):
        called.append(signum)
        raise KeyboardInterrupt

    con = duckdb.connect()
    previous = signal.signal(signal.SIGINT, handler)  # as Ctrl+C would reach the run, even under a shell ignoring it
    # Sent once the query has surely started; if DuckDB stopped listening, interrupted from here after a while.
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    guard = threading.Timer(60, con.interrupt)
    try:
        timer.start()
        guard.start()
        with pytest.raises(RuntimeError) as raised:
            con.execute("SELECT sum(a % 7) FROM range(1000000000000) t(a)").fetchall()
    finally:
        timer.cancel()
        guard.cancel()
        signal.signal(signal.SIGINT, previous)
    assert called == [signal.SIGINT]
    assert raised.value.args == (interrupts.DUCKDB_INTERRUPTED,) and interrupts.is_interrupt(raised.value)
    assert not interrupts.is_interrupt(RuntimeError("another failure"))


@pytest.mark.parametrize("through_dagster", [False, True])
def test_ctrl_c_during_validation_stops_the_run_and_publishes_nothing(settings, monkeypatch, tmp_path, through_dagster):
    """Ctrl+C at the terminal reaches the run and its Great Expectations worker (one process
    group): the worker dies of SIGINT, and the run's KeyboardInterrupt, raised while DuckDB ran
    a query, came out of it as RuntimeError("Query interrupted"). The run took both for GX
    failures, validated row by row in a new worker, published and exited 0 (a trial saw it in
    about 2 of 12 tries). Now it stops as for any Ctrl+C, non-zero, the publication untouched."""
    import signal

    from observatory import validate_worker, verdicts

    drop(settings, "mimp/a.csv", GOOD)
    run(settings)
    published = digest(settings.published_db)
    drop(settings, "mimp/b.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
    if through_dagster:
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(tmp_path)))
    recall = verdicts.recall

    def interrupted(con, store, combinations):
        worker = validate_worker.shared()
        worker._process.send_signal(signal.SIGINT)  # the terminal's Ctrl+C reaches the worker...
        assert worker._process.wait(timeout=60) == -signal.SIGINT
        try:
            recall(con, store, combinations)
            signal.default_int_handler(signal.SIGINT, None)  # ...and the run, inside DuckDB's query,
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None  # which raises this in its place

    monkeypatch.setattr(verdicts, "recall", interrupted)
    validate_worker.discard()  # the tests keep one: the run's worker starts with SIGINT handled, as under a terminal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = CliRunner().invoke(main, ["run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    finally:
        signal.signal(signal.SIGINT, previous)
        validate_worker.discard()
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == "Aborted!"  # as for any Ctrl+C, with Dagster or without
    assert "validating row by row" not in result.output
    assert digest(settings.published_db) == published and parquet_rows(settings) == 1
    monkeypatch.setattr(verdicts, "recall", recall)
    run(settings)  # the next run goes through
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(2,)]
