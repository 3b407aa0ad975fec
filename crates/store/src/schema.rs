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
        /// Addresses it may be used from; none: anywhere.
        ip_allow_list -> Nullable<Text>,
    }
}

diesel::table! {
    /// Requests for API tokens (distributor → platform approval → collection).
    api_token_requests (id) {
        /// Internal id.
        id -> Text,
        /// The customer account the token is for.
        account_id -> Text,
        /// The distributor that asked.
        requested_by_account -> Text,
        /// Who asked (name).
        requested_by -> Text,
        /// Domain name of the customer's system.
        domain_name -> Nullable<Text>,
        /// Addresses the token may be used from.
        ip_allow_list -> Nullable<Text>,
        /// requested, approved, collected or rejected.
        status -> Text,
        /// Who decided (name).
        decided_by -> Nullable<Text>,
        /// The token, once collected.
        token_id -> Nullable<Text>,
        /// Request time.
        created_at -> Timestamp,
        /// Decision time.
        decided_at -> Nullable<Timestamp>,
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

diesel::table! {
    /// Attachments of outbox mails.
    mail_attachments (mail_id, position) {
        /// The mail.
        mail_id -> Text,
        /// Order within the mail.
        position -> Integer,
        /// File name shown to the recipient.
        filename -> Text,
        /// MIME type.
        content_type -> Text,
        /// Content.
        data -> Binary,
    }
}

diesel::table! {
    /// Custom mobile app settings of an organization.
    mobile_app_settings (account_id) {
        /// The organization.
        account_id -> Text,
        /// URL scheme the organization's app registers for enrollment links (e.g. `acme-id`).
        enrollment_scheme -> Nullable<Text>,
        /// Oldest Android app version accepted.
        min_android_version -> Nullable<Text>,
        /// Oldest iOS app version accepted.
        min_ios_version -> Nullable<Text>,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Messages of applications to end users.
    messages (id) {
        /// messageId.
        id -> Text,
        /// The account.
        account_id -> Text,
        /// The sending application.
        application_id -> Nullable<Text>,
        /// `authorization`, `message` or `esign`.
        kind -> Text,
        /// Subject.
        subject -> Text,
        /// Body.
        body -> Text,
        /// Where status changes are POSTed.
        callback_url -> Nullable<Text>,
        /// secureId shown on the phone.
        secure_id -> Nullable<Text>,
        /// Sent at.
        created_at -> Timestamp,
        /// Expiry (sent at + availability).
        expires_at -> Timestamp,
        /// When every recipient reached a final status.
        completed_at -> Nullable<Timestamp>,
        /// One line shown in the phone's list instead of the subject's start (console).
        preview -> Nullable<Text>,
        /// The sender's name as shown on the phone (console).
        external_identity -> Nullable<Text>,
        /// The phone makes the person type the secureId before approving.
        enforce_secure_id -> Bool,
        /// Fetchable by id, never listed, announced or pushed.
        unlisted -> Bool,
        /// Attached document's name.
        attachment_name -> Nullable<Text>,
        /// Where the attached document is downloaded.
        attachment_url -> Nullable<Text>,
        /// Until when the document is at that URL.
        attachment_expires_at -> Nullable<Timestamp>,
        /// The administrator who sent it from the console.
        sent_by -> Nullable<Text>,
    }
}

diesel::table! {
    /// Recipients of messages and their statuses.
    message_recipients (message_id, position) {
        /// The message.
        message_id -> Text,
        /// Order in the request.
        position -> Integer,
        /// userId as given.
        alias -> Text,
        /// The resolved end user.
        end_user_id -> Nullable<Text>,
        /// Recipient status.
        status -> Text,
        /// Last change.
        updated_at -> Timestamp,
        /// Activity-log progress: PENDING, APPROVED, DENIED or TIMEOUT.
        progress -> Text,
        /// When the status became final.
        ended_at -> Nullable<Timestamp>,
        /// The administrator (console approvals), when the recipient is not an end user.
        administrator_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Changes waiting for an administrator's phone to approve them.
    pending_approvals (message_id) {
        /// The approval message.
        message_id -> Text,
        /// Whose phone approves.
        administrator_id -> Text,
        /// `password_reset` or `delete_account`.
        purpose -> Text,
        /// What it applies to.
        target -> Text,
        /// What it sets.
        payload -> Nullable<Text>,
        /// Asked at.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Evidences of message recipients.
    evidences (id) {
        /// Internal id.
        id -> Text,
        /// The message.
        message_id -> Text,
        /// The recipient's position in the message.
        position -> Integer,
        /// The device that signed.
        device_id -> Text,
        /// `PROOF_OF_DELIVERY` or `SIGNED_TRANSACTION`.
        kind -> Text,
        /// The decision signed.
        decision -> Text,
        /// The device's CMS SignedData (DER).
        device_cms -> Binary,
        /// The server's counter-signature (CMS SignedData, DER).
        server_cms -> Binary,
        /// When the server received it.
        received_at -> Timestamp,
    }
}

diesel::table! {
    /// Callbacks waiting to be POSTed.
    callback_outbox (id) {
        /// Internal id.
        id -> Text,
        /// The message.
        message_id -> Text,
        /// Its account.
        account_id -> Text,
        /// Its application (the signing secret's).
        application_id -> Nullable<Text>,
        /// Where to POST.
        url -> Text,
        /// The message object (JSON).
        payload -> Text,
        /// `pending`, `sent` or `failed`.
        status -> Text,
        /// Attempts so far.
        attempts -> Integer,
        /// Earliest next attempt.
        next_attempt_at -> Timestamp,
        /// Token of the sender holding the lease.
        lease_token -> Nullable<Text>,
        /// End of the lease.
        leased_until -> Nullable<Timestamp>,
        /// Error of the last attempt.
        last_error -> Nullable<Text>,
        /// Enqueued at.
        created_at -> Timestamp,
        /// Delivered at.
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Plans (PricingData).
    plans (id) {
        /// Internal id.
        id -> Text,
        /// Unique name (Free, Standard, Premium, ...).
        name -> Text,
        /// Maximum end users.
        max_users -> BigInt,
        /// Maximum administrators (invitations count too).
        max_admins -> BigInt,
        /// Days the activity log is kept.
        days_of_activity_log -> BigInt,
        /// Maximum devices per end user.
        max_devices_per_user -> BigInt,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Settings of an account.
    account_settings (account_id) {
        /// The account.
        account_id -> Text,
        /// Assigned plan.
        plan_id -> Nullable<Text>,
        /// Validity of enrollments.
        enrollment_expiration_hours -> BigInt,
        /// Validity of invitations.
        invitation_expiration_hours -> BigInt,
        /// Send confirmation letters (deactivation codes) to end users.
        confirmation_letter_enabled -> Bool,
        /// Where failed callbacks are reported.
        failed_callback_email -> Nullable<Text>,
        /// Where deleted end users are reported.
        deleted_user_email -> Nullable<Text>,
        /// Aliases administrators may manage.
        manageable_alias_regex -> Nullable<Text>,
        /// Devices inactive longer are removed.
        max_device_inactivity_days -> Nullable<BigInt>,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Rights profiles.
    profiles (id) {
        /// Internal id.
        id -> Text,
        /// Owning account.
        account_id -> Text,
        /// Name, unique per account.
        name -> Text,
        /// The built-in Administrator profile.
        builtin -> Bool,
        /// Encoded rights matrix.
        rights -> Text,
        /// May order credits.
        can_order_credits -> Bool,
        /// May transfer credits.
        can_transfer_credits -> Bool,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Administrators.
    administrators (id) {
        /// Internal id.
        id -> Text,
        /// The account administered.
        account_id -> Text,
        /// Login e-mail (lower-cased, unique).
        email -> Text,
        /// Full name.
        full_name -> Text,
        /// Phone number.
        phone_number -> Nullable<Text>,
        /// argon2id PHC string; none until registered.
        password_hash -> Nullable<Text>,
        /// invited, active or disabled.
        status -> Text,
        /// Rights profile.
        profile_id -> Text,
        /// Whole subtree (true) or selected accounts.
        scope_all -> Bool,
        /// Who invited this administrator.
        invited_by -> Nullable<Text>,
        /// The end user this administrator was added as.
        end_user_id -> Nullable<Text>,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Selected accounts of administrators with a limited scope.
    administrator_scopes (administrator_id, account_id) {
        /// The administrator.
        administrator_id -> Text,
        /// An account in scope.
        account_id -> Text,
    }
}

diesel::table! {
    /// Invitations of administrators.
    invitations (id) {
        /// Internal id.
        id -> Text,
        /// The account invited to.
        account_id -> Text,
        /// Public part of the code.
        handle -> Text,
        /// Hash of the secret part.
        secret_hash -> Text,
        /// Invited address, for e-mail invitations.
        email -> Nullable<Text>,
        /// Profile the new administrator gets.
        profile_id -> Text,
        /// Scope the new administrator gets.
        scope_all -> Bool,
        /// Inviting administrator.
        created_by -> Nullable<Text>,
        /// Expiry.
        expires_at -> Timestamp,
        /// When used.
        used_at -> Nullable<Timestamp>,
        /// Creation time.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Once-only secrets of administrators.
    admin_tokens (id) {
        /// Internal id.
        id -> Text,
        /// The administrator.
        administrator_id -> Text,
        /// activation, password_reset or email_change.
        purpose -> Text,
        /// Hash of the secret.
        token_hash -> Text,
        /// New address, for e-mail changes.
        new_email -> Nullable<Text>,
        /// Expiry.
        expires_at -> Timestamp,
        /// When used.
        used_at -> Nullable<Timestamp>,
        /// Creation time.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Rate-limit windows.
    rate_limits (key) {
        /// Purpose and subject.
        key -> Text,
        /// Start of the current window.
        window_start -> Timestamp,
        /// Hits in the window.
        hits -> BigInt,
    }
}

diesel::table! {
    /// Console sessions.
    sessions (id) {
        /// Internal id.
        id -> Text,
        /// Hash of the cookie token.
        token_hash -> Text,
        /// The administrator.
        administrator_id -> Text,
        /// password or complete.
        stage -> Text,
        /// CSRF token of the session's forms.
        csrf_token -> Text,
        /// Creation time.
        created_at -> Timestamp,
        /// Last request.
        last_seen_at -> Timestamp,
        /// Absolute expiry.
        expires_at -> Timestamp,
        /// Logout or revocation time.
        revoked_at -> Nullable<Timestamp>,
        /// The phone approval this session waits for (password stage).
        approval_message_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// E-mail templates overridden by an account.
    mail_templates (account_id, name) {
        /// The account.
        account_id -> Text,
        /// Template name.
        name -> Text,
        /// Subject template.
        subject -> Text,
        /// Plain-text template.
        body_text -> Text,
        /// HTML template.
        body_html -> Nullable<Text>,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Company and contact details of customer accounts.
    account_details (account_id) {
        /// The account.
        account_id -> Text,
        /// Registration number.
        registration_number -> Nullable<Text>,
        /// VAT identification.
        vat_number -> Nullable<Text>,
        /// EORI number.
        eori_number -> Nullable<Text>,
        /// CEO or manager.
        manager -> Text,
        /// Founding date (as entered).
        founding_date -> Nullable<Text>,
        /// Capital (as entered).
        capital -> Nullable<Text>,
        /// Company profile.
        company_profile -> Nullable<Text>,
        /// City.
        city -> Text,
        /// Street address.
        street -> Text,
        /// Zip code.
        zip -> Text,
        /// Country.
        country -> Text,
        /// Website.
        website -> Nullable<Text>,
        /// Contact's title (Mr, Mrs, ...).
        contact_title -> Text,
        /// Contact's first name.
        contact_first_name -> Text,
        /// Contact's last name.
        contact_last_name -> Text,
        /// Contact's job title.
        contact_job_title -> Text,
        /// Contact's phone.
        contact_phone -> Nullable<Text>,
        /// Contact's mobile.
        contact_mobile -> Nullable<Text>,
        /// Lower-cased searchable text.
        search_text -> Text,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The look of the console per account.
    account_branding (account_id) {
        /// The account.
        account_id -> Text,
        /// Header colour (#rrggbb).
        header_color -> Nullable<Text>,
        /// Footer colour (#rrggbb).
        footer_color -> Nullable<Text>,
        /// Copyright text.
        copyright -> Nullable<Text>,
        /// Labels of the custom fields, one per line.
        field_labels -> Nullable<Text>,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The account history (append-only).
    account_history (id) {
        /// Internal id.
        id -> Text,
        /// The account the change belongs to.
        account_id -> Text,
        /// When.
        occurred_at -> Timestamp,
        /// Area (page) of the change.
        area -> Text,
        /// What was done.
        action -> Text,
        /// Who: an administrator's name or an API token's name.
        performed_by -> Text,
        /// The administrator's e-mail.
        performed_by_email -> Nullable<Text>,
        /// Lower-cased text for search.
        search_text -> Text,
    }
}

diesel::table! {
    /// Logos per account and slot.
    account_logos (account_id, slot) {
        /// The account.
        account_id -> Text,
        /// header, footer_company or footer.
        slot -> Text,
        /// image/png or image/jpeg.
        content_type -> Text,
        /// Width in pixels.
        width -> Integer,
        /// Height in pixels.
        height -> Integer,
        /// The image.
        data -> Binary,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Alerts shown to a console session.
    session_alerts (id) {
        /// Order of showing.
        id -> BigInt,
        /// The session.
        session_id -> Text,
        /// When it was shown.
        shown_at -> Timestamp,
        /// notice or error.
        kind -> Text,
        /// The text.
        message -> Text,
    }
}

diesel::table! {
    /// Root and issuing CAs, per generation.
    certificate_authorities (id) {
        /// "<purpose>-<generation>".
        id -> Text,
        /// root, access-keys, devices, evidence, tls.
        purpose -> Text,
        /// Generation (rotation count).
        generation -> Integer,
        /// Signing CA.
        parent_id -> Nullable<Text>,
        /// Certificate.
        cert_pem -> Text,
        /// Private key sealed under the master key.
        key_sealed -> Text,
        /// End of validity.
        not_after -> Timestamp,
        /// Issues new certificates.
        active -> Bool,
        /// Number of the latest CRL.
        crl_number -> BigInt,
        /// The latest CRL.
        crl_der -> Nullable<Binary>,
        /// When the next CRL is due.
        crl_next_update -> Nullable<Timestamp>,
        /// Creation time.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Applications of an organization.
    applications (id) {
        /// Id (the API's applicationId).
        id -> Text,
        /// The organization.
        account_id -> Text,
        /// Name.
        name -> Text,
        /// Uploaded SVG icon.
        icon_svg -> Nullable<Binary>,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Access keys.
    access_keys (id) {
        /// Id.
        id -> Text,
        /// The organization.
        account_id -> Text,
        /// application or management.
        kind -> Text,
        /// Name.
        name -> Text,
        /// Application of an application key.
        application_id -> Nullable<Text>,
        /// Creation time.
        created_at -> Timestamp,
        /// Deletion time.
        deleted_at -> Nullable<Timestamp>,
        /// Rights of a management key (encoded); NULL: every right (made before rights were
        /// recorded).
        rights -> Nullable<Text>,
        /// Credit flag of the key's rights.
        can_order_credits -> Bool,
        /// Credit flag of the key's rights.
        can_transfer_credits -> Bool,
        /// Selected accounts (comma separated); NULL: the whole subtree.
        scope_accounts -> Nullable<Text>,
        /// Who made the key.
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    /// Issued client certificates.
    certificates (serial) {
        /// Serial, upper-case hex.
        serial -> Text,
        /// Issuing CA.
        ca_id -> Text,
        /// Owning account.
        account_id -> Text,
        /// Access key.
        access_key_id -> Nullable<Text>,
        /// Subject, one line.
        subject -> Text,
        /// Start of validity.
        not_before -> Timestamp,
        /// End of validity.
        not_after -> Timestamp,
        /// active or revoked.
        status -> Text,
        /// Revocation time.
        revoked_at -> Nullable<Timestamp>,
        /// Certificate PEM.
        cert_pem -> Text,
        /// Server-generated private key, sealed.
        key_sealed -> Nullable<Text>,
        /// PFX password, sealed.
        pfx_password_sealed -> Nullable<Text>,
        /// Creation time.
        created_at -> Timestamp,
        /// Device (device certificates).
        device_id -> Nullable<Text>,
        /// Who may take the server-generated private key (once).
        issued_by -> Nullable<Text>,
        /// When the server-generated private key was taken (and erased).
        key_taken_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Maintenance periods.
    maintenances (id) {
        /// Id.
        id -> Text,
        /// The organization.
        account_id -> Text,
        /// The application; NULL for the whole organization.
        application_id -> Nullable<Text>,
        /// Start.
        starts_at -> Timestamp,
        /// Planned end.
        ends_at -> Timestamp,
        /// When it was stopped early.
        stopped_at -> Nullable<Timestamp>,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Texts of a maintenance per language.
    maintenance_texts (maintenance_id, language) {
        /// The maintenance.
        maintenance_id -> Text,
        /// ISO 639-1 code.
        language -> Text,
        /// Subject.
        subject -> Text,
        /// Body.
        body -> Text,
    }
}

diesel::table! {
    /// Enrollments of phones.
    enrollments (id) {
        /// The public enrollmentId.
        id -> Text,
        /// The account.
        account_id -> Text,
        /// The end user (or NULL).
        end_user_id -> Nullable<Text>,
        /// The administrator (or NULL).
        administrator_id -> Nullable<Text>,
        /// SHA-256 of the link secret.
        secret_hash -> Text,
        /// Expiry.
        expires_at -> Timestamp,
        /// When a device used it.
        used_at -> Nullable<Timestamp>,
        /// Whether the sheet was e-mailed.
        sent -> Bool,
        /// Creation time.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Enrolled devices.
    devices (id) {
        /// Id.
        id -> Text,
        /// The account.
        account_id -> Text,
        /// The end user (or NULL).
        end_user_id -> Nullable<Text>,
        /// The administrator (or NULL).
        administrator_id -> Nullable<Text>,
        /// The enrollment used.
        enrollment_id -> Text,
        /// Device name.
        name -> Text,
        /// Vendor id.
        vendor_id -> Text,
        /// ANDROID, APPLE or OTHER.
        device_type -> Text,
        /// App version.
        app_version -> Text,
        /// Push registration.
        push_registration -> Nullable<Text>,
        /// Hash of the deactivation code.
        deactivation_hash -> Text,
        /// active or deactivated.
        status -> Text,
        /// Enrollment time.
        created_at -> Timestamp,
        /// Last call.
        last_seen_at -> Timestamp,
        /// Deactivation time.
        deactivated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Push wake-ups waiting to be sent (an outbox).
    push_outbox (id) {
        /// Id.
        id -> Text,
        /// The organization (whose push credentials are used).
        account_id -> Text,
        /// The message the phones are told of.
        message_id -> Text,
        /// The end user or administrator whose phones are woken.
        person -> Text,
        /// Failed attempts so far.
        attempts -> Integer,
        /// When it is due.
        next_attempt_at -> Timestamp,
        /// The lease of the worker sending it.
        lease_token -> Nullable<Text>,
        /// Until when that lease holds.
        leased_until -> Nullable<Timestamp>,
        /// Enqueue time.
        created_at -> Timestamp,
    }
}

diesel::joinable!(aliases -> end_users (end_user_id));
diesel::table! {
    /// Push gateway credentials of an organization's app.
    push_credentials (account_id, platform) {
        /// The organization.
        account_id -> Text,
        /// fcm or apns.
        platform -> Text,
        /// Non-secret settings (JSON).
        settings -> Text,
        /// The private key, sealed.
        key_sealed -> Text,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::joinable!(message_recipients -> messages (message_id));
diesel::joinable!(certificates -> access_keys (access_key_id));
diesel::joinable!(end_users -> accounts (account_id));
diesel::joinable!(account_details -> accounts (account_id));
diesel::joinable!(api_tokens -> accounts (account_id));
diesel::joinable!(administrators -> profiles (profile_id));
diesel::joinable!(administrators -> accounts (account_id));
diesel::joinable!(account_settings -> plans (plan_id));
diesel::joinable!(administrator_scopes -> administrators (administrator_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    counters,
    accounts,
    end_users,
    aliases,
    api_tokens,
    mail_outbox,
    mail_attachments,
    messages,
    message_recipients,
    pending_approvals,
    evidences,
    callback_outbox,
    mobile_app_settings,
    plans,
    account_settings,
    profiles,
    administrators,
    administrator_scopes,
    invitations,
    admin_tokens,
    rate_limits,
    sessions,
    account_history,
    mail_templates,
    account_details,
    api_token_requests,
    account_branding,
    account_logos,
    session_alerts,
    certificate_authorities,
    applications,
    access_keys,
    certificates,
    maintenances,
    maintenance_texts,
    enrollments,
    devices,
    push_credentials,
    push_outbox,
);
