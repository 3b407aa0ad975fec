-- Enrollments (API §4.7–4.11, §5.6–5.10): a one-time link for enrolling a phone of an end user
-- or an administrator. The link's secret is an HMAC of the id under the platform's sealed link
-- key; only its SHA-256 is stored (for the lookup when the phone presents it).
CREATE TABLE enrollments (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    end_user_id TEXT REFERENCES end_users (id) ON DELETE CASCADE,
    administrator_id TEXT REFERENCES administrators (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    sent BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX enrollments_end_user ON enrollments (end_user_id);
CREATE INDEX enrollments_administrator ON enrollments (administrator_id);
