"""Harmonize: staged text cells -> country ISO3, indicator codes, units, disaggregation codes,
years and numbers in each file's own locale. Nothing is dropped: an unmatched value stays NULL
beside its raw text, for validation to quarantine with a reason."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from observatory import reference, scope
from observatory.sqltext import registered
from observatory.reference import norm_key

SQL_DIR = Path(__file__).parent / "sql"
AGE_RANGE = re.compile(r"^(\d{1,3}) (?:(?:a|to|al) )?(\d{1,3})(?: anos| years)?$")
AGE_MINIMUM = re.compile(r"^(\d{1,3}) ?(?:\+|y mas|o mas|and over|or more|years and over|anos y mas)$")
# SDMX codes: Y15T49 is 15 to 49 years, Y_GE15 is 15 years and over.
SDMX_AGE_RANGE = re.compile(r"^y(\d{1,3})t(\d{1,3})$")
SDMX_AGE_MINIMUM = re.compile(r"^y ge ?(\d{1,3})$")


def harmonize(con: duckdb.DuckDBPyConnection) -> None:
    """Build `stage_harmonized` (observations) and `stage_policy_harmonized` (policy instruments)."""
    con.execute((SQL_DIR / "macros.sql").read_text())
    _mapping(con, "country", _country_resolver(), ["stage_row", "stage_policy_row"])
    _subnational_mapping(con)
    _mapping(con, "indicator", _indicator_resolver())
    _mapping(con, "unit", _table_resolver(reference.keyed("unit_aliases"), "unit"))
    for dimension in ("sex", "population_group"):
        _mapping(con, dimension, _value_resolver(dimension))
    _mapping(con, "age_group", _age_group_resolver())
    _mapping(con, "instrument_type", _instrument_type_resolver(), ["stage_policy_row"])
    _mapping(con, "status", _value_resolver("status"), ["stage_policy_row"])
    flags = ["has_budget", "has_monitoring", "prevention", "attention", "sanction", "reparation"]
    _mapping(con, flags, _yes_no_resolver(), ["stage_policy_row"], name="yes_no")
    con.execute((SQL_DIR / "harmonize_rows.sql").read_text())
    scope.skip_out_of_scope(con)  # another country, a territory, a region: skipped, not errors
    con.execute((SQL_DIR / "harmonize_policy_rows.sql").read_text())


def _mapping(
    con: duckdb.DuckDBPyConnection,
    columns: str | list[str],
    resolve: Callable[[str], tuple[str | None, str]],
    tables: tuple[str, ...] | list[str] = ("stage_row",),
    name: str | None = None,
) -> None:
    """map_<name>(raw, code, suggestions) for each distinct raw value: few values, many rows."""
    columns = [columns] if isinstance(columns, str) else columns
    union = " UNION ".join(f"SELECT {column} AS raw FROM {table}" for table in tables for column in columns)
    raws = [row[0] for row in con.execute(f"SELECT DISTINCT raw FROM ({union}) WHERE raw IS NOT NULL").fetchall()]
    frame = pd.DataFrame([(raw, *resolve(raw)) for raw in raws], columns=["raw", "code", "suggestions"], dtype=object)
    _save_map(con, name or columns[0], frame)


def _save_map(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """map_<name> with the frame's columns as text (an empty frame still gives typed columns)."""
    casts = ", ".join(f"CAST({column} AS VARCHAR) AS {column}" for column in frame.columns)
    with registered(con, "_mapping_frame", frame):
        con.execute(f"CREATE OR REPLACE TABLE map_{name} AS SELECT {casts} FROM _mapping_frame")


def _country_resolver() -> Callable[[str], tuple[str | None, str]]:
    aliases = reference.country_aliases()
    by_key = dict(zip(aliases["alias_key"], aliases["country_iso3"]))
    names = reference.load("countries").set_index("country_iso3")["name_es"].to_dict()
    name_keys = {norm_key(name): name for name in names.values()}

    def resolve(raw: str) -> tuple[str | None, str]:
        key = norm_key(raw)
        if key in by_key:
            return by_key[key], ""
        if scope.is_numeric_code(raw):  # '500' is not "close to Paraguay"
            return None, "—"
        close = difflib.get_close_matches(key, list(by_key), n=6, cutoff=0.6)
        suggestions = list(dict.fromkeys(names[by_key[k]] for k in close))[:3]
        if not suggestions:
            suggestions = [name_keys[k] for k in difflib.get_close_matches(key, list(name_keys), n=3, cutoff=0.3)]
        return None, ", ".join(suggestions) or "—"

    return resolve


def _subnational_mapping(con: duckdb.DuckDBPyConnection) -> None:
    """map_subnational(country_iso3, raw, code, suggestions): units are looked up within their
    country, because national codes repeat across countries (01 is Amazonas in Peru and
    Aguascalientes in Mexico)."""
    pairs = con.execute("""
        SELECT DISTINCT m.code, r.subnational FROM stage_row AS r JOIN map_country AS m ON m.raw = r.country
        WHERE r.subnational IS NOT NULL AND m.code IS NOT NULL
    """).fetchall()
    by_country: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    if pairs:  # most files are national: the aliases of every unit of 33 countries are not built for them
        aliases = reference.subnational_aliases()
        for country, key, code in zip(aliases["country_iso3"], aliases["alias_key"], aliases["subnational_code"]):
            by_country.setdefault(country, {})[key] = code
        names = reference.load("subnational_units").set_index("subnational_code")["name"].to_dict()
    rows = []
    for country, raw in pairs:
        known = by_country.get(country, {})
        key = norm_key(raw)
        close = difflib.get_close_matches(key, list(known), n=6, cutoff=0.6)
        suggestions = ", ".join(dict.fromkeys(names[known[k]] for k in close)) or "—"
        rows.append((country, raw, known.get(key), "" if key in known else suggestions))
    frame = pd.DataFrame(rows, columns=["country_iso3", "raw", "code", "suggestions"], dtype=object)
    _save_map(con, "subnational", frame)


def _indicator_resolver() -> Callable[[str], tuple[str | None, str]]:
    aliases = reference.indicator_aliases()
    return _code_resolver(dict(zip(aliases["alias_key"], aliases["indicator_code"])),
                          list(reference.load("indicators")["indicator_code"]))


def _instrument_type_resolver() -> Callable[[str], tuple[str | None, str]]:
    codes = list(reference.load("instrument_types")["instrument_type"])
    aliases = reference.keyed("instrument_type_aliases")
    by_key = {norm_key(code): code for code in codes} | dict(zip(aliases["alias_key"], aliases["instrument_type"]))
    return _code_resolver(by_key, codes)


def _code_resolver(by_key: dict[str, str], codes: list[str]) -> Callable[[str], tuple[str | None, str]]:
    """Known spellings map to their code; an unknown one gets the closest codes as suggestions."""
    def resolve(raw: str) -> tuple[str | None, str]:
        key = norm_key(raw)
        if key in by_key:
            return by_key[key], ""
        close = difflib.get_close_matches(key.replace(" ", "_"), codes, n=3, cutoff=0.4)
        return None, ", ".join(close or codes)

    return resolve


def _value_resolver(dimension: str) -> Callable[[str], tuple[str | None, str]]:
    values = reference.keyed("value_aliases")
    return _table_resolver(values[values["dimension"] == dimension], "code")


def _yes_no_resolver() -> Callable[[str], tuple[str | None, str]]:
    """A yes/no cell that says the fact is not known ('no consta', 'desconocido', or a missing
    value's token such as 's/d', compared as the value column compares them) maps to 'unknown':
    published as unknown (NULL), never as no, and not quarantined as an unreadable answer."""
    resolve = _value_resolver("yes_no")
    missing = set(reference.missing_tokens()["compact"])
    return lambda raw: ("unknown", "") if reference.compact(raw).lower() in missing else resolve(raw)


def _table_resolver(frame: pd.DataFrame, target: str) -> Callable[[str], tuple[str | None, str]]:
    by_key = dict(zip(frame["alias_key"], frame[target]))
    return lambda raw: (by_key.get(norm_key(raw)), "")


def _age_group_resolver() -> Callable[[str], tuple[str | None, str]]:
    """'15 a 49 años' -> '15-49'; '15 y más' -> '15+'; the spellings of 'all ages' are data
    (value_aliases.csv, dimension age_group); anything else is not an age group."""
    values = reference.keyed("value_aliases")
    totals = set(values.loc[values["dimension"] == "age_group", "alias_key"])
    return lambda raw: _age_group(raw, totals)


def _age_group(raw: str, totals: set[str]) -> tuple[str | None, str]:
    key = norm_key(raw.replace("+", " +"))
    if key in totals or norm_key(raw) in totals:
        return "total", ""
    if match := AGE_RANGE.match(key) or SDMX_AGE_RANGE.match(key):
        low, high = int(match[1]), int(match[2])
        return (f"{low}-{high}", "") if low <= high else (None, "")
    if match := AGE_MINIMUM.match(key) or SDMX_AGE_MINIMUM.match(key):
        return f"{int(match[1])}+", ""
    return None, ""
