ALTER TABLE certificates DROP COLUMN device_id;
DROP TABLE devices;
