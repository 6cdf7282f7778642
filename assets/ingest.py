"""Ingest: raw files -> staged and harmonized rows -> validated rows (GX) -> curated tables."""
from typing import Iterable, Iterator

import dagster as dg

from assets.resources import ObservatoryResource
from observatory import pipeline
from observatory.settings import Settings

WRITER_POOL = "observatory_writer"  # one run at a time writes the working database
CURATED_TABLES = (
    "fact_observation", "observation_history", "policy_instrument", "quarantine", "file_receipt", "dim_country",
    "dim_indicator", "dim_subnational", "source_layout",
)


@dg.asset(group_name="ingest", pool=WRITER_POOL)
def staged_observations(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
    """New and changed raw files under data/raw/, read (encoding, delimiter, header aliases)
    and harmonized (countries, indicators, units, numbers). Unchanged files are not read again."""
    summary = pipeline.stage(observatory.settings(), report=context.log.info)
    if not summary.files_read and not summary.duplicates and not summary.removed:
        context.log.info(f"nothing new: {summary.unchanged} files unchanged")
    if summary.removed:
        context.log.info(f"withdrawn (observatory withdraw): {summary.removed} files received, removed by this run")
    for rejected in summary.rejected:
        context.log.warning(f"file rejected: {rejected}")
    return dg.MaterializeResult(metadata=summary.counts())


SUITES = ("observation", "policy_instrument")


@dg.asset(
    group_name="ingest",
    deps=[staged_observations],
    pool=WRITER_POOL,
    check_specs=[
        dg.AssetCheckSpec(f"{suite}_suite", asset="validated_observations",
                          description=f"Great Expectations suite expectations/{suite}.json")
        for suite in SUITES
    ],
)
def validated_observations(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
    """Staged rows checked against the Great Expectations suites of `expectations/` (one per
    dataset kind: indicator observations, policy instruments); failing rows are set aside for
    quarantine with their reason. Quarantined rows are expected in real files, so the checks
    warn rather than block."""
    summaries = pipeline.validate(observatory.settings())
    checks = []
    for summary in summaries:
        failed = {
            f"{e.reason_code} ({e.expectation} on {e.column})": {"rows": e.failed_rows, "first lines": e.first_lines}
            for e in summary.failed
        }
        checks.append(dg.AssetCheckResult(
            check_name=f"{summary.suite}_suite",
            passed=not failed and summary.duplicate_rows == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": summary.rows_checked,
                "rows_quarantined": summary.rows_quarantined,
                "duplicate_rows": summary.duplicate_rows,
                "failed_expectations": dg.MetadataValue.json(failed),
            },
        ))
    return dg.MaterializeResult(
        metadata={f"rows_checked_{s.suite}": s.rows_checked for s in summaries}
        | {f"rows_quarantined_{s.suite}": s.rows_quarantined for s in summaries},
        check_results=checks,
    )


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name="curated", deps=[validated_observations], skippable=True)
           for name in CURATED_TABLES],
    pool=WRITER_POOL,
)
def curated_tables(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Apply the validated files to the working database in one transaction: loaded rows,
    quarantine with Spanish and English messages, receipts, then fact_observation and the
    country and indicator dimensions. With nothing new and nothing left to publish, nothing is
    materialized, and the marts and the publication are skipped with it."""
    settings = observatory.settings()
    if not pipeline.pending(settings).publish:
        context.log.info("nothing new since the last run: curated tables, marts and publication unchanged")
        return
    summary = pipeline.build(settings)
    if summary is not None:
        context.log.info(f"applied {summary.files_applied} files: {summary.rows_loaded} rows loaded, "
                         f"{summary.rows_quarantined} quarantined, {summary.duplicates} duplicates")
    yield from table_results(settings, CURATED_TABLES)


def table_results(settings: Settings, tables: Iterable[str]) -> Iterator[dg.MaterializeResult]:
    """Each table's materialization: its row count and columns, never its rows (Dagster keeps
    metadata for good, and the working tables hold figures the publication withholds)."""
    for name, (count, columns) in pipeline.table_summaries(settings, tables).items():
        yield dg.MaterializeResult(asset_key=name, metadata={
            "dagster/row_count": count,
            "dagster/column_schema": dg.TableSchema([dg.TableColumn(column, kind) for column, kind in columns]),
        })


@dg.asset_check(asset="file_receipt", blocking=True, description="rows_read = rows_loaded + rows_quarantined for every file")
def receipts_balance(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    unbalanced = pipeline.unbalanced_receipts(observatory.settings())
    return dg.AssetCheckResult(
        passed=not unbalanced,
        metadata={"unbalanced_files": dg.MetadataValue.json([list(map(str, row)) for row in unbalanced[:20]])},
    )


@dg.asset_check(asset="fact_observation", blocking=True, description="No observation key appears twice")
def unique_observation_key(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    duplicated = pipeline.duplicated_keys(observatory.settings())
    return dg.AssetCheckResult(passed=duplicated == 0, metadata={"duplicated_keys": duplicated})


@dg.asset_check(asset="fact_observation", blocking=True, description="Every country is in dim_country")
def countries_known(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    unknown = pipeline.unknown_countries(observatory.settings())
    return dg.AssetCheckResult(passed=unknown == 0, metadata={"rows_with_unknown_country": unknown})
