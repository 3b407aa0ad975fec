//! The texts of every automatic e-mail: built in, overridable per account (STid
//! personalization), inherited by child accounts. Rendered with minijinja — the same engine as
//! the console's pages — with HTML auto-escaping in the HTML part.
//!
//! **Security mails** (invitation, activation, login code, password reset, e-mail change, device
//! confirmation: those with a [`Builtin::secret`] block) carry a link or code that gives access.
//! Their secret parts live only in a fixed block that Lanyard appends after the (possibly
//! overridden) text: an override never sees `link` or `code` (using them is refused when it is
//! saved), so it cannot put them into a URL, an attribute or a remote resource; its HTML is
//! sanitized (well-formed, no styles, scripts or comments), so it cannot hide, swallow or
//! restyle the block that follows; and an account's override of a security mail applies to that
//! account only, never to the accounts below it. See docs/security.md.

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
    /// For a security mail, the fixed block that carries its secret parts (see the module doc).
    pub secret: Option<SecretBlock>,
}

/// The fixed block of a security mail: built in, never overridable, rendered with the secret
/// variables ([`SECRET_VARIABLES`]) and appended after the mail's own text.
#[derive(Debug, Clone, Copy)]
pub struct SecretBlock {
    /// Plain-text block.
    pub text: &'static str,
    /// HTML block.
    pub html: &'static str,
}

/// Variables that only a security mail's fixed block may use.
pub const SECRET_VARIABLES: [&str; 2] = ["link", "code"];

impl Builtin {
    /// Whether this is a security mail (its secrets in a fixed block).
    pub const fn is_security(&self) -> bool {
        self.secret.is_some()
    }
}

/// Every automatic e-mail.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "admin_invitation",
        description: "An administrator is invited by e-mail",
        subject: "You are invited to administer {{ account_name }}",
        text: "Hello,\n\n{{ inviter_name }} invites you to administer {{ account_name }} on Lanyard.\n\nThe invitation is valid until {{ expires }}.\n",
        html: "<p>Hello,</p><p>{{ inviter_name }} invites you to administer <b>{{ account_name }}</b> on Lanyard.</p><p>The invitation is valid until {{ expires }}.</p>",
        secret: Some(SecretBlock {
            text: "Register here: {{ link }}\nor enter the invitation code {{ code }} on the registration page.",
            html: "<p><a href=\"{{ link }}\">Register</a>, or enter the invitation code <code>{{ code }}</code> on the registration page.</p>",
        }),
    },
    Builtin {
        name: "admin_activation",
        description: "An administrator registered and must activate the account",
        subject: "Your Lanyard activation code",
        text: "Hello {{ name }},\n\nto activate your Lanyard administrator account, enter the code below. It is valid until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>to activate your Lanyard administrator account, enter the code below. It is valid until {{ expires }}.</p>",
        secret: Some(SecretBlock {
            text: "your activation code is {{ code }}\nEnter it at {{ link }}",
            html: "<p>your activation code is <b>{{ code }}</b>.</p><p>Enter it at <a href=\"{{ link }}\">{{ link }}</a>.</p>",
        }),
    },
    Builtin {
        name: "admin_login_code",
        description: "An administrator without a phone logs in: the code to enter after the password",
        subject: "Your Lanyard login code",
        text: "Hello {{ name }},\n\nyou are logging in to Lanyard without a phone. Enter the code below after your password; it works once, until {{ expires }}. If it was not you, change your password.\n",
        html: "<p>Hello {{ name }},</p><p>you are logging in to Lanyard without a phone. Enter the code below after your password; it works once, until {{ expires }}. If it was not you, change your password.</p>",
        secret: Some(SecretBlock {
            text: "your login code is {{ code }}\nEnter it at {{ link }}",
            html: "<p>your login code is <b>{{ code }}</b>.</p><p>Enter it at <a href=\"{{ link }}\">{{ link }}</a>.</p>",
        }),
    },
    Builtin {
        name: "password_reset",
        description: "An administrator asked to reset a forgotten password",
        subject: "Reset your Lanyard password",
        text: "Hello {{ name }},\n\nyou asked to choose a new password. The link below works once, until {{ expires }}. If you did not ask for it, ignore this e-mail.\n",
        html: "<p>Hello {{ name }},</p><p>you asked to choose a new password. The link below works once, until {{ expires }}. If you did not ask for it, ignore this e-mail.</p>",
        secret: Some(SecretBlock {
            text: "To choose a new password, open {{ link }}",
            html: "<p>To choose a new password, open <a href=\"{{ link }}\">this link</a>.</p>",
        }),
    },
    Builtin {
        name: "email_change",
        description: "An administrator asked to change the login e-mail (sent to the new address)",
        subject: "Confirm your new Lanyard login e-mail",
        text: "Hello {{ name }},\n\nyou asked to make this address your Lanyard login. The link below works once, until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>you asked to make this address your Lanyard login. The link below works once, until {{ expires }}.</p>",
        secret: Some(SecretBlock {
            text: "To make this address your Lanyard login, open {{ link }}",
            html: "<p>To make this address your Lanyard login, open <a href=\"{{ link }}\">this link</a>.</p>",
        }),
    },
    Builtin {
        name: "device_confirmation",
        description: "A phone was enrolled: the confirmation letter with its deactivation code",
        subject: "Your phone is enrolled with {{ account_name }}",
        text: "Hello {{ name }},\n\nthe phone \"{{ device }}\" is now enrolled with {{ account_name }}.\n\nKeep this e-mail: the deactivation code below is not shown again.\n",
        html: "<p>Hello {{ name }},</p><p>the phone <b>{{ device }}</b> is now enrolled with {{ account_name }}.</p><p>Keep this e-mail: the deactivation code below is not shown again.</p>",
        secret: Some(SecretBlock {
            text: "If it is ever lost, its deactivation code is {{ code }}\nEnter it at {{ link }} to deactivate the phone at once.",
            html: "<p>If it is ever lost, its deactivation code is <code>{{ code }}</code>: enter it at <a href=\"{{ link }}\">{{ link }}</a> to deactivate the phone at once.</p>",
        }),
    },
    Builtin {
        name: "enrollment_sheet",
        description: "An administrator sends a person their enrollment sheet (PDF attached)",
        subject: "Enroll your phone with {{ account_name }}",
        text: "Hello {{ name }},\n\nattached is your enrollment sheet for {{ account_name }}. Open it and scan its QR code with your organization's authenticator app.\n\nIt works once, until {{ expires }}.\n",
        html: "<p>Hello {{ name }},</p><p>attached is your enrollment sheet for <b>{{ account_name }}</b>. Open it and scan its QR code with your organization's authenticator app.</p><p>It works once, until {{ expires }}.</p>",
        secret: None,
    },
    Builtin {
        name: "admin_enrollment_created",
        description: "A full administrator created a phone enrollment for another administrator (sent to that administrator)",
        subject: "A phone enrollment was created for you",
        text: "Hello {{ name }},\n\n{{ by }} created an enrollment for a phone that will approve your Lanyard logins. If you did not expect this, tell your account's administrators at once.\n",
        html: "<p>Hello {{ name }},</p><p>{{ by }} created an enrollment for a phone that will approve your Lanyard logins. If you did not expect this, tell your account's administrators at once.</p>",
        secret: None,
    },
    Builtin {
        name: "callback_failed",
        description: "A message's callback could not be delivered after every retry (to the failed-callback address)",
        subject: "A callback of {{ account_name }} failed",
        text: "Hello,\n\nLanyard could not deliver the callback of message {{ code }} to {{ link }} after every retry: the delivery failed.\n\nCheck that the address answers POST requests with a 2xx status.\n",
        html: "<p>Hello,</p><p>Lanyard could not deliver the callback of message <code>{{ code }}</code> to {{ link }} after every retry: the delivery failed.</p><p>Check that the address answers POST requests with a 2xx status.</p>",
        secret: None,
    },
    Builtin {
        name: "account_disabled",
        description: "An account was disabled by its parent",
        subject: "{{ account_name }} has been disabled",
        text: "Hello,\n\nthe account {{ account_name }} has been disabled by {{ by }}. Its administrators cannot log in until it is reactivated.\n",
        html: "<p>Hello,</p><p>the account <b>{{ account_name }}</b> has been disabled by {{ by }}. Its administrators cannot log in until it is reactivated.</p>",
        secret: None,
    },
    Builtin {
        name: "account_reactivated",
        description: "A disabled account was reactivated",
        subject: "{{ account_name }} is active again",
        text: "Hello,\n\nthe account {{ account_name }} has been reactivated by {{ by }}.\n",
        html: "<p>Hello,</p><p>the account <b>{{ account_name }}</b> has been reactivated by {{ by }}.</p>",
        secret: None,
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
    // A security mail takes only the account's own override: a parent cannot reword the mails
    // that carry its customers' administrators' links and codes.
    let chain = if builtin.is_security() {
        &chain[..chain.len().min(1)]
    } else {
        chain
    };
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
    render_parts("override", text, sample).map(drop)
}

/// `vars` without the [`SECRET_VARIABLES`]: what a security mail's own (overridable) text sees.
fn public_vars(vars: &Value) -> Value {
    let map: std::collections::BTreeMap<String, Value> = vars
        .try_iter()
        .map(|keys| {
            keys.filter_map(|k| {
                let key = k.to_string();
                if SECRET_VARIABLES.contains(&key.as_str()) {
                    return None;
                }
                vars.get_attr(&key).ok().map(|v| (key, v))
            })
            .collect()
        })
        .unwrap_or_default();
    Value::from(map)
}

/// An override's HTML as a security mail may carry it: parsed and written out again, well
/// formed (every element closed, so nothing it opens can swallow the fixed block after it), with
/// no comments, styles, scripts or forms, and links only to http(s) and mailto.
fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(std::collections::HashSet::from(["http", "https", "mailto"]))
        .clean(html)
        .to_string()
}

/// Renders a mail: its own text, and for a security mail the fixed block after it (see the
/// module doc).
fn render_text(
    name: &str,
    text: &TemplateText,
    vars: &Value,
) -> Result<(String, String, Option<String>), MailError> {
    let Some(block) = builtin(name).and_then(|b| b.secret) else {
        return render_parts(name, text, vars);
    };
    let (subject, body, html) = render_parts(name, text, &public_vars(vars))?;
    let fixed = TemplateText {
        subject: String::new(),
        text: block.text.into(),
        html: Some(block.html.into()),
        overridden_by: None,
    };
    let (_, block_text, block_html) = render_parts(name, &fixed, vars)?;
    let body = format!("{}\n\n{block_text}\n", body.trim_end());
    let html = html.map(|html| {
        let html = if text.overridden_by.is_some() {
            sanitize(&html)
        } else {
            html
        };
        format!(
            "<div>{html}</div><div class=\"lanyard-secure\" style=\"margin-top:1em;border-top:1px solid #999;padding-top:0.5em\">{}</div>",
            block_html.unwrap_or_default()
        )
    });
    Ok((subject, body, html))
}

fn render_parts(
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
    // A security mail's own text never sees its secrets: `{{ link }}` or `{{ code }}` in an
    // override is an unknown variable.
    if builtin(name).is_some_and(Builtin::is_security) {
        validate(text, &public_vars(sample))?;
    } else {
        validate(text, sample)?;
    }
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
