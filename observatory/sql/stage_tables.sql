-- Staging tables for one run: what was read from the new and changed raw files.
-- Recreated at the start of every run; never published.
-- layout: the source layout that read the file (NULL: raw contract v1); aggregate,
-- periods_per_year, national_total: how its records are summed (layouts only).
CREATE OR REPLACE TABLE stage_file (
    file_id INTEGER, file_path VARCHAR, observatory VARCHAR, kind VARCHAR, sha256 VARCHAR,
    received_at TIMESTAMP, encoding VARCHAR, delimiter VARCHAR, decimal_mark VARCHAR,
    rows_read BIGINT, rejected BOOLEAN, layout VARCHAR, rows_skipped BIGINT,
    aggregate BOOLEAN, periods_per_year INTEGER, national_total BOOLEAN
);
-- One row a record of a raw file (a data line; for a wide layout, one cell of it), every
-- field as text, in canonical column names. period, flags, flag_note, cell and record_key are
-- set by layouts only (reference/dataset_kinds.csv, required = layout); record_key holds the
-- cells that make a summed record unique, to find records given twice.
CREATE OR REPLACE TABLE stage_row (
    row_id BIGINT, file_id INTEGER, line INTEGER,
    country VARCHAR, year VARCHAR, indicator VARCHAR, value VARCHAR, subnational VARCHAR,
    unit VARCHAR, sex VARCHAR, age_group VARCHAR, population_group VARCHAR, source VARCHAR,
    notes VARCHAR, period VARCHAR, flags VARCHAR, flag_note VARCHAR, cell VARCHAR, record_key VARCHAR
);
-- One row a line of a policy-instrument file (reference/dataset_kinds.csv, kind policy_instrument).
CREATE OR REPLACE TABLE stage_policy_row (
    row_id BIGINT, file_id INTEGER, line INTEGER,
    country VARCHAR, instrument_type VARCHAR, title VARCHAR, identifier VARCHAR,
    adopted_on VARCHAR, in_force_from VARCHAR, in_force_to VARCHAR, status VARCHAR,
    has_budget VARCHAR, has_monitoring VARCHAR, prevention VARCHAR, attention VARCHAR,
    sanction VARCHAR, reparation VARCHAR, source VARCHAR, notes VARCHAR
);
-- One row a problem: row_id NULL for a whole-file rejection; details is JSON for the message.
CREATE OR REPLACE TABLE stage_problem (
    file_id INTEGER, row_id BIGINT, line INTEGER, reason_code VARCHAR, details VARCHAR
);
-- Files whose content was already received under another path.
CREATE OR REPLACE TABLE stage_duplicate (
    file_path VARCHAR, observatory VARCHAR, sha256 VARCHAR, received_at TIMESTAMP, duplicate_of VARCHAR
);
