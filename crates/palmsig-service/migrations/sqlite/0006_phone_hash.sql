-- Phone numbers are no longer stored in clear: `persons.phone_hash` holds a keyed hash
-- (`KEKID:hex(HMAC-SHA256)`, for lookup) and `phone_ct` the number sealed under the person's own
-- data key (for display). Rows from before hold the number in `phone_hash` with no `phone_ct`
-- until the service re-keys them at its next start. Pending one-time codes are keyed by a hash
-- too (the few pending at the upgrade are dropped). Kept in lockstep with the other backend.

ALTER TABLE persons RENAME COLUMN phone TO phone_hash;
ALTER TABLE persons ADD COLUMN phone_ct BLOB;
DELETE FROM otps;
ALTER TABLE otps RENAME COLUMN phone TO phone_key;
