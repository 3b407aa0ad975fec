//! Account settings (PassBy[ME] OrganizationData, "Modifying account details") and plans
//! (PricingData).

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email};
use lanyard_store::schema::{account_settings, administrators, invitations, plans};
use lanyard_store::{DbConnection, write_transaction};

/// Default validity of enrollments, in hours.
pub const DEFAULT_ENROLLMENT_HOURS: i64 = 72;
/// Default validity of invitations, in hours.
pub const DEFAULT_INVITATION_HOURS: i64 = 72;

/// A plan's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// Maximum end users.
    pub max_users: i64,
    /// Maximum administrators (open invitations count too).
    pub max_admins: i64,
    /// Days the activity log is kept.
    pub days_of_activity_log: i64,
    /// Maximum devices per end user.
    pub max_devices_per_user: i64,
}

/// The plans created at bootstrap (the PassBy[ME] Free / Standard / Premium); the platform
/// operator may change them.
pub const DEFAULT_PLANS: [(&str, i64, i64, i64, i64); 3] = [
    ("Free", 10, 2, 1, 20),
    ("Standard", 1_000, 10, 90, 20),
    ("Premium", 1_000_000, 100, 365, 20),
];

/// Settings of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// Assigned plan; `None`: no limits (platform and distributors, or unassigned).
    pub plan: Option<Plan>,
    /// Validity of enrollments.
    pub enrollment_expiration_hours: i64,
    /// Validity of invitations.
    pub invitation_expiration_hours: i64,
    /// Send confirmation letters (deactivation codes) to end users.
    pub confirmation_letter_enabled: bool,
    /// Where failed callbacks are reported.
    pub failed_callback_email: Option<String>,
    /// Where deleted end users are reported.
    pub deleted_user_email: Option<String>,
    /// Aliases administrators may manage (a regular expression).
    pub manageable_alias_regex: Option<String>,
    /// Devices inactive longer than this many days are removed.
    pub max_device_inactivity_days: Option<i64>,
}

pub(crate) fn seed_plans(conn: &mut DbConnection, clock: &dyn Clock) -> Result<()> {
    let now = clock.now().naive_utc();
    for (name, users, admins, days, devices) in DEFAULT_PLANS {
        diesel::insert_into(plans::table)
            .values((
                plans::id.eq(uuid::Uuid::new_v4().to_string()),
                plans::name.eq(name),
                plans::max_users.eq(users),
                plans::max_admins.eq(admins),
                plans::days_of_activity_log.eq(days),
                plans::max_devices_per_user.eq(devices),
                plans::created_at.eq(now),
                plans::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub(crate) fn create_defaults(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<()> {
    diesel::insert_into(account_settings::table)
        .values((
            account_settings::account_id.eq(account.as_str()),
            account_settings::enrollment_expiration_hours.eq(DEFAULT_ENROLLMENT_HOURS),
            account_settings::invitation_expiration_hours.eq(DEFAULT_INVITATION_HOURS),
            account_settings::confirmation_letter_enabled.eq(true),
            account_settings::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

type PlanRow = (String, i64, i64, i64, i64);

fn plan_from(
    (name, max_users, max_admins, days_of_activity_log, max_devices_per_user): PlanRow,
) -> Plan {
    Plan {
        name,
        max_users,
        max_admins,
        days_of_activity_log,
        max_devices_per_user,
    }
}

/// Every plan, by name.
pub fn plans(conn: &mut DbConnection) -> Result<Vec<Plan>> {
    Ok(plans::table
        .order(plans::max_users.asc())
        .select((
            plans::name,
            plans::max_users,
            plans::max_admins,
            plans::days_of_activity_log,
            plans::max_devices_per_user,
        ))
        .load::<PlanRow>(conn)?
        .into_iter()
        .map(plan_from)
        .collect())
}

/// The settings of `account`.
pub fn settings(conn: &mut DbConnection, account: &AccountId) -> Result<AccountSettings> {
    type Row = (
        Option<String>,
        i64,
        i64,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let row: Row = account_settings::table
        .filter(account_settings::account_id.eq(account.as_str()))
        .select((
            account_settings::plan_id,
            account_settings::enrollment_expiration_hours,
            account_settings::invitation_expiration_hours,
            account_settings::confirmation_letter_enabled,
            account_settings::failed_callback_email,
            account_settings::deleted_user_email,
            account_settings::manageable_alias_regex,
            account_settings::max_device_inactivity_days,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("account settings", account.as_str()))?;
    let plan = match &row.0 {
        Some(id) => Some(plan_from(
            plans::table
                .filter(plans::id.eq(id))
                .select((
                    plans::name,
                    plans::max_users,
                    plans::max_admins,
                    plans::days_of_activity_log,
                    plans::max_devices_per_user,
                ))
                .first::<PlanRow>(conn)?,
        )),
        None => None,
    };
    Ok(AccountSettings {
        plan,
        enrollment_expiration_hours: row.1,
        invitation_expiration_hours: row.2,
        confirmation_letter_enabled: row.3,
        failed_callback_email: row.4,
        deleted_user_email: row.5,
        manageable_alias_regex: row.6,
        max_device_inactivity_days: row.7,
    })
}

/// Validated changes of the PassBy[ME] `PUT /rest/organization` and the settings page.
#[derive(Debug, Clone)]
pub struct SettingsChange {
    /// Account name.
    pub name: String,
    /// Contact e-mail.
    pub contact_email: Email,
    /// Validity of enrollments (1–8760 hours).
    pub enrollment_expiration_hours: i64,
    /// Validity of invitations (1–8760 hours).
    pub invitation_expiration_hours: i64,
    /// Send confirmation letters.
    pub confirmation_letter_enabled: bool,
}

impl SettingsChange {
    /// Validates the fields as named on the wire.
    pub fn parse(
        name: &str,
        email: &str,
        enrollment_expiration_hours: i64,
        invitation_expiration_hours: i64,
        confirmation_letter_enabled: bool,
    ) -> Result<Self> {
        let name = crate::text::optional_text("name", Some(name), 200)?
            .ok_or_else(|| IdentityError::invalid("name", "is required"))?;
        let contact_email =
            Email::parse(email).map_err(|e| IdentityError::invalid("email", e.to_string()))?;
        for (field, hours) in [
            ("enrollmentExpirationHours", enrollment_expiration_hours),
            ("invitationExpirationHours", invitation_expiration_hours),
        ] {
            if !(1..=8760).contains(&hours) {
                return Err(IdentityError::invalid(
                    field,
                    "must be between 1 and 8760 hours",
                ));
            }
        }
        Ok(Self {
            name,
            contact_email,
            enrollment_expiration_hours,
            invitation_expiration_hours,
            confirmation_letter_enabled,
        })
    }
}

/// Applies `change` to `account`.
pub fn update(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    change: &SettingsChange,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::MyAccount, Verb::Edit, account)?;
        let now = clock.now().naive_utc();
        diesel::update(
            lanyard_store::schema::accounts::table
                .filter(lanyard_store::schema::accounts::id.eq(account.as_str())),
        )
        .set((
            lanyard_store::schema::accounts::name.eq(&change.name),
            lanyard_store::schema::accounts::contact_email.eq(change.contact_email.as_str()),
            lanyard_store::schema::accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
        diesel::update(
            account_settings::table.filter(account_settings::account_id.eq(account.as_str())),
        )
        .set((
            account_settings::enrollment_expiration_hours.eq(change.enrollment_expiration_hours),
            account_settings::invitation_expiration_hours.eq(change.invitation_expiration_hours),
            account_settings::confirmation_letter_enabled.eq(change.confirmation_letter_enabled),
            account_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "My account",
            "Account details updated",
        )?;
        Ok(())
    })
}

/// Assigns the plan `name` to `account` (platform operator).
pub fn assign_plan(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    name: &str,
) -> Result<()> {
    let plan_id: String = plans::table
        .filter(plans::name.eq(name))
        .select(plans::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("plan", name))?;
    diesel::update(
        account_settings::table.filter(account_settings::account_id.eq(account.as_str())),
    )
    .set((
        account_settings::plan_id.eq(plan_id),
        account_settings::updated_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Fails with `PRICING_LIMIT_INVITATION` when administrators plus open invitations of `account`
/// have reached its plan's `maxNumberOfAdmins`. Call inside the inviting transaction.
pub(crate) fn check_invitation_limit(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<()> {
    let Some(plan) = settings(conn, account)?.plan else {
        return Ok(());
    };
    let admins: i64 = administrators::table
        .filter(administrators::account_id.eq(account.as_str()))
        .filter(administrators::status.ne("invited"))
        .count()
        .get_result(conn)?;
    let open: i64 = invitations::table
        .filter(invitations::account_id.eq(account.as_str()))
        .filter(invitations::used_at.is_null())
        .filter(invitations::expires_at.gt(clock.now().naive_utc()))
        .count()
        .get_result(conn)?;
    if admins + open >= plan.max_admins {
        return Err(IdentityError::PricingLimit {
            code: lanyard_core::ErrorCode::PricingLimitInvitation,
            message: "You have exceeded the maximum number of invitations".into(),
        });
    }
    Ok(())
}

/// New limits of a plan, as entered (each at least 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// `maxNumberOfUsers`
    pub max_users: i64,
    /// `maxNumberOfAdmins`
    pub max_admins: i64,
    /// `daysOfActivityLog`
    pub days_of_activity_log: i64,
    /// `maxNumberOfDevicesPerUser`
    pub max_devices_per_user: i64,
}

fn platform_only(conn: &mut DbConnection, actor: &Actor) -> Result<()> {
    if crate::account::platform(conn)?.id != actor.account {
        return Err(IdentityError::Forbidden(
            "only the platform operator manages plans".into(),
        ));
    }
    authorize(
        conn,
        actor,
        Area::CustomerAccounts,
        Verb::Edit,
        &actor.account,
    )
}

/// Longest activity-log retention a plan may have, in days (a century).
pub const MAX_DAYS_OF_ACTIVITY_LOG: i64 = 36_500;

/// Changes the limits of the plan `name` (platform operator).
pub fn update_plan(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    name: &str,
    limits: PlanLimits,
) -> Result<()> {
    for (field, value) in [
        ("maxNumberOfUsers", limits.max_users),
        ("maxNumberOfAdmins", limits.max_admins),
        ("daysOfActivityLog", limits.days_of_activity_log),
        ("maxNumberOfDevicesPerUser", limits.max_devices_per_user),
    ] {
        if value < 0 {
            return Err(IdentityError::invalid(field, "must be 0 or more"));
        }
    }
    // Retention becomes a time span (`TimeDelta::days`), which panics past about 292 million
    // years: a century is the longest log anyone keeps.
    if limits.days_of_activity_log > MAX_DAYS_OF_ACTIVITY_LOG {
        return Err(IdentityError::invalid(
            "daysOfActivityLog",
            format!("must be between 0 and {MAX_DAYS_OF_ACTIVITY_LOG}"),
        ));
    }
    write_transaction(conn, |conn| {
        platform_only(conn, actor)?;
        let changed = diesel::update(plans::table.filter(plans::name.eq(name)))
            .set((
                plans::max_users.eq(limits.max_users),
                plans::max_admins.eq(limits.max_admins),
                plans::days_of_activity_log.eq(limits.days_of_activity_log),
                plans::max_devices_per_user.eq(limits.max_devices_per_user),
                plans::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(IdentityError::not_found("plan", name));
        }
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "Plans",
            &format!("Plan {name} changed"),
        )
    })
}

/// Assigns the plan `name` to the organization `oid` (platform operator); an empty name removes
/// the plan (no limits).
pub fn set_plan(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    oid: &lanyard_core::Oid,
    name: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        platform_only(conn, actor)?;
        let target = crate::account::find_by_oid(conn, oid)?;
        authorize(conn, actor, Area::CustomerAccounts, Verb::Edit, &target.id)?;
        if name.is_empty() {
            diesel::update(
                account_settings::table.filter(account_settings::account_id.eq(target.id.as_str())),
            )
            .set(account_settings::plan_id.eq(None::<String>))
            .execute(conn)?;
        } else {
            assign_plan(conn, clock, &target.id, name)?;
        }
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "Plans",
            &format!(
                "Plan of {} set to {}",
                target.name,
                if name.is_empty() { "none" } else { name }
            ),
        )
    })
}

/// Fails with `PRICING_LIMIT_USERS` when `account` has as many end users as its plan allows.
/// Call inside the creating transaction.
pub(crate) fn check_user_limit(conn: &mut DbConnection, account: &AccountId) -> Result<()> {
    let Some(plan) = settings(conn, account)?.plan else {
        return Ok(());
    };
    let users = crate::end_user::count(conn, account)?;
    if users >= plan.max_users {
        return Err(IdentityError::PricingLimit {
            code: lanyard_core::ErrorCode::PricingLimitUsers,
            message: format!("the {} plan allows {} end users", plan.name, plan.max_users),
        });
    }
    Ok(())
}

/// The settings of SPEC §1 "Account settings" beyond those of the PassBy[ME] API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoreSettings {
    /// Where failed callbacks are reported.
    pub failed_callback_email: Option<Email>,
    /// Where deleted end users are reported.
    pub deleted_user_email: Option<Email>,
    /// Aliases administrators may manage (a regular expression; others are invisible to them).
    pub manageable_alias_regex: Option<String>,
    /// Devices inactive longer than this many days are removed.
    pub max_device_inactivity_days: Option<i64>,
}

impl MoreSettings {
    /// Validates the raw fields (empty means none), naming the field.
    pub fn parse(
        failed_callback_email: &str,
        deleted_user_email: &str,
        manageable_alias_regex: &str,
        max_device_inactivity_days: &str,
    ) -> Result<Self> {
        let email = |field: &'static str, raw: &str| {
            let raw = raw.trim();
            if raw.is_empty() {
                Ok(None)
            } else {
                Email::parse(raw)
                    .map(Some)
                    .map_err(|e| IdentityError::invalid(field, e.to_string()))
            }
        };
        let regex = manageable_alias_regex.trim();
        if !regex.is_empty() {
            regex::Regex::new(regex).map_err(|e| {
                IdentityError::invalid(
                    "manageableAliasRegex",
                    format!("is not a valid regular expression: {e}"),
                )
            })?;
        }
        let days = max_device_inactivity_days.trim();
        let days = if days.is_empty() {
            None
        } else {
            Some(
                days.parse::<i64>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| {
                        IdentityError::invalid(
                            "maxDeviceInactivityDays",
                            "must be a number of days between 1 and 3650",
                        )
                    })?,
            )
        };
        Ok(Self {
            failed_callback_email: email("failedCallbackEmail", failed_callback_email)?,
            deleted_user_email: email("deletedUserEmail", deleted_user_email)?,
            manageable_alias_regex: (!regex.is_empty()).then(|| regex.to_owned()),
            max_device_inactivity_days: days,
        })
    }
}

/// Refuses `alias` when `account` restricts the aliases administrators may manage (the
/// manageable-aliases setting, SPEC §1) and the whole alias does not match it. Checked on every
/// add, change and removal of an alias, from the console and from the management API.
pub fn require_manageable_alias(
    conn: &mut DbConnection,
    account: &AccountId,
    field: &'static str,
    alias: &str,
) -> Result<()> {
    let Some(pattern) = settings(conn, account)?.manageable_alias_regex else {
        return Ok(());
    };
    // The whole alias must match, as a person reading the setting expects.
    let whole = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| IdentityError::Inconsistent(format!("manageable alias pattern: {e}")))?;
    if whole.is_match(alias) {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            field,
            format!(
                "is not an alias administrators may manage here (manageable aliases: {pattern})"
            ),
        ))
    }
}

/// Stores the settings beyond the PassBy[ME] API ones.
pub fn update_more(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    more: &MoreSettings,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::MyAccount, Verb::Edit, account)?;
        diesel::update(
            account_settings::table.filter(account_settings::account_id.eq(account.as_str())),
        )
        .set((
            account_settings::failed_callback_email
                .eq(more.failed_callback_email.as_ref().map(Email::as_str)),
            account_settings::deleted_user_email
                .eq(more.deleted_user_email.as_ref().map(Email::as_str)),
            account_settings::manageable_alias_regex.eq(more.manageable_alias_regex.as_deref()),
            account_settings::max_device_inactivity_days.eq(more.max_device_inactivity_days),
            account_settings::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_settings_name_the_bad_field() {
        let field = |r: Result<MoreSettings>| match r {
            Err(IdentityError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(MoreSettings::parse("not-an-address", "", "", "")),
            "failedCallbackEmail"
        );
        assert_eq!(
            field(MoreSettings::parse("", "x@", "", "")),
            "deletedUserEmail"
        );
        assert_eq!(
            field(MoreSettings::parse("", "", "(", "")),
            "manageableAliasRegex"
        );
        assert_eq!(
            field(MoreSettings::parse("", "", "", "0")),
            "maxDeviceInactivityDays"
        );
        let ok = MoreSettings::parse(" a@b.hu ", "", "^x", "30").expect("valid");
        assert_eq!(ok.max_device_inactivity_days, Some(30));
        assert_eq!(
            MoreSettings::parse("", "", "", "").expect("empty"),
            MoreSettings::default()
        );
        let change = SettingsChange::parse("Acme", "a@b.hu", 0, 1, true);
        assert!(matches!(
            change,
            Err(IdentityError::Invalid {
                field: "enrollmentExpirationHours",
                ..
            })
        ));
    }
}
