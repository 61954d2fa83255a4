-- Queued target writes are replayed against documents that may have been
-- written since (issue 8, review): each `reverse` and `contract` entry of
-- switchyard.sync_queue now records its `op` and, in `old_row`, the values
-- the row had before the write (a delete: the whole row; an update: only
-- the columns it changed; an insert: nothing). A replay writes a column
-- back only where the document still holds that old value, so a document
-- write made meanwhile is never undone.

-- The baseline of one target row's queued writes: for each column, its old
-- value in the earliest write that recorded one (`images` in queue order).
CREATE FUNCTION switchyard.sync_baseline(images jsonb[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(x.key, x.value), '{}'::jsonb)
    FROM (
        SELECT DISTINCT ON (e.key) e.key, e.value
        FROM unnest(images) WITH ORDINALITY AS i(image, n)
        CROSS JOIN LATERAL jsonb_each(coalesce(i.image, '{}'::jsonb)) AS e
        ORDER BY e.key, i.n
    ) AS x
$$;

-- Set by the first step of rolling back phase 5, reset when phase 5 records
-- the definition again: a dropped column with a rollback under way is being
-- restored (phase 5 must not run), while a dropped column without one means
-- phase 5's last transaction committed (a re-run just records it as done).
ALTER TABLE switchyard.contract_columns
    ADD COLUMN rolling_back boolean NOT NULL DEFAULT false;

-- A rollback of phase 5 left half done by an earlier version (column
-- re-added, documents partly restored) must still keep phase 5 from running.
UPDATE switchyard.contract_columns SET rolling_back = dropped;
