-- What the console's advanced messages add (seed 000 "Advanced messages"): a preview line, the
-- external identity shown as the sender, secureId enforcement, an attachment by URL, unlisted
-- messages (fetchable by id, never listed or announced), and the administrator who sent it.
ALTER TABLE messages ADD COLUMN preview TEXT;
ALTER TABLE messages ADD COLUMN external_identity TEXT;
ALTER TABLE messages ADD COLUMN enforce_secure_id BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN unlisted BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN attachment_name TEXT;
ALTER TABLE messages ADD COLUMN attachment_url TEXT;
ALTER TABLE messages ADD COLUMN attachment_expires_at TIMESTAMP;
ALTER TABLE messages ADD COLUMN sent_by TEXT REFERENCES administrators (id) ON DELETE SET NULL;
