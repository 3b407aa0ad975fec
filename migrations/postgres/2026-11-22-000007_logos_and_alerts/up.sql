-- Logos of an account (STid "Personalization panel"): one image per slot, inherited by child
-- accounts that have none of their own.
CREATE TABLE account_logos (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    -- header, footer_company or footer.
    slot TEXT NOT NULL,
    -- image/png or image/jpeg, from the bytes (never from the upload's claim).
    content_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    data BYTEA NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, slot)
);

-- The alerts a console session has shown (seed 001 "Alert History"); they go with the session.
CREATE TABLE session_alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    shown_at TIMESTAMP NOT NULL,
    -- notice or error.
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX session_alerts_session ON session_alerts (session_id, id);
