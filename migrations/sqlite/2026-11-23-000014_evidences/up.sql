-- Evidences (SPEC §5): what a phone signed about a message (CMS SignedData by its device key)
-- and the server's counter-signature over it with the receive time.
CREATE TABLE evidences (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- The recipient (position in the message).
    position INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    -- PROOF_OF_DELIVERY or SIGNED_TRANSACTION
    kind TEXT NOT NULL,
    -- DOWNLOADED, SEEN, APPROVED or DENIED
    decision TEXT NOT NULL,
    device_cms BLOB NOT NULL,
    server_cms BLOB NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX evidences_message ON evidences (message_id, position, received_at);
