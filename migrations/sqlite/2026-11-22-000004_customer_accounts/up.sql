-- Company and contact details of customer accounts (STid "Creating an account for my
-- customer"); one row per account created by a distributor or the platform.
CREATE TABLE account_details (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    registration_number TEXT,
    vat_number TEXT,
    eori_number TEXT,
    manager TEXT NOT NULL,
    founding_date TEXT,
    capital TEXT,
    company_profile TEXT,
    city TEXT NOT NULL,
    street TEXT NOT NULL,
    zip TEXT NOT NULL,
    country TEXT NOT NULL,
    website TEXT,
    contact_title TEXT NOT NULL,
    contact_first_name TEXT NOT NULL,
    contact_last_name TEXT NOT NULL,
    contact_job_title TEXT NOT NULL,
    contact_phone TEXT,
    contact_mobile TEXT,
    -- Lower-cased name, manager and contact, for list search.
    search_text TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
