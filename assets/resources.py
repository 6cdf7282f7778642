"""Where the pipeline reads and writes, as a Dagster resource (empty = environment or default)."""

import dagster as dg

from observatory.settings import Settings


class ObservatoryResource(dg.ConfigurableResource):
    """Raw and curated folders. Empty means OBSERVATORY_RAW_DIR / OBSERVATORY_CURATED_DIR, or
    the project's data/raw and data/curated."""

    raw_dir: str = ""
    curated_dir: str = ""

    def settings(self) -> Settings:
        return Settings.resolve(self.raw_dir or None, self.curated_dir or None)
