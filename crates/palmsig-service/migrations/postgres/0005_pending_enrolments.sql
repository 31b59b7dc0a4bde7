-- Enrolments whose phone was verified but which have not completed: what they stored (the
-- person, if new, and cards) is removed once they expire, so abandoned or crashed kiosks leave
-- no person with a card and no palm. Kept in lockstep with the other backend's file.

CREATE TABLE pending_enrolments (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    new_person BOOLEAN NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX pending_enrolments_expiry ON pending_enrolments(expires_ms);
ALTER TABLE cards ADD COLUMN enrolment_id TEXT;
