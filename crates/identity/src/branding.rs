//! The look of the console per account (STid "Personalization panel"): header and footer
//! colours, copyright text, labels of the custom fields. Each value is inherited from the
//! nearest ancestor that sets it, unless the account sets its own.

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, account, history};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::account_branding;
use lanyard_store::{DbConnection, write_transaction};

/// Values as an account sets them (`None`: inherit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    /// Header colour, `#rrggbb`.
    pub header_color: Option<String>,
    /// Footer colour, `#rrggbb`.
    pub footer_color: Option<String>,
    /// Copyright text.
    pub copyright: Option<String>,
    /// Labels of the custom fields ("Field 1..N"), in order.
    pub field_labels: Option<Vec<String>>,
}

fn color(field: &'static str, raw: &str) -> Result<Option<String>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let ok =
        raw.len() == 7 && raw.starts_with('#') && raw[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(Some(raw.to_lowercase()))
    } else {
        Err(IdentityError::invalid(
            field,
            "must be a colour such as #1f5fbf",
        ))
    }
}

impl Branding {
    /// Validates raw form values (empty means inherit), naming the field.
    pub fn parse(
        header_color: &str,
        footer_color: &str,
        copyright: &str,
        field_labels: &str,
    ) -> Result<Self> {
        let labels: Vec<String> = field_labels
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if labels.len() > 10 || labels.iter().any(|l| l.chars().count() > 50) {
            return Err(IdentityError::invalid(
                "fieldLabels",
                "at most 10 labels of at most 50 characters",
            ));
        }
        Ok(Self {
            header_color: color("headerColor", header_color)?,
            footer_color: color("footerColor", footer_color)?,
            copyright: crate::text::optional_text("copyright", Some(copyright), 200)?,
            field_labels: (!labels.is_empty()).then_some(labels),
        })
    }
}

type Row = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn own(conn: &mut DbConnection, account: &AccountId) -> Result<Branding> {
    let row: Option<Row> = account_branding::table
        .filter(account_branding::account_id.eq(account.as_str()))
        .select((
            account_branding::header_color,
            account_branding::footer_color,
            account_branding::copyright,
            account_branding::field_labels,
        ))
        .first(conn)
        .optional()?;
    Ok(
        row.map_or_else(Branding::default, |(header, footer, copyright, labels)| {
            Branding {
                header_color: header,
                footer_color: footer,
                copyright,
                field_labels: labels.map(|l| l.lines().map(str::to_owned).collect()),
            }
        }),
    )
}

/// What `account` sets itself.
pub fn get_own(conn: &mut DbConnection, account: &AccountId) -> Result<Branding> {
    own(conn, account)
}

/// What applies to `account`: each value from the account itself or its nearest ancestor.
pub fn effective(conn: &mut DbConnection, account: &AccountId) -> Result<Branding> {
    let mut result = Branding::default();
    for id in account::ancestors(conn, account)? {
        let b = own(conn, &id)?;
        result.header_color = result.header_color.or(b.header_color);
        result.footer_color = result.footer_color.or(b.footer_color);
        result.copyright = result.copyright.or(b.copyright);
        result.field_labels = result.field_labels.or(b.field_labels);
    }
    Ok(result)
}

/// Stores what `account` sets itself (empty values inherit).
pub fn set(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    branding: &Branding,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::MyAccount, Verb::Edit, account)?;
        diesel::delete(
            account_branding::table.filter(account_branding::account_id.eq(account.as_str())),
        )
        .execute(conn)?;
        diesel::insert_into(account_branding::table)
            .values((
                account_branding::account_id.eq(account.as_str()),
                account_branding::header_color.eq(branding.header_color.as_deref()),
                account_branding::footer_color.eq(branding.footer_color.as_deref()),
                account_branding::copyright.eq(branding.copyright.as_deref()),
                account_branding::field_labels
                    .eq(branding.field_labels.as_ref().map(|l| l.join("\n"))),
                account_branding::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Personalization",
            "Look of the console changed",
        )
    })
}
