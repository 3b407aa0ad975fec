//! The texts of every automatic e-mail: built in, overridable per account (STid
//! personalization), inherited by child accounts. Rendered with minijinja — the same engine as
//! the console's pages — with HTML auto-escaping in the HTML part.

use crate::MailError;
use crate::outbox::{Attachment, NewMail, enqueue};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email};
use lanyard_store::DbConnection;
use lanyard_store::schema::mail_templates;
use minijinja::{AutoEscape, Environment, Value};

/// A built-in e-mail text.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name used in code and in overrides.
    pub name: &'static str,
    /// When it is sent (shown in the personalization page).
    pub description: &'static str,
    /// Subject template.
    pub subject: &'static str,
    /// Plain-text template.
    pub text: &'static str,
    /// HTML template.
    pub html: &'static str,
}

/// Every automatic e-mail.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "admin_invitation",
        description: "An administrator is invited by e-mail",
        subject: "You are invited to administer {{ account_name }}",
        text: "Hello,\n\n{{ inviter_name }} invites you to administer {{ account_name }} on Lanyard.\n\nRegister here: {{ link }}\nor enter the invitation code {{ code }} on the registration page.\n\nThe invitation is valid until {{ expires }}.\n",
        html: "<p>Hello,</p><p>{{ inviter_name }} invites you to administer <b>{{ account_name }}</b> on Lanyard.</p><p><a href=\"{{ link }}\">Register</a>, or enter the invitation code <code>{{ code }}</code> on the registration page.</p><p>The invitation is valid until {{ expires }}.</p>",
    },
    Builtin {
        name: "admin_activation",
        description: "An administrator registered and must activate the account",
        subject: "Your Lanyard activation code",
        text: "Hello {{ name }},\n\nyour activation code is {{ code }}\n\nEnter it at {{ link }} — it is valid until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>your activation code is <b>{{ code }}</b>.</p><p>Enter it at <a href=\"{{ link }}\">{{ link }}</a> — it is valid until {{ expires }}.</p>",
    },
    Builtin {
        name: "password_reset",
        description: "An administrator asked to reset a forgotten password",
        subject: "Reset your Lanyard password",
        text: "Hello {{ name }},\n\nto choose a new password, open {{ link }}\n\nThe link works once, until {{ expires }}. If you did not ask for it, ignore this e-mail.\n",
        html: "<p>Hello {{ name }},</p><p>to choose a new password, open <a href=\"{{ link }}\">this link</a>.</p><p>The link works once, until {{ expires }}. If you did not ask for it, ignore this e-mail.</p>",
    },
    Builtin {
        name: "email_change",
        description: "An administrator asked to change the login e-mail (sent to the new address)",
        subject: "Confirm your new Lanyard login e-mail",
        text: "Hello {{ name }},\n\nto make this address your Lanyard login, open {{ link }}\n\nThe link works once, until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>to make this address your Lanyard login, open <a href=\"{{ link }}\">this link</a>.</p><p>The link works once, until {{ expires }}.</p>",
    },
    Builtin {
        name: "device_confirmation",
        description: "A phone was enrolled: the confirmation letter with its deactivation code",
        subject: "Your phone is enrolled with {{ account_name }}",
        text: "Hello {{ name }},\n\nthe phone \"{{ device }}\" is now enrolled with {{ account_name }}.\n\nIf it is ever lost, its deactivation code is {{ code }}\nEnter it at {{ link }} to deactivate the phone at once.\nKeep this e-mail: the code is not shown again.\n",
        html: "<p>Hello {{ name }},</p><p>the phone <b>{{ device }}</b> is now enrolled with {{ account_name }}.</p><p>If it is ever lost, its deactivation code is <code>{{ code }}</code>: enter it at <a href=\"{{ link }}\">{{ link }}</a> to deactivate the phone at once. Keep this e-mail: the code is not shown again.</p>",
    },
    Builtin {
        name: "enrollment_sheet",
        description: "An administrator sends a person their enrollment sheet (PDF attached)",
        subject: "Enroll your phone with {{ account_name }}",
        text: "Hello {{ name }},\n\nattached is your enrollment sheet for {{ account_name }}. Open it and scan its QR code with your organization's authenticator app.\n\nIt works once, until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>attached is your enrollment sheet for <b>{{ account_name }}</b>. Open it and scan its QR code with your organization's authenticator app.</p><p>It works once, until {{ expires }}.</p>",
    },
    Builtin {
        name: "callback_failed",
        description: "A message's callback could not be delivered after every retry (to the failed-callback address)",
        subject: "A callback of {{ account_name }} failed",
        text: "Hello,\n\nLanyard could not deliver the callback of message {{ code }} to {{ link }} after every retry.\nLast error: {{ by }}\n\nCheck that the address answers POST requests with a 2xx status.\n",
        html: "<p>Hello,</p><p>Lanyard could not deliver the callback of message <code>{{ code }}</code> to {{ link }} after every retry.</p><p>Last error: {{ by }}</p><p>Check that the address answers POST requests with a 2xx status.</p>",
    },
    Builtin {
        name: "account_disabled",
        description: "An account was disabled by its parent",
        subject: "{{ account_name }} has been disabled",
        text: "Hello,\n\nthe account {{ account_name }} has been disabled by {{ by }}. Its administrators cannot log in until it is reactivated.\n",
        html: "<p>Hello,</p><p>the account <b>{{ account_name }}</b> has been disabled by {{ by }}. Its administrators cannot log in until it is reactivated.</p>",
    },
    Builtin {
        name: "account_reactivated",
        description: "A disabled account was reactivated",
        subject: "{{ account_name }} is active again",
        text: "Hello,\n\nthe account {{ account_name }} has been reactivated by {{ by }}.\n",
        html: "<p>Hello,</p><p>the account <b>{{ account_name }}</b> has been reactivated by {{ by }}.</p>",
    },
];

/// The built-in template `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|t| t.name == name)
}

/// A template's texts after choosing between override and built-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText {
    /// Subject template.
    pub subject: String,
    /// Plain-text template.
    pub text: String,
    /// HTML template.
    pub html: Option<String>,
    /// The account whose override this is; `None` for the built-in text.
    pub overridden_by: Option<AccountId>,
}

/// The text of `name` for an account: the override of the nearest account in `chain` (the
/// account itself first, then its ancestors), else the built-in text.
pub fn resolve(
    conn: &mut DbConnection,
    chain: &[AccountId],
    name: &str,
) -> Result<TemplateText, MailError> {
    let builtin = builtin(name).ok_or_else(|| MailError::Template {
        name: name.into(),
        detail: "no such template".into(),
    })?;
    for account in chain {
        let found: Option<(String, String, Option<String>)> = mail_templates::table
            .filter(mail_templates::account_id.eq(account.as_str()))
            .filter(mail_templates::name.eq(name))
            .select((
                mail_templates::subject,
                mail_templates::body_text,
                mail_templates::body_html,
            ))
            .first(conn)
            .optional()?;
        if let Some((subject, text, html)) = found {
            return Ok(TemplateText {
                subject,
                text,
                html,
                overridden_by: Some(account.clone()),
            });
        }
    }
    Ok(TemplateText {
        subject: builtin.subject.into(),
        text: builtin.text.into(),
        html: Some(builtin.html.into()),
        overridden_by: None,
    })
}

fn environment(text: &TemplateText) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template_owned("subject.txt", text.subject.clone())?;
    env.add_template_owned("body.txt", text.text.clone())?;
    if let Some(html) = &text.html {
        env.add_template_owned("body.html", html.clone())?;
    }
    Ok(env)
}

/// Checks that an override compiles and renders with `sample` variables (used before saving).
pub fn validate(text: &TemplateText, sample: &Value) -> Result<(), MailError> {
    let fail = |detail: String| MailError::Template {
        name: "override".into(),
        detail,
    };
    let env = environment(text).map_err(|e| fail(e.to_string()))?;
    let known: std::collections::BTreeSet<String> = sample
        .try_iter()
        .map(|keys| keys.map(|k| k.to_string()).collect())
        .unwrap_or_default();
    let mut unknown = std::collections::BTreeSet::new();
    for part in ["subject.txt", "body.txt", "body.html"] {
        if let Ok(template) = env.get_template(part) {
            unknown.extend(
                template
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !known.contains(v)),
            );
        }
    }
    if !unknown.is_empty() {
        return Err(fail(format!(
            "unknown variable(s) {}; available: {}",
            unknown.into_iter().collect::<Vec<_>>().join(", "),
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    render_text("override", text, sample).map(drop)
}

fn render_text(
    name: &str,
    text: &TemplateText,
    vars: &Value,
) -> Result<(String, String, Option<String>), MailError> {
    let fail = |e: minijinja::Error| MailError::Template {
        name: name.into(),
        detail: e.to_string(),
    };
    let env = environment(text).map_err(fail)?;
    let render = |template: &str| {
        env.get_template(template)
            .and_then(|t| t.render(vars))
            .map_err(fail)
    };
    let subject = render("subject.txt")?.replace(['\r', '\n'], " ");
    let body = render("body.txt")?;
    let html = match text.html {
        Some(_) => Some(render("body.html")?),
        None => None,
    };
    Ok((subject, body, html))
}

/// Renders the template `name` for the account `chain[0]` and enqueues it to `to`, in the
/// caller's transaction.
pub fn send(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    domain: &str,
    chain: &[AccountId],
    name: &str,
    to: &Email,
    vars: Value,
) -> Result<String, MailError> {
    send_with_attachments(conn, clock, domain, (chain, name), to, vars, Vec::new())
}

/// As [`send`], with files attached.
pub fn send_with_attachments(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    domain: &str,
    (chain, name): (&[AccountId], &str),
    to: &Email,
    vars: Value,
    attachments: Vec<Attachment>,
) -> Result<String, MailError> {
    let text = resolve(conn, chain, name)?;
    let (subject, body, html) = render_text(name, &text, &vars)?;
    enqueue(
        conn,
        clock,
        domain,
        NewMail {
            account: chain.first().cloned(),
            template: name.into(),
            to: to.clone(),
            subject,
            text: body,
            html,
            attachments,
        },
    )
}

/// Saves an account's override of `name` (validated with `sample` first).
pub fn set_override(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    name: &str,
    text: &TemplateText,
    sample: &Value,
) -> Result<(), MailError> {
    if builtin(name).is_none() {
        return Err(MailError::Invalid {
            field: "name",
            rule: format!("{name:?} is not an e-mail of Lanyard"),
        });
    }
    validate(text, sample)?;
    let now: NaiveDateTime = clock.now().naive_utc();
    diesel::delete(
        mail_templates::table
            .filter(mail_templates::account_id.eq(account.as_str()))
            .filter(mail_templates::name.eq(name)),
    )
    .execute(conn)?;
    diesel::insert_into(mail_templates::table)
        .values((
            mail_templates::account_id.eq(account.as_str()),
            mail_templates::name.eq(name),
            mail_templates::subject.eq(&text.subject),
            mail_templates::body_text.eq(&text.text),
            mail_templates::body_html.eq(text.html.as_deref()),
            mail_templates::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes an account's override of `name` (back to the inherited text).
pub fn clear_override(
    conn: &mut DbConnection,
    account: &AccountId,
    name: &str,
) -> Result<(), MailError> {
    diesel::delete(
        mail_templates::table
            .filter(mail_templates::account_id.eq(account.as_str()))
            .filter(mail_templates::name.eq(name)),
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_renders_with_its_variables_and_escapes_html() {
        let vars = minijinja::context! {
            account_name => "Acme <b>&",
            inviter_name => "Eve",
            link => "https://x.test/r?a=1&b=2",
            code => "ABC",
            expires => "tomorrow",
            name => "Ann",
            by => "Platform",
            device => "Ann's phone",
        };
        for b in BUILTIN {
            let text = TemplateText {
                subject: b.subject.into(),
                text: b.text.into(),
                html: Some(b.html.into()),
                overridden_by: None,
            };
            let (subject, body, html) = render_text(b.name, &text, &vars).expect("renders");
            assert!(!subject.is_empty() && !body.is_empty());
            let html = html.expect("html");
            assert!(
                !html.contains("<b>&"),
                "{}: HTML is escaped: {html}",
                b.name
            );
        }
    }

    #[test]
    fn undefined_variables_are_errors_not_blanks() {
        let text = TemplateText {
            subject: "Hi {{ nobody }}".into(),
            text: "x".into(),
            html: None,
            overridden_by: None,
        };
        let err = validate(&text, &minijinja::context! { name => "x" }).expect_err("refused");
        assert!(err.to_string().contains("nobody"), "{err}");
    }
}
