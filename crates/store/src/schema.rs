//! The one description of the database schema, shared by both backends.
//!
//! Written by hand to match `migrations/sqlite` and `migrations/postgres`; the test
//! `schema_matches_on_both_backends` keeps the three in agreement.

diesel::table! {
    /// Installation-wide settings chosen at bootstrap.
    settings (name) {
        /// Setting name.
        name -> Text,
        /// Setting value.
        value -> Text,
    }
}

diesel::table! {
    /// Monotonic counters (OID allocation).
    counters (name) {
        /// Counter name.
        name -> Text,
        /// Last value handed out.
        value -> BigInt,
    }
}

diesel::table! {
    /// Nodes of the tenancy tree.
    accounts (id) {
        /// Internal id.
        id -> Text,
        /// OID `<root>.3.2.<n>`.
        oid -> Text,
        /// `platform`, `distributor` or `organization`.
        kind -> Text,
        /// Parent account; `NULL` only for the platform.
        parent_id -> Nullable<Text>,
        /// Display name.
        name -> Text,
        /// Contact e-mail printed on enrollment sheets.
        contact_email -> Nullable<Text>,
        /// Account status.
        status -> Text,
        /// Creation time (UTC).
        created_at -> Timestamp,
        /// Last change (UTC).
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// People of an organization.
    end_users (id) {
        /// Internal id.
        id -> Text,
        /// Owning organization.
        account_id -> Text,
        /// Last arc of the OID; orders users by creation.
        seq -> BigInt,
        /// OID `<root>.3.3.<seq>`.
        oid -> Text,
        /// Full name.
        full_name -> Nullable<Text>,
        /// E-mail address.
        email -> Nullable<Text>,
        /// Phone number.
        phone_number -> Nullable<Text>,
        /// Disabled by an administrator.
        disabled -> Bool,
        /// Lower-cased searchable text (OID, aliases, name, e-mail, phone).
        search_text -> Text,
        /// Creation time (UTC).
        created_at -> Timestamp,
        /// Last change (UTC).
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Aliases (PassBy[ME] IDs) of end users, unique per organization.
    aliases (account_id, alias) {
        /// Owning organization.
        account_id -> Text,
        /// The alias.
        alias -> Text,
        /// The end user it addresses.
        end_user_id -> Text,
        /// Creation time (UTC); the first alias is the primary one.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Bearer tokens of the management API.
    api_tokens (id) {
        /// Internal id.
        id -> Text,
        /// The account the token acts for.
        account_id -> Text,
        /// A name to recognise it by.
        name -> Text,
        /// SHA-256 of the token, hex.
        token_hash -> Text,
        /// The first characters of the token, for lists.
        token_prefix -> Text,
        /// Creation time (UTC).
        created_at -> Timestamp,
        /// Revocation time, if revoked.
        revoked_at -> Nullable<Timestamp>,
        /// Last successful use.
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The e-mail outbox.
    mail_outbox (id) {
        /// Internal id.
        id -> Text,
        /// RFC 5322 Message-ID.
        message_id -> Text,
        /// The account the mail concerns (for templates and history).
        account_id -> Nullable<Text>,
        /// Name of the template it was rendered from.
        template -> Text,
        /// Recipient address.
        recipient -> Text,
        /// Subject.
        subject -> Text,
        /// Plain-text part.
        body_text -> Text,
        /// HTML part.
        body_html -> Nullable<Text>,
        /// `pending`, `sent` or `failed`.
        status -> Text,
        /// Delivery attempts so far.
        attempts -> Integer,
        /// Earliest time of the next attempt.
        next_attempt_at -> Timestamp,
        /// Token of the sender holding the lease.
        lease_token -> Nullable<Text>,
        /// End of the lease.
        leased_until -> Nullable<Timestamp>,
        /// Error of the last failed attempt.
        last_error -> Nullable<Text>,
        /// Enqueue time.
        created_at -> Timestamp,
        /// Delivery time.
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(aliases -> end_users (end_user_id));
diesel::joinable!(end_users -> accounts (account_id));
diesel::joinable!(api_tokens -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    counters,
    accounts,
    end_users,
    aliases,
    api_tokens,
    mail_outbox,
);
