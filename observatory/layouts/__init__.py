"""Source layouts: a layout is a YAML file in this folder (or in the deployment's
`data/layouts/`) that turns one kind of published file (a wide table, a file without a header,
case records, an export of CEPALSTAT or the SDG database) into canonical rows, so adding a
source is a data change.

The package: `spec` reads a layout file into a `Layout` (every key checked, a misspelt one is an
error naming the file); this module loads them all and recognizes a file by its header (or, for
files without one, by its name, width and first cells); `binding` binds a layout to a file's
header to produce records. Every record keeps the line it came from; what a layout leaves out by
design is counted as skipped, with the layout's stated reason, never silently dropped.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

from observatory import reference
from observatory.layouts.binding import BoundLayout, Record
from observatory.layouts.spec import (Aggregate, FieldRule, FlagRule, Layout, LayoutError, LayoutMismatch, RowFilter,
                                      parse as _parse)

log = logging.getLogger(__name__)

# The built-in layouts: the YAML files beside this package's modules.
LAYOUTS_DIR = Path(__file__).parent
# The deployment's own layouts, beside the built-in ones: adding a source never touches the code.
DEPLOYMENT_DIR_ENV = "OBSERVATORY_LAYOUTS_DIR"
DEPLOYMENT_DIR_DEFAULT = Path(__file__).resolve().parents[2] / "data" / "layouts"

__all__ = ["Aggregate", "BoundLayout", "FieldRule", "FlagRule", "Layout", "LayoutError", "LayoutMismatch", "Record",
           "RowFilter", "by_name", "deployment_dir", "deployment_files", "install", "layout_errors", "load_all",
           "nearest", "recognize", "sheet_for"]


def deployment_dir() -> Path:
    """The deployment's own layouts: OBSERVATORY_LAYOUTS_DIR, default data/layouts/."""
    return Path(os.environ.get(DEPLOYMENT_DIR_ENV) or DEPLOYMENT_DIR_DEFAULT)


def deployment_files() -> list[Path]:
    folder = deployment_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_all(folder: Path | None = None) -> tuple[Layout, ...]:
    """Every layout, the most specific first (longest header signature): the built-in ones
    and the deployment's (a malformed one of those is reported and skipped), or only those of
    `folder`. Parsed once per folder and content."""
    if folder is not None:
        return _load(folder)
    deployment, _ = _load_deployment(_stamp(deployment_files()))
    return _most_specific_first([*_load(LAYOUTS_DIR), *deployment])


def layout_errors() -> list[str]:
    """Why each malformed (or clashing) layout of the deployment's folder was skipped."""
    files = deployment_files()
    return list(_load_deployment(_stamp(files))[1]) if files else []


def _most_specific_first(layouts: list[Layout]) -> tuple[Layout, ...]:
    return tuple(sorted(layouts, key=lambda layout: (-len(layout.header_signature), layout.name)))


@lru_cache(maxsize=None)
def _load(folder: Path) -> tuple[Layout, ...]:
    return _most_specific_first([_parse(path) for path in sorted(folder.glob("*.yaml"))])


def _stamp(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """What the deployment's layouts look like now: a changed file is parsed again."""
    return tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in paths)


@lru_cache(maxsize=8)
def _load_deployment(stamp: tuple[tuple[str, int, int], ...]) -> tuple[tuple[Layout, ...], tuple[str, ...]]:
    """The deployment's layouts that parse, and a message for each one that does not (or
    whose name a built-in layout already has); logged once per content."""
    builtin = {layout.name for layout in _load(LAYOUTS_DIR)}
    found, errors = [], []
    for name, _, _ in stamp:
        path = Path(name)
        try:
            layout = _parse(path)
        except LayoutError as error:
            errors.append(str(error))
            continue
        if layout.name in builtin:
            errors.append(f"{path.name}: a built-in layout is already named '{layout.name}': rename it (edit {path})")
            continue
        found.append(layout)
    for error in errors:
        log.warning("layout skipped / formato de fuente omitido: %s", error)
    return tuple(found), tuple(errors)


def install(con) -> None:
    """ref_source_layout: one row per layout with its provenance (published as source_layout)."""
    import pandas as pd

    frame = pd.DataFrame([
        {"layout": layout.name, "description": layout.description,
         **{key: str(layout.provenance.get(key, "")) for key in ("producer", "citation", "url", "licence", "accessed")}}
        for layout in load_all()
    ], columns=["layout", "description", "producer", "citation", "url", "licence", "accessed"])
    reference.save_table(con, "ref_source_layout", frame)


def by_name(name: str) -> Layout | None:
    return next((layout for layout in load_all() if layout.name == name), None)


def recognize(file_name: str, head: list[list[str]]) -> Layout | None:
    return next((layout for layout in load_all() if layout.recognizes(file_name, head)), None)


def nearest(header: list[str]) -> tuple[Layout | None, float]:
    """The layout whose signature the header comes closest to, and how close (0-1)."""
    scored = [(layout.overlap(header), layout) for layout in load_all() if layout.header_signature]
    if not scored:
        return None, 0.0
    score, layout = max(scored, key=lambda pair: pair[0])
    return (layout, score) if score > 0 else (None, 0.0)


def sheet_for(file_name: str, sheet_names: list[str], head_of: Callable[[str], list[list[str]]]) -> str | None:
    """The sheet of a workbook that a layout names and recognizes; None: read the first visible sheet."""
    for layout in load_all():
        if layout.sheet in sheet_names and layout.recognizes(file_name, head_of(layout.sheet)):
            return layout.sheet
    return None
