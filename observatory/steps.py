"""The run's steps in order, in this process, without Dagster.

`observatory run` goes through Dagster when a Dagster instance keeps a run history
(`DAGSTER_HOME`), so that the run shows in the UI. Without one, Dagster would record the run
in an instance held in memory and thrown away at the end, and importing Dagster, making that
instance and running the steps through it cost about 1-2 seconds of every run with something new.
So such a run takes the steps here: the same `pipeline` functions the assets call (assets/),
in the job's order, under the same writer lock, with the same blocking checks before anything
is published, and reported under the same step names (`--timings`, a failure's reason).
tests/test_steps.py checks that both ways name the same steps, publish the same tables run
after run, and fail on each broken invariant with the same step's name.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from observatory import interrupts, pipeline
from observatory.lock import writer_lock
from observatory.settings import Settings

log = logging.getLogger(__name__)

# The blocking checks, by Dagster's step names (asset + check), with the `pipeline` function
# each calls (what it finds is the failure; none found, it passes). A check that fails stops
# the run before the next step.
CURATED_CHECKS = {
    "fact_observation_countries_known": "unknown_countries",
    "fact_observation_unique_observation_key": "duplicated_keys",
    "file_receipt_receipts_balance": "unbalanced_receipts",
}
MART_CHECKS = {"mart_country_progress_every_country_every_year": "missing_country_years"}
STEP_NAMES = ("staged_observations", "validated_observations", "curated_tables", *CURATED_CHECKS, "marts",
              *MART_CHECKS, "published_database", "research_outputs")


@dataclass
class Outcome:
    success: bool
    reason: str = ""
    staged: dict = field(default_factory=dict)  # pipeline.StageSummary.counts() of this run
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, wall seconds), in order


class StepFailed(Exception):
    """A step raised, or a blocking check failed: the run stops with this one-line reason."""


def run(settings: Settings) -> Outcome:
    outcome = Outcome(True)
    try:
        with writer_lock(settings.work_dir, settings.lock_wait_seconds), pipeline.working_db(settings):
            # Held open while the steps open and close it, as the Dagster resource does.
            _steps(settings, outcome)
    except StepFailed as failure:
        outcome.success, outcome.reason = False, str(failure)
    except Exception as error:  # noqa: BLE001 - the writer lock or the working database: no step ran
        interrupts.reraise(error)
        outcome.success, outcome.reason = False, _line(error)
    return outcome


def _steps(settings: Settings, outcome: Outcome) -> None:
    summary = _timed(outcome, "staged_observations", lambda: pipeline.stage(settings))
    outcome.staged = summary.counts()
    for rejected in summary.rejected:
        log.warning("archivo rechazado / file rejected: %s", rejected)  # path and reason code, no cell
    _timed(outcome, "validated_observations", lambda: pipeline.validate(settings))
    if not _timed(outcome, "curated_tables", lambda: _build(settings)):
        return
    _check(outcome, settings, CURATED_CHECKS)
    _timed(outcome, "marts", lambda: pipeline.build_marts(settings))
    _check(outcome, settings, MART_CHECKS)
    if _timed(outcome, "published_database", lambda: pipeline.publish(settings)) is None:
        return  # what is published already is what the working database holds
    _timed(outcome, "research_outputs", lambda: _outputs(settings))


def _build(settings: Settings) -> bool:
    """Whether anything is to be published: as the curated_tables asset, nothing is built when not."""
    if not pipeline.pending(settings).publish:
        log.info("nothing new since the last run: curated tables, marts and publication unchanged")
        return False
    pipeline.build(settings)
    return True


def _check(outcome: Outcome, settings: Settings, checks: dict[str, str]) -> None:
    """Every check runs, then the first that failed stops the run."""
    failed = [(name, found) for name, function in checks.items()
              if (found := _timed(outcome, name, lambda: getattr(pipeline, function)(settings)))]
    if failed:
        raise StepFailed(pipeline.check_failed(*failed[0]))


def _outputs(settings: Settings) -> None:
    _made, failed = pipeline.outputs(settings)
    for name, error in failed.items():
        log.error("%s falló / failed: %s: %s", name, type(error).__name__, error)
    if failed:
        raise next(iter(failed.values()))


def _timed(outcome: Outcome, name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    try:
        return step()
    except Exception as error:  # noqa: BLE001 - the run fails with the step's one-line reason
        interrupts.reraise(error)  # Ctrl+C during a DuckDB query stops the run as any Ctrl+C does
        raise StepFailed(f"{name}: {_line(error)}") from error
    finally:
        outcome.steps.append((name, time.perf_counter() - started))


def _line(error: BaseException) -> str:
    """The exception as the Dagster run reports a step's error (assets/runner.py): the innermost
    cause's type (with its module) and the first line of its message."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = traceback.format_exception_only(type(error), error)[-1].strip().splitlines()
    return lines[0] if lines else type(error).__name__
