//! Sending: recipients resolved to aliases and devices, their first statuses, and the
//! message with its recipients written in one transaction.

use super::*;

/// The initial status of each recipient: disabled people are `DISABLED`, people without an
/// active phone `NO_DEVICE`, the others `PENDING`.
pub(super) fn initial_statuses(
    conn: &mut DbConnection,
    account: &AccountId,
    recipients: &[String],
) -> Result<Vec<(String, String, RecipientStatus)>> {
    let found: HashMap<String, (String, bool)> = aliases::table
        .inner_join(end_users::table)
        .filter(aliases::account_id.eq(account.as_str()))
        .filter(aliases::alias.eq_any(recipients))
        .select((aliases::alias, end_users::id, end_users::disabled))
        .load::<(String, String, bool)>(conn)?
        .into_iter()
        .map(|(alias, id, disabled)| (alias, (id, disabled)))
        .collect();
    if let Some(unknown) = recipients.iter().find(|a| !found.contains_key(*a)) {
        return Err(MessagingError::NotFound(unknown.clone()));
    }
    let ids: Vec<&str> = found.values().map(|(id, _)| id.as_str()).collect();
    let with_device: std::collections::HashSet<String> = devices::table
        .filter(devices::end_user_id.eq_any(&ids))
        .filter(devices::status.eq("active"))
        .select(devices::end_user_id.assume_not_null())
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(recipients
        .iter()
        .map(|alias| {
            let (id, disabled) = found[alias].clone();
            let status = if disabled {
                RecipientStatus::Disabled
            } else if with_device.contains(&id) {
                RecipientStatus::Pending
            } else {
                RecipientStatus::NoDevice
            };
            (alias.clone(), id, status)
        })
        .collect())
}

/// The primary alias of every end user of `account` (the first one each was given), in alias
/// order: the recipients of a message to all users.
pub(super) fn primary_aliases(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<String>> {
    let rows: Vec<(String, String)> = aliases::table
        .filter(aliases::account_id.eq(account.as_str()))
        .order((aliases::end_user_id, aliases::created_at, aliases::alias))
        .select((aliases::end_user_id, aliases::alias))
        .load(conn)?;
    let mut primary: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for (user, alias) in rows {
        if last.as_ref() != Some(&user) {
            primary.push(alias);
            last = Some(user);
        }
    }
    primary.sort();
    Ok(primary)
}

/// Sends `message` from `sender`. Unknown recipients are `NOT_FOUND` (the alias as the message)
/// and nothing is sent; when every recipient is disabled the answer is `USER_DISABLED`, when
/// none has an active phone `NO_DEVICE` — otherwise each recipient gets its own status.
pub fn send(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    message: &NewMessage,
) -> Result<Message> {
    write_transaction(conn, |conn| insert(conn, clock, sender, message))
}

/// Sends `message` from the console (seed 000 "Messaging to users"): administrator `actor` of
/// `account`, who may create messages, in the name of the account's application
/// `application_id`. Recorded in the account history, in the same transaction.
pub fn send_from_console(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
    application_id: &str,
    message: &NewMessage,
) -> Result<Message> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    authorize(conn, actor, Area::Messages, Verb::Create, account)?;
    let application_id = application_id.trim();
    if application_id.is_empty() {
        return Err(invalid("application", "choose the sending application"));
    }
    // The application must be this account's. Looked up here rather than with
    // `application::get`, which needs the right to view access keys: sending needs only the
    // right to create messages.
    let app_name: String = lanyard_store::schema::applications::table
        .filter(lanyard_store::schema::applications::id.eq(application_id))
        .filter(lanyard_store::schema::applications::account_id.eq(account.as_str()))
        .select(lanyard_store::schema::applications::name)
        .first(conn)
        .optional()?
        .ok_or_else(|| invalid("application", "not an application of this organization"))?;
    let sender = Sender {
        account: account.clone(),
        application_id: application_id.to_owned(),
    };
    write_transaction(conn, |conn| {
        let sent = insert(conn, clock, &sender, message)?;
        lanyard_identity::history::record_by(
            conn,
            clock,
            actor,
            account,
            "Messages",
            &format!(
                "Sent {} \"{}\" ({}) from {} to {} recipient(s)",
                message.kind.label().to_lowercase(),
                message.subject,
                sent.id,
                app_name,
                sent.recipients.len()
            ),
        )?;
        Ok(sent)
    })
}

/// The applications `actor` may send from in `account` (id, name), by name: the console's
/// sender choices.
pub fn senders(
    conn: &mut DbConnection,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
) -> Result<Vec<(String, String)>> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    use lanyard_store::schema::applications;
    authorize(conn, actor, Area::Messages, Verb::Create, account)?;
    Ok(applications::table
        .filter(applications::account_id.eq(account.as_str()))
        .order((applications::name, applications::id))
        .select((applications::id, applications::name))
        .load(conn)?)
}

pub(super) fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    message: &NewMessage,
) -> Result<Message> {
    let id = lanyard_core::codes::random_base62(24);
    let extras = &message.extras;
    let secure_id = extras
        .secure_id
        .clone()
        .unwrap_or_else(|| lanyard_core::codes::random_base62(6));
    {
        let everyone;
        let aliases = if extras.all_users {
            everyone = primary_aliases(conn, &sender.account)?;
            if everyone.is_empty() {
                return Err(invalid("allUsers", "the organization has no end users"));
            }
            &everyone
        } else {
            &message.recipients
        };
        let recipients = initial_statuses(conn, &sender.account, aliases)?;
        if recipients
            .iter()
            .all(|(_, _, s)| *s == RecipientStatus::Disabled)
        {
            return Err(MessagingError::UserDisabled(recipients[0].0.clone()));
        }
        if recipients
            .iter()
            .all(|(_, _, s)| *s != RecipientStatus::Pending)
        {
            return Err(MessagingError::NoDevice(
                recipients
                    .iter()
                    .find(|(_, _, s)| *s == RecipientStatus::NoDevice)
                    .map(|r| r.0.clone())
                    .unwrap_or_default(),
            ));
        }
        let now = clock.now();
        let expires_at = now + TimeDelta::seconds(message.availability);
        diesel::insert_into(messages::table)
            .values((
                messages::id.eq(&id),
                messages::account_id.eq(sender.account.as_str()),
                messages::application_id.eq(&sender.application_id),
                messages::kind.eq(message.kind.as_str()),
                messages::subject.eq(&message.subject),
                messages::body.eq(&message.body),
                messages::callback_url.eq(message.callback_url.as_deref()),
                messages::secure_id.eq(&secure_id),
                messages::created_at.eq(naive(now)),
                messages::expires_at.eq(naive(expires_at)),
                messages::preview.eq(extras.preview.as_deref()),
                messages::external_identity.eq(extras.external_identity.as_deref()),
                messages::enforce_secure_id.eq(extras.enforce_secure_id),
                messages::unlisted.eq(extras.unlisted),
                messages::attachment_name.eq(extras.attachment.as_ref().map(|a| a.name.as_str())),
                messages::attachment_url.eq(extras.attachment.as_ref().map(|a| a.url.as_str())),
                messages::attachment_expires_at
                    .eq(extras.attachment.as_ref().map(|a| naive(a.expires_at))),
                messages::sent_by.eq(extras.sent_by.as_deref()),
            ))
            .execute(conn)?;
        // Row by row: diesel's batch insert is not available on the two-backend connection
        // (NOTES-dependencies); inside one transaction this costs little.
        for (i, (alias, user, status)) in recipients.iter().enumerate() {
            diesel::insert_into(message_recipients::table)
                .values((
                    message_recipients::message_id.eq(&id),
                    message_recipients::position.eq(i32::try_from(i).unwrap_or(i32::MAX)),
                    message_recipients::alias.eq(alias),
                    message_recipients::end_user_id.eq(user),
                    message_recipients::status.eq(status.as_str()),
                    message_recipients::updated_at.eq(naive(now)),
                    message_recipients::progress.eq(status.progress()),
                    message_recipients::ended_at
                        .eq(status.is_final(message.kind).then(|| naive(now))),
                ))
                .execute(conn)?;
        }
        // Other processes' phones learn of it when this commits (PostgreSQL; SQLite polls).
        let waiting: Vec<&str> = recipients
            .iter()
            .filter(|(_, _, status)| *status == RecipientStatus::Pending)
            .map(|(_, user, _)| user.as_str())
            .collect();
        lanyard_store::notify::notify(conn, lanyard_store::notify::WAKEUPS, &waiting)?;
        // Their apps are woken by push, through the outbox (an unlisted message is never
        // announced).
        if !extras.unlisted {
            crate::push_outbox::enqueue(conn, clock, &sender.account, &id, &waiting)?;
        }
        Ok(Message {
            id: id.clone(),
            kind: message.kind,
            expires_at,
            recipients: recipients
                .into_iter()
                .map(|(user_id, end_user, status)| Recipient {
                    user_id,
                    status,
                    end_user_id: Some(end_user),
                })
                .collect(),
            secure_id: Some(secure_id.clone()),
            callback_url: message.callback_url.clone(),
        })
    }
}
