-- Maintenance periods (PassBy[ME] "Adding maintenance"): for one application or, with no
-- application, the whole organization. State comes from the times: scheduled before starts_at,
-- active until ends_at, stopped after it or once stopped_at is set.
CREATE TABLE maintenances (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    application_id TEXT REFERENCES applications (id),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    stopped_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX maintenances_account ON maintenances (account_id, starts_at);

-- What devices are shown, per language (English required).
CREATE TABLE maintenance_texts (
    maintenance_id TEXT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (maintenance_id, language)
);
