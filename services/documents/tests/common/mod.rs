//! Shared test material: the ICAO 9303 specimen MRZs, a fixed reference date, and builders
//! that render TD1/TD3 MRZs with correct check digits so tests can vary one field at a time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use simgate_documents::mrz::{MrzReading, check_digit, read_mrz};
use time::Date;
use time::macros::date;

/// The reference date every test reads against unless it is testing dates.
pub const TODAY: Date = date!(2026 - 11 - 25);

/// ICAO 9303 part 5 specimen (TD1).
pub const TD1_SPECIMEN: [&str; 3] = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
];
/// ICAO 9303 part 6 specimen (TD2).
pub const TD2_SPECIMEN: [&str; 2] = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
];
/// ICAO 9303 part 4 specimen (TD3).
pub const TD3_SPECIMEN: [&str; 2] = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
];
/// ICAO 9303 part 7 specimen (MRV-A).
pub const MRV_A_SPECIMEN: [&str; 2] = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
];
/// ICAO 9303 part 7 specimen (MRV-B).
pub const MRV_B_SPECIMEN: [&str; 2] = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "L8988901C4XXX4009078F9612109<<<<<<<<",
];

/// Joins lines the way OCR output arrives.
pub fn joined(lines: &[&str]) -> String {
    lines.join("\n")
}

/// Reads `lines` against [`TODAY`], panicking on a structural error.
pub fn read(lines: &[&str]) -> MrzReading {
    read_mrz(&joined(lines), TODAY).unwrap()
}

/// Returns `text` with the character at 0-based `index` replaced.
pub fn replace_at(text: &str, index: usize, replacement: char) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if i == index { replacement } else { c })
        .collect()
}

fn pad(value: &str, length: usize) -> String {
    assert!(value.len() <= length, "{value} longer than {length}");
    format!("{value:<<length$}")
}

fn cd(field: &str) -> char {
    check_digit(field).unwrap()
}

/// The fields of a TD3 passport; [`Td3::render`] computes every check digit.
#[derive(Debug, Clone)]
pub struct Td3 {
    pub issuing_state: &'static str,
    pub names: &'static str,
    pub document_number: &'static str,
    pub nationality: &'static str,
    pub birth: &'static str,
    pub sex: char,
    pub expiry: &'static str,
    pub personal_number: &'static str,
}

impl Td3 {
    /// The part 4 specimen's fields.
    pub fn specimen() -> Self {
        Self {
            issuing_state: "UTO",
            names: "ERIKSSON<<ANNA<MARIA",
            document_number: "L898902C3",
            nationality: "UTO",
            birth: "740812",
            sex: 'F',
            expiry: "120415",
            personal_number: "ZE184226B",
        }
    }

    /// Both lines, with correct check digits.
    pub fn render(&self) -> [String; 2] {
        let line1 = pad(
            &format!("P<{}{}", pad(self.issuing_state, 3), self.names),
            44,
        );
        let number = pad(self.document_number, 9);
        let personal = pad(self.personal_number, 14);
        let number_part = format!("{number}{}", cd(&number));
        let birth_part = format!("{}{}", self.birth, cd(self.birth));
        let expiry_part = format!("{}{}", self.expiry, cd(self.expiry));
        let personal_part = format!("{personal}{}", cd(&personal));
        let composite = cd(&format!(
            "{number_part}{birth_part}{expiry_part}{personal_part}"
        ));
        let line2 = format!(
            "{number_part}{}{birth_part}{}{expiry_part}{personal_part}{composite}",
            pad(self.nationality, 3),
            self.sex
        );
        assert_eq!(line2.len(), 44);
        [line1, line2]
    }

    /// Renders and reads against [`TODAY`].
    pub fn read(&self) -> MrzReading {
        let [line1, line2] = self.render();
        read(&[&line1, &line2])
    }
}
