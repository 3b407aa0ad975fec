//! Passwords and login e-mails: changes by the administrator, forgotten passwords (reset
//! link, then the phone's approval) and confirmed e-mail changes.

use super::*;

/// Changes one's own password (current password, new password); every other session of the
/// administrator ends (`keep_session` is the one making the change).
pub fn change_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &AdministratorId,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let admin = get(conn, id)?;
    check_current_password(conn, clock, &admin, current)?;
    password::check_policy("newPassword", new, &[&admin.email, &admin.full_name])?;
    let hash = password::hash(new)?;
    write_transaction(conn, |conn| {
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::password_hash.eq(&hash),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        // Whoever else holds a session of this administrator is logged out.
        crate::session::revoke_all_except(conn, clock, id, keep_session)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            "Password changed",
            &admin.full_name,
            Some(&admin.email),
        )
    })
}

/// Mails a password-reset link when `email` is an administrator's; says nothing either way
/// (no enumeration of login names). Rate-limited per address.
pub fn request_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    email: &str,
) -> Result<()> {
    let email = email.trim().to_lowercase();
    throttle::hit(conn, clock, &format!("reset:{email}"), RESET_REQUESTS)?;
    write_transaction(conn, |conn| {
        let Some(admin) = find_by_email(conn, &email)? else {
            return Ok(());
        };
        if admin.status == AdminStatus::Disabled {
            return Ok(());
        }
        send_link(
            conn,
            clock,
            links,
            &admin,
            "password_reset",
            "reset-password",
            &admin.email,
            None,
        )?;
        Ok(())
    })
}

/// Sets a new password with a reset link's token (once).
pub fn reset_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
    new: &str,
) -> Result<Administrator> {
    write_transaction(conn, |conn| {
        let reset = check_password_reset(conn, clock, token, new)?;
        finish_password_reset(conn, clock, &reset)
    })
}

/// A password reset checked but not applied yet: it waits for the administrator's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReset {
    /// The administrator.
    pub administrator: AdministratorId,
    /// The reset link's token row (its id, not the secret).
    pub token_id: String,
    /// The new password's hash.
    pub password_hash: String,
}

/// Checks a reset link's token (valid, unused, unexpired) and the new password against the
/// policy, without using the link: the reset is applied by [`finish_password_reset`], at once or
/// once the administrator's phone approves it (SPEC §1 "forgotten password").
pub fn check_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
    new: &str,
) -> Result<PendingReset> {
    let now = clock.now().naive_utc();
    let found: Option<(String, String)> = admin_tokens::table
        .filter(admin_tokens::token_hash.eq(hash_token(token)))
        .filter(admin_tokens::purpose.eq("password_reset"))
        .filter(admin_tokens::used_at.is_null())
        .filter(admin_tokens::expires_at.gt(now))
        .select((admin_tokens::id, admin_tokens::administrator_id))
        .first(conn)
        .optional()?;
    let (token_id, admin) = found.ok_or_else(|| {
        IdentityError::invalid("code", "is not valid, or it has expired or been used")
    })?;
    let admin = get(conn, &AdministratorId::from_stored(admin))?;
    password::check_policy("password", new, &[&admin.email, &admin.full_name])?;
    Ok(PendingReset {
        administrator: admin.id,
        token_id,
        password_hash: password::hash(new)?,
    })
}

/// Applies a checked reset: uses its link (once: a link used meanwhile is refused), sets the
/// password, ends the administrator's sessions and records it.
pub fn finish_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    reset: &PendingReset,
) -> Result<Administrator> {
    let now = clock.now().naive_utc();
    write_transaction(conn, |conn| {
        let used = diesel::update(
            admin_tokens::table
                .filter(admin_tokens::id.eq(&reset.token_id))
                .filter(admin_tokens::used_at.is_null())
                .filter(admin_tokens::expires_at.gt(now)),
        )
        .set(admin_tokens::used_at.eq(now))
        .execute(conn)?;
        if used != 1 {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        let id = reset.administrator.clone();
        let admin = get(conn, &id)?;
        let hash = reset.password_hash.clone();
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::password_hash.eq(&hash),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        throttle::clear(conn, &format!("login:{}", admin.email))?;
        crate::session::revoke_all(conn, clock, &id)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            "Password reset",
            &admin.full_name,
            Some(&admin.email),
        )?;
        Ok(admin)
    })
}

/// Mails a confirmation link to `new_email` (after checking the current password: a session
/// alone must not be enough to move the login elsewhere); the login changes when it is opened.
pub fn request_email_change(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
    current_password: &str,
    new_email: &Email,
) -> Result<()> {
    let admin = get(conn, id)?;
    check_current_password(conn, clock, &admin, current_password)?;
    write_transaction(conn, |conn| {
        if find_by_email(conn, new_email.as_str())?.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "{new_email} is already an administrator's login"
            )));
        }
        let lowered = new_email.as_str().to_lowercase();
        send_link(
            conn,
            clock,
            links,
            &admin,
            "email_change",
            "confirm-email",
            new_email.as_str(),
            Some(&lowered),
        )?;
        Ok(())
    })
}

/// Confirms an e-mail change with the link's token (once).
pub fn confirm_email_change(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
) -> Result<Administrator> {
    write_transaction(conn, |conn| {
        let (id, new_email) = consume_token(conn, clock, "email_change", token)?;
        let new_email = new_email
            .ok_or_else(|| IdentityError::Inconsistent("e-mail change without address".into()))?;
        let admin = get(conn, &id)?;
        let changed =
            diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
                .set((
                    administrators::email.eq(&new_email),
                    administrators::updated_at.eq(clock.now().naive_utc()),
                ))
                .execute(conn);
        match changed {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(IdentityError::Duplicate(format!(
                    "{new_email} is already an administrator's login"
                )));
            }
            Err(e) => return Err(IdentityError::Store(StoreError::Query(e))),
        }
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            &format!("Login e-mail changed to {new_email}"),
            &admin.full_name,
            Some(&admin.email),
        )?;
        get(conn, &id)
    })
}
