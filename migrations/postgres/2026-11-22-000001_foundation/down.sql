DROP TABLE api_tokens;
DROP TABLE aliases;
DROP TABLE end_users;
DROP TABLE accounts;
DROP TABLE counters;
DROP TABLE settings;
