"""Publish: copy the public tables of the working database into a new DuckDB file and Parquet
files, then rename them over the published ones. A reader holding the old file keeps its
snapshot; nobody ever sees a half-written database.

When only data changed since the last publication (publication.py), the new file starts as a
copy of the published one and only the rows of the changed groups (a country's indicator in
one year), the mart rows of their countries and the changed small tables are written (and
suppressed again), and only the changed tables' Parquet files; the rest of the Parquet set is
shared with the previous version folder. Otherwise every table is created
anew. Either way the result is the same tables, comments and suppression flags."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shutil
import uuid

import duckdb
import yaml

from observatory import faults, publication, small_cells, state
from observatory.settings import Settings
from observatory.sqltext import sql_literal

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).parent / "schema.yaml"
# Rows of fact_observation and observation_history decided and written at a time (whole
# countries) in a full publication: bounds its memory.
SUPPRESSION_PART_ROWS = 2_000_000


@dataclass
class PublishSummary:
    database: Path
    parquet_dir: Path
    tables: dict[str, int]
    # Nothing was published again: the files were current, only the exports or the report were
    # behind them (`tables` is then empty).
    unchanged: bool = False


@lru_cache(maxsize=1)
def public_schema() -> dict:
    """Table -> {description, columns: {name: [type, description]}}, from schema.yaml."""
    return load_yaml(SCHEMA_FILE)


def load_yaml(path: Path) -> dict:
    """Safe YAML, with libyaml's loader where PyYAML has it: the publishing step reads the
    schema, its Spanish texts and the report's words, and the pure-Python loader takes ten
    times as long."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def publish(con: duckdb.DuckDBPyConnection, settings: Settings) -> PublishSummary:
    """Build the new database and Parquet set beside the published ones, then swap each in
    with one rename. Leftovers of a run that died half-way are cleared first (the caller holds
    the writer lock, so no other run is using them)."""
    settings.curated_dir.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(settings)
    staging = settings.curated_dir / f".{settings.published_db.name}.{os.getpid()}.tmp"
    # Taken once, before anything is built: what is recorded after the rename is what the files
    # were made with, even if code or reference data change on disk meanwhile.
    made_with = publication.context(settings)
    delta = publication.delta(con, settings, public_schema(), made_with)
    if state.get(con, state.WITHDRAWN_KEY):
        delta = None  # made fresh: a copy would keep the withdrawn files' names and cells in its free blocks
    previous_parquet = settings.parquet_dir.resolve()
    delta = _attach(con, settings, staging, delta)
    version = settings.curated_dir / f".parquet-{uuid.uuid4().hex}"
    try:
        # One transaction: the changes reach the new file once, at the checkpoint, not
        # statement by statement through its write-ahead log.
        con.execute("BEGIN TRANSACTION")
        try:
            changed = _fill(con, settings, delta)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        counts = {table: con.execute(f"SELECT count(*) FROM pub.{table}").fetchall()[0][0] for table in public_schema()}
        con.execute("CHECKPOINT pub")
        version.mkdir()
        for table in counts:
            if table in changed or not (previous_parquet / f"{table}.parquet").is_file():
                _write_parquet(con, table, version)
            else:
                publication.link_or_copy(previous_parquet / f"{table}.parquet", version / f"{table}.parquet")
    finally:
        con.execute("DETACH pub")
    _fsync(staging)
    publication.forget(con)
    faults.point("publish_before_rename")
    os.replace(staging, settings.published_db)
    faults.point("publish_between_database_and_parquet")
    _swap_parquet(settings.parquet_dir, version)
    publication.record(con, settings, made_with)
    state.put(con, state.WITHDRAWN_KEY, "")
    log.info("published %s (%s): %s", settings.published_db,
             "in full" if delta is None else f"changed: {sorted(changed)}, {delta.groups} groups, mart countries {delta.mart_countries}", counts)
    return PublishSummary(settings.published_db, settings.parquet_dir, counts)


def _attach(con: duckdb.DuckDBPyConnection, settings: Settings, staging: Path,
            delta: publication.Delta | None) -> publication.Delta | None:
    """Attach the database being made as `pub`: a copy of the published one when a delta
    applies to it and removes no staff text, else a new file. Returns the delta, None when the
    copy is not used."""
    # The working database stays in DuckDB 2's format; only the published copy is written in
    # the older one, so researchers' 1.x clients open it (a copy keeps the format it has).
    attach = f"ATTACH {sql_literal(staging)} AS pub (STORAGE_VERSION {sql_literal(settings.published_storage_version)})"
    if delta is not None:
        shutil.copyfile(settings.published_db, staging)
        con.execute(attach)
        if not publication.too_sparse(con, "pub") and not publication.withdraws_text(con, delta):
            return delta
        con.execute("DETACH pub")
        staging.unlink()
    con.execute(attach)
    return None


def _fill(con: duckdb.DuckDBPyConnection, settings: Settings, delta: publication.Delta | None) -> set[str]:
    """Write the tables into `pub`, small cells suppressed (in what is published, and so in what
    is built from it); returns the tables changed. The observations are written once, already
    suppressed: updating millions of rows after writing them cost more than writing them."""
    k = settings.small_cell_k
    if delta is None:
        for table, spec in public_schema().items():
            _create_table(con, table, spec)
            if table not in publication.OBSERVATION_TABLES:
                _insert_rows(con, table, "TRUE")
        _observations_in_parts(con, k)
        return set(public_schema())
    changed = small_cells.groups_in(publication.CHANGED_GROUPS)
    for table in publication.OBSERVATION_TABLES:
        if delta.groups:
            con.execute(f"DELETE FROM pub.{table} AS {table} WHERE {changed(table)}")
    if delta.mart_countries:
        _replace_rows(con, publication.MART_TABLE, small_cells.countries_in(delta.mart_countries)(publication.MART_TABLE))
    for table in delta.tables:
        _replace_rows(con, table, "TRUE")
    small_cells.decide(con, "main", k, changed, earlier_totals="main.publication_hidden_total")
    if delta.groups:
        for table in publication.OBSERVATION_TABLES:
            _insert_rows(con, table, _found_first(table, changed), k=k)
    small_cells.withhold_mart(con, "pub", delta.mart_countries)
    return delta.changed_tables()


def _found_first(table: str, scope: small_cells.Scope) -> str:
    """The rows `scope` selects in main.table, found by their row ids first: DuckDB then reads
    every column of those rows only, where the scope's join alone had it read every column of
    every row before filtering (0.6 to 0.4 s per big table for a new file among 5 million rows)."""
    return f"{table}.rowid IN (SELECT _scoped.rowid FROM main.{table} AS _scoped WHERE {scope('_scoped')})"


def _observations_in_parts(con: duckdb.DuckDBPyConnection, k: int) -> None:
    """Suppression works within a country (within a group, even), so millions of figures are
    decided and written a few countries at a time, each part committed (the file is nobody's
    until the rename): at five million rows, all at once does not fit DuckDB's memory limit.
    The countries are those of both tables: a key may be left only in observation_history."""
    sizes = con.execute("SELECT country_iso3, sum(n) FROM (" + " UNION ALL ".join(
        f"SELECT coalesce(country_iso3, '') AS country_iso3, count(*) AS n FROM main.{table} GROUP BY 1"
        for table in publication.OBSERVATION_TABLES) + ") GROUP BY 1 ORDER BY 1").fetchall()
    parts: list[list[str] | None] = [None]  # None: every country at once
    if sum(rows for _, rows in sizes) > SUPPRESSION_PART_ROWS:
        parts, filled = [[]], 0
        for country, rows in sizes:
            if parts[-1] and filled + rows > SUPPRESSION_PART_ROWS:
                parts.append([])
                filled = 0
            parts[-1].append(country)
            filled += rows
    con.execute("CREATE OR REPLACE TEMP TABLE _hidden_so_far "
                "(country_iso3 VARCHAR, year INTEGER, indicator_code VARCHAR, source VARCHAR)")
    for countries in parts:
        part = None if countries is None else small_cells.countries_in(countries)
        small_cells.decide(con, "main", k, part, earlier_totals="_hidden_so_far")
        for table in publication.OBSERVATION_TABLES:
            _insert_rows(con, table, "TRUE" if part is None else part(table), k=k)
        small_cells.withhold_mart(con, "pub", countries)
        # _hidden_total: this part's hidden national totals and the earlier parts' ones.
        con.execute("CREATE OR REPLACE TEMP TABLE _hidden_so_far AS SELECT * FROM _hidden_total")
        con.execute("COMMIT")
        con.execute("BEGIN TRANSACTION")


def _swap_parquet(link: Path, version: Path) -> None:
    """`parquet` is a symbolic link to the current version folder: replacing the link is one
    atomic rename, so readers see the whole old set or the whole new one."""
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # a plain folder from an older layout
    previous = link.resolve() if link.is_symlink() else None
    staging_link = link.with_name(f".{link.name}.{os.getpid()}.link")
    staging_link.unlink(missing_ok=True)
    staging_link.symlink_to(version.name)
    os.replace(staging_link, link)
    if previous and previous != version and previous.exists():
        shutil.rmtree(previous)


def _clear_leftovers(settings: Settings) -> None:
    current = settings.parquet_dir.resolve() if settings.parquet_dir.is_symlink() else None
    for path in settings.curated_dir.glob(".*"):
        if path.name.endswith((".tmp", ".tmp.wal", ".link")):
            path.unlink()
        elif path.name.startswith(".parquet-") and path != current:
            shutil.rmtree(path)


def _create_table(con: duckdb.DuckDBPyConnection, table: str, spec: dict) -> None:
    columns = spec["columns"]
    ddl = ", ".join(f"{name} {kind}" for name, (kind, _) in columns.items())
    con.execute(f"CREATE TABLE pub.{table} ({ddl})")
    con.execute(f"COMMENT ON TABLE pub.{table} IS {sql_literal(spec['description'])}")
    for name, (_, description) in columns.items():
        con.execute(f"COMMENT ON COLUMN pub.{table}.{name} IS {sql_literal(description)}")


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list | None = None,
                 k: int | None = None) -> None:
    """The rows `where` selects (naming the table's columns bare or as `table.column`) from the
    working database into `pub`; with k, as published after small_cells.decide()."""
    columns = list(public_schema()[table]["columns"])
    select = (f"SELECT {', '.join(columns)} FROM main.{table} AS {table} WHERE {where}" if k is None
              else small_cells.published_rows(table, "main", columns, where, k))
    con.execute(f"INSERT INTO pub.{table} {select}", params or [])


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list | None = None) -> None:
    """The rows `where` selects again from the working database: the table, its comments and
    the other rows stay."""
    con.execute(f"DELETE FROM pub.{table} AS {table} WHERE {where}", params or [])
    _insert_rows(con, table, where, params)


def _write_parquet(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    target = folder / f"{table}.parquet"
    columns = ", ".join(public_schema()[table]["columns"])
    con.execute(f"COPY (SELECT {columns} FROM pub.{table}) TO {sql_literal(target)} (FORMAT parquet)")
    _fsync(target)


def _fsync(path: Path) -> None:
    """The bytes reach the disk before the rename makes them visible."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())

