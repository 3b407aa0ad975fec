DROP TABLE push_credentials;
