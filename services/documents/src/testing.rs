//! Test support (feature `testing`): OCR-B rendering with Debian's `fonts-ocr-b`, the OCR
//! template generator, synthetic documents and paths to the development specimens.
//!
//! Font lookups fail with the `make setup` hint when the fonts are absent; specimen lookups
//! return `None` so tests can skip with a printed reason.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::{GrayImage, Luma, imageops};

use crate::ocr::{CharacterCell, MRZ_ALPHABET, raw_features};

/// Where Debian's `fonts-ocr-b` installs the fonts.
pub const OCRB_FONT_DIR: &str = "/usr/share/fonts/opentype/ocr-b";
/// The regular weight, used for synthetic documents.
pub const OCRB_REGULAR: &str = "OCRB.otf";
/// Font files the OCR templates are rendered from (different stroke weights).
pub const TEMPLATE_FONTS: [&str; 3] = ["OCRB.otf", "OCRBL.otf", "OCRBS.otf"];

/// The repository root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The development specimens directory, when present (`../shared/data/mrz-dev`).
pub fn specimens_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/data/mrz-dev");
    dir.is_dir().then_some(dir)
}

/// Loads one OCR-B font file; panics with the set-up hint when it is missing.
pub fn load_font(file: &str) -> FontVec {
    let path = Path::new(OCRB_FONT_DIR).join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "OCR-B font missing: run `make setup` (installs fonts-ocr-b) ({}: {e})",
            path.display()
        )
    });
    FontVec::try_from_vec(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Font metrics at one pixel size: advance (the pitch) and cap height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OcrbMetrics {
    /// Horizontal advance of every glyph (the font is monospaced).
    pub advance: f32,
    /// Height of `H` above the baseline.
    pub cap_height: f32,
}

/// Metrics of `font` at pixel size `size`.
pub fn metrics(font: &FontVec, size: f32) -> OcrbMetrics {
    let scaled = font.as_scaled(PxScale::from(size));
    let id = font.glyph_id('H');
    let glyph = id.with_scale_and_position(PxScale::from(size), point(0.0, 0.0));
    let cap_height = font
        .outline_glyph(glyph)
        .map_or(size * 0.7, |outline| -outline.px_bounds().min.y);
    OcrbMetrics {
        advance: scaled.h_advance(id),
        cap_height,
    }
}

/// Draws `text` in dark ink (`ink` 0..255 level) on `canvas`, the first glyph's pen at
/// `(x, baseline)`, every glyph advancing by the font's advance.
pub fn draw_text(
    canvas: &mut GrayImage,
    font: &FontVec,
    size: f32,
    text: &str,
    x: f32,
    baseline: f32,
    ink: u8,
) {
    let scale = PxScale::from(size);
    let advance = font.as_scaled(scale).h_advance(font.glyph_id('H'));
    for (index, character) in text.chars().enumerate() {
        let glyph = font
            .glyph_id(character)
            .with_scale_and_position(scale, point(x + advance * index as f32, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px < 0 || py < 0 || px >= i64::from(canvas.width()) || py >= i64::from(canvas.height())
                {
                    return;
                }
                let pixel = canvas.get_pixel_mut(px as u32, py as u32);
                let current = f32::from(pixel.0[0]);
                let target = f32::from(ink);
                let blended = current + (target - current) * coverage.clamp(0.0, 1.0);
                *pixel = Luma([blended.round() as u8]);
            });
        }
    }
}

/// The ink bounding-box centre of `character` drawn with its pen at the origin.
fn ink_centre_x(font: &FontVec, size: f32, character: char) -> Option<f32> {
    let glyph = font
        .glyph_id(character)
        .with_scale_and_position(PxScale::from(size), point(0.0, 0.0));
    let bounds = font.outline_glyph(glyph)?.px_bounds();
    Some((bounds.min.x + bounds.max.x) / 2.0)
}

/// Renders the raw OCR templates: every MRZ character in every template font, sharp and at
/// two blur levels, sampled exactly as [`crate::ocr::OcrbClassifier`] samples a photo.
pub fn render_ocrb_templates() -> Vec<(u8, Vec<f32>)> {
    const SIZE: f32 = 96.0;
    let mut templates = Vec::new();
    for file in TEMPLATE_FONTS {
        let font = load_font(file);
        let m = metrics(&font, SIZE);
        for &character in MRZ_ALPHABET {
            let c = char::from(character);
            let mut canvas = GrayImage::from_pixel(
                (m.advance * 3.0) as u32,
                (m.cap_height * 3.0) as u32,
                Luma([255]),
            );
            let baseline = m.cap_height * 2.0;
            draw_text(&mut canvas, &font, SIZE, &c.to_string(), m.advance, baseline, 0);
            let centre_x = m.advance + ink_centre_x(&font, SIZE, c).unwrap_or(m.advance / 2.0);
            for sigma in [0.0, 0.06, 0.12] {
                let blurred = if sigma > 0.0 {
                    imageops::blur(&canvas, sigma * m.advance)
                } else {
                    canvas.clone()
                };
                let cell = CharacterCell {
                    x: centre_x,
                    y: baseline - m.cap_height / 2.0,
                    direction: (1.0, 0.0),
                    pitch: m.advance,
                    char_height: m.cap_height,
                };
                templates.push((character, raw_features(&blurred, &cell, (0, 0))));
            }
        }
    }
    templates
}
