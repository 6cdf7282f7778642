"""The one Definitions object (workspace.yaml points here)."""

import dagster as dg

from assets import ingest, marts, publish
from assets.resources import ObservatoryResource

JOB_NAME = "observatory_job"

observatory_job = dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.all(), description="The whole pipeline: read, validate, build, publish.")

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest, marts, publish]),
    asset_checks=dg.load_asset_checks_from_modules([ingest, marts]),
    jobs=[observatory_job],
    resources={"observatory": ObservatoryResource()},
    # Steps share one DuckDB working database, which takes one writer: run them in one process.
    executor=dg.in_process_executor,
)
