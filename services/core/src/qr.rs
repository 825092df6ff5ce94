//! Renders text (an otpauth URI, an SGP.22 activation code) as a black-on-white PNG QR code.
//!
//! `qrcode` lays out the modules and `image` writes a grayscale PNG with a quiet zone, so no
//! system library is needed. Error correction level M: these codes are shown on screens and
//! printed receipts, where some damage is tolerable but symbol size matters.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module; large enough for phone cameras scanning a screen.
pub const MODULE_PIXELS: u32 = 8;

/// White modules around the symbol, as ISO/IEC 18004 requires for reliable scanning.
pub const QUIET_ZONE_MODULES: u32 = 4;

/// Why a QR code could not be rendered (text too long for a symbol, or PNG encoding failed).
#[derive(Debug, thiserror::Error)]
#[error("QR code: {0}")]
pub struct QrError(String);

/// Renders `text` as a PNG QR code at error-correction level M.
pub fn render_qr_png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| QrError(e.to_string()))?;
    let modules = u32::try_from(code.width()).map_err(|_| QrError("symbol too large".into()))?;
    let colors = code.to_colors();
    let side_pixels = (modules + 2 * QUIET_ZONE_MODULES) * MODULE_PIXELS;
    let image = GrayImage::from_fn(side_pixels, side_pixels, |px, py| {
        let module_x = (px / MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        let module_y = (py / MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        let dark = match (module_x, module_y) {
            (Some(x), Some(y)) if x < modules && y < modules => {
                usize::try_from(y * modules + x)
                    .ok()
                    .and_then(|index| colors.get(index))
                    == Some(&Color::Dark)
            }
            _ => false,
        };
        Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Cursor::new(Vec::new());
    image
        .write_to(&mut png, ImageFormat::Png)
        .map_err(|e| QrError(e.to_string()))?;
    Ok(png.into_inner())
}
