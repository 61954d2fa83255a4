-- A re-map during dual-write looks up whether its keys still wait in the
-- capture log (written before dual-write, not yet re-mapped): those get
-- every target and every check. By key, not by scanning the log.
CREATE INDEX capture_log_key_idx ON switchyard.capture_log (migration_name, source_key);
