-- Issue 14: the draft's sample check (what the recipe would quarantine and
-- leave unmapped, on the profiled rows) is kept with the draft: computed
-- once for a recipe and a profile, not on every load of the page (after a
-- whole-table profile that was a whole-table scan per load). Cleared
-- whenever the recipe or the profile changes.
ALTER TABLE switchyard.migration_drafts ADD COLUMN sample_check jsonb;
