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

/// Addresses a token may be used from: IPs and CIDR ranges (IPv4 and IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(Vec<(std::net::IpAddr, u8)>);

impl AllowList {
    /// Parses `10.0.0.0/8, 192.0.2.7, 2001:db8::/32` (commas or spaces); the error names
    /// `field` and the bad entry.
    pub fn parse(field: &'static str, raw: &str) -> Result<Option<Self>> {
        let mut ranges = Vec::new();
        for entry in raw
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (ip, bits) = match entry.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (entry, None),
            };
            let bad = || {
                IdentityError::invalid(
                    field,
                    format!("{entry:?} is not an IP address or CIDR range"),
                )
            };
            let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
                None => max,
            };
            ranges.push((ip, bits));
        }
        Ok((!ranges.is_empty()).then_some(Self(ranges)))
    }

    /// Whether `ip` is in one of the ranges.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        fn bits_of(ip: std::net::IpAddr) -> u128 {
            match ip {
                std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
                std::net::IpAddr::V6(v6) => u128::from(v6),
            }
        }
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|(net, prefix)| {
            if net.is_ipv4() != ip.is_ipv4() {
                return false;
            }
            let width: u32 = if net.is_ipv4() { 32 } else { 128 };
            let shift = width - u32::from(*prefix);
            let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
            bits_of(*net) & mask == bits_of(ip) & mask
        })
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(ip, bits)| format!("{ip}/{bits}"))
            .collect::<Vec<_>>()
            .join(",")
    }
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
    /// Addresses it may be used from; `None`: anywhere.
    pub allow: Option<AllowList>,
}

/// Creates a token for the organization `account_oid`.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account_oid: &Oid,
    name: &str,
) -> Result<CreatedToken> {
    create_restricted(conn, clock, account_oid, name, None)
}

/// Creates a token usable only from the addresses of `allow` (anywhere when `None`).
pub fn create_restricted(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account_oid: &Oid,
    name: &str,
    allow: Option<&AllowList>,
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
            api_tokens::ip_allow_list.eq(allow.map(AllowList::encode)),
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
    type Found = (
        String,
        String,
        String,
        Option<NaiveDateTime>,
        Option<String>,
    );
    let found: Option<Found> = api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::token_hash.eq(hash_token(presented)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(accounts::status.eq_any(["created", "activated"]))
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::account_id,
            api_tokens::last_used_at,
            api_tokens::ip_allow_list,
        ))
        .first(conn)
        .optional()?;
    let Some((id, name, account_id, last_used, allow)) = found else {
        return Ok(None);
    };
    let now = clock.now();
    if last_used.is_none_or(|t| now - t.and_utc() > LAST_USED_RESOLUTION) {
        diesel::update(api_tokens::table.filter(api_tokens::id.eq(&id)))
            .set(api_tokens::last_used_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    let allow = match allow {
        Some(stored) => AllowList::parse("ip_allow_list", &stored)
            .map_err(|e| IdentityError::Inconsistent(format!("stored allow-list: {e}")))?,
        None => None,
    };
    Ok(Some(TokenOwner {
        token_id: ApiTokenId::from_stored(id),
        token_name: name,
        account_id: AccountId::from_stored(account_id),
        allow,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_match_addresses_and_ranges() {
        let list = AllowList::parse("ipAllowList", "10.0.0.0/8, 192.0.2.7 2001:db8::/32")
            .expect("valid")
            .expect("some");
        for ok in ["10.1.2.3", "192.0.2.7", "2001:db8::1", "::ffff:10.9.9.9"] {
            assert!(list.allows(ok.parse().expect("ip")), "{ok}");
        }
        for no in ["11.0.0.1", "192.0.2.8", "2001:db9::1", "127.0.0.1"] {
            assert!(!list.allows(no.parse().expect("ip")), "{no}");
        }
        assert_eq!(AllowList::parse("ipAllowList", " ").expect("empty"), None);
        assert!(matches!(
            AllowList::parse("ipAllowList", "10.0.0.0/33"),
            Err(IdentityError::Invalid {
                field: "ipAllowList",
                ..
            })
        ));
        assert!(AllowList::parse("ipAllowList", "example.com").is_err());
        let any = AllowList::parse("x", "0.0.0.0/0")
            .expect("valid")
            .expect("some");
        assert!(any.allows("8.8.8.8".parse().expect("ip")));
    }
}
