//! Check digits: every printed check digit of every specimen mutated one at a time, and a
//! property test that a computed check digit always validates, alone and inside a full MRZ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use simgate_documents::mrz::{
    CompositeCheck, MrzField, ReasonCode, check_digit, check_digit::check_digit_matches,
};

/// A check digit's 0-based line and column, and the field it protects.
type CheckDigitAt = (usize, usize, MrzField);

/// Each specimen's lines with every check digit in them.
fn specimens_with_check_digits() -> Vec<(Vec<&'static str>, Vec<CheckDigitAt>)> {
    use MrzField::*;
    vec![
        (
            TD1_SPECIMEN.to_vec(),
            vec![
                (0, 14, DocumentNumber),
                (1, 6, BirthDate),
                (1, 14, ExpiryDate),
                (1, 29, Composite),
            ],
        ),
        (
            TD2_SPECIMEN.to_vec(),
            vec![
                (1, 9, DocumentNumber),
                (1, 19, BirthDate),
                (1, 27, ExpiryDate),
                (1, 35, Composite),
            ],
        ),
        (
            TD3_SPECIMEN.to_vec(),
            vec![
                (1, 9, DocumentNumber),
                (1, 19, BirthDate),
                (1, 27, ExpiryDate),
                (1, 42, OptionalData1),
                (1, 43, Composite),
            ],
        ),
        (
            MRV_A_SPECIMEN.to_vec(),
            vec![
                (1, 9, DocumentNumber),
                (1, 19, BirthDate),
                (1, 27, ExpiryDate),
            ],
        ),
        (
            MRV_B_SPECIMEN.to_vec(),
            vec![
                (1, 9, DocumentNumber),
                (1, 19, BirthDate),
                (1, 27, ExpiryDate),
            ],
        ),
    ]
}

#[test]
fn every_mutated_check_digit_invalidates_its_field_and_the_composite() {
    for (lines, check_digits) in specimens_with_check_digits() {
        for (line, column, field) in check_digits {
            for offset in 1..10 {
                let printed = lines[line].as_bytes()[column];
                let mutated_digit = char::from(b'0' + (printed - b'0' + offset) % 10);
                let mutated_line = replace_at(lines[line], column, mutated_digit);
                let mut mutated = lines.clone();
                mutated[line] = &mutated_line;
                let reading = read(&mutated);
                let context = format!("{field:?} at {line}:{column} -> {mutated_digit}");

                assert_eq!(
                    reading.field(field).unwrap().reasons,
                    [ReasonCode::CheckDigitMismatch],
                    "{context}"
                );
                assert!(!reading.all_check_digits_valid, "{context}");
                assert!(
                    reading.corrections.is_empty(),
                    "{context}: {:?}",
                    reading.corrections
                );
                let others_valid = reading
                    .fields
                    .iter()
                    .filter(|entry| entry.field != field && entry.field != MrzField::Composite)
                    .all(|entry| entry.valid);
                assert!(others_valid, "{context}: {:?}", reading.fields);
                if reading.format.has_composite_check_digit() {
                    assert_eq!(
                        reading.composite_check,
                        CompositeCheck::Invalid,
                        "{context}"
                    );
                } else {
                    assert_eq!(reading.composite_check, CompositeCheck::NotApplicable);
                }
            }
        }
    }
}

/// A small deterministic PRNG (xorshift64*), so the property test needs no new dependency
/// and every failure is reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap()
    }

    fn string_from(&mut self, alphabet: &[u8], length: usize) -> String {
        (0..length)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const MRZ_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

#[test]
fn computed_check_digit_always_validates_and_no_other_digit_does() {
    let mut rng = XorShift(0x5EED_CAFE_F00D_0001);
    for _ in 0..5_000 {
        let length = rng.below(45);
        let field = rng.string_from(MRZ_ALPHABET, length);
        let digit = check_digit(&field).unwrap();
        assert!(digit.is_ascii_digit());
        assert!(check_digit_matches(&field, digit), "{field}");
        for other in ('0'..='9').filter(|&d| d != digit) {
            assert!(!check_digit_matches(&field, other), "{field} {other}");
        }
    }
}

#[test]
fn random_passports_with_computed_check_digits_read_back_valid() {
    const DOCUMENT_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = XorShift(0x00DD_BA11_u64 * 7919);
    let leaked = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    for _ in 0..300 {
        let number_length = 1 + rng.below(9);
        let personal_length = rng.below(15);
        let passport = Td3 {
            document_number: leaked(rng.string_from(DOCUMENT_ALPHABET, number_length)),
            personal_number: leaked(rng.string_from(DOCUMENT_ALPHABET, personal_length)),
            birth: leaked(format!(
                "{:02}{:02}{:02}",
                rng.below(100),
                1 + rng.below(12),
                1 + rng.below(28)
            )),
            expiry: leaked(format!(
                "{:02}{:02}{:02}",
                rng.below(100),
                1 + rng.below(12),
                1 + rng.below(28)
            )),
            ..Td3::specimen()
        };
        let reading = passport.read();
        assert!(reading.all_check_digits_valid, "{passport:?}\n{reading:#?}");
        assert!(reading.all_fields_valid(), "{passport:?}\n{reading:#?}");
        assert!(reading.corrections.is_empty(), "{passport:?}");
        assert_eq!(reading.document_number, passport.document_number);
        assert_eq!(reading.optional_data_1, passport.personal_number);
    }
}
