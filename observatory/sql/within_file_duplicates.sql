-- Records of one file that give the same observation key twice. Same value: the first record
-- loads and the repeats are quarantined as duplicate_row; different values: every record of
-- the key is quarantined as conflicting_duplicate, naming the lines, because nobody can tell
-- which is right. Files whose layout sums records (case records, months, modalities) repeat
-- keys by design: there, records are duplicates when they also share their record_key (the
-- columns the layout names as unique: a month given twice, a case row repeated). In a raw
-- contract v1 file with a date column it does not read (stage_file.unread_date_column: `Fecha`
-- instead of `mes`), the messages name that column: the repeats are most likely months.
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
INSERT INTO stage_problem
WITH valid AS (
    SELECT h.*, f.unread_date_column,
           hash(h.file_id, {{ key h }}, h.record_key) AS key_hash
    FROM stage_harmonized AS h
    JOIN stage_file AS f USING (file_id)
    ANTI JOIN stage_problem AS p USING (row_id)
    WHERE NOT f.aggregate OR h.record_key IS NOT NULL
),
-- Keys given more than once, found by counting their hashes first (cheap), so that the lines
-- of a key are listed only for the few keys that repeat. Two keys sharing a hash by chance
-- only make more candidates: the grouping below is on the key itself.
repeated_hash AS (
    SELECT key_hash FROM valid GROUP BY key_hash HAVING count(*) > 1
),
candidate AS (
    SELECT * FROM valid SEMI JOIN repeated_hash USING (key_hash)
),
repeated AS (
    SELECT file_id, {{ key }}, record_key,
           count(DISTINCT value) AS values_given,
           min(row_id) AS first_row_id,
           arg_min(line, row_id) AS first_line,
           array_to_string(list_sort(list(DISTINCT line)), ', ') AS lines
    FROM candidate
    GROUP BY file_id, {{ key }}, record_key
    HAVING count(*) > 1
)
SELECT v.file_id, v.row_id, v.line,
       CASE WHEN r.values_given > 1 THEN 'conflicting_duplicate' ELSE 'duplicate_row' END,
       json_object('first_line', r.first_line, 'lines', r.lines,
                   'variant', CASE WHEN v.unread_date_column IS NOT NULL THEN 'unread_date_column' END,
                   'column', v.unread_date_column)
FROM candidate AS v
JOIN repeated AS r
  ON v.file_id = r.file_id AND {{ key_equal v r }}
 AND v.record_key IS NOT DISTINCT FROM r.record_key
WHERE r.values_given > 1 OR v.row_id > r.first_row_id;
