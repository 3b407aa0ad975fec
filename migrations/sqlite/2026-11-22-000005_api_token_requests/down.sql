DROP TABLE api_token_requests;
ALTER TABLE api_tokens DROP COLUMN ip_allow_list;
