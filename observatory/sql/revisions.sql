-- A row of revisions is one change a file made to a figure: a vintage of observation_history
-- that followed an earlier vintage of the same key with another value; for the keys the files
-- whose receipts are due (receipt_due) give, which are the only receipts written.
-- The value before is withheld (NULL, previous_withheld) when it is a figure of a sensitive
-- indicator (the list is the parameter) that another observatory's file gave: a receipt is for
-- the staff of the observatory that sent the file, and must not show them another observatory's
-- small counts of victims, which the publication itself withholds.
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
WITH keyed AS (
    SELECT *,
           hash({{ key }}) AS key_hash,
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
       age_group, population_group, source,
       CASE WHEN NOT withheld THEN before END AS previous_value, value, previous_file,
       withheld AS previous_withheld
FROM (
    SELECT *,
           indicator_code IN (SELECT unnest(?::VARCHAR[]))
           AND (sent_by IS NULL OR previous_sent_by IS DISTINCT FROM sent_by) AS withheld
    FROM (
        SELECT k.*, r.observatory AS sent_by,
               lag(value) OVER key_history AS before,
               lag(source_file) OVER key_history AS previous_file,
               lag(r.observatory) OVER key_history AS previous_sent_by
        FROM keyed AS k
        SEMI JOIN revised USING (key_hash)
        LEFT JOIN (SELECT file_path, observatory FROM file_receipt) AS r ON r.file_path = k.source_file
        WINDOW key_history AS (
            PARTITION BY {{ key }}
            ORDER BY received_at, source_file, source_row
        )
    )
    WHERE previous_file IS NOT NULL AND before IS DISTINCT FROM value
)
-- Summed figures have no row: the key orders them, so a receipt lists its changes the same way every time.
ORDER BY source_file, source_row, country_iso3, subnational_code, year, indicator_code, sex, age_group,
         population_group, source;
