"""The observation key: the columns that make one figure, declared once (schema.yaml,
fact_observation's `key`), and the SQL spelled from it: column lists, hashes and join
conditions. A key column added there reaches every partition, hash, grouping and join of the
build, the history, the receipts and small-cell suppression; a SELECT that builds rows column by
column fails loudly until it names the new column too.

SQL files write `{{ key }}` (the columns, comma-separated), `{{ key o }}` (each qualified by the
alias o), `{{ group }}` and `{{ group o }}` (the key without the subnational unit: an observation
group, a source's figures for a country, year, indicator and disaggregation, national and units
together), and `{{ key_equal a b }}` / `{{ group_equal a b }}` (a's columns equal to b's, NULL
equal to NULL: a national figure's unit is NULL). Only the unit may be NULL: the group's
columns are required or defaulted by validation, which is why `USING ({{ group }})` is safe; a
key column that may be NULL must be added with that in mind. Each token expands on one line, so
a line marked `-- affected groups only` stays one line."""
from __future__ import annotations

import re
from pathlib import Path

# The key column that is NULL for a national figure; an observation group is the key without it.
UNIT = "subnational_code"
TOKEN = re.compile(r"\{\{\s*(key|group)(_equal)?((?:\s+\w+)*)\s*\}\}")


def key() -> tuple[str, ...]:
    """As public_schema() reads it (once per process, like the rest of the schema; the reading
    rules' fingerprint includes it, so a changed key reads every file again)."""
    from observatory.publish import public_schema  # publish imports the build: looked up when used

    return tuple(public_schema()["fact_observation"]["key"])


def group() -> tuple[str, ...]:
    return tuple(column for column in key() if column != UNIT)


def columns(names: tuple[str, ...] | None = None, alias: str | None = None, rename: dict[str, str] | None = None) -> str:
    """`names` (the key by default) as a column list, each qualified by `alias`; `rename` spells
    a column otherwise (small-cell suppression compares units as coalesce(unit, ''))."""
    rename = rename or {}
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + rename.get(column, column) for column in (names or key()))


def equal(left: str, right: str, names: tuple[str, ...] | None = None, rename: dict[str, str] | None = None) -> str:
    """left's columns equal to right's, NULL equal to NULL (what USING cannot say)."""
    rename = rename or {}
    return " AND ".join(f"{left}.{rename.get(c, c)} IS NOT DISTINCT FROM {right}.{rename.get(c, c)}"
                        for c in (names or key()))


def render(text: str) -> str:
    """SQL text with its key tokens spelled out."""
    def spell(match: re.Match) -> str:
        names = key() if match[1] == "key" else group()
        aliases = match[3].split()
        if match[2]:
            if len(aliases) != 2:
                raise ValueError(f"{match[0]}: two aliases expected")
            return equal(aliases[0], aliases[1], names)
        if len(aliases) > 1:
            raise ValueError(f"{match[0]}: one alias at most")
        return columns(names, aliases[0] if aliases else None)

    return TOKEN.sub(spell, text)


def sql_file(path: Path) -> str:
    """A SQL file's text, its key tokens spelled out."""
    return render(path.read_text())
