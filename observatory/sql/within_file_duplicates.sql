-- Records of one file that give the same observation key twice. Same value: the first record
-- loads and the repeats are quarantined as duplicate_row; different values: every record of
-- the key is quarantined as conflicting_duplicate, naming the lines, because nobody can tell
-- which is right. Files whose layout sums records (case records, months, modalities) repeat
-- keys by design: there, records are duplicates when they also share their record_key (the
-- columns the layout names as unique: a month given twice, a case row repeated).
INSERT INTO stage_problem
WITH valid AS (
    SELECT h.*
    FROM stage_harmonized AS h
    JOIN stage_file AS f USING (file_id)
    ANTI JOIN stage_problem AS p USING (row_id)
    WHERE NOT f.aggregate OR h.record_key IS NOT NULL
),
repeated AS (
    SELECT file_id, country_iso3, subnational_code, year, indicator_code, sex, age_group,
           population_group, source, record_key,
           count(DISTINCT value) AS values_given,
           min(row_id) AS first_row_id,
           arg_min(line, row_id) AS first_line,
           array_to_string(list_sort(list(DISTINCT line)), ', ') AS lines
    FROM valid
    GROUP BY ALL
    HAVING count(*) > 1
)
SELECT v.file_id, v.row_id, v.line,
       CASE WHEN r.values_given > 1 THEN 'conflicting_duplicate' ELSE 'duplicate_row' END,
       json_object('first_line', r.first_line, 'lines', r.lines)
FROM valid AS v
JOIN repeated AS r
  ON v.file_id = r.file_id AND v.country_iso3 = r.country_iso3
 AND v.subnational_code IS NOT DISTINCT FROM r.subnational_code
 AND v.year = r.year AND v.indicator_code = r.indicator_code AND v.sex = r.sex
 AND v.age_group = r.age_group AND v.population_group = r.population_group AND v.source = r.source
 AND v.record_key IS NOT DISTINCT FROM r.record_key
WHERE r.values_given > 1 OR v.row_id > r.first_row_id;
