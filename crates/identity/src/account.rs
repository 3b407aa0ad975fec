//! Accounts: the nodes of the tenancy tree (platform → distributors → organizations).

use crate::{IdentityError, Result, oid};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email, Oid};
use lanyard_store::schema::accounts;
use lanyard_store::{DbConnection, write_transaction};

/// The kind of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// The root of the tree; exactly one.
    Platform,
    /// May own child distributors and organizations.
    Distributor,
    /// Has end users, applications, sites.
    Organization,
}

impl AccountKind {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Distributor => "distributor",
            Self::Organization => "organization",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "platform" => Ok(Self::Platform),
            "distributor" => Ok(Self::Distributor),
            "organization" => Ok(Self::Organization),
            other => Err(IdentityError::Inconsistent(format!(
                "unknown account kind {other:?}"
            ))),
        }
    }
}

/// The status of an account (STid: Created → Activated, Activated ↔ Disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Created, not yet activated by its first administrator.
    Created,
    /// In use.
    Activated,
    /// Disabled by its parent.
    Disabled,
    /// Deleted (irreversible): hidden from lists, nobody can log in or use its tokens.
    Deleted,
}

/// What may be done to an account (STid "Customer accounts": allowed actions by status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// Change its details.
    Modify,
    /// Disable it.
    Disable,
    /// Delete it.
    Delete,
    /// Reactivate a disabled account.
    Reactivate,
}

impl AccountStatus {
    /// The STid table: modify and delete in every status; disable only when activated;
    /// reactivate only when disabled; nothing once deleted.
    pub const fn allows(self, action: AccountAction) -> bool {
        matches!(
            (self, action),
            (
                Self::Created | Self::Activated | Self::Disabled,
                AccountAction::Modify | AccountAction::Delete
            ) | (Self::Activated, AccountAction::Disable)
                | (Self::Disabled, AccountAction::Reactivate)
        )
    }

    /// Label in lists.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Activated => "Activated",
            Self::Disabled => "Disabled",
            Self::Deleted => "Deleted",
        }
    }
}

impl AccountStatus {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Activated => "activated",
            Self::Disabled => "disabled",
            Self::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "created" => Ok(Self::Created),
            "activated" => Ok(Self::Activated),
            "disabled" => Ok(Self::Disabled),
            "deleted" => Ok(Self::Deleted),
            other => Err(IdentityError::Inconsistent(format!(
                "unknown account status {other:?}"
            ))),
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Internal id.
    pub id: AccountId,
    /// OID `<root>.3.2.<n>`.
    pub oid: Oid,
    /// Kind.
    pub kind: AccountKind,
    /// Parent account (none for the platform).
    pub parent_id: Option<AccountId>,
    /// Display name.
    pub name: String,
    /// Contact e-mail.
    pub contact_email: Option<String>,
    /// Status.
    pub status: AccountStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub(crate) struct AccountRow {
    id: String,
    oid: String,
    kind: String,
    parent_id: Option<String>,
    name: String,
    contact_email: Option<String>,
    status: String,
    created_at: NaiveDateTime,
}

impl TryFrom<AccountRow> for Account {
    type Error = IdentityError;
    fn try_from(row: AccountRow) -> Result<Self> {
        Ok(Self {
            id: AccountId::from_stored(row.id),
            oid: Oid::from_stored(row.oid),
            kind: AccountKind::parse(&row.kind)?,
            parent_id: row.parent_id.map(AccountId::from_stored),
            name: row.name,
            contact_email: row.contact_email,
            status: AccountStatus::parse(&row.status)?,
            created_at: row.created_at.and_utc(),
        })
    }
}

/// Input for a new account below an existing one.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Kind of the new account (distributor or organization).
    pub kind: AccountKind,
    /// Display name (1–200 characters).
    pub name: String,
    /// Contact e-mail.
    pub contact_email: Option<Email>,
    /// OID of the parent; the platform when `None`.
    pub parent: Option<Oid>,
}

impl NewAccount {
    /// An organization named `name` directly below the platform, without a contact e-mail.
    pub fn organization(name: &str) -> Self {
        Self {
            kind: AccountKind::Organization,
            name: name.to_owned(),
            contact_email: None,
            parent: None,
        }
    }
}

/// Creates an account below `new.parent` (the platform by default). Only distributors and the
/// platform may have children.
pub fn create(conn: &mut DbConnection, clock: &dyn Clock, new: NewAccount) -> Result<Account> {
    if new.kind == AccountKind::Platform {
        return Err(IdentityError::invalid(
            "kind",
            "only bootstrap creates the platform account",
        ));
    }
    let name = crate::text::optional_text("name", Some(&new.name), 200)?
        .ok_or_else(|| IdentityError::invalid("name", "is required"))?;
    write_transaction(conn, |conn| {
        let parent = match &new.parent {
            Some(oid) => find_by_oid(conn, oid)?,
            None => platform(conn)?,
        };
        if parent.kind == AccountKind::Organization {
            return Err(IdentityError::invalid(
                "parent",
                "an organization cannot own accounts",
            ));
        }
        let oid = oid::next_account(conn)?;
        insert(
            conn,
            clock,
            Insert {
                oid: &oid,
                kind: new.kind,
                parent_id: Some(&parent.id),
                name: &name,
                contact_email: new.contact_email.as_ref().map(Email::as_str),
                status: AccountStatus::Activated,
            },
        )
    })
}

pub(crate) struct Insert<'a> {
    pub oid: &'a Oid,
    pub kind: AccountKind,
    pub parent_id: Option<&'a AccountId>,
    pub name: &'a str,
    pub contact_email: Option<&'a str>,
    pub status: AccountStatus,
}

pub(crate) fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    new: Insert<'_>,
) -> Result<Account> {
    let now = clock.now().naive_utc();
    let id = AccountId::new_random();
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(id.as_str()),
            accounts::oid.eq(new.oid.as_str()),
            accounts::kind.eq(new.kind.as_str()),
            accounts::parent_id.eq(new.parent_id.map(AccountId::as_str)),
            accounts::name.eq(new.name),
            accounts::contact_email.eq(new.contact_email),
            accounts::status.eq(new.status.as_str()),
            accounts::created_at.eq(now),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    crate::organization::create_defaults(conn, clock, &id)?;
    crate::profile::create_builtin(conn, clock, &id)?;
    get(conn, &id)
}

/// The account with this internal id.
pub fn get(conn: &mut DbConnection, id: &AccountId) -> Result<Account> {
    accounts::table
        .filter(accounts::id.eq(id.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("account", id.as_str()))?
        .try_into()
}

/// The account with this OID.
pub fn find_by_oid(conn: &mut DbConnection, oid: &Oid) -> Result<Account> {
    accounts::table
        .filter(accounts::oid.eq(oid.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("account", oid.as_str()))?
        .try_into()
}

/// The platform account.
pub fn platform(conn: &mut DbConnection) -> Result<Account> {
    accounts::table
        .filter(accounts::kind.eq(AccountKind::Platform.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(IdentityError::NotBootstrapped)?
        .try_into()
}

/// All accounts, oldest first (small: the tree, not its users).
pub fn list(conn: &mut DbConnection) -> Result<Vec<Account>> {
    accounts::table
        .order(accounts::created_at.asc())
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Account::try_from)
        .collect()
}

/// Whether `account` is `ancestor` or below it in the tree.
pub fn is_within(
    conn: &mut DbConnection,
    account: &AccountId,
    ancestor: &AccountId,
) -> Result<bool> {
    let mut current = Some(account.clone());
    // The tree is shallow (platform → distributors → organizations); the bound only guards
    // against a cycle in corrupt data.
    for _ in 0..64 {
        let Some(id) = current else {
            return Ok(false);
        };
        if &id == ancestor {
            return Ok(true);
        }
        current = accounts::table
            .filter(accounts::id.eq(id.as_str()))
            .select(accounts::parent_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten()
            .map(AccountId::from_stored);
    }
    Err(IdentityError::Inconsistent(
        "account tree deeper than 64 levels".into(),
    ))
}

/// The live (not deleted) direct children of `account`, by name.
pub fn children(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<Account>> {
    accounts::table
        .filter(accounts::parent_id.eq(account.as_str()))
        .filter(accounts::status.ne(AccountStatus::Deleted.as_str()))
        .order(accounts::name.asc())
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Account::try_from)
        .collect()
}

/// `account` and its ancestors up to the platform, nearest first.
pub fn ancestors(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<AccountId>> {
    let mut chain = Vec::new();
    let mut current = Some(account.clone());
    while let Some(id) = current {
        if chain.len() > 64 {
            return Err(IdentityError::Inconsistent(
                "account tree deeper than 64 levels".into(),
            ));
        }
        current = accounts::table
            .filter(accounts::id.eq(id.as_str()))
            .select(accounts::parent_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten()
            .map(AccountId::from_stored);
        chain.push(id);
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The STid table of allowed actions, row by row.
    #[test]
    fn allowed_actions_by_status() {
        use AccountAction::*;
        let table = [
            (AccountStatus::Activated, [true, true, true, false]),
            (AccountStatus::Created, [true, false, true, false]),
            (AccountStatus::Disabled, [true, false, true, true]),
            (AccountStatus::Deleted, [false, false, false, false]),
        ];
        for (status, expected) in table {
            for (action, allowed) in [Modify, Disable, Delete, Reactivate]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(status.allows(action), allowed, "{status:?} {action:?}");
            }
        }
    }
}
