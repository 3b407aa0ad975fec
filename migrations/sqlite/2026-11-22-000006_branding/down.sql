DROP TABLE account_branding;
