"""Publish: the curated tables as data/curated/observatory.duckdb and Parquet, atomically."""

import dagster as dg

from assets.ingest import CURATED_TABLES, WRITER_POOL
from assets.resources import ObservatoryResource
from observatory import pipeline
from observatory.build import MARTS


@dg.asset(group_name="publish", deps=[*CURATED_TABLES, *MARTS], pool=WRITER_POOL, output_required=False)
def published_database(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """The public schema v1 copied into a new DuckDB file (with column comments) and Parquet
    files, renamed over the published ones: open readers keep their snapshot. When only data
    changed, the new file is a copy of the published one with the changed groups' rows (a
    country's indicator in one year), their countries' mart rows and changed tables replaced
    (observatory/publication.py). Not materialized when what is
    published already is what the working database holds and the exports and the report were
    made from it; materialized with the files left as they are (`unchanged`) when only those are
    behind (a run stopped after publishing), so that they follow."""
    summary = pipeline.publish(observatory.settings())
    if summary is None:
        context.log.info("published files unchanged")
        return
    if summary.unchanged:  # materialized all the same, so that the exports and the report follow
        context.log.info("published files unchanged; the exports or the report are behind them")
        yield dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(summary.database)), "unchanged": True})
        return
    yield dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(summary.database)),
        "parquet_dir": dg.MetadataValue.path(str(summary.parquet_dir)),
        **{f"rows_{table}": count for table, count in summary.tables.items()},
    })
