//! The ICAO 9303 check digit (part 3, 4.9): each character's value (`0-9` as themselves,
//! `A`=10 … `Z`=35, `<`=0) times the repeating weights 7, 3, 1, summed, modulo 10.

/// The weights applied to successive characters, repeating.
const WEIGHTS: [u32; 3] = [7, 3, 1];

/// The numeric value of one MRZ character, or `None` outside the MRZ alphabet.
pub fn character_value(character: u8) -> Option<u32> {
    match character {
        b'0'..=b'9' => Some(u32::from(character - b'0')),
        b'A'..=b'Z' => Some(u32::from(character - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// The check digit (`'0'..='9'`) of `field`, or `None` if it holds a non-MRZ character.
pub fn check_digit(field: &str) -> Option<char> {
    check_digit_of_bytes(field.bytes())
}

/// Same as [`check_digit`] over any sequence of MRZ bytes, so callers can checksum
/// non-contiguous ranges (the composite) without building a string.
pub fn check_digit_of_bytes(field: impl IntoIterator<Item = u8>) -> Option<char> {
    let mut sum = 0_u32;
    for (index, character) in field.into_iter().enumerate() {
        sum += character_value(character)? * WEIGHTS[index % WEIGHTS.len()];
    }
    char::from_digit(sum % 10, 10)
}

/// Whether `printed` is the correct check digit for `field`.
pub fn check_digit_matches(field: &str, printed: char) -> bool {
    check_digit(field) == Some(printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_part3_worked_examples() {
        // Part 3, 4.9.2: date 520727 -> 3, document number AB2134<<< -> 5.
        assert_eq!(check_digit("520727"), Some('3'));
        assert_eq!(check_digit("AB2134<<<"), Some('5'));
        assert_eq!(check_digit(""), Some('0'));
    }

    #[test]
    fn rejects_non_mrz_characters() {
        assert_eq!(check_digit("ab"), None);
        assert_eq!(check_digit("A B"), None);
        assert!(!check_digit_matches("A-B", '0'));
    }
}
