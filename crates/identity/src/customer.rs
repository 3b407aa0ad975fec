//! Customer accounts: the distributors and organizations a distributor (or the platform)
//! creates, with the STid company and contact details, statuses and the actions each status
//! allows, and their administrators e-mailed on disable and reactivate.

use crate::account::{
    self, Account, AccountAction, AccountKind, AccountRow, AccountStatus, Insert,
};
use crate::admin::{self, AdminStatus, Links};
use crate::rights::{Actor, Area, Verb, authorize};
use crate::text::{optional_phone, optional_text};
use crate::{IdentityError, Result, history, oid};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::paging::{Page, like_contains};
use lanyard_core::{Clock, Email, Oid, PageRequest};
use lanyard_store::schema::{account_details, accounts};
use lanyard_store::{DbConnection, write_transaction};

/// Company and contact details. Fields marked required in STid are plain strings here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Registration number.
    pub registration_number: Option<String>,
    /// VAT identification.
    pub vat_number: Option<String>,
    /// EORI number.
    pub eori_number: Option<String>,
    /// CEO or manager (required).
    pub manager: String,
    /// Founding date.
    pub founding_date: Option<String>,
    /// Capital.
    pub capital: Option<String>,
    /// Company profile.
    pub company_profile: Option<String>,
    /// City (required).
    pub city: String,
    /// Street address (required).
    pub street: String,
    /// Zip code (required).
    pub zip: String,
    /// Country (required).
    pub country: String,
    /// Website.
    pub website: Option<String>,
    /// Contact's title, e.g. Mr or Mrs (required).
    pub contact_title: String,
    /// Contact's first name (required).
    pub contact_first_name: String,
    /// Contact's last name (required).
    pub contact_last_name: String,
    /// Contact's job title (required).
    pub contact_job_title: String,
    /// Contact's phone.
    pub contact_phone: Option<String>,
    /// Contact's mobile.
    pub contact_mobile: Option<String>,
}

/// Raw form or API input, as named on the wire.
#[derive(Debug, Clone, Default)]
pub struct DetailsInput {
    /// `registrationNumber`
    pub registration_number: Option<String>,
    /// `vatNumber`
    pub vat_number: Option<String>,
    /// `eoriNumber`
    pub eori_number: Option<String>,
    /// `manager`
    pub manager: Option<String>,
    /// `foundingDate`
    pub founding_date: Option<String>,
    /// `capital`
    pub capital: Option<String>,
    /// `companyProfile`
    pub company_profile: Option<String>,
    /// `city`
    pub city: Option<String>,
    /// `street`
    pub street: Option<String>,
    /// `zip`
    pub zip: Option<String>,
    /// `country`
    pub country: Option<String>,
    /// `website`
    pub website: Option<String>,
    /// `contactTitle`
    pub contact_title: Option<String>,
    /// `contactFirstName`
    pub contact_first_name: Option<String>,
    /// `contactLastName`
    pub contact_last_name: Option<String>,
    /// `contactJobTitle`
    pub contact_job_title: Option<String>,
    /// `contactPhone`
    pub contact_phone: Option<String>,
    /// `contactMobile`
    pub contact_mobile: Option<String>,
}

fn required(field: &'static str, value: Option<&str>) -> Result<String> {
    optional_text(field, value, 200)?.ok_or_else(|| IdentityError::invalid(field, "is required"))
}

impl DetailsInput {
    /// Validates: the STid mandatory fields must be present; every text at most 200 characters.
    pub fn parse(&self) -> Result<Details> {
        let opt = |field, v: &Option<String>| optional_text(field, v.as_deref(), 200);
        Ok(Details {
            manager: required("manager", self.manager.as_deref())?,
            city: required("city", self.city.as_deref())?,
            street: required("street", self.street.as_deref())?,
            zip: required("zip", self.zip.as_deref())?,
            country: required("country", self.country.as_deref())?,
            contact_title: required("contactTitle", self.contact_title.as_deref())?,
            contact_first_name: required("contactFirstName", self.contact_first_name.as_deref())?,
            contact_last_name: required("contactLastName", self.contact_last_name.as_deref())?,
            contact_job_title: required("contactJobTitle", self.contact_job_title.as_deref())?,
            registration_number: opt("registrationNumber", &self.registration_number)?,
            vat_number: opt("vatNumber", &self.vat_number)?,
            eori_number: opt("eoriNumber", &self.eori_number)?,
            founding_date: opt("foundingDate", &self.founding_date)?,
            capital: opt("capital", &self.capital)?,
            company_profile: opt("companyProfile", &self.company_profile)?,
            website: opt("website", &self.website)?,
            contact_phone: optional_phone(self.contact_phone.as_deref())?,
            contact_mobile: optional_phone(self.contact_mobile.as_deref()).map_err(|_| {
                IdentityError::invalid(
                    "contactMobile",
                    "may contain only digits, spaces and + - ( ) . /",
                )
            })?,
        })
    }
}

/// A customer account with its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The account.
    pub account: Account,
    /// Its details.
    pub details: Details,
}

fn search_text(name: &str, d: &Details) -> String {
    format!(
        "{name}\n{}\n{} {}\n{}",
        d.manager, d.contact_first_name, d.contact_last_name, d.city
    )
    .to_lowercase()
}

fn write_details(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    name: &str,
    d: &Details,
    insert: bool,
) -> Result<()> {
    let values = (
        account_details::registration_number.eq(d.registration_number.as_deref()),
        account_details::vat_number.eq(d.vat_number.as_deref()),
        account_details::eori_number.eq(d.eori_number.as_deref()),
        account_details::manager.eq(&d.manager),
        account_details::founding_date.eq(d.founding_date.as_deref()),
        account_details::capital.eq(d.capital.as_deref()),
        account_details::company_profile.eq(d.company_profile.as_deref()),
        account_details::city.eq(&d.city),
        account_details::street.eq(&d.street),
        account_details::zip.eq(&d.zip),
        account_details::country.eq(&d.country),
        account_details::website.eq(d.website.as_deref()),
        account_details::contact_title.eq(&d.contact_title),
        account_details::contact_first_name.eq(&d.contact_first_name),
        account_details::contact_last_name.eq(&d.contact_last_name),
        account_details::contact_job_title.eq(&d.contact_job_title),
        account_details::contact_phone.eq(d.contact_phone.as_deref()),
        account_details::contact_mobile.eq(d.contact_mobile.as_deref()),
        account_details::search_text.eq(search_text(name, d)),
        account_details::updated_at.eq(clock.now().naive_utc()),
    );
    if insert {
        diesel::insert_into(account_details::table)
            .values((account_details::account_id.eq(account.as_str()), values))
            .execute(conn)?;
    } else {
        diesel::update(
            account_details::table.filter(account_details::account_id.eq(account.as_str())),
        )
        .set(values)
        .execute(conn)?;
    }
    Ok(())
}

/// Creates a customer account below the actor's account: status Created; its main e-mail is
/// invited as its first administrator (built-in profile, whole account), and the account becomes
/// Activated when that administrator activates. The main e-mail never changes afterwards.
#[expect(
    clippy::too_many_arguments,
    reason = "the STid form's parts, each validated apart"
)]
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    kind: AccountKind,
    name: &str,
    main_email: &Email,
    details: &Details,
) -> Result<Customer> {
    let name = optional_text("name", Some(name), 200)?
        .ok_or_else(|| IdentityError::invalid("name", "is required"))?;
    if kind == AccountKind::Platform {
        return Err(IdentityError::invalid(
            "kind",
            "must be distributor or organization",
        ));
    }
    write_transaction(conn, |conn| {
        authorize(
            conn,
            actor,
            Area::CustomerAccounts,
            Verb::Create,
            &actor.account,
        )?;
        let parent = account::get(conn, &actor.account)?;
        if parent.kind == AccountKind::Organization {
            return Err(IdentityError::Forbidden(
                "an organization has no customer accounts".into(),
            ));
        }
        let oid = oid::next_account(conn)?;
        let created = account::insert(
            conn,
            clock,
            Insert {
                oid: &oid,
                kind,
                parent_id: Some(&parent.id),
                name: &name,
                contact_email: Some(main_email.as_str()),
                status: AccountStatus::Created,
            },
        )?;
        write_details(conn, clock, &created.id, &name, details, true)?;
        admin::invite_first(conn, clock, links, actor, &created.id, main_email)?;
        history::record_by(
            conn,
            clock,
            actor,
            &parent.id,
            "Customer accounts",
            &format!("New account created: {name}"),
        )?;
        Ok(Customer {
            account: created,
            details: details.clone(),
        })
    })
}

type DetailsRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn details_of(conn: &mut DbConnection, id: &AccountId) -> Result<Details> {
    let r: DetailsRow = account_details::table
        .filter(account_details::account_id.eq(id.as_str()))
        .select((
            account_details::registration_number,
            account_details::vat_number,
            account_details::eori_number,
            account_details::manager,
            account_details::founding_date,
            account_details::capital,
            account_details::company_profile,
            account_details::city,
            account_details::street,
            account_details::zip,
            account_details::country,
            account_details::website,
            account_details::contact_title,
            account_details::contact_first_name,
            account_details::contact_last_name,
            account_details::contact_job_title,
            account_details::contact_phone,
            account_details::contact_mobile,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("customer account", id.as_str()))?;
    Ok(Details {
        registration_number: r.0,
        vat_number: r.1,
        eori_number: r.2,
        manager: r.3,
        founding_date: r.4,
        capital: r.5,
        company_profile: r.6,
        city: r.7,
        street: r.8,
        zip: r.9,
        country: r.10,
        website: r.11,
        contact_title: r.12,
        contact_first_name: r.13,
        contact_last_name: r.14,
        contact_job_title: r.15,
        contact_phone: r.16,
        contact_mobile: r.17,
    })
}

/// The customer account `oid`, if the actor may view it.
pub fn get(conn: &mut DbConnection, actor: &Actor, oid: &Oid) -> Result<Customer> {
    let account = account::find_by_oid(conn, oid)?;
    if account.status == AccountStatus::Deleted || account.id == actor.account {
        return Err(IdentityError::not_found("customer account", oid.as_str()));
    }
    authorize(conn, actor, Area::CustomerAccounts, Verb::View, &account.id)?;
    let details = details_of(conn, &account.id)?;
    Ok(Customer { account, details })
}

/// Sort order of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// By name (the default).
    #[default]
    Name,
    /// By status.
    Status,
    /// Newest first.
    Newest,
}

/// A page of the direct customer accounts of the actor's account (never deleted ones), searched
/// in name, manager, contact and city.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    sort: Sort,
    page: &PageRequest,
) -> Result<Page<Customer>> {
    authorize(
        conn,
        actor,
        Area::CustomerAccounts,
        Verb::View,
        &actor.account,
    )?;
    let selected: Option<Vec<String>> = match &actor.scope {
        crate::rights::Scope::Subtree => None,
        crate::rights::Scope::Selected(ids) => {
            Some(ids.iter().map(|a| a.as_str().to_owned()).collect())
        }
    };
    let base = || {
        let q = accounts::table
            .inner_join(account_details::table)
            .filter(accounts::parent_id.eq(actor.account.as_str()))
            .filter(accounts::status.ne(AccountStatus::Deleted.as_str()))
            .into_boxed();
        // An administrator with a limited scope sees only its selected accounts.
        match &selected {
            Some(ids) => q.filter(accounts::id.eq_any(ids.clone())),
            None => q,
        }
    };
    let records_total: i64 = base().count().get_result(conn)?;
    let pattern = page.search.as_deref().map(like_contains);
    let filtered = || match &pattern {
        Some(p) => base().filter(account_details::search_text.like(p.clone()).escape('\\')),
        None => base(),
    };
    let records_filtered: i64 = filtered().count().get_result(conn)?;
    let ordered = match sort {
        Sort::Name => filtered().order((accounts::name.asc(), accounts::id.asc())),
        Sort::Status => filtered().order((accounts::status.asc(), accounts::name.asc())),
        Sort::Newest => filtered().order((accounts::created_at.desc(), accounts::id.asc())),
    };
    let rows: Vec<AccountRow> = ordered
        .offset(page.start)
        .limit(page.length)
        .select(AccountRow::as_select())
        .load(conn)?;
    let mut data = Vec::with_capacity(rows.len());
    for row in rows {
        let account = Account::try_from(row)?;
        let details = details_of(conn, &account.id)?;
        data.push(Customer { account, details });
    }
    Ok(Page {
        data,
        records_total,
        records_filtered,
    })
}

/// Changes a customer account's name and details (not its main e-mail).
pub fn modify(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    oid: &Oid,
    name: &str,
    details: &Details,
) -> Result<Customer> {
    let name = optional_text("name", Some(name), 200)?
        .ok_or_else(|| IdentityError::invalid("name", "is required"))?;
    write_transaction(conn, |conn| {
        let current = get(conn, actor, oid)?;
        authorize(
            conn,
            actor,
            Area::CustomerAccounts,
            Verb::Edit,
            &current.account.id,
        )?;
        check(current.account.status, AccountAction::Modify)?;
        diesel::update(accounts::table.filter(accounts::id.eq(current.account.id.as_str())))
            .set((
                accounts::name.eq(&name),
                accounts::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        write_details(conn, clock, &current.account.id, &name, details, false)?;
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "Customer accounts",
            &format!("Account updated : {name}"),
        )?;
        get(conn, actor, oid)
    })
}

fn check(status: AccountStatus, action: AccountAction) -> Result<()> {
    if status.allows(action) {
        Ok(())
    } else {
        Err(IdentityError::NotAllowed(format!(
            "an account in status {} cannot be {}",
            status.label(),
            match action {
                AccountAction::Modify => "modified",
                AccountAction::Disable => "disabled",
                AccountAction::Delete => "deleted",
                AccountAction::Reactivate => "reactivated",
            }
        )))
    }
}

fn mail_admins(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    account: &Account,
    template: &str,
    by: &str,
) -> Result<()> {
    let chain = account::ancestors(conn, &account.id)?;
    for a in admin::list(conn, &account.id)? {
        if a.status == AdminStatus::Invited {
            continue;
        }
        let to = Email::parse(&a.email).map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
        lanyard_mail::templates::send(
            conn,
            clock,
            &links.mail_domain,
            &chain,
            template,
            &to,
            minijinja::context! { account_name => account.name.clone(), by => by },
        )
        .map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
    }
    Ok(())
}

/// Disables an Activated account (its administrators cannot log in, its tokens stop working)
/// and e-mails its administrators.
pub fn disable(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    oid: &Oid,
) -> Result<Customer> {
    change_status(
        conn,
        clock,
        links,
        actor,
        oid,
        AccountAction::Disable,
        AccountStatus::Disabled,
        Some("account_disabled"),
        "Account disabled",
    )
    .map(|(customer, _)| customer)
}

/// Reactivates a Disabled account and e-mails its administrators.
pub fn reactivate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    oid: &Oid,
) -> Result<Customer> {
    change_status(
        conn,
        clock,
        links,
        actor,
        oid,
        AccountAction::Reactivate,
        AccountStatus::Activated,
        Some("account_reactivated"),
        "Account reactivated",
    )
    .map(|(customer, _)| customer)
}

/// Deletes an account, irreversibly. An account that still has customer accounts of its own
/// cannot be deleted. Every certificate of the account (access keys and phones) is revoked in
/// the same transaction, and the CRLs of their CAs are made anew.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    master: &lanyard_pki::MasterKey,
    actor: &Actor,
    oid: &Oid,
) -> Result<()> {
    let (_, revoked_cas) = change_status(
        conn,
        clock,
        links,
        actor,
        oid,
        AccountAction::Delete,
        AccountStatus::Deleted,
        None,
        "Account deleted",
    )?;
    for ca in revoked_cas {
        crate::platform_pki::crl(conn, clock, master, &ca, true)?;
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one function for the three status changes"
)]
fn change_status(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    oid: &Oid,
    action: AccountAction,
    to: AccountStatus,
    template: Option<&str>,
    what: &str,
) -> Result<(Customer, Vec<String>)> {
    write_transaction(conn, |conn| {
        let current = get(conn, actor, oid)?;
        let verb = if action == AccountAction::Delete {
            Verb::Delete
        } else {
            Verb::Edit
        };
        authorize(
            conn,
            actor,
            Area::CustomerAccounts,
            verb,
            &current.account.id,
        )?;
        check(current.account.status, action)?;
        if action == AccountAction::Delete {
            let children: i64 = accounts::table
                .filter(accounts::parent_id.eq(current.account.id.as_str()))
                .filter(accounts::status.ne(AccountStatus::Deleted.as_str()))
                .count()
                .get_result(conn)?;
            if children > 0 {
                return Err(IdentityError::NotAllowed(format!(
                    "{} still has {children} customer account(s)",
                    current.account.name
                )));
            }
        }
        // The status is changed by a conditional update, so two concurrent changes cannot both
        // pass the check above.
        let changed = diesel::update(
            accounts::table
                .filter(accounts::id.eq(current.account.id.as_str()))
                .filter(accounts::status.eq(current.account.status.as_str())),
        )
        .set((
            accounts::status.eq(to.as_str()),
            accounts::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(IdentityError::NotAllowed(
                "the account changed meanwhile; reload and try again".into(),
            ));
        }
        if let Some(template) = template {
            mail_admins(conn, clock, links, &current.account, template, &actor.name)?;
        }
        // Disabling suspends the account's certificates (every service checks the account's
        // status); deleting revokes them for good.
        let revoked_cas = if action == AccountAction::Delete {
            crate::access_key::revoke_all_of_account(conn, clock, &current.account.id)?
        } else {
            Vec::new()
        };
        history::record_by(
            conn,
            clock,
            actor,
            &actor.account,
            "Customer accounts",
            &format!("{what} : {}", current.account.name),
        )?;
        let account = account::get(conn, &current.account.id)?;
        Ok((
            Customer {
                account,
                details: current.details,
            },
            revoked_cas,
        ))
    })
}
