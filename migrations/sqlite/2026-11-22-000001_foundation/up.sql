-- Installation-wide settings chosen at bootstrap (OID root, ...).
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Monotonic counters (OID allocation); incremented with UPDATE ... RETURNING, race-free.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    oid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('platform', 'distributor', 'organization')),
    parent_id TEXT REFERENCES accounts (id),
    name TEXT NOT NULL,
    contact_email TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX accounts_parent ON accounts (parent_id);

CREATE TABLE end_users (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    seq BIGINT NOT NULL UNIQUE,
    oid TEXT NOT NULL UNIQUE,
    full_name TEXT,
    email TEXT,
    phone_number TEXT,
    disabled BOOLEAN NOT NULL,
    -- Lower-cased OID, aliases, name, e-mail and phone, kept by the identity crate in the same
    -- transaction as every change to them: a list search is one LIKE over one column instead
    -- of a LIKE per column plus a subquery per row over the aliases.
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX end_users_account_seq ON end_users (account_id, seq);

-- Aliases (PassBy[ME] IDs, loginNames): unique per organization, enforced here.
CREATE TABLE aliases (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    alias TEXT NOT NULL,
    end_user_id TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, alias)
);
CREATE INDEX aliases_end_user ON aliases (end_user_id, created_at);

-- Bearer tokens of the management API; only a SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
