-- Lines of one policy-instrument file that give the same instrument twice (its country, type,
-- identifier and title, and its start when it has no identifier, as policy_instrument.sql keys
-- it). With the same details (dates, status, flags, source): the first line loads and the
-- repeats are quarantined as duplicate_instrument; with other details: every line of the
-- instrument is quarantined as conflicting_instrument, naming the lines, because nobody can
-- tell which is right.
INSERT INTO stage_problem
WITH valid AS (
    SELECT h.*, CASE WHEN h.identifier IS NULL THEN coalesce(h.in_force_from, h.adopted_on) END AS undated_start
    FROM stage_policy_harmonized AS h
    ANTI JOIN stage_problem AS p USING (row_id)
),
repeated AS (
    SELECT file_id, country_iso3, instrument_type, identifier, title, undated_start,
           count(DISTINCT (adopted_on, in_force_from, in_force_to, status, has_budget, has_monitoring,
                           prevention, attention, sanction, reparation, source)) AS details_given,
           min(row_id) AS first_row_id,
           arg_min(line, row_id) AS first_line,
           array_to_string(list_sort(list(DISTINCT line)), ', ') AS lines
    FROM valid
    GROUP BY file_id, country_iso3, instrument_type, identifier, title, undated_start
    HAVING count(*) > 1
)
SELECT v.file_id, v.row_id, v.line,
       CASE WHEN r.details_given > 1 THEN 'conflicting_instrument' ELSE 'duplicate_instrument' END,
       json_object('first_line', r.first_line, 'lines', r.lines)
FROM valid AS v
JOIN repeated AS r
  ON v.file_id = r.file_id
 AND v.country_iso3 IS NOT DISTINCT FROM r.country_iso3
 AND v.instrument_type IS NOT DISTINCT FROM r.instrument_type
 AND v.identifier IS NOT DISTINCT FROM r.identifier
 AND v.title IS NOT DISTINCT FROM r.title
 AND v.undated_start IS NOT DISTINCT FROM r.undated_start
WHERE r.details_given > 1 OR v.row_id > r.first_row_id;
