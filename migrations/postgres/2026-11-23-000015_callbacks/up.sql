-- Callbacks (SPEC §5): every recipient status change of a message with a callbackUrl is POSTed
-- to it, signed, from this outbox (written in the change's transaction, retried with backoff).
CREATE TABLE callback_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    application_id TEXT,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, sent or failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_token TEXT,
    leased_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX callback_outbox_due ON callback_outbox (status, next_attempt_at);
