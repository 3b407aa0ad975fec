//! Console login with e-mail and password (lockout per client and login name), and the
//! current-password check of changes.

use super::*;

/// Checks a login name and password. Failures are counted per (client address, login name) and
/// per client address; after [`LOGIN_FAILURES`] that client's logins to that name are refused
/// for the rest of the window — a stranger's wrong passwords never lock the owner out. Every
/// attempt is recorded in the account history.
pub fn login(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    email: &str,
    password_given: &str,
    client: &str,
) -> Result<Administrator> {
    let email = email.trim().to_lowercase();
    let by_name = format!("login:{client}:{email}");
    let by_client = format!("login-client:{client}");
    // The attempt is counted before the password is checked, so parallel guesses cannot all
    // slip under the limit; a successful login clears the count.
    throttle::hit(conn, clock, &by_name, LOGIN_FAILURES)?;
    throttle::check(
        conn,
        clock,
        &by_client,
        Limit {
            max: LOGIN_FAILURES.max * 4,
            window: LOGIN_FAILURES.window,
        },
    )?;
    let found = find_by_email(conn, &email)?;
    let stored: Option<String> = match &found {
        Some(a) => administrators::table
            .filter(administrators::id.eq(a.id.as_str()))
            .select(administrators::password_hash)
            .first::<Option<String>>(conn)?,
        None => None,
    };
    let ok = match &stored {
        Some(hash) => password::verify(password_given, hash),
        None => {
            password::verify_dummy(password_given);
            false
        }
    };
    let refused = || IdentityError::Forbidden("the e-mail or the password is not correct".into());
    let Some(admin) = found.filter(|_| ok) else {
        throttle::hit(
            conn,
            clock,
            &by_client,
            Limit {
                max: LOGIN_FAILURES.max * 4,
                window: LOGIN_FAILURES.window,
            },
        )?;
        if let Some(a) = find_by_email(conn, &email)? {
            history::record(
                conn,
                clock,
                &a.account,
                "Login",
                "Failed login",
                &a.full_name,
                Some(&a.email),
            )?;
        }
        return Err(refused());
    };
    match admin.status {
        AdminStatus::Active => {}
        AdminStatus::Invited => {
            return Err(IdentityError::NotAllowed(
                "activate your account first with the code we e-mailed you".into(),
            ));
        }
        AdminStatus::Disabled => {
            return Err(IdentityError::NotAllowed(
                "this administrator is disabled".into(),
            ));
        }
    }
    if matches!(
        account::get(conn, &admin.account)?.status,
        AccountStatus::Disabled | AccountStatus::Deleted
    ) {
        return Err(IdentityError::NotAllowed("this account is disabled".into()));
    }
    throttle::clear(conn, &by_name)?;
    // "Logged in" is recorded by the console once the login is complete (after the phone's
    // approval when one is needed).
    history::record(
        conn,
        clock,
        &admin.account,
        "Login",
        "Password accepted",
        &admin.full_name,
        Some(&admin.email),
    )?;
    Ok(admin)
}

/// Checks an administrator's current password (for changes that need it), counted against the
/// same limit as logins so that a stolen session cannot guess it.
pub(super) fn check_current_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &Administrator,
    current: &str,
) -> Result<()> {
    let key = format!("current-password:{}", admin.id.as_str());
    throttle::hit(conn, clock, &key, LOGIN_FAILURES)?;
    let stored: Option<String> = administrators::table
        .filter(administrators::id.eq(admin.id.as_str()))
        .select(administrators::password_hash)
        .first(conn)?;
    if !stored.is_some_and(|h| password::verify(current, &h)) {
        return Err(IdentityError::invalid("currentPassword", "is not correct"));
    }
    throttle::clear(conn, &key)
}
