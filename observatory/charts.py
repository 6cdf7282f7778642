"""Charts of the report as inline SVG written here: no script, no font or file fetched, so the
pages work offline and in any browser. Every chart is a <figure> with a title, its units and
source, an SVG whose <title>/<desc> screen readers announce, and its data as a table (the text
alternative). Every text is escaped; a NULL is drawn as unknown (hatched), never as 0, and a
figure withheld as a small cell as withheld (cross-hatched), never as unknown."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Sequence

from markupsafe import Markup, escape

# viridis, reversed so that darker = higher (readable in grey and by colour-blind readers)
RAMP = ["#fde725", "#90d743", "#35b779", "#21918c", "#31688e", "#443983", "#440154"]
SERIES_COLOURS = ["#440154", "#21918c", "#e08214", "#3b528b", "#b2182b", "#5ec962", "#7a0177"]
MARKERS = ["circle", "square", "diamond", "triangle", "star"]
_counter = 0


@dataclass(frozen=True)
class Caption:
    """What every chart says about itself."""
    title: str
    description: str
    units: str
    source: str
    labels: dict  # the page's words: unknown, data_table, units, source


def _id(prefix: str) -> str:
    global _counter
    _counter += 1
    return f"{prefix}{_counter}"


def reset_ids() -> None:
    """Count ids from 1 again: called before each page, they need only be unique within it, and
    a page's bytes must not depend on which pages were drawn before it in the same run."""
    global _counter
    _counter = 0


def colour(value: float | None, low: float, high: float) -> str | None:
    if value is None:
        return None
    share = 0.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    return RAMP[round(share * (len(RAMP) - 1))]


# A figure withheld as a small cell (flag `suppressed`, NULL value): cross-hatched, unlike an
# unknown one (hatched one way), so that neither is read as the other.
WITHHELD_PATTERN = ('<pattern id="withheld-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
                    '<rect width="6" height="6" fill="#fff"/>'
                    '<path d="M0,0 L6,6 M6,0 L0,6" stroke="#b2182b" stroke-width="1.2"/></pattern>')


def _svg_open(width: float, height: float, caption: Caption, withheld: bool = False) -> tuple[str, str]:
    title_id, desc_id = _id("t"), _id("d")
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" aria-labelledby="{title_id} {desc_id}">'
            f'<title id="{title_id}">{escape(caption.title)}</title><desc id="{desc_id}">{escape(caption.description)}</desc>'
            '<defs><pattern id="unknown-hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="4" height="4" fill="#eee"/>'
            '<line x1="0" y1="0" x2="0" y2="4" stroke="#999" stroke-width="1.5"/></pattern>'
            f'{WITHHELD_PATTERN if withheld else ""}</defs>')
    return head, "</svg>"


def figure(svg: str, caption: Caption, table: str, legend: str = "") -> Markup:
    labels = caption.labels
    return Markup(
        f'<figure class="chart-figure"><figcaption><strong>{escape(caption.title)}</strong><br>'
        f'<span class="meta">{escape(labels["units"])}: {escape(caption.units)} · '
        f'{escape(labels["source"])}: {escape(caption.source)}</span></figcaption>'
        f'<div class="chart-scroll">{svg}</div>{legend}'
        f'<details><summary>{escape(labels["data_table"])}</summary>{table}</details></figure>'
    )


def data_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th scope=\"col\">{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def ramp_legend(low: float, high: float, fmt: Callable[[float | None], str], unknown: str,
                withheld: str | None = None, noted: str | None = None) -> str:
    steps = "".join(
        f'<span class="swatch" style="background:{c}"></span>' for c in RAMP)
    return (f'<p class="legend">{escape(fmt(low))} {steps} {escape(fmt(high))} '
            f'<span class="swatch unknown"></span> {escape(unknown)}'
            + (f' <span class="swatch withheld"></span> {escape(withheld)}' if withheld else "")
            + (f' <svg width="14" height="14" aria-hidden="true"><rect width="13" height="13" fill="{RAMP[3]}"/>'
               f'{_noted_outline(0, 0, 14)}</svg> {escape(noted)}' if noted else "") + '</p>')


def _noted_outline(x: float, y: float, cell: float) -> str:
    """The dashed outline inside a heat-map cell whose figure carries a note (a score the mart
    does not rank, as the dashed outline of a bar): black dashes on white, seen on every colour
    of the ramp; the cell keeps its colour, and its tooltip (the outline lets the pointer through)."""
    box = (f'x="{x + 1.5}" y="{y + 1.5}" width="{cell - 4}" height="{cell - 4}" fill="none" stroke-width="1.5" '
           'pointer-events="none"')
    return f'<rect {box} stroke="#fff"/><rect {box} stroke="#000" stroke-dasharray="2 2"/>'


def heatmap(rows: Sequence[tuple[str, str, str | None]], columns: Sequence[int],
            values: dict[tuple[str, int], float | None], caption: Caption,
            fmt: Callable[[float | None], str], low: float = 0, high: float = 100,
            withheld: Collection[tuple[str, int]] = (), noted: Collection[tuple[str, int]] = ()) -> Markup:
    """rows: (key, label, link or None); one cell per row and column. withheld: the cells whose
    figure is withheld (a small cell), drawn and named as such, never as unknown. noted: the
    cells whose figure carries a note (caption.labels["cell_note"], e.g. a score the mart does
    not rank): coloured as any other, outlined with dashes, the note beside the figure in the
    tooltip and the data table, and explained under the chart (caption.labels["noted_cells"])."""
    cell, left, top = 14, 230, 44
    width, height = left + cell * len(columns) + 10, top + cell * len(rows) + 10
    held = caption.labels.get("withheld", "")
    note = caption.labels.get("cell_note", "")

    def shown(key: str, year: int) -> str:
        if (key, year) in withheld:
            return held
        return fmt(values.get((key, year))) + (f" ({note})" if (key, year) in noted else "")

    head, tail = _svg_open(width, height, caption, bool(withheld))
    parts = [head]
    for j, year in enumerate(columns):
        if year % 5 == 0 or (j == len(columns) - 1 and year % 5 > 1):
            x = left + j * cell + cell / 2
            parts.append(f'<text x="{x:.1f}" y="{top - 6}" class="tick" text-anchor="end" '
                         f'transform="rotate(-60 {x:.1f} {top - 6})">{year}</text>')
    for i, (key, label, link) in enumerate(rows):
        y = top + i * cell
        text = f'<text x="{left - 6}" y="{y + cell - 3}" class="label" text-anchor="end">{escape(label)}</text>'
        parts.append(f'<a href="{escape(link)}">{text}</a>' if link else text)
        for j, year in enumerate(columns):
            value = values.get((key, year))
            fill = "url(#withheld-cross)" if (key, year) in withheld else colour(value, low, high) or "url(#unknown-hatch)"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                         f'<title>{escape(label)} {year}: {escape(shown(key, year))}</title></rect>')
            if (key, year) in noted:
                parts.append(_noted_outline(left + j * cell, y, cell))
    parts.append(tail)
    table = data_table([caption.labels.get("row_header", ""), *map(str, columns)],
                       [[label, *(shown(key, y) for y in columns)] for key, label, _ in rows])
    return figure("".join(parts), caption, table,
                  ramp_legend(low, high, fmt, caption.labels["unknown"], held if withheld else None,
                              caption.labels.get("noted_cells", "") if noted else None))


def _marker(kind: str, x: float, y: float, fill: str, hollow: bool = False) -> str:
    """A marker; hollow: its outline alone (a date the data does not know, or a status not known)."""
    paint = f'fill="#fff" stroke="{fill}" stroke-width="1.5"' if hollow else f'fill="{fill}"'
    if kind == "square":
        return f'<rect x="{x - 4}" y="{y - 4}" width="8" height="8" {paint}/>'
    if kind == "diamond":
        return f'<polygon points="{x},{y - 5} {x + 5},{y} {x},{y + 5} {x - 5},{y}" {paint}/>'
    if kind == "triangle":
        return f'<polygon points="{x},{y - 5} {x + 5},{y + 4} {x - 5},{y + 4}" {paint}/>'
    if kind == "star":
        return f'<polygon points="{x},{y - 6} {x + 2},{y - 2} {x + 6},{y - 2} {x + 3},{y + 1} {x + 4},{y + 6} {x},{y + 3} {x - 4},{y + 6} {x - 3},{y + 1} {x - 6},{y - 2} {x - 2},{y - 2}" {paint}/>'
    return f'<circle cx="{x}" cy="{y}" r="4.5" {paint}/>'


def hollow_legend(text: str) -> str:
    """The legend paragraph of a hollow marker (a date the data does not know, or a status not
    known): the marker, then what it means."""
    return (f'<p class="legend"><svg width="14" height="14" aria-hidden="true">{_marker("circle", 7, 7, "#555", True)}</svg> '
            f'{escape(text)}</p>')


@dataclass(frozen=True)
class Milestone:
    """When a milestone was first in force, as the data knows it."""
    year: int | None  # the first year it is known in force; None: in no year drawn
    undated: bool = False  # in force by `year`, but when it started is not known (an earlier year is unknown)
    unknown: bool = False  # never known in force, and unknown in some year: not "never"


def milestones(rows: Sequence[tuple[str, str, str | None]], kinds: Sequence[tuple[str, str]],
               events: dict[tuple[str, str], Milestone], first: int, last: int, caption: Caption) -> Markup:
    """One row per country; a marker per milestone at the first year it was in force, hollow
    when it was in force by then but since when is not known (e.g. a State party whose date of
    ratification the register does not give). The table tells a milestone never in force
    from one whose first year is unknown."""
    labels = caption.labels
    left, top, row_h, per_year = 230, 30, 16, 18
    width, height = left + per_year * (last - first + 1) + 20, top + row_h * len(rows) + 20
    head, tail = _svg_open(width, height, caption)
    parts = [head]
    for year in range(first, last + 1):
        x = left + (year - first) * per_year + per_year / 2
        if year % 5 == 0 or (year == last and year % 5 > 1):
            parts.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{height - 18}" class="grid"/>'
                         f'<text x="{x}" y="{top - 10}" class="tick" text-anchor="middle">{year}</text>')

    def when(event: Milestone | None) -> str:
        if event is None or event.year is None or event.year > last:
            return labels["unknown"] if event is not None and event.unknown else labels["not_in_force"]
        return labels["by_year"].format(year=event.year) if event.undated else str(event.year)

    undated = False
    for i, (key, label, link) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        text = f'<text x="{left - 6}" y="{y + 4}" class="label" text-anchor="end">{escape(label)}</text>'
        parts.append(f'<a href="{escape(link)}">{text}</a>' if link else text)
        seen: dict[int, int] = {}
        for k, (kind, kind_label) in enumerate(kinds):
            event = events.get((key, kind))
            if event is None or event.year is None or event.year > last:
                continue
            year = event.year
            undated = undated or event.undated
            offset = seen.get(year, 0)
            seen[year] = offset + 1
            x = left + (max(year, first) - first) * per_year + per_year / 2 + (offset - 1) * 5 * (1 if offset else 0)
            title = f"{kind_label}: {when(event)}" if event.undated else f"{kind_label} {year}"
            parts.append(f'<g><title>{escape(label)}: {escape(title)}</title>'
                         f'{_marker(MARKERS[k % len(MARKERS)], x, y, SERIES_COLOURS[k % len(SERIES_COLOURS)], event.undated)}</g>')
    parts.append(tail)
    legend = '<p class="legend">' + " ".join(
        f'<svg width="14" height="14" aria-hidden="true">{_marker(MARKERS[k % len(MARKERS)], 7, 7, SERIES_COLOURS[k % len(SERIES_COLOURS)])}</svg> {escape(kind_label)}'
        for k, (_, kind_label) in enumerate(kinds)) + "</p>"
    if undated:
        legend += hollow_legend(labels.get("undated_legend", ""))
    table = data_table([labels.get("row_header", ""), *(label for _, label in kinds)],
                       [[label, *(when(events.get((key, kind))) for kind, _ in kinds)] for key, label, _ in rows])
    return figure("".join(parts), caption, table, legend)


def bars(items: Sequence[tuple], caption: Caption, fmt: Callable[[float | None], str], high: float = 100) -> Markup:
    """Horizontal bars: (label, value, link) or (label, value, link, note). A bar with a note
    (a country the mart does not rank) is drawn as a dashed outline, the note beside its value
    and in the data table, and explained under the chart (caption.labels["noted_bars"])."""
    left, top, row_h, span = 230, 10, 16, 320
    noted = any(len(item) > 3 and item[3] for item in items)
    width, height = left + span + (160 if noted else 60), top + row_h * len(items) + 10
    head, tail = _svg_open(width, height, caption)
    parts = [head]
    for i, (label, value, link, *rest) in enumerate(items):
        note = rest[0] if rest else None
        y = top + i * row_h
        shown = fmt(value) + (f" ({note})" if note else "")
        text = f'<text x="{left - 6}" y="{y + 12}" class="label" text-anchor="end">{escape(label)}</text>'
        parts.append(f'<a href="{escape(link)}">{text}</a>' if link else text)
        if value is None:
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{span}" height="{row_h - 4}" fill="url(#unknown-hatch)">'
                         f'<title>{escape(label)}: {escape(shown)}</title></rect>')
        else:
            w = max(span * value / high, 1) if high else 1
            paint = (f'fill="#fff" stroke="{SERIES_COLOURS[0]}" stroke-width="1.5" stroke-dasharray="4 2"' if note
                     else f'fill="{SERIES_COLOURS[0]}"')
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" {paint}>'
                         f'<title>{escape(label)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{left + span + 6}" y="{y + 12}" class="label">{escape(shown)}</text>')
    parts.append(tail)
    table = data_table([caption.labels.get("row_header", ""), caption.labels.get("value_header", "")],
                       [[label, fmt(value) + (f" ({rest[0]})" if rest and rest[0] else "")]
                        for label, value, _, *rest in items])
    legend = ""
    if noted:
        legend = (f'<p class="legend"><svg width="20" height="12" aria-hidden="true"><rect x="1" y="1" width="18" height="10" '
                  f'fill="#fff" stroke="{SERIES_COLOURS[0]}" stroke-width="1.5" stroke-dasharray="4 2"/></svg> '
                  f'{escape(caption.labels.get("noted_bars", ""))}</p>')
    return figure("".join(parts), caption, table, legend)


def stacked_bars(items: Sequence[tuple[str, Sequence[float]]], parts_labels: Sequence[str], caption: Caption,
                 fmt: Callable[[float | None], str]) -> Markup:
    left, top, row_h, span = 190, 10, 20, 320
    width, height = left + span + 120, top + row_h * len(items) + 10
    total = max((sum(v) for _, v in items), default=0) or 1
    head, tail = _svg_open(width, height, caption)
    out = [head]
    for i, (label, values) in enumerate(items):
        y, x = top + i * row_h, float(left)
        out.append(f'<text x="{left - 6}" y="{y + 14}" class="label" text-anchor="end">{escape(label)}</text>')
        for k, value in enumerate(values):
            w = span * value / total
            out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{SERIES_COLOURS[k]}">'
                       f'<title>{escape(label)}, {escape(parts_labels[k])}: {escape(fmt(value))}</title></rect>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 14}" class="label">{" + ".join(escape(fmt(v)) for v in values)}</text>')
    out.append(tail)
    legend = '<p class="legend">' + " ".join(
        f'<span class="swatch" style="background:{SERIES_COLOURS[k]}"></span> {escape(p)}' for k, p in enumerate(parts_labels)) + "</p>"
    table = data_table([caption.labels.get("row_header", ""), *parts_labels], [[label, *map(fmt, values)] for label, values in items])
    return figure("".join(out), caption, table, legend)


def lines(series: Sequence[tuple[str, Sequence[tuple[int, float | None]]]], caption: Caption,
          fmt: Callable[[float | None], str], low: float | None = 0, high: float | None = None,
          withheld: Collection[tuple[str, int]] = ()) -> Markup:
    """Line chart over years; a NULL breaks the line (unknown is not drawn as 0). withheld:
    (series, year) whose figure is withheld (a small cell): not drawn either, and named as
    withheld under the chart and in its table, never as unknown."""
    points = [(x, y) for _, pts in series for x, y in pts]
    xs = [x for x, _ in points] or [0]
    ys = [y for _, y in points if y is not None] or [0]
    x0, x1 = min(xs), max(xs)
    y0 = low if low is not None else min(ys)
    y1 = high if high is not None else max(max(ys), y0 + 1)
    left, top, w, h = 60, 15, 560, 220
    width, height = left + w + 20, top + h + 40

    def sx(x: float) -> float:
        return left + (0 if x1 == x0 else (x - x0) / (x1 - x0) * w)

    def sy(y: float) -> float:
        return top + h - (y - y0) / (y1 - y0) * h

    head, tail = _svg_open(width, height, caption)
    out = [head, f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" class="axis"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" class="axis"/>']
    for k in range(5):
        value = y0 + (y1 - y0) * k / 4
        out.append(f'<line x1="{left}" y1="{sy(value):.1f}" x2="{left + w}" y2="{sy(value):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{sy(value) + 4:.1f}" class="tick" text-anchor="end">{escape(fmt(value))}</text>')
    step = max(1, round((x1 - x0) / 8)) if x1 > x0 else 1
    for year in range(x0, x1 + 1, step):
        out.append(f'<text x="{sx(year):.1f}" y="{top + h + 16}" class="tick" text-anchor="middle">{year}</text>')
    for k, (name, pts) in enumerate(series):
        # One pass per series: each point placed once, its polyline segment and its marker
        # (with its tooltip) built together; the markers follow the series' lines.
        c, kind, label = SERIES_COLOURS[k % len(SERIES_COLOURS)], MARKERS[k % len(MARKERS)], escape(name)
        segment: list[str] = []
        marks: list[str] = []
        shown: dict[float, str] = {}  # each distinct value formatted and escaped once
        for x, y in list(pts) + [(None, None)]:
            if y is None:
                if len(segment) > 1:
                    out.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{c}" stroke-width="2"/>')
                segment = []
                continue
            px, py = sx(x), sy(y)
            segment.append(f"{px:.1f},{py:.1f}")
            if y not in shown:
                shown[y] = escape(fmt(y))
            marks.append(f'<g><title>{label} {x}: {shown[y]}</title>{_marker(kind, round(px, 1), round(py, 1), c)}</g>')
        out.extend(marks)
    out.append(tail)
    legend = '<p class="legend">' + " ".join(
        f'<svg width="14" height="14" aria-hidden="true">{_marker(MARKERS[k % len(MARKERS)], 7, 7, SERIES_COLOURS[k % len(SERIES_COLOURS)])}</svg> {escape(name)}'
        for k, (name, _) in enumerate(series)) + "</p>"
    held = caption.labels.get("withheld", "")
    if withheld:
        legend += (f'<p class="legend"><span class="swatch withheld"></span> '
                   f'{escape(caption.labels.get("withheld_not_drawn", held))}: '
                   f'{escape("; ".join(f"{name} {year}" for name, year in sorted(withheld, key=lambda k: (k[1], k[0]))))}</p>')
    years = sorted({x for _, pts in series for x, _ in pts})
    lookup = [(name, dict(pts)) for name, pts in series]
    table = data_table([caption.labels.get("x_header", ""), *(name for name, _ in series)],
                       [[year, *((held if (name, year) in withheld else fmt(d.get(year))) if year in d else "—"
                                 for name, d in lookup)] for year in years])
    return figure("".join(out), caption, table, legend)


def instrument_lanes(lanes: Sequence[tuple[str, str]], items: Sequence[dict], first: int, last: int,
                     caption: Caption) -> Markup:
    """items: {lane, label, start, end (or None: open), point (bool), unknown (bool, optional),
    start_label (optional: what the data table says of a start that is not a date, e.g. "date
    unknown"; it is drawn at `start`)}; one lane per instrument type. An unknown item (a
    register row whose status is not known: the register does not know what it provides from
    that date) is drawn as an outline, never as a law or plan in force, and explained under the
    chart (caption.labels["unknown_items"])."""
    left, top, lane_h, per_year = 340, 24, 22, 16
    width, height = left + per_year * (last - first + 1) + 20, top + lane_h * len(lanes) + 24
    head, tail = _svg_open(width, height, caption)
    out = [head]
    for year in range(first, last + 1):
        if year % 5 == 0:
            x = left + (year - first) * per_year
            out.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{height - 20}" class="grid"/>'
                       f'<text x="{x}" y="{top - 8}" class="tick" text-anchor="middle">{year}</text>')
    index = {lane: i for i, (lane, _) in enumerate(lanes)}
    for lane, label in lanes:
        y = top + index[lane] * lane_h
        out.append(f'<text x="{left - 6}" y="{y + 15}" class="label" text-anchor="end">{escape(label)}</text>')
    for item in items:
        k = index[item["lane"]]
        y = top + k * lane_h + lane_h / 2
        start = min(max(item["start"], first), last)
        colour_ = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        tip = f'<title>{escape(item["label"])}</title>'
        unknown = item.get("unknown", False)
        if item["point"]:
            x = left + (start - first) * per_year + per_year / 2
            out.append(f'<g>{tip}{_marker("circle", x, y, colour_, unknown)}</g>')
        else:
            end = min(item["end"] if item["end"] is not None else last, last)
            x = left + (start - first) * per_year
            w = max((end - start + 1) * per_year, 4)
            paint = (f'fill="#fff" stroke="{colour_}" stroke-width="1.5" stroke-dasharray="4 2"' if unknown
                     else f'fill="{colour_}" opacity="0.75"')
            out.append(f'<rect x="{x}" y="{y - 5}" width="{w}" height="10" rx="3" {paint}>{tip}</rect>')
    out.append(tail)
    legend = hollow_legend(caption.labels.get("unknown_items", "")) if any(item.get("unknown") for item in items) else ""
    table = data_table([caption.labels.get("lane_header", ""), caption.labels.get("item_header", ""), "→", "←"],
                       [[dict(lanes)[i["lane"]], i["label"], i.get("start_label") or i["start"],
                         i["end"] if i["end"] is not None else ("·" if i["point"] else "…")]
                        for i in items])
    return figure("".join(out), caption, table, legend)
