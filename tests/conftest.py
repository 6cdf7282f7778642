"""Shared fixtures: a raw and a curated folder in tmp_path, and ways to drop files and run."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from observatory.cli import main
from observatory.settings import Settings

HEADER = "country,year,indicator,value,source\n"


@pytest.fixture(autouse=True)
def _isolated_dagster(monkeypatch):
    """Tests never write into the project's Dagster instance or read its settings."""
    for name in ("DAGSTER_HOME", "OBSERVATORY_RAW_DIR", "OBSERVATORY_CURATED_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "raw").mkdir()
    return Settings.resolve(tmp_path / "raw", tmp_path / "curated")


def drop(settings: Settings, rel_path: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Put a raw file where staff would: data/raw/<observatory>/..."""
    path = settings.raw_dir / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def run(settings: Settings, *extra: str):
    """`observatory run` as a user types it; fails the test with the output if it fails."""
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir), *extra]
    )
    assert result.exit_code == 0, result.output + str(result.exception or "")
    return result


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Read the published database as a researcher does."""
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
