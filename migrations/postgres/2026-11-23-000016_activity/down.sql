ALTER TABLE message_recipients DROP COLUMN ended_at;
ALTER TABLE message_recipients DROP COLUMN progress;
