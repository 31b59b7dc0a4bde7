-- Per-phone limits on one-time codes (codes sent, wrong guesses), across devices and the portal,
-- in fixed windows. Kept in lockstep with the other backend's file of the same name.
-- phone_key is a keyed hash of the phone number, never the number.

CREATE TABLE otp_limits (
    phone_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (phone_key, kind)
);
