"""Strategies that generate raw files the way staff, exports and attackers make them: a header
(raw contract v1 in either language, a source layout's, or anything), rows of plausible,
missing and hostile cells, in any delimiter, quoting, line ending, encoding and container, with
the occasional damaged byte. Shared by the seeded run in the tests and the fuzz target."""
from __future__ import annotations

import bz2
import csv
import gzip
import io
from dataclasses import dataclass

from hypothesis import strategies as st

from observatory import layouts

CONTRACT = [["country", "year", "indicator", "value"], ["país", "año", "indicador", "valor"],
            ["PAIS", "Año ", "INDICADOR", "Valor"]]
OPTIONAL = ["source", "fuente", "notes", "notas", "unit", "unidad", "departamento", "sexo", "grupo etario",
            "grupo poblacional", "sex", "age_group"]
# Cells that try to break out of a string or an identifier, in SQL or anywhere else.
HOSTILE = ["'", '"', "''", "';--", "; DROP TABLE fact_observation; --", "$$", "$$;--$$", "\\", "\\'", "\\\\",
           "${x}", "{0}", "{raw}", "%s", "\x1f", "\u202e", "\u200b", "=1+1", "+cmd", "@SUM(A1)", "<script>",
           "NaN", "Inf", "-Inf", "1e400", "-0", "0x1F", "١٢٣", "ＰＥＲ", "\t", " ", "\r", "\n", "NULL", "null", "None"]
PLAUSIBLE = ["PER", "Perú", "MEX", "México", "ARG", "Bolivia (Estado Plurinacional de)", "Atlantis", "2015", "2016",
             "1999", "2O14", "femicide_count", "femicide_rate", "VC_VAW_MARR", "unknown_code", "95", "1.234,5",
             "12,345", "12.5", "-3", "140", "", "NA", "n/d", "-", "..", "casos", "%", "PE.AM", "Amazonas",
             "mujeres", "total", "15-49", "15+", "indígena", "MIMP"]


@dataclass(frozen=True)
class GeneratedFile:
    name: str
    content: bytes


def _header():
    layout_headers = [list(layout.header_signature) for layout in layouts.load_all() if layout.header_signature]
    contract = st.tuples(st.sampled_from(CONTRACT), st.lists(st.sampled_from(OPTIONAL), max_size=4, unique=True),
                         st.lists(st.sampled_from(HOSTILE) | st.text(max_size=12), max_size=2)) \
        .map(lambda parts: parts[0] + parts[1] + parts[2])
    anything = st.lists(st.text(max_size=10), min_size=1, max_size=8)
    return st.one_of(contract, contract, contract, st.sampled_from(layout_headers) if layout_headers else anything, anything)


def _cell():
    return st.one_of(st.sampled_from(PLAUSIBLE), st.sampled_from(PLAUSIBLE), st.sampled_from(HOSTILE),
                     st.integers(-10**6, 10**25).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                     st.text(max_size=20))


@st.composite
def raw_files(draw, index: int = 0) -> GeneratedFile:
    header = draw(_header())
    width = len(header)
    rows = draw(st.lists(st.lists(_cell(), min_size=max(0, width - 2), max_size=width + 2), max_size=25))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from(["minimal", "all", "none"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = _write([header, *rows], delimiter, quoting, newline)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace") if encoding != "cp1252" else text.encode("cp1252", errors="replace")
    if draw(st.integers(0, 9)) == 0:  # a damaged byte or a few
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, max(0, len(data))))
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    container = draw(st.sampled_from(["csv", "csv", "csv", "gz", "bz2", "xlsx"]))
    if container == "gz":
        return GeneratedFile(f"f{index}.csv.gz", gzip.compress(data))
    if container == "bz2":
        return GeneratedFile(f"f{index}.csv.bz2", bz2.compress(data))
    if container == "xlsx":
        return GeneratedFile(f"f{index}.xlsx", _workbook([header, *rows], draw(st.sampled_from(["Hoja1", "x'); --", "$$;--'"]))))
    return GeneratedFile(f"f{index}.csv", data)


def _write(rows: list[list[str]], delimiter: str, quoting: str, newline: str) -> str:
    if quoting == "none":
        return newline.join(delimiter.join(row) for row in rows) + newline
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline,
                        quoting=csv.QUOTE_ALL if quoting == "all" else csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return out.getvalue()


def _workbook(rows: list[list[str]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook()
    workbook.active.title = title
    for row in rows:  # without the control characters a sheet cannot hold
        workbook.active.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
