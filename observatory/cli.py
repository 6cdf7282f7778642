"""The `observatory` command: run the pipeline, check a file before dropping it, see what is
published. `run` goes through the Dagster assets where a Dagster instance keeps a run history,
and through the same steps without Dagster otherwise (assets/runner.py); Dagster is imported
only there."""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from observatory.settings import CURATED_DIR_ENV, RAW_DIR_ENV, RECEIPTS_DIR_ENV, Settings

if TYPE_CHECKING:
    from observatory.withdrawals import Taken

raw_dir_option = click.option("--raw-dir", type=click.Path(file_okay=False, path_type=Path),
                              help=f"Raw files (env {RAW_DIR_ENV}; default data/raw).")
curated_dir_option = click.option("--curated-dir", type=click.Path(file_okay=False, path_type=Path),
                                  help=f"Published output (env {CURATED_DIR_ENV}; default data/curated).")
receipts_dir_option = click.option("--receipts-dir", type=click.Path(file_okay=False, path_type=Path),
                                   help=f"Receipts for staff (env {RECEIPTS_DIR_ENV}; default data/receipts).")


def _quiet_logging() -> None:
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # libraries that lower their own loggers' level stay quiet
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])


@click.group()
def main() -> None:
    """Pipeline of the regional observatories on violence against women."""


@main.command()
@raw_dir_option
@curated_dir_option
@receipts_dir_option
@click.option("--revalidate", is_flag=True, help="Read and validate every raw file again, not only new ones.")
@click.option("--timings", is_flag=True, help="Print each step's seconds on stderr at the end.")
def run(raw_dir: Path | None, curated_dir: Path | None, receipts_dir: Path | None, revalidate: bool,
        timings: bool) -> None:
    """Read, validate, build and publish. Exit 0 when the run completed, even with quarantined
    rows; non-zero with a one-line reason when the pipeline itself failed."""
    started = time.perf_counter()
    _quiet_logging()
    _run(Settings.resolve(raw_dir, curated_dir, receipts_dir, revalidate_all=revalidate), started, timings)


def _run(settings: Settings, started: float, timings: bool) -> None:
    """The pipeline, its summary on stdout; exit 1 with the one-line reason when it failed."""
    from observatory import validate_worker

    # Before Dagster's import, which the worker's import of Great Expectations then overlaps.
    validate_worker.prewarm_if_changed(settings.raw_dir, settings.discovery_marker, settings.revalidate_all)
    from assets.runner import run_pipeline

    outcome = run_pipeline(settings)
    if timings:
        click.echo(_timings(outcome.steps, time.perf_counter() - started, outcome.success), err=True)
    if not outcome.success:
        click.echo(f"observatory run failed: {outcome.reason}", err=True)
        sys.exit(1)
    click.echo(outcome.report)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--undo", is_flag=True, help="Undo the withdrawal of FILE (it must be in the raw folder), then run.")
@raw_dir_option
@curated_dir_option
@receipts_dir_option
def withdraw(file: Path, undo: bool, raw_dir: Path | None, curated_dir: Path | None, receipts_dir: Path | None) -> None:
    """Take back a file received by mistake (another observatory's, a draft, a name or text that
    identifies someone), then run: its rows, quarantine rows, receipt and earlier figures leave
    what is published, and no file with its content is read again, under any name. FILE is its
    path under the raw folder (as `observatory status` lists it), even if it is no longer there.
    Exit 2 when no such file was received or is there."""
    started = time.perf_counter()
    _quiet_logging()
    from observatory import withdrawals
    from observatory.discover import published_receipts, sha256_of

    settings = Settings.resolve(raw_dir, curated_dir, receipts_dir)
    rel = _raw_path(file, settings.raw_dir)
    here = settings.raw_dir / rel
    present = sha256_of(here) if here.is_symlink() or here.is_file() else None
    if undo:
        if present is None:
            _usage(f"Para deshacer un retiro, deje el archivo en {settings.raw_dir}: {rel} no está. / "
                   f"To undo a withdrawal, put the file in {settings.raw_dir}: {rel} is not there.")
        if not withdrawals.undo(settings.withdrawn_list, rel, present):
            _usage(f"{rel} no estaba retirado. / {rel} was not withdrawn.")
        click.echo(f"Retiro deshecho: esta ejecución vuelve a recibir {rel}. / Withdrawal undone: this run receives {rel} again.")
    else:
        taken = withdrawals.take_back(settings.withdrawn_list, rel, present, published_receipts(settings.published_db))
        if taken is None:
            _usage(f"No se recibió ningún archivo {rel} y no está en {settings.raw_dir}. / "
                   f"No file {rel} was received, and it is not in {settings.raw_dir}.")
        click.echo(_taken(rel, taken))
    _run(settings, started, timings=False)


def _taken(rel: str, taken: "Taken") -> str:
    """What `withdraw` withdrew, in Spanish then English."""
    others = ", ".join(taken.others)
    if taken.kind == "copy":
        es = (f"Retirado: {rel}, una copia del contenido que trajo {others or '?'}: esta ejecución quita su acuse; "
              f"{others or '?'} sigue publicado.")
        en = f"Withdrawn: {rel}, a copy of the content {others or '?'} brought: this run removes its receipt; {others or '?'} stays published."
    elif taken.kind == "unread":
        es = f"Retirado: {rel}, aún no leído: ningún archivo con su contenido se leerá."
        en = f"Withdrawn: {rel}, not read yet: no file with its content will be read."
    else:
        es = (f"Retirado: {rel}" + (f" (y los demás archivos recibidos con su contenido: {others})" if others else "")
              + ". Esta ejecución lo quita de lo publicado (si no termina, la próxima); ningún archivo con su contenido "
              "se vuelve a leer.")
        en = (f"Withdrawn: {rel}" + (f" (and the other files received with its content: {others})" if others else "")
              + ". This run removes it from what is published (if it does not complete, the next one); no file with its "
              "content is read again.")
    if taken.changed_since:
        es += (f" El archivo que hay ahora en {rel} tiene otro contenido: esta ejecución lo lee como nuevo (bórrelo, o "
               "retírelo otra vez, si tampoco debe cargarse).")
        en += (f" The file now at {rel} has other content: this run reads it as new (delete it, or withdraw it again, "
               "if it must not load either).")
    return f"{es} / {en}"


def _raw_path(file: Path, raw_dir: Path) -> str:
    """FILE as the path under the raw folder that names it everywhere: given from here (it may
    be gone), or as `observatory status` lists it (relative to the raw folder)."""
    for candidate in (file, raw_dir / file):
        try:
            # The folder resolved, not the name: a symbolic link in the raw folder is never followed.
            return (candidate.parent.resolve() / candidate.name).relative_to(raw_dir.resolve()).as_posix()
        except ValueError:
            continue
    _usage(f"{file} no está en la carpeta raw {raw_dir}. / {file} is not in the raw folder {raw_dir}.")


def _usage(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(2)


def _timings(steps: list[tuple[str, float]], total: float, success: bool = True) -> str:
    """Where a run's time went, from the command's start (after Python's own start-up and the
    command's import, about 0.1 s) to its summary: every step, and the rest (importing the
    steps, and Dagster's start-up and its time between steps when the run goes through it; the
    summary)."""
    lines = ["Tiempos / timings (s):"]
    lines += [f"  {step:<48} {seconds:7.2f}" for step, seconds in steps]
    if not steps:
        lines.append("  nada que hacer, ningún paso / nothing to do, no step ran" if success else
                     "  ningún paso terminó / no step finished")
    lines.append(f"  {'resto / rest (arranque / start-up)':<48} {total - sum(s for _, s in steps):7.2f}")
    lines.append(f"  {'total':<48} {total:7.2f}")
    return "\n".join(lines)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON.")
@click.option("--observatory", help="The observatory (its folder under the raw folder) FILE is for; "
                                    "by default its folder there, or its own folder for a file elsewhere.")
@raw_dir_option
@curated_dir_option
def check(file: Path, as_json: bool, observatory: str | None, raw_dir: Path | None, curated_dir: Path | None) -> None:
    """Dry run for staff: read and validate FILE as a run would, print its receipt, write
    nothing. Exit 0 when every row would load, 1 when some rows would be quarantined, 3 when the
    whole file would be rejected, is a copy of content already received (a duplicate) or was
    withdrawn; 2 is a mistake in the command (as for every command)."""
    _quiet_logging()
    from observatory.pipeline import check_file
    from observatory.receipts import already_received

    settings = Settings.resolve(raw_dir, curated_dir)
    if observatory is None and not file.resolve().is_relative_to(settings.raw_dir.resolve()):
        folder = file.resolve().parent.name
        click.echo(f"{file} no está en la carpeta raw ({settings.raw_dir}): se revisa como archivo del observatorio "
                   f"«{folder}» (su carpeta); indique otro con --observatory. / {file} is not in the raw folder "
                   f"({settings.raw_dir}): checked as a file of observatory '{folder}' (its folder); name another "
                   "with --observatory.", err=True)
    receipt = check_file(file, settings, observatory)
    click.echo(receipt.to_json() if as_json else receipt.to_markdown())
    if note := already_received(settings.published_db, receipt):
        click.echo(note, err=True)  # beside the receipt, never inside --json's output
    # 3: rejected, a duplicate or withdrawn (nothing would load)
    sys.exit({"loaded": 0, "partially_loaded": 1}.get(receipt.status, 3))


@main.command()
@raw_dir_option
@curated_dir_option
def status(raw_dir: Path | None, curated_dir: Path | None) -> None:
    """What is published, freshness per observatory, and raw files waiting to be loaded."""
    from observatory.status import status_report

    click.echo(status_report(Settings.resolve(raw_dir, curated_dir)))


@main.command()
@curated_dir_option
def report(curated_dir: Path | None) -> None:
    """Build the exports (CSV, data dictionary, datapackage.json) and the offline HTML report
    again from what is published; `observatory run` does it after each publication."""
    _quiet_logging()
    settings = Settings.resolve(curated_dir=curated_dir)
    if not settings.published_db.is_file():
        click.echo(f"Nothing published yet in {settings.curated_dir}: run `observatory run` first. / "
                   f"Aún no hay nada publicado en {settings.curated_dir}: ejecute primero `observatory run`.", err=True)
        sys.exit(1)
    from observatory import pipeline
    from observatory.lock import WriterBusy, writer_lock

    try:
        with writer_lock(settings.work_dir, settings.lock_wait_seconds):  # not while a run publishes
            made, failed = pipeline.outputs(settings)
    except WriterBusy as busy:
        click.echo(str(busy), err=True)
        sys.exit(1)
    if "research_exports" in made:
        exported = made["research_exports"]
        click.echo(f"Exports: {exported.folder} ({len(exported.files)} files)")
    if "report" in made:
        built = made["report"]
        click.echo(f"Report:  {built.folder / 'index.html'} ({built.pages} pages; English: {built.folder / 'en' / 'index.html'})")
    for name, error in failed.items():
        what = {"research_exports": "Las exportaciones no se pudieron generar / The exports could not be made",
                "report": "El informe no se pudo generar / The report could not be made"}[name]
        click.echo(f"{what}: {type(error).__name__}: {error}", err=True)
    if failed:
        sys.exit(1)


def entry() -> None:
    """The `observatory` command as installed. Once a command is done, Python's own teardown
    would spend about half a second freeing every object of Dagster, Great Expectations and
    pandas (and DuckDB's bindings then report the objects they still hold), memory the operating
    system takes back anyway. So the process ends right after what a normal exit does that
    matters: other threads finish, exit handlers run (the validation worker is stopped, logs and
    temporary folders closed), output is flushed. Every database is closed by then (the crash
    safety of the working and published databases does not rest on it either). Tests call
    `main` in their own process, which never ends here."""
    try:
        main()
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            raise  # a message to print: Python's own exit prints it
        _end_now(done.code or 0)


def _end_now(code: int) -> NoReturn:
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
