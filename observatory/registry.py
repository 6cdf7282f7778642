"""The registry of observatories (reference/observatories.csv): which institution a folder of
data/raw/ belongs to, its country and, for a regional observatory, its unit. A raw contract v1
file from a registered observatory may leave out the country (and unit) columns: they come from
the registry, and its receipt says so. An unregistered folder works as before."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from observatory import reference

# Columns the registry can supply to a file that leaves them out.
SUPPLIED = ("country", "subnational")


@dataclass(frozen=True)
class Observatory:
    folder: str
    institution: str
    country_iso3: str
    subnational_code: str


@lru_cache(maxsize=None)
def _entries() -> dict[str, Observatory]:
    table = reference.load("observatories")
    return {row.folder: Observatory(row.folder, row.institution, row.country_iso3, row.subnational_code)
            for row in table.itertuples()}


def entry(folder: str) -> Observatory | None:
    return _entries().get(folder)


def institution(folder: str) -> str:
    """The institution's name, or the folder's when it is not registered."""
    found = entry(folder)
    return found.institution if found else folder


def supplied(folder: str, missing: list[str]) -> dict[str, str]:
    """Values the registry gives for the file's missing columns: the country (and the unit of a
    regional observatory) when the file has no column for them."""
    found = entry(folder)
    if found is None or not found.country_iso3:
        return {}
    values = {"country": found.country_iso3}
    if found.subnational_code:
        values["subnational"] = found.subnational_code
    return {column: value for column, value in values.items() if column in missing or column == "subnational" and "country" in missing}
