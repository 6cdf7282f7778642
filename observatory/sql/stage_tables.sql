-- Staging tables for one run: what was read from the new and changed raw files.
-- Recreated at the start of every run; never published.
-- layout: the source layout that read the file (NULL: raw contract v1); aggregate,
-- periods_per_year, national_total: how its records are summed (layouts only).
CREATE OR REPLACE TABLE stage_file (
    file_id INTEGER, file_path VARCHAR, observatory VARCHAR, kind VARCHAR, sha256 VARCHAR,
    received_at TIMESTAMP, encoding VARCHAR, delimiter VARCHAR, decimal_mark VARCHAR,
    rows_read BIGINT, rejected BOOLEAN, layout VARCHAR, rows_skipped BIGINT,
    aggregate BOOLEAN, periods_per_year INTEGER, national_total BOOLEAN,
    from_registry VARCHAR,  -- columns the registry of observatories supplied (country=PER)
    -- a raw contract v1 column not read whose name says it holds dates (reference/date_columns.csv),
    -- as the header writes it, in a file without a month column: named by the duplicates' messages
    unread_date_column VARCHAR
);
-- stage_row (observations) and stage_policy_row (policy instruments), one row a record of a
-- raw file (a data line; for a wide layout, one cell of it) with every field as text, are made
-- by staging.create_stage_tables from observatory/reference/dataset_kinds.csv, the one place a
-- dataset kind's columns are declared.
-- One row a problem: row_id NULL for a whole-file rejection; details is JSON for the message.
CREATE OR REPLACE TABLE stage_problem (
    file_id INTEGER, row_id BIGINT, line INTEGER, reason_code VARCHAR, details VARCHAR
);
-- Files whose content was already received under another path.
CREATE OR REPLACE TABLE stage_duplicate (
    file_path VARCHAR, observatory VARCHAR, sha256 VARCHAR, received_at TIMESTAMP, duplicate_of VARCHAR
);
-- Files received whose content was withdrawn since (`observatory withdraw`): the build removes
-- what they brought, their earlier vintages and their receipts.
CREATE OR REPLACE TABLE stage_withdrawn (file_path VARCHAR);
-- Files gone from the raw folder that brought nothing (rejected, or copies): the build removes
-- their receipts and quarantine rows.
CREATE OR REPLACE TABLE stage_gone (file_path VARCHAR);
