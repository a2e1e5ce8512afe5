-- The support portal (issue 7). Portable SQL like 0001.

-- One-time queue tokens: a way into one rep's queue without a session key. The portal mints one
-- when a customer picks a rep from the list (kind 'list'); `lotse-rep invite` mints one for an
-- invitation link (kind 'invite', with the address it was made for). The personalised download
-- carries the token; redeeming it over QUIC uses it up. As with keys, only the SHA-256 is stored.
CREATE TABLE queue_tokens (
    token_hash TEXT PRIMARY KEY,
    rep_id BIGINT NOT NULL REFERENCES reps (id),
    kind TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
