-- Accounts for the portal and the console alike: a role, disabling, and the second factor.
-- `role`: 'rep' or 'admin' (admins must use a second factor).
ALTER TABLE reps ADD COLUMN role TEXT NOT NULL DEFAULT 'rep';
-- A disabled account cannot log in, and its live consoles are dropped.
ALTER TABLE reps ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
-- The TOTP secret (base32), NULL while no second factor is set up.
ALTER TABLE reps ADD COLUMN totp_secret TEXT;
-- The last TOTP time step accepted: a code is accepted once, and none older than it.
ALTER TABLE reps ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
-- When the password or the second factor was last reset: portal sessions from before are void.
ALTER TABLE reps ADD COLUMN credentials_at BIGINT NOT NULL DEFAULT 0;

-- One-time recovery codes, stored as HMACs under the lookup key (like session keys).
CREATE TABLE recovery_codes (
    rep_id BIGINT NOT NULL REFERENCES reps (id),
    code_mac TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (rep_id, code_mac)
);
