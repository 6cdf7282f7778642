-- A row is a staged policy-instrument line that passed validation, inserted as loaded.
INSERT INTO policy_instrument
SELECT h.country_iso3, h.instrument_type, h.title, h.identifier, h.adopted_on, h.in_force_from,
       h.in_force_to, h.status, h.has_budget, h.has_monitoring, h.prevention, h.attention,
       h.sanction, h.reparation, h.source, h.file_path, h.line, f.received_at
FROM stage_policy_harmonized AS h
JOIN stage_file AS f USING (file_id)
ANTI JOIN stage_problem AS p USING (row_id)
ORDER BY h.row_id;
