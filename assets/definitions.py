"""The one Definitions object (workspace.yaml points here)."""
import dagster as dg

from assets import ingest, marts, publish, research
from assets.resources import ObservatoryResource
from assets.schedules import schedules_for
from assets.sensors import raw_folder_sensor_for
from observatory.build import MARTS
from observatory.settings import Settings

JOB_NAME = "observatory_job"

observatory_job = dg.define_asset_job(
    JOB_NAME, selection=dg.AssetSelection.all(), description="The whole pipeline: read, validate, build, publish."
)
marts_job = dg.define_asset_job(
    "marts_job", selection=dg.AssetSelection.assets(*MARTS, "published_database").downstream(),
    description="Rebuild the marts from the curated tables and publish.",
)
settings = Settings.resolve()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest, marts, publish, research]),
    asset_checks=dg.load_asset_checks_from_modules([ingest, marts]),
    jobs=[observatory_job, marts_job],
    sensors=[raw_folder_sensor_for(observatory_job, settings)],
    schedules=schedules_for(marts_job, observatory_job, settings),
    resources={"observatory": ObservatoryResource()},
    # Steps share one DuckDB working database, which takes one writer: run them in one process.
    executor=dg.in_process_executor,
)
