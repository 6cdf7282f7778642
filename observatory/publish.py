"""Publish: copy the public tables of the working database into a new DuckDB file and Parquet
files, then rename them over the published ones. A reader holding the old file keeps its
snapshot; nobody ever sees a half-written database."""
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

from observatory import faults, small_cells
from observatory.settings import Settings
from observatory.sqltext import sql_literal

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).parent / "schema.yaml"


@dataclass
class PublishSummary:
    database: Path
    parquet_dir: Path
    tables: dict[str, int]


@lru_cache(maxsize=1)
def public_schema() -> dict:
    """Table -> {description, columns: {name: [type, description]}}, from schema.yaml."""
    return yaml.safe_load(SCHEMA_FILE.read_text())


def publish(con: duckdb.DuckDBPyConnection, settings: Settings) -> PublishSummary:
    """Build the new database and Parquet set beside the published ones, then swap each in
    with one rename. Leftovers of a run that died half-way are cleared first (the caller holds
    the writer lock, so no other run is using them)."""
    settings.curated_dir.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(settings)
    staging = settings.curated_dir / f".{settings.published_db.name}.{os.getpid()}.tmp"
    # The working database stays in DuckDB 2's format; only the published copy is written in
    # the older one, so researchers' 1.x clients open it.
    con.execute(f"ATTACH {sql_literal(staging)} AS pub (STORAGE_VERSION {sql_literal(settings.published_storage_version)})")
    version = settings.curated_dir / f".parquet-{uuid.uuid4().hex}"
    try:
        counts = {table: _copy_table(con, table, spec) for table, spec in public_schema().items()}
        # Small cells are suppressed in what is published (and so in what is built from it).
        small_cells.suppress(con, "pub", settings.small_cell_k)
        con.execute("CHECKPOINT pub")
        version.mkdir()
        for table in counts:
            _write_parquet(con, table, version)
    finally:
        con.execute("DETACH pub")
    _fsync(staging)
    faults.point("publish_before_rename")
    os.replace(staging, settings.published_db)
    faults.point("publish_between_database_and_parquet")
    _swap_parquet(settings.parquet_dir, version)
    log.info("published %s: %s", settings.published_db, counts)
    return PublishSummary(settings.published_db, settings.parquet_dir, counts)


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
        if path.name.endswith((".tmp", ".link")):
            path.unlink()
        elif path.name.startswith(".parquet-") and path != current:
            shutil.rmtree(path)


def _copy_table(con: duckdb.DuckDBPyConnection, table: str, spec: dict) -> int:
    columns = spec["columns"]
    ddl = ", ".join(f"{name} {kind}" for name, (kind, _) in columns.items())
    con.execute(f"CREATE TABLE pub.{table} ({ddl})")
    con.execute(f"COMMENT ON TABLE pub.{table} IS {sql_literal(spec['description'])}")
    for name, (_, description) in columns.items():
        con.execute(f"COMMENT ON COLUMN pub.{table}.{name} IS {sql_literal(description)}")
    con.execute(f"INSERT INTO pub.{table} SELECT {', '.join(columns)} FROM main.{table}")
    return con.execute(f"SELECT count(*) FROM pub.{table}").fetchall()[0][0]


def _write_parquet(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    target = folder / f"{table}.parquet"
    columns = ", ".join(public_schema()[table]["columns"])
    con.execute(f"COPY (SELECT {columns} FROM pub.{table}) TO {sql_literal(target)} (FORMAT parquet)")
    _fsync(target)


def _fsync(path: Path) -> None:
    """The bytes reach the disk before the rename makes them visible."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())

