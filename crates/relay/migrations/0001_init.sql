-- Portable SQL: runs on SQLite (the embedded default) and PostgreSQL. Ids are assigned by the
-- relay, not by an autoincrement feature, and every integer is BIGINT.

CREATE TABLE reps (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0
);

-- Only the SHA-256 of a key is stored: a stolen database does not hand out live keys.
CREATE TABLE session_keys (
    key_hash TEXT PRIMARY KEY,
    rep_id BIGINT NOT NULL REFERENCES reps (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Append-only; each row carries the hash of the previous one (see audit.rs).
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
