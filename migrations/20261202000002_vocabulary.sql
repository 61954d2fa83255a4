-- The event log speaks the engine's vocabulary (`engine::vocab::Event`):
-- only the kinds it defines may be stored, as the phase-state and read-flag
-- columns already admit only `PhaseState` and `ReadsFrom` values. A test
-- checks each list against its enum.
ALTER TABLE switchyard.events ADD CONSTRAINT events_kind_check CHECK (kind IN (
    'phase_state', 'rollback_started', 'progress', 'throttle', 'capture_drained',
    'verify_progress', 'verified', 'accepted', 'recipe_changed',
    'task_created', 'task_edited', 'task_moved', 'criterion', 'task_deleted',
    'plan_saved', 'seeded'
));
ALTER TABLE switchyard.events ADD CONSTRAINT events_phase_check CHECK (phase BETWEEN 1 AND 5);
