//! QR codes of enrollment links, as SVG (console) and PNG (sheets, downloads).

use crate::{EnrollmentError, Result};
use qrcode::QrCode;
use qrcode::render::svg;

pub(crate) fn code(text: &str) -> Result<QrCode> {
    // Medium error correction: readable from a printed sheet or a screen photo.
    QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| EnrollmentError::Qr(e.to_string()))
}

/// An SVG image of the QR code of `text`.
pub fn svg(text: &str) -> Result<String> {
    Ok(code(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// A PNG image (greyscale, no alpha) of the QR code of `text`, `module` pixels per module.
pub fn png(text: &str, module: u32) -> Result<Vec<u8>> {
    let image = code(text)?
        .render::<image::Luma<u8>>()
        .module_dimensions(module, module)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| EnrollmentError::Qr(e.to_string()))?;
    Ok(out.into_inner())
}
