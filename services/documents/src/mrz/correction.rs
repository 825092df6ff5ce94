//! OCR correction: undo the letter/digit confusions OCR makes on MRZ fonts.
//!
//! Two mechanisms, applied in this order by [`crate::mrz::read_mrz`]:
//! 1. **By character class.** Dates and check digits can only hold digits (or `<`), so a
//!    letter there becomes its digit lookalike; codes and names can only hold letters, so a
//!    digit there becomes its letter lookalike. These are unambiguous.
//! 2. **By check-digit search.** Document numbers and optional data may hold both, so a
//!    lookalike cannot be fixed by class. When a check digit fails, every combination of
//!    swapping the ambiguous characters in the failing fields is tried, and the correction is
//!    accepted only when exactly one combination makes every failing check digit and the
//!    composite valid. Otherwise nothing is changed: a guess that merely satisfies a mod-10
//!    checksum is not evidence. The visa formats have no composite, and without it a misread
//!    check digit cannot be told from a misread number, so they get no search at all.
//!    `6`/`G` take part only in the first mechanism (see
//!    [`check_digit_searchable_lookalike`]).
//!
//! 3. **By the list of state codes.** The issuing state and nationality have no check digit,
//!    but they must be known codes: an unknown code whose `O`/`Q` lookalike swaps give exactly
//!    one known code is corrected to it (`UTQ` → `UTO`); names cannot be corrected this way.
//!
//! Every change is recorded as a [`Correction`] so callers can see what was altered.

use serde::Serialize;

use super::fields::MrzField;

/// Pairs OCR confuses on MRZ fonts, as (digit, letter).
pub const LOOKALIKE_PAIRS: [(u8, u8); 6] = [
    (b'0', b'O'),
    (b'1', b'I'),
    (b'5', b'S'),
    (b'8', b'B'),
    (b'2', b'Z'),
    (b'6', b'G'),
];

/// The digit a letter is mistaken for, if it is one of the confusable letters.
pub fn digit_lookalike(letter: u8) -> Option<u8> {
    LOOKALIKE_PAIRS
        .iter()
        .find(|(_, candidate)| *candidate == letter)
        .map(|(digit, _)| *digit)
}

/// The letter a digit is mistaken for, if it is one of the confusable digits.
pub fn letter_lookalike(digit: u8) -> Option<u8> {
    LOOKALIKE_PAIRS
        .iter()
        .find(|(candidate, _)| *candidate == digit)
        .map(|(_, letter)| *letter)
}

/// The other member of a confusable pair, in either direction.
pub fn lookalike(character: u8) -> Option<u8> {
    digit_lookalike(character).or_else(|| letter_lookalike(character))
}

/// The lookalike worth trying in a check-digit search. `6`/`G` is excluded: their values
/// (6 and 16) differ by 10, so swapping them never changes a mod-10 check digit, and every
/// "solution" would come with an indistinguishable twin.
pub fn check_digit_searchable_lookalike(character: u8) -> Option<u8> {
    match character {
        b'6' | b'G' => None,
        _ => lookalike(character),
    }
}

/// How a correction was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionMethod {
    /// The field allows only digits or only letters, so the lookalike was the only option.
    CharacterClass,
    /// Exactly one combination of letter-lookalike swaps (`O`/`Q`) in an unknown state code
    /// gave a known ISO 3166-1 or ICAO code.
    KnownStateCode,
    /// Exactly one combination of lookalike swaps made the check digits valid.
    CheckDigitSearch,
}

/// Letters OCR confuses with each other on MRZ fonts (no check digit protects them, so they are
/// corrected only inside state codes, where the list of known codes decides).
pub const LETTER_LOOKALIKE_PAIRS: [(u8, u8); 1] = [(b'O', b'Q')];

/// The letter a letter is mistaken for, if it is one of the confusable letters.
pub fn letter_letter_lookalike(letter: u8) -> Option<u8> {
    LETTER_LOOKALIKE_PAIRS.iter().find_map(|&(a, b)| {
        if letter == a {
            Some(b)
        } else if letter == b {
            Some(a)
        } else {
            None
        }
    })
}

/// One character the reader changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction {
    /// The field the character belongs to (check digits belong to the field they protect).
    pub field: MrzField,
    /// 1-based MRZ line.
    pub line: usize,
    /// 1-based column in that line.
    pub column: usize,
    /// The character as read.
    pub from: char,
    /// The character it was corrected to.
    pub to: char,
    /// How the correction was decided.
    pub method: CorrectionMethod,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_map_both_ways_and_only_for_confusable_characters() {
        for (digit, letter) in LOOKALIKE_PAIRS {
            assert_eq!(digit_lookalike(letter), Some(digit));
            assert_eq!(letter_lookalike(digit), Some(letter));
            assert_eq!(lookalike(lookalike(digit).unwrap()), Some(digit));
        }
        assert_eq!(digit_lookalike(b'A'), None);
        assert_eq!(letter_lookalike(b'7'), None);
        assert_eq!(lookalike(b'<'), None);
    }

    #[test]
    fn six_and_g_are_invisible_to_check_digits_so_search_skips_them() {
        use crate::mrz::check_digit;
        for (six, gee) in [("6", "G"), ("A6C", "AGC"), ("<<6", "<<G")] {
            assert_eq!(check_digit(six), check_digit(gee));
        }
        assert_eq!(check_digit_searchable_lookalike(b'6'), None);
        assert_eq!(check_digit_searchable_lookalike(b'G'), None);
        assert_eq!(check_digit_searchable_lookalike(b'O'), Some(b'0'));
    }
}
