-- Issue 14: a draft's spec may be a Notion page (once connected), fetched
-- when the migration is made from the draft and linked to it (so "Refresh
-- from Notion" works as for an imported spec). NULL: none linked.
ALTER TABLE switchyard.migration_drafts ADD COLUMN spec_notion_page text;
