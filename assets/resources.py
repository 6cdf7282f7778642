"""Where the pipeline reads and writes, as a Dagster resource (empty = environment or default).
The resource holds the writer lock for the whole run: one run writes at a time."""
from contextlib import contextmanager

import dagster as dg

from assets import dead_runs
from observatory import pipeline
from observatory.lock import writer_lock
from observatory.settings import Settings


class ObservatoryResource(dg.ConfigurableResource):
    """Raw, curated and receipts folders. Empty means OBSERVATORY_RAW_DIR /
    OBSERVATORY_CURATED_DIR / OBSERVATORY_RECEIPTS_DIR, or the project's data/ folders."""

    raw_dir: str = ""
    curated_dir: str = ""
    receipts_dir: str = ""
    revalidate_all: bool = False

    def settings(self) -> Settings:
        return Settings.resolve(self.raw_dir or None, self.curated_dir or None, self.receipts_dir or None,
                                revalidate_all=self.revalidate_all)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        settings = self.settings()
        if context.instance and context.run_id:  # which process runs it: a dead one is found (dead_runs.py)
            context.instance.add_run_tags(context.run_id, dead_runs.process_tags(context.run_id))
        if context.log:
            context.log.info(f"waiting for the writer lock in {settings.work_dir}")
        with writer_lock(settings.work_dir, settings.lock_wait_seconds), pipeline.working_db(settings):
            # Held open while the steps open and close it: they then share this one database
            # instance instead of loading its catalog again at every step (tens of ms each).
            yield self
