"""The offline report, built from a small register through `observatory run` and
`observatory report`, read back as HTML and checked against the marts."""
import re
import shutil
from html.parser import HTMLParser

import duckdb
import pytest
from click.testing import CliRunner

from observatory.cli import main
from observatory.report import build
from tests.conftest import HEADER, covering, drop, every_country, query, run

POLICY_HEADER = "country,instrument_type,title,identifier,adopted_on,in_force_from,in_force_to,status,has_budget,source\n"
REGISTER = (POLICY_HEADER
            + "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,,,in_force,,https://www.gob.pe/ley-30364 | gob.pe\n"
            + "Perú,femicide_offence,<script>alert('x')</script> Ley 30068,30068,2013-07-18,,,in_force,,El Peruano <b>2013</b>\n"
            + "Perú,national_plan_vaw,Plan Nacional 2016-2021,DS 008-2016-MIMP,,2016,2021,expired,sí,javascript:alert(1) El Peruano\n"
            + "Chile,comprehensive_vaw_law,Ley 21675,21675,2024-06-14,,,in_force,,https://www.bcn.cl/leychile/navegar?idNorma=1204220\n")


# What an audit of the pages found: a country whose score stands on too few known components
# (Haiti: the register does not know four of its laws), a plan whose response areas are partly
# or not at all stated, a register row whose status is not known, and a small cell withheld
# with the national total above it (Argentina 2024).
AUDIT_HEADER = ("country,instrument_type,title,identifier,adopted_on,in_force_from,in_force_to,status,has_budget,"
                "has_monitoring,prevention,attention,sanction,reparation,source\n")
AUDIT_REGISTER = (AUDIT_HEADER
                  + "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,,,in_force,,,,,,,https://www.gob.pe/ley-30364\n"
                  + "Perú,belem_do_para_ratification,Convención de Belém do Pará,OEA A-61,1996-04-02,,,in_force,,,,,,,OEA\n"
                  + "Perú,national_plan_vaw,Plan Nacional 2016-2021,DS 008-2016-MIMP,,2016,2021,expired,sí,,,,,,El Peruano\n"
                  + "Chile,national_plan_vaw,Plan Nacional 2022-2030,,,2022,2030,in_force,,,sí,no,,,MinMujer\n"
                  + "".join(f"Haití,{kind},Loi {kind},,2010,,,not_known,,,,,,,Registre\n" for kind in (
                      "comprehensive_vaw_law", "domestic_violence_law", "femicide_offence", "political_violence_law"))
                  + "Haití,national_plan_vaw,Plan national 2017-2027,,2017-01-24,2017,2027,in_force,,,,,,,Nations Unies\n"
                  + "Nicaragua,domestic_violence_law,Código Penal (Ley 641),Ley 641,,2008-07-09,,not_known,,,,,,,F. Bautista\n"
                  # Every other country: a row no score counts (a family-violence plan), so that the
                  # register covers it (one it lists no law or plan of is unknown throughout).
                  + "".join(f"{line}\n" for line in covering(*(iso for iso in every_country()
                                                                 if iso not in ("PER", "CHL", "HTI", "NIC")))))
# Register rows not known (status not_known) as the register writes them: a gap with no date at
# all states none (Bolivia's plan; Uruguay's strategy to 2030, with its end); a dated one keeps
# its date (Chile), and so does one dated by a bare year and nothing else (Paraguay's first plan,
# 1994, as data/raw/registro_regional has it); a law in force from 1994 keeps that year.
GAPS_REGISTER = (AUDIT_HEADER
                 + "BOL,national_plan_vaw,Plan «Contra los feminicidios»: no date sourced,,,,,not_known,,,,,,,"
                   "data/SOURCES.md | register note\n"
                 + "URY,national_plan_equality,Equality strategy to 2030: no start date sourced,,,,2030,not_known,,,,,,,"
                   "data/SOURCES.md | register note\n"
                 + "CHL,political_violence_law,Ley 21.675: whether it defines political violence was not read,Ley 21.675,,"
                   "2024-06-03,,not_known,,,,,,,data/SOURCES.md | register note\n"
                 + "PRY,national_plan_vaw,First national plan (1994): its end was not sourced,,,1994,,not_known,,,,,,,"
                   "data/SOURCES.md | register note\n"
                 + "ARG,domestic_violence_law,Protección contra la violencia familiar,Ley 24.417,1994-12-07,1994,,in_force,"
                   ",,,,,,https://www.infoleg.gob.ar\n")
SMALL_CELL = ("country,subnational,year,indicator,value,source\nARG,,2023,femicide_count,250,OFM\n"
              "ARG,,2024,femicide_count,10,OFM\nARG,AR.BA,2024,femicide_count,3,OFM\n")


class Text(HTMLParser):
    """The text of one element, by id (what a reader sees)."""

    def __init__(self, element_id: str):
        super().__init__()
        self.element_id, self.depth, self.parts = element_id, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(html: str, element_id: str) -> str:
    parser = Text(element_id)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def published(settings):
    drop(settings, "registro/leyes.csv", REGISTER)
    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,124,MIMP\n"
         + "Perú,2016,femicide_count,,MIMP\n")
    run(settings)
    return settings


@pytest.fixture
def audited(settings):
    drop(settings, "registro/leyes.csv", AUDIT_REGISTER)
    drop(settings, "ofm/argentina.csv", SMALL_CELL)
    run(settings)
    return settings


def last_complete_year(settings) -> int:
    return query(settings, "SELECT max(year) FROM mart_country_progress WHERE NOT provisional")[0][0]


def page_of(settings, path: str) -> str:
    return (settings.report_dir / path).read_text(encoding="utf-8")


def cells(html: str) -> list[str]:
    """The text of each cell of an HTML fragment, tags left out."""
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def group_ranks(page: str) -> dict[str, str]:
    """Group code -> the rank the country page's groups table shows."""
    return {code: cells(rank)[0] for code, rank in re.findall(
        r'<tr><td><a href="\.\./group/([^.]+)\.html">[^<]*</a></td>(<td[^>]*>.*?</td>)', page, re.S)}


def test_a_country_the_mart_does_not_rank_has_no_rank_in_its_groups(audited):
    """The mart ranks a country-year only when enough of its components are known: Haiti, its
    four laws not known, has a score over the rest (its plan) but no rank anywhere; the others
    are ranked among the ranked members alone."""
    year = last_complete_year(audited)
    share, rank_region = query(audited, "SELECT progress_known_share, rank_region FROM mart_country_progress "
                                        "WHERE country_iso3 = 'HTI' AND year = ?", [year])[0]
    assert share < 0.5 and rank_region is None
    for prefix, not_ranked in (("", "sin clasificar"), ("en/", "not ranked")):
        ranks = group_ranks(page_of(audited, f"{prefix}country/HTI.html"))
        assert {"LAC", "caribbean", "BELEM_DO_PARA"} <= set(ranks) and set(ranks.values()) == {not_ranked}
    subregions = {"caribbean", "central_america", "south_america"}
    ranks = group_ranks(page_of(audited, "country/PER.html"))
    assert {"LAC", "south_america"} <= set(ranks)
    for code, shown in ranks.items():
        members = "true" if code == "LAC" else f"subregion = '{code}'" if code in subregions else code.lower()
        rank, ranked = query(audited, f"""
            SELECT rank, ranked FROM (
                SELECT country_iso3, rank() OVER (ORDER BY progress_score DESC) AS rank, count(*) OVER () AS ranked
                FROM mart_country_progress JOIN dim_country USING (country_iso3)
                WHERE year = ? AND rank_region IS NOT NULL AND {members})
            WHERE country_iso3 = 'PER'""", [year])[0]
        assert shown == f"{rank}/{ranked}", code
    assert ranks["LAC"].endswith("/32")  # Haiti is not counted among the ranked


def test_a_country_the_mart_does_not_rank_is_shown_as_not_ranked_never_unknown(audited):
    """Haiti's score (100, over its plan alone) is shown, but it is "sin clasificar / not
    ranked" wherever a rank is, and its bar, after the ranked ones, is marked and explained."""
    year = last_complete_year(audited)
    ranked = query(audited, "SELECT count(rank_region) FROM mart_country_progress WHERE year = ?", [year])[0][0]
    for prefix, not_ranked in (("", "sin clasificar"), ("en/", "not ranked")):
        country = page_of(audited, f"{prefix}country/HTI.html")
        assert text_of(country, "rank-region") == not_ranked
        assert (f"(de {ranked} clasificados)" if not prefix else f"(of {ranked} ranked)") in country
        overview = page_of(audited, f"{prefix}index.html")
        haiti = re.search(r'<tr><td class="num">((?:(?!<tr>).)*?)</td>\s*<td><a href="country/HTI.html">', overview, re.S)
        assert cells(f"<td>{haiti.group(1)}</td>") == [not_ranked]
        group = page_of(audited, f"{prefix}group/caribbean.html")
        haiti = re.search(r'<a href="\.\./country/HTI.html">[^<]*</a></td><td class="num">(.*?)</td>', group, re.S)
        assert cells(f"<td>{haiti.group(1)}</td>") == [not_ranked]
        for page in (overview, group):  # the bar: a dashed outline, its note, and what it means
            assert re.search(rf'<rect [^>]*stroke-dasharray="4 2"><title>Hait[ií]: 100 \({not_ranked}\)</title>', page)
            legend = re.search(r'<p class="legend"><svg [^>]*><rect [^>]*stroke-dasharray[^>]*/></svg> ([^<]*)</p>', page)
            assert not_ranked in legend.group(1).lower() and ("0,50" if not prefix else "0.50") in legend.group(1)


def test_the_heat_map_outlines_a_score_the_mart_does_not_rank(audited):
    """A score over fewer known components than the mart ranks on (Haiti's, over its plan alone)
    is coloured as any other, but outlined with dashes, noted "not ranked" in its tooltip and the
    chart's table, and the legend says what the outline means, with the threshold; every other
    score, ranked, is not outlined."""
    first, year = query(audited, "SELECT min(year), max(year) FILTER (WHERE NOT provisional) FROM mart_country_progress")[0]
    not_ranked = {(iso, y) for iso, y in query(audited, "SELECT country_iso3, year FROM mart_country_progress "
                                                        "WHERE progress_score IS NOT NULL AND rank_region IS NULL "
                                                        "AND NOT provisional")}
    assert ("HTI", year) in not_ranked
    for prefix, language, note, share in (("", "es", "sin clasificar", "0,50"), ("en/", "en", "not ranked", "0.50")):
        names = dict(query(audited, f"SELECT name_{language}, country_iso3 FROM dim_country"))
        overview = page_of(audited, f"{prefix}index.html")
        heat = overview[:overview.index('<h2 id="milestones">')]
        drawn = {(names[name], int(y)): (shown, bool(outline)) for name, y, shown, outline in re.findall(
            r'<title>([^<]*) (\d{4}): ([^<]*)</title></rect>(<rect [^>]*stroke="#fff"/><rect [^>]*stroke="#000" '
            r'stroke-dasharray="2 2"/>)?', heat)}
        assert len(drawn) == 33 * (year - first + 1)
        assert {cell for cell, (_, outlined) in drawn.items() if outlined} == not_ranked
        assert {cell for cell, (shown, _) in drawn.items() if shown.endswith(f" ({note})")} == not_ranked
        assert drawn[("HTI", year)][0] == f"100 ({note})"
        table = re.search(r"<details><summary>[^<]*</summary>(<table.*?</table>)</details>", heat, re.S).group(1)
        haiti = cells(re.search(r"<tr><td>Hait[ií]</td>.*?</tr>", table, re.S).group(0))
        assert haiti[-1] == f"100 ({note})"
        legend = re.search(r'<svg [^>]*><rect [^>]*/><rect [^>]*stroke="#fff"/><rect [^>]*stroke-dasharray="2 2"/></svg> '
                           r'([^<]*)</p>', heat).group(1)
        assert note in legend and share in legend


def test_a_withheld_figure_is_shown_as_withheld_never_unknown(audited):
    """Argentina 2024: Buenos Aires' 3 is a small cell and the national 10 is withheld with it
    (else 10 - nothing = 3): both NULL, flagged suppressed. The page says withheld in the
    series table, its flag, the charts' tables and tooltips, and draws the withheld cell with
    its own pattern and legend entry, not the hatching of an unknown one."""
    assert sorted(query(audited, "SELECT coalesce(subnational_code, ''), value, flags FROM fact_observation "
                                 "WHERE country_iso3 = 'ARG' AND year = 2024")) == [("", None, "suppressed"),
                                                                                    ("AR.BA", None, "suppressed")]
    for prefix, held, unknown, flag in (("", "retenida", "desconocido", "retenida (celda pequeña)"),
                                        ("en/", "withheld", "unknown", "withheld (small cell)")):
        page = page_of(audited, f"{prefix}country/ARG.html")
        table = re.search(r'<table class="data" id="series-femicide_count">(.*?)</table>', page, re.S).group(1)
        row = cells(re.search(r"<tr><td>2024</td>.*?</tr>", table, re.S).group(0))
        assert row[1] == held and row[4].startswith(flag) and "suppressed" not in row[4]
        assert cells(re.search(r"<tr><td>2023</td>.*?</tr>", table, re.S).group(0))[1] == "250"
        # the national line chart's table, and the subnational heat map: cell, tooltip, table, legend
        section = page[page.index('id="indicator-femicide_count"'):]
        line_table, map_table = re.findall(r"<details><summary>[^<]*</summary>(<table.*?</table>)</details>", section, re.S)[:2]
        assert re.search(r"<tr><td>2024</td><td>([^<]*)</td></tr>", line_table).group(1) == held
        assert "OFM 2024" in re.search(r'<p class="legend"><span class="swatch withheld"></span>([^<]*)</p>', page).group(1)
        assert cells(re.search(r"<tr><td>Buenos Aires</td>.*?</tr>", map_table, re.S).group(0)) == ["Buenos Aires", held]
        cell = re.search(r'<rect [^>]*fill="([^"]*)"><title>Buenos Aires 2024: ([^<]*)</title>', page)
        assert cell.groups() == ("url(#withheld-cross)", held) and '<pattern id="withheld-cross"' in page
        assert f'<span class="swatch withheld"></span> {held}</p>' in page


def test_a_group_page_shows_for_how_many_countries_a_count_is_unknown(audited):
    """The group mart counts the members with a comprehensive law or a plan in force and those
    for which it is unknown (Haiti's law): the page shows both; and, where the mart says it, how
    many countries its mean and median are over."""
    year = last_complete_year(audited)
    fmt = lambda v: (f"{v:.1f}".replace(".", ",") if not float(v).is_integer() else str(int(v)))
    expected = query(audited, """SELECT year, countries, countries_with_comprehensive_law, countries_comprehensive_law_unknown,
                                        countries_with_plan_in_force, countries_plan_in_force_unknown,
                                        countries_ranked, mean_progress_score, median_progress_score
                                 FROM mart_group_progress WHERE group_code = 'caribbean' AND year = ?""", [year])[0]
    assert expected[3] == 1  # Haiti
    trend = page_of(audited, "group/caribbean.html").split('id="trend"')[1]
    assert "Ley integral: se desconoce" in trend and "Plan vigente: se desconoce" in trend and "Clasificados (base" in trend
    assert cells(re.search(rf"<tr><td>{year}</td>.*?</tr>", trend, re.S).group(0)) == [fmt(v) for v in expected]
    assert "Comprehensive law: unknown" in page_of(audited, "en/group/caribbean.html")


def milestone_cells(overview: str, iso: str) -> list[str]:
    """A country's row of the milestones chart's table: its first year of each milestone."""
    section = overview[overview.index('<h2 id="milestones">'):overview.index('<h2 id="ranking">')]
    table = re.search(r"<details><summary>[^<]*</summary>(<table.*?</table>)</details>", section, re.S).group(1)
    name = re.search(rf'<a href="country/{iso}.html"><text [^>]*>([^<]*)</text>', section).group(1)
    return cells(re.search(rf"<tr><td>{re.escape(name)}</td>.*?</tr>", table, re.S).group(0))[1:]


def test_the_milestones_never_date_a_ratification_the_register_does_not_date(audited):
    """Bolivia is a State party to Belém do Pará whose ratification the register does not date:
    the mart says unknown until the year every party had joined and true from then (basis
    group_membership). The timeline says "by then, date unknown" with a hollow marker, never
    a ratification that year; Peru's, dated in the register, keeps its year. A milestone
    never in force and one whose first year is unknown (Haiti's laws) are told apart."""
    by = query(audited, "SELECT min(year) FROM mart_legislation WHERE country_iso3 = 'BOL' AND has_belem_do_para "
                        "AND belem_do_para_basis = 'group_membership'")[0][0]
    peru = query(audited, "SELECT min(year) FROM mart_legislation WHERE country_iso3 = 'PER' AND has_belem_do_para")[0][0]
    assert by is not None and peru == 1996
    for prefix, undated, never, unknown in (("", f"a más tardar en {by} (fecha desconocida)", "no vigente", "desconocido"),
                                            ("en/", f"by {by} (date unknown)", "not in force", "unknown")):
        overview = page_of(audited, f"{prefix}index.html")
        # domestic violence, femicide, comprehensive and political violence laws, Belém do Pará
        assert milestone_cells(overview, "BOL") == [never, never, never, never, undated]
        assert milestone_cells(overview, "PER") == [never, never, "2015", never, "1996"]
        assert milestone_cells(overview, "HTI") == [unknown, unknown, unknown, unknown, undated]
        bolivia = re.search(r"<g><title>Bolivia[^<]*: ([^<]*)</title>(<[^>]*>)</g>", overview)
        assert bolivia.group(1).endswith(undated) and 'fill="#fff"' in bolivia.group(2)  # a hollow marker
        assert not re.search(rf"<title>[^<]*Bel[ée]m do Par[áa][^<]* {by}</title>", overview)
        assert re.search(r"<title>Per[uú]: [^<]*Bel[ée]m do Par[áa][^<]* 1996</title>", overview)


def test_a_register_row_whose_status_is_not_known_is_not_drawn_as_a_law(audited):
    """Nicaragua's Ley 641 row says the register does not know whether the new penal code keeps
    an intrafamily-violence offence: a status named in both languages, a hollow marker
    explained under the timeline, never the filled dot of a law in force."""
    for prefix, status, note in (("", "no consta", "Nota del registro"), ("en/", "not known", "Register note")):
        page = page_of(audited, f"{prefix}country/NIC.html")
        row = cells(re.search(r"<tr><td>[^<]*</td><td>Código Penal \(Ley 641\)</td>.*?</tr>", page, re.S).group(0))
        assert row[5] == status
        dot = re.search(rf"<g><title>{note}: Código Penal \(Ley 641\) \(Ley 641\) — ([^<]*)</title>(<circle [^>]*>)</g>", page)
        assert dot.group(1) == status and 'fill="#fff" stroke=' in dot.group(2)
        legend = re.search(r'<p class="legend"><svg [^>]*><circle [^>]*fill="#fff"[^>]*/></svg> ([^<]*)</p>', page)
        assert status in legend.group(1).replace("«", "'").replace("»", "'").lower()


def test_both_timelines_explain_their_hollow_marker_with_one_legend(audited, tmp_path, monkeypatch):
    """The milestones (Bolivia's undated ratification) and a country's instruments (Nicaragua's
    row not known) explain a hollow marker with the same legend paragraph, made by one helper,
    each in its own words and language."""
    from observatory import charts
    from observatory.report import labels

    legend, made = charts.hollow_legend, []
    monkeypatch.setattr(charts, "hollow_legend", lambda text: made.append(text) or legend(text))
    build(audited.published_db, tmp_path / "report")
    for prefix, language in (("", "es"), ("en/", "en")):
        words = labels()[language]
        overview = (tmp_path / "report" / prefix / "index.html").read_text(encoding="utf-8")
        nicaragua = (tmp_path / "report" / prefix / "country" / "NIC.html").read_text(encoding="utf-8")
        assert legend(words["undated_legend"]) in overview and legend(words["not_known_items"]) in nicaragua
        assert {words["undated_legend"], words["not_known_items"]} <= set(made)


def instrument_rows(page: str) -> list[list[str]]:
    """The cells of each row of a country page's instruments table."""
    table = re.search(r'<table class="data" id="instruments">(.*?)</table>', page, re.S).group(1)
    return [cells(row) for row in re.findall(r"<tr><td>.*?</tr>", table, re.S)]


def timeline_rows(page: str) -> list[list[str]]:
    """The cells of each row of a country page's instruments timeline's table (type, label, →, ←)."""
    section = page[page.index("<svg"):page.index('id="instruments"')]
    table = re.search(r"<details><summary>[^<]*</summary>(<table.*?</table>)</details>", section, re.S).group(1)
    return [cells(row) for row in re.findall(r"<tr><td>.*?</tr>", table, re.S)]


def test_a_gap_with_no_date_is_never_shown_as_starting_in_the_marts_first_year(settings):
    """A register row not known (status not_known) with no date at all (no in_force_from, no
    adopted_on) is drawn from the marts' first year (1994), where the marts take its unknown to
    start, but its start is "fecha desconocida / date unknown" in the instruments table, the
    timeline's tooltip and its table, and its label (the register's note, in English) opens with
    a prefix in the page's language. A row not known with a date (Chile's; Paraguay's, a bare
    1994 and no adoption date) and a law in force from 1994 keep their dates."""
    drop(settings, "registro/leyes.csv", GAPS_REGISTER)
    run(settings)
    assert query(settings, "SELECT min(year) FROM mart_country_progress")[0][0] == 1994
    assert query(settings, "SELECT country_iso3, in_force_from FROM policy_instrument WHERE adopted_on IS NULL ORDER BY 1") == [
        ("BOL", None), ("CHL", "2024-06-03"), ("PRY", "1994"), ("URY", None)]
    for prefix, unknown, note, status in (("", "fecha desconocida", "Nota del registro", "no consta"),
                                          ("en/", "date unknown", "Register note", "not known")):
        def page(iso: str) -> str:
            return page_of(settings, f"{prefix}country/{iso}.html")

        bolivia, uruguay, paraguay = page("BOL"), page("URY"), page("PRY")
        # title, number, adopted (none), in force
        adopted_unknown = "unknown" if prefix else "desconocido"
        assert instrument_rows(bolivia)[0][1:5] == ["Plan «Contra los feminicidios»: no date sourced", "",
                                                   adopted_unknown, f"{unknown} –"]
        assert instrument_rows(uruguay)[0][4] == f"{unknown} – 2030"
        label = f"{note}: Plan «Contra los feminicidios»: no date sourced ({unknown}) — {status}"
        assert re.search(r"<rect [^>]*><title>([^<]*)</title></rect>", bolivia).group(1) == label
        assert timeline_rows(bolivia)[0][1:] == [label, unknown, "…"]
        assert timeline_rows(uruguay)[0][2:] == [unknown, "2030"]
        # Drawn from the marts' first year, as its unknown starts there: the bar of Bolivia's
        # plan starts where Paraguay's, of 1994, does.
        bar = r'<rect x="(\d+)"[^>]*><title>{}'
        assert re.search(bar.format(re.escape(label)), bolivia).group(1) == \
            re.search(bar.format(re.escape(note + ": First national plan")), paraguay).group(1)
        for html in (bolivia, uruguay):  # the marts' first year is nowhere a date of theirs
            section = html[html.index("<h2>"):html.index('<h2>', html.index('id="instruments"'))]
            assert "1994 –" not in section and not re.search(r"<td>1994</td>|\(1994\)", section)
        assert instrument_rows(page("CHL"))[0][4] == "2024-06-03 –"
        assert timeline_rows(page("CHL"))[0][1:3] == [
            f"{note}: Ley 21.675: whether it defines political violence was not read (Ley 21.675) — {status}", "2024"]
        # Paraguay's first plan is of 1994, a year the register sourced: shown, never "date unknown".
        assert instrument_rows(paraguay)[0][3:5] == [adopted_unknown, "1994 –"]
        first_plan = f"{note}: First national plan (1994): its end was not sourced (1994) — {status}"
        assert timeline_rows(paraguay)[0][1:3] == [first_plan, "1994"]
        assert re.search(r"<rect [^>]*><title>([^<]*)</title></rect>", paraguay).group(1) == first_plan
        assert instrument_rows(page("ARG"))[0][3:5] == ["1994-12-07", "1994 –"]


def components_row(page: str, year: int) -> list[str]:
    table = page[page.index('id="components"'):]
    return cells(re.search(rf"<tr><td>{year}</td>.*?</tr>", table, re.S).group(0))


def test_the_areas_a_plan_covers_are_shown_out_of_those_known(audited):
    """Chile's plan says prevention yes and attention no, the other two areas blank: 1 of 2
    known. Peru's plan states no area: how many it covers is unknown, never 0."""
    year = last_complete_year(audited)
    assert query(audited, "SELECT areas_covered, areas_known FROM mart_national_plan "
                          "WHERE country_iso3 = 'CHL' AND year = ?", [year]) == [(1, 2)]
    assert query(audited, "SELECT areas_known FROM mart_national_plan WHERE country_iso3 = 'PER' AND year = 2016") == [(0,)]
    for prefix, chile, unknown in (("", "1 de 2 conocidas", "desconocido"), ("en/", "1 of 2 known", "unknown")):
        assert components_row(page_of(audited, f"{prefix}country/CHL.html"), year)[-1] == chile
        assert components_row(page_of(audited, f"{prefix}country/PER.html"), 2016)[-1] == unknown


def test_a_country_no_longer_ranked_renders_again_the_pages_that_rank_among_it(published, tmp_path):
    """A country's rank in its groups is out of the countries ranked: when another one stops
    being ranked (its score unchanged), its fellow members' pages and every group page (their
    header says how many are ranked) are rendered again, as a fresh build makes them."""
    copy = tmp_path / "ranks.duckdb"
    shutil.copy(published.published_db, copy)
    build(copy, tmp_path / "report")
    year = last_complete_year(published)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE mart_country_progress SET rank_region = NULL, rank_subregion = NULL "
                    "WHERE country_iso3 = 'CHL' AND year = ?", [year])
    rendered = set(build(copy, tmp_path / "report").rendered)
    assert {"country/PER.html", "en/country/PER.html", "group/MIRPS.html", "en/group/caribbean.html"} <= rendered
    build(copy, tmp_path / "fresh")
    for page in ("country/PER.html", "group/MIRPS.html"):
        assert (tmp_path / "report" / page).read_bytes() == (tmp_path / "fresh" / page).read_bytes()


def test_a_country_page_shows_the_marts_figures(published):
    year = query(published, "SELECT max(year) FROM mart_country_progress WHERE NOT provisional")[0][0]  # the last complete year
    score, legislation, plan, rank = query(published, """
        SELECT progress_score, legislation_score, national_plan_score, rank_region
        FROM mart_country_progress WHERE country_iso3 = 'PER' AND year = ?""", [year])[0]
    page = (published.report_dir / "country" / "PER.html").read_text(encoding="utf-8")
    fmt = lambda v: (f"{v:.1f}" if not float(v).is_integer() else str(int(v))).replace(".", ",")
    assert text_of(page, "progress-score") == fmt(score) and score > 0
    assert text_of(page, "legislation-score") == fmt(legislation)
    assert text_of(page, "national-plan-score") == fmt(plan)
    assert text_of(page, "rank-region") == str(rank)
    english = (published.report_dir / "en" / "country" / "PER.html").read_text(encoding="utf-8")
    assert text_of(english, "progress-score") == (f"{score:.1f}" if not float(score).is_integer() else str(int(score)))
    series = text_of(page, "series-femicide_count")
    assert "2015 95" in series and "2016 124" in series and "MIMP" in series
    # The unit as each language writes it (dim_indicator), never its code.
    assert "número" in series and "count" not in series and "count" in text_of(english, "series-femicide_count")
    assert query(published, "SELECT unit, unit_name_es, unit_name_en FROM dim_indicator WHERE indicator_code = 'femicide_rate'") == [
        ("per_100k_women", "por cada 100.000 mujeres", "per 100,000 women")]
    assert "missing_value" in text_of(page, "quarantine")  # the row of its file set aside


def test_raw_text_is_escaped_and_only_web_addresses_become_links(published):
    page = (published.report_dir / "country" / "PER.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(" in page
    assert "<b>2013</b>" not in page and "&lt;b&gt;2013&lt;/b&gt;" in page
    assert 'href="https://www.gob.pe/ley-30364"' in page
    assert 'href="javascript:' not in page


def test_every_page_is_self_contained(published):
    pages = list(published.report_dir.rglob("*.html"))
    assert len(pages) == 2 * (3 + 33 + 8)  # overview, quality, dictionary, countries, groups; es and en
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html and "<link" not in html and "@import" not in html, page
        assert not re.search(r'\bsrc\s*=', html), page  # nothing loaded: charts are inline SVG
        assert "Content-Security-Policy" in html


def test_overview_has_the_heat_map_milestones_and_ranking(published):
    page = (published.report_dir / "index.html").read_text(encoding="utf-8")
    year = query(published, "SELECT max(year) FROM mart_country_progress WHERE NOT provisional")[0][0]
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 3
    assert f"1994-{year}" in page
    ranking = text_of(page, "ranking-table")
    first = query(published, "SELECT c.name_es FROM mart_country_progress p JOIN dim_country c USING (country_iso3) "
                             "WHERE year = ? ORDER BY rank_region, c.name_es LIMIT 1", [year])[0][0]
    assert f"Cobertura de datos 1 {first} " in ranking  # the header, then the first row


def test_unknown_is_shown_as_unknown_and_new_columns_do_not_break_it(published, tmp_path):
    """Marts whose has_* columns are three-valued (NULL = unknown) and carry *_known_share."""
    copy = tmp_path / "three_valued.duckdb"
    shutil.copy(published.published_db, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE mart_legislation SET has_femicide_offence = NULL WHERE country_iso3 = 'CHL'")
        con.execute("UPDATE mart_country_progress SET progress_score = NULL, rank_region = NULL WHERE country_iso3 = 'CHL'")
        con.execute("UPDATE mart_country_progress SET legislation_known_share = 0.8")
    build(copy, tmp_path / "report")
    page = (tmp_path / "report" / "country" / "CHL.html").read_text(encoding="utf-8")
    assert text_of(page, "progress-score") == "desconocido"
    assert "desconocido" in text_of(page, "components")
    overview = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "legislation_known_share" in overview and "0,80" in text_of(overview, "ranking-table")
    assert text_of((tmp_path / "report" / "en" / "country" / "CHL.html").read_text(encoding="utf-8"),
                   "progress-score") == "unknown"


def test_observatory_report_rebuilds_exports_and_report(published):
    shutil.rmtree(published.report_dir.resolve())
    published.report_dir.unlink()
    result = CliRunner().invoke(main, ["report", "--curated-dir", str(published.curated_dir)])
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output
    assert (published.report_dir / "index.html").is_file() and (published.exports_dir / "datapackage.json").is_file()
    assert len(list(published.curated_dir.glob(".report-*"))) == 1


def test_observatory_report_says_when_nothing_is_published(tmp_path):
    result = CliRunner().invoke(main, ["report", "--curated-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "observatory run" in result.output


def test_a_country_page_draws_at_most_eight_sources_per_indicator_and_says_how_many_more(published, tmp_path):
    """Hundreds of sources of one figure cannot be read on a chart: the latest eight are drawn,
    and the page says how many more the exports hold."""
    copy = tmp_path / "many_sources.duckdb"
    shutil.copy(published.published_db, copy)
    with duckdb.connect(str(copy)) as con:
        template = con.execute("SELECT * FROM fact_observation WHERE country_iso3 = 'PER' AND subnational_code IS NULL "
                               "AND indicator_code = 'femicide_count' LIMIT 1").df()
        assert len(template) == 1
        for i in range(11):
            row = template.assign(source=f"fuente {i:02d}", year=2000 + i)
            con.register("_row", row)
            con.execute("INSERT INTO fact_observation SELECT * FROM _row")
            con.unregister("_row")
    build(copy, tmp_path / "report")
    page = (tmp_path / "report" / "country" / "PER.html").read_text(encoding="utf-8")
    table = text_of(page, "series-femicide_count")
    assert "fuente 10" in table and "MIMP" in table  # the sources with the latest figures are drawn
    assert "fuente 00" not in table
    assert len(set(re.findall(r"fuente \d\d", table))) + 1 == 8  # MIMP and seven of the eleven
    note = text_of(page, "more-sources-femicide_count")
    sources = query(published, "SELECT count(DISTINCT source) FROM fact_observation WHERE country_iso3 = 'PER' "
                               "AND subnational_code IS NULL AND indicator_code = 'femicide_count'")[0][0]
    assert note.startswith("Se muestran las 8 fuentes") and f"; {sources + 11 - 8} fuentes más" in note


def test_a_country_page_lists_the_first_hundred_quarantined_rows_and_points_to_the_rest(published, tmp_path):
    copy = tmp_path / "many_problems.duckdb"
    shutil.copy(published.published_db, copy)
    with duckdb.connect(str(copy)) as con:
        path = con.execute("SELECT any_value(source_file) FROM fact_observation WHERE country_iso3 = 'PER'").fetchall()[0][0]
        # Inserted out of order, each with the line in its message: the page lists them by line.
        con.execute("""INSERT INTO quarantine BY NAME SELECT ? AS source_file, 1000 + (i * 7) % 150 AS source_row,
                       'value_not_numeric' AS reason_code, 'línea ' || (1000 + (i * 7) % 150) AS message_es,
                       'line ' || (1000 + (i * 7) % 150) AS message_en FROM range(150) AS r(i)""", [path])
        total = con.execute("SELECT count(*) FROM quarantine WHERE source_file IN (SELECT source_file FROM fact_observation "
                            "WHERE country_iso3 = 'PER')").fetchall()[0][0]
        expected = [f"{file} {row if row is not None else '—'} {reason}" for file, row, reason in con.execute(
            "SELECT source_file, source_row, reason_code FROM quarantine WHERE source_file IN (SELECT source_file "
            "FROM fact_observation WHERE country_iso3 = 'PER') ORDER BY source_file, source_row LIMIT 100").fetchall()]
    build(copy, tmp_path / "report")
    page = (tmp_path / "report" / "country" / "PER.html").read_text(encoding="utf-8")
    shown = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td><td>([^<]*)</td>", page)
    assert [" ".join(row) for row in shown] == expected  # the first hundred, in order
    assert text_of(page, "more-quarantine").startswith(f"Se listan las primeras 100 de {total} filas")
    # The data quality page counts every row of the reason and quotes its first one.
    quality = (tmp_path / "report" / "quality.html").read_text(encoding="utf-8")
    assert "value_not_numeric 150 línea 1000" in text_of(quality, "reasons")


def test_observatory_report_makes_the_report_when_the_exports_fail_and_says_so(published, monkeypatch):
    from observatory import pipeline

    shutil.rmtree(published.report_dir.resolve())
    published.report_dir.unlink()
    monkeypatch.setitem(pipeline.OUTPUTS, "research_exports", lambda settings: 1 / 0)
    result = CliRunner().invoke(main, ["report", "--curated-dir", str(published.curated_dir)])
    assert result.exit_code == 1
    assert "Las exportaciones no se pudieron generar / The exports could not be made: ZeroDivisionError" in result.stderr
    assert "Report:" in result.stdout and (published.report_dir / "index.html").is_file()


def test_an_interrupt_waits_for_the_exports_and_the_report_to_end(settings, monkeypatch):
    """Ctrl+C while they are made: raised only once both threads have ended, so the writer lock
    the caller holds is never released while one of them still writes."""
    import os
    import signal
    import time

    from observatory import pipeline

    ended = []

    def slow_export(settings):
        time.sleep(0.5)
        ended.append("research_exports")

    def interrupting_report(settings):
        time.sleep(0.1)  # the main thread is waiting for both by then
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl+C: wakes the main thread while it waits
        time.sleep(0.2)
        ended.append("report")

    monkeypatch.setitem(pipeline.OUTPUTS, "research_exports", slow_export)
    monkeypatch.setitem(pipeline.OUTPUTS, "report", interrupting_report)
    # Python's own Ctrl+C handler, also when the tests run as a background job (a shell starts
    # those with SIGINT ignored, and Python then keeps it ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            pipeline.outputs(settings)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(ended) == ["report", "research_exports"]


def test_the_quarantine_summary_is_what_the_whole_table_would_give(monkeypatch):
    """The report sums the quarantine up in DuckDB; the pages must show what the whole table,
    sorted on every column, gives: ties, NULL lines (a rejected file), NULL columns and messages."""
    import random

    from observatory import report

    monkeypatch.setattr(report, "MAX_QUARANTINE_SHOWN", 4)
    generator = random.Random(7)
    rows = [(generator.choice(["a.csv", "b.csv", "c.csv"]), generator.choice([None, 2, 3, 3, 5, 8]),
             generator.choice(["missing_value", "unknown_country", "invalid_year"]),
             generator.choice([None, "falta", "país"]), generator.choice([None, "missing", "country"]),
             generator.choice([None, "", "2019"])) for _ in range(60)]
    con = duckdb.connect()
    con.execute("CREATE TABLE quarantine (source_file VARCHAR, source_row INTEGER, reason_code VARCHAR, "
                "message_es VARCHAR, message_en VARCHAR, source_column VARCHAR)")
    con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)", rows)
    ordered = con.execute("SELECT * FROM quarantine ORDER BY source_file, source_row, COLUMNS(*)").fetchall()
    names = ["source_file", "source_row", "reason_code", "message_es", "message_en", "source_column"]
    first_of, counts, reasons = report._quarantine(con)
    for file in ("a.csv", "b.csv", "c.csv"):
        expected = [dict(zip(names, row)) for row in ordered if row[0] == file]
        assert first_of[file] == expected[:4] and counts[file] == len(expected)
    expected_reasons = {}
    for row in ordered:  # first appearance sets the message and breaks ties in the counts
        expected_reasons.setdefault(row[2], {"code": row[2], "rows": 0, "message_es": row[3], "message_en": row[4]})
        expected_reasons[row[2]]["rows"] += 1
    assert reasons == sorted(expected_reasons.values(), key=lambda r: -r["rows"])
