ALTER TABLE messages DROP COLUMN sent_by;
ALTER TABLE messages DROP COLUMN attachment_expires_at;
ALTER TABLE messages DROP COLUMN attachment_url;
ALTER TABLE messages DROP COLUMN attachment_name;
ALTER TABLE messages DROP COLUMN unlisted;
ALTER TABLE messages DROP COLUMN enforce_secure_id;
ALTER TABLE messages DROP COLUMN external_identity;
ALTER TABLE messages DROP COLUMN preview;
