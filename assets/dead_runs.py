"""Runs whose process died (`kill -9`, a crash, a machine that lost power) stay "started" in
Dagster's run storage for good: they keep the writer pool's slot (dagster.yaml) and the run
queue's one place, so every later run would wait for them forever, in silence. Each run records
its process in a tag (its own run id, the host and its pid namespace, the pid, and the pid's start
time where the system gives it, so that a reused pid is not taken for the run's); before a run
starts and at each tick of the sensor, a run in progress whose process is gone from this host is
marked failed and its slots freed."""
from __future__ import annotations

import json
import os
import socket

import dagster as dg

from observatory import processes

PROCESS_TAG = "observatory/process"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def process_tags(run_id: str) -> dict[str, str]:
    """The tag that names the process running the run `run_id` (this one)."""
    return {PROCESS_TAG: json.dumps({"run": run_id, "host": _host(), "pid": os.getpid(), "started": processes.started(os.getpid())})}


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed, and free the slots of, every run in progress whose process is gone from this
    host; the ids of those runs. A run of another host, or one whose process is not recorded
    (killed before its resources started, so holding no slot), is left as it is."""
    host, failed = _host(), []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        process = _process(run)
        if process is None or process["host"] != host or _alive(process["pid"], process.get("started")):
            continue
        if instance.get_run_by_id(run.run_id).status not in IN_PROGRESS:
            continue  # it ended between the two looks: its end stands
        instance.report_run_failed(run, f"its process (pid {process['pid']} on {host}) is gone (killed or crashed): "
                                        "marked failed by the next run or sensor tick, which no longer wait for it")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def _process(run: dg.DagsterRun) -> dict | None:
    """The process the run's tag names, when the tag is the run's own: a run re-executed from the
    UI inherits its parent's tags until its resources start and write its own."""
    try:
        process = json.loads(run.tags.get(PROCESS_TAG) or "null")
    except ValueError:
        return None
    if isinstance(process, dict) and process.get("run") == run.run_id and isinstance(process.get("pid"), int):
        return process
    return None


def _host() -> str:
    """This machine, and its pid namespace where the system has one: containers may share a
    hostname, never their pids."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()} {namespace}".strip()


def _alive(pid: int, started: float | None) -> bool:
    if processes.gone(pid):
        return False
    now = processes.started(pid)
    return not (started and now and now != started)
