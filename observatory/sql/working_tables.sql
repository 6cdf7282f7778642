-- The working database's lasting tables (created once, kept between runs, never published
-- as such): receipts, every loaded row of every current file version, and quarantine.
-- Columns added after a table was first created come with ADD COLUMN IF NOT EXISTS, so a
-- working database from an earlier version keeps its rows.
CREATE TABLE IF NOT EXISTS file_receipt (
    file_path VARCHAR, observatory VARCHAR, sha256 VARCHAR, received_at TIMESTAMP,
    status VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT
);
ALTER TABLE file_receipt ADD COLUMN IF NOT EXISTS layout VARCHAR;
ALTER TABLE file_receipt ADD COLUMN IF NOT EXISTS rows_skipped BIGINT;
ALTER TABLE file_receipt ADD COLUMN IF NOT EXISTS from_registry VARCHAR;
-- What the working database and the published files were last made from (observatory/state.py):
-- rules, data_version, marts, published. A run with nothing new compares and stops there.
-- passed:<invariant>: the version of the tables each blocking check last passed on (pipeline.py);
-- marts_built_from: what the marts were last built from, the day aside (state.py).
CREATE TABLE IF NOT EXISTS pipeline_state (key VARCHAR, value VARCHAR);
-- One row a loaded observation: fact_observation is derived from it (later-received file wins).
CREATE TABLE IF NOT EXISTS observation (
    country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER, indicator_code VARCHAR,
    sex VARCHAR, age_group VARCHAR, population_group VARCHAR, value DOUBLE, unit VARCHAR,
    source VARCHAR, source_file VARCHAR, source_row INTEGER, received_at TIMESTAMP
);
ALTER TABLE observation ADD COLUMN IF NOT EXISTS flags VARCHAR;
ALTER TABLE observation ADD COLUMN IF NOT EXISTS flag_note VARCHAR;
-- How many staged records of its file the row accounts for (1; the count a layout summed; 0 for
-- a national total that re-counts records already counted by unit): receipts add these up.
ALTER TABLE observation ADD COLUMN IF NOT EXISTS records BIGINT;
-- The months (YYYY-MM, comma-separated) of a summed figure's year that its file has no loaded
-- record for (NULL: none, or not summed): the staff receipt lists them (receipts.py).
ALTER TABLE observation ADD COLUMN IF NOT EXISTS missing_periods VARCHAR;
CREATE TABLE IF NOT EXISTS quarantine (
    source_file VARCHAR, source_row INTEGER, reason_code VARCHAR, message_es VARCHAR, message_en VARCHAR
);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS source_column VARCHAR;
-- One row an instrument (law, ratification, plan): the line of the file received last that
-- gives it (policy_instrument.sql, from policy_instrument_loaded).
CREATE TABLE IF NOT EXISTS policy_instrument (
    country_iso3 VARCHAR, instrument_type VARCHAR, title VARCHAR, identifier VARCHAR,
    adopted_on VARCHAR, in_force_from VARCHAR, in_force_to VARCHAR, status VARCHAR,
    has_budget BOOLEAN, has_monitoring BOOLEAN, prevention BOOLEAN, attention BOOLEAN,
    sanction BOOLEAN, reparation BOOLEAN, source VARCHAR, source_file VARCHAR, source_row INTEGER,
    received_at TIMESTAMP
);
-- The tier of the row's source (official, intergovernmental, secondary, weak), from its URL.
ALTER TABLE policy_instrument ADD COLUMN IF NOT EXISTS source_tier VARCHAR;
-- One row a loaded policy-instrument line of a current file version, whichever file gives the
-- same instrument too: what the receipts count. (A working database made before it had only
-- policy_instrument, which then held every loaded line.)
CREATE TABLE IF NOT EXISTS policy_instrument_loaded AS SELECT * FROM policy_instrument;
-- Every vintage of every observation key: appended when a loaded row gives a key a value it did
-- not have before; kept when a file is replaced, so revisions stay visible (deleted only for a
-- file withdrawn on purpose: withdrawals.py, build.py).
CREATE TABLE IF NOT EXISTS observation_history (
    country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER, indicator_code VARCHAR,
    sex VARCHAR, age_group VARCHAR, population_group VARCHAR, source VARCHAR, value DOUBLE,
    unit VARCHAR, source_file VARCHAR, source_row INTEGER, received_at TIMESTAMP
);
-- Files applied since their receipts for staff were last written (written when publishing).
CREATE TABLE IF NOT EXISTS receipt_due (file_path VARCHAR);
