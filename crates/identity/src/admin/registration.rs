//! Registration with an invitation, activation with the mailed code, login codes for an
//! administrator without a phone, and an organization's self-service registration.

use super::*;

/// What a person fills in to register with an invitation.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The invitation code.
    pub code: String,
    /// Login e-mail.
    pub email: Email,
    /// Password (policy-checked here).
    pub password: SecretString,
    /// Full name.
    pub full_name: String,
}

/// Registers with an invitation: the invitation is used exactly once (even under concurrent
/// attempts), the administrator exists with status Invited and its password, and an activation
/// code is mailed. Returns the administrator.
pub fn register(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    reg: &Registration,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(&reg.full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy(
        "password",
        reg.password.expose(),
        &[reg.email.as_str(), &full_name],
    )?;
    if reg.code.len() != HANDLE_CHARS + SECRET_CHARS
        || !reg.code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(IdentityError::invalid(
            "code",
            "is not a valid invitation code",
        ));
    }
    let (handle, secret) = reg.code.split_at(HANDLE_CHARS);
    throttle::hit(conn, clock, &format!("invitation:{handle}"), CODE_ATTEMPTS)?;
    let hash = password::hash(reg.password.expose())?;
    write_transaction(conn, |conn| {
        let now = clock.now().naive_utc();
        type Inv = (
            String,
            String,
            String,
            Option<String>,
            String,
            bool,
            Option<String>,
        );
        let found: Option<Inv> = invitations::table
            .filter(invitations::handle.eq(handle))
            .select((
                invitations::id,
                invitations::account_id,
                invitations::secret_hash,
                invitations::email,
                invitations::profile_id,
                invitations::scope_all,
                invitations::created_by,
            ))
            .first(conn)
            .optional()?;
        let invalid = || {
            IdentityError::invalid(
                "code",
                "is not a valid invitation code, or it has expired or been used",
            )
        };
        let (id, account, secret_hash, invited_email, profile_id, scope_all, created_by) =
            found.ok_or_else(invalid)?;
        if !constant_time_eq(secret_hash.as_bytes(), hash_token(secret).as_bytes()) {
            return Err(invalid());
        }
        // The conditional update is the once-only guarantee.
        let used = diesel::update(
            invitations::table
                .filter(invitations::id.eq(&id))
                .filter(invitations::used_at.is_null())
                .filter(invitations::expires_at.gt(now)),
        )
        .set(invitations::used_at.eq(now))
        .execute(conn)?;
        if used != 1 {
            return Err(invalid());
        }
        let account = AccountId::from_stored(account);
        let email = reg.email.as_str().to_lowercase();
        let admin_id = match &invited_email {
            Some(invited) => {
                if invited != &email {
                    return Err(IdentityError::invalid(
                        "email",
                        "must be the address the invitation was sent to",
                    ));
                }
                let admin = find_by_email(conn, invited)?.ok_or_else(invalid)?;
                diesel::update(
                    administrators::table.filter(administrators::id.eq(admin.id.as_str())),
                )
                .set((
                    administrators::full_name.eq(&full_name),
                    administrators::password_hash.eq(&hash),
                    administrators::updated_at.eq(now),
                ))
                .execute(conn)?;
                admin.id
            }
            None => {
                let profile = profile::get(conn, &account, &ProfileId::from_stored(profile_id))?;
                let id = AdministratorId::new_random();
                let scope = if scope_all {
                    ScopeChoice::All
                } else {
                    ScopeChoice::Selected(Vec::new())
                };
                insert(
                    conn,
                    clock,
                    &id,
                    &account,
                    &reg.email,
                    &full_name,
                    AdminStatus::Invited,
                    &profile,
                    &scope,
                    created_by.map(AdministratorId::from_stored).as_ref(),
                    Some(&hash),
                )?;
                id
            }
        };
        send_activation(conn, clock, links, &admin_id)?;
        history::record(
            conn,
            clock,
            &account,
            "Administrators",
            &format!("Administrator registered: {email}"),
            &full_name,
            Some(&email),
        )?;
        get(conn, &admin_id)
    })
}

/// Activation codes: 10 characters typed from an e-mail, so short; guessing is limited by the
/// per-administrator rate limit.
pub(super) const ACTIVATION_CHARS: usize = 10;

/// (Re)sends the activation code of a registered administrator.
pub fn send_activation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
) -> Result<()> {
    send_code(
        conn,
        clock,
        links,
        id,
        ("activation", ACTIVATION_VALIDITY, "admin_activation"),
        "/console/activate",
    )
}

/// E-mails an active administrator who has no phone a code to enter after their password
/// (SPEC §1 "lost device": no active phone → login code → enroll a new phone). A login code is
/// its own kind of code, valid for 15 minutes, and works only for an active administrator.
pub fn send_login_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
) -> Result<()> {
    send_code(
        conn,
        clock,
        links,
        id,
        ("login", LOGIN_CODE_VALIDITY, "admin_login_code"),
        "/console/login/phone",
    )
}

/// A new code of `purpose` for administrator `id`, e-mailed with template `template` and a link
/// to the console page `page` where it is entered.
pub(super) fn send_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
    (purpose, validity, template): (&str, TimeDelta, &str),
    page: &str,
) -> Result<()> {
    let admin = get(conn, id)?;
    let code = random_base62(ACTIVATION_CHARS);
    let expires = new_token(conn, clock, id, purpose, validity, None, &code)?;
    send_mail(
        conn,
        clock,
        links,
        &admin.account,
        template,
        &admin.email,
        minijinja::context! {
            name => admin.full_name,
            code => code,
            link => format!("{}{page}", links.console),
            expires => expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    )?;
    Ok(())
}

/// Checks the code of [`send_login_code`] for administrator `id` (once; rate-limited like
/// activation).
pub fn check_login_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &AdministratorId,
    code: &str,
) -> Result<()> {
    let admin = get(conn, id)?;
    throttle::hit(
        conn,
        clock,
        &format!("login-code:{}", admin.email),
        CODE_ATTEMPTS,
    )?;
    let invalid = || IdentityError::invalid("code", "is not valid, or it has expired or been used");
    if admin.status != AdminStatus::Active {
        return Err(invalid());
    }
    write_transaction(conn, |conn| {
        let (owner, _) = consume_token(conn, clock, "login", code.trim()).map_err(|_| invalid())?;
        if owner != admin.id {
            return Err(invalid());
        }
        history::record(
            conn,
            clock,
            &admin.account,
            "Login",
            "Login code entered (no phone enrolled)",
            &admin.full_name,
            Some(&admin.email),
        )
    })
}

/// Activates a registered administrator with the mailed code (once). Wrong codes are counted per
/// (client address, e-mail): a stranger's guesses never lock the administrator out.
pub fn activate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    email: &str,
    code: &str,
    client: &str,
) -> Result<Administrator> {
    let email = email.trim().to_lowercase();
    throttle::hit(
        conn,
        clock,
        &format!("activation:{client}:{email}"),
        CODE_ATTEMPTS,
    )?;
    write_transaction(conn, |conn| {
        let admin = find_by_email(conn, &email)?
            // Activation turns an invited administrator active; it never re-enables a disabled
            // (or an active) one.
            .filter(|a| a.status == AdminStatus::Invited)
            .ok_or_else(|| {
                IdentityError::invalid("code", "is not valid, or it has expired or been used")
            })?;
        let (owner, _) = consume_token(conn, clock, "activation", code.trim())?;
        if owner != admin.id {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        let activated = diesel::update(
            administrators::table
                .filter(administrators::id.eq(admin.id.as_str()))
                .filter(administrators::status.eq(AdminStatus::Invited.as_str())),
        )
        .set((
            administrators::status.eq(AdminStatus::Active.as_str()),
            administrators::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        if activated != 1 {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        // The first administrator to activate brings a new account to life.
        diesel::update(
            lanyard_store::schema::accounts::table
                .filter(lanyard_store::schema::accounts::id.eq(admin.account.as_str()))
                .filter(
                    lanyard_store::schema::accounts::status.eq(AccountStatus::Created.as_str()),
                ),
        )
        .set(lanyard_store::schema::accounts::status.eq(AccountStatus::Activated.as_str()))
        .execute(conn)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            &format!("Administrator activated: {email}"),
            &admin.full_name,
            Some(&email),
        )?;
        get(conn, &admin.id)
    })
}

/// Self-service registration of a new organization (SPEC §1, when the platform allows it): the
/// organization (below the platform, status Created) and its first administrator (every right,
/// status Invited until the mailed activation code is entered, which also activates the
/// organization). Rate-limited per client address.
#[expect(clippy::too_many_arguments, reason = "the registration form's fields")]
pub fn register_organization(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    organization: &str,
    email: &Email,
    password_given: &str,
    full_name: &str,
    client: &str,
) -> Result<Administrator> {
    let organization = crate::text::optional_text("organization", Some(organization), 200)?
        .ok_or_else(|| IdentityError::invalid("organization", "is required"))?;
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy("password", password_given, &[email.as_str(), &full_name])?;
    throttle::hit(
        conn,
        clock,
        &format!("signup:{client}"),
        Limit {
            max: 5,
            window: TimeDelta::hours(1),
        },
    )?;
    let hash = password::hash(password_given)?;
    write_transaction(conn, |conn| {
        if find_by_email(conn, email.as_str())?.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "{email} is already an administrator"
            )));
        }
        let platform = account::platform(conn)?;
        let oid = crate::oid::next_account(conn)?;
        let created = account::insert(
            conn,
            clock,
            account::Insert {
                oid: &oid,
                kind: account::AccountKind::Organization,
                parent_id: Some(&platform.id),
                name: &organization,
                contact_email: Some(email.as_str()),
                status: AccountStatus::Created,
            },
        )?;
        let profile = profile::builtin(conn, &created.id)?;
        let id = AdministratorId::new_random();
        insert(
            conn,
            clock,
            &id,
            &created.id,
            email,
            &full_name,
            AdminStatus::Invited,
            &profile,
            &ScopeChoice::All,
            None,
            Some(&hash),
        )?;
        send_activation(conn, clock, links, &id)?;
        history::record(
            conn,
            clock,
            &created.id,
            "My account",
            &format!("Organization registered: {organization}"),
            &full_name,
            Some(email.as_str()),
        )?;
        get(conn, &id)
    })
}
