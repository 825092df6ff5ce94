//! From a photo to an MRZ reading: locate zones, classify every cell, parse with
//! [`crate::mrz::read_mrz`], and keep the best candidate.
//!
//! Each located zone comes in both reading directions; every candidate is read and ranked by
//! (parses, all check digits valid, number of valid fields, mean OCR confidence). When the
//! best candidate still fails a check digit, the least confident characters are tried with
//! their runner-up reading, one at a time, and a change is kept only if it alone makes every
//! check digit valid: the same "unique correction" rule the text layer applies to lookalikes.

use image::GrayImage;
use time::Date;

use crate::locate::{LocatedMrz, locate_mrz};
use crate::mrz::{MrzReading, read_mrz};
use crate::ocr::{CharacterCell, CharacterGuess, OcrbClassifier};

/// How many low-confidence characters the runner-up search may try.
const RUNNER_UP_CANDIDATES: usize = 12;

/// The MRZ read from an image.
#[derive(Debug, Clone)]
pub struct ImageMrz {
    /// Where it was found.
    pub located: LocatedMrz,
    /// The OCR output, one string per line, before text-layer correction.
    pub ocr_lines: Vec<String>,
    /// Mean best-template correlation over all characters, in [-1, 1].
    pub confidence: f32,
    /// The parsed reading, or why the OCR text is not a well-formed MRZ.
    pub reading: Result<MrzReading, crate::DocumentError>,
    /// Number of distinct zones found in the image (more than one: several documents).
    pub zones_found: usize,
}

/// Reads every cell of a located zone.
fn classify_zone(gray: &GrayImage, zone: &LocatedMrz) -> Vec<Vec<CharacterGuess>> {
    let classifier = OcrbClassifier::builtin();
    zone.lines
        .iter()
        .map(|line| {
            line.cells
                .iter()
                .map(|cell| {
                    classifier.classify(
                        gray,
                        &CharacterCell {
                            x: cell.x,
                            y: cell.y,
                            direction: line.direction,
                            pitch: zone.pitch,
                            char_height: zone.char_height,
                        },
                    )
                })
                .collect()
        })
        .collect()
}

fn rank(reading: &Result<MrzReading, crate::DocumentError>, confidence: f32) -> (u8, u8, usize, f32) {
    match reading {
        Ok(r) => (
            1,
            u8::from(r.all_check_digits_valid),
            r.fields.iter().filter(|f| f.valid).count(),
            confidence,
        ),
        Err(_) => (0, 0, 0, confidence),
    }
}

/// Locates and reads the MRZ in `gray`; `None` when no MRZ-like zone is found.
pub fn read_mrz_in_image(gray: &GrayImage, today: Date) -> Option<ImageMrz> {
    let zones = locate_mrz(gray);
    let zones_found = zones.iter().map(|z| z.zone + 1).max().unwrap_or(0);
    let mut best: Option<ImageMrz> = None;
    for zone in zones {
        let guesses = classify_zone(gray, &zone);
        let count = guesses.iter().map(Vec::len).sum::<usize>().max(1);
        let confidence = guesses.iter().flatten().map(|g| g.score).sum::<f32>() / count as f32;
        let mut lines: Vec<String> = guesses
            .iter()
            .map(|line| line.iter().map(|g| char::from(g.character)).collect())
            .collect();
        let mut reading = read_mrz(&lines.join("\n"), today);
        if reading.as_ref().is_ok_and(|r| !r.all_check_digits_valid) {
            if let Some((fixed_lines, fixed)) = runner_up_search(&guesses, &lines, today) {
                lines = fixed_lines;
                reading = Ok(fixed);
            }
        }
        let candidate = ImageMrz {
            located: zone,
            ocr_lines: lines,
            confidence,
            reading,
            zones_found,
        };
        let better = best.as_ref().is_none_or(|b| {
            rank(&candidate.reading, candidate.confidence) > rank(&b.reading, b.confidence)
        });
        if better {
            best = Some(candidate);
        }
    }
    best
}

/// Tries the runner-up reading of the least confident characters one at a time; returns the
/// change only when exactly one of them makes every check digit valid.
fn runner_up_search(
    guesses: &[Vec<CharacterGuess>],
    lines: &[String],
    today: Date,
) -> Option<(Vec<String>, MrzReading)> {
    let mut positions: Vec<(usize, usize, f32)> = guesses
        .iter()
        .enumerate()
        .flat_map(|(l, line)| {
            line.iter()
                .enumerate()
                .map(move |(c, g)| (l, c, g.score - g.runner_up_score))
        })
        .collect();
    positions.sort_by(|a, b| a.2.total_cmp(&b.2));
    let mut solution = None;
    for &(l, c, _) in positions.iter().take(RUNNER_UP_CANDIDATES) {
        let mut candidate: Vec<String> = lines.to_vec();
        let mut bytes = candidate[l].clone().into_bytes();
        bytes[c] = guesses[l][c].runner_up;
        candidate[l] = String::from_utf8(bytes).ok()?;
        if let Ok(reading) = read_mrz(&candidate.join("\n"), today)
            && reading.all_check_digits_valid
        {
            if solution.is_some() {
                return None;
            }
            solution = Some((candidate, reading));
        }
    }
    solution
}
