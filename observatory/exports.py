"""Data for researchers who do not use DuckDB: every public table as a CSV that opens cleanly
in Excel in a Spanish locale, a data dictionary in Spanish and English, and a Frictionless
`datapackage.json` describing every file.

Everything is read from the PUBLISHED database, never from the working one, so whatever the
publication withholds (e.g. small cells) is withheld here too, and the exports always match
the database researchers download beside them.
"""
from __future__ import annotations

import codecs
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import duckdb
import yaml

from observatory.discover import sha256_of
from observatory.publish import public_schema
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
    files: list[str]


@lru_cache(maxsize=1)
def exports_meta() -> dict:
    """Keys, licence names and the package's title: data, not code."""
    return yaml.safe_load(EXPORTS_META_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def schema_es() -> dict:
    """Spanish descriptions of the public schema, table -> {description, columns}."""
    return yaml.safe_load(SCHEMA_ES_FILE.read_text(encoding="utf-8"))


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


def export(published_db: Path, target: Path) -> ExportSummary:
    """Write the exports into a new folder beside `target`, then point `target` at it with one
    rename: a reader sees the whole old set or the whole new one."""
    version = target.with_name(f".{target.name}-{uuid.uuid4().hex}")
    version.mkdir(parents=True)
    try:
        with duckdb.connect(str(published_db), read_only=True) as con:
            tables = published_tables(con)
            for table in tables:
                write_csv(con, table, version / f"{table.name}.csv")
            context = package_context(con)
        for language, name in DICTIONARY_FILES.items():
            (version / name).write_text(data_dictionary(tables, language), encoding="utf-8")
        package = datapackage(tables, context, version)
        (version / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n",
                                                  encoding="utf-8")
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    swap_folder(target, version)
    files = sorted(p.name for p in version.iterdir())
    log.info("exports written to %s: %d files", target, len(files))
    return ExportSummary(target, files)


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

def write_csv(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> None:
    """`;` between fields and a decimal comma, as Excel expects in a Spanish locale; UTF-8
    with a BOM so Excel reads the accents; CRLF; empty cell = NULL (unknown). DuckDB formats
    and writes the rows (a million rows in seconds); the BOM is put in front while copying."""
    body = path.with_name(f".{path.name}.body")
    cells = ", ".join(f'{_cell_sql(c)} AS "{c.name}"' for c in table.columns)
    con.execute(f'COPY (SELECT {cells} FROM "{table.name}") TO {sql_literal(body)} '
                "(FORMAT csv, HEADER, DELIMITER ';', QUOTE '\"', NEW_LINE '\r\n')")
    with open(path, "wb") as out, open(body, "rb") as src:
        out.write(codecs.BOM_UTF8)
        shutil.copyfileobj(src, out, 1 << 20)
    body.unlink()


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
            "`parquet/<tabla>.parquet` y `exports/<tabla>.csv`. Generado a partir de "
            "`observatory/schema.yaml` y de los comentarios de la base publicada."),
        "csv": (
            "Los CSV usan `;` como separador y la coma decimal (Excel en español los abre con doble clic), "
            "UTF-8 con BOM y fin de línea CRLF. Una celda vacía es un valor desconocido o no declarado "
            "(NULL), nunca cero ni «no». Verdadero/falso se escriben `true`/`false`; fechas y horas en UTC "
            "como `AAAA-MM-DD hh:mm:ss` (al segundo). Un texto que empieza por `=`, `+`, `-` o `@` lleva "
            "un apóstrofo delante para que Excel no lo ejecute como fórmula."),
        "table": "Tabla", "file": "Archivo", "rows": "Filas", "key": "Clave primaria",
        "column": "Columna", "type": "Tipo", "description": "Descripción", "none": "ninguna",
        "untranslated": "(sin traducción al español)",
    },
    "en": {
        "title": "Data dictionary",
        "intro": (
            "The observatory's public tables, as published in `observatory.duckdb`, "
            "`parquet/<table>.parquet` and `exports/<table>.csv`. Generated from "
            "`observatory/schema.yaml` and the comments of the published database."),
        "csv": (
            "The CSV files use `;` between fields and a decimal comma (Excel in a Spanish locale opens "
            "them with a double click), UTF-8 with a BOM and CRLF line endings. An empty cell is an "
            "unknown or unstated value (NULL), never zero or \"no\". True/false are written `true`/`false`; "
            "timestamps in UTC as `YYYY-MM-DD hh:mm:ss` (to the second). Text starting with `=`, `+`, `-` "
            "or `@` has an apostrophe in front so that Excel never runs it as a formula."),
        "table": "Table", "file": "File", "rows": "Rows", "key": "Primary key",
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
        lines += [f"## `{table.name}`", "", describe(table, None, language), "",
                  f"{labels['file']}: `{table.name}.csv` · {labels['rows']}: {table.rows} · {labels['key']}: {key}", "",
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


def datapackage(tables: list[Table], context: dict, folder: Path) -> dict:
    meta = exports_meta()
    resources = [_table_resource(t, folder, meta) for t in tables]
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


def _table_resource(table: Table, folder: Path, meta: dict) -> dict:
    path = folder / f"{table.name}.csv"
    schema: dict = {"fields": [_field(c) for c in table.columns], "missingValues": [""]}
    if key := meta["primary_keys"].get(table.name):
        schema["primaryKey"] = key
    if foreign := meta["foreign_keys"].get(table.name):
        schema["foreignKeys"] = [
            {"fields": fk["fields"], "reference": {"resource": fk["resource"], "fields": fk["reference"]}}
            for fk in foreign
        ]
    return {
        "name": table.name, "path": path.name, "profile": "tabular-data-resource",
        "title": table.name, "description": table.comment or "",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8-sig",
        "bytes": path.stat().st_size, "hash": f"sha256:{sha256_of(path)}",
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

