-- Devices (SPEC §3): a phone enrolled with one enrollment, holding a certificate of the devices
-- CA. The deactivation code is stored only as a hash.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    end_user_id TEXT REFERENCES end_users (id) ON DELETE CASCADE,
    administrator_id TEXT REFERENCES administrators (id) ON DELETE CASCADE,
    -- The enrollment it used (once: unique).
    enrollment_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    vendor_id TEXT NOT NULL,
    -- ANDROID, APPLE or OTHER
    device_type TEXT NOT NULL,
    app_version TEXT NOT NULL,
    push_registration TEXT,
    deactivation_hash TEXT NOT NULL,
    -- active or deactivated
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP
);
CREATE INDEX devices_end_user ON devices (end_user_id, status);
CREATE INDEX devices_administrator ON devices (administrator_id, status);

-- Device certificates live with the access-key certificates (one CRL per CA).
ALTER TABLE certificates ADD COLUMN device_id TEXT REFERENCES devices (id) ON DELETE SET NULL;
