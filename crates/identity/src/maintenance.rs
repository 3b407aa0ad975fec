//! Maintenance periods (PassBy[ME] "Adding maintenance", "List maintenance"; SPEC §4): for one
//! application or the whole organization, with a subject and body per language (English
//! required) that devices show. During an active maintenance, devices cannot upload evidences
//! and authorizations cannot complete — [`active_for`] is what the messaging work asks.
//!
//! It lives beside applications (this crate) until the messaging crate exists.

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{applications, maintenance_texts, maintenances};
use lanyard_store::{DbConnection, write_transaction};

/// State of a maintenance, from its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceState {
    /// Not started yet.
    Scheduled,
    /// Going on now.
    Active,
    /// Over: ended, or stopped early.
    Stopped,
}

impl MaintenanceState {
    /// Display name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Stopped => "stopped",
        }
    }
}

/// The text of one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// ISO 639-1 code, e.g. `en`.
    pub language: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
}

/// What an administrator enters.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The application, or `None` for the whole organization.
    pub application_id: Option<String>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Texts; English required.
    pub texts: Vec<Text>,
}

/// A maintenance period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// Id.
    pub id: String,
    /// Its organization.
    pub account: AccountId,
    /// The application (`None`: the whole organization).
    pub application_id: Option<String>,
    /// The application's name.
    pub application_name: Option<String>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// Planned end.
    pub ends_at: DateTime<Utc>,
    /// Early stop.
    pub stopped_at: Option<DateTime<Utc>>,
    /// State at the time asked.
    pub state: MaintenanceState,
    /// Texts, English first.
    pub texts: Vec<Text>,
}

fn validate(conn: &mut DbConnection, account: &AccountId, draft: &Draft) -> Result<Vec<Text>> {
    if draft.ends_at <= draft.starts_at {
        return Err(IdentityError::invalid("endsAt", "must be after the start"));
    }
    if let Some(app) = &draft.application_id {
        let found: i64 = applications::table
            .filter(applications::id.eq(app))
            .filter(applications::account_id.eq(account.as_str()))
            .count()
            .get_result(conn)?;
        if found == 0 {
            return Err(IdentityError::invalid(
                "applicationId",
                "is not an application of this organization",
            ));
        }
    }
    let mut texts: Vec<Text> = Vec::new();
    for t in &draft.texts {
        let language = t.language.trim().to_ascii_lowercase();
        let (subject, body) = (t.subject.trim(), t.body.trim());
        // An untouched row of the form (the English one is then reported missing below).
        if (language.is_empty() || language == "en") && subject.is_empty() && body.is_empty() {
            continue;
        }
        if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(IdentityError::invalid(
                "language",
                "must be a two-letter language code such as en or hu",
            ));
        }
        if texts.iter().any(|x| x.language == language) {
            return Err(IdentityError::invalid(
                "language",
                format!("{language} is given twice"),
            ));
        }
        if subject.is_empty() || subject.chars().count() > 200 {
            return Err(IdentityError::invalid(
                "subject",
                format!("({language}) is required, at most 200 characters"),
            ));
        }
        if body.is_empty() || body.chars().count() > 4000 {
            return Err(IdentityError::invalid(
                "body",
                format!("({language}) is required, at most 4000 characters"),
            ));
        }
        texts.push(Text {
            language,
            subject: subject.to_owned(),
            body: body.to_owned(),
        });
    }
    if !texts.iter().any(|t| t.language == "en") {
        return Err(IdentityError::invalid("subject", "in English is required"));
    }
    texts.sort_by_key(|t| (t.language != "en", t.language.clone()));
    Ok(texts)
}

fn write_texts(conn: &mut DbConnection, id: &str, texts: &[Text]) -> Result<()> {
    diesel::delete(maintenance_texts::table.filter(maintenance_texts::maintenance_id.eq(id)))
        .execute(conn)?;
    for t in texts {
        diesel::insert_into(maintenance_texts::table)
            .values((
                maintenance_texts::maintenance_id.eq(id),
                maintenance_texts::language.eq(&t.language),
                maintenance_texts::subject.eq(&t.subject),
                maintenance_texts::body.eq(&t.body),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn scope_label(m: &Maintenance) -> String {
    m.application_name
        .clone()
        .unwrap_or_else(|| "the whole organization".into())
}

/// Adds a maintenance period to `account`.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    draft: &Draft,
) -> Result<Maintenance> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Create, account)?;
        let texts = validate(conn, account, draft)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = clock.now().naive_utc();
        diesel::insert_into(maintenances::table)
            .values((
                maintenances::id.eq(&id),
                maintenances::account_id.eq(account.as_str()),
                maintenances::application_id.eq(draft.application_id.as_deref()),
                maintenances::starts_at.eq(draft.starts_at.naive_utc()),
                maintenances::ends_at.eq(draft.ends_at.naive_utc()),
                maintenances::created_at.eq(now),
                maintenances::updated_at.eq(now),
            ))
            .execute(conn)?;
        write_texts(conn, &id, &texts)?;
        let m = find(conn, clock, account, &id)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Maintenance",
            &format!(
                "Maintenance of {} added ({} – {})",
                scope_label(&m),
                m.starts_at.format("%Y-%m-%d %H:%M"),
                m.ends_at.format("%Y-%m-%d %H:%M UTC")
            ),
        )?;
        Ok(m)
    })
}

type Row = (
    String,
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn of(conn: &mut DbConnection, clock: &dyn Clock, row: Row) -> Result<Maintenance> {
    let (id, account, application_id, starts, ends, stopped) = row;
    let now = clock.now();
    let (starts_at, ends_at) = (starts.and_utc(), ends.and_utc());
    let stopped_at = stopped.map(|s| s.and_utc());
    let state = if stopped_at.is_some() || now >= ends_at {
        MaintenanceState::Stopped
    } else if now < starts_at {
        MaintenanceState::Scheduled
    } else {
        MaintenanceState::Active
    };
    let application_name = match &application_id {
        Some(app) => applications::table
            .find(app)
            .select(applications::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let mut texts: Vec<Text> = maintenance_texts::table
        .filter(maintenance_texts::maintenance_id.eq(&id))
        .select((
            maintenance_texts::language,
            maintenance_texts::subject,
            maintenance_texts::body,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(language, subject, body)| Text {
            language,
            subject,
            body,
        })
        .collect();
    texts.sort_by_key(|t| (t.language != "en", t.language.clone()));
    Ok(Maintenance {
        id,
        account: AccountId::from_stored(account),
        application_id,
        application_name,
        starts_at,
        ends_at,
        stopped_at,
        state,
        texts,
    })
}

const COLUMNS: (
    maintenances::id,
    maintenances::account_id,
    maintenances::application_id,
    maintenances::starts_at,
    maintenances::ends_at,
    maintenances::stopped_at,
) = (
    maintenances::id,
    maintenances::account_id,
    maintenances::application_id,
    maintenances::starts_at,
    maintenances::ends_at,
    maintenances::stopped_at,
);

fn find(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    id: &str,
) -> Result<Maintenance> {
    let row: Row = maintenances::table
        .filter(maintenances::id.eq(id))
        .filter(maintenances::account_id.eq(account.as_str()))
        .select(COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("maintenance", id))?;
    of(conn, clock, row)
}

/// The maintenance periods of `account`, latest start first.
pub fn list(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
) -> Result<Vec<Maintenance>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let rows: Vec<Row> = maintenances::table
        .filter(maintenances::account_id.eq(account.as_str()))
        .order((maintenances::starts_at.desc(), maintenances::id))
        .select(COLUMNS)
        .load(conn)?;
    rows.into_iter().map(|r| of(conn, clock, r)).collect()
}

/// Maintenance `id` of `account`.
pub fn get(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<Maintenance> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    find(conn, clock, account, id)
}

/// Changes a maintenance that has not ended.
pub fn modify(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
    draft: &Draft,
) -> Result<Maintenance> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let current = find(conn, clock, account, id)?;
        if current.state == MaintenanceState::Stopped {
            return Err(IdentityError::NotAllowed(
                "a stopped maintenance cannot be changed; add a new one".into(),
            ));
        }
        let texts = validate(conn, account, draft)?;
        diesel::update(maintenances::table.find(id))
            .set((
                maintenances::application_id.eq(draft.application_id.as_deref()),
                maintenances::starts_at.eq(draft.starts_at.naive_utc()),
                maintenances::ends_at.eq(draft.ends_at.naive_utc()),
                maintenances::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        write_texts(conn, id, &texts)?;
        let m = find(conn, clock, account, id)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Maintenance",
            &format!("Maintenance of {} changed", scope_label(&m)),
        )?;
        Ok(m)
    })
}

/// Stops a scheduled or active maintenance now.
pub fn stop(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<Maintenance> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let current = find(conn, clock, account, id)?;
        if current.state == MaintenanceState::Stopped {
            return Err(IdentityError::NotAllowed(
                "this maintenance is already over".into(),
            ));
        }
        diesel::update(
            maintenances::table
                .find(id)
                .filter(maintenances::stopped_at.is_null()),
        )
        .set((
            maintenances::stopped_at.eq(clock.now().naive_utc()),
            maintenances::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Maintenance",
            &format!("Maintenance of {} stopped", scope_label(&current)),
        )?;
        find(conn, clock, account, id)
    })
}

/// Deletes a maintenance.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Delete, account)?;
        let current = find(conn, clock, account, id)?;
        diesel::delete(maintenance_texts::table.filter(maintenance_texts::maintenance_id.eq(id)))
            .execute(conn)?;
        diesel::delete(maintenances::table.find(id)).execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Maintenance",
            &format!("Maintenance of {} deleted", scope_label(&current)),
        )
    })
}

/// The maintenance going on now for `application_id` of `account` — its own, or one of the
/// whole organization — if any. What messaging checks before accepting evidences.
pub fn active_for(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    application_id: Option<&str>,
) -> Result<Option<Maintenance>> {
    let now = clock.now().naive_utc();
    let mut query = maintenances::table
        .filter(maintenances::account_id.eq(account.as_str()))
        .filter(maintenances::starts_at.le(now))
        .filter(maintenances::ends_at.gt(now))
        .filter(maintenances::stopped_at.is_null())
        .into_boxed();
    query = match application_id {
        Some(app) => query.filter(
            maintenances::application_id
                .is_null()
                .or(maintenances::application_id.eq(app)),
        ),
        None => query.filter(maintenances::application_id.is_null()),
    };
    let row: Option<Row> = query
        .order(maintenances::starts_at)
        .select(COLUMNS)
        .first(conn)
        .optional()?;
    row.map(|r| of(conn, clock, r)).transpose()
}
