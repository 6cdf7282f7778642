"""Months as staff and sources write them: a number (`1`, `01`) or a name in Spanish or
English, full or abbreviated, any case (reference/months.csv). Used wherever a month is read:
a raw contract v1 `mes` column (in SQL), a layout's dates and its `period` melt group."""
from __future__ import annotations

from functools import lru_cache

from observatory import reference
from observatory.reference import norm_key


@lru_cache(maxsize=None)
def months() -> dict[str, int]:
    """norm_key(name) -> month number, Spanish and English, full and abbreviated."""
    table = reference.load("months")
    return {norm_key(name): int(month) for name, month in zip(table["name"], table["month"])}


def month_number(text: str | None) -> int | None:
    """`ENERO`, `ene`, `Jan`, `1`, `01` -> 1; anything else -> None."""
    key = norm_key(text)
    if key.isdigit():
        number = int(key)
        return number if 1 <= number <= 12 else None
    return months().get(key.rstrip(" ."))


def months_sql() -> str:
    """The month names as a SQL relation (key, month), for a join where the file is read."""
    rows = ", ".join(f"('{key}', {number})" for key, number in sorted(months().items()))
    return f"(VALUES {rows}) AS _month(key, month)"


def month_sql(cell: str) -> str:
    """SQL: the month number of a cleaned cell (NULL when it is not a month). The key is made
    like norm_key for the names months.csv holds (lower case, no accents, no dots)."""
    key = f"trim(regexp_replace(lower(strip_accents({cell})), '[^0-9a-z]+', ' ', 'g'))"
    return (f"CASE WHEN regexp_full_match({key}, '\\d{{1,2}}') THEN nullif(least(CAST({key} AS INTEGER), 13), 13) "
            f"ELSE (SELECT month FROM {months_sql()} WHERE _month.key = {key}) END")
