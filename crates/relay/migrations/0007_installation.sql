-- Several relays on one PostgreSQL database (issue 19). Portable SQL like 0001.

-- The fingerprints (HMACs, never the secrets) of the secrets every relay of one installation must
-- share: the lookup key (session keys are found by their HMAC under it) and the audit key (one
-- chain under one key). A relay whose files differ is refused at start instead of forking the
-- chain or failing every key.
CREATE TABLE installation_secrets (
    file TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
