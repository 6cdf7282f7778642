"""Shared fixtures: a raw and a curated folder in tmp_path, and ways to drop files and run."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from observatory.cli import main
from observatory.settings import Settings

HEADER = "country,year,indicator,value,source\n"


# What the suite must leave as it found it: the user's Dagster instance and the working tree.
USER_DAGSTER_HOME = os.environ.get("DAGSTER_HOME")
ISOLATED_ENV = ("DAGSTER_HOME", "OBSERVATORY_RAW_DIR", "OBSERVATORY_CURATED_DIR", "OBSERVATORY_RECEIPTS_DIR",
                "OBSERVATORY_LAYOUTS_DIR")
# Created by running Python and pytest themselves, not by the code under test.
TOOLING = ("__pycache__", ".pytest_cache", ".venv/", ".egg-info")


# The session's own temporary folders, removed when it ends.
SESSION_FOLDERS: list[str] = []


def pytest_configure(config) -> None:
    """Before anything is imported or collected: no test (nor a subprocess it starts) sees the
    user's Dagster instance or data folders; receipts go to a temporary folder by default."""
    for name in ISOLATED_ENV:
        os.environ.pop(name, None)
    SESSION_FOLDERS.append(tempfile.mkdtemp(prefix="observatory-test-receipts-"))
    os.environ["OBSERVATORY_RECEIPTS_DIR"] = SESSION_FOLDERS[-1]
    # Hundreds of runs in one process: Great Expectations is imported once, not at every run.
    os.environ["OBSERVATORY_KEEP_VALIDATION_WORKER"] = "1"
    # Hypothesis keeps its caches (constants, Unicode tables) in .hypothesis/ of the working
    # directory even with database=None: a temporary folder instead.
    from hypothesis.configuration import set_hypothesis_home_dir

    SESSION_FOLDERS.append(tempfile.mkdtemp(prefix="observatory-test-hypothesis-"))
    set_hypothesis_home_dir(SESSION_FOLDERS[-1])


def pytest_unconfigure(config) -> None:
    """The suite leaves no folder of its own behind in the system's temporary folder."""
    for folder in SESSION_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


def _tree_state() -> list[str]:
    """Every change, untracked and ignored file in the working tree (tooling aside), and every
    file of the user's Dagster instance with its size and time: what a test must not touch."""
    root = Path(__file__).resolve().parents[1]
    lines = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                           cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()
    state = [line for line in lines if not any(part in line for part in TOOLING)]
    if USER_DAGSTER_HOME and Path(USER_DAGSTER_HOME).is_dir():
        state += [f"{p} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in sorted(Path(USER_DAGSTER_HOME).rglob("*"))
                  if p.is_file()]
    return state


@pytest.fixture(scope="session", autouse=True)
def _leaves_the_tree_as_it_found_it():
    """`make test` writes only under temporary folders: the working tree (data/receipts,
    data/curated, …) and the user's DAGSTER_HOME are the same after the suite as before."""
    before = _tree_state()
    yield
    after = _tree_state()
    assert after == before, "the tests changed the working tree or DAGSTER_HOME:\n" + "\n".join(
        sorted(set(after) ^ set(before)))


@pytest.fixture(autouse=True)
def _isolated_dagster(monkeypatch, tmp_path):
    """Tests never write into the project's Dagster instance or read its settings; a run's
    receipts go under the test's own folder."""
    for name in ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OBSERVATORY_RECEIPTS_DIR", str(tmp_path / "receipts"))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(tmp_path / "curated"))  # what `check` and the sensor read
    monkeypatch.setenv("OBSERVATORY_LAYOUTS_DIR", str(tmp_path / "layouts"))


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


def covering(*countries: str) -> list[str]:
    """Register lines (country,instrument_type,title,identifier,adopted_on,in_force_from,
    in_force_to,status, the six flags, source) that no score counts, one per country (a
    family-violence plan: recorded, not counted as a VAW plan), so that the register covers it:
    a country the register lists no law or plan of is unknown in every law and plan component."""
    return [f"{country},family_violence_plan,Política de la familia,,2020,,,in_force,,,,,,,Registro de prueba" for country in countries]


def every_country() -> list[str]:
    from observatory import reference

    return list(reference.load("countries")["country_iso3"])


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Read the published database as a researcher does."""
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
