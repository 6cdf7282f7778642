"""Generate reference CSVs from pycountry's ISO data (Debian iso-codes), so they are derived
from a maintained source, never typed by hand:

- observatory/reference/other_areas.csv: every ISO 3166-1 country or territory that is not one
  of the 33 countries (codes and English and Spanish names): rows about them are out of scope.
- observatory/reference/subnational_units.csv: the first-level units of the 33 countries from
  ISO 3166-2. Rows already curated with their HASC and national codes (Peru, Mexico, Argentina)
  are kept as they are; the other countries' units take their ISO 3166-2 code as
  subnational_code, and a national code where subnational_national_codes.csv gives one (Chile's
  CUT, Colombia's DIVIPOLA).

Run after upgrading pycountry (a dev dependency):  .venv/bin/python scripts/reference_from_pycountry.py
"""
from __future__ import annotations

import csv
import gettext
from pathlib import Path

import pycountry

REFERENCE = Path(__file__).resolve().parents[1] / "observatory" / "reference"
SOURCE = f"ISO 3166-1 via pycountry {pycountry.__version__ if hasattr(pycountry, '__version__') else ''} (Debian iso-codes; Spanish names: its es translation)".replace("  ", " ")


def spanish() -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["es"])


def ours() -> set[str]:
    with open(REFERENCE / "countries.csv", encoding="utf-8") as handle:
        return {row["country_iso3"] for row in csv.DictReader(handle)}


def other_areas() -> list[dict[str, str]]:
    es, mine = spanish(), ours()
    rows = []
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_3):
        if country.alpha_3 in mine:
            continue
        rows.append({"iso3": country.alpha_3, "iso2": country.alpha_2, "m49": country.numeric,
                     "name_en": country.name, "name_es": es.gettext(country.name), "source": SOURCE})
    return rows


# Where ISO 3166-2's top level groups the units sources use, the level below is taken: the
# Dominican Republic's ten regions are groupings of its provinces (and the Distrito Nacional).
LEVEL_BELOW = {"DO"}
ISO_SOURCE = f"ISO 3166-2 via pycountry {getattr(pycountry, '__version__', '')} (Debian iso-codes)"


UNIT_COLUMNS = ["country_iso3", "subnational_code", "iso_3166_2", "national_code", "national_code_system", "name",
                "parent_code", "source"]


def read(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / f"{name}.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def first_level(alpha_2: str) -> list:
    units = list(pycountry.subdivisions.get(country_code=alpha_2) or [])
    if alpha_2 in LEVEL_BELOW:
        return [unit for unit in units if unit.parent_code is not None]
    return [unit for unit in units if unit.parent_code is None]


def subnational_units() -> list[dict[str, str]]:
    current = read("subnational_units")
    # Countries whose units are curated by hand (HASC and national codes; Peru's Lima Metropolitana
    # and Lima Provincias under the department of Lima): kept as they are.
    curated = {row["country_iso3"] for row in current if row["subnational_code"] != row["iso_3166_2"]}
    national = {row["iso_3166_2"]: row for row in read("subnational_national_codes")}
    rows = [row for row in current if row["country_iso3"] in curated]
    for country in read("countries"):
        if country["country_iso3"] in curated:
            continue
        for unit in sorted(first_level(country["iso2"]), key=lambda unit: unit.code):
            code = national.get(unit.code, {})
            rows.append({
                "country_iso3": country["country_iso3"], "subnational_code": unit.code, "iso_3166_2": unit.code,
                "national_code": code.get("national_code", ""), "national_code_system": code.get("national_code_system", ""),
                "name": unit.name, "parent_code": "", "source": " ; ".join(filter(None, (ISO_SOURCE, code.get("source")))),
            })
    return sorted(rows, key=lambda row: (row["country_iso3"], row["subnational_code"]))


def write(name: str, rows: list[dict[str, str]]) -> None:
    with open(REFERENCE / f"{name}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if name != "subnational_units" else UNIT_COLUMNS,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{name}.csv: {len(rows)} rows")


if __name__ == "__main__":
    write("other_areas", other_areas())
    write("subnational_units", subnational_units())
