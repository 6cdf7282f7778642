-- A row of dim_indicator is one indicator of the catalogue (reference/indicators.csv).
-- additive: figures of subnational units add up to the national figure (counts do; rates and
-- percentages do not), so the pipeline may compute national rollups.
CREATE OR REPLACE TABLE dim_indicator AS
SELECT indicator_code, name_es, name_en, unit,
       CAST(nullif(range_min, '') AS DOUBLE) AS range_min,
       CAST(nullif(range_max, '') AS DOUBLE) AS range_max,
       mesecvi_category, mesecvi_type, nullif(external_codes, '') AS external_codes,
       disclosure_level, definition_source, additive = 'yes' AS additive
FROM ref_indicator
ORDER BY indicator_code;
