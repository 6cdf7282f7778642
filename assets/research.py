"""For researchers and the public: exports and the offline report, made from the published
database after each publication (skipped, like it, when nothing was published)."""
import dagster as dg

from assets.ingest import WRITER_POOL
from assets.resources import ObservatoryResource
from observatory import pipeline


@dg.asset(group_name="research", deps=["published_database"], pool=WRITER_POOL)
def research_exports(observatory: ObservatoryResource) -> dg.MaterializeResult:
    """Every public table as CSV for Excel in a Spanish locale (UTF-8 with BOM, `;`, decimal
    comma, formulas neutralized; the big tables one file per country), the data dictionary in
    Spanish and English, and a Frictionless datapackage.json, in data/curated/exports/. Only
    the CSV files whose rows changed are written again."""
    summary = pipeline.export(observatory.settings())
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(summary.folder)), "files": len(summary.files),
        "written": len(summary.written),
    })


@dg.asset(group_name="research", deps=["published_database", "research_exports"], pool=WRITER_POOL)
def report(observatory: ObservatoryResource) -> dg.MaterializeResult:
    """The offline HTML report in data/curated/report/ (Spanish; English under en/): the
    regional overview, a page per country and per group, data quality and the dictionary. Only
    the pages whose inputs changed are rendered again."""
    summary = pipeline.report(observatory.settings())
    return dg.MaterializeResult(metadata={
        "index": dg.MetadataValue.path(str(summary.folder / "index.html")), "pages": summary.pages,
        "rendered": len(summary.rendered),
    })
