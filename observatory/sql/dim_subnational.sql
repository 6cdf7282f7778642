-- A row of dim_subnational is one first-level subnational unit (department, state, province)
-- of a country the reference covers (reference/subnational_units.csv): subnational_code is
-- its HASC code (Peru, Mexico, Argentina) or ISO 3166-2 code (the other countries), as in
-- fact_observation.
CREATE OR REPLACE TABLE dim_subnational AS
SELECT country_iso3, subnational_code, iso_3166_2, national_code, national_code_system, name,
       nullif(parent_code, '') AS parent_code, source
FROM ref_subnational_unit
ORDER BY country_iso3, subnational_code;
