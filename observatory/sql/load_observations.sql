-- A row is a staged line that passed validation, inserted as a loaded observation.
INSERT INTO observation
SELECT h.country_iso3, h.subnational_code, h.year, h.indicator_code, h.sex, h.age_group,
       h.population_group, h.value, h.unit, h.source, h.file_path, h.line, f.received_at
FROM stage_harmonized AS h
JOIN stage_file AS f USING (file_id)
ANTI JOIN stage_problem AS p USING (row_id)
ORDER BY h.row_id;
