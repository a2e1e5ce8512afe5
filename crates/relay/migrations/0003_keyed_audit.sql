-- Issue 13: the audit chain is keyed and session keys are stored keyed. Portable SQL like 0001.

-- Entries written from now on carry an HMAC-SHA256 under the relay's audit key (a file beside
-- the identity, never in the database); the entries already here stay as they were written
-- (plain SHA-256, keyed = 0) and form the chain's first segment, which the keyed segment
-- continues (see audit.rs).
ALTER TABLE audit ADD COLUMN keyed BIGINT NOT NULL DEFAULT 0;

-- Session keys are now stored as an HMAC under a secret outside the database. The rows stored
-- so far hold the plain SHA-256 of nine digits, which a copy of the database gives away by
-- trying all 10^9: drop them. Keys live 20 minutes at most, so at worst a key handed out just
-- before the upgrade must be made again.
DELETE FROM session_keys;
