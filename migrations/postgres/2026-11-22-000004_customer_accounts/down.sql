DROP TABLE account_details;
