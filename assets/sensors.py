"""The raw-folder sensor: new or changed files (by content) start one run, once they are stable."""
import hashlib
import json

import dagster as dg

from assets.dead_runs import fail_dead_runs
from observatory.discover import candidate_paths, received_contents, sha256_of
from observatory.settings import Settings


def raw_folder_sensor_for(job, settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=settings.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING)
    def raw_folder_sensor(context: dg.SensorEvaluationContext):
        """Watches data/raw/ recursively. A file counts once it looks the same (size and
        modification time) on two looks in a row, so files still being copied wait; hidden and
        temporary names (~$*, *.part, *.tmp) are ignored. Every stable file whose content was
        never submitted nor received goes into one run; an identical file dropped again starts
        nothing, as a run would record it as a duplicate."""
        # A run whose process died would hold the run queue and the writer's slot for good.
        for run_id in fail_dead_runs(context.instance):
            context.log.warning(f"run {run_id} marked failed: its process is gone")
        settings = Settings.resolve()
        raw_dir = settings.raw_dir
        if not raw_dir.is_dir():
            return dg.SkipReason(f"raw folder not found: {raw_dir}")
        before = json.loads(context.cursor) if context.cursor else {"files": {}, "submitted": []}
        files, fresh, settling = {}, [], 0
        # Content already received by a run (e.g. `make run` before `dagster dev`) starts nothing.
        submitted = set(before["submitted"]) | set(received_contents(settings.published_db))
        for path, rel in candidate_paths(raw_dir):
            stat = path.lstat()  # a symbolic link is looked at, never followed
            look = [stat.st_size, stat.st_mtime_ns]
            seen = before["files"].get(rel)
            if seen is None or seen["look"] != look:
                files[rel] = {"look": look, "sha": None}  # new or still changing: look again next tick
                settling += 1
                continue
            sha = seen["sha"] or sha256_of(path)  # hash a stable file once
            files[rel] = {"look": look, "sha": sha}
            if sha not in submitted:
                fresh.append((rel, sha))
        context.update_cursor(json.dumps({"files": files, "submitted": sorted(submitted | {s for _, s in fresh})}))
        if not fresh:
            return dg.SkipReason(f"nothing new; {settling} file(s) settling" if settling else "nothing new")
        run_key = hashlib.sha256(json.dumps(sorted(fresh)).encode()).hexdigest()[:16]
        context.log.info(f"{len(fresh)} new or changed file(s): {', '.join(rel for rel, _ in fresh)}")
        return dg.RunRequest(run_key=run_key, tags={"observatory/files": str(len(fresh))})

    return raw_folder_sensor
