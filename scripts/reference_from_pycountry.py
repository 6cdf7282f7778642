"""Generate reference CSVs from pycountry's ISO data (Debian iso-codes), so they are derived
from a maintained source, never typed by hand:

- observatory/reference/other_areas.csv: every ISO 3166-1 country or territory that is not one
  of the 33 countries (codes and English and Spanish names): rows about them are out of scope.

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


def write(name: str, rows: list[dict[str, str]]) -> None:
    with open(REFERENCE / f"{name}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{name}.csv: {len(rows)} rows")


if __name__ == "__main__":
    write("other_areas", other_areas())
