//! The confirmation letter with a phone's deactivation code, and a new code on request.

use super::*;

/// Enqueues the confirmation letter (`device_confirmation`) with the deactivation `code` of
/// device `device` to the person, in the caller's transaction. An address that is not a valid
/// e-mail sends nothing.
pub(super) fn send_letter(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    service: Service<'_>,
    account: &AccountId,
    (person, address): (&str, &str),
    device: &str,
    code: &str,
) -> Result<bool> {
    let Ok(to) = lanyard_core::Email::parse(address) else {
        return Ok(false);
    };
    let chain = account::ancestors(conn, account)?;
    let org = account::get(conn, account)?;
    let vars = minijinja::context! {
        name => person,
        device => device,
        code => code,
        account_name => org.name,
        link => format!("{}?organization={}", service.deactivation_page(), org.oid),
    };
    lanyard_mail::templates::send(
        conn,
        clock,
        service.mail_domain,
        &chain,
        "device_confirmation",
        &to,
        vars,
    )
    .map_err(|e| EnrollmentError::Identity(IdentityError::Inconsistent(e.to_string())))?;
    Ok(true)
}

/// Resends the deactivation code of the active device `vendor_id` of `account` (API §7.5,
/// `suspensionpass` / `deactivationpass`). Only the code's hash is kept, so a new code is made:
/// the old one stops working, and the new one goes out in a confirmation letter to the person.
/// NOT_FOUND (the vendor id as the message) when there is no such device; NOT_ALLOWED when the
/// person has no e-mail address.
pub fn resend_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    vendor_id: &str,
    service: Service<'_>,
) -> Result<()> {
    let code = lanyard_core::codes::random_base62(12);
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        type Found = (String, String, Option<String>, Option<String>);
        let found: Option<Found> = devices::table
            .filter(devices::account_id.eq(account.as_str()))
            .filter(devices::vendor_id.eq(vendor_id))
            .filter(devices::status.eq("active"))
            .order(devices::created_at.desc())
            .select((
                devices::id,
                devices::name,
                devices::end_user_id,
                devices::administrator_id,
            ))
            .first(conn)
            .optional()?;
        let Some((device_id, name, user, administrator)) = found else {
            return Err(EnrollmentError::NotFound(vendor_id.to_owned()));
        };
        let (person, address) = person_and_email(conn, user, administrator)?;
        let sent = match address {
            Some(address) => send_letter(
                conn,
                clock,
                service,
                account,
                (&person, &address),
                &name,
                &code,
            )?,
            None => false,
        };
        if !sent {
            return Err(not_allowed(
                "the device's owner has no e-mail address to send the code to",
            ));
        }
        diesel::update(devices::table.find(&device_id))
            .set(devices::deactivation_hash.eq(hash_token(&code)))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Devices",
            &format!("A new deactivation code of device {name} was sent to {person}"),
        )?;
        Ok(())
    })
}

/// The holder's display name and e-mail address, if any.
pub(super) fn person_and_email(
    conn: &mut DbConnection,
    user: Option<String>,
    administrator: Option<String>,
) -> Result<(String, Option<String>)> {
    Ok(match (user, administrator) {
        (Some(u), _) => {
            let user = lanyard_identity::end_user::get_by_id(
                conn,
                &lanyard_core::id::EndUserId::from_stored(u),
            )?;
            let name = user
                .full_name
                .clone()
                .unwrap_or_else(|| user.primary_alias().unwrap_or_default().to_owned());
            (name, user.email.clone())
        }
        (None, Some(a)) => {
            let admin = lanyard_identity::admin::get(
                conn,
                &lanyard_core::id::AdministratorId::from_stored(a),
            )?;
            (admin.full_name, Some(admin.email))
        }
        (None, None) => (String::new(), None),
    })
}
