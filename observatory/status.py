"""`observatory status`: what is published, how fresh each observatory's data is, and which
raw files are waiting to be loaded. Reads only; never needs Dagster."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from observatory import layouts, registry, withdrawals
from observatory.discover import Discovery, classify, discover, list_raw_files
from observatory.settings import Settings


def status_report(settings: Settings) -> str:
    """Staff read it: each line in Spanish and English."""
    lines: list[str] = []
    published: dict[str, str] = {}  # file path -> receipt status
    if settings.published_db.exists():
        published_at = datetime.fromtimestamp(settings.published_db.stat().st_mtime, timezone.utc)
        with duckdb.connect(str(settings.published_db), read_only=True) as con:
            published = dict(con.execute("SELECT file_path, status FROM file_receipt").fetchall())
            facts, policies, quarantined = con.execute(
                "SELECT (SELECT count(*) FROM fact_observation), (SELECT count(*) FROM policy_instrument), "
                "(SELECT count(*) FROM quarantine)"
            ).fetchone()
            per_observatory = con.execute("""
                SELECT observatory, count(*) AS files, coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0),
                       count(*) FILTER (WHERE status = 'rejected'), max(received_at)
                FROM file_receipt GROUP BY observatory ORDER BY observatory
            """).fetchall()
        lines += [
            f"Publicado / Published: {settings.published_db} "
            f"(última publicación / last published {published_at:%Y-%m-%d %H:%M} UTC)",
            f"  archivos: {len(published)}, observaciones: {facts}, instrumentos de política: {policies}, "
            f"filas de la tabla quarantine: {quarantined}",
            f"  {len(published)} files, {facts} observations, {policies} policy instruments, {quarantined} quarantine rows",
            "",
            f"{'observatorio':<26} {'arch.':>5} {'cargadas':>8} {'cuarent.':>8} {'rechaz.':>8}  última recepción (UTC)  institución",
            f"{'observatory':<26} {'files':>5} {'loaded':>8} {'quarant.':>8} {'rejected':>8}  last received (UTC)     institution",
        ]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        for observatory, files, loaded, quarantined_rows, rejected, last in per_observatory:
            age = _age((now - last).days) if last else "—"
            found = registry.entry(observatory or "")
            lines.append(f"{observatory or '(sin carpeta / no folder)':<26} {files:>5} {loaded:>8} {quarantined_rows:>8} {rejected:>8}  "
                         + (f"{last:%Y-%m-%d %H:%M} ({age})" if last else "—") + (f"  {found.institution}" if found else ""))
    else:
        lines.append(f"Aún no hay nada publicado en {settings.curated_dir}: ejecute `observatory run`. / "
                     f"Nothing published yet in {settings.curated_dir}: run `observatory run`.")
    # As a run tells them apart (discover, on the published receipts): a copy of content a file
    # still there brought adds nothing (a duplicate, never "waiting"); one whose original was
    # removed is read as new.
    raw = _raw_folder(settings)
    copies, waiting = raw.duplicates, raw.to_read
    present = {f.rel_path for f in (*raw.to_read, *(f for f, _ in raw.duplicates), *raw.unchanged, *raw.withdrawn)}
    lines.append("")
    if raw.to_remove:
        lines.append("Retirados (observatory withdraw), aún publicados: la próxima ejecución los quita / "
                     f"Withdrawn (observatory withdraw), still published: the next run removes them: {len(raw.to_remove)}")
        lines += [f"  {path}" for path in raw.to_remove]
    if raw.gone:
        lines.append(f"Ya no están en {settings.raw_dir} y no cargaron nada (rechazados o copias): la próxima ejecución "
                     f"quita sus acuses / No longer in {settings.raw_dir} and loaded nothing (rejected, or copies): the "
                     f"next run removes their receipts: {len(raw.gone)}")
        lines += [f"  {path}" for path in raw.gone]
    if raw.withdrawn:
        lines.append(f"Retirados, aún en {settings.raw_dir} (no se leen; puede borrarlos) / Withdrawn, still in "
                     f"{settings.raw_dir} (not read; you may delete them): {len(raw.withdrawn)}")
        lines += [f"  {f.rel_path}" for f in raw.withdrawn]
    if copies:
        lines.append(f"Copias de contenido ya recibido (duplicados, no aportan nada) / "
                     f"Copies of content already received (duplicates, add nothing): {len(copies)}")
        lines += [f"  {f.rel_path} = {owner}" for f, owner in copies]
    if waiting:
        lines.append(f"En espera en / Waiting in {settings.raw_dir} (nuevos o modificados, aún no cargados / "
                     f"new or changed, not yet loaded): {len(waiting)}")
        lines += [f"  {f.rel_path}" for f in waiting]
    else:
        lines.append(f"Nada en espera en {settings.raw_dir}. / Nothing waiting in {settings.raw_dir}.")
    if gone := sorted(path for path, status in published.items()
                      if path not in present and path not in raw.to_remove and status in ("loaded", "partially_loaded")):
        lines.append(f"Publicados, pero ya no están en {settings.raw_dir} (siguen publicados: ninguna ejecución retira un "
                     f"archivo por sí sola; para corregirlo, deje la versión corregida con el mismo nombre; para retirarlo, "
                     f"observatory withdraw RUTA) / Published, but no longer in {settings.raw_dir} (still published: no "
                     f"run withdraws a file by itself; to correct one, drop the corrected version under the same name; to "
                     f"withdraw it, observatory withdraw PATH): {len(gone)}")
        lines += [f"  {path}" for path in gone]
    errors = layouts.layout_errors()
    if errors:
        lines += ["", f"Formatos de fuente omitidos por errores / layouts skipped for errors ({layouts.deployment_dir()}):"]
        lines += [f"  {error}" for error in errors]
    return "\n".join(lines)


def _raw_folder(settings: Settings) -> Discovery:
    """The raw folder as the next run would find it against what is published (everything is
    waiting when nothing is)."""
    if not settings.raw_dir.is_dir():
        return Discovery([], [], [])
    withdrawn = withdrawals.load(settings.withdrawn_list)
    if not settings.published_db.exists():
        return classify(list_raw_files(settings.raw_dir), {}, withdrawn=withdrawn)
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return discover(con, settings.raw_dir, withdrawn=withdrawn)


def _age(days: int) -> str:
    if days == 0:
        return "hoy / today"
    return "hace 1 día / 1 day ago" if days == 1 else f"hace {days} días / {days} days ago"
