-- Attempts brought forward by a new change while the item waited out a
-- retry (store::outbox::hurry_waiting). Each is one extra attempt, outside
-- the item's backoff schedule and its budget of attempts: the schedule and
-- the budget count attempts - hurried, so changes made during an outage do
-- not use up the attempts that ride it out. attempts itself still counts
-- every attempt ("look before creating" when more than one).
ALTER TABLE switchyard.notion_outbox
    ADD COLUMN hurried integer NOT NULL DEFAULT 0 CHECK (hurried >= 0 AND hurried <= attempts);
