//! The enrollment sheet: one A4 page with the organization, the person, the QR code of the
//! enrollment link, its expiry and short instructions.
//!
//! Drawn with `krilla`, which embeds only the glyphs a sheet uses (a font subset), so a sheet
//! stays a few kilobytes while printing any name DejaVu Sans can write (Latin, Greek, Cyrillic
//! and more). The QR code is vector rectangles, not an image: sharp at any zoom or printer and
//! small. See NOTES-dependencies (genpdf) for why not genpdf: whole fonts (1.7 MB a sheet) or
//! Windows-1252 only.

use crate::{EnrollmentError, Result};
use chrono::{DateTime, Utc};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::image::Image;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size as FontSize};
use std::sync::LazyLock;

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans.LICENSE`).
static FONT_DATA: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Parsed once per process: parsing is the expensive part of using a font.
static FONT: LazyLock<Option<Font>> = LazyLock::new(|| Font::new(FONT_DATA.into(), 0));

const A4_WIDTH: f32 = 595.28;
const A4_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const TEXT_WIDTH: f32 = A4_WIDTH - 2.0 * MARGIN;
/// Side of the printed QR code, quiet zone included (about 8 cm).
const QR_SIDE: f32 = 226.0;

/// What a sheet shows.
#[derive(Debug, Clone)]
pub struct SheetContent<'a> {
    /// The organization's name.
    pub organization: &'a str,
    /// Whom to ask (the account's contact e-mail), if set.
    pub contact_email: Option<&'a str>,
    /// The person's name, if known.
    pub person_name: Option<&'a str>,
    /// The person's alias (end users) or login e-mail (administrators).
    pub alias: &'a str,
    /// What the QR code carries: the enrollment link.
    pub link: &'a str,
    /// When the enrollment expires.
    pub expires_at: DateTime<Utc>,
    /// The organization's logo (PNG or JPEG bytes), if it has one.
    pub logo: Option<(&'a str, &'a [u8])>,
}

fn font() -> Result<Font> {
    FONT.clone()
        .ok_or_else(|| EnrollmentError::Sheet("the embedded font cannot be read".into()))
}

/// Width of `text` at `size` points (advances without kerning: enough to place and wrap).
fn text_width(text: &str, size: f32) -> f32 {
    let Ok(font) = skrifa::FontRef::new(FONT_DATA) else {
        return 0.0;
    };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(FontSize::new(size), LocationRef::default());
    text.chars()
        .map(|c| {
            metrics
                .advance_width(charmap.map(c).unwrap_or_default())
                .unwrap_or(0.0)
        })
        .sum()
}

/// Breaks `text` into lines no wider than `width` at `size`; a word longer than a line is cut.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line = word.to_owned();
        while text_width(&line, size) > width && line.chars().count() > 1 {
            // Cut the longest prefix that fits (an e-mail address or a URL without spaces).
            let mut cut = line.clone();
            while text_width(&cut, size) > width {
                cut.pop();
            }
            let rest = line[cut.len()..].to_owned();
            lines.push(cut);
            line = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Shortens `text` with an ellipsis so that it fits `width` at `size`.
fn fit(text: &str, size: f32, width: f32) -> String {
    if text_width(text, size) <= width {
        return text.to_owned();
    }
    let mut cut: String = text.to_owned();
    while !cut.is_empty() && text_width(&format!("{cut}…"), size) > width {
        cut.pop();
    }
    format!("{cut}…")
}

struct Pen<'s, 'p> {
    surface: &'s mut Surface<'p>,
    font: Font,
    /// Baseline of the next line.
    y: f32,
}

impl Pen<'_, '_> {
    fn colour(&mut self, r: u8, g: u8, b: u8) {
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
    }

    fn line_at(&mut self, x: f32, size: f32, text: &str) {
        self.surface.draw_text(
            Point::from_xy(x, self.y),
            self.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    /// One line at the left margin, then moves down by `advance`.
    fn line(&mut self, size: f32, text: &str, advance: f32) {
        let text = fit(text, size, TEXT_WIDTH);
        self.line_at(MARGIN, size, &text);
        self.y += advance;
    }

    /// One centred line, then moves down by `advance`.
    fn centred(&mut self, size: f32, text: &str, advance: f32) {
        let text = fit(text, size, TEXT_WIDTH);
        let x = (A4_WIDTH - text_width(&text, size)) / 2.0;
        self.line_at(x, size, &text);
        self.y += advance;
    }

    /// A paragraph wrapped to the text width, lines `leading` apart.
    fn paragraph(&mut self, x: f32, size: f32, leading: f32, text: &str) {
        for line in wrap(text, size, TEXT_WIDTH - (x - MARGIN)) {
            self.line_at(x, size, &line);
            self.y += leading;
        }
    }
}

/// The QR code of `link` as one path of dark rectangles in a `side`-point square at (x, y),
/// quiet zone included; each horizontal run of dark modules is one rectangle.
fn draw_qr(surface: &mut Surface<'_>, link: &str, x: f32, y: f32, side: f32) -> Result<()> {
    let code = crate::qr::code(link)?;
    let width = code.width();
    let quiet = 4;
    let module = side / (width + 2 * quiet) as f32;
    let colors = code.to_colors();
    let mut path = PathBuilder::new();
    for row in 0..width {
        let mut col = 0;
        while col < width {
            if colors[row * width + col] != qrcode::Color::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < width && colors[row * width + col] == qrcode::Color::Dark {
                col += 1;
            }
            if let Some(rect) = Rect::from_xywh(
                x + (start + quiet) as f32 * module,
                y + (row + quiet) as f32 * module,
                (col - start) as f32 * module,
                module,
            ) {
                path.push_rect(rect);
            }
        }
    }
    let path = path
        .finish()
        .ok_or_else(|| EnrollmentError::Sheet("empty QR code".into()))?;
    surface.set_fill(Some(Fill::default()));
    surface.draw_path(&path);
    Ok(())
}

/// The logo, at most 160 × 48 points, top left; returns the height used.
fn draw_logo(surface: &mut Surface<'_>, content_type: &str, data: &[u8]) -> f32 {
    let image = match content_type {
        "image/png" => Image::from_png(data.to_vec().into(), true),
        "image/jpeg" => Image::from_jpeg(data.to_vec().into(), true),
        _ => return 0.0,
    };
    // A logo the console accepted but krilla cannot read is left out, not a failed sheet.
    let Ok(image) = image else {
        return 0.0;
    };
    let (w, h) = image.size();
    if w == 0 || h == 0 {
        return 0.0;
    }
    let scale = (160.0 / w as f32).min(48.0 / h as f32);
    let (w, h) = (w as f32 * scale, h as f32 * scale);
    let Some(size) = Size::from_wh(w, h) else {
        return 0.0;
    };
    surface.push_transform(&krilla::geom::Transform::from_translate(MARGIN, MARGIN));
    surface.draw_image(image, size);
    surface.pop();
    h
}

/// Renders the sheet as a PDF.
pub fn render(content: &SheetContent<'_>) -> Result<Vec<u8>> {
    let font = font()?;
    let mut document = Document::new();
    let settings = PageSettings::from_wh(A4_WIDTH, A4_HEIGHT)
        .ok_or_else(|| EnrollmentError::Sheet("page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();

    let logo_height = content
        .logo
        .map_or(0.0, |(kind, data)| draw_logo(&mut surface, kind, data));
    let mut pen = Pen {
        surface: &mut surface,
        font,
        y: MARGIN + logo_height + 30.0,
    };
    pen.colour(0x33, 0x33, 0x33);
    pen.line(20.0, content.organization, 40.0);
    pen.colour(0, 0, 0);
    pen.line(26.0, "Enroll your phone", 34.0);
    if let Some(name) = content.person_name.filter(|n| !n.trim().is_empty()) {
        pen.line(14.0, &format!("For: {name}"), 20.0);
    }
    pen.line(14.0, &format!("User ID: {}", content.alias), 16.0);

    let qr_top = pen.y;
    draw_qr(
        pen.surface,
        content.link,
        (A4_WIDTH - QR_SIDE) / 2.0,
        qr_top,
        QR_SIDE,
    )?;
    pen.y = qr_top + QR_SIDE + 18.0;
    pen.centred(
        12.0,
        &format!(
            "Valid until {} UTC, for one phone.",
            content.expires_at.format("%Y-%m-%d %H:%M")
        ),
        36.0,
    );

    pen.line(14.0, "How to enroll", 22.0);
    let steps = [
        "Install your organization's authenticator app on your phone and open it.",
        "Choose to add an account and scan the QR code above with the phone's camera.",
        "Check that the organization shown by the app is the one named on this sheet, \
         then confirm. The phone creates its own key; it never leaves the phone.",
        "Keep the deactivation code you receive: with it you can deactivate the phone \
         yourself if it is lost or stolen.",
    ];
    for (i, step) in steps.iter().enumerate() {
        pen.line_at(MARGIN, 11.0, &format!("{}.", i + 1));
        pen.paragraph(MARGIN + 18.0, 11.0, 15.0, step);
        pen.y += 5.0;
    }
    pen.y += 10.0;
    pen.colour(0x55, 0x55, 0x55);
    pen.paragraph(
        MARGIN,
        10.0,
        14.0,
        "This sheet works once and only until the date above. Do not share it: whoever \
         scans it first enrolls their phone in your name.",
    );
    if let Some(contact) = content.contact_email {
        pen.y += 6.0;
        pen.paragraph(
            MARGIN,
            10.0,
            14.0,
            &format!("Questions, or a lost phone? Write to {contact}."),
        );
    }

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| EnrollmentError::Sheet(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let text = "Check that the organization shown by the app is the one named on this sheet";
        let lines = wrap(text, 11.0, 200.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, 11.0) <= 200.0));
        assert_eq!(lines.join(" "), text);
        let long = "x".repeat(300);
        let lines = wrap(&long, 11.0, 100.0);
        assert_eq!(lines.concat(), long);
        assert!(fit(&long, 11.0, 100.0).ends_with('…'));
    }
}
