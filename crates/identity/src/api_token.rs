//! API tokens: bearer credentials of the management API, scoped to one account.
//!
//! A token is `lyd_` followed by 40 base62 characters (238 bits) and is shown once, when
//! created. Only its SHA-256 is stored; the fixed prefix makes a leaked token recognisable in
//! logs and by secret scanners.

use crate::account::{self, AccountKind};
use crate::{IdentityError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::codes::random_base62;
use lanyard_core::id::{AccountId, ApiTokenId};
use lanyard_core::secret::hash_token;
use lanyard_core::{Clock, Oid, SecretString};
use lanyard_store::DbConnection;
use lanyard_store::schema::{accounts, api_tokens};

/// The prefix of every API token.
pub const TOKEN_PREFIX: &str = "lyd_";
const TOKEN_RANDOM_CHARS: usize = 40;
/// How stale `last_used_at` may get before a request refreshes it (avoids a write per request).
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::minutes(1);

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Internal id, used to revoke it.
    pub id: ApiTokenId,
    /// OID of the account it acts for.
    pub account_oid: Oid,
    /// Name given at creation.
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use (to a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A freshly created token: the only time the plain token exists.
#[derive(Debug)]
pub struct CreatedToken {
    /// The stored record.
    pub token: ApiToken,
    /// The bearer token to hand to the caller once.
    pub secret: SecretString,
}

/// Who a valid token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// The token.
    pub token_id: ApiTokenId,
    /// The token's name (recorded as "performed by").
    pub token_name: String,
    /// The account it is scoped to.
    pub account_id: AccountId,
}

/// Creates a token for the organization `account_oid`.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account_oid: &Oid,
    name: &str,
) -> Result<CreatedToken> {
    let name = crate::text::optional_text("name", Some(name), 100)?
        .ok_or_else(|| IdentityError::invalid("name", "is required"))?;
    let owner = account::find_by_oid(conn, account_oid)?;
    if owner.kind != AccountKind::Organization {
        return Err(IdentityError::invalid(
            "account",
            "API tokens act for an organization",
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_base62(TOKEN_RANDOM_CHARS));
    let prefix = secret[..TOKEN_PREFIX.len() + 6].to_owned();
    let id = ApiTokenId::new_random();
    let now = clock.now();
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(id.as_str()),
            api_tokens::account_id.eq(owner.id.as_str()),
            api_tokens::name.eq(&name),
            api_tokens::token_hash.eq(hash_token(&secret)),
            api_tokens::token_prefix.eq(&prefix),
            api_tokens::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(CreatedToken {
        token: ApiToken {
            id,
            account_oid: owner.oid,
            name,
            prefix,
            created_at: now,
            revoked_at: None,
            last_used_at: None,
        },
        secret: SecretString::new(secret),
    })
}

/// The owner of a presented bearer token, or `None` when it is unknown or revoked.
///
/// The token is looked up by its hash, so no stored secret is ever compared byte by byte.
pub fn authenticate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    presented: &str,
) -> Result<Option<TokenOwner>> {
    if !presented.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    // A token of a disabled or deleted account stops working with its account.
    let found: Option<(String, String, String, Option<NaiveDateTime>)> = api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::token_hash.eq(hash_token(presented)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(accounts::status.eq_any(["created", "activated"]))
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::account_id,
            api_tokens::last_used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, name, account_id, last_used)) = found else {
        return Ok(None);
    };
    let now = clock.now();
    if last_used.is_none_or(|t| now - t.and_utc() > LAST_USED_RESOLUTION) {
        diesel::update(api_tokens::table.filter(api_tokens::id.eq(&id)))
            .set(api_tokens::last_used_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    Ok(Some(TokenOwner {
        token_id: ApiTokenId::from_stored(id),
        token_name: name,
        account_id: AccountId::from_stored(account_id),
    }))
}

/// Revokes a token; revoking twice is harmless. `NOT_FOUND` for an unknown id.
pub fn revoke(conn: &mut DbConnection, clock: &dyn Clock, id: &str) -> Result<()> {
    let exists = api_tokens::table
        .filter(api_tokens::id.eq(id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        return Err(IdentityError::not_found("API token", id));
    }
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(clock.now().naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// id, name, prefix, created, revoked, last used, account OID.
type TokenRow = (
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
);

/// The tokens of an account, oldest first.
pub fn list(conn: &mut DbConnection, account_oid: &Oid) -> Result<Vec<ApiToken>> {
    let owner = account::find_by_oid(conn, account_oid)?;
    let rows: Vec<TokenRow> = api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::account_id.eq(owner.id.as_str()))
        .order(api_tokens::created_at.asc())
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::token_prefix,
            api_tokens::created_at,
            api_tokens::revoked_at,
            api_tokens::last_used_at,
            accounts::oid,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, prefix, created, revoked, used, oid)| ApiToken {
            id: ApiTokenId::from_stored(id),
            account_oid: Oid::from_stored(oid),
            name,
            prefix,
            created_at: created.and_utc(),
            revoked_at: revoked.map(|t| t.and_utc()),
            last_used_at: used.map(|t| t.and_utc()),
        })
        .collect())
}
