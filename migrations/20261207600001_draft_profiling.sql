-- Issue 14: a whole-table profile runs in the background and says how far
-- it is. One scan per draft at a time: `profiling_since` is set while one
-- runs (claimed by an UPDATE, so two clicks cannot both start one), and
-- `profiling_beat` is renewed after every part it reads; a scan whose beat
-- is older than its longest possible part (the server stopped) no longer
-- holds the draft. `profiling_error` keeps why the last scan failed.
ALTER TABLE switchyard.migration_drafts
    ADD COLUMN profiling_since timestamptz,
    ADD COLUMN profiling_beat timestamptz,
    ADD COLUMN profiling_whole boolean,
    ADD COLUMN profiling_pages_done bigint,
    ADD COLUMN profiling_pages_total bigint,
    ADD COLUMN profiling_error text;
