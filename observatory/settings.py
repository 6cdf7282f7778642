"""One settings object, read in one place: command-line flags win over environment variables,
which win over the project's defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR_ENV = "OBSERVATORY_RAW_DIR"
CURATED_DIR_ENV = "OBSERVATORY_CURATED_DIR"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    curated_dir: Path
    expectations_dir: Path = PROJECT_ROOT / "expectations"
    # Earliest year an observation may carry; the latest is the current year.
    min_year: int = 1900
    # First year of the marts: the Belém do Pará Convention was adopted in 1994.
    mart_first_year: int = 1994
    # Rows handed to Great Expectations at a time: bounds memory on large files.
    validation_batch_rows: int = 250_000

    @classmethod
    def resolve(cls, raw_dir: str | Path | None = None, curated_dir: str | Path | None = None) -> "Settings":
        raw = raw_dir or os.environ.get(RAW_DIR_ENV) or PROJECT_ROOT / "data" / "raw"
        curated = curated_dir or os.environ.get(CURATED_DIR_ENV) or PROJECT_ROOT / "data" / "curated"
        return cls(raw_dir=Path(raw).resolve(), curated_dir=Path(curated).resolve())

    @property
    def max_year(self) -> int:
        return date.today().year

    @property
    def work_dir(self) -> Path:
        """Private state (the working database) lives beside what it publishes."""
        return self.curated_dir / ".work"

    @property
    def working_db(self) -> Path:
        return self.work_dir / "working.duckdb"

    @property
    def published_db(self) -> Path:
        return self.curated_dir / "observatory.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.curated_dir / "parquet"
