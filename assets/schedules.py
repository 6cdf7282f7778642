"""Schedules: a nightly rebuild of the marts and a weekly re-validation of every raw file
against the current suites (so a changed suite re-classifies old rows). Cron strings and the
timezone are settings (OBSERVATORY_NIGHTLY_CRON, OBSERVATORY_WEEKLY_CRON, OBSERVATORY_TIMEZONE)."""
import dagster as dg

from observatory.settings import Settings


def schedules_for(marts_job, full_job, settings: Settings) -> list[dg.ScheduleDefinition]:
    nightly = dg.ScheduleDefinition(
        name="nightly_marts", job=marts_job, cron_schedule=settings.nightly_cron,
        execution_timezone=settings.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Rebuild the marts (a new year, new weights) and publish.",
    )
    weekly = dg.ScheduleDefinition(
        name="weekly_revalidation", job=full_job, cron_schedule=settings.weekly_cron,
        execution_timezone=settings.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        run_config={"resources": {"observatory": {"config": {"revalidate_all": True}}}},
        description="Read and validate every raw file again against the current suites, then publish.",
    )
    return [nightly, weekly]
