-- A row is a staged policy-instrument line that passed validation, inserted as loaded, with the
-- tier of its source read from the source URL (reference/source_tiers.csv).
INSERT INTO policy_instrument_loaded BY NAME
SELECT h.country_iso3, h.instrument_type, h.title, h.identifier, h.adopted_on, h.in_force_from,
       h.in_force_to, h.status, h.has_budget, h.has_monitoring, h.prevention, h.attention,
       h.sanction, h.reparation, h.source, source_tier(h.source) AS source_tier,
       h.file_path AS source_file, h.line AS source_row, f.received_at
FROM stage_policy_harmonized AS h
JOIN stage_file AS f USING (file_id)
ANTI JOIN stage_problem AS p USING (row_id)
ORDER BY h.row_id;
