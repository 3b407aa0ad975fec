-- Attachments of outbox mails (enrollment sheets): stored with the mail so that a retry sends
-- exactly what was enqueued, and removed with it.
CREATE TABLE mail_attachments (
    mail_id TEXT NOT NULL REFERENCES mail_outbox (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mail_id, position)
);

-- Custom mobile app settings of an organization (SPEC §1): the enrollment URL scheme its app
-- registers, and the oldest app versions it still accepts. No row: the defaults (the https
-- link, any version).
CREATE TABLE mobile_app_settings (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    enrollment_scheme TEXT,
    min_android_version TEXT,
    min_ios_version TEXT,
    updated_at TIMESTAMP NOT NULL
);
