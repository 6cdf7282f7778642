"""Data for researchers who do not use DuckDB: every public table as a CSV that opens cleanly
in Excel in a Spanish locale, a data dictionary in Spanish and English, and a Frictionless
`datapackage.json` describing every file.

Everything is read from the PUBLISHED database, never from the working one, so whatever the
publication withholds (e.g. small cells) is withheld here too, and the exports always match
the database researchers download beside them.
"""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import duckdb

from observatory import publication, state
from observatory.discover import sha256_of
from observatory.publish import load_yaml, public_schema
from observatory.sqltext import sql_literal

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).parent
EXPORTS_META_FILE = PACKAGE_DIR / "exports.yaml"
SCHEMA_ES_FILE = PACKAGE_DIR / "schema_es.yaml"
# Excel runs a cell as a formula when it starts with one of these (CSV injection, OWASP).
FORMULA_START_SQL = "('=', '+', '-', '@', chr(9), chr(13))"
FRICTIONLESS_TYPES = {"VARCHAR": "string", "INTEGER": "integer", "BIGINT": "integer", "DOUBLE": "number",
                      "BOOLEAN": "boolean", "TIMESTAMP": "datetime", "DATE": "date", "SMALLINT": "integer",
                      "TINYINT": "integer", "HUGEINT": "integer", "FLOAT": "number"}
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DICTIONARY_FILES = {"es": "diccionario_de_datos.md", "en": "data_dictionary.md"}
# Rows of data in one CSV: an Excel sheet holds 1,048,576 rows, the header is one of them.
EXCEL_ROWS = 1_048_575
# CSV files written at a time (two cores: a COPY of one country's rows keeps one busy).
WRITERS = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str | None


@dataclass(frozen=True)
class Table:
    name: str
    comment: str | None
    columns: tuple[Column, ...]
    rows: int


@dataclass
class ExportSummary:
    folder: Path
    files: list[str]  # relative paths, e.g. fact_observation/PER.csv
    written: list[str] = field(default_factory=list)  # the CSV files written anew (the others kept)


@lru_cache(maxsize=1)
def exports_meta() -> dict:
    """Keys, licence names and the package's title: data, not code."""
    return load_yaml(EXPORTS_META_FILE)


@lru_cache(maxsize=1)
def schema_es() -> dict:
    """Spanish descriptions of the public schema, table -> {description, columns}."""
    return load_yaml(SCHEMA_ES_FILE)


def published_tables(con: duckdb.DuckDBPyConnection) -> list[Table]:
    """The tables as published (columns, types, comments), in the order of schema.yaml: what
    the database holds is the truth, so columns another step added are exported too."""
    order = {name: i for i, name in enumerate(public_schema())}
    rows = con.execute("""
        SELECT t.table_name, t.comment, c.column_name, c.data_type, c.comment
        FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
        WHERE t.database_name = current_database() AND t.schema_name = 'main'
        ORDER BY t.table_name, c.column_index
    """).fetchall()
    grouped: dict[str, tuple[str | None, list[Column]]] = {}
    for table, table_comment, column, kind, comment in rows:
        grouped.setdefault(table, (table_comment, []))[1].append(Column(column, kind, comment))
    tables = []
    for name in sorted(grouped, key=lambda n: (order.get(n, len(order)), n)):
        count = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        tables.append(Table(name, grouped[name][0], tuple(grouped[name][1]), count))
    return tables


def export(published_db: Path, target: Path, config: dict[str, str] | None = None) -> ExportSummary:
    """Write the exports into a new folder beside `target`, then point `target` at it with one
    rename: a reader sees the whole old set or the whole new one. A CSV whose fingerprint (its
    rows, hashed in DuckDB, and the code that writes it) is the one the current folder's
    manifest records is hard-linked from there instead of written again; the manifest is
    written last, into the new folder, so a crash leaves the current exports as they were.
    `config`: DuckDB's settings (Settings.reader_config: a memory limit, a spill folder)."""
    current = publication.current_version(target)
    recorded = publication.read_manifest(current)
    version = target.with_name(f".{target.name}-{uuid.uuid4().hex}")
    version.mkdir(parents=True)
    written: list[str] = []
    try:
        with duckdb.connect(str(published_db), read_only=True, config=config or {}) as con:
            tables = published_tables(con)
            files = csv_files(con, tables)
            manifest, stale = {}, []
            for file in files:
                if publication.reusable(current, file.path, file.fingerprint, recorded):
                    publication.link_or_copy(current / file.path, version / file.path)
                    manifest[file.path] = recorded[file.path]
                else:
                    stale.append(file)
            for file, result in zip(stale, _write_all(con, stale, version)):
                manifest[file.path] = {"fingerprint": file.fingerprint, **result}
                written.append(file.path)
            context = package_context(con)
        for language, name in DICTIONARY_FILES.items():
            (version / name).write_text(data_dictionary(tables, language), encoding="utf-8")
        package = datapackage(tables, context, version, files, manifest)
        (version / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n",
                                                  encoding="utf-8")
        publication.write_manifest(version, manifest)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    swap_folder(target, version)
    names = sorted(p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file() and p.name != publication.MANIFEST)
    log.info("exports written to %s: %d files, %d CSV written", target, len(names), len(written))
    return ExportSummary(target, names, written)


def swap_folder(link: Path, version: Path) -> None:
    """`link` is a symbolic link to the current version folder; replacing it is one atomic
    rename. Older versions (and a plain folder of an older layout) are removed afterwards."""
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    staging = link.with_name(f".{link.name}.{os.getpid()}.link")
    staging.unlink(missing_ok=True)
    staging.symlink_to(version.name)
    os.replace(staging, link)
    for old in link.parent.glob(f".{link.name}-*"):
        if old.is_dir() and old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)


# --- CSV ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvFile:
    """One CSV of a table: the whole table, or one country's rows of a table split by country
    (exports.yaml), and part k of them when there are more rows than an Excel sheet holds."""
    table: Table
    path: str  # relative to the exports folder
    split: bool  # one file (or more) per country
    country: str | None
    part: int  # 1, 2, ...: rows part x EXCEL_ROWS onwards, in the file's order
    rows: int
    fingerprint: str


def code_digest() -> str:
    """What every CSV is written with besides its rows: this code, exports.yaml and DuckDB's
    version (its hash() fingerprints the rows, its COPY formats them)."""
    return state.digest([Path(__file__), EXPORTS_META_FILE], duckdb.__version__, EXCEL_ROWS)


def csv_files(con: duckdb.DuckDBPyConnection, tables: list[Table]) -> list[CsvFile]:
    """Every CSV to export, with a fingerprint of its rows: each table hashed in DuckDB in one
    query (per country where split), summing every row's hash, so the order rows are stored in
    does not matter and a changed, added or removed row does."""
    code = code_digest()
    files = []
    for table in tables:
        by_country = split_by_country(table)
        key = "country_iso3" if by_country else "NULL"
        groups = con.execute(f'SELECT {key}, count(*), sum(hash(t)) FROM "{table.name}" AS t GROUP BY ALL ORDER BY 1').fetchall()
        if not by_country and not groups:
            groups = [(None, 0, None)]  # an empty table is still a file with its header
        for country, rows, total in groups:
            name = f"{table.name}/{_file_stem(country)}" if by_country else table.name
            for part in range(1, max(1, -(-rows // EXCEL_ROWS)) + 1):
                path = f"{name}.csv" if part == 1 else f"{name}_{part}.csv"
                fingerprint = state.digest([], code, table.columns, _sort_columns(table), path, country, part, rows, total)
                files.append(CsvFile(table, path, by_country, country, part, min(EXCEL_ROWS, rows - (part - 1) * EXCEL_ROWS),
                                     fingerprint))
    return files


def split_by_country(table: Table) -> bool:
    """Written one file per country (exports.yaml): the tables that grow with the data, so that
    every file opens in Excel and a new file about a few countries rewrites only theirs."""
    return table.name in exports_meta().get("split_by_country", []) and any(c.name == "country_iso3" for c in table.columns)


def _sort_columns(table: Table) -> list[str]:
    """The order of a file's rows: the table's declared key (schema.yaml), else every column.
    A key orders every row by itself: nothing is published while two rows share it (the
    blocking check fact_observation_unique_observation_key, checked again when publishing on
    any path that left it out: pipeline._check_unpassed), so the same rows still make the
    same bytes, and DuckDB's sort no longer carries the other columns (the long note of a
    suppressed figure among them): a sixth less time per file, measured. Part of each file's
    fingerprint, since a change to the key changes the bytes of files whose rows do not change."""
    key = public_schema().get(table.name, {}).get("key", [])
    names = [c.name for c in table.columns]
    return [k for k in key if k in names] if key and set(key) <= set(names) else names


def _select_sql(table: Table, where: str, limit: str = "") -> str:
    """The rows of a file as text, sorted on its key or every column (the same rows, the same
    bytes; _sort_columns). The first column's name starts with the UTF-8 BOM, so DuckDB's header line
    puts it first in the file (DuckDB quotes no header for it; a copy of every file to put it in
    front cost seconds per million rows)."""
    cells = ", ".join(f'{_cell_sql(c)} AS "{codecs.BOM_UTF8.decode() if n == 0 else ""}{c.name}"'
                      for n, c in enumerate(table.columns))
    order = ", ".join(f't."{name}"' for name in _sort_columns(table))
    return f'SELECT {cells} FROM "{table.name}" AS t WHERE {where} ORDER BY {order}{limit}'


def _file_stem(country: str | None) -> str:
    """A country's file name: its ISO3 code. A NULL or odd code (the pipeline lets none through)
    never makes a path of itself, nor the name of another's file."""
    if country is None:
        return "sin_pais"
    if re.fullmatch(r"[A-Za-z0-9]+", country):
        return country
    return re.sub(r"[^A-Za-z0-9]", "_", country) + "_" + hashlib.sha256(country.encode()).hexdigest()[:8]


def _write_all(con: duckdb.DuckDBPyConnection, files: list[CsvFile], folder: Path) -> list[dict]:
    """Every file's CSV, WRITERS at a time (each with its own cursor): one COPY of a country's
    rows sorts and formats on one core, so two keep both cores busy."""
    if len(files) < 2:
        return [write_csv(con, file, folder / file.path) for file in files]
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def write(file: CsvFile) -> dict:
        if not hasattr(local, "con"):
            local.con = con.cursor()
            with lock:
                cursors.append(local.con)
        return write_csv(local.con, file, folder / file.path)

    try:
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="export") as pool:
            return list(pool.map(write, files))
    finally:
        for cursor in cursors:
            cursor.close()


def write_csv(con: duckdb.DuckDBPyConnection, file: CsvFile, path: Path) -> dict:
    """`;` between fields and a decimal comma, as Excel expects in a Spanish locale; UTF-8
    with a BOM so Excel reads the accents; CRLF; empty cell = NULL (unknown). DuckDB formats
    and writes the rows (a million rows in seconds), sorted (_sort_columns) so that the same
    rows always make the same bytes. Returns the file's size and SHA-256 (for datapackage.json)."""
    table = file.table
    path.parent.mkdir(parents=True, exist_ok=True)
    where = "true" if not file.split else \
        "t.country_iso3 IS NULL" if file.country is None else f"t.country_iso3 = {sql_literal(file.country)}"
    limit = f" LIMIT {EXCEL_ROWS} OFFSET {(file.part - 1) * EXCEL_ROWS}" if file.part > 1 or file.rows == EXCEL_ROWS else ""
    con.execute(f"COPY ({_select_sql(table, where, limit)}) TO {sql_literal(path)} "
                "(FORMAT csv, HEADER, DELIMITER ';', QUOTE '\"', NEW_LINE '\r\n')")
    return {"bytes": path.stat().st_size, "sha256": sha256_of(path)}


def _cell_sql(column: Column) -> str:
    """One column as the text Excel and Frictionless both read the same way: whole numbers
    without decimals, a decimal comma otherwise; true/false; timestamps to the second; text
    that a spreadsheet would run as a formula behind an apostrophe (shown as is, never run)."""
    name, kind = f'"{column.name}"', column.type.split("(")[0]
    if kind in ("DOUBLE", "FLOAT", "DECIMAL"):
        return (f"CASE WHEN isfinite({name}) AND {name} = trunc({name}) AND abs({name}) < 1e15 "
                f"THEN CAST(CAST({name} AS BIGINT) AS VARCHAR) ELSE replace(CAST({name} AS VARCHAR), '.', ',') END")
    if kind == "TIMESTAMP":
        return f"strftime({name}, '{DATETIME_FORMAT}')"
    if kind == "VARCHAR":
        return f"CASE WHEN left({name}, 1) IN {FORMULA_START_SQL} THEN chr(39) || {name} ELSE {name} END"
    return f"CAST({name} AS VARCHAR)"



# --- data dictionary ---------------------------------------------------------------------------

LABELS = {
    "es": {
        "title": "Diccionario de datos",
        "intro": (
            "Tablas públicas del observatorio, tal como se publican en `observatory.duckdb`, "
            "`parquet/<tabla>.parquet` y `exports/<tabla>.csv` (las tablas grandes, un archivo por país: "
            "`exports/<tabla>/<ISO3>.csv`). Generado a partir de "
            "`observatory/schema.yaml` y de los comentarios de la base publicada."),
        "csv": (
            "Los CSV usan `;` como separador y la coma decimal (Excel en español los abre con doble clic), "
            "UTF-8 con BOM y fin de línea CRLF. Una celda vacía es NULL, nunca cero ni «no»: un valor "
            "desconocido o no declarado, salvo donde la descripción de la columna dice otra cosa (una cifra "
            "retenida por ser una celda pequeña, un país sin clasificar, una cifra nacional sin unidad "
            "subnacional). Verdadero/falso se escriben `true`/`false`; fechas y horas en UTC "
            "como `AAAA-MM-DD hh:mm:ss` (al segundo). Un texto que empieza por `=`, `+`, `-` o `@` lleva "
            "un apóstrofo delante para que Excel no lo ejecute como fórmula. Ningún archivo pasa de "
            "1.048.575 filas de datos, las que caben en una hoja de Excel: si pasa, sigue en "
            "`<nombre>_2.csv`, `<nombre>_3.csv`…"),
        "per_country": "un archivo por país",
        "no_file": "sin filas, sin archivo",
        "table": "Tabla", "file": "Archivo", "rows": "Filas", "key": "Clave primaria",
        "declared_key": "una fila por clave (observatory/schema.yaml); no es clave primaria de Frictionless porque "
                        "admite celdas vacías, como `subnational_code` en las cifras nacionales",
        "column": "Columna", "type": "Tipo", "description": "Descripción", "none": "ninguna",
        "untranslated": "(sin traducción al español)",
    },
    "en": {
        "title": "Data dictionary",
        "intro": (
            "The observatory's public tables, as published in `observatory.duckdb`, "
            "`parquet/<table>.parquet` and `exports/<table>.csv` (the large tables one file per country: "
            "`exports/<table>/<ISO3>.csv`). Generated from "
            "`observatory/schema.yaml` and the comments of the published database."),
        "csv": (
            "The CSV files use `;` between fields and a decimal comma (Excel in a Spanish locale opens "
            "them with a double click), UTF-8 with a BOM and CRLF line endings. An empty cell is NULL, "
            "never zero or \"no\": an unknown or unstated value, except where the column's description says "
            "otherwise (a figure withheld as a small cell, a country not ranked, a national figure's "
            "subnational unit). True/false are written `true`/`false`; "
            "timestamps in UTC as `YYYY-MM-DD hh:mm:ss` (to the second). Text starting with `=`, `+`, `-` "
            "or `@` has an apostrophe in front so that Excel never runs it as a formula. No file holds "
            "more than 1,048,575 rows of data, what an Excel sheet holds: past that, it goes on in "
            "`<name>_2.csv`, `<name>_3.csv`…"),
        "per_country": "one file per country",
        "no_file": "no rows, no file",
        "table": "Table", "file": "File", "rows": "Rows", "key": "Primary key",
        "declared_key": "one row per key (observatory/schema.yaml); not a Frictionless primary key because it "
                        "may hold empty cells, as `subnational_code` in national figures",
        "column": "Column", "type": "Type", "description": "Description", "none": "none",
        "untranslated": "",
    },
}


def describe(table: Table, column: Column | None, language: str) -> str:
    """The English text is the published comment; the Spanish one comes from schema_es.yaml
    (a column without a translation shows its English comment, marked)."""
    english = (column.comment if column else table.comment) or ""
    if language == "en":
        return english
    spanish = schema_es().get(table.name, {})
    text = spanish.get("columns", {}).get(column.name) if column else spanish.get("description")
    return text or f"{english} {LABELS['es']['untranslated']}".strip()


def data_dictionary(tables: Iterable[Table], language: str) -> str:
    labels = LABELS[language]
    keys = exports_meta()["primary_keys"]
    lines = [f"# {labels['title']}", "", labels["intro"], "", labels["csv"], ""]
    for table in tables:
        key = ", ".join(f"`{k}`" for k in keys.get(table.name, [])) or labels["none"]
        declared = public_schema().get(table.name, {}).get("key")  # a key with NULLs (schema.yaml), not in exports.yaml
        if declared and not keys.get(table.name):
            key = ", ".join(f"`{k}`" for k in declared) + f" — {labels['declared_key']}"
        where = f"`{table.name}/<ISO3>.csv` ({labels['per_country']})" if split_by_country(table) else f"`{table.name}.csv`"
        if split_by_country(table) and not table.rows:
            where += f" ({labels['no_file']})"
        lines += [f"## `{table.name}`", "", describe(table, None, language), "",
                  f"{labels['file']}: {where} · {labels['rows']}: {table.rows} · {labels['key']}: {key}", "",
                  f"| {labels['column']} | {labels['type']} | {labels['description']} |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {_md_cell(describe(table, c, language))} |" for c in table.columns]
        lines.append("")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- datapackage.json --------------------------------------------------------------------------

def package_context(con: duckdb.DuckDBPyConnection) -> dict:
    """Licences and sources of what is published: the layouts that read the loaded files, and
    the observatories that sent raw-contract files."""
    layouts = con.execute("""
        SELECT DISTINCT l.layout, l.producer, l.url, l.licence
        FROM source_layout l JOIN file_receipt r ON r.layout = l.layout
        WHERE r.rows_loaded > 0 ORDER BY l.layout
    """).fetchall()
    observatories = [r[0] for r in con.execute("""
        SELECT DISTINCT observatory FROM file_receipt
        WHERE layout IS NULL AND rows_loaded > 0 AND observatory IS NOT NULL ORDER BY 1
    """).fetchall()]
    return {"layouts": layouts, "observatories": observatories}


def datapackage(tables: list[Table], context: dict, folder: Path, files: list[CsvFile], written: dict[str, dict]) -> dict:
    """Every CSV is a resource of its own (a country's file opens by itself; Frictionless checks
    each), its size and SHA-256 those recorded when it was written (`written`)."""
    meta = exports_meta()
    counts: dict[str, int] = {}
    for f in files:
        counts[f.table.name] = counts.get(f.table.name, 0) + 1
    whole = {name for name, n in counts.items() if n == 1}
    resources = [_table_resource(f, written[f.path], meta, whole) for f in files]
    resources += [_file_resource(folder / name, f"data_dictionary_{language}", meta["dictionary_titles"][language])
                  for language, name in DICTIONARY_FILES.items()]
    return {
        "name": meta["name"],
        "title": meta["title"],
        "description": meta["description"],
        "licenses": _licences(context["layouts"], meta),
        "sources": _sources(context, meta),
        "resources": resources,
    }


def _licences(layouts: list[tuple], meta: dict) -> list[dict]:
    known = meta["licences"]
    licences: dict[str, dict] = {}
    for _layout, _producer, url, licence in layouts:
        if licence in known:
            licences[licence] = dict(known[licence])
        elif licence:
            licences.setdefault(licence, {"title": licence, "path": url})
    return list(licences.values())


def _sources(context: dict, meta: dict) -> list[dict]:
    sources = [{"title": producer, "path": url} for _layout, producer, url, _licence in context["layouts"]]
    sources += [{"title": meta["observatory_source_title"].format(observatory=o)} for o in context["observatories"]]
    return sources


def _table_resource(file: CsvFile, written: dict, meta: dict, whole: set[str]) -> dict:
    """One CSV file as a resource. A foreign key is declared only towards a table that is one
    file (one resource to look values up in): a reference table past an Excel sheet, split in
    parts, cannot be named as one."""
    table = file.table
    schema: dict = {"fields": [_field(c) for c in table.columns], "missingValues": [""]}
    if key := meta["primary_keys"].get(table.name):
        schema["primaryKey"] = key
    if foreign := [fk for fk in meta["foreign_keys"].get(table.name, []) if fk["resource"] in whole]:
        schema["foreignKeys"] = [
            {"fields": fk["fields"], "reference": {"resource": fk["resource"], "fields": fk["reference"]}}
            for fk in foreign
        ]
    name, title = table.name, table.name
    if file.split:
        name, title = f"{name}_{_file_stem(file.country).lower()}", f"{title} ({file.country or '—'})"
    if file.part > 1:
        name, title = f"{name}_{file.part}", f"{title} ({file.part})"
    return {
        "name": name, "path": file.path, "profile": "tabular-data-resource",
        "title": title, "description": table.comment or "",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8-sig",
        "bytes": written["bytes"], "hash": f"sha256:{written['sha256']}",
        "dialect": {"delimiter": ";", "lineTerminator": "\r\n", "quoteChar": '"', "doubleQuote": True,
                    "header": True},
        "schema": schema,
    }


def _field(column: Column) -> dict:
    kind = FRICTIONLESS_TYPES.get(column.type.split("(")[0], "string")
    field = {"name": column.name, "type": kind, "description": column.comment or ""}
    if kind == "number":
        field["decimalChar"] = ","
    if kind == "datetime":
        field["format"] = DATETIME_FORMAT
    if kind == "boolean":
        field["trueValues"], field["falseValues"] = ["true"], ["false"]
    return field


def _file_resource(path: Path, name: str, title: str) -> dict:
    return {"name": name, "path": path.name, "title": title, "format": "md", "mediatype": "text/markdown",
            "encoding": "utf-8", "bytes": path.stat().st_size, "hash": f"sha256:{sha256_of(path)}"}

