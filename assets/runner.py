"""Run the pipeline for `observatory run`: where a Dagster instance keeps a run history
(DAGSTER_HOME), the Dagster job in this process, so that the run shows in the Dagster UI and
shares its code path with `dagster asset materialize`; otherwise the same steps without Dagster
(observatory/steps.py), which nothing would record."""
from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from observatory import state
from observatory.settings import Settings


@dataclass
class RunOutcome:
    success: bool
    reason: str = ""
    report: str = ""
    # (step, wall seconds) of each step that ran, in the order they ended; none when the run
    # had nothing to do (it ended before Dagster).
    steps: list[tuple[str, float]] = field(default_factory=list)


def run_pipeline(settings: Settings, through_dagster: bool | None = None) -> RunOutcome:
    """Through Dagster where a Dagster instance keeps a run history (or when asked); otherwise
    the same steps without it (observatory/steps.py), which a run with nothing to do ends before."""
    if not (_dagster_home() if through_dagster is None else through_dagster):
        unchanged = state.nothing_to_do(settings)
        if unchanged is not None:
            return RunOutcome(True, report=_report(settings, unchanged))
        from observatory import steps

        outcome = steps.run(settings)
        if not outcome.success:
            return RunOutcome(False, outcome.reason, steps=outcome.steps)
        return RunOutcome(True, report=_report(settings, outcome.staged), steps=outcome.steps)
    from assets import dead_runs
    from assets.definitions import JOB_NAME, defs

    job = defs.resolve_job_def(JOB_NAME)
    run_config = {
        "resources": {"observatory": {"config": {
            "raw_dir": str(settings.raw_dir), "curated_dir": str(settings.curated_dir),
            "receipts_dir": str(settings.receipts_dir), "revalidate_all": settings.revalidate_all,
        }}},
        # The terminal gets the summary, or the failure's one line; the step-by-step log and
        # the errors' stack traces stay in the Dagster UI.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    with _instance() as instance:
        for run_id in dead_runs.fail_dead_runs(instance):
            print(f"Ejecución {run_id} marcada como fallida: su proceso ya no existe (¿kill -9?). / "
                  f"Run {run_id} marked failed: its process is gone (kill -9?).", file=sys.stderr)
        run_id = str(uuid.uuid4())  # a Dagster run id, known before the run for its process tag
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False,
                                        run_id=run_id, tags=dead_runs.process_tags(run_id))
        steps = _step_seconds(instance, result.run_id)
        if not result.success:
            if _interrupted(result):
                # Ctrl+C: Dagster records the interrupted step; the command stops as without Dagster.
                raise KeyboardInterrupt
            return RunOutcome(False, _failure_reason(result), steps=steps)
        staged = _metadata(result, "staged_observations")
    return RunOutcome(True, report=_report(settings, staged), steps=steps)


def _dagster_home() -> bool:
    """A Dagster instance records runs (DAGSTER_HOME): every run goes through Dagster, to show there."""
    home = os.environ.get("DAGSTER_HOME")
    return bool(home and Path(home).is_dir())


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get() if _dagster_home() else dg.DagsterInstance.ephemeral()


def _step_seconds(instance, run_id: str) -> list[tuple[str, float]]:
    """Each step's wall seconds, from its start and end events in the run's log (kept by an
    ephemeral instance too, until it closes)."""
    import dagster as dg

    ends = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    started, steps = {}, []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type in ends and event.step_key in started:
            steps.append((event.step_key, record.timestamp - started.pop(event.step_key)))
    return steps


def _failure_reason(result) -> str:
    """The run's one line: its first failed step's error, or the error that kept any step from
    starting (the resources: the writer lock busy, the working database), as the steps without
    Dagster say it (observatory/steps.py)."""
    import dagster as dg

    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is None or not (event.is_step_failure or event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE):
            continue
        while error.cause is not None:  # Dagster wraps the pipeline's own error
            error = error.cause
        message = error.message.strip().splitlines()
        message = message[0] if message else "failed"
        return f"{event.step_key}: {message}" if event.step_key else message
    return "the run did not complete (see the Dagster run log)"


# The errors a step fails with when the person interrupts the run: KeyboardInterrupt (raised
# again by observatory/interrupts.py when DuckDB put its own error in its place), or the one
# Dagster's SIGINT handler raises.
INTERRUPTS = frozenset({"KeyboardInterrupt", "DagsterExecutionInterruptedError"})


def _interrupted(result) -> bool:
    """Whether a step failed because the run was interrupted (Ctrl+C)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if event.is_step_failure and error is not None and error.cls_name in INTERRUPTS:
            return True
    return False


def _metadata(result, asset: str) -> dict:
    for materialization in result.asset_materializations_for_node(asset):
        return {key: value.value for key, value in materialization.metadata.items()}
    return {}


# Receipt statuses in Spanish, as labels of a count of files (plural: "cargados: 11").
# A receipt's `rejected` says no row loaded: the file was rejected whole, or every row of it was
# quarantined; "rejected whole" (this run's reading, the quarantine's file rows) is the first alone.
STATUSES_ES = {"loaded": "cargados", "partially_loaded": "cargados en parte",
               "rejected": "rechazados (ninguna fila cargada)", "duplicate": "duplicados"}
STATUSES_EN = {"rejected": "rejected (no row loaded)"}


def _report(settings: Settings, staged: dict) -> str:
    """What happened, for the person at the terminal (staff among them: each line in Spanish,
    then in English): this run, then what is published."""
    from observatory import layouts

    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        statuses = dict(con.execute("SELECT status, count(*) FROM file_receipt GROUP BY ALL").fetchall())
        loaded, quarantined = con.execute(
            "SELECT coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) FROM file_receipt"
        ).fetchone()
        facts, instruments, quarantine_rows, rejected_files = con.execute(
            "SELECT (SELECT count(*) FROM fact_observation), (SELECT count(*) FROM policy_instrument), "
            "(SELECT count(*) FROM quarantine), (SELECT count(*) FROM quarantine WHERE source_row IS NULL)"
        ).fetchone()
    seen, read, reread, rejected, duplicates, unchanged, withdrawn, removed, gone, rows = (staged.get(name, 0) for name in (
        "files_seen", "files_read", "files_reread", "files_rejected", "duplicates", "unchanged", "withdrawn", "removed",
        "gone", "rows_read"))
    by_status = sorted(statuses.items())
    files = sum(statuses.values())
    files_es = f" ({', '.join(f'{STATUSES_ES.get(status, status)}: {count}' for status, count in by_status)})" if files else ""
    files_en = f" ({', '.join(f'{STATUSES_EN.get(status, status)}: {count}' for status, count in by_status)})" if files else ""
    lines = [
        f"Esta ejecución — archivos vistos: {seen}, nuevos o modificados: {read - reread}"
        + (f", leídos de nuevo sin cambios: {reread}" if reread else "") + f" (rechazados enteros: {rejected}), "
        f"duplicados: {duplicates}, sin cambios: {unchanged}" + (f", retirados (no se leen): {withdrawn}" if withdrawn else "")
        + f"; filas leídas: {rows}.",
        f"This run: {seen} files seen, {read - reread} new or changed" + (f", {reread} read again unchanged" if reread else "")
        + f" ({rejected} rejected whole), {duplicates} duplicates, "
        f"{unchanged} unchanged" + (f", {withdrawn} withdrawn (not read)" if withdrawn else "") + f"; {rows} rows read.",
    ]
    if reread:
        lines += ["Leídos de nuevo porque cambiaron el código, los formatos de fuente, las suites o los datos de referencia, "
                  "o por --revalidate: lo que publican no cambia salvo que ahora se lean de otro modo.",
                  "Read again because the code, source layouts, suites or reference data changed, or --revalidate: what "
                  "they publish changes only where they are now read differently."]
    if removed:
        lines += [f"Archivos recibidos retirados y quitados de lo publicado (observatory withdraw): {removed}.",
                  f"Files received, withdrawn and removed from what is published (observatory withdraw): {removed}."]
    if gone:
        lines += [f"Acuses quitados de archivos que ya no están en la carpeta raw y no cargaron nada (rechazados o copias): {gone}.",
                  f"Receipts removed of files no longer in the raw folder that loaded nothing (rejected, or copies): {gone}."]
    lines += [
        f"Publicado — archivos: {files}{files_es}; filas cargadas: {loaded}, filas en cuarentena: {quarantined}; "
        f"observaciones: {facts}, instrumentos de política: {instruments}.",
        f"Published: {files} files{files_en}; {loaded} rows loaded, {quarantined} rows quarantined; {facts} observations,"
        f" {instruments} policy instruments.",
        f"Base de datos / Database: {settings.published_db}",
        f"Parquet: {settings.parquet_dir}",
        f"Exportaciones / Exports: {settings.exports_dir} (CSV para Excel, diccionario de datos, datapackage.json "
        "/ CSV for Excel, data dictionary, datapackage.json)",
        f"Informe / Report: {settings.report_dir / 'index.html'}",
    ]
    if quarantined:
        # A rejected file's rows are all counted as quarantined but it has one quarantine row.
        lines += [
            f"Filas en cuarentena y cómo corregirlas: SELECT * FROM quarantine; ({quarantine_rows} filas en la tabla: una "
            f"por cada fila en cuarentena y una por cada archivo rechazado entero ({rejected_files}), que representa todas sus filas)",
            f"Quarantined rows and how to fix them: SELECT * FROM quarantine; ({quarantine_rows} rows there: one per "
            f"quarantined row, and one per file rejected whole ({rejected_files}) standing for all its rows)",
        ]
    lines += [f"Layout skipped / formato de fuente omitido: {error}" for error in layouts.layout_errors()]
    return "\n".join(lines)
