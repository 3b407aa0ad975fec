//! API token requests (STid "Request a Web API token"): a distributor asks for a token for one of
//! its customer organizations (domain name, IP allow-list); the platform operator approves or
//! rejects; the distributor collects the token exactly once (it is generated at that moment, so
//! no readable token ever rests in the database).

use crate::account::{self, AccountKind};
use crate::api_token::{self, AllowList, CreatedToken};
use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::{Clock, Oid};
use lanyard_store::schema::{accounts, api_token_requests};
use lanyard_store::{DbConnection, write_transaction};

/// Where a request stands. STid shows requested ones as "Deactive" and collected ones as
/// "Active".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for the platform operator.
    Requested,
    /// Approved; the distributor may collect the token once.
    Approved,
    /// The token was handed out.
    Collected,
    /// Refused by the platform operator.
    Rejected,
}

impl RequestStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Collected => "collected",
            Self::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "approved" => Self::Approved,
            "collected" => Self::Collected,
            "rejected" => Self::Rejected,
            _ => Self::Requested,
        }
    }

    /// The label of the STid page.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Requested => "Deactive (waiting for approval)",
            Self::Approved => "Approved (collect the token)",
            Self::Collected => "Active",
            Self::Rejected => "Rejected",
        }
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Internal id.
    pub id: String,
    /// The customer organization.
    pub account_oid: Oid,
    /// Its name.
    pub account_name: String,
    /// Who asked.
    pub requested_by: String,
    /// Domain name of the customer's system.
    pub domain_name: Option<String>,
    /// Allowed addresses, as stored.
    pub ip_allow_list: Option<String>,
    /// Status.
    pub status: RequestStatus,
    /// Request time.
    pub created_at: DateTime<Utc>,
}

/// Asks for a token for the customer organization `customer` of the actor's account.
pub fn request(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    customer: &Oid,
    domain_name: Option<&str>,
    ip_allow_list: &str,
) -> Result<TokenRequest> {
    let domain = crate::text::optional_text("domainName", domain_name, 253)?;
    let allow = AllowList::parse("ipAllowList", ip_allow_list)?;
    write_transaction(conn, |conn| {
        let target = account::find_by_oid(conn, customer)?;
        if target.parent_id.as_ref() != Some(&actor.account)
            || target.kind != AccountKind::Organization
        {
            return Err(IdentityError::not_found(
                "customer organization",
                customer.as_str(),
            ));
        }
        authorize(conn, actor, Area::CustomerAccounts, Verb::Edit, &target.id)?;
        let id = uuid::Uuid::new_v4().to_string();
        diesel::insert_into(api_token_requests::table)
            .values((
                api_token_requests::id.eq(&id),
                api_token_requests::account_id.eq(target.id.as_str()),
                api_token_requests::requested_by_account.eq(actor.account.as_str()),
                api_token_requests::requested_by.eq(&actor.name),
                api_token_requests::domain_name.eq(domain.as_deref()),
                api_token_requests::ip_allow_list.eq(allow.as_ref().map(AllowList::encode)),
                api_token_requests::status.eq(RequestStatus::Requested.as_str()),
                api_token_requests::created_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "API tokens",
            &format!("API token requested for {}", target.name),
        )?;
        get(conn, &id)
    })
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
);

fn query() -> (
    api_token_requests::id,
    accounts::oid,
    accounts::name,
    api_token_requests::requested_by,
    api_token_requests::domain_name,
    api_token_requests::ip_allow_list,
    api_token_requests::status,
    api_token_requests::created_at,
) {
    (
        api_token_requests::id,
        accounts::oid,
        accounts::name,
        api_token_requests::requested_by,
        api_token_requests::domain_name,
        api_token_requests::ip_allow_list,
        api_token_requests::status,
        api_token_requests::created_at,
    )
}

fn from_row(r: Row) -> TokenRequest {
    TokenRequest {
        id: r.0,
        account_oid: Oid::from_stored(r.1),
        account_name: r.2,
        requested_by: r.3,
        domain_name: r.4,
        ip_allow_list: r.5,
        status: RequestStatus::parse(&r.6),
        created_at: r.7.and_utc(),
    }
}

fn get(conn: &mut DbConnection, id: &str) -> Result<TokenRequest> {
    api_token_requests::table
        .inner_join(accounts::table.on(accounts::id.eq(api_token_requests::account_id)))
        .filter(api_token_requests::id.eq(id))
        .select(query())
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .ok_or_else(|| IdentityError::not_found("API token request", id))
}

/// The requests made by the actor's account (a distributor), newest first; for the platform
/// operator, every request.
pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<TokenRequest>> {
    authorize(
        conn,
        actor,
        Area::CustomerAccounts,
        Verb::View,
        &actor.account,
    )?;
    let platform = account::platform(conn)?;
    let mut q = api_token_requests::table
        .inner_join(accounts::table.on(accounts::id.eq(api_token_requests::account_id)))
        .order(api_token_requests::created_at.desc())
        .select(query())
        .into_boxed();
    if actor.account != platform.id {
        q = q.filter(api_token_requests::requested_by_account.eq(actor.account.as_str()));
    }
    Ok(q.load::<Row>(conn)?.into_iter().map(from_row).collect())
}

/// Approves (`true`) or rejects a waiting request; platform operator only.
pub fn decide(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
    approve: bool,
) -> Result<TokenRequest> {
    write_transaction(conn, |conn| {
        let platform = account::platform(conn)?;
        if actor.account != platform.id {
            return Err(IdentityError::Forbidden(
                "only the platform operator decides on API tokens".into(),
            ));
        }
        let request = get(conn, id)?;
        let target = account::find_by_oid(conn, &request.account_oid)?;
        authorize(conn, actor, Area::CustomerAccounts, Verb::Edit, &target.id)?;
        let to = if approve {
            RequestStatus::Approved
        } else {
            RequestStatus::Rejected
        };
        let changed = diesel::update(
            api_token_requests::table
                .filter(api_token_requests::id.eq(id))
                .filter(api_token_requests::status.eq(RequestStatus::Requested.as_str())),
        )
        .set((
            api_token_requests::status.eq(to.as_str()),
            api_token_requests::decided_by.eq(&actor.name),
            api_token_requests::decided_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(IdentityError::NotAllowed(
                "this request has already been decided".into(),
            ));
        }
        let what = if approve { "approved" } else { "rejected" };
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "API tokens",
            &format!("API token for {} {what}", request.account_name),
        )?;
        get(conn, id)
    })
}

/// Hands out the token of an approved request, exactly once (also under concurrent attempts).
pub fn collect(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
) -> Result<CreatedToken> {
    write_transaction(conn, |conn| {
        let request = get(conn, id)?;
        let owner: String = api_token_requests::table
            .filter(api_token_requests::id.eq(id))
            .select(api_token_requests::requested_by_account)
            .first(conn)?;
        if owner != actor.account.as_str() {
            return Err(IdentityError::not_found("API token request", id));
        }
        let target = account::find_by_oid(conn, &request.account_oid)?;
        authorize(conn, actor, Area::CustomerAccounts, Verb::Edit, &target.id)?;
        let taken = diesel::update(
            api_token_requests::table
                .filter(api_token_requests::id.eq(id))
                .filter(api_token_requests::status.eq(RequestStatus::Approved.as_str())),
        )
        .set(api_token_requests::status.eq(RequestStatus::Collected.as_str()))
        .execute(conn)?;
        if taken != 1 {
            return Err(IdentityError::NotAllowed(match request.status {
                RequestStatus::Collected => {
                    "the token has already been collected; request a new one".into()
                }
                _ => "the request is not approved".into(),
            }));
        }
        let allow = match &request.ip_allow_list {
            Some(stored) => AllowList::parse("ipAllowList", stored)?,
            None => None,
        };
        let name = format!("requested by {}", request.requested_by);
        let created =
            api_token::create_restricted(conn, clock, &request.account_oid, &name, allow.as_ref())?;
        diesel::update(api_token_requests::table.filter(api_token_requests::id.eq(id)))
            .set(api_token_requests::token_id.eq(created.token.id.as_str()))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "API tokens",
            &format!("API token collected for {}", request.account_name),
        )?;
        Ok(created)
    })
}
