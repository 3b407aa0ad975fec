-- Plans (PassBy[ME] PricingData); editable by the platform operator.
CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    max_users BIGINT NOT NULL,
    max_admins BIGINT NOT NULL,
    days_of_activity_log BIGINT NOT NULL,
    max_devices_per_user BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Settings of an account (PassBy[ME] "Modifying account details", OrganizationData).
CREATE TABLE account_settings (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    plan_id TEXT REFERENCES plans (id),
    enrollment_expiration_hours BIGINT NOT NULL,
    invitation_expiration_hours BIGINT NOT NULL,
    confirmation_letter_enabled BOOLEAN NOT NULL,
    failed_callback_email TEXT,
    deleted_user_email TEXT,
    manageable_alias_regex TEXT,
    max_device_inactivity_days BIGINT,
    updated_at TIMESTAMP NOT NULL
);

-- Named rights sets. rights: "area:vced" entries separated by commas (v view, c create,
-- e edit, d delete), parsed and validated by the identity crate.
CREATE TABLE profiles (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    builtin BOOLEAN NOT NULL,
    rights TEXT NOT NULL,
    can_order_credits BOOLEAN NOT NULL,
    can_transfer_credits BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE administrators (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    -- The login name; unique over the installation, lower-cased.
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    phone_number TEXT,
    password_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    profile_id TEXT NOT NULL REFERENCES profiles (id),
    -- true: the whole account subtree; false: only the accounts in administrator_scopes.
    scope_all BOOLEAN NOT NULL,
    invited_by TEXT REFERENCES administrators (id) ON DELETE SET NULL,
    -- The end user this administrator was added as (PassBy[ME] API §5.2), if any.
    end_user_id TEXT REFERENCES end_users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX administrators_account ON administrators (account_id);

CREATE TABLE administrator_scopes (
    administrator_id TEXT NOT NULL REFERENCES administrators (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (administrator_id, account_id)
);

-- Invitation codes: a public handle (listed, used to delete) and a secret stored as a hash.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    handle TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    email TEXT,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    scope_all BOOLEAN NOT NULL,
    created_by TEXT REFERENCES administrators (id) ON DELETE SET NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX invitations_account ON invitations (account_id);

-- Once-only secrets of administrators: activation codes, password reset and e-mail change
-- links. Stored hashed; consumed by a conditional update.
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    administrator_id TEXT NOT NULL REFERENCES administrators (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    new_email TEXT,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- Fixed-window counters for rate limits and backoff, keyed by purpose and subject.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits BIGINT NOT NULL
);

-- Console sessions; the cookie carries the token, the table only its hash.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    administrator_id TEXT NOT NULL REFERENCES administrators (id) ON DELETE CASCADE,
    -- 'password' until every required step is done, then 'complete'.
    stage TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_administrator ON sessions (administrator_id);

-- The account history: append-only (no code updates or deletes it).
CREATE TABLE account_history (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    occurred_at TIMESTAMP NOT NULL,
    area TEXT NOT NULL,
    action TEXT NOT NULL,
    performed_by TEXT NOT NULL,
    performed_by_email TEXT,
    search_text TEXT NOT NULL
);
CREATE INDEX account_history_account_time ON account_history (account_id, occurred_at);

-- E-mail templates overridden by an account (STid personalization); child accounts inherit
-- the nearest ancestor's override, else the built-in text.
CREATE TABLE mail_templates (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, name)
);
