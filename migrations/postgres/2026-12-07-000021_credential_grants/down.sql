ALTER TABLE certificates DROP COLUMN key_taken_at;
ALTER TABLE certificates DROP COLUMN issued_by;
ALTER TABLE access_keys DROP COLUMN created_by;
ALTER TABLE access_keys DROP COLUMN scope_accounts;
ALTER TABLE access_keys DROP COLUMN can_transfer_credits;
ALTER TABLE access_keys DROP COLUMN can_order_credits;
ALTER TABLE access_keys DROP COLUMN rights;
