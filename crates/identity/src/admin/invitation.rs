//! Invitations of administrators (SPEC §1, API §5): by e-mail link or by code, the
//! bootstrap's setup link, listing and withdrawing open invitations.

use super::*;

/// A created invitation. `code` is the only time the full code exists.
#[derive(Debug)]
pub struct CreatedInvitation {
    /// Public part: listed, and accepted by delete.
    pub handle: String,
    /// The full code to give to the invitee.
    pub code: SecretString,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// An open invitation as listed (InvitationData: the code's public part and its expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvitation {
    /// Public part of the code.
    pub handle: String,
    /// Invited address, for e-mail invitations.
    pub email: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

pub(super) const HANDLE_CHARS: usize = 8;
pub(super) const SECRET_CHARS: usize = 16;

/// Invites an administrator to `account`: by code only (`email` none: the code is shown to the
/// inviter), or by e-mail (an administrator in status Invited appears at once and the code and
/// link are mailed). The new administrator gets `profile` and `scope`, which may not exceed the
/// inviter's own rights.
#[expect(
    clippy::too_many_arguments,
    reason = "one value per column of the row being written"
)]
pub fn invite(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: Option<&Email>,
    profile_id: &ProfileId,
    scope: &ScopeChoice,
) -> Result<CreatedInvitation> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Administrators, Verb::Create, account)?;
        let profile = profile::get(conn, account, profile_id)?;
        if !actor.rights.includes(&profile.rights) {
            return Err(IdentityError::Forbidden(
                "you cannot give rights you do not have".into(),
            ));
        }
        check_scope(conn, actor, account, scope)?;
        if email.is_none() && matches!(scope, ScopeChoice::Selected(_)) {
            // A code-only invitation creates its administrator at registration and does not
            // store selected accounts; the scope is set on the administrator afterwards.
            return Err(IdentityError::invalid(
                "scope",
                "an invitation code gives the whole account; limit the scope after registration",
            ));
        }
        organization::check_invitation_limit(conn, clock, account)?;
        create_invitation(conn, clock, links, actor, account, email, &profile, scope)
    })
}

/// Invites the first administrator of a customer account that `actor` has just created (the
/// creator's right to create customer accounts is the authorization; it may not hold every
/// right that the new account's own administrator gets).
pub(crate) fn invite_first(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: &Email,
) -> Result<CreatedInvitation> {
    let profile = profile::builtin(conn, account)?;
    create_invitation(
        conn,
        clock,
        links,
        actor,
        account,
        Some(email),
        &profile,
        &ScopeChoice::All,
    )
}

/// A one-time invitation code for an administrator of the platform account with every right
/// (the bootstrap's setup link, SPEC §1), created by the operator. It expires after the
/// platform's invitation validity and works once.
pub fn setup_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
) -> Result<CreatedInvitation> {
    write_transaction(conn, |conn| {
        let platform = account::platform(conn)?;
        let profile = profile::builtin(conn, &platform.id)?;
        let operator = Actor::operator(platform.id.clone(), "lanyard (operator)");
        create_invitation(
            conn,
            clock,
            links,
            &operator,
            &platform.id,
            None,
            &profile,
            &ScopeChoice::All,
        )
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one value per column of the row being written"
)]
pub(super) fn create_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: Option<&Email>,
    profile: &Profile,
    scope: &ScopeChoice,
) -> Result<CreatedInvitation> {
    {
        let hours = organization::settings(conn, account)?.invitation_expiration_hours;
        let now = clock.now();
        let expires_at = now + TimeDelta::hours(hours);
        let handle = random_base62(HANDLE_CHARS);
        let secret = random_base62(SECRET_CHARS);
        let code = format!("{handle}{secret}");
        if let Some(email) = email {
            let existing = find_by_email(conn, email.as_str())?;
            if existing.is_some() {
                return Err(IdentityError::Duplicate(format!(
                    "{email} is already an administrator"
                )));
            }
            let id = AdministratorId::new_random();
            insert(
                conn,
                clock,
                &id,
                account,
                email,
                "",
                AdminStatus::Invited,
                profile,
                scope,
                actor.administrator.as_ref(),
                None,
            )?;
        }
        diesel::insert_into(invitations::table)
            .values((
                invitations::id.eq(uuid::Uuid::new_v4().to_string()),
                invitations::account_id.eq(account.as_str()),
                invitations::handle.eq(&handle),
                invitations::secret_hash.eq(hash_token(&secret)),
                invitations::email.eq(email.map(|e| e.as_str().to_lowercase())),
                invitations::profile_id.eq(profile.id.as_str()),
                invitations::scope_all.eq(matches!(scope, ScopeChoice::All)),
                invitations::created_by
                    .eq(actor.administrator.as_ref().map(AdministratorId::as_str)),
                invitations::expires_at.eq(expires_at.naive_utc()),
                invitations::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        let account_row = account::get(conn, account)?;
        if let Some(email) = email {
            send_mail(
                conn,
                clock,
                links,
                account,
                "admin_invitation",
                email.as_str(),
                minijinja::context! {
                    account_name => account_row.name,
                    inviter_name => actor.name.clone(),
                    link => format!("{}/console/register?code={code}", links.console),
                    code => code.clone(),
                    expires => expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                },
            )?;
        }
        let what = match email {
            Some(e) => format!("Administrator invited: {e}"),
            None => format!("Invitation code created: {handle}"),
        };
        history::record_by(conn, clock, actor, account, "Administrators", &what)?;
        Ok(CreatedInvitation {
            handle,
            code: SecretString::new(code),
            expires_at,
        })
    }
}

/// The open (unused, unexpired) invitations of `account`.
pub fn open_invitations(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<Vec<OpenInvitation>> {
    let rows: Vec<(String, Option<String>, NaiveDateTime)> = invitations::table
        .filter(invitations::account_id.eq(account.as_str()))
        .filter(invitations::used_at.is_null())
        .filter(invitations::expires_at.gt(clock.now().naive_utc()))
        .order(invitations::created_at.asc())
        .select((
            invitations::handle,
            invitations::email,
            invitations::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(handle, email, expires)| OpenInvitation {
            handle,
            email,
            expires_at: expires.and_utc(),
        })
        .collect())
}

/// Deletes an open invitation given by its public part or full code; an administrator invited
/// by e-mail who has not registered yet is removed with it.
pub fn delete_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    code: &str,
) -> Result<()> {
    let handle: String = code.chars().take(HANDLE_CHARS).collect();
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Administrators, Verb::Delete, account)?;
        let found: Option<(String, Option<String>)> = invitations::table
            .filter(invitations::account_id.eq(account.as_str()))
            .filter(invitations::handle.eq(&handle))
            .filter(invitations::used_at.is_null())
            .select((invitations::id, invitations::email))
            .first(conn)
            .optional()?;
        let (id, email) = found.ok_or_else(|| IdentityError::not_found("invitation", code))?;
        diesel::delete(invitations::table.filter(invitations::id.eq(&id))).execute(conn)?;
        if let Some(email) = email {
            diesel::delete(
                administrators::table
                    .filter(administrators::email.eq(&email))
                    .filter(administrators::status.eq(AdminStatus::Invited.as_str()))
                    .filter(administrators::password_hash.is_null()),
            )
            .execute(conn)?;
        }
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Administrators",
            &format!("Invitation deleted: {handle}"),
        )?;
        Ok(())
    })
}
