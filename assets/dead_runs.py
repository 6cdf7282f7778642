"""Runs whose process died (`kill -9`, a crash, a machine that lost power) stay "started" in
Dagster's run storage for good: they keep the writer pool's slot (dagster.yaml) and the run
queue's one place, so every later run would wait for them forever, in silence. Each run records
its process in its tags (host, pid, and the pid's start time where the system gives it, so that a
reused pid is not taken for the run's); before a run starts and at each tick of the sensor, a run
in progress whose process is gone from this host is marked failed and its slots freed."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

HOST_TAG = "observatory/host"
PID_TAG = "observatory/pid"
STARTED_TAG = "observatory/process_started"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def process_tags() -> dict[str, str]:
    """The tags that name the process running a run (this one)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), STARTED_TAG: _started(os.getpid()) or ""}


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed, and free the slots of, every run in progress whose process is gone from this
    host; the ids of those runs. A run of another host, or one whose process is not recorded
    (killed before its resources started, so holding no slot), is left as it is."""
    host, failed = socket.gethostname(), []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        tags = run.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
            continue
        pid = int(tags[PID_TAG])
        if _alive(pid, tags.get(STARTED_TAG) or None):
            continue
        instance.report_run_failed(run, f"its process (pid {pid} on {host}) is gone (killed or crashed): marked failed "
                                        "by the next run or sensor tick, which no longer wait for it")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    now = _started(pid)
    return not (started and now and now != started)


def _started(pid: int) -> str | None:
    """When the process started, in the kernel's clock ticks since boot (Linux's /proc); None
    where the system does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name in parentheses may hold spaces
