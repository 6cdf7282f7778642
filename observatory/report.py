"""The report for readers who would rather look than query: static HTML pages in Spanish (and
English under en/), made from the PUBLISHED database, working offline (no script, no font,
style or image fetched; charts are inline SVG from charts.py).

Pages: the regional overview, one page per country, one per group, data quality and the data
dictionary. Text from raw files (titles, sources, messages) goes through Jinja2's autoescape;
a NULL is shown as unknown, never as 0 or "no" — or, where the data says why it is NULL, as
withheld (a small cell, flag suppressed) or not ranked (a rank the mart does not give).
"""
from __future__ import annotations

import csv
import logging
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import duckdb
import jinja2
from markupsafe import Markup, escape

from observatory import charts, exports, publication, state
from observatory.charts import Caption
from observatory.publish import load_yaml
from observatory.reference import REFERENCE_DIR
from observatory.small_cells import FLAG as WITHHELD_FLAG
from observatory.sqltext import sql_literal

log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).parent / "report_templates"
LANGUAGES = ("es", "en")
MILESTONES = ("has_domestic_violence_law", "has_femicide_offence", "has_comprehensive_law",
              "has_political_violence_law", "has_belem_do_para")
PLAN_TYPES = ("national_plan_vaw", "national_plan_equality")
# The column of mart_group_progress, when the mart has it, counting the countries ranked: those
# its mean and median are over.
SCORED_COLUMN = "countries_ranked"
GROUP_FLAGS = {"BELEM_DO_PARA": "belem_do_para", "MIRPS": "mirps", "SPOTLIGHT": "spotlight", "ESP_COP": "esp_cop"}
URL = re.compile(r"https?://[^\s|<>\"']+")
# Sources drawn per indicator on a country page; the exports hold every figure.
MAX_SOURCES_SHOWN = 8
# Quarantined rows listed on a country page (the files of a regional export concern every
# country); the exports hold them all.
MAX_QUARANTINE_SHOWN = 100


TOTALS = "sex = 'total' AND age_group = 'total' AND population_group = 'total'"


@dataclass
class ReportSummary:
    folder: Path
    pages: int
    rendered: list[str] = field(default_factory=list)  # the pages written anew (the others kept)


@dataclass
class Data:
    """What the pages show, read once from the published database."""
    countries: list[dict]
    progress: dict[tuple[str, int], dict]
    legislation: dict[tuple[str, int], dict]
    plans: dict[tuple[str, int], dict]
    group_progress: dict[tuple[str, int], dict]
    instruments: list[dict]
    observations: list[dict]
    vintages: dict[tuple, int]
    # Per source file, its first MAX_QUARANTINE_SHOWN quarantined rows (a country page shows no
    # more) and how many it has: a file whose every row is quarantined is never held whole.
    quarantine_of: dict[str, list[dict]]
    quarantined_in: dict[str, int]
    # Per reason: code, rows, and the Spanish and English message of its first row (quality page).
    reasons: list[dict]
    receipts: list[dict]
    indicators: dict[str, dict]
    subnational_names: dict[str, str]
    first_year: int
    last_year: int
    groups: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Indexes, so that each page reads only its own rows."""
        self.observations_of: dict[str, list[dict]] = {}
        for row in self.observations:
            self.observations_of.setdefault(row["country_iso3"], []).append(row)
        self.instruments_of: dict[str, list[dict]] = {}
        for row in self.instruments:
            self.instruments_of.setdefault(row["country_iso3"], []).append(row)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def load(published_db: Path, today: date | None = None, only: set[str] | None = None) -> Data:
    """Read the published database; columns another step may add (e.g. *_known_share) are
    picked up when present and never required."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        return read(con, today, only)


def read(con: duckdb.DuckDBPyConnection, today: date | None = None, only: set[str] | None = None) -> Data:
    """What the pages show, each table in one query for every country. `only`: the countries
    whose pages are rendered (None = all); their observations, vintages and instruments are
    all a country page reads that the other pages do not, so the others' are left in the
    database."""
    where = "" if only is None else f" AND country_iso3 IN ({', '.join(sql_literal(c) for c in sorted(only)) or 'NULL'})"
    countries = _country_rows(con)
    progress = {(r["country_iso3"], r["year"]): r for r in _rows(con, "SELECT * FROM mart_country_progress")}
    legislation = {(r["country_iso3"], r["year"]): r for r in _rows(con, "SELECT * FROM mart_legislation")}
    plans = {(r["country_iso3"], r["year"]): r for r in _rows(con, "SELECT * FROM mart_national_plan")}
    group_progress = {(r["group_code"], r["year"]): r for r in _rows(con, "SELECT * FROM mart_group_progress")}
    # Ties broken on every column, so that a page is the same bytes whichever run renders it. A
    # gap with no date at all comes first: the marts take it as unknown from their first year.
    instruments = _rows(con, f"SELECT * FROM policy_instrument WHERE true{where} "
                             "ORDER BY country_iso3, coalesce(adopted_on, in_force_from) NULLS FIRST, COLUMNS(*)")
    observations = _rows(con, f"SELECT * FROM fact_observation WHERE {TOTALS}{where} "
                              "ORDER BY indicator_code, source, year, COLUMNS(*)")
    vintages = {}
    if state.has_tables(con, "observation_history"):
        for row in con.execute(f"""
            SELECT country_iso3, subnational_code, year, indicator_code, source, count(*)
            FROM observation_history WHERE {TOTALS}{where} GROUP BY ALL""").fetchall():
            vintages[tuple(row[:5])] = row[5]
    quarantine_of, quarantined_in, reasons = _quarantine(con)
    receipts = _rows(con, "SELECT * FROM file_receipt ORDER BY observatory, file_path")
    indicators = {r["indicator_code"]: r for r in _rows(con, "SELECT * FROM dim_indicator")}
    subnational = {r[0]: r[1] for r in con.execute("SELECT subnational_code, name FROM dim_subnational").fetchall()}
    first, last = _years(con, today)
    return Data(countries, progress, legislation, plans, group_progress, instruments, observations, vintages,
                quarantine_of, quarantined_in, reasons, receipts, indicators, subnational, first, last)


def _quarantine(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, list[dict]], dict[str, int], list[dict]]:
    """What the pages show of the quarantine, summed up in DuckDB by aggregates that keep only
    a few rows per group (a file whose million rows are all quarantined is never sorted or held
    whole): each file's first rows and count, and each reason's count and first message. Rows
    in the order of source_file, source_row and then every column, so a page is the same bytes
    whichever run renders it."""
    columns = [f'"{row[0]}"' for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name = 'quarantine' ORDER BY column_index").fetchall()]
    within_file = "(" + ", ".join(column for column in columns if column != '"source_file"') + ")"
    overall = "(source_file, " + within_file[1:]
    quarantine_of, counts = {}, {}
    for file, count, first in con.execute(f"""
            SELECT source_file, count(*), arg_min(struct_pack({', '.join(columns)}), {within_file}, {MAX_QUARANTINE_SHOWN})
            FROM quarantine GROUP BY ALL""").fetchall():
        quarantine_of[file], counts[file] = first, count
    # Both messages of the same, first row (arg_min passes over a NULL argument: a struct is never NULL).
    reasons = _rows(con, f"""
        SELECT code, rows, first.message_es, first.message_en FROM (
            SELECT reason_code AS code, count(*) AS rows, min({overall}) AS position,
                   arg_min(struct_pack(message_es, message_en), {overall}) AS first
            FROM quarantine GROUP BY reason_code)
        ORDER BY rows DESC, position""")
    return quarantine_of, counts, reasons


def _years(con: duckdb.DuckDBPyConnection, today: date | None) -> tuple[int, int]:
    """The marts end at the last complete year; a provisional year shown by setting is left out."""
    years = con.execute("SELECT min(year), max(year) FILTER (WHERE NOT provisional) FROM mart_country_progress").fetchall()[0]
    return years[0], years[1] if years[1] is not None else (today or date.today()).year - 1


@lru_cache(maxsize=1)
def labels() -> dict:
    return load_yaml(TEMPLATES_DIR / "labels.yaml")


def _reference(name: str) -> list[dict]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def group_list(countries: list[dict], group_codes: set[str]) -> list[dict]:
    """Groups with their names (reference/groups.csv, subregions.csv) and members (the
    published dim_country's flags), in the order readers expect; `group_codes`: those of
    mart_group_progress."""
    names = {r["group_code"]: r for r in _reference("groups.csv")}
    subregions = {r["subregion"]: r for r in _reference("subregions.csv")}
    names.update(subregions)
    codes = ["LAC", "caribbean", "central_america", "south_america", "MIRPS", "SPOTLIGHT", "ESP_COP", "BELEM_DO_PARA"]
    codes += sorted(group_codes - set(codes))
    groups = []
    for code in codes:
        if code == "LAC":
            members = [c["country_iso3"] for c in countries]
        elif code in GROUP_FLAGS:
            members = [c["country_iso3"] for c in countries if c.get(GROUP_FLAGS[code])]
        else:
            members = [c["country_iso3"] for c in countries if c.get("subregion") == code]
        name = names.get(code, {})
        # The mart's rank of a member within the group, where the mart ranks it (_rank_in).
        rank_column = "rank_region" if code == "LAC" else "rank_subregion" if code in subregions else None
        groups.append({"code": code, "name_es": name.get("name_es", code), "name_en": name.get("name_en", code),
                       "members": members, "rank_column": rank_column})
    return groups


# --- formatting --------------------------------------------------------------------------------

class Words:
    """The page's language: its words and how it writes numbers and unknowns."""

    def __init__(self, language: str):
        self.language = language
        self.t = labels()[language]
        # The page's cells for unknown and withheld, made once: a page shows them thousands of times.
        self.unknown_html = Markup('<span class="unknown-value">{}</span>').format(self.t["unknown"])
        self.withheld_html = Markup('<span class="withheld-value">{}</span>').format(self.t["withheld"])

    def num(self, value: Any, digits: int = 1) -> str:
        if value is None:
            return self.t["unknown"]
        if isinstance(value, bool):
            return self.t["word_yes"] if value else self.t["word_no"]
        if isinstance(value, float) and not value.is_integer():
            text = f"{value:,.{digits}f}"
        else:
            text = f"{int(value):,}" if isinstance(value, (int, float)) else str(value)
        if self.language == "es":
            text = text.replace(",", "\u2009").replace(".", ",")  # thin space groups, comma decimals
        return text

    def share(self, value: float | None) -> str:
        return self.t["unknown"] if value is None else self.num(float(value), 2)

    def yes_no(self, value: bool | None) -> str:
        return self.num(value)

    def name(self, row: dict) -> str:
        return row.get(f"name_{self.language}") or row.get("name_en") or ""

    def unit(self, indicator: dict) -> str:
        """An indicator's unit as the page's language writes it (dim_indicator's unit names;
        the code where a database published before them has none)."""
        return indicator.get(f"unit_name_{self.language}") or indicator.get("unit") or ""

    def caption(self, title: str, description: str, units: str, source: str, **extra: str) -> Caption:
        return Caption(title, description, units, source, {**self.t, **extra})


def linkify(text: str | None) -> Markup:
    """Escape a source citation and turn its http(s) addresses into links (a click, never a
    request the page makes by itself)."""
    if not text:
        return Markup("")
    out, last = [], 0
    for match in URL.finditer(text):
        out.append(escape(text[last:match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _year(text: str | None) -> int | None:
    return int(text[:4]) if text and text[:4].isdigit() else None


# --- pages -------------------------------------------------------------------------------------

def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["linkify"] = linkify
    env.globals.update(v=value_cell, share=share_cell, rank=rank_cell, areas=areas_cell)
    return env


def value_cell(value: Any, words: "Words", digits: int = 1) -> Markup:
    """A figure as a page shows it; a NULL as unknown, never 0 or "no". A Python function
    rather than a Jinja macro: the components tables call it thousands of times."""
    return unknown_cell(words) if value is None else escape(words.num(value, digits))


def share_cell(value: float | None, words: "Words") -> Markup:
    return unknown_cell(words) if value is None else escape(words.share(value))


def rank_cell(rank: int | tuple[int, int] | None, words: "Words") -> Markup:
    """A rank (rank_region), or a rank in a group (rank/members ranked); a NULL rank is a
    country the mart does not rank (too few of its components known): "not ranked", never
    unknown nor last."""
    if rank is None:
        return Markup('<span class="not-ranked">{}</span>').format(words.t["not_ranked"])
    return escape(f"{rank[0]}/{rank[1]}" if isinstance(rank, tuple) else words.num(rank))


def areas_cell(covered: int | None, known: int | None, words: "Words") -> Markup:
    """A plan's response areas covered, out of those known ("2 de 3 conocidas"): with none of
    the four known, how many are covered is unknown, never 0."""
    if covered is None or known == 0:
        return unknown_cell(words)
    if known is None:  # a mart without areas_known
        return escape(words.num(covered))
    return escape(words.t["areas_of_known"].format(covered=words.num(covered), known=words.num(known)))


def withheld_cell(words: "Words") -> Markup:
    """A figure withheld as a small cell (its value NULL, flag `suppressed`): withheld, never unknown nor 0."""
    return words.withheld_html


def unknown_cell(words: "Words") -> Markup:
    return words.unknown_html


def build(published_db: Path, target: Path, today: date | None = None,
          config: dict[str, str] | None = None) -> ReportSummary:
    """Write the report into a new folder beside `target`, then point `target` at it with one
    rename (as the exports). A page whose fingerprint (what it reads, see `fingerprints`) is
    the one the current report's manifest records is hard-linked from the current folder
    instead of rendered again; the manifest is written last, into the new folder, so a crash
    leaves the current report and its manifest as they were. `config`: DuckDB's settings
    (Settings.reader_config: a memory limit, a spill folder)."""
    today = today or datetime.now(timezone.utc).date()
    current = publication.current_version(target)
    recorded = publication.read_manifest(current)
    with duckdb.connect(str(published_db), read_only=True, config=config or {}) as con:
        prints = fingerprints(con, today)
        stale = {path for path, fingerprint in prints.items() if not publication.reusable(current, path, fingerprint, recorded)}
        countries = {path.split("/")[-1][:-5] for path in stale if _page_of(path).startswith("country/")}
        data = read(con, today, countries) if stale else None
    version = target.with_name(f".{target.name}-{uuid.uuid4().hex}")
    version.mkdir(parents=True)
    try:
        rendered = _write_pages(data, prints, stale, current, version, today)
        manifest = {path: {"fingerprint": fingerprint, "bytes": (version / path).stat().st_size}
                    for path, fingerprint in prints.items()}
        publication.write_manifest(version, manifest)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    exports.swap_folder(target, version)
    log.info("report written to %s: %d pages, %d rendered", target, len(prints), len(rendered))
    return ReportSummary(target, len(prints), rendered)


def _page_of(path: str) -> str:
    """The page a file is, whatever its language: en/country/PER.html -> country/PER.html."""
    return path[3:] if path.startswith("en/") else path


def _write_pages(data: Data | None, prints: dict[str, str], stale: set[str], current: Path | None,
                 version: Path, today: date) -> list[str]:
    """Render the stale pages into `version`; hard-link the others from `current` (a copy
    keeping its time where links are refused)."""
    for path in sorted(set(prints) - stale):
        publication.link_or_copy(current / path, version / path)
    if data is None:
        return []
    data.groups = group_list(data.countries, {g for g, _ in data.group_progress})
    env, rendered = environment(), []
    for language in LANGUAGES:
        words = Words(language)
        for page, (template, context) in page_contexts(data, today).items():
            path = page if language == "es" else f"en/{page}"
            if path not in stale:
                continue
            charts.reset_ids()  # ids count from 1 on every page: its bytes never depend on the pages before it
            html = env.get_template(template).render(**_page_context(data, words, page, context(words)))
            (version / path).parent.mkdir(parents=True, exist_ok=True)
            (version / path).write_text(html, encoding="utf-8")
            rendered.append(path)
    return rendered


def page_contexts(data: Data, today: date) -> dict[str, tuple[str, Callable[["Words"], dict]]]:
    """Every page: its template and how its context is made in a language."""
    pages: dict[str, tuple[str, Callable[[Words], dict]]] = {
        "index.html": ("overview.html", lambda words: overview_context(data, words)),
        "quality.html": ("quality.html", lambda words: quality_context(data, words, today)),
        "dictionary.html": ("dictionary.html", dictionary_context),
    }
    for country in data.countries:
        pages[f"country/{country['country_iso3']}.html"] = (
            "country.html", lambda words, country=country: country_context(data, words, country, today))
    for group in data.groups:
        pages[f"group/{group['code']}.html"] = ("group.html", lambda words, group=group: group_context(data, words, group))
    return pages


def _page_context(data: Data, words: Words, page: str, context: dict) -> dict:
    depth = page.count("/") + (1 if words.language == "en" else 0)
    other = ("../" * page.count("/") + "en/" + page) if words.language == "es" else ("../" * (page.count("/") + 1) + page)
    return {"t": words.t, "w": words, "lang": words.language, "data": data, **context, "up": "../" * page.count("/"),
            "to_curated": "../" * (depth + 1), "page": page, "other_lang": other}


# --- what each page reads ------------------------------------------------------------------------

def code_digest() -> str:
    """What every page is rendered with besides the data: this code, the charts, the templates
    and their words, the reference lists and the public schema (dictionary page), and DuckDB's
    version (its hash() makes the fingerprints)."""
    package = Path(__file__).parent
    return state.digest(
        [package / "report.py", package / "charts.py", package / "exports.py", package / "publish.py",
         package / "schema.yaml", package / "schema_es.yaml", package / "exports.yaml",
         *TEMPLATES_DIR.glob("*"), *REFERENCE_DIR.glob("*.csv")],
        duckdb.__version__, LANGUAGES)


def fingerprints(con: duckdb.DuckDBPyConnection, today: date) -> dict[str, str]:
    """Each page file (es and en) -> a digest of the code and of exactly the rows it reads,
    each table hashed in DuckDB in one grouped query for all countries (hash of every row,
    summed: the order rows are stored in does not matter, a changed row does):

    - a country page: its rows of the marts, policy_instrument, fact_observation and
      observation_history (national and subnational totals), the quarantined rows of the files
      its figures come from, and what it shows of others: the countries (names, groups), the
      indicators and units, every country's last progress score and ranks (its rank in each
      group, among the countries the mart ranks) and the groups' last figures; and today's
      year (the instruments' timeline ends there);
    - a group page: its mart_group_progress rows, its members' last-year rows and how many
      countries the mart ranks that year (their ranks are out of it);
    - the overview: the country marts; data quality: file_receipt, quarantine and today's date
      (it says how many days ago files came); the dictionary: the code alone."""
    code = code_digest()
    first, last = _years(con, today)
    countries = [r[0] for r in con.execute("SELECT country_iso3 FROM dim_country ORDER BY 1").fetchall()]
    group_codes = {r[0] for r in con.execute("SELECT DISTINCT group_code FROM mart_group_progress").fetchall()}
    frame = _hash(con, "dim_country"), first, last, sorted(group_codes)

    def by(table: str, key: str = "country_iso3", where: str = "true") -> dict[str, str]:
        return {str(row[0]): f"{row[1]}:{row[2]}" for row in con.execute(
            f"SELECT {key}, count(*), sum(hash(t)) FROM {table} AS t WHERE {where} GROUP BY ALL").fetchall()}

    own = [by("mart_country_progress"), by("mart_legislation"), by("mart_national_plan"), by("policy_instrument"),
           by("fact_observation", where=TOTALS),
           by("observation_history", where=TOTALS) if state.has_tables(con, "observation_history") else {},
           by(f"""(SELECT f.country_iso3, q.* FROM quarantine AS q JOIN (
                      SELECT DISTINCT country_iso3, source_file FROM fact_observation WHERE {TOTALS}
                      UNION SELECT DISTINCT country_iso3, source_file FROM policy_instrument) AS f USING (source_file))""")]
    last_year = f"year = {int(last)}"
    at_last = [by("mart_country_progress", where=last_year), by("mart_legislation", where=last_year),
               by("mart_national_plan", where=last_year)]
    others = (_hash(con, "dim_indicator"), _hash(con, "dim_subnational"),
              _hash(con, "(SELECT country_iso3, progress_score, rank_region, rank_subregion FROM mart_country_progress "
                         "WHERE " + last_year + ")"),
              _hash(con, f"(SELECT * FROM mart_group_progress WHERE {last_year})"), today.year)
    pages: dict[str, tuple] = {
        "index.html": (_hash(con, "mart_country_progress"), _hash(con, "mart_legislation"),
                       _hash(con, "mart_national_plan")),
        "quality.html": (_hash(con, "file_receipt"), _hash(con, "quarantine"), today.isoformat()),
        "dictionary.html": (),
    }
    for iso in countries:
        pages[f"country/{iso}.html"] = (*(part.get(iso) for part in own), *others)
    groups = by("mart_group_progress", key="group_code")
    ranked = con.execute(f"SELECT count(rank_region) FROM mart_country_progress WHERE {last_year}").fetchall()[0][0]
    for group in group_list(_country_rows(con), group_codes):
        pages[f"group/{group['code']}.html"] = (groups.get(group["code"]), [
            (iso, *(part.get(iso) for part in at_last)) for iso in group["members"]], ranked)
    return {(page if language == "es" else f"en/{page}"): state.digest([], code, language, page, frame, parts)
            for language in LANGUAGES for page, parts in pages.items()}


def _hash(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    return "{}:{}".format(*con.execute(f"SELECT count(*), sum(hash(t)) FROM {relation} AS t").fetchall()[0])


def _country_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return _rows(con, "SELECT * FROM dim_country ORDER BY name_es, country_iso3")


def overview_context(data: Data, words: Words) -> dict:
    t, years = words.t, list(range(data.first_year, data.last_year + 1))
    rows = [(c["country_iso3"], words.name(c), f"country/{c['country_iso3']}.html") for c in data.countries]
    values = {(iso, y): data.progress.get((iso, y), {}).get("progress_score") for iso, *_ in rows for y in years}
    # A score the mart does not rank (rank_region NULL: too few of its components known) is
    # coloured as any other, but outlined and noted as the bar of a country not ranked is.
    not_ranked = {(iso, y) for (iso, y), score in values.items()
                  if score is not None and data.progress[(iso, y)].get("rank_region") is None}
    shares = _rank_thresholds(words)
    heat = charts.heatmap(rows, years, values, words.caption(
        t["heatmap_title"].format(first=years[0], last=years[-1]), t["heatmap_desc"].format(**shares),
        t["score_units"], t["marts_source"], row_header=t["country"], cell_note=t["not_ranked"],
        noted_cells=t["not_ranked_cells"].format(**shares)), words.num, noted=not_ranked)
    kinds = [(m, t["milestones"][m]) for m in MILESTONES]
    events = {(iso, kind): milestone(data, iso, kind, years) for iso, *_ in rows for kind in MILESTONES}
    timeline = charts.milestones(rows, kinds, events, years[0], years[-1], words.caption(
        t["milestones_title"].format(first=years[0], last=years[-1]), t["milestones_desc"], t["milestone_first_year"],
        "mart_legislation; policy_instrument", row_header=t["country"]))
    ranking = ranking_rows(data, data.last_year)
    bars = charts.bars([(words.name(r["country"]), r["progress"].get("progress_score"),
                         f"country/{r['country']['country_iso3']}.html", _not_ranked(r, words)) for r in ranking],
                       words.caption(t["ranking_title"].format(year=data.last_year),
                                     t["ranking_desc"].format(year=data.last_year), t["score_units"], t["marts_source"],
                                     row_header=t["country"], value_header=t["progress_score"],
                                     noted_bars=_not_ranked_legend(words)), words.num)
    known_share = sorted({k for r in ranking for k in r["progress"] if k.endswith("_known_share")}
                         | {k for r in ranking for k in r["legislation"] if k.endswith("_known_share")})
    return {"heatmap": heat, "timeline": timeline, "ranking_chart": bars, "ranking": ranking,
            "known_share_columns": known_share, "milestone_columns": list(MILESTONES)}


def milestone(data: Data, iso: str, kind: str, years: list[int]) -> charts.Milestone:
    """The first year a milestone was in force, as mart_legislation knows it. Dated only when
    every year before it is known: a State party to Belém do Pará that the register gives no
    date for (belem_do_para_basis group_membership) is unknown until the year by which every
    party had joined and true from then, so that year says "by then", never the date it
    ratified. Never in force and unknown are told apart."""
    values = [(y, data.legislation.get((iso, y), {})) for y in years]
    first = next((y for y, row in values if row.get(kind) is True), None)
    if first is None:
        return charts.Milestone(None, unknown=any(row.get(kind) is None for _, row in values))
    undated = any(row.get(kind) is None for y, row in values if y < first)
    if kind == "has_belem_do_para":
        undated = undated or data.legislation[(iso, first)].get("belem_do_para_basis") == "group_membership"
    return charts.Milestone(first, undated=undated)


def _not_ranked(row: dict, words: Words) -> str | None:
    """The note on the bar of a country the mart does not rank that year (rank_region NULL: too
    few of its components known); ranked countries come first, highest first, and it after them."""
    return words.t["not_ranked"] if row["progress"].get("rank_region") is None else None


def _not_ranked_legend(words: Words) -> str:
    """What a dashed bar means, with the mart's threshold (reference/score_rules.csv)."""
    return words.t["not_ranked_legend"].format(**_rank_thresholds(words))


def _rank_thresholds(words: Words) -> dict[str, str]:
    """The known shares below which the mart does not rank a country, overall (`share`,
    rank_min_known_share) and in either category (`category`, rank_min_category_known_share;
    reference/score_rules.csv), as the page writes a share."""
    rules = {r["rule"]: r["value"] for r in _reference("score_rules.csv")}
    return {key: words.share(float(rules[rule])) if rules.get(rule) else words.t["unknown"]
            for key, rule in (("share", "rank_min_known_share"), ("category", "rank_min_category_known_share"))}


def ranked_count(data: Data, year: int, column: str = "rank_region") -> int:
    """How many countries the mart ranks that year."""
    return sum(1 for (_, y), p in data.progress.items() if y == year and p.get(column) is not None)


def ranking_rows(data: Data, year: int) -> list[dict]:
    rows = []
    for country in data.countries:
        iso = country["country_iso3"]
        rows.append({"country": country, "progress": data.progress.get((iso, year), {}),
                     "legislation": data.legislation.get((iso, year), {}), "plan": data.plans.get((iso, year), {})})
    return sorted(rows, key=lambda r: (r["progress"].get("rank_region") is None, r["progress"].get("rank_region") or 0,
                                       r["country"]["name_es"]))


def country_context(data: Data, words: Words, country: dict, today: date | None = None) -> dict:
    t, iso, name = words.t, country["country_iso3"], words.name(country)
    years = list(range(data.first_year, data.last_year + 1))
    scores = charts.lines(
        [(t[k], [(y, data.progress.get((iso, y), {}).get(k)) for y in years])
         for k in ("progress_score", "legislation_score", "national_plan_score")],
        words.caption(t["scores_title"].format(country=name, first=years[0], last=years[-1]),
                      t["scores_desc"].format(country=name), t["score_units"], t["marts_source"], x_header=t["year"]),
        words.num, 0, 100)
    # A gap with no date at all is drawn from the marts' first year, where its unknown starts,
    # but its start is written "date unknown", never that year (the timeline and the table).
    instruments = [{**i, "start_unknown": start_unknown(i)} for i in data.instruments_of.get(iso, [])]
    types = {r["instrument_type"]: r for r in _reference("instrument_types.csv")}
    lanes = [(k, words.name(v)) for k, v in types.items() if any(i["instrument_type"] == k for i in instruments)]
    items = []
    for i in instruments:
        undated = i["start_unknown"]
        start = data.first_year if undated else (_year(i["in_force_from"]) or _year(i["adopted_on"]))
        if start is None:
            continue
        is_plan = i["instrument_type"] in PLAN_TYPES
        # A row whose status is not known says the register does not know what the instrument
        # provides from that date (the mart's component is unknown): not drawn as a law in force.
        # Its title is the register's note on the gap (in the register's words, often English):
        # labelled as such in the page's language.
        unknown = i["status"] == "not_known"
        label = (f"{t['register_note']}: " if unknown else "") + \
            f"{i['title']} ({i['identifier'] or (t['date_unknown'] if undated else start)})" + \
            (f" — {t['statuses']['not_known']}" if unknown else "")
        items.append({"lane": i["instrument_type"], "label": label, "start": start,
                      "start_label": t["date_unknown"] if undated else None,
                      "end": _year(i["in_force_to"]) if is_plan else None, "point": not is_plan, "unknown": unknown})
    first = min([data.first_year, *(it["start"] for it in items)]) if items else data.first_year
    timeline = charts.instrument_lanes(lanes, items, first, max(data.last_year + 1, (today or date.today()).year), words.caption(
        t["instruments_title"].format(country=name), t["instruments_desc"], t["year"], "policy_instrument",
        lane_header=t["instrument_type"], item_header=t["title"], unknown_items=t["not_known_items"])) if items else None
    series = indicator_series(data, words, country)
    files = {o["source_file"] for o in data.observations_of.get(iso, []) if o["source_file"]}
    files |= {i["source_file"] for i in instruments if i["source_file"]}
    quarantine = [q for f in sorted(files) for q in data.quarantine_of.get(f, [])][:MAX_QUARANTINE_SHOWN]
    latest = data.progress.get((iso, data.last_year), {})
    memberships = []
    for group in data.groups:
        if iso in group["members"]:
            g = data.group_progress.get((group["code"], data.last_year), {})
            memberships.append({"group": group, "mean": g.get("mean_progress_score"), "median": g.get("median_progress_score"),
                                "rank": _rank_in(data, group, iso, data.last_year)})
    score_rows = [{"year": y, **{f"p_{k}": v for k, v in data.progress.get((iso, y), {}).items()},
                   **{f"l_{k}": v for k, v in data.legislation.get((iso, y), {}).items()},
                   **{f"n_{k}": v for k, v in data.plans.get((iso, y), {}).items()}} for y in reversed(years)]
    return {"country": country, "name": name, "scores_chart": scores, "timeline": timeline, "instruments": instruments,
            "types": types, "series": series, "quarantine": quarantine,
            "quarantine_total": sum(data.quarantined_in.get(f, 0) for f in files), "latest": latest,
            "legislation_latest": data.legislation.get((iso, data.last_year), {}),
            "plan_latest": data.plans.get((iso, data.last_year), {}), "memberships": memberships,
            "score_rows": score_rows, "milestone_columns": list(MILESTONES),
            "ranked_in_region": ranked_count(data, data.last_year)}


def start_unknown(instrument: dict) -> bool:
    """Whether a register row is a gap with no date at all: status not_known, no in_force_from
    and no adopted_on (schema.yaml, policy_instrument.in_force_from; data/SOURCES.md, "Gaps";
    any other row without a date is quarantined). The marts take it as unknown from their first
    year; its start is shown as "date unknown". A not_known row with a date, even a bare year,
    keeps it."""
    return instrument["status"] == "not_known" and not instrument["in_force_from"] and not instrument["adopted_on"]


def _rank_in(data: Data, group: dict, iso: str, year: int) -> tuple[int, int] | None:
    """A country's rank in a group that year and how many members are ranked, or None when it
    is not ranked. The mart ranks a country-year only when enough of its components are known
    (rank_min_known_share: rank_region is NULL below it): the region's and a subregion's ranks
    are the mart's; in another group, its ranked members are ranked among themselves, as the
    mart does (1 = highest, ties share a rank)."""
    progress = [data.progress.get((m, year), {}) for m in group["members"]]
    own = data.progress.get((iso, year), {})
    column = group.get("rank_column")
    if column:
        return (own[column], sum(1 for p in progress if p.get(column) is not None)) if own.get(column) is not None else None
    if own.get("rank_region") is None:
        return None
    ranked = [p["progress_score"] for p in progress if p.get("rank_region") is not None]
    return 1 + sum(1 for s in ranked if s > own["progress_score"]), len(ranked)


def indicator_series(data: Data, words: Words, country: dict) -> list[dict]:
    """Per indicator: the national series by source (never merged) with flags and vintages,
    and a heat map per source where the data has subnational units."""
    t, iso, name = words.t, country["country_iso3"], words.name(country)
    by_code: dict[str, tuple[list[dict], list[dict]]] = {}  # indicator -> (national, subnational), one pass
    for o in data.observations_of.get(iso, []):
        by_code.setdefault(o["indicator_code"], ([], []))[o["subnational_code"] is not None].append(o)
    out = []
    for code in sorted(by_code):
        indicator = data.indicators.get(code, {"indicator_code": code})
        label = words.name(indicator) or code
        national, sub = by_code[code]
        sources, hidden_sources = _shown_sources(national)
        national = [o for o in national if o["source"] in sources]
        chart = None
        if national:
            chart = charts.lines([(s, [(o["year"], o["value"]) for o in national if o["source"] == s]) for s in sources],
                                 words.caption(t["series_title"].format(indicator=label, country=name), t["series_desc"],
                                               words.unit(indicator), "; ".join(sources), x_header=t["year"]),
                                 words.num, 0, None, {(o["source"], o["year"]) for o in national if withheld(o)})
        rows = [{**o, "unit": words.unit(indicator) or o["unit"],
                 "vintages": data.vintages.get((iso, None, o["year"], code, o["source"]), 1),
                 "flag_names": [t["flag_names"].get(f, f) for f in (o["flags"] or "").split(";") if f]} for o in national]
        maps = []
        for source in sorted({o["source"] for o in sub}):
            these = [o for o in sub if o["source"] == source]
            units = sorted({o["subnational_code"] for o in these}, key=lambda c: data.subnational_names.get(c, c))
            years = list(range(min(o["year"] for o in these), max(o["year"] for o in these) + 1))
            values = {(o["subnational_code"], o["year"]): o["value"] for o in these}
            high = max((v for v in values.values() if v is not None), default=1)  # every cell may be suppressed
            maps.append(charts.heatmap([(u, data.subnational_names.get(u, u), None) for u in units], years, values,
                                       words.caption(t["subnational_title"].format(indicator=label, country=name, source=source),
                                                     t["subnational_desc"], words.unit(indicator), source,
                                                     row_header=t["subnational"]), words.num, 0, high or 1,
                                       {(o["subnational_code"], o["year"]) for o in these if withheld(o)}))
        out.append({"code": code, "label": label, "unit": indicator.get("unit"), "chart": chart, "rows": rows,
                    "table_rows": series_rows(rows, words), "maps": maps,
                    "hidden_sources": hidden_sources, "shown_sources": MAX_SOURCES_SHOWN})
    return out


def withheld(observation: dict) -> bool:
    """A figure withheld as a small cell (small_cells.py): its value NULL, its flags say so.
    Shown as withheld, never as unknown nor 0."""
    return observation["value"] is None and WITHHELD_FLAG in (observation["flags"] or "").split(";")


def series_rows(rows: list[dict], words: Words) -> Markup:
    """The rows of a series table, written here rather than by a Jinja loop (a macro call per
    cell cost most of a country page's time), each distinct text escaped once; the same HTML
    and escaping as the templates'."""
    t, out = words.t, []
    unknown, held = unknown_cell(words), withheld_cell(words)
    values: dict[Any, str] = {}
    texts: dict[Any, str] = {}
    links: dict[Any, str] = {}
    flags: dict[tuple, str] = {}
    revised = f" ({escape(t['revised'])})"
    for o in rows:
        value = WITHHELD_FLAG if withheld(o) else o["value"]
        if value not in values:
            values[value] = (f'data-value="">{held}' if value == WITHHELD_FLAG else
                             f'data-value="{escape(value)}">{unknown if value is None else escape(words.num(value, 2))}')
        if o["source"] not in links:
            links[o["source"]] = linkify(o["source"])
        if o["unit"] not in texts:
            texts[o["unit"]] = escape(o["unit"])
        key = (tuple(o["flag_names"]), o.get("flag_note"))
        if key not in flags:
            flags[key] = "".join(f'<span class="flag">{escape(f)}</span> ' for f in o["flag_names"]) + \
                (f"<br><small>{escape(o['flag_note'])}</small>" if o.get("flag_note") else "")
        out.append(f'<tr><td>{o["year"]}</td><td class="num" {values[value]}</td><td>{texts[o["unit"]]}</td>'
                   f'<td>{links[o["source"]]}</td>\n<td>{flags[key]}</td>\n'
                   f'<td class="num">{o["vintages"]}{revised if o["vintages"] > 1 else ""}</td></tr>\n')
    return Markup("".join(out))


def _shown_sources(national: list[dict]) -> tuple[list[str], int]:
    """The sources drawn for one indicator: those with the latest figures, at most
    MAX_SOURCES_SHOWN (a chart of more lines cannot be read, and a page of every figure of
    hundreds of sources cannot be opened); how many more there are is said on the page."""
    latest: dict[str, tuple[int, int]] = {}
    for o in national:
        year, count = latest.get(o["source"], (0, 0))
        latest[o["source"]] = (max(year, o["year"]), count + 1)
    ranked = sorted(latest, key=lambda s: (-latest[s][0], -latest[s][1], s))
    return sorted(ranked[:MAX_SOURCES_SHOWN]), max(0, len(ranked) - MAX_SOURCES_SHOWN)


def group_context(data: Data, words: Words, group: dict) -> dict:
    t, code, name = words.t, group["code"], words.name(group)
    years = list(range(data.first_year, data.last_year + 1))
    trend = charts.lines(
        [(t["group_mean"], [(y, data.group_progress.get((code, y), {}).get("mean_progress_score")) for y in years]),
         (t["group_median"], [(y, data.group_progress.get((code, y), {}).get("median_progress_score")) for y in years])],
        words.caption(t["group_trend_title"].format(group=name, first=years[0], last=years[-1]), t["group_trend_desc"],
                      t["score_units"], "mart_group_progress", x_header=t["year"]), words.num, 0, 100)
    members = [r for r in ranking_rows(data, data.last_year) if r["country"]["country_iso3"] in group["members"]]
    bars = charts.bars([(words.name(r["country"]), r["progress"].get("progress_score"),
                         f"../country/{r['country']['country_iso3']}.html", _not_ranked(r, words)) for r in members],
                       words.caption(t["group_members_title"].format(group=name, year=data.last_year), "",
                                     t["score_units"], t["marts_source"], row_header=t["country"],
                                     value_header=t["progress_score"], noted_bars=_not_ranked_legend(words)), words.num)
    rows = [data.group_progress.get((code, y), {"year": y}) for y in reversed(years)]
    # How many countries the mean and median are over, where the mart says it.
    scored = SCORED_COLUMN if any(SCORED_COLUMN in r for r in rows) else None
    return {"group": group, "name": name, "trend": trend, "members_chart": bars, "members": members, "rows": rows,
            "scored": scored,
            "ranked_in_region": ranked_count(data, data.last_year)}


def quality_context(data: Data, words: Words, today: date | None = None) -> dict:
    t = words.t
    per: dict[str, dict] = {}
    today = today or datetime.now(timezone.utc).date()  # received_at is naive UTC
    for r in data.receipts:
        o = per.setdefault(r["observatory"] or "—", {"observatory": r["observatory"] or "—", "files": 0, "loaded": 0,
                                                       "partially_loaded": 0, "rejected": 0, "duplicate": 0,
                                                       "rows_loaded": 0, "rows_quarantined": 0, "last": None})
        o["files"] += 1
        o[r["status"]] = o.get(r["status"], 0) + 1
        o["rows_loaded"] += r["rows_loaded"] or 0
        o["rows_quarantined"] += r["rows_quarantined"] or 0
        if r["received_at"] and (o["last"] is None or r["received_at"] > o["last"]):
            o["last"] = r["received_at"]
    for o in per.values():
        o["age_days"] = (today - o["last"].date()).days if o["last"] else None  # calendar days
    chart = charts.stacked_bars([(o["observatory"], [o["rows_loaded"], o["rows_quarantined"]]) for o in per.values()],
                                [t["rows_loaded"], t["rows_quarantined"]],
                                words.caption(t["quality_title"], t["quality_desc"], t["rows"], t["quality_source"],
                                              row_header=t["observatory"]), words.num)
    reasons = [{"code": r["code"], "rows": r["rows"], "example": r[f"message_{words.language}"]} for r in data.reasons]
    return {"observatories": list(per.values()), "chart": chart, "reasons": reasons, "receipts": data.receipts}


def dictionary_context(words: Words) -> dict:
    """The data dictionary as a page, from the same texts as exports/ (schema.yaml and its
    Spanish translation)."""
    from observatory.publish import public_schema

    tables = []
    for name, spec in public_schema().items():
        table = exports.Table(name, spec["description"], tuple(exports.Column(c, k, d) for c, (k, d) in spec["columns"].items()), 0)
        tables.append({"name": name, "description": exports.describe(table, None, words.language),
                       "key": exports.exports_meta()["primary_keys"].get(name, []),
                       "columns": [(c.name, c.type, exports.describe(table, c, words.language)) for c in table.columns]})
    return {"tables": tables}
