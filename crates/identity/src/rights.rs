//! Rights: per area, the verbs view/create/edit/delete, plus the two credit flags (STid "View
//! rights", "Creating users and user profiles"), and the one authorization check that every API
//! endpoint and console page calls.

use crate::{IdentityError, Result, account};
use lanyard_core::id::AccountId;
use lanyard_store::DbConnection;
use std::collections::BTreeMap;
use std::fmt;

/// An area of the product that rights are given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    /// The account's own details and settings.
    MyAccount,
    /// Administrators and invitations.
    Administrators,
    /// Rights profiles.
    Profiles,
    /// Child accounts (distributors and organizations).
    CustomerAccounts,
    /// End users and aliases.
    EndUsers,
    /// Devices and enrollments.
    Devices,
    /// Access keys and applications.
    AccessKeys,
    /// Messages.
    Messages,
    /// Sites.
    Sites,
    /// Readers.
    Readers,
    /// Reader configurations.
    ReaderConfigurations,
    /// Credentials (virtual user cards).
    Credentials,
    /// Configurators and configuration cards.
    Configurators,
    /// Credits.
    Credits,
    /// Activity log and account history.
    Activity,
}

impl Area {
    /// Every area, in the order of the rights table.
    pub const ALL: [Area; 15] = [
        Self::MyAccount,
        Self::Administrators,
        Self::Profiles,
        Self::CustomerAccounts,
        Self::EndUsers,
        Self::Devices,
        Self::AccessKeys,
        Self::Messages,
        Self::Sites,
        Self::Readers,
        Self::ReaderConfigurations,
        Self::Credentials,
        Self::Configurators,
        Self::Credits,
        Self::Activity,
    ];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MyAccount => "my_account",
            Self::Administrators => "administrators",
            Self::Profiles => "profiles",
            Self::CustomerAccounts => "customer_accounts",
            Self::EndUsers => "end_users",
            Self::Devices => "devices",
            Self::AccessKeys => "access_keys",
            Self::Messages => "messages",
            Self::Sites => "sites",
            Self::Readers => "readers",
            Self::ReaderConfigurations => "reader_configurations",
            Self::Credentials => "credentials",
            Self::Configurators => "configurators",
            Self::Credits => "credits",
            Self::Activity => "activity",
        }
    }

    /// The label shown in the console.
    pub const fn label(self) -> &'static str {
        match self {
            Self::MyAccount => "My account",
            Self::Administrators => "Administrators",
            Self::Profiles => "Profiles",
            Self::CustomerAccounts => "Customer accounts",
            Self::EndUsers => "End users",
            Self::Devices => "Devices",
            Self::AccessKeys => "Access keys",
            Self::Messages => "Messages",
            Self::Sites => "Sites",
            Self::Readers => "Readers",
            Self::ReaderConfigurations => "Reader configurations",
            Self::Credentials => "Credentials",
            Self::Configurators => "Configurators",
            Self::Credits => "Credits",
            Self::Activity => "Activity",
        }
    }

    /// The verbs that mean something for this area: an account cannot create or delete itself
    /// through "my account" (STid rights table), and activity is read-only (append-only history).
    pub const fn verbs(self) -> VerbSet {
        match self {
            Self::MyAccount => VerbSet(Verb::View.bit() | Verb::Edit.bit()),
            Self::Activity => VerbSet(Verb::View.bit()),
            _ => VerbSet::ALL,
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What may be done in an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// See.
    View,
    /// Add.
    Create,
    /// Change.
    Edit,
    /// Remove.
    Delete,
}

impl Verb {
    /// Every verb.
    pub const ALL: [Verb; 4] = [Self::View, Self::Create, Self::Edit, Self::Delete];

    const fn bit(self) -> u8 {
        match self {
            Self::View => 1,
            Self::Create => 2,
            Self::Edit => 4,
            Self::Delete => 8,
        }
    }

    const fn letter(self) -> char {
        match self {
            Self::View => 'v',
            Self::Create => 'c',
            Self::Edit => 'e',
            Self::Delete => 'd',
        }
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Create => "create",
            Self::Edit => "edit",
            Self::Delete => "delete",
        }
    }
}

/// A set of verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VerbSet(u8);

impl VerbSet {
    /// No verb.
    pub const NONE: VerbSet = VerbSet(0);
    /// Every verb.
    pub const ALL: VerbSet = VerbSet(15);

    /// Whether `verb` is in the set.
    pub const fn contains(self, verb: Verb) -> bool {
        self.0 & verb.bit() != 0
    }

    /// The set with `verb` added.
    #[must_use]
    pub const fn with(self, verb: Verb) -> Self {
        VerbSet(self.0 | verb.bit())
    }

    const fn intersect(self, other: VerbSet) -> Self {
        VerbSet(self.0 & other.0)
    }
}

/// The rights of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rights {
    grants: BTreeMap<Area, VerbSet>,
    /// May order credits.
    pub can_order_credits: bool,
    /// May transfer credits.
    pub can_transfer_credits: bool,
}

impl Rights {
    /// Everything (the built-in "Administrator" profile).
    pub fn all() -> Self {
        Self {
            grants: Area::ALL.into_iter().map(|a| (a, a.verbs())).collect(),
            can_order_credits: true,
            can_transfer_credits: true,
        }
    }

    /// Grants `verbs` in `area` (verbs that mean nothing there are dropped).
    pub fn grant(&mut self, area: Area, verbs: VerbSet) {
        let verbs = verbs.intersect(area.verbs());
        if verbs == VerbSet::NONE {
            self.grants.remove(&area);
        } else {
            self.grants.insert(area, verbs);
        }
    }

    /// The verbs granted in `area`.
    pub fn verbs(&self, area: Area) -> VerbSet {
        self.grants.get(&area).copied().unwrap_or_default()
    }

    /// Whether `verb` is allowed in `area`.
    pub fn allows(&self, area: Area, verb: Verb) -> bool {
        self.verbs(area).contains(verb)
    }

    /// Whether these rights include every right of `other` (an administrator may only hand out
    /// rights it holds itself).
    pub fn includes(&self, other: &Rights) -> bool {
        Area::ALL.into_iter().all(|a| {
            Verb::ALL
                .into_iter()
                .all(|v| !other.allows(a, v) || self.allows(a, v))
        }) && (self.can_order_credits || !other.can_order_credits)
            && (self.can_transfer_credits || !other.can_transfer_credits)
    }

    /// Whether these are all rights there are.
    pub fn is_everything(&self) -> bool {
        Rights::all().grants == self.grants && self.can_order_credits && self.can_transfer_credits
    }

    /// The stored form: `area:vced` entries, comma separated.
    pub fn encode(&self) -> String {
        self.grants
            .iter()
            .map(|(area, verbs)| {
                let letters: String = Verb::ALL
                    .into_iter()
                    .filter(|v| verbs.contains(*v))
                    .map(Verb::letter)
                    .collect();
                format!("{}:{letters}", area.as_str())
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses the stored form (the credit flags are stored apart).
    pub fn decode(
        encoded: &str,
        can_order_credits: bool,
        can_transfer_credits: bool,
    ) -> Result<Self> {
        let mut rights = Rights {
            can_order_credits,
            can_transfer_credits,
            ..Rights::default()
        };
        for entry in encoded.split(',').filter(|e| !e.is_empty()) {
            let (area, letters) = entry
                .split_once(':')
                .ok_or_else(|| IdentityError::Inconsistent(format!("rights entry {entry:?}")))?;
            let area = Area::parse(area)
                .ok_or_else(|| IdentityError::Inconsistent(format!("rights area {area:?}")))?;
            let mut verbs = VerbSet::NONE;
            for letter in letters.chars() {
                let verb = Verb::ALL
                    .into_iter()
                    .find(|v| v.letter() == letter)
                    .ok_or_else(|| {
                        IdentityError::Inconsistent(format!("rights verb {letter:?}"))
                    })?;
                verbs = verbs.with(verb);
            }
            rights.grant(area, verbs);
        }
        Ok(rights)
    }
}

/// Which accounts an administrator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Its account and everything below it.
    Subtree,
    /// Only these child accounts (miPASS "Organization Admin").
    Selected(Vec<AccountId>),
}

/// Who is acting: an administrator (console or API) or an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The account the actor belongs to.
    pub account: AccountId,
    /// Its rights.
    pub rights: Rights,
    /// Its scope.
    pub scope: Scope,
    /// Name recorded in the account history.
    pub name: String,
    /// E-mail recorded in the account history (administrators only).
    pub email: Option<String>,
    /// The administrator's id, when the actor is one.
    pub administrator: Option<lanyard_core::id::AdministratorId>,
    /// Which credential acts (`administrator:<id>`, `api-token:<id>`, `access-key:<id>`,
    /// `operator`): what the platform remembers as the maker of a credential, so that only the
    /// maker can take a private key it generated.
    pub principal: String,
}

impl Actor {
    /// An API token: every right on its own account (an organization: nothing below it).
    pub fn api_token(account: AccountId, token_name: &str) -> Self {
        Self {
            account,
            rights: Rights::all(),
            scope: Scope::Subtree,
            name: format!("API token {token_name}"),
            email: None,
            administrator: None,
            principal: format!("api-token:{token_name}"),
        }
    }

    /// The platform operator at the command line or at bootstrap: every right on `account`.
    pub fn operator(account: AccountId, name: &str) -> Self {
        Self {
            account,
            rights: Rights::all(),
            scope: Scope::Subtree,
            name: name.to_owned(),
            email: None,
            administrator: None,
            principal: "operator".to_owned(),
        }
    }

    /// Whether the actor holds every right over its whole account subtree (a "full
    /// administrator": the built-in Administrator profile with the whole scope, an API token).
    pub fn is_full(&self) -> bool {
        self.rights.is_everything() && self.scope == Scope::Subtree
    }
}

impl Scope {
    /// The stored form: `None` for the whole subtree, else the account ids, comma separated.
    pub fn encode(&self) -> Option<String> {
        match self {
            Self::Subtree => None,
            Self::Selected(accounts) => Some(
                accounts
                    .iter()
                    .map(AccountId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// Parses [`Scope::encode`]'s form.
    pub fn decode(stored: Option<&str>) -> Self {
        match stored {
            None => Self::Subtree,
            Some(list) => Self::Selected(
                list.split(',')
                    .filter(|a| !a.is_empty())
                    .map(|a| AccountId::from_stored(a.to_owned()))
                    .collect(),
            ),
        }
    }
}

/// Whether everything a holder at `account` with `scope` can reach, `actor` reaches too: the
/// rule that nobody makes, changes or removes someone (an administrator, a key) wider than
/// itself. A whole-subtree actor reaches everything below its account; an actor with selected
/// accounts reaches its own account and those, so a whole-subtree holder is within it only when
/// every account below the holder's is selected.
pub fn reach_includes(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    scope: &Scope,
) -> Result<bool> {
    let own = match &actor.scope {
        Scope::Subtree => return account::is_within(conn, account, &actor.account),
        Scope::Selected(own) => own,
    };
    if account != &actor.account && !own.contains(account) {
        return Ok(false);
    }
    match scope {
        Scope::Selected(theirs) => Ok(theirs.iter().all(|t| own.contains(t))),
        Scope::Subtree => {
            let mut below = vec![account.clone()];
            while let Some(next) = below.pop() {
                for child in account::children(conn, &next)? {
                    if !own.contains(&child.id) {
                        return Ok(false);
                    }
                    below.push(child.id);
                }
            }
            Ok(true)
        }
    }
}

/// Refuses (`FORBIDDEN`) unless `rights` and (`account`, `scope`) lie within `actor`'s: what
/// "no wider than oneself" means for whatever is being made, changed or removed (`what`).
pub fn require_within(
    conn: &mut DbConnection,
    actor: &Actor,
    rights: &Rights,
    account: &AccountId,
    scope: &Scope,
    what: &str,
) -> Result<()> {
    if !actor.rights.includes(rights) {
        return Err(IdentityError::Forbidden(format!(
            "{what} has rights you do not have"
        )));
    }
    if !reach_includes(conn, actor, account, scope)? {
        return Err(IdentityError::Forbidden(format!(
            "{what} reaches accounts outside your scope"
        )));
    }
    Ok(())
}

/// The one authorization check: may `actor` do `verb` in `area` on `target`?
///
/// A target outside the actor's reach is [`IdentityError::NotFound`] (its existence is not
/// revealed); a target within reach without the right is [`IdentityError::Forbidden`].
pub fn authorize(
    conn: &mut DbConnection,
    actor: &Actor,
    area: Area,
    verb: Verb,
    target: &AccountId,
) -> Result<()> {
    let reachable = match &actor.scope {
        Scope::Subtree => account::is_within(conn, target, &actor.account)?,
        Scope::Selected(accounts) => {
            target == &actor.account || accounts.iter().any(|a| a == target)
        }
    };
    if !reachable {
        return Err(IdentityError::not_found("account", target.as_str()));
    }
    if actor.rights.allows(area, verb) {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(format!(
            "your profile does not allow {} in {}",
            verb.as_str(),
            area.label()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_drops_meaningless_verbs() {
        let mut r = Rights::default();
        r.grant(
            Area::EndUsers,
            VerbSet::NONE.with(Verb::View).with(Verb::Edit),
        );
        r.grant(Area::MyAccount, VerbSet::ALL);
        r.grant(Area::Activity, VerbSet::ALL);
        assert_eq!(r.encode(), "my_account:ve,end_users:ve,activity:v");
        assert_eq!(
            Rights::decode(&r.encode(), false, true).expect("decode"),
            Rights {
                can_transfer_credits: true,
                ..r.clone()
            }
        );
        assert!(Rights::decode("nowhere:v", false, false).is_err());
        assert!(Rights::all().includes(&r));
        assert!(!r.includes(&Rights::all()));
        assert!(Rights::all().is_everything());
    }

    /// The rights table: for a profile that may view and edit end users and only view devices,
    /// every area × verb is checked.
    #[test]
    fn rights_table_covers_every_area_and_verb() {
        let mut limited = Rights::default();
        limited.grant(
            Area::EndUsers,
            VerbSet::NONE.with(Verb::View).with(Verb::Edit),
        );
        limited.grant(Area::Devices, VerbSet::NONE.with(Verb::View));
        let full = Rights::all();
        for area in Area::ALL {
            for verb in Verb::ALL {
                let expected_limited = matches!(
                    (area, verb),
                    (Area::EndUsers, Verb::View | Verb::Edit) | (Area::Devices, Verb::View)
                );
                assert_eq!(
                    limited.allows(area, verb),
                    expected_limited,
                    "limited {area:?} {verb:?}"
                );
                let expected_full = match area {
                    Area::MyAccount => matches!(verb, Verb::View | Verb::Edit),
                    Area::Activity => verb == Verb::View,
                    _ => true,
                };
                assert_eq!(
                    full.allows(area, verb),
                    expected_full,
                    "full {area:?} {verb:?}"
                );
                assert!(
                    !Rights::default().allows(area, verb),
                    "none {area:?} {verb:?}"
                );
            }
        }
    }
}
