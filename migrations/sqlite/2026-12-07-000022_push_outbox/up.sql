-- Push wake-ups as an outbox (issue 14 item 4): a row is written in the transaction that sends
-- the message (or asks a console approval), and a leased worker on any instance pushes it
-- through the gateways, retried with backoff: a crash between commit and push loses nothing.
CREATE TABLE push_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    -- the end user or administrator whose phones are woken
    person TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_token TEXT,
    leased_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at);
