-- Security review (issue 13): a credential never carries more than its maker holds.
-- A management key acts with the rights and scope recorded here, those of whoever made it.
-- NULL rights: a key made before rights were recorded, which keeps every right on its account.
ALTER TABLE access_keys ADD COLUMN rights TEXT;
ALTER TABLE access_keys ADD COLUMN can_order_credits BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE access_keys ADD COLUMN can_transfer_credits BOOLEAN NOT NULL DEFAULT TRUE;
-- NULL: the key's whole account subtree; otherwise the selected account ids, comma separated.
ALTER TABLE access_keys ADD COLUMN scope_accounts TEXT;
-- Who made the key (administrator:<id>, api-token:<id>, access-key:<id>, operator).
ALTER TABLE access_keys ADD COLUMN created_by TEXT;
-- Who may take a server-generated private key, and when it was taken (once only: the sealed key
-- is erased then).
ALTER TABLE certificates ADD COLUMN issued_by TEXT;
ALTER TABLE certificates ADD COLUMN key_taken_at TIMESTAMP;
