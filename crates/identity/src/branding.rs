//! The look of the console per account (STid "Personalization panel"): header and footer
//! colours, copyright text, labels of the custom fields. Each value is inherited from the
//! nearest ancestor that sets it, unless the account sets its own.

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, account, history};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{account_branding, account_logos};
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

/// Where a logo appears (STid "Personalization panel"), each with the box it is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogoSlot {
    /// Company logo in the header (152 × 48).
    Header,
    /// Company logo in the footer (113 × 46).
    FooterCompany,
    /// Small logo in the footer (70 × 70).
    Footer,
}

impl LogoSlot {
    /// Every slot, in the order of the personalization page.
    pub const ALL: [Self; 3] = [Self::Header, Self::FooterCompany, Self::Footer];

    /// Stored and URL name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::FooterCompany => "footer_company",
            Self::Footer => "footer",
        }
    }

    /// The slot named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Name shown to administrators.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Header => "Company logo",
            Self::FooterCompany => "Footer company logo",
            Self::Footer => "Footer logo",
        }
    }

    /// The box the logo is drawn in, in CSS pixels (width, height).
    pub const fn drawn_size(self) -> (u32, u32) {
        match self {
            Self::Header => (152, 48),
            Self::FooterCompany => (113, 46),
            Self::Footer => (70, 70),
        }
    }

    /// Largest accepted image: twice the drawn box, so it stays sharp on high-density screens
    /// without carrying a photograph's worth of pixels into every page.
    pub const fn max_size(self) -> (u32, u32) {
        let (w, h) = self.drawn_size();
        (w * 2, h * 2)
    }
}

/// Largest accepted logo file.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// A stored logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// The account that set it (the viewer's own or an ancestor).
    pub owner: AccountId,
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The image file.
    pub data: Vec<u8>,
    /// Last change (also the cache-busting version of its URL).
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Checks an uploaded logo by its bytes (never by the file name or the browser's claim):
/// PNG or JPEG, at most [`MAX_LOGO_BYTES`], at most [`LogoSlot::max_size`]. Returns its content
/// type and size.
pub fn check_logo(slot: LogoSlot, data: &[u8]) -> Result<(&'static str, u32, u32)> {
    const FIELD: &str = "logo";
    if data.is_empty() {
        return Err(IdentityError::invalid(FIELD, "choose a PNG or JPEG file"));
    }
    if data.len() > MAX_LOGO_BYTES {
        return Err(IdentityError::invalid(
            FIELD,
            format!("must be at most {} KiB", MAX_LOGO_BYTES / 1024),
        ));
    }
    let content_type = match imagesize::image_type(data) {
        Ok(imagesize::ImageType::Png) => "image/png",
        Ok(imagesize::ImageType::Jpeg) => "image/jpeg",
        _ => return Err(IdentityError::invalid(FIELD, "must be a PNG or JPEG image")),
    };
    let size = imagesize::blob_size(data)
        .map_err(|_| IdentityError::invalid(FIELD, "is not a readable PNG or JPEG image"))?;
    let (max_w, max_h) = slot.max_size();
    let (w, h) = (
        u32::try_from(size.width).unwrap_or(u32::MAX),
        u32::try_from(size.height).unwrap_or(u32::MAX),
    );
    if w == 0 || h == 0 || w > max_w || h > max_h {
        let (dw, dh) = slot.drawn_size();
        return Err(IdentityError::invalid(
            FIELD,
            format!(
                "is {w} × {h} pixels; the {} is drawn at {dw} × {dh} and may be at most {max_w} × {max_h}",
                slot.label().to_lowercase()
            ),
        ));
    }
    Ok((content_type, w, h))
}

/// Stores `data` as `account`'s own logo in `slot` (replacing the previous one).
pub fn set_logo(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    slot: LogoSlot,
    data: &[u8],
) -> Result<()> {
    let (content_type, width, height) = check_logo(slot, data)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::MyAccount, Verb::Edit, account)?;
        diesel::delete(
            account_logos::table
                .filter(account_logos::account_id.eq(account.as_str()))
                .filter(account_logos::slot.eq(slot.as_str())),
        )
        .execute(conn)?;
        diesel::insert_into(account_logos::table)
            .values((
                account_logos::account_id.eq(account.as_str()),
                account_logos::slot.eq(slot.as_str()),
                account_logos::content_type.eq(content_type),
                account_logos::width.eq(i32::try_from(width).unwrap_or(i32::MAX)),
                account_logos::height.eq(i32::try_from(height).unwrap_or(i32::MAX)),
                account_logos::data.eq(data),
                account_logos::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Personalization",
            &format!("{} uploaded ({width} × {height})", slot.label()),
        )
    })
}

/// Removes `account`'s own logo in `slot` (it inherits again); `false` when it had none.
pub fn remove_logo(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    slot: LogoSlot,
) -> Result<bool> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::MyAccount, Verb::Edit, account)?;
        let removed = diesel::delete(
            account_logos::table
                .filter(account_logos::account_id.eq(account.as_str()))
                .filter(account_logos::slot.eq(slot.as_str())),
        )
        .execute(conn)?;
        if removed > 0 {
            history::record_by(
                conn,
                clock,
                actor,
                account,
                "Personalization",
                &format!("{} removed", slot.label()),
            )?;
        }
        Ok(removed > 0)
    })
}

/// The logo that applies to `account` in `slot`: its own, or its nearest ancestor's.
pub fn effective_logo(
    conn: &mut DbConnection,
    account: &AccountId,
    slot: LogoSlot,
) -> Result<Option<Logo>> {
    type LogoRow = (String, String, i32, i32, Vec<u8>, chrono::NaiveDateTime);
    for id in account::ancestors(conn, account)? {
        let row: Option<LogoRow> = account_logos::table
            .filter(account_logos::account_id.eq(id.as_str()))
            .filter(account_logos::slot.eq(slot.as_str()))
            .select((
                account_logos::account_id,
                account_logos::content_type,
                account_logos::width,
                account_logos::height,
                account_logos::data,
                account_logos::updated_at,
            ))
            .first(conn)
            .optional()?;
        if let Some((owner, content_type, width, height, data, updated_at)) = row {
            return Ok(Some(Logo {
                owner: AccountId::from_stored(owner),
                content_type,
                width: u32::try_from(width).unwrap_or(0),
                height: u32::try_from(height).unwrap_or(0),
                data,
                updated_at: updated_at.and_utc(),
            }));
        }
    }
    Ok(None)
}

/// For each slot that has a logo applying to `account`: the owning account and the version
/// (last change), without loading the images — what a page needs to link them.
pub fn effective_logo_versions(
    conn: &mut DbConnection,
    account: &AccountId,
) -> Result<Vec<(LogoSlot, AccountId, chrono::DateTime<chrono::Utc>)>> {
    let chain = account::ancestors(conn, account)?;
    let ids: Vec<&str> = chain.iter().map(AccountId::as_str).collect();
    let rows: Vec<(String, String, chrono::NaiveDateTime)> = account_logos::table
        .filter(account_logos::account_id.eq_any(&ids))
        .select((
            account_logos::account_id,
            account_logos::slot,
            account_logos::updated_at,
        ))
        .load(conn)?;
    let mut found = Vec::new();
    for slot in LogoSlot::ALL {
        // The nearest account in the chain wins.
        let nearest = chain.iter().find_map(|id| {
            rows.iter()
                .find(|(a, s, _)| a == id.as_str() && s == slot.as_str())
        });
        if let Some((owner, _, at)) = nearest {
            found.push((slot, AccountId::from_stored(owner.clone()), at.and_utc()));
        }
    }
    Ok(found)
}
