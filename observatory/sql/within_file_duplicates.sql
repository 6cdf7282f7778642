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
-- Keys given more than once, found by counting first (cheap), so that the lines of a key are
-- listed only for the few keys that repeat.
repeated_key AS (
    SELECT file_id, country_iso3, subnational_code, year, indicator_code, sex, age_group,
           population_group, source, record_key
    FROM valid
    GROUP BY ALL
    HAVING count(*) > 1
),
repeated AS (
    SELECT v.file_id, v.country_iso3, v.subnational_code, v.year, v.indicator_code, v.sex, v.age_group,
           v.population_group, v.source, v.record_key,
           count(DISTINCT v.value) AS values_given,
           min(v.row_id) AS first_row_id,
           arg_min(v.line, v.row_id) AS first_line,
           array_to_string(list_sort(list(DISTINCT v.line)), ', ') AS lines
    FROM valid AS v
    SEMI JOIN repeated_key AS k
      ON v.file_id = k.file_id AND v.country_iso3 = k.country_iso3
     AND v.subnational_code IS NOT DISTINCT FROM k.subnational_code
     AND v.year = k.year AND v.indicator_code = k.indicator_code AND v.sex = k.sex
     AND v.age_group = k.age_group AND v.population_group = k.population_group AND v.source = k.source
     AND v.record_key IS NOT DISTINCT FROM k.record_key
    GROUP BY ALL
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
