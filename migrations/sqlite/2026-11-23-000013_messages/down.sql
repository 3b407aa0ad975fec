DROP TABLE message_recipients;
DROP TABLE messages;
