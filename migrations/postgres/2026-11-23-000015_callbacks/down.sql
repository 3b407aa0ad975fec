DROP TABLE callback_outbox;
