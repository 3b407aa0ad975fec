-- Addresses a token may be used from (comma-separated IPs and CIDR ranges); NULL = anywhere.
ALTER TABLE api_tokens ADD COLUMN ip_allow_list TEXT;

-- STid "Request a Web API token": a distributor requests a token for one of its customer
-- accounts, the platform operator approves, the distributor collects the token once.
CREATE TABLE api_token_requests (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    requested_by_account TEXT NOT NULL REFERENCES accounts (id),
    requested_by TEXT NOT NULL,
    domain_name TEXT,
    ip_allow_list TEXT,
    status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'collected', 'rejected')),
    decided_by TEXT,
    token_id TEXT REFERENCES api_tokens (id),
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP
);
CREATE INDEX api_token_requests_requester ON api_token_requests (requested_by_account);
