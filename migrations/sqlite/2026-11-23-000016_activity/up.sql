-- The activity log (API §9) reads recipients of authorization messages: their progress
-- (PENDING, APPROVED, DENIED, TIMEOUT) and when they ended, kept with every status change so
-- that the log can be searched and ordered by them in the database.
ALTER TABLE message_recipients ADD COLUMN progress TEXT NOT NULL DEFAULT 'PENDING';
ALTER TABLE message_recipients ADD COLUMN ended_at TIMESTAMP;
