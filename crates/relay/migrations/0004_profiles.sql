-- Issue 15: security profiles and what a rep account may do beyond its own customers. Portable
-- SQL like 0001.

-- A profile limits what its holder may ask the customer for; it never grants (the customer is
-- asked for every tier). `allows` is a comma list of allowances (view, control, clipboard,
-- files-upload, files-download, sysinfo, chat).
CREATE TABLE profiles (
    name TEXT PRIMARY KEY,
    description_de TEXT NOT NULL,
    description_en TEXT NOT NULL,
    allows TEXT NOT NULL,
    for_colleagues BIGINT NOT NULL,
    for_externals BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Accounts made before keep what they could do (share with colleagues); inviting externals and
-- the new transfer are as a new account has them.
ALTER TABLE reps ADD COLUMN may_share BIGINT NOT NULL DEFAULT 1;
ALTER TABLE reps ADD COLUMN may_transfer BIGINT NOT NULL DEFAULT 1;
ALTER TABLE reps ADD COLUMN may_invite_externals BIGINT NOT NULL DEFAULT 0;
