"""The raw-folder sensor: the files a run would read start one run, once they are stable."""
import hashlib
import json
import time

import dagster as dg

from assets.dead_runs import fail_dead_runs
from observatory import withdrawals
from observatory.discover import candidate_paths, classify, published_receipts, raw_file, sha256_of
from observatory.settings import Settings

# A run of the job in one of these holds the files it was asked for: no second run is asked.
PENDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def raw_folder_sensor_for(job, settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=settings.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING)
    def raw_folder_sensor(context: dg.SensorEvaluationContext):
        """Watches data/raw/ recursively. A file counts once it looks the same (size and
        modification time) on two looks in a row, so files still being copied wait; hidden and
        temporary names (~$*, *.part, *.tmp) are ignored. The stable files a run would read
        (new or changed against the published receipts, and not a copy of content a file still
        there brought: what `observatory status` lists as waiting), and the withdrawals not yet
        applied (`observatory withdraw`, when its own run could not apply them), go into one run, unless a run
        of the job is queued or running. Files a run left waiting (it failed or was cancelled)
        are asked for again after OBSERVATORY_SENSOR_RETRY_SECONDS, not at every tick."""
        # A run whose process died would hold the run queue and the writer's slot for good.
        for run_id in fail_dead_runs(context.instance):
            context.log.warning(f"run {run_id} marked failed: its process is gone")
        settings = Settings.resolve()
        raw_dir = settings.raw_dir
        if not raw_dir.is_dir():
            return dg.SkipReason(f"raw folder not found: {raw_dir}")
        before = json.loads(context.cursor) if context.cursor else {}
        files, present, stable = {}, [], set()
        for path, rel in candidate_paths(raw_dir):
            stat = path.lstat()  # a symbolic link is looked at, never followed
            look = [stat.st_size, stat.st_mtime_ns]
            seen = before.get("files", {}).get(rel)
            if seen is None or seen["look"] != look:
                # New or still changing: look again next tick. Meanwhile it stands for the content
                # it last had, so that a copy of that content stays a copy while it is rewritten.
                files[rel] = {"look": look, "sha": None, "last": (seen or {}).get("sha") or (seen or {}).get("last")}
                if files[rel]["last"]:
                    present.append(raw_file(path, rel, files[rel]["last"]))
                continue
            sha = seen["sha"] or sha256_of(path)  # hash a stable file once
            files[rel] = {"look": look, "sha": sha}
            present.append(raw_file(path, rel, sha))
            stable.add(rel)
        settling = len(files) - len(stable)
        found = classify(present, published_receipts(settings.published_db), withdrawn=withdrawals.load(settings.withdrawn_list))
        # What a run would do: read the stable new or changed files, remove the withdrawn ones.
        waiting = sorted([(f.rel_path, f.sha256) for f in found.to_read if f.rel_path in stable]
                         + [(path, "withdrawn") for path in found.to_remove])
        asked = before.get("asked") or {}
        key = hashlib.sha256(json.dumps(waiting).encode()).hexdigest()[:16]
        skip = _why_not(context.instance, job.name, waiting, key, asked, settings.sensor_retry_seconds, settling)
        if skip is None:
            asked = {"key": key, "at": time.time()}
        context.update_cursor(json.dumps({"files": files, "asked": asked}))
        if skip is not None:
            return dg.SkipReason(skip)
        # Dagster keeps its logs for good: a withdrawn file is counted, never named.
        withdrawn = sum(sha == "withdrawn" for _, sha in waiting)
        context.log.info(f"{len(waiting) - withdrawn} new or changed file(s): "
                         f"{', '.join(rel for rel, sha in waiting if sha != 'withdrawn')}; {withdrawn} withdrawal(s)")
        return dg.RunRequest(run_key=f"{key}-{int(asked['at'])}", tags={"observatory/files": str(len(waiting))})

    return raw_folder_sensor


def _why_not(instance: dg.DagsterInstance, job_name: str, waiting: list, key: str, asked: dict,
             retry_seconds: float, settling: int) -> str | None:
    """Why no run is asked for on this tick, or None: nothing waits; a run is queued or running
    (it reads them, or the next tick asks); or these same files were asked for and the job's
    last run ended less than retry_seconds ago (it failed or was cancelled: retried then, not at
    every tick)."""
    if not waiting:
        return f"nothing new; {settling} file(s) settling" if settling else "nothing new"
    if instance.get_run_records(filters=dg.RunsFilter(job_name=job_name, statuses=PENDING), limit=1):
        return f"{len(waiting)} file(s) waiting for the run queued or running to end"
    if asked.get("key") == key:
        # From the end of the job's last run (the one asked for, or one after it), so that a run
        # failing after a long while is not asked for again at once.
        last = instance.get_run_records(filters=dg.RunsFilter(job_name=job_name), limit=1)
        since = max([asked["at"], *(r.end_time for r in last if r.end_time)])
        if time.time() - since < retry_seconds:
            return (f"{len(waiting)} file(s) still waiting after the run asked for them (failed or cancelled?): "
                    f"asked again {retry_seconds:.0f} s after that run ended")
    return None
