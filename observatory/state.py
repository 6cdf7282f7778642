"""What the working database and the published files were last made from, so that a run with
nothing new does nothing, and a run with something new redoes only the steps it touches.

Each step compares a fingerprint of its inputs with the one stored in `pipeline_state` when it
last ran: `rules` (the code, layouts, suites, reference data and SQL every file is read and
checked with: when they change, every raw file is read again), `data_version` (bumped by every
build that changed the curated tables), `marts` and `published`. It also keeps, per invariant,
the version of the tables its blocking check last passed on (`passed:<name>`, pipeline.py), and
what the marts were last built from, the day aside (`marts_built_from`), and the publication each
output (the exports, the report) was last made from (`made_from:<output>`).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import duckdb

from observatory import layouts, leftovers, observation_key, reference, validate_worker, withdrawals
from observatory.discover import discover
from observatory.lock import WriterBusy, writer_lock
from observatory.settings import Settings

PACKAGE_DIR = Path(__file__).parent
# Set by a build that withdrew files (build.py), cleared by the next publication, which is then
# made fresh (publish.py): a copy of the published file would keep the withdrawn rows' bytes.
WITHDRAWN_KEY = "withdrawn_unpublished"


def digest(paths: Iterable[Path], *extra: object) -> str:
    """Changes when any file's name or bytes change, or any extra value does."""
    hashed = hashlib.sha256()
    for path in sorted(paths):
        hashed.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for value in extra:
        hashed.update(str(value).encode() + b"\0")
    return hashed.hexdigest()


# Code that only shapes what is published (the published copy, its small cells, the exports
# and the report): a change to it publishes again, it does not read every raw file again.
PUBLISHING_CODE = ("publish.py", "publication.py", "small_cells.py", "exports.py", "report.py", "charts.py")


def rules(settings: Settings) -> str:
    """Everything a raw file is read, harmonized, validated and built with, the limits of one
    file included (raising a limit reads again the files it refused)."""
    code = [path for path in sorted(PACKAGE_DIR.rglob("*.py")) if path.name not in PUBLISHING_CODE]  # layouts/ too
    return digest(
        [*code, *layouts.LAYOUTS_DIR.glob("*.yaml"), *layouts.deployment_files(), *reference.REFERENCE_DIR.glob("*.csv"),
         *(PACKAGE_DIR / "sql").glob("*.sql"), *settings.expectations_dir.glob("*.json")],
        settings.min_year, settings.max_year, settings.file_limits(), settings.duckdb_memory_limit,
        observation_key.key(),  # schema.yaml's key shapes the build (the rest of it only the publication)
    )


def marts(con: duckdb.DuckDBPyConnection, settings: Settings, day: bool = True) -> str:
    """The marts are a function of the curated tables, their SQL, the reference data and the years;
    of the as_of day only while a provisional year is shown (complete years do not move with it).
    Without the day: what the marts are built from, which a run crossing midnight does not change."""
    return digest(
        [*(PACKAGE_DIR / "marts").glob("*.sql"), *reference.REFERENCE_DIR.glob("*.csv"), PACKAGE_DIR / "sql" / "macros.sql"],
        get(con, "data_version"), settings.mart_first_year, settings.mart_last_year,
        settings.as_of if day and settings.mart_has_provisional_year else None,
    )


def published(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """What is published: the marts (and so the curated tables), the public schema in English
    and Spanish, the code and templates of the publication, the exports and the report, the
    small-cell threshold and the published database's storage version."""
    return digest(
        [PACKAGE_DIR / "schema.yaml", PACKAGE_DIR / "schema_es.yaml", PACKAGE_DIR / "exports.yaml",
         *(PACKAGE_DIR / name for name in PUBLISHING_CODE), *(PACKAGE_DIR / "report_templates").glob("*")],
        get(con, "marts"), settings.small_cell_k, settings.published_storage_version,
    )


def get(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    return con.execute("SELECT max(value) FROM pipeline_state WHERE key = ?", [key]).fetchall()[0][0]


def put(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("DELETE FROM pipeline_state WHERE key = ?", [key])
    con.execute("INSERT INTO pipeline_state VALUES (?, ?)", [key, value])


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    put(con, "data_version", str(int(get(con, "data_version") or 0) + 1))


def staged_anything(con: duckdb.DuckDBPyConnection) -> bool:
    """Files to apply: read ones, duplicates to record, withdrawn ones or gone ones to remove."""
    return _any_rows(con, "stage_file", "stage_duplicate", "stage_withdrawn", "stage_gone")


def staged_rows(con: duckdb.DuckDBPyConnection) -> bool:
    """Rows to validate (a run that only saw duplicates of files already loaded has none)."""
    return _any_rows(con, "stage_row", "stage_policy_row")


def _any_rows(con: duckdb.DuckDBPyConnection, *tables: str) -> bool:
    """Whether any of these tables that exist has a row (a working database made before a stage
    table was added lacks it until a run's stage creates it)."""
    tables = tuple(table for table in tables if has_tables(con, table))
    if not tables:
        return False
    counts = " + ".join(f"(SELECT count(*) FROM {table})" for table in tables)
    return bool(con.execute(f"SELECT {counts}").fetchall()[0][0])


@dataclass
class Pending:
    """Which steps have work to do now. A Dagster asset whose step and later steps have none is
    not materialized, so the run records that nothing changed."""

    build: bool
    marts: bool
    publish: bool


def pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> Pending:
    build_due = build_pending(con, settings)
    marts_due = build_due or marts_pending(con, settings)
    return Pending(build_due, marts_due, marts_due or publish_pending(con, settings))


def build_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    return staged_anything(con) or get(con, "rules") != rules(settings)


def marts_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    return (get(con, "marts") != marts(con, settings) or not marts_current(con, settings)
            or not has_tables(con, "mart_country_progress"))


def marts_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the marts were last built from the curated tables, SQL, reference data and years
    as they are now (`marts_built_from`), whatever the day."""
    return get(con, "marts_built_from") == marts(con, settings, day=False)


def publish_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the publication or what is made from it (the exports, the report) is behind."""
    if publication_due(con, settings):
        return True
    if not settings.exports_dir.resolve().is_dir() or not (settings.report_dir / "index.html").is_file():
        return True  # made after each publication
    return bool(outputs_behind(con))


def publication_due(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the published database and Parquet files are missing or behind the working
    database. Curated tables newer than the marts count as behind (a build whose marts were not
    rebuilt, then the publication materialized alone): publishing then refuses, saying so."""
    if not settings.published_db.is_file() or not settings.parquet_dir.resolve().is_dir():
        return True
    return get(con, "published") != published(con, settings) or not marts_current(con, settings)


# What pipeline.outputs makes from each publication. Until both are made from the current one
# (a run killed or failed after publishing, or a publication materialized alone in Dagster),
# publishing is pending again: the next run leaves the published files as they are and makes them.
OUTPUTS = ("research_exports", "report")


def outputs_behind(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The outputs not made from what is published now."""
    current = get(con, "published")
    return [name for name in OUTPUTS if get(con, f"made_from:{name}") != current]


def outputs_made(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    for name in names:
        put(con, f"made_from:{name}", get(con, "published") or "")


def has_tables(con: duckdb.DuckDBPyConnection, *tables: str) -> bool:
    """Whether every one of these tables is in the connection's own database (not an attached one)."""
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name IN ?",
        [list(tables)],
    ).fetchall()[0][0] == len(tables)


def nothing_to_do(settings: Settings) -> dict[str, int] | None:
    """What a run finds when it has nothing to do — no new, changed or re-dropped raw file, no
    withdrawal to apply, and nothing left to build, rebuild or publish — told apart before Dagster, the steps or Great
    Expectations are imported (their start-up is most of such a run); None when there is work,
    or when another run is writing (that run's Dagster step then says so). The same discovery
    (every file hashed) and the same fingerprints as the steps' own."""
    if settings.revalidate_all or not settings.raw_dir.is_dir() or not settings.working_db.is_file():
        return None
    try:
        with writer_lock(settings.work_dir), duckdb.connect(str(settings.working_db)) as con:
            if not has_tables(con, "file_receipt", "pipeline_state", "stage_file", "stage_duplicate"):
                return None
            started = time.time_ns()
            found = discover(con, settings.raw_dir, withdrawn=withdrawals.load(settings.withdrawn_list))
            if found.to_read or found.duplicates or found.to_remove or found.gone or pending(con, settings).publish:
                return None
            validate_worker.mark_discovered(settings.discovery_marker, started)
            leftovers.remove(settings.temp_dir)  # a run killed while making the exports or the report
            return {"files_seen": found.seen, "unchanged": len(found.unchanged), "withdrawn": len(found.withdrawn)}
    except WriterBusy:
        return None
