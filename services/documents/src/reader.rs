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
use crate::mrz::correction::lookalike;
use crate::mrz::{MrzReading, read_mrz};
use crate::ocr::{CharacterCell, CharacterGuess, OcrbClassifier};

/// How many low-confidence characters the runner-up search may try.
const RUNNER_UP_CANDIDATES: usize = 6;
/// Only characters whose best and runner-up probabilities are this close count as ambiguous;
/// a clearly printed wrong check digit must stay wrong.
const AMBIGUOUS_MARGIN: f32 = 0.6;

/// The MRZ read from an image.
#[derive(Debug, Clone)]
pub struct ImageMrz {
    /// Where it was found.
    pub located: LocatedMrz,
    /// The OCR output, one string per line, before text-layer correction.
    pub ocr_lines: Vec<String>,
    /// Mean probability the network gave each character it read, in [0, 1].
    pub confidence: f32,
    /// The parsed reading, or why the OCR text is not a well-formed MRZ.
    pub reading: Result<MrzReading, crate::DocumentError>,
    /// Number of distinct zones found in the image (more than one: several documents).
    pub zones_found: usize,
}

/// What a position may hold, from ICAO 9303's layouts (`<` is allowed everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PositionClass {
    Digit,
    Letter,
    Any,
}

/// The class of `column` on `line` for a zone of `lines` lines of `length` characters;
/// `visa` when the document code reads `V` (visas have no check digits after the expiry).
fn position_class(
    lines: usize,
    length: usize,
    line: usize,
    column: usize,
    visa: bool,
) -> PositionClass {
    use PositionClass::{Any, Digit, Letter};
    if lines == 3 {
        return match (line, column) {
            (0, 0..=4) | (1, 7) | (1, 15..=17) | (2, _) => Letter,
            (0, _) | (1, 18..=28) => Any,
            _ => Digit,
        };
    }
    match (line, column) {
        (0, _) | (1, 10..=12) | (1, 20) => Letter,
        (1, 9) | (1, 13..=19) | (1, 21..=27) => Digit,
        (1, c) if !visa && c + 1 == length => Digit,
        (1, 42) if !visa && length == 44 => Digit,
        _ => Any,
    }
}

fn allowed_by(class: PositionClass) -> impl Fn(u8) -> bool {
    move |c: u8| match class {
        PositionClass::Digit => c.is_ascii_digit() || c == b'<',
        PositionClass::Letter => c.is_ascii_uppercase() || c == b'<',
        PositionClass::Any => true,
    }
}

/// Below this margin an `O` in a letters-or-digits field is read as `0`: OCR-B's `0` and `O`
/// differ by a pixel or two on a phone photo, document numbers hold far more zeros than Os, and
/// two `O`-for-`0` misreads can cancel out in the 7-3-1 check digit (a difference of the
/// network's probabilities).
const ZERO_OVER_O_MARGIN: f32 = 0.06;

fn prefer_zero_over_o(guess: CharacterGuess, class: PositionClass) -> CharacterGuess {
    if class == PositionClass::Any
        && guess.character == b'O'
        && guess.runner_up == b'0'
        && guess.score - guess.runner_up_score < ZERO_OVER_O_MARGIN
    {
        CharacterGuess {
            character: b'0',
            score: guess.runner_up_score,
            runner_up: b'O',
            runner_up_score: guess.score,
        }
    } else {
        guess
    }
}

/// Reads every cell of a located zone, each restricted to what its position may hold.
fn classify_zone(gray: &GrayImage, zone: &LocatedMrz) -> Vec<Vec<CharacterGuess>> {
    let classifier = OcrbClassifier::builtin();
    let cell_of = |line: &crate::locate::LocatedLine, index: usize| {
        let cell = line.cells[index];
        let pitch = cell.along.0.hypot(cell.along.1).max(1e-3);
        let char_height = cell.across.0.hypot(cell.across.1).max(1e-3);
        CharacterCell {
            x: cell.x,
            y: cell.y,
            direction: (cell.along.0 / pitch, cell.along.1 / pitch),
            across: (cell.across.0 / char_height, cell.across.1 / char_height),
            pitch,
            char_height,
        }
    };
    let Some(first_line) = zone.lines.first() else {
        return Vec::new();
    };
    let visa = zone.lines.len() == 2
        && !first_line.cells.is_empty()
        && classifier
            .classify(gray, &cell_of(first_line, 0), |c| c.is_ascii_uppercase())
            .character
            == b'V';
    let (count, length) = (zone.lines.len(), zone.line_length());
    zone.lines
        .iter()
        .enumerate()
        .map(|(l, line)| {
            (0..line.cells.len())
                .map(|c| {
                    let class = position_class(count, length, l, c, visa);
                    let guess = classifier.classify(gray, &cell_of(line, c), allowed_by(class));
                    prefer_zero_over_o(guess, class)
                })
                .collect()
        })
        .collect()
}

fn rank(
    reading: &Result<MrzReading, crate::DocumentError>,
    confidence: f32,
) -> (u8, u8, usize, f32) {
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
        if reading.as_ref().is_ok_and(|r| !r.all_check_digits_valid)
            && let Some((fixed_lines, fixed)) = runner_up_search(&guesses, &lines, today)
        {
            lines = fixed_lines;
            reading = Ok(fixed);
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

/// Tries the runner-up reading of the least confident characters one at a time; a change is
/// kept only when it is the only one that makes every check digit valid. Only a character's
/// lookalike (0/O, 1/I, 5/S, 8/B, 2/Z), and only where the network hesitated between the two:
/// with any runner-up, the template classifier this replaced turned OCR garbage into readings
/// whose check digits happened to validate (one change satisfies a mod-10 check 1 time in 10).
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
                .filter(|(_, g)| lookalike(g.character) == Some(g.runner_up))
                .map(move |(c, g)| (l, c, g.score - g.runner_up_score))
        })
        .collect();
    positions.retain(|p| p.2 < AMBIGUOUS_MARGIN);
    positions.sort_by(|a, b| a.2.total_cmp(&b.2));
    positions.truncate(RUNNER_UP_CANDIDATES);
    let attempt = |changes: &[(usize, usize, f32)]| {
        let mut candidate: Vec<Vec<u8>> = lines.iter().map(|l| l.clone().into_bytes()).collect();
        for &(l, c, _) in changes {
            candidate[l][c] = guesses[l][c].runner_up;
        }
        let candidate: Vec<String> = candidate
            .into_iter()
            .filter_map(|bytes| String::from_utf8(bytes).ok())
            .collect();
        read_mrz(&candidate.join("\n"), today)
            .ok()
            .filter(|reading| reading.all_check_digits_valid)
            .map(|reading| (candidate, reading))
    };
    // Pairs were tried and rejected: on the 7.6-pixel French specimen a pair of runner-ups
    // satisfied every check digit with a wrong number, so only single changes are trusted.
    let singles: Vec<_> = positions.iter().filter_map(|p| attempt(&[*p])).collect();
    (singles.len() == 1)
        .then(|| singles.into_iter().next())
        .flatten()
}
