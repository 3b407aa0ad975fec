-- Administrators receive authorization messages too: the console asks their own phones to
-- approve logins (SPEC §1 "Login"). A recipient is an end user or an administrator.
ALTER TABLE message_recipients ADD COLUMN administrator_id TEXT REFERENCES administrators (id) ON DELETE SET NULL;
CREATE INDEX message_recipients_administrator ON message_recipients (administrator_id, status);
-- The approval message a session at the password stage waits for.
ALTER TABLE sessions ADD COLUMN approval_message_id TEXT;
