//! Customer accounts of distributors (and of the platform).

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_core::{Email, Oid, PageRequest};
use lanyard_identity::account::AccountAction;
use lanyard_identity::customer::{self, Customer, DetailsInput, Sort};
use lanyard_identity::rights::{Area, Verb};
use lanyard_identity::{AccountKind, IdentityError};
use lanyard_messaging::approval;
use lanyard_reports::xlsx::XlsxTable;
use lanyard_web::AppState;
use lanyard_web::config::LoginApproval;
use std::collections::BTreeMap;

const PAGE: i64 = 20;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    start: Option<i64>,
}

fn sort_of(s: &str) -> Sort {
    match s {
        "status" => Sort::Status,
        "newest" => Sort::Newest,
        _ => Sort::Name,
    }
}

fn profile_label(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Distributor => "Reseller",
        _ => "End Customer",
    }
}

fn row(c: &Customer) -> minijinja::Value {
    minijinja::context! {
        oid => c.account.oid.to_string(), name => c.account.name.clone(), profile => profile_label(c.account.kind),
        first_name => c.details.contact_first_name.clone(), last_name => c.details.contact_last_name.clone(),
        status => c.account.status.label(),
    }
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = PageRequest::new(query.start, Some(PAGE), Some(query.q.clone()))
        .map_err(|e| ConsoleError::Page(StatusCode::BAD_REQUEST, e.to_string()))?;
    let start = page.start;
    let (c, sort) = (console.clone(), sort_of(&query.sort));
    let found = state
        .db(move |conn, _| customer::list(conn, &c.actor, sort, &page))
        .await?;
    let shown = found.data.len() as i64;
    let ctx = console.page("Customer accounts", "accounts", minijinja::context! {
        accounts => found.data.iter().map(row).collect::<Vec<_>>(), q => query.q.clone(), sort => query.sort.clone(),
        total => found.records_total,
        can_create => console.actor.rights.allows(Area::CustomerAccounts, Verb::Create),
        ..super::pager(start, shown, found.records_filtered, PAGE)
    });
    templates.render("accounts.html", ctx)
}

pub(crate) async fn export(
    console: Console,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, sort, q) = (console.clone(), sort_of(&query.sort), query.q.clone());
    let bytes = state
        .db(move |conn, clock| {
            let mut out = XlsxTable::new(
                "Customer Accounts",
                &[
                    "Customer Accounts".to_owned(),
                    c.account_name.clone(),
                    format!("Exported {}", clock.now().format("%Y-%m-%d %H:%M UTC")),
                ],
                &[
                    "Company Name",
                    "Profile",
                    "First Name",
                    "Last Name",
                    "Status",
                    "Number of Credits",
                ],
            )
            .map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
            let mut page = PageRequest::new(Some(0), Some(1_000), Some(q))
                .map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
            loop {
                let batch = customer::list(conn, &c.actor, sort, &page)?;
                for cu in &batch.data {
                    // Credits arrive with the credits work; the column is kept so the layout
                    // matches the STid export.
                    out.row([
                        cu.account.name.as_str(),
                        profile_label(cu.account.kind),
                        &cu.details.contact_first_name,
                        &cu.details.contact_last_name,
                        cu.account.status.label(),
                        "",
                    ])
                    .map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
                }
                page.start += batch.data.len() as i64;
                if batch.data.is_empty() || page.start >= batch.records_filtered {
                    break;
                }
            }
            out.finish()
                .map_err(|e| IdentityError::Inconsistent(e.to_string()))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"customer-accounts.xlsx\"",
        ))
        .body(bytes))
}

pub(crate) async fn new_form(
    console: Console,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    if !console
        .actor
        .rights
        .allows(Area::CustomerAccounts, Verb::Create)
    {
        return Err(ConsoleError::Page(
            StatusCode::FORBIDDEN,
            "your profile does not allow create in Customer accounts".into(),
        ));
    }
    let ctx = console.page(
        "Add a customer account",
        "accounts",
        minijinja::context! { form => BTreeMap::<String, String>::new() },
    );
    templates.render("account_form.html", ctx)
}

fn details_input(form: &BTreeMap<String, String>) -> DetailsInput {
    let get = |k: &str| form.get(k).cloned();
    DetailsInput {
        registration_number: get("registrationNumber"),
        vat_number: get("vatNumber"),
        eori_number: get("eoriNumber"),
        manager: get("manager"),
        founding_date: get("foundingDate"),
        capital: get("capital"),
        company_profile: get("companyProfile"),
        city: get("city"),
        street: get("street"),
        zip: get("zip"),
        country: get("country"),
        website: get("website"),
        contact_title: get("contactTitle"),
        contact_first_name: get("contactFirstName"),
        contact_last_name: get("contactLastName"),
        contact_job_title: get("contactJobTitle"),
        contact_phone: get("contactPhone"),
        contact_mobile: get("contactMobile"),
    }
}

pub(crate) async fn create(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let kind = if form.get("kind").map(String::as_str) == Some("distributor") {
        AccountKind::Distributor
    } else {
        AccountKind::Organization
    };
    let name = form.get("name").cloned().unwrap_or_default();
    let mut errors = BTreeMap::new();
    let email = Email::parse(
        form.get("mainEmail")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| errors.insert("mainEmail".to_owned(), e.to_string()))
    .ok();
    let details = match details_input(&form).parse() {
        Ok(d) => Some(d),
        Err(IdentityError::Invalid { field, rule }) => {
            errors.insert(field.to_owned(), rule);
            None
        }
        Err(other) => {
            return Err(ConsoleError::Page(
                StatusCode::BAD_REQUEST,
                other.to_string(),
            ));
        }
    };
    let outcome = match (email, details) {
        (Some(email), Some(details)) if errors.is_empty() => {
            let (c, links) = (console.clone(), state.links());
            form_call(&state, move |conn, clock| {
                customer::create(conn, clock, &links, &c.actor, kind, &name, &email, &details)
            })
            .await?
        }
        _ => Err((errors, None)),
    };
    match outcome {
        Ok(created) => Ok(redirect(&format!(
            "/console/accounts/{}",
            created.account.oid
        ))),
        Err((errors, message)) => {
            let ctx = console.page(
                "Add a customer account",
                "accounts",
                minijinja::context! { form => form, errors => errors, error => message },
            );
            templates.render_status(StatusCode::UNPROCESSABLE_ENTITY, "account_form.html", ctx)
        }
    }
}

fn parse_oid(raw: &str) -> Result<Oid, ConsoleError> {
    Oid::parse(raw).map_err(|_| {
        ConsoleError::Page(
            StatusCode::NOT_FOUND,
            "This page does not exist or is not yours to see.".into(),
        )
    })
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let oid = parse_oid(&path)?;
    let c = console.clone();
    let found = state
        .db(move |conn, _| customer::get(conn, &c.actor, &oid))
        .await?;
    let d = &found.details;
    let rows: Vec<(&str, String)> = [
        ("CEO or manager", Some(d.manager.clone())),
        ("Registration #", d.registration_number.clone()),
        ("VAT identification", d.vat_number.clone()),
        ("EORI #", d.eori_number.clone()),
        ("Founding date", d.founding_date.clone()),
        ("Capital", d.capital.clone()),
        ("Company profile", d.company_profile.clone()),
        (
            "Address",
            Some(format!("{}, {} {}, {}", d.street, d.zip, d.city, d.country)),
        ),
        ("Website", d.website.clone()),
        (
            "Contact",
            Some(format!(
                "{} {} {}, {}",
                d.contact_title, d.contact_first_name, d.contact_last_name, d.contact_job_title
            )),
        ),
        ("Phone", d.contact_phone.clone()),
        ("Mobile", d.contact_mobile.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let status = found.account.status;
    let actions: Vec<_> = [
        (AccountAction::Disable, "disable", "Disable", Verb::Edit),
        (
            AccountAction::Reactivate,
            "reactivate",
            "Reactivate",
            Verb::Edit,
        ),
        (
            AccountAction::Delete,
            "delete",
            "Delete (irreversible)",
            Verb::Delete,
        ),
    ]
    .into_iter()
    .filter(|(action, _, _, verb)| {
        status.allows(*action) && console.actor.rights.allows(Area::CustomerAccounts, *verb)
    })
    .map(|(_, key, label, _)| minijinja::context! { key => key, label => label })
    .collect();
    let ctx = console.page(&found.account.name, "accounts", minijinja::context! {
        a => minijinja::context! {
            name => found.account.name.clone(), oid => found.account.oid.to_string(), status => status.label(),
            profile => profile_label(found.account.kind), email => found.account.contact_email.clone().unwrap_or_default(),
            rows => rows,
        },
        actions => actions,
        can_modify => status.allows(AccountAction::Modify) && console.actor.rights.allows(Area::CustomerAccounts, Verb::Edit),
    });
    templates.render("account.html", ctx)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
    /// The deletion's confirmation checkbox.
    confirm: Option<String>,
}

/// The marker of [`act`]'s trial deletion, rolled back on purpose.
const DRY_RUN: &str = "trial deletion rolled back";

pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(&form.csrf)?;
    let (raw, action) = path.into_inner();
    let oid = parse_oid(&raw)?;
    if action == "delete" && form.confirm.is_none() {
        return Err(ConsoleError::Page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Deleting needs the confirmation box ticked.".into(),
        ));
    }
    let back = if action == "delete" {
        "/console/accounts".to_owned()
    } else {
        format!("/console/accounts/{oid}")
    };
    let (c, links, target) = (console.clone(), state.links(), oid.clone());
    let master = state.master_key.clone();
    let phone = state.settings.console.login_approval == LoginApproval::Phone;
    let seconds = state.settings.console.login_approval_seconds;
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "disable" => customer::disable(conn, clock, &links, &c.actor, &target).map(|_| None),
        "reactivate" => customer::reactivate(conn, clock, &links, &c.actor, &target).map(|_| None),
        "delete" => {
            // Deleting an account cannot be undone: like a login, it needs the administrator's
            // phone (SPEC §1, seed 000 "Dashboard access"). The checks come first, so the phone
            // is not asked for what would be refused anyway.
            let found = customer::get(conn, &c.actor, &target)?;
            // Every rule of the deletion, tried and rolled back: the phone is asked only for
            // what would be done.
            let tried = lanyard_store::write_transaction(conn, |conn| {
                customer::delete(conn, clock, &links, &master, &c.actor, &target)?;
                Err::<(), _>(IdentityError::Inconsistent(DRY_RUN.into()))
            });
            match tried {
                Err(IdentityError::Inconsistent(m)) if m == DRY_RUN => {}
                Err(refused) => return Err(refused),
                Ok(()) => {}
            }
            let has_phone = phone
                && approval::has_phone(conn, &c.admin.id).map_err(super::password::identity_error)?;
            if !has_phone {
                return customer::delete(conn, clock, &links, &master, &c.actor, &target).map(|()| None);
            }
            let asked = approval::ask(
                conn,
                clock,
                &c.admin.id,
                (super::approvals::DELETE_ACCOUNT, target.as_str(), None),
                &format!("Delete the account {}?", found.account.name),
                &format!(
                    "{} is deleting the customer account {} ({}) in the Lanyard console. This cannot be undone: approve only if it is you.",
                    c.admin.email, found.account.name, target
                ),
                seconds,
            )
            .map_err(super::password::identity_error)?;
            Ok(Some(asked.message_id))
        }
        _ => Err(IdentityError::NotAllowed("no such action".into())),
    })
    .await?;
    match outcome {
        Ok(Some(approval)) => {
            lanyard_web::push::wake_administrator(&state, console.admin.id.as_str());
            Ok(redirect(&format!("/console/approvals/{approval}")))
        }
        Ok(None) => Ok(redirect(&back)),
        Err((_, message)) => Err(ConsoleError::Page(
            StatusCode::CONFLICT,
            message.unwrap_or_else(|| "not possible".into()),
        )),
    }
}

fn form_of(c: &Customer) -> BTreeMap<String, String> {
    let d = &c.details;
    let mut f = BTreeMap::from([("name".to_owned(), c.account.name.clone())]);
    for (k, v) in [
        ("registrationNumber", d.registration_number.clone()),
        ("vatNumber", d.vat_number.clone()),
        ("eoriNumber", d.eori_number.clone()),
        ("manager", Some(d.manager.clone())),
        ("foundingDate", d.founding_date.clone()),
        ("capital", d.capital.clone()),
        ("companyProfile", d.company_profile.clone()),
        ("street", Some(d.street.clone())),
        ("city", Some(d.city.clone())),
        ("zip", Some(d.zip.clone())),
        ("country", Some(d.country.clone())),
        ("website", d.website.clone()),
        ("contactTitle", Some(d.contact_title.clone())),
        ("contactFirstName", Some(d.contact_first_name.clone())),
        ("contactLastName", Some(d.contact_last_name.clone())),
        ("contactJobTitle", Some(d.contact_job_title.clone())),
        ("contactPhone", d.contact_phone.clone()),
        ("contactMobile", d.contact_mobile.clone()),
    ] {
        f.insert(k.to_owned(), v.unwrap_or_default());
    }
    f
}

pub(crate) async fn edit_form(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let oid = parse_oid(&path)?;
    let (c, target) = (console.clone(), oid.clone());
    let found = state
        .db(move |conn, _| customer::get(conn, &c.actor, &target))
        .await?;
    let ctx = console.page(
        "Modify",
        "accounts",
        minijinja::context! { form => form_of(&found), edit_oid => oid.to_string() },
    );
    templates.render("account_form.html", ctx)
}

pub(crate) async fn modify(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let oid = parse_oid(&path)?;
    let name = form.get("name").cloned().unwrap_or_default();
    let outcome = match details_input(&form).parse() {
        Ok(details) => {
            let (c, target) = (console.clone(), oid.clone());
            form_call(&state, move |conn, clock| {
                customer::modify(conn, clock, &c.actor, &target, &name, &details)
            })
            .await?
        }
        Err(IdentityError::Invalid { field, rule }) => {
            Err((BTreeMap::from([(field.to_owned(), rule)]), None))
        }
        Err(other) => {
            return Err(ConsoleError::Page(
                StatusCode::BAD_REQUEST,
                other.to_string(),
            ));
        }
    };
    match outcome {
        Ok(_) => Ok(redirect(&format!("/console/accounts/{oid}"))),
        Err((errors, message)) => {
            let ctx = console.page("Modify", "accounts", minijinja::context! { form => form, edit_oid => oid.to_string(), errors => errors, error => message });
            templates.render_status(StatusCode::UNPROCESSABLE_ENTITY, "account_form.html", ctx)
        }
    }
}
