"""For researchers and the public: exports and the offline report, made from the published
database after each publication (skipped, like it, when nothing was published)."""
import dagster as dg

from assets.ingest import WRITER_POOL
from assets.resources import ObservatoryResource
from observatory import pipeline

EXPORTS = dg.AssetSpec(
    "research_exports", group_name="research", deps=["published_database"],
    description="Every public table as CSV for Excel in a Spanish locale (UTF-8 with BOM, `;`, decimal "
                "comma, formulas neutralized; the big tables one file per country), the data dictionary in "
                "Spanish and English, and a Frictionless datapackage.json, in data/curated/exports/. Only "
                "the CSV files whose rows changed are written again.",
)
REPORT = dg.AssetSpec(
    "report", group_name="research", deps=["published_database"],
    description="The offline HTML report in data/curated/report/ (Spanish; English under en/): the "
                "regional overview, a page per country and per group, data quality and the dictionary. "
                "Only the pages whose inputs changed are rendered again.",
)


@dg.multi_asset(specs=[EXPORTS, REPORT], can_subset=True, pool=WRITER_POOL)
def research_outputs(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """One step makes both, side by side (pipeline.outputs): neither reads what the other
    writes. Either can be materialized alone."""
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    made, failed = pipeline.outputs(observatory.settings(), selected)
    if "research_exports" in made:
        summary = made["research_exports"]
        yield dg.MaterializeResult(asset_key="research_exports", metadata={
            "path": dg.MetadataValue.path(str(summary.folder)), "files": len(summary.files),
            "written": len(summary.written),
        })
    if "report" in made:
        summary = made["report"]
        yield dg.MaterializeResult(asset_key="report", metadata={
            "index": dg.MetadataValue.path(str(summary.folder / "index.html")), "pages": summary.pages,
            "rendered": len(summary.rendered),
        })
    for name, error in failed.items():
        context.log.error(f"{name} failed: {type(error).__name__}: {error}")
    if failed:  # what was made is recorded above; the step still fails
        raise next(iter(failed.values()))
