-- Changes that wait for the administrator's phone (SPEC §1: a forgotten password's reset, the
-- deletion of a customer account): what to do once the approval message is APPROVED. The row is
-- deleted in the transaction that does it, so it is done once.
CREATE TABLE pending_approvals (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    administrator_id TEXT NOT NULL REFERENCES administrators (id) ON DELETE CASCADE,
    -- password_reset or delete_account
    purpose TEXT NOT NULL,
    -- what it applies to: the reset link's token row, the account's OID
    target TEXT NOT NULL,
    -- what it sets: the new password's hash (argon2id)
    payload TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_approvals_administrator ON pending_approvals (administrator_id);
