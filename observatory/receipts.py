"""Receipts for staff: what happened to each file, with its problems, their line and how to fix
them in Spanish and English, and the figures it revised. Written next to the data after each
publish, and printed by `observatory check` without writing anything."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from observatory import layouts, observation_key, registry, small_cells
from observatory.discover import content_owners, holds, received_contents
from observatory.settings import Settings

SQL_DIR = Path(__file__).parent / "sql"
# Problems, and revised figures, listed in one receipt (the first by line); past that, how many
# per reason. Every one is in the tables (quarantine, observation_history): a file whose every
# row is quarantined gets a receipt staff can read, written in bounded memory.
ROWS_SHOWN = 1_000

STATUS_ES = {
    "loaded": "cargado", "partially_loaded": "cargado en parte", "rejected": "rechazado", "duplicate": "duplicado",
    "withdrawn": "retirado",  # `observatory check` only: a run records no receipt for withdrawn content
}

# A revised figure's value before, when another observatory's file gave it (sensitive indicators).
WITHHELD = "retenida / withheld"
WITHHELD_NOTE = (
    "«retenida»: la cifra anterior venía del archivo de otro observatorio y es de un indicador sensible "
    "(recuentos de víctimas); no se muestra, como la publicación no muestra cifras pequeñas. / "
    "\"withheld\": the figure before came from another observatory's file and is of a sensitive indicator "
    "(counts of victims); it is not shown, as the publication does not show small figures.")

# Why a file in the observatory's own format (raw contract v1) has rows that are not counted as read.
SKIPPED_CONTRACT = ("filas de título sobre el encabezado, o zonas fuera de los 33 países (otro país, una región, el mundo) / "
                    "title rows above the header, or areas outside the 33 countries (another country, a region, the world)")


@dataclass
class Problem:
    line: int | None
    reason_code: str
    message_es: str
    message_en: str
    column: str | None = None  # the cell's column, for wide files read by a layout

    @property
    def where(self) -> str:
        if self.line is None:
            return "archivo / file"
        return f"{self.line} ({self.column})" if self.column else str(self.line)


@dataclass
class Change:
    """A figure this file revised: the key, the value before and the file it came from. The
    value before is withheld (None) when another observatory's file gave it for a sensitive
    indicator: staff see their own figures, not another observatory's small counts."""
    line: int | None  # None: a figure the pipeline summed from several records
    key: str
    previous_value: float | None
    value: float
    previous_file: str
    previous_withheld: bool = False


@dataclass
class PartialYear:
    """A year of an indicator whose monthly records this file summed with months missing: the
    year's figures are published flagged partial_year."""
    year: int
    indicator_code: str
    missing_months: str  # YYYY-MM, comma-separated


@dataclass
class Receipt:
    file_path: str
    observatory: str
    sha256: str
    received_at: str
    status: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    layout: str | None = None
    rows_skipped: int = 0
    from_registry: str | None = None  # columns the registry of observatories supplied
    institution: str = ""  # the observatory's institution (registry), or its folder
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # All of them, when more than the lists hold (ROWS_SHOWN): the problems by reason code.
    problems_total: int = 0
    problems_by_reason: dict[str, int] = field(default_factory=dict)
    changes_total: int = 0
    partial_years: list[PartialYear] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Built from its lists alone (a duplicate's receipt), the totals are the lists'."""
        self.problems_total = max(self.problems_total, len(self.problems))
        self.changes_total = max(self.changes_total, len(self.changes))
        if not self.problems_by_reason:
            for problem in self.problems:
                self.problems_by_reason[problem.reason_code] = self.problems_by_reason.get(problem.reason_code, 0) + 1

    def to_json(self) -> str:
        # What asdict gives, built directly: asdict deep-copies every problem (a second per
        # million rows with 1% quarantined).
        fields = {**vars(self), "problems": [vars(p) for p in self.problems], "changes": [vars(c) for c in self.changes],
                  "partial_years": [vars(p) for p in self.partial_years]}
        return json.dumps(fields, ensure_ascii=False, indent=2) + "\n"

    def _layout_lines(self) -> list[str]:
        """Which layout read the file, and what it leaves out by design (staff see why rows
        they sent are not in the tables)."""
        if not self.layout:
            return [f"- Filas omitidas / rows skipped: {self.rows_skipped} — {SKIPPED_CONTRACT}"] if self.rows_skipped else []
        lines = [f"- Formato de fuente / source layout: `{self.layout}` (observatory/layouts/{self.layout}.yaml)"]
        layout = layouts.by_name(self.layout)
        if self.rows_skipped:
            reasons = "; ".join(rule.reason for rule in layout.filters) if layout else ""
            lines.append(f"- Filas omitidas por el formato / rows skipped by the layout: {self.rows_skipped}"
                         + (f" — {reasons}" if reasons else "") + f" (también / also: {SKIPPED_CONTRACT})")
        return lines

    def to_markdown(self) -> str:
        lines = [
            f"# {self.file_path}",
            "",
            f"- Observatorio / observatory: {self.institution or self.observatory}",
            *([f"- Tomado del registro de observatorios (el archivo no lo trae) / taken from the registry of "
               f"observatories (the file leaves it out): {self.from_registry}"] if self.from_registry else []),
            f"- Estado / status: **{STATUS_ES.get(self.status, self.status)}** / **{self.status}**",
            f"- Filas leídas / rows read: {self.rows_read}",
            f"- Filas cargadas / rows loaded: {self.rows_loaded}",
            f"- Filas en cuarentena / rows quarantined: {self.rows_quarantined}",
            *self._layout_lines(),
            f"- Recibido / received: {self.received_at or '—'} (UTC)",
            f"- SHA-256: `{self.sha256}`",
            "",
        ]
        if self.problems:
            lines += ["## Problemas / problems", "", "| línea / line | motivo / reason | qué hacer | what to do |", "|---|---|---|---|"]
            lines += [
                f"| {p.where} | `{p.reason_code}` | {_cell(p.message_es)} | {_cell(p.message_en)} |"
                for p in self.problems
            ]
            if self.problems_total > len(self.problems):
                lines += ["", MORE_PROBLEMS.format(shown=len(self.problems), total=self.problems_total), "",
                          "| motivo / reason | problemas / problems |", "|---|---|"]
                lines += [f"| `{code}` | {rows} |" for code, rows in self.problems_by_reason.items()]
        else:
            lines.append("Sin problemas. / No problems.")
        if self.partial_years:
            lines += ["", "## Años incompletos / partial years", "", PARTIAL_YEARS, "",
                      "| año / year | indicador / indicator | meses sin registro cargado / months without a loaded record |",
                      "|---|---|---|"]
            lines += [f"| {p.year} | `{p.indicator_code}` | {p.missing_months} |" for p in self.partial_years]
        if self.changes:
            lines += ["", "## Cifras revisadas / revised figures", "",
                      "| línea / line | clave / key | antes / before | ahora / now | antes en / before in |", "|---|---|---|---|---|"]
            lines += [f"| {c.line if c.line is not None else '—'} | {_cell(c.key)} | {_before(c)} | {_number(c.value)} | {c.previous_file} |"
                      for c in self.changes]
            if self.changes_total > len(self.changes):
                lines += ["", MORE_CHANGES.format(shown=len(self.changes), total=self.changes_total)]
            if any(c.previous_withheld for c in self.changes):
                lines += ["", WITHHELD_NOTE]
        return "\n".join(lines) + "\n"


PARTIAL_YEARS = (
    "Este archivo no trae ningún registro cargado de estos meses: la cifra del año se publica marcada como año "
    "parcial (`partial_year`). Si los meses faltan por error, agréguelos y vuelva a dejar el archivo con el mismo "
    "nombre. / This file brings no loaded record for these months: the year's figure is published flagged as a "
    "partial year (`partial_year`). If they are missing by mistake, add them and drop the file again under the "
    "same name.")
MORE_PROBLEMS = (
    "Se listan los primeros {shown} de {total} problemas (por línea). Cuando el archivo se carga, todos quedan en "
    "`exports/quarantine.csv` de la carpeta publicada (`data/curated/` por omisión). Cuántos hay de cada motivo:\n\n"
    "The first {shown} of {total} problems are listed (by line). When the file is loaded, all of them are in "
    "`exports/quarantine.csv` of the published folder (`data/curated/` by default). How many of each reason:")
MORE_CHANGES = (
    "Se listan las primeras {shown} de {total} cifras revisadas (por línea). Todas las versiones quedan en "
    "`exports/observation_history/<ISO3>.csv` de la carpeta publicada (`data/curated/` por omisión), salvo las "
    "cifras que la publicación retiene para proteger a las víctimas.\n\n"
    "The first {shown} of {total} revised figures are listed (by line). Every vintage is in "
    "`exports/observation_history/<ISO3>.csv` of the published folder (`data/curated/` by default), but for the "
    "figures the publication withholds to protect victims.")


def _before(change: Change) -> str:
    return WITHHELD if change.previous_withheld else _number(change.previous_value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def from_tables(con: duckdb.DuckDBPyConnection, receipt_table: str, quarantine_table: str) -> list[Receipt]:
    """Receipts from a file_receipt-shaped table and a quarantine-shaped table: each lists its
    first ROWS_SHOWN problems and revised figures, and counts them all."""
    order = "source_row NULLS FIRST, source_column, reason_code, message_es"
    problems: dict[str, list[Problem]] = {}
    for path, line, code, es, en, column in con.execute(f"""
            SELECT source_file, source_row, reason_code, message_es, message_en, source_column FROM {quarantine_table}
            QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY {order}) <= {ROWS_SHOWN}
            ORDER BY source_file, {order}""").fetchall():
        problems.setdefault(path, []).append(Problem(line, code, es, en, column))
    by_reason: dict[str, dict[str, int]] = {}
    for path, code, rows in con.execute(
            f"SELECT source_file, reason_code, count(*) FROM {quarantine_table} GROUP BY ALL ORDER BY 1, 3 DESC, 2").fetchall():
        by_reason.setdefault(path, {})[code] = rows
    changes: dict[str, list[Change]] = {}
    changed: dict[str, int] = {}
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'observation_history' AND database_name = current_database()").fetchall()[0][0]:
        names = observation_key.key()
        result = con.execute(observation_key.sql_file(SQL_DIR / "revisions.sql"), [small_cells.sensitive_indicators()])
        while batch := result.fetchmany(10_000):  # in the receipts' order: each file's first ones are kept
            for path, line, *row in batch:
                changed[path] = changed.get(path, 0) + 1
                if changed[path] > ROWS_SHOWN:
                    continue
                cells, (previous, value, previous_file, withheld) = dict(zip(names, row)), row[len(names):]
                key = " ".join(str(cells[name]) for name in names if name != "source" and cells[name] is not None)
                changes.setdefault(path, []).append(Change(line, f"{key} ({cells['source']})", previous, value, previous_file, withheld))
    partial: dict[str, list[PartialYear]] = {}
    # `observation` has the column wherever receipts are made (build.ensure_working_tables: the
    # working database, and `check`'s in memory).
    for path, year, indicator, months in con.execute(f"""
            SELECT o.source_file, o.year, o.indicator_code, min(o.missing_periods) FROM observation AS o
            SEMI JOIN {receipt_table} AS r ON r.file_path = o.source_file
            WHERE o.missing_periods IS NOT NULL GROUP BY ALL ORDER BY ALL""").fetchall():
        partial.setdefault(path, []).append(PartialYear(year, indicator, months))
    owners = content_owners(con)  # file_receipt: the working database's, or `check`'s in memory
    receipts = []
    for row in con.execute(
        f"SELECT file_path, observatory, sha256, strftime(received_at, '%Y-%m-%d %H:%M:%S'), status, rows_read, rows_loaded, "
        f"rows_quarantined, layout, coalesce(rows_skipped, 0), from_registry FROM {receipt_table} ORDER BY file_path"
    ).fetchall():
        reasons = by_reason.get(row[0], {})
        if row[4] == "duplicate" and row[2] in owners:  # the file that brought the content, as `check` says
            problems[row[0]], reasons = [duplicate_problem(owners[row[2]])], {}
        receipts.append(Receipt(*row, institution=registry.institution(row[1] or ""),
                                problems=problems.get(row[0], []), changes=changes.get(row[0], []),
                                problems_total=sum(reasons.values()), problems_by_reason=reasons,
                                changes_total=changed.get(row[0], 0), partial_years=partial.get(row[0], [])))
    return receipts


def file_problem(reason_code: str, **details: str) -> Problem:
    """A file-level problem of a receipt no run's build wrote (a duplicate, a withdrawn file in
    `check`): reasons.csv's messages for `reason_code`, filled with `details`."""
    from observatory import reference

    reasons = reference.load("reasons").set_index("reason_code")
    es, en = (reasons.at[reason_code, column].format(**details) for column in ("message_es", "message_en"))
    return Problem(None, reason_code, es, en)


def duplicate_problem(original: str) -> Problem:
    """A duplicate's one problem: its content came with `original`, which the message names."""
    return file_problem("duplicate_file", original=original)


def _unread_receipt(raw, status: str, problem: Problem) -> Receipt:
    """The receipt of a file nothing of which loads, as `check` shows it (received now)."""
    from datetime import datetime, timezone

    return Receipt(raw.rel_path, raw.observatory, raw.sha256, f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}",
                   status, 0, 0, 0, institution=registry.institution(raw.observatory), problems=[problem])


def duplicate_receipt(raw, published_db: Path, raw_dir: Path) -> Receipt | None:
    """The receipt of a file whose content another file still in `raw_dir` already brought (as
    the published receipts say), as a run would record it; None when the content is new, is this
    file's, or came with a file since removed (a run reads it again)."""
    def other_with_it(path: str, sha: str) -> bool:
        return sha == raw.sha256 and path != raw.rel_path and holds(raw_dir / path, sha)

    owner = received_contents(published_db, other_with_it).get(raw.sha256)
    if owner is None or _received_at(published_db, raw.rel_path, raw.sha256):
        return None  # a run reads this file as unchanged: its own receipt, not a copy's
    return _unread_receipt(raw, "duplicate", duplicate_problem(owner))


def withdrawn_receipt(raw) -> Receipt:
    """What `observatory check` shows for withdrawn content: nothing of it would load (a run
    neither reads it nor records a receipt for it), and how to take it back."""
    return _unread_receipt(raw, "withdrawn", file_problem(
        "withdrawn_file", file_name=Path(raw.rel_path).name, file_path=f"data/raw/{raw.rel_path}"))


def already_received(published_db: Path, receipt: Receipt) -> str | None:
    """A line for staff when a run would not read the checked file again: the same path with the
    same content is published already (the receipt shown is what it gave then, checked again)."""
    received_at = _received_at(published_db, receipt.file_path, receipt.sha256)
    if received_at is None:
        return None
    return (f"Ya recibido sin cambios el {received_at} (UTC) y publicado: una ejecución no lo volverá a leer. / "
            f"Already received unchanged on {received_at} (UTC) and published: a run will not read it again.")


def _received_at(published_db: Path, file_path: str, sha256: str) -> str | None:
    """When the published receipts say this path brought this content (not as a duplicate)."""
    if not published_db.is_file():
        return None
    with duckdb.connect(str(published_db), read_only=True) as con:
        found = con.execute("SELECT strftime(received_at, '%Y-%m-%d %H:%M') FROM file_receipt "
                            "WHERE file_path = ? AND sha256 = ? AND status <> 'duplicate'", [file_path, sha256]).fetchall()
    return found[0][0] if found else None


def write_due(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """One .md and one .json per file under receipts_dir, mirroring data/raw/, for the files
    applied since receipts were last written (table receipt_due); a receipt is rewritten only
    when it changed, each atomically. A due file with no receipt was withdrawn, or is gone from
    the raw folder having brought nothing: its receipt goes (it quotes the file's name and rows). Returns how many were (re)written."""
    written = 0
    for (path,) in con.execute("SELECT file_path FROM receipt_due ANTI JOIN file_receipt USING (file_path)").fetchall():
        base = settings.receipts_dir / path
        for suffix in (".md", ".json"):
            base.with_name(base.name + suffix).unlink(missing_ok=True)
        for folder in base.parents:  # and the folders left empty (a folder's name may name someone too)
            if folder == settings.receipts_dir or not folder.is_relative_to(settings.receipts_dir) or any(folder.iterdir()):
                break
            folder.rmdir()
    con.execute("CREATE OR REPLACE TEMP VIEW _due_receipt AS SELECT * FROM file_receipt WHERE file_path IN (SELECT file_path FROM receipt_due)")
    con.execute("CREATE OR REPLACE TEMP VIEW _due_quarantine AS SELECT * FROM quarantine WHERE source_file IN (SELECT file_path FROM receipt_due)")
    for receipt in from_tables(con, "_due_receipt", "_due_quarantine"):
        base = settings.receipts_dir / receipt.file_path
        for suffix, text in ((".md", receipt.to_markdown()), (".json", receipt.to_json())):
            target = base.with_name(base.name + suffix)
            if target.exists() and target.read_text(encoding="utf-8") == text:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staging.write_text(text, encoding="utf-8")
            os.replace(staging, target)
            written += 1
    con.execute("DELETE FROM receipt_due")
    return written


def receipt_path(settings: Settings, file_path: str) -> Path:
    return settings.receipts_dir / f"{file_path}.md"
