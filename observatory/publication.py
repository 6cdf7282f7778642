"""What the last publication was made from, so that the next one redoes only what changed.

A publication is a function of the working database's public tables and of its context: the
publishing code, the public schema, the reference data (which indicators are sensitive, which
unit lies within which), k, the published storage version and the DuckDB library. When the
context is the one the published files were made in, and those files are the ones recorded
here, the next publication copies the published database and applies the delta: the rows of
the groups (a country's indicator in one year) whose unsuppressed figures changed (suppression
works within one group, see small_cells), the mart rows of their countries, and the small
tables whose content changed. Anything else is a full rebuild.

Changes are found by content, in DuckDB, not by which raw files a run read: a removed or
revised file changes a group as much as a new one. Per group of fact_observation and
observation_history, per country of mart_country_progress, and per table for the others, a fingerprint
(row count and two order-free sums of 64-bit row hashes) of the unsuppressed rows is kept in
the working database (`publication_fingerprint`), with the suppressed national totals
(`publication_hidden_total`, which withhold a mart's latest figure) and the identity of the
published files, all written in one transaction after the files are renamed in: a run that
dies before that finds the identity changed and rebuilds in full.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from observatory import reference, small_cells, state
from observatory.settings import Settings

# The tables small-cell suppression touches: the observations, kept per group (country, year,
# indicator: small_cells.groups_in), and the mart, per country.
OBSERVATION_TABLES = ("fact_observation", "observation_history")
MART_TABLE = "mart_country_progress"
COUNTRY_TABLES = (*OBSERVATION_TABLES, MART_TABLE)  # fingerprinted by part, the others whole
WHOLE = "*"  # the country_iso3 of a whole-table fingerprint (no ISO3 code is '*')
# The groups whose observations a delta replaces and suppresses again (small_cells.groups_in).
CHANGED_GROUPS = "_changed_groups"
CONTEXT_KEY = "publication_context"
FILES_KEY = "publication_files"
# A copied database whose free blocks pass this share of its blocks is rebuilt instead: deletes
# leave holes that later inserts only partly fill. At 1M rows, replacing three countries a run,
# the share settles near 0.3 (the file about 1.3x a fresh one), so this bounds the file at 2x
# without rebuilding every few runs.
MAX_FREE_SHARE = 0.5
# Free text staff typed that loads as typed (the marts quote titles and identifiers too): a
# publication that removes one of these texts is made fresh (withdraws_text). Quarantine
# messages quote no cell that could name a person (privacy.quotable), so a corrected file,
# the common case, still publishes a delta.
TEXT_COLUMNS = {"policy_instrument": ("title", "identifier", "source")}
# Beside the files of a versioned output folder (exports, report): what each was made from.
MANIFEST = ".manifest.json"


@dataclass
class Delta:
    """What to change in a copy of the published database."""
    groups: int = 0  # how many groups' fact_observation and observation_history rows are redone (CHANGED_GROUPS)
    mart_countries: list[str] = field(default_factory=list)  # mart_country_progress rows redone
    tables: list[str] = field(default_factory=list)  # other tables replaced whole

    def changed_tables(self) -> set[str]:
        """The published tables whose rows this delta changes (their Parquet files are rewritten)."""
        return {*self.tables, *(OBSERVATION_TABLES if self.groups else ()),
                *((MART_TABLE,) if self.mart_countries else ())}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS publication_fingerprint "
                "(tbl VARCHAR, country_iso3 VARCHAR, year INTEGER, indicator_code VARCHAR, fingerprint VARCHAR)")
    # Made per country by earlier versions. Never read as they are: publication.py is part of the
    # context, so the first publication after the upgrade is a full one and records groups.
    con.execute("ALTER TABLE publication_fingerprint ADD COLUMN IF NOT EXISTS year INTEGER")
    con.execute("ALTER TABLE publication_fingerprint ADD COLUMN IF NOT EXISTS indicator_code VARCHAR")
    con.execute("CREATE TABLE IF NOT EXISTS publication_hidden_total "
                "(country_iso3 VARCHAR, year INTEGER, indicator_code VARCHAR, source VARCHAR)")


def context(settings: Settings) -> str:
    """Everything but the data that the published files depend on."""
    return state.digest(
        [*(state.PACKAGE_DIR / name for name in state.PUBLISHING_CODE), state.PACKAGE_DIR / "schema.yaml",
         *reference.REFERENCE_DIR.glob("*.csv")],
        settings.small_cell_k, settings.published_storage_version, duckdb.__version__, small_cells.sensitive_indicators(),
    )


def files_identity(settings: Settings) -> str | None:
    """The published database and Parquet folder as they are on disk (a new file has a new
    inode and time; every Parquet version folder has a new name); None when either is missing."""
    if not settings.published_db.is_file() or not settings.parquet_dir.is_symlink():
        return None
    folder = settings.parquet_dir.resolve()
    if not folder.is_dir():
        return None
    stat = settings.published_db.stat()
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{folder.name}"


def fingerprint(con: duckdb.DuckDBPyConnection, schema: dict) -> None:
    """_fingerprint: the fingerprint of each table of the public schema in the working
    database, per group of the observations and per country of the mart."""
    parts = []
    for table, spec in schema.items():
        columns = ", ".join(spec["columns"])
        value = (f"count(*)::VARCHAR || ':' || coalesce(sum(hash({columns})::HUGEINT), 0)::VARCHAR || ':' "
                 f"|| coalesce(bit_xor(hash({columns}, '~')), 0)::VARCHAR")
        if table in OBSERVATION_TABLES:
            parts.append(f"SELECT '{table}' AS tbl, coalesce(country_iso3, '') AS country_iso3, year, indicator_code, "
                         f"{value} AS fingerprint FROM main.{table} GROUP BY 2, 3, 4")
        elif table == MART_TABLE:
            parts.append(f"SELECT '{table}' AS tbl, coalesce(country_iso3, '') AS country_iso3, NULL::INTEGER AS year, "
                         f"NULL AS indicator_code, {value} AS fingerprint FROM main.{table} GROUP BY 2")
        else:
            parts.append(f"SELECT '{table}' AS tbl, '{WHOLE}' AS country_iso3, NULL::INTEGER AS year, NULL AS indicator_code, "
                         f"{value} AS fingerprint FROM main.{table}")
    con.execute("CREATE OR REPLACE TEMP TABLE _fingerprint AS " + " UNION ALL ".join(parts))


def delta(con: duckdb.DuckDBPyConnection, settings: Settings, schema: dict, made_with: str) -> Delta | None:
    """What changed since the last publication, or None when it must be rebuilt in full: no
    record of it, its files replaced or missing since, another context (`made_with`), or other
    subnational units (their parents decide which figures are suppressed in every country).
    Computes _fingerprint either way."""
    ensure_tables(con)
    fingerprint(con, schema)
    identity = files_identity(settings)
    if identity is None or state.get(con, FILES_KEY) != identity or state.get(con, CONTEXT_KEY) != made_with:
        return None
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _changed AS
        SELECT coalesce(n.tbl, o.tbl) AS tbl, coalesce(n.country_iso3, o.country_iso3) AS country_iso3,
               coalesce(n.year, o.year) AS year, coalesce(n.indicator_code, o.indicator_code) AS indicator_code
        FROM _fingerprint AS n FULL JOIN main.publication_fingerprint AS o
          ON n.tbl = o.tbl AND n.country_iso3 = o.country_iso3 AND n.year IS NOT DISTINCT FROM o.year
         AND n.indicator_code IS NOT DISTINCT FROM o.indicator_code
        WHERE n.fingerprint IS DISTINCT FROM o.fingerprint
    """)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED_GROUPS} AS SELECT DISTINCT country_iso3, year, indicator_code "
                "FROM _changed WHERE tbl IN (SELECT unnest(?::VARCHAR[]))", [list(OBSERVATION_TABLES)])
    changed = con.execute("SELECT DISTINCT tbl, country_iso3 FROM _changed").fetchall()
    if any(table not in schema or table == "dim_subnational" for table, _ in changed):
        return None
    groups, countries = con.execute(f"SELECT count(*), list(DISTINCT country_iso3) FROM {CHANGED_GROUPS}").fetchall()[0]
    mart = sorted({country for table, country in changed if table == MART_TABLE} | set(countries or []))
    return Delta(groups, mart, sorted({table for table, _ in changed if table not in COUNTRY_TABLES}))


def withdraws_text(con: duckdb.DuckDBPyConnection, delta: Delta) -> bool:
    """Whether the delta removes a text staff typed (`TEXT_COLUMNS`) from what is published: a
    copy would keep its bytes in its free blocks, readable in the file researchers download (a
    title corrected because it named a person), so the publication is made fresh."""
    for table, columns in TEXT_COLUMNS.items():
        if table in delta.tables:
            texts = f"SELECT unnest([{', '.join(columns)}]) AS text FROM {{}}.{table}"
            if con.execute(f"SELECT EXISTS (SELECT text FROM ({texts.format('pub')}) WHERE text IS NOT NULL "
                           f"EXCEPT SELECT text FROM ({texts.format('main')}))").fetchall()[0][0]:
                return True
    return False


def too_sparse(con: duckdb.DuckDBPyConnection, database: str) -> bool:
    """Whether the copied database has so many free blocks that a fresh one is due."""
    free, total = con.execute("SELECT free_blocks, total_blocks FROM pragma_database_size() WHERE database_name = ?",
                              [database]).fetchall()[0]
    return total > 0 and free / total > MAX_FREE_SHARE


def record(con: duckdb.DuckDBPyConnection, settings: Settings, made_with: str) -> None:
    """After the rename: what the published files now are made from, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM publication_fingerprint")
        con.execute("INSERT INTO publication_fingerprint BY NAME SELECT tbl, country_iso3, year, indicator_code, "
                    "fingerprint FROM _fingerprint")
        con.execute("DELETE FROM publication_hidden_total")
        con.execute("INSERT INTO publication_hidden_total SELECT DISTINCT country_iso3, year, indicator_code, source "
                    "FROM _hidden_total")
        state.put(con, CONTEXT_KEY, made_with)
        state.put(con, FILES_KEY, files_identity(settings) or "")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Before the published files change: until record() runs, nothing may be reused."""
    ensure_tables(con)
    state.put(con, FILES_KEY, "")


def link_or_copy(source: Path, target: Path) -> None:
    """A published file (Parquet, export, report page) is never written again once in its
    version folder, so the next version may share it: a hard link, or a copy where links fail."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def current_version(target: Path) -> Path | None:
    """The folder an output's link (exports/, report/) points at now; None before the first."""
    return target.resolve() if target.is_symlink() or target.is_dir() else None


def read_manifest(folder: Path | None) -> dict[str, dict]:
    """What the files of an output folder were made from (path -> fingerprint, bytes, ...);
    none for a folder without a readable manifest (older, or made by hand): then every file is
    made again."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8")) if folder else {}
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def reusable(folder: Path | None, path: str, fingerprint: str, recorded: dict[str, dict]) -> bool:
    """The file can be kept from `folder`: made from the same inputs, still there and of the
    size made (a file edited by hand is made again)."""
    entry = recorded.get(path)
    if folder is None or not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return False
    try:
        return (folder / path).stat().st_size == entry.get("bytes")
    except OSError:
        return False


def write_manifest(folder: Path, manifest: dict[str, dict]) -> None:
    """Written last into the new folder: a crash before leaves the current folder and its
    manifest as they were."""
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
