-- Revocation of devices and API clients (NULL = active). Kept in lockstep with the other
-- backend's file of the same name (a unit test enforces it).
-- Times are Unix milliseconds.

ALTER TABLE devices ADD COLUMN revoked_ms BIGINT;
ALTER TABLE api_clients ADD COLUMN revoked_ms BIGINT;
