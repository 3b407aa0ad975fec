-- The look of the console per account (STid "Personalization panel"); NULL fields inherit from
-- the nearest ancestor that sets them.
CREATE TABLE account_branding (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    header_color TEXT,
    footer_color TEXT,
    copyright TEXT,
    field_labels TEXT,
    updated_at TIMESTAMP NOT NULL
);
