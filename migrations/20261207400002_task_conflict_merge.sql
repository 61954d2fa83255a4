-- Issue 13: a task conflict can be resolved by a value the operator types
-- (a merge of both sides), kept beside the choice.
ALTER TABLE switchyard.task_conflicts DROP CONSTRAINT task_conflicts_kept_check;
ALTER TABLE switchyard.task_conflicts
    ADD CONSTRAINT task_conflicts_kept_check CHECK (kept IN ('board', 'notion', 'merged'));
ALTER TABLE switchyard.task_conflicts ADD COLUMN merged_value text;
ALTER TABLE switchyard.task_conflicts
    ADD CONSTRAINT task_conflicts_merged_value_check CHECK ((kept = 'merged') = (merged_value IS NOT NULL));
