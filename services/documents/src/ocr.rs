//! OCR for MRZ characters: an OCR-B nearest-template classifier.
//!
//! MRZs are printed in one monospaced font (OCR-B, ISO 1073-2) from a 37-character alphabet,
//! so a character's cell is known once the line is located, and recognising it is matching one
//! small normalised patch against templates of that font. Each query patch is sampled in the
//! line's own frame (so rotation does not matter), scaled by the measured pitch across and
//! character height up (so size and aspect do not matter), inverted, made zero-mean and
//! unit-norm, and compared by correlation with every template at a few sub-cell offsets.
//!
//! The templates (`data/ocrb-templates.bin`) are rendered from the public-domain OCR-B fonts
//! of Debian's `fonts-ocr-b` at several weights and blur levels by
//! `crate::testing::render_ocrb_templates`; a test checks the committed file matches a
//! fresh render whenever the fonts are installed. Tesseract was measured against this and
//! lost (see the crate documentation).

use std::sync::OnceLock;

use image::GrayImage;

use crate::raster::sample;

/// Feature patch width in samples.
pub const FEATURE_WIDTH: usize = 16;
/// Feature patch height in samples.
pub const FEATURE_HEIGHT: usize = 24;
/// The patch spans this many character heights vertically (cap height plus margin).
pub const WINDOW_HEIGHT_IN_CHAR_HEIGHTS: f32 = 1.3;
/// The patch spans this many pitches horizontally.
pub const WINDOW_WIDTH_IN_PITCHES: f32 = 1.0;
/// The MRZ alphabet, in template order.
pub const MRZ_ALPHABET: &[u8; 37] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

const TEMPLATE_MAGIC: &[u8; 8] = b"OCRBTPL1";
static BUILTIN: OnceLock<OcrbClassifier> = OnceLock::new();

/// Where one character sits: centre, reading direction and size, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharacterCell {
    /// Centre, horizontal.
    pub x: f32,
    /// Centre, vertical.
    pub y: f32,
    /// Unit vector along the text.
    pub direction: (f32, f32),
    /// Distance between character centres.
    pub pitch: f32,
    /// Height of capitals and digits.
    pub char_height: f32,
}

/// The best and second-best reading of one character.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharacterGuess {
    /// Best match.
    pub character: u8,
    /// Its correlation in [-1, 1].
    pub score: f32,
    /// Best match among the other characters.
    pub runner_up: u8,
    /// Its correlation.
    pub runner_up_score: f32,
}

/// Samples the raw feature patch (ink bright, 0..255) for `cell`, shifted by whole samples.
pub fn raw_features(gray: &GrayImage, cell: &CharacterCell, shift: (i32, i32)) -> Vec<f32> {
    let (dx, dy) = cell.direction;
    let (nx, ny) = (-dy, dx);
    let step_u = cell.pitch * WINDOW_WIDTH_IN_PITCHES / FEATURE_WIDTH as f32;
    let step_v = cell.char_height * WINDOW_HEIGHT_IN_CHAR_HEIGHTS / FEATURE_HEIGHT as f32;
    let subsamples = (step_u.max(step_v).round() as usize).clamp(1, 4);
    let mut out = Vec::with_capacity(FEATURE_WIDTH * FEATURE_HEIGHT);
    for row in 0..FEATURE_HEIGHT {
        for column in 0..FEATURE_WIDTH {
            let mut total = 0.0;
            for sy in 0..subsamples {
                for sx in 0..subsamples {
                    let u = (column as f32 + (sx as f32 + 0.5) / subsamples as f32
                        - FEATURE_WIDTH as f32 / 2.0
                        + shift.0 as f32)
                        * step_u;
                    let v = (row as f32 + (sy as f32 + 0.5) / subsamples as f32
                        - FEATURE_HEIGHT as f32 / 2.0
                        + shift.1 as f32)
                        * step_v;
                    total += sample(gray, cell.x + u * dx + v * nx, cell.y + u * dy + v * ny);
                }
            }
            out.push(255.0 - total / (subsamples * subsamples) as f32);
        }
    }
    out
}

/// Zero-mean, unit-norm copy of `features` (all zeros when flat).
pub fn normalise(features: &[f32]) -> Vec<f32> {
    let mean = features.iter().sum::<f32>() / features.len().max(1) as f32;
    let centred: Vec<f32> = features.iter().map(|v| v - mean).collect();
    let norm = centred.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm < 1e-3 {
        return vec![0.0; features.len()];
    }
    centred.iter().map(|v| v / norm).collect()
}

/// Nearest-template classifier over the MRZ alphabet.
#[derive(Debug, Clone)]
pub struct OcrbClassifier {
    templates: Vec<(u8, Vec<f32>)>,
}

impl OcrbClassifier {
    /// The classifier built from the committed OCR-B templates.
    pub fn builtin() -> &'static Self {
        BUILTIN.get_or_init(|| {
            Self::from_bytes(include_bytes!("../data/ocrb-templates.bin")).unwrap_or_else(|| Self {
                templates: Vec::new(),
            })
        })
    }

    /// Parses a template file; `None` when it is malformed.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(TEMPLATE_MAGIC.as_slice())?;
        let size = FEATURE_WIDTH * FEATURE_HEIGHT;
        if rest.len() % (size + 1) != 0 {
            return None;
        }
        let templates = rest
            .chunks(size + 1)
            .map(|chunk| {
                let raw: Vec<f32> = chunk[1..].iter().map(|&b| f32::from(b)).collect();
                (chunk[0], normalise(&raw))
            })
            .collect();
        Some(Self { templates })
    }

    /// Serialises raw (un-normalised, 0..255) templates into the template file format.
    pub fn encode(raw_templates: &[(u8, Vec<f32>)]) -> Vec<u8> {
        let mut out = TEMPLATE_MAGIC.to_vec();
        for (character, features) in raw_templates {
            out.push(*character);
            out.extend(features.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        out
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether there are no templates (the committed file is missing or malformed).
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Reads the character in `cell`, choosing only among characters `allowed` accepts.
    pub fn classify(
        &self,
        gray: &GrayImage,
        cell: &CharacterCell,
        allowed: impl Fn(u8) -> bool,
    ) -> CharacterGuess {
        let mut best = self.scores(gray, cell);
        for (slot, &character) in MRZ_ALPHABET.iter().enumerate() {
            if !allowed(character) {
                best[slot] = f32::NEG_INFINITY;
            }
        }
        let mut order: Vec<usize> = (0..MRZ_ALPHABET.len()).collect();
        order.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
        CharacterGuess {
            character: MRZ_ALPHABET[order[0]],
            score: best[order[0]],
            runner_up: MRZ_ALPHABET[order[1]],
            runner_up_score: best[order[1]],
        }
    }

    /// The best correlation of every character of [`MRZ_ALPHABET`] with `cell`.
    pub fn scores(&self, gray: &GrayImage, cell: &CharacterCell) -> [f32; 37] {
        let mut best = [f32::NEG_INFINITY; MRZ_ALPHABET.len()];
        for shift_y in -1..=1 {
            for shift_x in -1..=1 {
                let query = normalise(&raw_features(gray, cell, (shift_x, shift_y)));
                for (character, template) in &self.templates {
                    let score: f32 = query.iter().zip(template).map(|(a, b)| a * b).sum();
                    if let Some(slot) = MRZ_ALPHABET.iter().position(|c| c == character) {
                        best[slot] = best[slot].max(score);
                    }
                }
            }
        }
        best
    }
}
