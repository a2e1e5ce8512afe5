-- Settings an administrator changes while the relay runs (the admin pages, `lotse-relay
-- setting set`); each overrides the settings file's value until removed.
CREATE TABLE runtime_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
