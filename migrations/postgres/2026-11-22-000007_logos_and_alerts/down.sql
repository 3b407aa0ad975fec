DROP TABLE session_alerts;
DROP TABLE account_logos;
