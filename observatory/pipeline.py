"""The run's steps, each on the working database: stage (discover, read, harmonize), validate,
build, publish; and the invariants checked between them. The Dagster assets call these, and
`observatory run` runs those assets, so there is one code path."""
from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import duckdb
import pyarrow as pa

from observatory import build as build_step
from observatory import faults
from observatory import harmonize as harmonize_step
from observatory import layouts
from observatory import leftovers
from observatory import exports as exports_step
from observatory import publish as publish_step
from observatory import read as read_step
from observatory import observation_key
from observatory import reference
from observatory import staging
from observatory import validate as validate_step
from observatory import validate_worker
from observatory import withdrawals
from observatory import receipts
from observatory import state
from observatory.progress import Progress
from observatory.discover import RawFile, discover, sha256_of
from observatory.settings import Settings

if TYPE_CHECKING:  # imported where used (Jinja2 and the charts are for the report step only)
    from observatory import report as report_step

log = logging.getLogger(__name__)
_ENSURED: set[tuple[Path, int]] = set()
# `observatory check`'s temporary folders, and when one left behind counts as stale.
CHECK_PREFIX = "observatory-check-"
STALE_CHECK_SECONDS = 3600


@contextmanager
def working_db(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The private working database: one writer, never opened by researchers."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.working_db))
    try:
        configure(con, settings)
        identity = (settings.working_db, settings.working_db.stat().st_ino)
        # Once per file and process (a run opens it many times); a curated folder deleted and
        # made again may give the new file the old one's inode, so its tables are checked too.
        if identity not in _ENSURED or not state.has_tables(con, "file_receipt"):
            build_step.ensure_working_tables(con)
            _ENSURED.add(identity)
        yield con
    finally:
        con.close()


def configure(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Bounded memory: past the limit DuckDB spills large joins and sorts to disk."""
    settings.temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{settings.duckdb_memory_limit}'")
    # A run's steps share one database instance (the resource holds it open), and DuckDB
    # refuses to set the spill folder again once something was spilled there, even to itself.
    if con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] != str(settings.temp_dir):
        con.execute(f"SET temp_directory = '{settings.temp_dir}'")


@dataclass
class StageSummary:
    files_seen: int = 0
    files_read: int = 0
    files_reread: int = 0  # of files_read, those read again with the content they were received with
    files_rejected: int = 0
    duplicates: int = 0
    unchanged: int = 0
    withdrawn: int = 0  # files in the raw folder whose content was withdrawn: never read
    removed: int = 0  # files received whose content was withdrawn since: this run's build removes them
    gone: int = 0  # files gone from the raw folder that brought nothing: this run's build removes their receipts
    rows_read: int = 0
    rows_skipped: int = 0
    rejected: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What a run's summary and the Dagster asset's metadata show."""
        return {"files_seen": self.files_seen, "files_read": self.files_read, "files_reread": self.files_reread,
                "files_rejected": self.files_rejected,
                "duplicates": self.duplicates, "unchanged": self.unchanged, "withdrawn": self.withdrawn,
                "removed": self.removed, "gone": self.gone, "rows_read": self.rows_read,
                "rows_skipped_by_layouts": self.rows_skipped}


def stage(settings: Settings, report: Callable[[str], None] | None = None) -> StageSummary:
    """Read every new or changed raw file into the stage and harmonize it. When the code,
    layouts, suites or reference data changed since the last build, every raw file is read
    again (a new layout picks up files rejected before, a corrected one re-reads what it read)."""
    if not settings.raw_dir.is_dir():
        raise FileNotFoundError(f"raw folder not found / carpeta raw no encontrada: {settings.raw_dir}")
    layouts.load_all()  # a malformed layout stops the run here, naming its file
    with working_db(settings) as con:
        if removed := leftovers.remove(settings.temp_dir):
            log.info("removed %d transcoded copies and spill files left by an interrupted run", removed)
        staging.create_stage_tables(con)
        received = con.execute("SELECT count(*) FROM file_receipt").fetchall()[0][0]
        rules_changed = received > 0 and state.get(con, "rules") != state.rules(settings)
        if rules_changed:
            log.info("code, layouts, suites or reference data changed since the last run: reading every raw file again")
        started = time.time_ns()
        found = discover(con, settings.raw_dir, everything=settings.revalidate_all or rules_changed,
                         withdrawn=withdrawals.load(settings.withdrawn_list))
        validate_worker.mark_discovered(settings.discovery_marker, started)
        summary = StageSummary(files_seen=found.seen, files_reread=found.rereads, duplicates=len(found.duplicates),
                               unchanged=len(found.unchanged),
                               withdrawn=len(found.withdrawn), removed=len(found.to_remove), gone=len(found.gone))
        if found.to_remove:
            log.info("withdrawn since the last run, to remove: %d received file(s)", len(found.to_remove))
            con.executemany("INSERT INTO stage_withdrawn VALUES (?)", [[path] for path in found.to_remove])
        if found.gone:
            log.info("gone from the raw folder, having brought nothing: %d receipt(s) to remove", len(found.gone))
            con.executemany("INSERT INTO stage_gone VALUES (?)", [[path] for path in found.gone])
        if not found.to_read and not found.duplicates:
            if not state.has_tables(con, *staging.HARMONIZED_TABLES.values()):
                # A first run with nothing to read (an empty raw folder, or only withdrawn files)
                # still builds, from an empty stage: its harmonized tables must exist.
                reference.install(con)
                harmonize_step.harmonize(con)
            return summary  # nothing new: nothing to read, harmonize or validate
        if found.to_read:
            validate_worker.prewarm()  # GX's import overlaps the reading, on another core
        reference.install(con)
        received = _received_at(con, datetime.now(timezone.utc).replace(tzinfo=None))
        progress = Progress(len(found.to_read), report=report or log.info)
        buffer = staging.StageBuffer(con)
        for file_id, raw, outcome in _read_all(con, found.to_read, settings, buffer):
            _record_file(con, file_id, raw, received(raw), outcome, buffer)
            buffer.maybe_flush()
            summary.files_read += 1
            summary.rows_read += outcome.rows_read
            summary.rows_skipped += outcome.rows_skipped
            if outcome.rejection:
                summary.files_rejected += 1
                summary.rejected.append(f"{raw.rel_path}: {outcome.rejection.reason_code}")
            progress.advance(outcome.rows_read)
        buffer.flush()
        progress.finish()
        for raw, owner in found.duplicates:
            con.execute("INSERT INTO stage_duplicate VALUES (?, ?, ?, ?, ?)",
                        [raw.rel_path, raw.observatory, raw.sha256, received(raw), owner])
        faults.point("stage_before_harmonize")
        harmonize_step.harmonize(con)
        # Rows about areas outside the 33 countries moved from read to skipped (scope.py).
        summary.rows_read, summary.rows_skipped = con.execute(
            "SELECT coalesce(sum(rows_read), 0), coalesce(sum(rows_skipped), 0) FROM stage_file").fetchall()[0]
    return summary


def _received_at(con: duckdb.DuckDBPyConnection, now: datetime) -> Callable[[RawFile], datetime]:
    """When each file was received: now, or, for a file read again with the content it had
    (the code, layouts, suites or reference data changed), when it was first received. Which
    file's figure wins a key goes by when files were received, so reading again reorders
    nothing."""
    receipts = {(path, sha): at for path, sha, at in con.execute(
        "SELECT file_path, sha256, received_at FROM file_receipt").fetchall()}
    return lambda raw: receipts.get((raw.rel_path, raw.sha256), now)


def _read_all(con: duckdb.DuckDBPyConnection, files: list[RawFile], settings: Settings,
              buffer: staging.StageBuffer) -> Iterator[tuple[int, RawFile, read_step.ReadOutcome]]:
    """(file_id, file, outcome) of every file, in order. Files are read by `read_workers`
    threads, each with its own DuckDB connection (DuckDB and the decoding release the GIL);
    each file's row ids start at file_id << 32, so no file waits for another's count."""
    limits = settings.file_limits()
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def cursor() -> duckdb.DuckDBPyConnection:
        if not hasattr(local, "con"):
            local.con = con.cursor()
            with lock:
                cursors.append(local.con)
        return local.con

    def read_one(file_id: int, raw: RawFile) -> read_step.ReadOutcome:
        if not raw.observatory:
            return read_step.ReadOutcome(rejection=read_step.FileRejected("no_observatory_folder"))
        if raw.path.is_symlink():  # never followed: it could point outside the raw folder
            return read_step.ReadOutcome(rejection=read_step.FileRejected("symlink_not_followed"))
        return read_step.read_file(cursor(), raw.path, file_id, file_id << 32, limits, settings.temp_dir, buffer,
                                   observatory=raw.observatory)

    try:
        with ThreadPoolExecutor(max_workers=settings.read_workers, thread_name_prefix="read") as pool:
            # A few files ahead at most, so the stage buffer (written by the caller) stays small.
            ahead = 2 * settings.read_workers
            futures: dict[int, object] = {}
            for file_id, raw in enumerate(files, start=1):
                for pending_id in range(file_id, min(file_id + ahead, len(files)) + 1):
                    if pending_id not in futures:
                        futures[pending_id] = pool.submit(read_one, pending_id, files[pending_id - 1])
                yield file_id, raw, futures.pop(file_id).result()
    finally:
        for worker_con in cursors:
            worker_con.close()


STAGE_FILE_SCHEMA = pa.schema([
    ("file_id", pa.int32()), ("file_path", pa.string()), ("observatory", pa.string()), ("kind", pa.string()),
    ("sha256", pa.string()), ("received_at", pa.timestamp("us")), ("encoding", pa.string()),
    ("delimiter", pa.string()), ("decimal_mark", pa.string()), ("rows_read", pa.int64()), ("rejected", pa.bool_()),
    ("layout", pa.string()), ("rows_skipped", pa.int64()), ("aggregate", pa.bool_()),
    ("periods_per_year", pa.int32()), ("national_total", pa.bool_()), ("from_registry", pa.string()),
    ("unread_date_column", pa.string()),
])


def _record_file(con, file_id: int, raw, received_at: datetime, outcome: read_step.ReadOutcome,
                 buffer: staging.StageBuffer | None = None) -> None:
    """The file's row of stage_file, and its rejection if it was rejected (through the stage
    buffer, like its rows)."""
    if buffer is None:
        buffer = staging.StageBuffer(con)
        _record_file(con, file_id, raw, received_at, outcome, buffer)
        buffer.flush()
        return
    rejection = outcome.rejection
    layout = outcome.layout
    aggregate = outcome.aggregate  # a layout's, or monthly records of raw contract v1
    buffer.add(file_id, "stage_file", pa.Table.from_pylist([{
        "file_id": file_id, "file_path": raw.rel_path, "observatory": raw.observatory, "kind": outcome.kind,
        "sha256": raw.sha256, "received_at": received_at, "encoding": outcome.encoding,
        "delimiter": outcome.delimiter, "decimal_mark": outcome.decimal_mark, "rows_read": outcome.rows_read,
        "rejected": rejection is not None, "layout": layout.name if layout else None,
        "rows_skipped": outcome.rows_skipped, "aggregate": aggregate is not None,
        "periods_per_year": aggregate.periods_per_year if aggregate else None,
        "national_total": bool(aggregate and aggregate.national_total), "from_registry": outcome.from_registry,
        "unread_date_column": outcome.unread_date_column,
    }], schema=STAGE_FILE_SCHEMA))
    if rejection:
        buffer.add_problems(file_id, [(file_id, None, None, rejection.reason_code, json.dumps(rejection.details, default=str))])


def validate(settings: Settings) -> list[validate_step.ValidationSummary]:
    """The suites on what was staged; with nothing staged, nothing is validated (and Great
    Expectations is not even imported)."""
    with working_db(settings) as con:
        if not state.staged_rows(con):
            if not settings.keep_validation_worker:
                validate_worker.discard()  # started early for files that brought nothing to validate
            return [validate_step.ValidationSummary(suite=kind) for kind in validate_step.HARMONIZED_TABLES]
        reference.install(con)
        return validate_step.validate(con, settings)


def build(settings: Settings) -> build_step.BuildSummary | None:
    """Apply what was staged; None when nothing was staged and the rules did not change."""
    with working_db(settings) as con:
        if not state.build_pending(con, settings):
            return None
        reference.install(con)
        layouts.install(con)
        return build_step.build(con, state.rules(settings))


def build_marts(settings: Settings) -> dict[str, int] | None:
    """Rebuild the marts; None when the curated tables, the marts' SQL, the reference data and
    the years are those they were last built from."""
    with working_db(settings) as con:
        if not state.marts_pending(con, settings):
            return None
        reference.install(con)
        # One transaction with their fingerprint: marts rebuilt half-way never pass for current.
        con.execute("BEGIN TRANSACTION")
        try:
            counts = build_step.build_marts(con, settings.mart_first_year, settings.mart_last_year, settings.as_of)
            state.put(con, "marts", state.marts(con, settings))
            state.put(con, "marts_built_from", state.marts(con, settings, day=False))
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            raise
        return counts


def publish(settings: Settings) -> publish_step.PublishSummary | None:
    """Publish the curated tables, then the staff receipts of every file; None when what is
    published is already what the working database holds and the exports and the report were
    made from it (the files stay byte-identical). When only the exports or the report are
    behind the publication, the published files are left as they are (`unchanged`) and what
    follows makes them."""
    with working_db(settings) as con:
        leftovers.remove(settings.temp_dir)  # also for the nightly marts job, which stages nothing
        if not state.publish_pending(con, settings):
            return None
        if not state.publication_due(con, settings):
            log.info("published files current; the exports or the report are behind them")
            return publish_step.PublishSummary(settings.published_db, settings.parquet_dir, {}, unchanged=True)
        _check_unpassed(con, settings)
        summary = publish_step.publish(con, settings)
        receipts.write_due(con, settings)
        state.put(con, "published", state.published(con, settings))
        return summary


def export(settings: Settings) -> exports_step.ExportSummary:
    """CSV, data dictionary and datapackage.json, from the published database (not the working
    one): whatever the publication withholds, the exports withhold too."""
    return exports_step.export(settings.published_db, settings.exports_dir, settings.reader_config())


def report(settings: Settings) -> "report_step.ReportSummary":
    """The offline HTML report (Spanish, and English under en/), from the published database."""
    from observatory import report as report_step

    return report_step.build(settings.published_db, settings.report_dir, config=settings.reader_config())


OUTPUTS: dict[str, Callable[[Settings], object]] = {"research_exports": export, "report": report}
if tuple(OUTPUTS) != state.OUTPUTS:  # what each was made from is recorded under these names
    raise RuntimeError(f"pipeline.OUTPUTS {tuple(OUTPUTS)} and state.OUTPUTS {state.OUTPUTS} differ")


def outputs(settings: Settings, names: Iterable[str] = OUTPUTS) -> tuple[dict[str, object], dict[str, BaseException]]:
    """The exports and the report side by side: both only read the published database and each
    writes its own folder, and one is mostly DuckDB writing CSV while the other is mostly Python
    rendering pages, so on two cores they overlap (a quarter less time at 100,000 rows). Returns
    what was made and what failed: one failing never stops the other. Both threads are waited
    for even on an interrupt, so the caller's writer lock is never released while one writes."""
    wanted = set(names)
    faults.point("outputs_before_making")
    if unknown := wanted - set(OUTPUTS):
        raise ValueError(f"unknown outputs: {sorted(unknown)}")
    interrupted: BaseException | None = None
    with ThreadPoolExecutor(max_workers=len(wanted) or 1, thread_name_prefix="outputs") as pool:
        futures = {name: pool.submit(OUTPUTS[name], settings) for name in OUTPUTS if name in wanted}
        # Waited for on the futures, not by joining the threads: an interrupted join can take
        # a running thread for ended (CPython's bpo-45274 handling), a future's state cannot lie.
        while True:
            try:
                wait(futures.values())
                break
            except BaseException as interrupt:  # Ctrl+C, a terminated Dagster run: raised again once both end
                interrupted = interrupt
    if interrupted is not None:
        raise interrupted
    made = {name: future.result() for name, future in futures.items() if future.exception() is None}
    failed = {name: future.exception() for name, future in futures.items() if future.exception() is not None}
    if settings.working_db.is_file():  # `observatory report` may run where only the publication is
        with working_db(settings) as con:
            state.outputs_made(con, made)
    return made, failed


def pending(settings: Settings) -> state.Pending:
    with working_db(settings) as con:
        return state.pending(con, settings)


def check_file(path: Path, settings: Settings, observatory: str | None = None) -> receipts.Receipt:
    """A dry run for staff: the same reading, validation and build as a run, in an in-memory
    database, so nothing is written anywhere. The observatory is `observatory`, else the first
    folder under the raw folder, else (a file outside it) the file's own folder."""
    path = path.resolve()
    try:
        rel = path.relative_to(settings.raw_dir.resolve())
        rel_path, folder = rel.as_posix(), (rel.parts[0] if len(rel.parts) > 1 else path.parent.name)
    except ValueError:
        rel_path, folder = path.name, path.parent.name
    observatory = observatory or folder
    raw = RawFile(path, rel_path, observatory, sha256_of(path))
    if withdrawals.load(settings.withdrawn_list).covers(raw.rel_path, raw.sha256):
        return receipts.withdrawn_receipt(raw)  # a run would not read it
    duplicate = receipts.duplicate_receipt(raw, settings.published_db, settings.raw_dir)
    if duplicate is not None:  # what a run would record: the content was already received
        return duplicate
    _remove_stale_check_folders(settings)
    with tempfile.TemporaryDirectory(prefix=CHECK_PREFIX) as temp:
        # DuckDB spills an in-memory database into ./.tmp of wherever the command runs: here, into
        # the folder removed with the check, or by a later check if this one is killed.
        con = duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit, "temp_directory": temp})
        try:
            reference.install(con)
            build_step.ensure_working_tables(con)
            staging.create_stage_tables(con)
            outcome = read_step.read_file(con, path, 1, 0, settings.file_limits(), Path(temp), observatory=observatory)
            _record_file(con, 1, raw, datetime.now(timezone.utc).replace(tzinfo=None), outcome)
            harmonize_step.harmonize(con)
            validate_step.validate(con, settings)
            layouts.install(con)
            build_step.build(con, "")
            return receipts.from_tables(con, "file_receipt", "quarantine")[0]
        finally:
            con.close()


# --- invariants, checked before anything is published ------------------------------------
#
# The blocking checks (Dagster's asset checks, or the steps') run each invariant after the build
# and after the marts, and a pass is recorded with the version of the tables it was checked on.
# Publishing then checks again whatever was not passed at the current version: a run that left
# the checks out (the nightly marts job, which selects the marts and what follows them, or the
# publication materialized by hand in the Dagster UI) after a build that failed one never
# publishes what failed it, nor marts that were not built from the current tables. A normal run
# checks each invariant once.

class MissingTable(RuntimeError):
    """An invariant's table does not exist: the check fails, it never passes on nothing."""


class InvariantFailed(RuntimeError):
    """An invariant does not hold on what would be published: nothing is published."""


def _remove_stale_check_folders(settings: Settings) -> None:
    """A killed `observatory check` leaves its folder, with the UTF-8 copy of the file it checked
    (every cell): a later check removes such folders once older than any check could take."""
    cutoff = time.time() - max(STALE_CHECK_SECONDS, 2 * settings.max_file_seconds)
    for folder in Path(tempfile.gettempdir()).glob(f"{CHECK_PREFIX}*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # another user's, or gone meanwhile
            continue


def _require(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if not state.has_tables(con, table):
        raise MissingTable(f"table {table} is missing from the working database / falta la tabla {table}")


def _unbalanced_receipts(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[tuple]:
    _require(con, "file_receipt")
    return con.execute("""
        SELECT file_path, rows_read, rows_loaded, rows_quarantined FROM file_receipt
        WHERE rows_read <> rows_loaded + rows_quarantined ORDER BY file_path
    """).fetchall()


def _duplicated_keys(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    key = observation_key.columns()
    _require(con, "fact_observation")
    # Keys are grouped by their 64-bit hash first (three times faster than by eight
    # columns); only rows whose hash repeats are grouped exactly, so a collision is no duplicate.
    return con.execute(f"""
        WITH repeated AS (SELECT hash({key}) AS h FROM fact_observation GROUP BY h HAVING count(*) > 1)
        SELECT count(*) FROM (
            SELECT {key} FROM fact_observation WHERE hash({key}) IN (SELECT h FROM repeated)
            GROUP BY ALL HAVING count(*) > 1)
    """).fetchall()[0][0]


def _unknown_countries(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    _require(con, "fact_observation")
    return con.execute(
        "SELECT count(*) FROM fact_observation ANTI JOIN dim_country USING (country_iso3)"
    ).fetchall()[0][0]


def _missing_country_years(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    _require(con, "mart_country_progress")
    return con.execute("""
        SELECT count(*) FROM dim_country
        CROSS JOIN range(?, ? + 1) AS years(year)
        ANTI JOIN mart_country_progress AS m
          ON m.country_iso3 = dim_country.country_iso3 AND m.year = years.year
    """, [settings.mart_first_year, settings.mart_last_year]).fetchall()[0][0]


def _tables_version(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The curated tables' version (bumped by every build) and the observation key they are
    checked on (schema.yaml's: a new key makes the old pass worthless)."""
    return f"{state.get(con, 'data_version')}:{observation_key.key()}"


def _marts_version(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The fingerprint of the last marts build (the data version and the years in it)."""
    return state.get(con, "marts") or ""


# Each invariant: the version of the tables it checks, and what breaks it.
INVARIANTS: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection, Settings], str],
                            Callable[[duckdb.DuckDBPyConnection, Settings], object]]] = {
    "unbalanced_receipts": (_tables_version, _unbalanced_receipts),
    "duplicated_keys": (_tables_version, _duplicated_keys),
    "unknown_countries": (_tables_version, _unknown_countries),
    "missing_country_years": (_marts_version, _missing_country_years),
}


def _invariant(con: duckdb.DuckDBPyConnection, settings: Settings, name: str) -> object:
    """What breaks the invariant (nothing: it holds, and the pass is recorded at the version
    the tables had when it was checked)."""
    version, find = INVARIANTS[name]
    checked = version(con, settings)
    found = find(con, settings)
    if not found:
        state.put(con, f"passed:{name}", checked)
    return found


def check_failed(name: str, found: object) -> str:
    """A failed blocking check's one-line reason, with what broke it (20 rows at most)."""
    shown = found if isinstance(found, int) else found[:20]
    return (f"{name}: blocking check failed, nothing published / falló una verificación bloqueante, "
            f"no se publica nada: {shown}")


def _check_unpassed(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Before publishing: the marts are those of the current tables, and every invariant not
    yet passed on the current tables is checked here."""
    if not state.marts_current(con, settings):
        raise InvariantFailed("marts: not built from the current tables, SQL, reference data or years, nothing "
                              "published: materialize the marts first / los marts no se construyeron con las tablas, "
                              "el SQL, los datos de referencia o los años actuales, no se publica nada: materialice "
                              "primero los marts")
    for name, (version, _find) in INVARIANTS.items():
        if state.get(con, f"passed:{name}") == version(con, settings):
            continue
        log.info("%s: not checked on the current tables, checking before publishing", name)
        if found := _invariant(con, settings, name):
            raise InvariantFailed(check_failed(name, found))


def unbalanced_receipts(settings: Settings) -> list[tuple]:
    """Files whose rows_read is not rows_loaded + rows_quarantined: rows lost or counted twice."""
    with working_db(settings) as con:
        return _invariant(con, settings, "unbalanced_receipts")


def duplicated_keys(settings: Settings) -> int:
    """Observation keys that appear more than once in fact_observation (must be none)."""
    with working_db(settings) as con:
        return _invariant(con, settings, "duplicated_keys")


def unknown_countries(settings: Settings) -> int:
    """fact_observation rows whose country is not in dim_country."""
    with working_db(settings) as con:
        return _invariant(con, settings, "unknown_countries")


def missing_country_years(settings: Settings) -> int:
    """(country, year) pairs of dim_country x the mart years that mart_country_progress lacks."""
    with working_db(settings) as con:
        return _invariant(con, settings, "missing_country_years")


def table_summaries(settings: Settings, tables: Iterable[str]) -> dict[str, tuple[int, list[tuple[str, str]]]]:
    """Row count and columns (name, type) of each table, for the Dagster UI. No rows: Dagster
    keeps its metadata for good, and the working tables hold figures the publication withholds
    (small cells) and the names of staff's files."""
    summaries = {}
    with working_db(settings) as con:
        for table in tables:
            if not state.has_tables(con, table):
                summaries[table] = (0, [])
                continue
            count = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
                                  "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", [table]).fetchall()
            summaries[table] = (count, columns)
    return summaries
