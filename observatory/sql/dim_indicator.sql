-- A row of dim_indicator is one indicator of the catalogue (reference/indicators.csv), with its
-- unit's names in Spanish and English (reference/units.csv).
-- additive: figures of subnational units add up to the national figure (counts do; rates and
-- percentages do not), so the pipeline may compute national rollups.
CREATE OR REPLACE TABLE dim_indicator AS
SELECT i.indicator_code, i.name_es, i.name_en, i.unit, u.name_es AS unit_name_es, u.name_en AS unit_name_en,
       CAST(nullif(i.range_min, '') AS DOUBLE) AS range_min,
       CAST(nullif(i.range_max, '') AS DOUBLE) AS range_max,
       i.mesecvi_category, i.mesecvi_type, nullif(i.external_codes, '') AS external_codes,
       i.disclosure_level, i.definition_source, i.additive = 'yes' AS additive
FROM ref_indicator AS i
LEFT JOIN ref_unit AS u USING (unit)
ORDER BY i.indicator_code;
