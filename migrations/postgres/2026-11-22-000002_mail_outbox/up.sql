-- The transactional outbox: an e-mail is written in the same transaction as the change that
-- causes it, and delivered by a sender that claims rows with a lease, so nothing is lost when
-- the SMTP server is down or a service restarts, and two instances never send one row at once.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    -- The RFC 5322 Message-ID, fixed at enqueue: a retry after an ambiguous failure carries the
    -- same id, so receivers can recognise a duplicate.
    message_id TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_token TEXT,
    leased_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
