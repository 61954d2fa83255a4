-- Issue 13: the progress of a task's phase is written to the task's Notion
-- page too (coalesced like the plan page's): what was last written, when.
ALTER TABLE switchyard.task_sync ADD COLUMN progress_text text;
ALTER TABLE switchyard.task_sync ADD COLUMN progress_written_at timestamptz;
