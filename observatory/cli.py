"""`observatory run`: the same Dagster assets `dagster asset materialize` runs, in this process.

Dagster is imported only inside `run`, so the core stays importable without it.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from observatory.settings import CURATED_DIR_ENV, RAW_DIR_ENV, Settings


@click.group()
def main() -> None:
    """Pipeline of the regional observatories on violence against women."""


@main.command()
@click.option("--raw-dir", type=click.Path(file_okay=False, path_type=Path), help=f"Raw files (env {RAW_DIR_ENV}; default data/raw).")
@click.option("--curated-dir", type=click.Path(file_okay=False, path_type=Path), help=f"Published output (env {CURATED_DIR_ENV}; default data/curated).")
def run(raw_dir: Path | None, curated_dir: Path | None) -> None:
    """Read, validate, build and publish. Exit 0 when the run completed, even with quarantined
    rows; non-zero with a one-line reason when the pipeline itself failed."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # libraries that lower their own loggers' level stay quiet
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    settings = Settings.resolve(raw_dir, curated_dir)
    from observatory.runner import run_pipeline

    outcome = run_pipeline(settings)
    if not outcome.success:
        click.echo(f"observatory run failed: {outcome.reason}", err=True)
        sys.exit(1)
    click.echo(outcome.report)


if __name__ == "__main__":
    main()
