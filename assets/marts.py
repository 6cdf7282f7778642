"""Marts: each country's progress on legislation and national plans, year by year."""
import dagster as dg

from assets.ingest import CURATED_TABLES, WRITER_POOL, table_results
from assets.resources import ObservatoryResource
from observatory import pipeline
from observatory.build import MARTS


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name="marts", deps=list(CURATED_TABLES), skippable=True) for name in MARTS],
    pool=WRITER_POOL,
)
def marts(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Legislation, national plan, country progress and group progress marts, rebuilt from
    `observatory/marts/*.sql` with the weights of `observatory/reference/score_weights.csv`.
    Not materialized when neither they nor what is published would change."""
    settings = observatory.settings()
    if not pipeline.pending(settings).publish:
        context.log.info("marts and publication unchanged")
        return
    if pipeline.build_marts(settings) is None:
        context.log.info("marts unchanged (same curated tables, SQL, reference data and years)")
    yield from table_results(settings, MARTS)


@dg.asset_check(asset="mart_country_progress", blocking=True,
                description="Every one of the 33 countries has a row in every year")
def every_country_every_year(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    missing = pipeline.missing_country_years(observatory.settings())
    return dg.AssetCheckResult(passed=missing == 0, metadata={"missing_country_years": missing})
