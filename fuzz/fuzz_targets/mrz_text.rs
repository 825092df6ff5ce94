//! MRZ text from an untrusted source (a hardware reader's `mrz_text` field, or OCR output).
//!
//! Feeds the input, as UTF-8, to the boundary newtype `simgate_documents::MrzText::parse` and to
//! `simgate_documents::read_mrz` (format detection, OCR lookalike correction, check digits,
//! dates, state codes), on two `today`s (one near the century pivot). Besides "no panic" it
//! checks invariants a caller relies on:
//! - a parsed `MrzText` prints back to text that parses to the same value;
//! - a reading's corrected lines have the shape of its format;
//! - a reading that says all check digits are valid really has valid date and composite
//!   check digits at the ICAO 9303 positions, recomputed here from the corrected lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use simgate_documents::{
    MrzFormat, MrzReading, MrzText,
    mrz::{CompositeCheck, check_digit},
    read_mrz,
};
use time::{Date, macros::date};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = MrzText::parse(text) {
        let printed = parsed.to_string();
        assert_eq!(
            MrzText::parse(&printed).ok().as_ref(),
            Some(&parsed),
            "{printed:?}"
        );
    }
    for today in [date!(2026 - 03 - 01), date!(2069 - 12 - 31)] {
        if let Ok(reading) = read_mrz(text, today) {
            check_reading(&reading, today);
        }
    }
});

fn check_reading(reading: &MrzReading, today: Date) {
    let lines = &reading.corrected_lines;
    assert_eq!(lines.len(), reading.format.line_count(), "{lines:?}");
    for line in lines {
        assert_eq!(line.len(), reading.format.line_length(), "{lines:?}");
        assert!(
            line.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<')
        );
    }
    // Callers evaluate these on every reading, valid or not.
    let _ = reading.expired(today);
    let _ = reading.age_on(today);
    let _ = reading.all_fields_valid();

    if !reading.all_check_digits_valid {
        return;
    }
    // (line, start, end, check position) of the birth and expiry dates, and the composite's
    // ranges and position, per ICAO 9303 parts 4-7.
    let (dates, composite): (
        [(usize, usize, usize, usize); 2],
        Option<(Vec<(usize, usize, usize)>, (usize, usize))>,
    ) = match reading.format {
        MrzFormat::Td3 => (
            [(1, 13, 19, 19), (1, 21, 27, 27)],
            Some((vec![(1, 0, 10), (1, 13, 20), (1, 21, 43)], (1, 43))),
        ),
        MrzFormat::Td2 => (
            [(1, 13, 19, 19), (1, 21, 27, 27)],
            Some((vec![(1, 0, 10), (1, 13, 20), (1, 21, 35)], (1, 35))),
        ),
        MrzFormat::Td1 => (
            [(1, 0, 6, 6), (1, 8, 14, 14)],
            Some((
                vec![(0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)],
                (1, 29),
            )),
        ),
        MrzFormat::MrvA | MrzFormat::MrvB => ([(1, 13, 19, 19), (1, 21, 27, 27)], None),
    };
    for (line, start, end, check) in dates {
        let field = &lines[line][start..end];
        let printed = char::from(lines[line].as_bytes()[check]);
        assert_eq!(
            check_digit(field),
            Some(printed),
            "a reading with all check digits valid has a wrong date check digit: {lines:?}"
        );
    }
    match composite {
        Some((ranges, (line, position))) => {
            let field: String = ranges
                .iter()
                .map(|&(line, start, end)| &lines[line][start..end])
                .collect();
            let printed = char::from(lines[line].as_bytes()[position]);
            assert_eq!(
                check_digit(&field),
                Some(printed),
                "a reading with all check digits valid has a wrong composite: {lines:?}"
            );
            assert_eq!(reading.composite_check, CompositeCheck::Valid);
        }
        None => assert_eq!(reading.composite_check, CompositeCheck::NotApplicable),
    }
}
