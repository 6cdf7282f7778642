"""Publish: copy the public tables of the working database into a new DuckDB file and Parquet
files, then rename them over the published ones. A reader holding the old file keeps its
snapshot; nobody ever sees a half-written database."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from observatory.settings import Settings

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
    settings.curated_dir.mkdir(parents=True, exist_ok=True)
    settings.parquet_dir.mkdir(parents=True, exist_ok=True)
    staging = settings.curated_dir / f".{settings.published_db.name}.{os.getpid()}.tmp"
    staging.unlink(missing_ok=True)
    con.execute(f"ATTACH {_literal(staging)} AS pub")
    try:
        counts = {table: _copy_table(con, table, spec) for table, spec in public_schema().items()}
        con.execute("CHECKPOINT pub")
    finally:
        con.execute("DETACH pub")
    _fsync(staging)
    os.replace(staging, settings.published_db)
    for table in counts:
        _write_parquet(con, table, settings.parquet_dir)
    log.info("published %s: %s", settings.published_db, counts)
    return PublishSummary(settings.published_db, settings.parquet_dir, counts)


def _copy_table(con: duckdb.DuckDBPyConnection, table: str, spec: dict) -> int:
    columns = spec["columns"]
    ddl = ", ".join(f"{name} {kind}" for name, (kind, _) in columns.items())
    con.execute(f"CREATE TABLE pub.{table} ({ddl})")
    con.execute(f"COMMENT ON TABLE pub.{table} IS {_literal(spec['description'])}")
    for name, (_, description) in columns.items():
        con.execute(f"COMMENT ON COLUMN pub.{table}.{name} IS {_literal(description)}")
    con.execute(f"INSERT INTO pub.{table} SELECT {', '.join(columns)} FROM main.{table}")
    return con.execute(f"SELECT count(*) FROM pub.{table}").fetchone()[0]


def _write_parquet(con: duckdb.DuckDBPyConnection, table: str, parquet_dir: Path) -> None:
    target = parquet_dir / f"{table}.parquet"
    staging = parquet_dir / f".{table}.parquet.{os.getpid()}.tmp"
    columns = ", ".join(public_schema()[table]["columns"])
    con.execute(f"COPY (SELECT {columns} FROM main.{table}) TO {_literal(staging)} (FORMAT parquet)")
    _fsync(staging)
    os.replace(staging, target)


def _fsync(path: Path) -> None:
    """The bytes reach the disk before the rename makes them visible."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _literal(text: object) -> str:
    return "'" + str(text).replace("'", "''") + "'"
