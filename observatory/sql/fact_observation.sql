-- A row of fact_observation is one observation: the value one source gives for a country,
-- subnational unit, year, indicator, sex, age group and population group. Where files give the
-- same key, the row of the file received later wins; the others stay in `observation`.
CREATE OR REPLACE TABLE fact_observation AS
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       value, unit, source, source_file, source_row
FROM observation
QUALIFY row_number() OVER (
    PARTITION BY country_iso3, subnational_code, year, indicator_code, sex, age_group,
                 population_group, source
    ORDER BY received_at DESC, source_file DESC, source_row DESC
) = 1
ORDER BY country_iso3, indicator_code, year, sex, age_group, population_group, source;
