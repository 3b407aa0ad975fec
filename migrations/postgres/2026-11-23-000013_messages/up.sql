-- Messages of applications to end users (SPEC §5), and one row per recipient with its status
-- (docs/messaging.md has the state machine).
CREATE TABLE messages (
    -- messageId: 24 base62 characters, safe in a URL path
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    -- The sending application (an application key's); NULL once the application is deleted.
    application_id TEXT REFERENCES applications (id) ON DELETE SET NULL,
    -- authorization, message or esign
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    callback_url TEXT,
    secure_id TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    -- Set when no recipient can change any more (all final): expiry work skips it.
    completed_at TIMESTAMP
);
CREATE INDEX messages_account ON messages (account_id, created_at);
CREATE INDEX messages_open ON messages (completed_at, expires_at);

CREATE TABLE message_recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    -- userId as the application named the person
    alias TEXT NOT NULL,
    end_user_id TEXT REFERENCES end_users (id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX message_recipients_user ON message_recipients (end_user_id, status);
