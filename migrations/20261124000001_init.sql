-- Switchyard's own schema. Everything lives in the `switchyard` schema so it
-- never collides with the tables of the database being migrated.
CREATE SCHEMA IF NOT EXISTS switchyard;

CREATE TABLE switchyard.migrations (
    id           bigserial PRIMARY KEY,
    -- URL slug: /m/{name}
    name         text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    -- Path of the recipe (under recipes/) that drives the engine.
    recipe_path  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The spec, stored as Notion blocks (nested children inline).
CREATE TABLE switchyard.specs (
    migration_id    bigint PRIMARY KEY REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    title           text NOT NULL,
    blocks          jsonb NOT NULL CHECK (jsonb_typeof(blocks) = 'array'),
    notion_page_id  text,
    fetched_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE switchyard.plans (
    migration_id    bigint PRIMARY KEY REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    title           text NOT NULL,
    body_markdown   text NOT NULL DEFAULT '',
    revision        integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    notion_page_id  text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The plan's phases (the document side: what each phase is and who owns it).
CREATE TABLE switchyard.plan_phases (
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    position      smallint NOT NULL CHECK (position BETWEEN 1 AND 5),
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    owner         text,
    PRIMARY KEY (migration_id, position)
);

CREATE TABLE switchyard.plan_phase_dependencies (
    migration_id  bigint NOT NULL,
    position      smallint NOT NULL,
    depends_on    smallint NOT NULL,
    PRIMARY KEY (migration_id, position, depends_on),
    FOREIGN KEY (migration_id, position) REFERENCES switchyard.plan_phases ON DELETE CASCADE,
    FOREIGN KEY (migration_id, depends_on) REFERENCES switchyard.plan_phases ON DELETE CASCADE,
    CHECK (depends_on <> position)
);

-- The engine side: the runtime state of each phase.
CREATE TABLE switchyard.phase_states (
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    position      smallint NOT NULL CHECK (position BETWEEN 1 AND 5),
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending','running','paused','verifying','done','failed','rolled_back')),
    started_by    text,
    started_at    timestamptz,
    finished_at   timestamptz,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, position)
);

CREATE TABLE switchyard.tasks (
    id              bigserial PRIMARY KEY,
    migration_id    bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    title           text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    status          text NOT NULL DEFAULT 'To Do'
                    CHECK (status IN ('To Do','In Progress','Blocked','Done')),
    priority        text NOT NULL DEFAULT 'Medium'
                    CHECK (priority IN ('Low','Medium','High','Critical')),
    assignee        text CHECK (length(assignee) <= 100),
    sprint          text CHECK (length(sprint) <= 100),
    phase_position  smallint CHECK (phase_position BETWEEN 1 AND 5),
    -- Order of cards within a column.
    rank            integer NOT NULL DEFAULT 0,
    revision        integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    notion_page_id  text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_migration_idx ON switchyard.tasks (migration_id, status, rank);

CREATE TABLE switchyard.task_dependencies (
    task_id     bigint NOT NULL REFERENCES switchyard.tasks(id) ON DELETE CASCADE,
    depends_on  bigint NOT NULL REFERENCES switchyard.tasks(id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id <> depends_on)
);

CREATE TABLE switchyard.acceptance_criteria (
    id        bigserial PRIMARY KEY,
    task_id   bigint NOT NULL REFERENCES switchyard.tasks(id) ON DELETE CASCADE,
    position  integer NOT NULL,
    text      text NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 500),
    done      boolean NOT NULL DEFAULT false,
    UNIQUE (task_id, position)
);

-- Who did what, when. Every mutation and every engine state change lands here.
CREATE TABLE switchyard.events (
    id            bigserial PRIMARY KEY,
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_migration_idx ON switchyard.events (migration_id, id DESC);
