"""Reference data (countries, indicators, units, aliases, reasons) from `reference/*.csv`.

Kept as files so that teaching the pipeline a new name is a data change, not a code change.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from observatory.sqltext import registered

if TYPE_CHECKING:  # imported where used: a run with nothing new never loads pandas (0.3 s)
    import pandas as pd

REFERENCE_DIR = Path(__file__).parent / "reference"


def norm_key(text: str | None) -> str:
    """Match names case-, accent-, space- and punctuation-insensitively ("Perú " == "peru")."""
    if text is None:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^0-9a-z%+]+", " ", ascii_text).strip()


@lru_cache(maxsize=None)
def load(name: str) -> pd.DataFrame:
    """One reference file as strings; an empty cell stays an empty string, never NaN."""
    import pandas as pd

    return pd.read_csv(REFERENCE_DIR / f"{name}.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=None)
def kind_columns() -> dict[str, dict[str, bool]]:
    """Dataset kind -> its canonical columns (in order) -> required, from dataset_kinds.csv."""
    kinds: dict[str, dict[str, bool]] = {}
    for row in load("dataset_kinds").itertuples():
        kinds.setdefault(row.kind, {})[row.column] = row.required == "yes"
    return kinds


@lru_cache(maxsize=None)
def country_aliases() -> pd.DataFrame:
    """Every accepted spelling of a country, keyed by norm_key: codes, names, extra aliases."""
    import pandas as pd

    countries = load("countries")
    frames = [
        countries[["country_iso3"]].assign(alias=countries[column])
        for column in ("country_iso3", "iso2", "m49", "name_es", "name_en")
    ]
    # M49 codes are also written without their leading zeros ("28" for Antigua and Barbuda).
    frames.append(countries[["country_iso3"]].assign(alias=countries["m49"].str.lstrip("0")))
    frames.append(load("country_aliases")[["alias", "country_iso3"]])
    aliases = pd.concat(frames, ignore_index=True)
    aliases["alias_key"] = aliases["alias"].map(norm_key)
    return _unique_keys(aliases, "alias_key", "country_iso3", "country")


@lru_cache(maxsize=None)
def subnational_aliases() -> pd.DataFrame:
    """Every accepted spelling of a subnational unit within its country: HASC code, ISO 3166-2
    code, national statistical code (with and without leading zeros), name, extra aliases."""
    import pandas as pd

    units = load("subnational_units")
    frames = [
        units[["country_iso3", "subnational_code"]].assign(alias=units[column])
        for column in ("subnational_code", "iso_3166_2", "national_code", "name")
    ]
    frames.append(units[["country_iso3", "subnational_code"]].assign(alias=units["national_code"].str.lstrip("0")))
    frames.append(load("subnational_aliases")[["country_iso3", "alias", "subnational_code"]])
    aliases = pd.concat(frames, ignore_index=True)
    aliases = aliases[aliases["alias"] != ""]
    aliases["alias_key"] = aliases["alias"].map(norm_key)
    clashes = aliases.drop_duplicates(["country_iso3", "alias_key", "subnational_code"]).groupby(
        ["country_iso3", "alias_key"])["subnational_code"].nunique()
    clashes = clashes[clashes > 1]
    if not clashes.empty:
        raise ValueError(f"subnational aliases point to more than one unit: {sorted(clashes.index)}; "
                         "edit observatory/reference/subnational_*.csv")
    return aliases.drop_duplicates(["country_iso3", "alias_key", "subnational_code"])


@lru_cache(maxsize=None)
def indicator_aliases() -> pd.DataFrame:
    """Catalogue codes, their external codes ("SDG:VC_VAW_MARR" is written VC_VAW_MARR) and the
    catalogue's own Spanish and English names (as exports label indicators by name)."""
    import pandas as pd

    indicators = load("indicators")
    rows = [(code, code) for code in indicators["indicator_code"]]
    for column in ("name_es", "name_en"):
        rows += list(zip(indicators[column], indicators["indicator_code"]))
    for code, externals in zip(indicators["indicator_code"], indicators["external_codes"]):
        for external in filter(None, externals.split(";")):
            rows.append((external.split(":", 1)[-1], code))
    aliases = pd.DataFrame(rows, columns=["alias", "indicator_code"])
    aliases["alias_key"] = aliases["alias"].map(norm_key)
    return _unique_keys(aliases, "alias_key", "indicator_code", "indicator")


def keyed(name: str, alias_column: str = "alias") -> pd.DataFrame:
    """A reference alias file with its norm_key column added."""
    frame = load(name).copy()
    frame["alias_key"] = frame[alias_column].map(norm_key)
    return frame


@lru_cache(maxsize=None)
def column_aliases() -> dict[str, str]:
    """norm_key of a header cell -> the canonical column it names (column_aliases.csv). Cached:
    every file's header is mapped with it, by the reader and by the personal-data check."""
    return dict(zip(keyed("column_aliases")["alias_key"], load("column_aliases")["column"]))


def missing_tokens() -> pd.DataFrame:
    """Tokens that mean "missing", lower-cased without spaces, as SQL compares them."""
    import pandas as pd

    tokens = load("missing_tokens")["token"].map(compact).str.lower()
    return pd.DataFrame({"compact": tokens.drop_duplicates()})


def compact(text: str) -> str:
    """A cell without its spaces (no-break ones included), as harmonize_rows.sql's value_compact:
    what a missing-value token is compared as."""
    return re.sub(r"\s", "", text)


def _unique_keys(frame: pd.DataFrame, key: str, target: str, what: str) -> pd.DataFrame:
    """An alias must point to one thing only: fail loudly, naming the file to edit."""
    clashes = frame.drop_duplicates([key, target]).groupby(key)[target].nunique()
    clashes = clashes[clashes > 1]
    if not clashes.empty:
        raise ValueError(f"{what} aliases point to more than one code: {sorted(clashes.index)}; "
                         f"edit observatory/reference/{what}*.csv")
    return frame.drop_duplicates([key, target])


def fingerprint() -> str:
    """Changes when a reference file, or the code that turns them into tables, changes."""
    digest = hashlib.sha256()
    for path in [*sorted(REFERENCE_DIR.glob("*.csv")), Path(__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Load the reference tables into a DuckDB connection, unless the copy there was made from
    these very files (a database keeps its copy between runs)."""
    current = fingerprint()
    con.execute("CREATE TABLE IF NOT EXISTS ref_installed (fingerprint VARCHAR)")
    if con.execute("SELECT count(*) FROM ref_installed WHERE fingerprint = ?", [current]).fetchall()[0][0]:
        return
    tables = {
        "ref_country": load("countries"),
        "ref_subregion": load("subregions"),
        "ref_group": load("groups"),
        "ref_country_group": load("country_groups"),
        "ref_country_alias": country_aliases()[["alias_key", "country_iso3"]],
        "ref_subnational_unit": load("subnational_units"),
        "ref_indicator": load("indicators"),
        "ref_indicator_alias": indicator_aliases()[["alias_key", "indicator_code"]],
        "ref_unit": load("units"),
        "ref_unit_alias": keyed("unit_aliases")[["alias_key", "unit"]].drop_duplicates(),
        "ref_instrument_type": load("instrument_types"),
        "ref_score_weight": load("score_weights"),
        "ref_score_rule": load("score_rules"),
        "ref_source_tier": load("source_tiers"),
        "ref_source_priority": load("source_priority"),
        "ref_missing_token": missing_tokens(),
    }
    for table, frame in tables.items():
        save_table(con, table, frame)
    con.execute("DELETE FROM ref_installed")
    con.execute("INSERT INTO ref_installed VALUES (?)", [current])


def save_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    with registered(con, "_ref_frame", frame):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _ref_frame")
