"""One settings object, read in one place: command-line flags win over environment variables,
which win over the project's defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from observatory.textfile import Limits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR_ENV = "OBSERVATORY_RAW_DIR"
CURATED_DIR_ENV = "OBSERVATORY_CURATED_DIR"
RECEIPTS_DIR_ENV = "OBSERVATORY_RECEIPTS_DIR"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    curated_dir: Path
    # Receipts for staff, one .md and one .json per raw file, mirroring data/raw/.
    receipts_dir: Path
    expectations_dir: Path = PROJECT_ROOT / "expectations"
    # Earliest year an observation may carry; the latest is the current year.
    min_year: int = 1900
    # First year of the marts: the Belém do Pará Convention was adopted in 1994.
    mart_first_year: int = 1994
    # The day the marts are judged on (default today): a year is complete once its 31 December
    # has passed. Set it (OBSERVATORY_AS_OF=YYYY-MM-DD) to rebuild the marts as they were on a day.
    as_of: date = field(default_factory=lambda: date.fromisoformat(_env("OBSERVATORY_AS_OF", date.today().isoformat())))
    # Last year of the marts; empty = the last complete year before as_of. A later year is
    # shown as provisional, judged on as_of instead of 31 December.
    mart_last_year_setting: int | None = field(
        default_factory=lambda: int(_env("OBSERVATORY_MART_LAST_YEAR", "0")) or None)
    # Rows handed to Great Expectations at a time: bounds memory on large files.
    validation_batch_rows: int = field(default_factory=lambda: int(_env("OBSERVATORY_VALIDATION_BATCH_ROWS", "250000")))
    # Keep the Great Expectations worker between runs of one process (tests, a notebook): saves
    # its import at every run, costs its memory between runs. `observatory run` is one run.
    keep_validation_worker: bool = field(
        default_factory=lambda: _env("OBSERVATORY_KEEP_VALIDATION_WORKER", "").lower() in ("1", "true", "yes"))
    # Read and validate every raw file again, not only new and changed ones (weekly schedule).
    revalidate_all: bool = False
    # How long a run waits for another run that is writing before it gives up.
    lock_wait_seconds: float = float(_env("OBSERVATORY_LOCK_WAIT_SECONDS", "600"))
    # Raw-folder sensor and schedules (Dagster): interval, cron strings, timezone.
    sensor_interval_seconds: int = int(_env("OBSERVATORY_SENSOR_INTERVAL_SECONDS", "30"))
    # How long the sensor waits before it asks again for a run of files a run left waiting (it
    # failed or was cancelled): a run failing every time is retried this often, not every tick.
    sensor_retry_seconds: float = field(default_factory=lambda: float(_env("OBSERVATORY_SENSOR_RETRY_SECONDS", "600")))
    nightly_cron: str = _env("OBSERVATORY_NIGHTLY_CRON", "0 2 * * *")
    weekly_cron: str = _env("OBSERVATORY_WEEKLY_CRON", "0 3 * * 0")
    timezone: str = _env("OBSERVATORY_TIMEZONE", "UTC")
    # Limits of one raw file: a file over one is rejected with its reason and the run goes on.
    # The defaults are textfile.Limits'.
    # Bytes after decompression and decoding; inflation = decompressed / compressed (.gz, .bz2, .xlsx).
    max_file_mib: int = field(default_factory=lambda: int(_env("OBSERVATORY_MAX_FILE_MIB", str(Limits.max_bytes >> 20))))
    max_inflation: float = field(default_factory=lambda: float(_env("OBSERVATORY_MAX_INFLATION", str(Limits.max_inflation))))
    max_file_lines: int = field(default_factory=lambda: int(_env("OBSERVATORY_MAX_FILE_LINES", str(Limits.max_lines))))
    max_file_columns: int = field(default_factory=lambda: int(_env("OBSERVATORY_MAX_FILE_COLUMNS", str(Limits.max_columns))))
    max_file_seconds: float = field(default_factory=lambda: float(_env("OBSERVATORY_MAX_FILE_SECONDS", str(Limits.max_seconds))))
    # Threads reading raw files at once (each file is still read whole by one of them).
    read_workers: int = field(default_factory=lambda: int(_env("OBSERVATORY_READ_WORKERS", str(min(4, os.cpu_count() or 1)))))
    # DuckDB's memory for the working database; past it, large joins spill to work_dir/tmp.
    duckdb_memory_limit: str = field(default_factory=lambda: _env("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "1GB"))
    # Published figures of sensitive indicators below the national total from 1 to k-1 are
    # suppressed (small_cells.py); the working database keeps them.
    small_cell_k: int = field(default_factory=lambda: int(_env("OBSERVATORY_SMALL_CELL_K", "5")))
    # Storage format of the published database: v1.0.0 is the oldest DuckDB 2 writes and every
    # DuckDB client from 0.10 and 1.0 on reads it (R's duckdb, DBeaver's driver, older Pythons).
    published_storage_version: str = field(
        default_factory=lambda: _env("OBSERVATORY_PUBLISHED_STORAGE_VERSION", "v1.0.0"))

    @classmethod
    def resolve(
        cls,
        raw_dir: str | Path | None = None,
        curated_dir: str | Path | None = None,
        receipts_dir: str | Path | None = None,
        **overrides: object,
    ) -> "Settings":
        data = PROJECT_ROOT / "data"
        return cls(
            raw_dir=Path(raw_dir or _env(RAW_DIR_ENV, str(data / "raw"))).resolve(),
            curated_dir=Path(curated_dir or _env(CURATED_DIR_ENV, str(data / "curated"))).resolve(),
            receipts_dir=Path(receipts_dir or _env(RECEIPTS_DIR_ENV, str(data / "receipts"))).resolve(),
            **overrides,
        )

    def but(self, **changes: object) -> "Settings":
        return replace(self, **changes)

    @property
    def max_year(self) -> int:
        return date.today().year

    @property
    def mart_last_year(self) -> int:
        return self.mart_last_year_setting or self.as_of.year - 1

    @property
    def mart_has_provisional_year(self) -> bool:
        """Whether the marts show a year whose 31 December is after as_of."""
        return date(self.mart_last_year, 12, 31) > self.as_of

    @property
    def work_dir(self) -> Path:
        """Private state (the working database, the writer lock) lives beside what it publishes."""
        return self.curated_dir / ".work"

    @property
    def temp_dir(self) -> Path:
        """Transcoded copies of raw files and DuckDB's spill files, removed as they are done with."""
        return self.work_dir / "tmp"

    def reader_config(self) -> dict[str, str]:
        """DuckDB settings of what reads the published database (the exports, the report, side
        by side in one instance): the run's memory limit, and a spill folder of their own (the
        working database's instance may be spilling into temp_dir meanwhile)."""
        return {"memory_limit": self.duckdb_memory_limit, "temp_directory": str(self.temp_dir / "outputs")}

    @property
    def withdrawn_list(self) -> Path:
        """The files staff withdrew (withdrawals.py): beside the publication, not in .work/, so
        that `make clean` keeps it."""
        return self.curated_dir / "withdrawn.json"

    @property
    def discovery_marker(self) -> Path:
        """Modified when the last run began listing the raw folder: what changed after it is new."""
        return self.work_dir / "discovered_at"

    def file_limits(self) -> Limits:
        return Limits(max_bytes=self.max_file_mib << 20, max_inflation=self.max_inflation,
                      max_lines=self.max_file_lines, max_seconds=self.max_file_seconds,
                      max_columns=self.max_file_columns)

    @property
    def working_db(self) -> Path:
        return self.work_dir / "working.duckdb"

    @property
    def published_db(self) -> Path:
        return self.curated_dir / "observatory.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.curated_dir / "parquet"

    @property
    def exports_dir(self) -> Path:
        """CSV exports, data dictionary and datapackage.json, made from the published database."""
        return self.curated_dir / "exports"

    @property
    def report_dir(self) -> Path:
        """The offline HTML report, made from the published database."""
        return self.curated_dir / "report"
