-- The new-migration wizard: the spec typed in step 4 (Markdown), kept with
-- the draft until the migration is made from it. NULL: none typed; the
-- spec is then written from the recipe and the profile.
ALTER TABLE switchyard.migration_drafts ADD COLUMN spec_text text;
