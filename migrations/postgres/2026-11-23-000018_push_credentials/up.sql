-- Push gateway credentials of an organization's custom mobile app (SPEC §1 "Custom mobile app"):
-- Firebase Cloud Messaging (HTTP v1, a service account) for Android, APNs (token-based, a .p8
-- key) for iOS. `settings` holds the non-secret part as JSON; the private key is sealed with the
-- master key (context: push:<account>:<platform>).
CREATE TABLE push_credentials (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- fcm or apns
    platform TEXT NOT NULL,
    settings TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, platform)
);
