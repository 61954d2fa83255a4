-- Notion's side of a task conflict as the board would show it (a person's
-- name, a sprint page's title), worked out when the conflict is found:
-- `notion_value` keeps Notion's own value (user and page ids) for the sync.
ALTER TABLE switchyard.task_conflicts ADD COLUMN notion_shown text;
