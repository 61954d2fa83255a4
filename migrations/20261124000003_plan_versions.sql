-- The plan as a versioned document: every save is a new revision, kept whole
-- (text and the phases' editable fields) so any two can be compared and an
-- old one restored.
ALTER TABLE switchyard.plan_phases
    ADD COLUMN status_note text NOT NULL DEFAULT '' CHECK (length(status_note) <= 2000),
    ADD COLUMN blockers    text NOT NULL DEFAULT '' CHECK (length(blockers) <= 2000);

CREATE TABLE switchyard.plan_versions (
    migration_id   bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    revision       integer NOT NULL,
    body_markdown  text NOT NULL,
    -- [{position, title, description, owner, status_note, blockers}]
    phases         jsonb NOT NULL,
    saved_by       text NOT NULL,
    saved_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, revision)
);

-- Plans that exist already get their current state as a first version.
INSERT INTO switchyard.plan_versions (migration_id, revision, body_markdown, phases, saved_by, saved_at)
SELECT p.migration_id, p.revision, p.body_markdown,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'position', ph.position, 'title', ph.title, 'description', ph.description,
                    'owner', ph.owner, 'status_note', ph.status_note, 'blockers', ph.blockers)
                  ORDER BY ph.position)
                 FROM switchyard.plan_phases ph WHERE ph.migration_id = p.migration_id), '[]'),
       'system', p.updated_at
FROM switchyard.plans p;
