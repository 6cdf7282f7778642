"""Build: apply the staged files to the working database in one transaction, then rebuild the
curated tables. A crash before COMMIT leaves the working database as it was."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa

from observatory import faults, observation_key, privacy, reference, staging, state
from observatory.sqltext import registered

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
MARTS_DIR = Path(__file__).parent / "marts"
CURATED_SQL = ("fact_observation", "policy_instrument", "dim_country", "dim_indicator", "dim_subnational", "source_layout")
# In dependency order: country progress reads the first two, group progress all three.
MARTS = ("mart_legislation", "mart_national_plan", "mart_country_progress", "mart_group_progress")


# An observation group: the rows of one source for a country, year, indicator and
# disaggregation, national and subnational together (a national rollup sums its units).
AFFECTED_GROUPS = """
    SELECT DISTINCT {{ group }} FROM observation WHERE source_file IN (SELECT file_path FROM applied_path)
"""
# The keys the withdrawn files gave, in their current rows or in any earlier version's vintages:
# their vintages are made again (observation_history_withdrawn.sql).
WITHDRAWN_KEYS = """
    CREATE OR REPLACE TEMP TABLE withdrawn_key AS
    SELECT {{ key }} FROM observation WHERE source_file IN (SELECT file_path FROM stage_withdrawn)
    UNION SELECT {{ key }} FROM observation_history WHERE source_file IN (SELECT file_path FROM stage_withdrawn)
"""
# Files still received with a vintage of a key a withdrawn file gave: their receipts may list
# its figure as the value before theirs, and their vintages are made again, so they are written again.
REVISED_WITHDRAWN = """
    INSERT INTO receipt_due
    SELECT DISTINCT h.source_file FROM observation_history AS h
    SEMI JOIN withdrawn_key AS k ON {{ key_equal h k }}
    WHERE h.source_file IN (SELECT file_path FROM file_receipt)
    EXCEPT SELECT file_path FROM receipt_due
"""
# Marks the lines of a curated table's SQL that keep it to the affected groups.
GROUPS_ONLY = "-- affected groups only"


@dataclass
class BuildSummary:
    files_applied: int
    rows_loaded: int
    rows_quarantined: int
    duplicates: int


def ensure_working_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((SQL_DIR / "working_tables.sql").read_text())


def build(con: duckdb.DuckDBPyConnection, rules: str) -> BuildSummary:
    """Replace what each staged file contributed before, insert what it brings now, write its
    receipt, recompute the observation groups it touches in observation_history and
    fact_observation, rebuild the (small) dimensions, and empty the stage; `rules` (the
    fingerprint the files were read with) and a new data version are stored with them."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE applied_path AS
            SELECT file_path FROM stage_file UNION SELECT file_path FROM stage_duplicate
            UNION SELECT file_path FROM stage_withdrawn UNION SELECT file_path FROM stage_gone
        """)
        withdrawing = _any_withdrawn(con)
        if withdrawing:  # before their rows are deleted
            con.execute(observation_key.render(WITHDRAWN_KEYS))
        # Files read again with the content they had (the rules changed) that loaded before:
        # their figures are in observation_history already (pipeline._received_at,
        # observation_history.sql).
        con.execute("""
            CREATE OR REPLACE TEMP TABLE reread_path AS
            SELECT s.file_path FROM stage_file AS s JOIN file_receipt AS r USING (file_path, sha256)
            WHERE r.status IN ('loaded', 'partially_loaded')
        """)
        con.execute("SET VARIABLE recorded_at = CAST(? AS TIMESTAMP)", [datetime.now(timezone.utc).replace(tzinfo=None)])
        # The observation groups the applied files touch, before and after: only these are
        # recomputed in observation_history and fact_observation. When the applied files hold
        # every observation (a first run, every file read again), that is every group: the
        # tables are computed whole, without finding the groups and joining on them.
        every_group = not con.execute("""
            SELECT count(*) FROM (SELECT 1 FROM observation ANTI JOIN applied_path ON file_path = source_file LIMIT 1)
        """).fetchall()[0][0]
        groups = observation_key.render(AFFECTED_GROUPS)
        con.execute(f"CREATE OR REPLACE TEMP TABLE affected_group AS {groups}{' LIMIT 0' if every_group else ''}")
        con.execute("DELETE FROM observation WHERE source_file IN (SELECT file_path FROM applied_path)")
        con.execute("DELETE FROM policy_instrument_loaded WHERE source_file IN (SELECT file_path FROM applied_path)")
        con.execute("DELETE FROM quarantine WHERE source_file IN (SELECT file_path FROM applied_path)")
        con.execute("DELETE FROM file_receipt WHERE file_path IN (SELECT file_path FROM applied_path)")
        con.execute(observation_key.sql_file(SQL_DIR / "load_observations.sql"))
        con.execute((SQL_DIR / "load_policy_instruments.sql").read_text())
        if not every_group:
            con.execute(f"INSERT INTO affected_group {groups} EXCEPT SELECT * FROM affected_group")
        _insert_quarantine(con)
        con.execute((SQL_DIR / "file_receipts.sql").read_text())
        for name in CURATED_SQL:
            con.execute(_group_sql(name, every_group))
        if withdrawing:  # every figure a withdrawn file's name brought, earlier versions' too
            # The receipts of the files that revised those figures name the withdrawn file and its
            # value ("before in"): written again (revisions.sql then no longer sees them).
            con.execute(observation_key.render(REVISED_WITHDRAWN))
            con.execute("DELETE FROM observation_history WHERE source_file IN (SELECT file_path FROM stage_withdrawn)")
        con.execute(_group_sql("observation_history", every_group))  # after fact_observation: it reads it
        if withdrawing:
            con.execute(observation_key.sql_file(SQL_DIR / "observation_history_withdrawn.sql"))
            # Their names, titles and cells must not stay in the free blocks of a copied publication.
            state.put(con, state.WITHDRAWN_KEY, "yes")
        summary = BuildSummary(*con.execute("""
            SELECT count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0),
                   count(*) FILTER (WHERE status = 'duplicate')
            FROM file_receipt WHERE file_path IN (SELECT file_path FROM applied_path)
        """).fetchall()[0])
        state.put(con, "rules", rules)
        state.bump_data_version(con)
        con.execute("INSERT INTO receipt_due SELECT file_path FROM applied_path EXCEPT SELECT file_path FROM receipt_due")
        staging.empty(con)
        faults.point("build_before_commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("built: %s", summary)
    return summary


def _any_withdrawn(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM (SELECT 1 FROM stage_withdrawn LIMIT 1)").fetchall()[0][0])


def _group_sql(name: str, every_group: bool) -> str:
    """A curated table's SQL; computed whole, without its lines that keep to the affected groups."""
    text = observation_key.sql_file(SQL_DIR / f"{name}.sql")
    if not every_group:
        return text
    return "\n".join(line for line in text.splitlines() if not line.rstrip().endswith(GROUPS_ONLY))


def build_marts(con: duckdb.DuckDBPyConnection, first_year: int, last_year: int, as_of: date) -> dict[str, int]:
    """Rebuild every mart from its SQL file; the years and the day they are judged on are
    parameters, not literals (a year not over on as_of is judged on as_of, and marked provisional)."""
    con.execute((SQL_DIR / "macros.sql").read_text())
    con.execute("SET VARIABLE first_year = ?", [first_year])
    con.execute("SET VARIABLE last_year = ?", [last_year])
    con.execute("SET VARIABLE as_of = CAST(? AS DATE)", [as_of.isoformat()])
    counts = {}
    for name in MARTS:
        con.execute((MARTS_DIR / f"{name}.sql").read_text())
        counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return counts


# Quarantine rows written at a time, and how many distinct messages are remembered (the most
# recently used): a file whose every row is quarantined (up to the file limits, millions of
# rows) never sits whole in Python, and a file whose rows all fail the same way has its
# messages written once.
QUARANTINE_BATCH = 50_000
MESSAGES_CACHED = 100_000
# The names of reasons.csv's `quote_near` that are fields of the message, not vocabularies.
LISTED = ("suggestions", "expected")
QUARANTINE_SCHEMA = pa.schema([("source_file", pa.string()), ("source_row", pa.int32()), ("reason_code", pa.string()),
                               ("message_es", pa.string()), ("message_en", pa.string()), ("source_column", pa.string())])


def _insert_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    """Staged problems as quarantine rows, with messages staff can act on in Spanish and
    English, QUARANTINE_BATCH at a time, in the order of file, line and staging."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _problem AS
        SELECT row_number() OVER (ORDER BY f.file_path, p.line NULLS FIRST, p.row_id) AS n,
               f.file_path, p.line, p.reason_code, p.details, r.cell
        FROM stage_problem AS p JOIN stage_file AS f USING (file_id)
        LEFT JOIN stage_row AS r USING (row_id)
    """)
    messages = _message_writer()
    done = 0
    while batch := con.execute("SELECT file_path, line, reason_code, details, cell FROM _problem "
                               "WHERE n > ? AND n <= ? ORDER BY n", [done, done + QUARANTINE_BATCH]).fetchall():
        done += QUARANTINE_BATCH
        written = [messages(code, details, path) for path, _, code, details, _ in batch]
        rows = pa.table([[b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch],
                         [es for es, _ in written], [en for _, en in written], [b[4] for b in batch]],
                        schema=QUARANTINE_SCHEMA)
        with registered(con, "_quarantine", rows):
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM _quarantine")
    con.execute("DROP TABLE _problem")


def _message_writer():
    """(reason code, details as JSON, file path) -> the Spanish and English messages, from
    reference/reasons.csv's templates (a field the details lack is shown as '?'). Details with a
    `variant` take the template of the row `<code>:<variant>` (another message for the same
    reason: a total row under the table is an unknown country whose advice is not a country
    name). The messages are published, so the cell at fault is quoted only when it is unlikely
    to name a person (`privacy.quotable`, near the terms of the template's `quote_near`);
    otherwise the message says the cell is not quoted, and staff find it by its file, line and
    column."""
    reasons = reference.load("reasons")
    templates = dict(zip(reasons["reason_code"], zip(reasons["message_es"], reasons["message_en"])))
    near_terms = dict(zip(reasons["reason_code"], reasons["quote_near"]))

    @lru_cache(maxsize=MESSAGES_CACHED)
    def messages(code: str, details: str, path: str) -> tuple[str, str]:
        fields = _Blank(json.loads(details), file_name=Path(path).name)
        template = f"{code}:{fields['variant']}" if fields.get("variant") else code
        es, en = templates[template]
        if not _hide_unquotable(fields, es + en, near_terms[template]):
            return es.format_map(fields), en.format_map(fields)
        return es.format_map(fields) + privacy.NOT_QUOTED_NOTE_ES, en.format_map(fields) + privacy.NOT_QUOTED_NOTE_EN

    return messages


def _hide_unquotable(fields: dict, templates: str, quote_near: str) -> bool:
    """Replace the file's cells the templates would quote and must not (`privacy.quotable` for
    the cell at fault; `privacy.id_like` for the figure read); whether any was."""
    hidden = False
    if "{raw}" in templates and not privacy.quotable(str(fields.get("raw", "")), *_near(quote_near, fields)):
        fields["raw"], hidden = privacy.NOT_QUOTED, True
    if "{value}" in templates and privacy.id_like(str(fields.get("value", ""))):
        fields["value"], hidden = privacy.NOT_QUOTED, True
    return hidden


def _near(quote_near: str, fields: dict) -> tuple[str, tuple[str, ...]]:
    """What a quarantined cell may be a term of: the vocabularies `quote_near` names, and the
    terms the message lists (the names or codes it suggests, the values the column expects)."""
    names = quote_near.split()
    listed = [term.strip() for name in names if name in LISTED for term in str(fields.get(name, "")).split(",")]
    return " ".join(name for name in names if name not in LISTED), tuple(term for term in listed if term)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"
