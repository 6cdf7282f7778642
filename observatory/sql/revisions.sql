-- A row of revisions is one change a file made to a figure: a vintage of observation_history
-- that followed an earlier vintage of the same key with another value; for the groups of the
-- files whose receipts are due (receipt_due), which are the only receipts written.
SELECT source_file, source_row, country_iso3, subnational_code, year, indicator_code, sex,
       age_group, population_group, source, previous_value, value, previous_file
FROM (
    SELECT *,
           lag(value) OVER key_history AS previous_value,
           lag(source_file) OVER key_history AS previous_file
    FROM observation_history
    SEMI JOIN (
        -- Only a group where some key has two vintages or more can hold a revision: counting is
        -- cheaper than ordering every key's history (a first load has none to order).
        SELECT DISTINCT country_iso3, year, indicator_code, sex, age_group, population_group, source
        FROM observation_history
        SEMI JOIN (
            SELECT DISTINCT country_iso3, year, indicator_code, sex, age_group, population_group, source
            FROM observation_history WHERE source_file IN (SELECT file_path FROM receipt_due)
        ) USING (country_iso3, year, indicator_code, sex, age_group, population_group, source)
        GROUP BY country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group, source
        HAVING count(*) > 1
    ) USING (country_iso3, year, indicator_code, sex, age_group, population_group, source)
    WINDOW key_history AS (
        PARTITION BY country_iso3, subnational_code, year, indicator_code, sex, age_group,
                     population_group, source
        ORDER BY received_at, source_file, source_row
    )
)
WHERE previous_file IS NOT NULL AND previous_value IS DISTINCT FROM value
ORDER BY source_file, source_row;
