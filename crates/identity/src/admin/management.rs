//! Administrators managed by other administrators: details, profile and scope, disable and
//! reactivate, delete (never someone wider than oneself, never the last full administrator),
//! the first administrator of an account, and administrators as end users.

use super::*;

/// An administrator changes or removes only administrators whose rights and scope lie within
/// its own (docs/security.md): a helpdesk profile cannot disable, demote or delete the full
/// administrators of its account or of the distributor above it.
pub(super) fn require_within_actor(
    conn: &mut DbConnection,
    actor: &Actor,
    admin: &Administrator,
) -> Result<()> {
    let rights = profile::get_any(conn, &admin.profile_id)?.rights;
    let scope = if admin.scope_all {
        Scope::Subtree
    } else {
        Scope::Selected(scope_accounts(conn, &admin.id)?)
    };
    crate::rights::require_within(
        conn,
        actor,
        &rights,
        &admin.account,
        &scope,
        "this administrator",
    )
}

pub(super) fn not_self(actor: &Actor, target: &AdministratorId, what: &str) -> Result<()> {
    if actor.administrator.as_ref() == Some(target) {
        Err(IdentityError::NotAllowed(format!(
            "you cannot {what} yourself"
        )))
    } else {
        Ok(())
    }
}

/// Changes another administrator's name and phone number.
pub fn update(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    full_name: &str,
    phone: Option<&str>,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    let phone = crate::text::optional_phone(phone)?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        if actor.administrator.as_ref() != Some(id) {
            require_within_actor(conn, actor, &admin)?;
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::full_name.eq(&full_name),
                administrators::phone_number.eq(phone.as_deref()),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator updated: {}", admin.email),
        )?;
        get(conn, id)
    })
}

/// Whether another active administrator of `account` holds every right with the whole scope.
pub(super) fn another_full_admin(
    conn: &mut DbConnection,
    account: &AccountId,
    except: &AdministratorId,
) -> Result<bool> {
    for other in list(conn, account)? {
        if &other.id != except && other.status == AdminStatus::Active && other.scope_all {
            let rights: Rights = profile::get_any(conn, &other.profile_id)?.rights;
            if rights.is_everything() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether some active administrator of `account` holds every right over the whole account.
pub(crate) fn has_full_admin(conn: &mut DbConnection, account: &AccountId) -> Result<bool> {
    for a in list(conn, account)? {
        if holds_everything(conn, &a)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Serializes changes that must keep one administrator holding every right: on PostgreSQL the
/// account's row is locked (SQLite's immediate transaction already holds the only write lock).
pub(super) fn lock_account(conn: &mut DbConnection, account: &AccountId) -> Result<()> {
    if let DbConnection::Pg(pg) = conn {
        lanyard_store::schema::accounts::table
            .filter(lanyard_store::schema::accounts::id.eq(account.as_str()))
            .select(lanyard_store::schema::accounts::id)
            .for_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

pub(super) fn holds_everything(conn: &mut DbConnection, admin: &Administrator) -> Result<bool> {
    Ok(admin.status == AdminStatus::Active
        && admin.scope_all
        && profile::get_any(conn, &admin.profile_id)?
            .rights
            .is_everything())
}

/// Changes another administrator's profile and scope (never one's own; the account keeps at
/// least one administrator holding every right).
pub fn set_profile_and_scope(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    profile_id: &ProfileId,
    scope: &ScopeChoice,
) -> Result<Administrator> {
    not_self(actor, id, "change the profile or scope of")?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        let profile = profile::get(conn, &admin.account, profile_id)?;
        if !actor.rights.includes(&profile.rights) {
            return Err(IdentityError::Forbidden(
                "you cannot give rights you do not have".into(),
            ));
        }
        check_scope(conn, actor, &admin.account, scope)?;
        let keeps_everything = matches!(scope, ScopeChoice::All) && profile.rights.is_everything();
        if holds_everything(conn, &admin)?
            && !keeps_everything
            && !another_full_admin(conn, &admin.account, id)?
        {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right keeps them".into(),
            ));
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::profile_id.eq(profile.id.as_str()),
                administrators::scope_all.eq(matches!(scope, ScopeChoice::All)),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        write_scope(conn, id, scope)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Profile of {} set to {}", admin.email, profile.name),
        )?;
        get(conn, id)
    })
}

/// Disables (`true`) or reactivates (`false`) another administrator.
pub fn set_disabled(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    disabled: bool,
) -> Result<Administrator> {
    not_self(actor, id, if disabled { "disable" } else { "reactivate" })?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        let (from, to) = if disabled {
            (AdminStatus::Active, AdminStatus::Disabled)
        } else {
            (AdminStatus::Disabled, AdminStatus::Active)
        };
        if admin.status != from {
            return Err(IdentityError::NotAllowed(format!(
                "only an {} administrator can be {}",
                from.label().to_lowercase(),
                if disabled { "disabled" } else { "reactivated" }
            )));
        }
        if disabled
            && holds_everything(conn, &admin)?
            && !another_full_admin(conn, &admin.account, id)?
        {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right cannot be disabled".into(),
            ));
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::status.eq(to.as_str()),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        if disabled {
            crate::session::revoke_all(conn, clock, id)?;
            // Outstanding codes and links (activation, login code, password reset, e-mail
            // change) die with the access they would give.
            diesel::update(
                admin_tokens::table
                    .filter(admin_tokens::administrator_id.eq(id.as_str()))
                    .filter(admin_tokens::used_at.is_null()),
            )
            .set(admin_tokens::used_at.eq(clock.now().naive_utc()))
            .execute(conn)?;
        }
        let what = if disabled { "disabled" } else { "reactivated" };
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator {what}: {}", admin.email),
        )?;
        get(conn, id)
    })
}

/// Deletes another administrator (never the last one holding every right).
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
) -> Result<()> {
    not_self(actor, id, "delete")?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Delete,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        if holds_everything(conn, &admin)? && !another_full_admin(conn, &admin.account, id)? {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right cannot be deleted".into(),
            ));
        }
        diesel::delete(administrators::table.filter(administrators::id.eq(id.as_str())))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator deleted: {}", admin.email),
        )?;
        Ok(())
    })
}

/// Creates the first administrator of an account directly (bootstrap setup link, CLI), active,
/// with the built-in profile.
pub fn create_first(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    email: &Email,
    full_name: &str,
    password_given: &str,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy("password", password_given, &[email.as_str(), &full_name])?;
    let hash = password::hash(password_given)?;
    write_transaction(conn, |conn| {
        let profile = profile::builtin(conn, account)?;
        let id = AdministratorId::new_random();
        insert(
            conn,
            clock,
            &id,
            account,
            email,
            &full_name,
            AdminStatus::Active,
            &profile,
            &ScopeChoice::All,
            None,
            Some(&hash),
        )?;
        history::record(
            conn,
            clock,
            account,
            "Administrators",
            &format!("Administrator created: {email}"),
            "lanyard (operator)",
            None,
        )?;
        get(conn, &id)
    })
}

/// Adds the administrator `admin_email` of `account` as an end user with the alias `alias`
/// (PassBy[ME] API §5.2); `ALREADY_EXISTS` when it was added before or the alias is taken.
pub fn add_as_end_user(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    admin_email: &str,
    alias: &str,
) -> Result<crate::EndUser> {
    let alias = crate::Alias::parse("userId", alias)?;
    write_transaction(conn, |conn| {
        let admin = find_by_email(conn, admin_email)?
            .filter(|a| &a.account == account)
            .ok_or_else(|| IdentityError::not_found("administrator", admin_email))?;
        let linked: Option<String> = administrators::table
            .filter(administrators::id.eq(admin.id.as_str()))
            .select(administrators::end_user_id)
            .first(conn)?;
        if linked.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "administrator {} has already been added as a user",
                admin.email
            )));
        }
        let new = crate::NewEndUser {
            alias,
            email: Some(
                Email::parse(&admin.email)
                    .map_err(|e| IdentityError::Inconsistent(e.to_string()))?,
            ),
            full_name: Some(admin.full_name.clone()).filter(|n| !n.is_empty()),
            phone_number: admin.phone_number.clone(),
        };
        let user = crate::end_user::create(conn, clock, actor, account, new)?;
        diesel::update(administrators::table.filter(administrators::id.eq(admin.id.as_str())))
            .set(administrators::end_user_id.eq(user.id.as_str()))
            .execute(conn)?;
        Ok(user)
    })
}
