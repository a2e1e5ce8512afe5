-- The sessions running at each relay and who is in them (issue 19), so that an administrator at
-- any relay's portal sees and ends every session of the installation. Rewritten by the session's
-- home relay whenever they change (looked at with its heartbeat). Portable SQL like 0001.
CREATE TABLE live_sessions (
    relay TEXT NOT NULL,
    session BIGINT NOT NULL,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    os TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (relay, session)
);

-- The reps in each of those sessions, in the order the relay lists them; `granted` holds the
-- tiers the customer allowed that rep, by name, separated by spaces.
CREATE TABLE session_participants (
    relay TEXT NOT NULL,
    session BIGINT NOT NULL,
    position BIGINT NOT NULL,
    login TEXT NOT NULL,
    display TEXT NOT NULL,
    owner BIGINT NOT NULL,
    external BIGINT NOT NULL,
    granted TEXT NOT NULL,
    PRIMARY KEY (relay, session, position)
);

-- An administrator's "End" for a session at another relay: the home relay ends it (audited
-- there, with the administrator as the actor) and writes the outcome ('ended', or 'gone' when
-- the session had ended already); the asking portal reads the outcome and removes the row.
CREATE TABLE session_end_requests (
    relay TEXT NOT NULL,
    session BIGINT NOT NULL,
    why TEXT NOT NULL,
    actor TEXT NOT NULL,
    asked_at BIGINT NOT NULL,
    outcome TEXT,
    PRIMARY KEY (relay, session)
);
