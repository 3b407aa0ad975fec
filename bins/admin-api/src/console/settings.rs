//! Account settings (name, contact e-mail, validities, confirmation letters).

use super::auth::Console;
use super::{ConsoleError, Templates, form_call};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_identity::organization::{self, MoreSettings, SettingsChange};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_identity::{IdentityError, account};
use lanyard_web::AppState;
use std::collections::BTreeMap;

async fn render(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    form: Option<BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    notice: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (acct, settings) = state
        .db(move |conn, _| {
            authorize(
                conn,
                &c.actor,
                Area::MyAccount,
                Verb::View,
                &c.admin.account,
            )?;
            Ok::<_, IdentityError>((
                account::get(conn, &c.admin.account)?,
                organization::settings(conn, &c.admin.account)?,
            ))
        })
        .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let form = form.unwrap_or_else(|| {
        let mut f = BTreeMap::from([
            ("name".to_owned(), acct.name.clone()),
            (
                "email".to_owned(),
                acct.contact_email.clone().unwrap_or_default(),
            ),
            (
                "enrollmentExpirationHours".to_owned(),
                settings.enrollment_expiration_hours.to_string(),
            ),
            (
                "invitationExpirationHours".to_owned(),
                settings.invitation_expiration_hours.to_string(),
            ),
        ]);
        if settings.confirmation_letter_enabled {
            f.insert("confirmationLetterEnabled".to_owned(), "on".to_owned());
        }
        for (key, value) in [
            (
                "failedCallbackEmail",
                settings.failed_callback_email.clone(),
            ),
            ("deletedUserEmail", settings.deleted_user_email.clone()),
            (
                "manageableAliasRegex",
                settings.manageable_alias_regex.clone(),
            ),
            (
                "maxDeviceInactivityDays",
                settings.max_device_inactivity_days.map(|d| d.to_string()),
            ),
        ] {
            f.insert(key.to_owned(), value.unwrap_or_default());
        }
        f
    });
    let ctx = console.page("Account settings", "settings", minijinja::context! {
        form => form, errors => errors, notice => notice, oid => acct.oid.to_string(),
        plan => settings.plan.map(|p| p.name), can_edit => console.actor.rights.allows(Area::MyAccount, Verb::Edit),
    });
    templates.render_status(status, "settings.html", ctx)
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render(&console, &state, &templates, None, BTreeMap::new(), None).await
}

pub(crate) async fn save(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let hours = |k: &'static str| {
        get(k)
            .trim()
            .parse::<i64>()
            .map_err(|_| (k, "must be a whole number of hours".to_owned()))
    };
    let parsed = hours("enrollmentExpirationHours")
        .and_then(|e| hours("invitationExpirationHours").map(|i| (e, i)));
    let outcome = match parsed {
        Err((field, rule)) => Err((BTreeMap::from([(field.to_owned(), rule)]), None)),
        Ok((enrollment, invitation)) => {
            let parsed = SettingsChange::parse(
                get("name"),
                get("email"),
                enrollment,
                invitation,
                form.contains_key("confirmationLetterEnabled"),
            )
            .and_then(|change| {
                MoreSettings::parse(
                    get("failedCallbackEmail"),
                    get("deletedUserEmail"),
                    get("manageableAliasRegex"),
                    get("maxDeviceInactivityDays"),
                )
                .map(|more| (change, more))
            });
            match parsed {
                Err(IdentityError::Invalid { field, rule }) => {
                    Err((BTreeMap::from([(field.to_owned(), rule)]), None))
                }
                Err(other) => Err((BTreeMap::new(), Some(other.to_string()))),
                Ok((change, more)) => {
                    let c = console.clone();
                    form_call(&state, move |conn, clock| {
                        lanyard_store::write_transaction(conn, |conn| {
                            organization::update(conn, clock, &c.actor, &c.admin.account, &change)?;
                            organization::update_more(
                                conn,
                                clock,
                                &c.actor,
                                &c.admin.account,
                                &more,
                            )
                        })
                    })
                    .await?
                }
            }
        }
    };
    match outcome {
        Ok(()) => {
            render(
                &console,
                &state,
                &templates,
                None,
                BTreeMap::new(),
                Some("Saved."),
            )
            .await
        }
        Err((errors, _)) => render(&console, &state, &templates, Some(form), errors, None).await,
    }
}
