-- Formulas used by more than one SQL file, defined once.
-- A date as written in a register: 'YYYY', 'YYYY-MM-DD' or day-first 'DD/MM/YYYY'
-- -> ISO text keeping its precision ('2009' or '2009-03-11'); NULL when it is not a date.
CREATE OR REPLACE MACRO iso_partial_date(text_value) AS (
    CASE
        WHEN regexp_full_match(trim(text_value), '\d{4}') THEN trim(text_value)
        WHEN regexp_full_match(trim(text_value), '\d{4}-\d{1,2}-\d{1,2}')
            THEN strftime(try_strptime(trim(text_value), '%Y-%m-%d'), '%Y-%m-%d')
        WHEN regexp_full_match(trim(text_value), '\d{1,2}/\d{1,2}/\d{4}')
            THEN strftime(try_strptime(trim(text_value), '%d/%m/%Y'), '%Y-%m-%d')
    END
);
-- The first day a partial date can mean ('2016' -> 2016-01-01).
CREATE OR REPLACE MACRO period_start(iso_text) AS (
    CASE WHEN length(iso_text) = 4 THEN make_date(CAST(iso_text AS INTEGER), 1, 1)
         ELSE CAST(iso_text AS DATE) END
);
-- The last day a partial date can mean ('2021' -> 2021-12-31): a plan for 2016-2021 runs through 2021.
CREATE OR REPLACE MACRO period_end(iso_text) AS (
    CASE WHEN length(iso_text) = 4 THEN make_date(CAST(iso_text AS INTEGER), 12, 31)
         ELSE CAST(iso_text AS DATE) END
);
-- When a register row starts, for the marts: its in_force_from, or its adopted_on when no start is
-- given; a not_known row with neither (a gap the register documents with no date at all) starts
-- at the marts' first year, so its component is unknown from there. Any other row without a date
-- was quarantined (missing_date), so it never reaches the marts. Without the first year set (the
-- build sets it), such a row would never be in force, a silent "no": it fails instead.
CREATE OR REPLACE MACRO instrument_start(in_force_from, adopted_on, status) AS (
    coalesce(in_force_from, adopted_on,
             CASE WHEN status = 'not_known'
                  THEN CAST(coalesce(getvariable('first_year'), error('instrument_start: first_year not set')) AS VARCHAR) END)
);
-- Whether an instrument is in force on a day: started by then, not ended before, not a bill.
CREATE OR REPLACE MACRO in_force_on(start_iso, end_iso, status, day) AS (
    coalesce(status, '') <> 'bill'
    AND period_start(start_iso) <= day
    AND (end_iso IS NULL OR period_end(end_iso) >= day)
);
-- Whether a start written as a bare year leaves it open whether the instrument had started on a
-- day of that same year before its 31 December (a provisional year judged on as_of): '2026' may
-- be any day of 2026, so on 2026-06-30 the instrument is neither known in force nor known not.
-- On 31 December a bare year has always started.
CREATE OR REPLACE MACRO start_undecided_on(start_iso, day) AS (
    CASE WHEN length(start_iso) = 4
         THEN CAST(start_iso AS INTEGER) = year(day) AND day < make_date(year(day), 12, 31) ELSE false END
);
-- The day a mart year is judged on: its 31 December, or the as_of day for a year not over yet
-- (that year is provisional).
CREATE OR REPLACE MACRO judged_on(year) AS (
    least(make_date(year, 12, 31), coalesce(getvariable('as_of'), make_date(year, 12, 31)))
);
-- A three-valued answer: yes when a stated instrument says so; unknown (NULL) when the register
-- says it does not know (status not_known) or nothing else decides; no otherwise.
CREATE OR REPLACE MACRO yes_unknown_no(yes, unknown) AS (
    CASE WHEN yes THEN true WHEN unknown THEN NULL ELSE false END
);
-- The host of the first URL of a source text, lower case, without 'www.': what its tier is read
-- from (reference/source_tiers.csv). NULL when the source does not start with a URL.
CREATE OR REPLACE MACRO source_host(source_text) AS (
    regexp_replace(lower(nullif(regexp_extract(source_text, '^\s*https?://([^/:|?#\s]+)', 1), '')), '^www\.', '')
);
-- The tier of a source (official, intergovernmental, secondary, weak): the rule of
-- reference/source_tiers.csv with the longest host pattern the host is or ends with; NULL when
-- no rule matches (an unclassified source).
CREATE OR REPLACE MACRO source_tier(source_text) AS (
    SELECT arg_max(t.tier, length(t.host_pattern))
    FROM ref_source_tier AS t
    WHERE source_host(source_text) = t.host_pattern OR source_host(source_text) LIKE '%.' || t.host_pattern
);
