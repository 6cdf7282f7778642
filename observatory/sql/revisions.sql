-- A row of revisions is one change a file made to a figure: a vintage of observation_history
-- that followed an earlier vintage of the same key with another value; for the keys the files
-- whose receipts are due (receipt_due) give, which are the only receipts written.
WITH keyed AS (
    SELECT *,
           hash(country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
                source) AS key_hash,
           source_file IN (SELECT file_path FROM receipt_due) AS due
    FROM observation_history
),
-- Only a key with two vintages or more, one of them from a due file, can hold a revision worth
-- writing: counting hashes is cheaper than ordering every key's history (a first load has none
-- to order). Two keys sharing a hash by chance only send more rows to the ordering.
revised AS (
    SELECT key_hash FROM keyed GROUP BY key_hash HAVING count(*) > 1 AND bool_or(due)
)
SELECT source_file, source_row, country_iso3, subnational_code, year, indicator_code, sex,
       age_group, population_group, source, previous_value, value, previous_file
FROM (
    SELECT *,
           lag(value) OVER key_history AS previous_value,
           lag(source_file) OVER key_history AS previous_file
    FROM keyed
    SEMI JOIN revised USING (key_hash)
    WINDOW key_history AS (
        PARTITION BY country_iso3, subnational_code, year, indicator_code, sex, age_group,
                     population_group, source
        ORDER BY received_at, source_file, source_row
    )
)
WHERE previous_file IS NOT NULL AND previous_value IS DISTINCT FROM value
-- Summed figures have no row: the key orders them, so a receipt lists its changes the same way every time.
ORDER BY source_file, source_row, country_iso3, subnational_code, year, indicator_code, sex, age_group,
         population_group, source;
