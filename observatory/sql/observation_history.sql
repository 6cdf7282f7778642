-- A row of observation_history is one vintage of an observation key: the rows loaded in this run
-- (from applied_path) whose value differs from the key's latest vintage, or whose key is new.
INSERT INTO observation_history
WITH latest AS (
    SELECT *
    FROM observation_history
    QUALIFY row_number() OVER (
        PARTITION BY country_iso3, subnational_code, year, indicator_code, sex, age_group,
                     population_group, source
        ORDER BY received_at DESC, source_file DESC, source_row DESC
    ) = 1
)
SELECT o.country_iso3, o.subnational_code, o.year, o.indicator_code, o.sex, o.age_group,
       o.population_group, o.source, o.value, o.unit, o.source_file, o.source_row, o.received_at
FROM observation AS o
JOIN applied_path AS a ON a.file_path = o.source_file
LEFT JOIN latest AS l
  ON l.country_iso3 = o.country_iso3 AND l.subnational_code IS NOT DISTINCT FROM o.subnational_code
 AND l.year = o.year AND l.indicator_code = o.indicator_code AND l.sex = o.sex
 AND l.age_group = o.age_group AND l.population_group = o.population_group AND l.source = o.source
WHERE l.value IS DISTINCT FROM o.value
ORDER BY o.source_file, o.source_row;
