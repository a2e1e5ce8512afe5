-- Several relays on one PostgreSQL database (issue 19). Portable SQL like 0001.

-- The fingerprints (HMACs, never the secrets) of the secrets every relay of one installation must
-- share: the lookup key (session keys are found by their HMAC under it) and the audit key (one
-- chain under one key). A relay whose files differ is refused at start instead of forking the
-- chain or failing every key.
CREATE TABLE installation_secrets (
    file TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);

-- Every relay of the installation (a traffic node): the address reps and customers reach it at,
-- its heartbeat (Unix seconds; one that stopped heartbeating counts as gone) and its load (the
-- customers connected to it), by which downloads order the other relays.
CREATE TABLE relays (
    address TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    accepting BIGINT NOT NULL DEFAULT 1,
    load BIGINT NOT NULL DEFAULT 0
);

-- The customers waiting at each relay, so that their rep sees them from any relay. Rewritten
-- by the relay they wait at whenever its queues change; what the customer said of themselves,
-- already bounded like in the queue message.
CREATE TABLE queue_entries (
    relay TEXT NOT NULL,
    entry BIGINT NOT NULL,
    rep_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    os TEXT NOT NULL,
    arrival TEXT NOT NULL,
    arrival_detail TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (relay, entry)
);

-- The codes that lead into a session at each relay (a colleague's share code, an external's
-- invitation key), as HMACs under the lookup key: a code typed at another relay is sent there.
CREATE TABLE join_codes (
    relay TEXT NOT NULL,
    code_mac TEXT NOT NULL,
    PRIMARY KEY (relay, code_mac)
);

-- The support portal's address of each relay, so that an invitation link opened at another
-- relay's portal is sent to the right one.
ALTER TABLE relays ADD COLUMN portal_url TEXT;
