"""Raw contract v1: a file whose header row names canonical columns (in Spanish or English),
staged by one SQL statement over the parsed records; a wide table (years as columns) is melted
by the same statement, and a month column makes the rows monthly records summed into the year.
A header that is neither the contract nor a known layout gets a message saying what is missing.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from observatory import layouts, months, privacy, reference, registry, staff_forms
from observatory.records import Records
from observatory.sqltext import sql_literal
from observatory.staging import STAGE_TABLES, Stager, row_schema
from observatory.textfile import FileRejected

if TYPE_CHECKING:
    from observatory.read import ReadOutcome


def stage_canonical(records: Records, header: list[str], stager: Stager, outcome: ReadOutcome) -> int:
    """Raw contract v1: a header row, then data rows, parsed, cleaned and mapped to canonical
    columns by one query; every non-blank row is counted as read. A wide table (years as
    columns) is melted by the same query (UNPIVOT), one record per year cell, each with its
    own line and column; a month column makes the rows monthly records summed into the year."""
    outcome.kind, positions, missing = _map_header(header)
    wide = staff_forms.year_columns(header, set(positions.values())) if staff_forms.is_wide(
        outcome.kind, missing, header, set(positions.values())) else []
    if wide:
        missing = [column for column in missing if column not in staff_forms.WIDE_REPLACES]
    supplied = registry.supplied(stager.observatory, missing) if outcome.kind == "observation" else {}
    if supplied:
        missing = [column for column in missing if column not in supplied]
        outcome.from_registry = ", ".join(f"{column}={value}" for column, value in supplied.items())
    names = list(reference.kind_columns()[outcome.kind])
    monthly = outcome.kind == "observation" and "period" in positions
    if outcome.kind == "observation" and not monthly:
        outcome.unread_date_column = staff_forms.unread_date_column(header, set(positions.values()))
    # Cells come cleaned from the parse (no blanks around them, NULL when empty).
    extra = " OR ".join(f"c{i} IS NOT NULL" for i in range(len(header), records.width)) or "false"
    melted = {"year", "value", "cell"} | ({"unit"} if "unit" not in positions else set()) if wide else set()
    fields = ", ".join(f"c{positions[name]} AS {name}" if name in positions else
                       f"CAST({sql_literal(supplied[name]) if name in supplied else 'NULL'} AS VARCHAR) AS {name}"
                       for name in names if name not in melted)
    width = ", ".join(f"CASE WHEN c{i} IS NOT NULL THEN {i + 1} END" for i in range(records.width))
    period = f"c{positions['period']}" if monthly else ""
    month = f", {months.month_sql(period)} AS month_number" if monthly else ""
    select = f"""SELECT rec, CAST(line AS INTEGER) AS line, ({extra}) AS extra,
               CASE WHEN {extra} THEN greatest({width}) END AS fields, {fields}{month}"""
    if wide:
        cells = ", ".join(f"c{column.position} AS w{j}" for j, column in enumerate(wide))
        query = f"""
            SELECT * EXCLUDE (w_column), CAST(substr(w_column, 2) AS INTEGER) AS w
            FROM ({select}, {cells} FROM ({records.relation}))
            UNPIVOT INCLUDE NULLS (value FOR w_column IN ({', '.join(f'w{j}' for j in range(len(wide)))}))
            ORDER BY rec, w"""
    else:
        query = f"{select} FROM ({records.relation}) ORDER BY rec"
    parsed = records.con.sql(query).to_arrow_table()
    per_record = max(1, len(wide))
    data = parsed.slice(per_record * (outcome.title_rows + 1))  # the titles and the header
    if missing:
        raise _unrecognized(header, outcome.kind, missing, data.num_rows // per_record, wide=bool(wide))
    if data.num_rows == 0:
        raise FileRejected("no_data_rows")
    first = stager.next_row_id
    row_ids = pc.add(pc.multiply(data["rec"], pa.scalar(per_record, pa.int64())), pa.scalar(first, pa.int64()))
    if wide:
        row_ids = pc.add(row_ids, pc.cast(data["w"], pa.int64()))
        data = _with_wide_columns(data, wide, "unit" in melted)
    if monthly:
        data, bad_months = _with_periods(data)
        outcome.aggregate = layouts.Aggregate(period="month", unique=("period",))
    data = data.append_column("row_id", row_ids)
    good = data.filter(pc.invert(data["extra"]))
    if monthly:
        good = good.filter(pc.invert(bad_months.filter(pc.invert(data["extra"]))))
    stager.buffer.add(stager.file_id, STAGE_TABLES[outcome.kind], pa.table({
        "row_id": good["row_id"],
        "file_id": pc.fill_null(pa.nulls(good.num_rows, pa.int32()), stager.file_id),
        "line": good["line"],
        **{name: good[name] for name in names},
    }).cast(row_schema(outcome.kind)))
    delimiter = show_delimiter(outcome.delimiter)
    extra_rows = data.filter(data["extra"])
    if wide:  # one problem per row of the file, not per year cell
        extra_rows = extra_rows.filter(pc.equal(extra_rows["w"], 0))
    problems = [
        (stager.file_id, row["row_id"], row["line"], "extra_fields",
         json.dumps({"fields": row["fields"], "header_fields": len(header), "delimiter": delimiter}))
        for row in extra_rows.select(["row_id", "line", "fields"]).to_pylist()
    ]
    if monthly:
        wrong = data.filter(pc.and_(bad_months, pc.invert(data["extra"])))
        problems += [(stager.file_id, row["row_id"], row["line"], "invalid_month",
                      json.dumps({"raw": row["period_raw"] or "", "column": header[positions["period"]].strip(),
                                  **({"variant": "full_date"} if staff_forms.FULL_DATE.fullmatch(row["period_raw"] or "") else {})}))
                     for row in wrong.select(["row_id", "line", "period_raw"]).to_pylist()]
    stager.buffer.add_problems(stager.file_id, problems)
    stager.next_row_id = first + (parsed["rec"][-1].as_py() + 1) * per_record
    return good.num_rows + len(problems)


def _with_wide_columns(data: pa.Table, wide: list[staff_forms.YearColumn], unit_from_header: bool) -> pa.Table:
    """A melted cell's year, its column as the file writes it and, without a unit column, the
    unit its header gives in parentheses (`2019 (casos)`)."""
    index = data["w"]
    data = data.append_column("year", pc.take(pa.array([column.year for column in wide], pa.string()), index))
    data = data.append_column("cell", pc.take(pa.array([column.label for column in wide], pa.string()), index))
    if unit_from_header:
        data = data.append_column("unit", pc.take(pa.array([column.unit for column in wide], pa.string()), index))
    return data


def _with_periods(data: pa.Table) -> tuple[pa.Table, pa.ChunkedArray]:
    """A monthly record's period (YYYY-MM, for the year's completeness) and record key (a
    month given twice is a repeat); rows whose month is not a month are problems."""
    month = data["month_number"]
    bad = pc.is_null(month)
    padded = pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0")
    year_ok = pc.fill_null(pc.match_substring_regex(data["year"], r"^\d{4}$"), False)
    period = pc.if_else(year_ok, pc.binary_join_element_wise(data["year"], padded, "-"), pa.scalar(None, pa.string()))
    position = data.schema.get_field_index("period")
    data = data.set_column(position, "period", period).append_column("period_raw", data["period"])
    data = data.append_column("record_key", pc.cast(month, pa.string())) if "record_key" not in data.schema.names else \
        data.set_column(data.schema.get_field_index("record_key"), "record_key", pc.cast(month, pa.string()))
    return data, bad


def contract_header(cells: list[str]) -> tuple[bool, int]:
    """Whether a record is a complete raw contract v1 header (long or wide), and how many of
    its cells are known column names (to choose the header a message talks about)."""
    try:
        kind, positions, missing = _map_header(cells)
    except FileRejected:  # a column named twice: a header, with a problem of its own
        return True, len(cells)
    complete = not missing or (set(missing) == staff_forms.WIDE_REPLACES
                               and staff_forms.is_wide(kind, missing, cells, set(positions.values())))
    return complete, len(positions)


def _unrecognized(header: list[str], kind: str, missing: list[str], rows_read: int, wide: bool = False) -> FileRejected:
    """A header that is neither raw contract v1 nor a known layout. With most of the contract's
    required columns present, staff probably meant the contract: say which are missing;
    a wide table (years as columns) says which of its other columns is missing; otherwise say
    which layout comes closest and how to add one. Column names in each message's language."""
    required = [column for column, needed in reference.kind_columns()[kind].items() if needed]
    nearest, overlap = layouts.nearest(header)
    missing_es, missing_en = staff_forms.column_names(kind, missing)
    required_es, required_en = staff_forms.column_names(kind, required)
    details = dict(
        kind=kind, missing=", ".join(missing), required=", ".join(required), **header_fields(header),
        nearest=f"{nearest.name} ({overlap:.0%})" if nearest else "—", missing_es=missing_es, missing_en=missing_en,
        required_es=required_es, required_en=required_en,
    )
    years = staff_forms.year_columns(header, set())
    if kind == "observation" and years and (wide or staff_forms.WIDE_REPLACES <= set(missing)):
        others = [column for column in missing if column not in staff_forms.WIDE_REPLACES]
        details["missing_es"], details["missing_en"] = staff_forms.column_names(kind, others)
        details["years"] = ", ".join(column.label for column in years[:3]) + (" …" if len(years) > 3 else "")
        return FileRejected("wide_table_incomplete", rows_read=rows_read, **details)
    if len(missing) * 2 <= len(required):
        return FileRejected("missing_required_column", rows_read=rows_read, **details)
    return FileRejected("unknown_layout", rows_read=rows_read, **details)




def header_fields(header: list[str]) -> dict[str, str]:
    """The header as found, for messages: `header_es` and `header_en` (reasons.csv's {header_es}
    and {header_en}), each with its notes in its own language. A first row with figures or dates
    in it is data, not a header (a file without one): its cells are not quoted, since a case
    record's cells could help identify a person. Nor is a cell that names no column the
    observatory knows: a file without a header whose first record has no figure or date would
    show it."""
    cells = [cell.strip() for cell in header]
    if any(cell and privacy.DATA_LIKE.fullmatch(cell) for cell in cells):
        return {"header_es": f"sin encabezado: la primera fila ya parece de datos ({len(cells)} columnas); la primera "
                             f"fila debe llevar los nombres de las columnas",
                "header_en": f"no header: the first row already looks like data ({len(cells)} columns); the first row "
                             f"must hold the column names"}
    shown = [cell if quoted else privacy.NOT_QUOTED for cell, quoted in zip(cells, privacy.header_cells_quotable(cells))]
    hidden = privacy.NOT_QUOTED in shown
    return {"header_es": " | ".join(shown) + (HIDDEN_COLUMNS_ES if hidden else ""),
            "header_en": " | ".join(shown) + (HIDDEN_COLUMNS_EN if hidden else "")}


# Said once after a header whose unknown column names are not quoted, in each message's language.
HIDDEN_COLUMNS_ES = (" (…: columnas que el observatorio no conoce, no citadas por si la primera fila fuera el registro "
                     "de una persona)")
HIDDEN_COLUMNS_EN = " (…: columns the observatory does not know, not quoted in case the first row is a person's record)"


def _map_header(header: list[str]) -> tuple[str, dict[str, int], list[str]]:
    """The file's dataset kind, canonical column -> position, and missing required columns.

    The kind is the one whose required columns the header holds; when none is complete, the
    one it comes closest to, so the message names what to add."""
    aliases = reference.column_aliases()
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = aliases.get(reference.norm_key(name))
        if canonical is None:
            continue
        if canonical in found:
            raise FileRejected("ambiguous_column", column=canonical,
                               names=f"{header[found[canonical]].strip()}, {name.strip()}")
        found[canonical] = index

    def fit(kind: str) -> tuple[int, int]:
        required = [c for c, needed in reference.kind_columns()[kind].items() if needed]
        return (-sum(c not in found for c in required), sum(c in found for c in reference.kind_columns()[kind]))

    kind = max(reference.kind_columns(), key=fit)
    columns = reference.kind_columns()[kind]
    positions = {column: index for column, index in found.items() if column in columns}
    missing = [column for column, needed in columns.items() if needed and column not in found]
    return kind, positions, missing


def show_delimiter(delimiter: str) -> str:
    return {"\t": "tab", "": "?", "xlsx": "xlsx"}.get(delimiter, delimiter)
