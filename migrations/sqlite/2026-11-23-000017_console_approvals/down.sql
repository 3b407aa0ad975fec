ALTER TABLE sessions DROP COLUMN approval_message_id;
DROP INDEX message_recipients_administrator;
ALTER TABLE message_recipients DROP COLUMN administrator_id;
