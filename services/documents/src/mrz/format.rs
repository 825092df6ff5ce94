//! The five ICAO 9303 MRZ formats and how to recognise them from line count and length.
//!
//! TD1 (ID cards, 3x30), TD2 (2x36), TD3 (passports, 2x44) and the two machine-readable visa
//! formats, which share TD3's and TD2's sizes and are told apart by a document code starting
//! with `V` (MRV-A 2x44, MRV-B 2x36).

use serde::Serialize;

use super::text::MrzText;
use crate::DocumentError;

/// An MRZ format from ICAO 9303 parts 4 to 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MrzFormat {
    /// Size-1 card: three lines of 30 characters (part 5).
    Td1,
    /// Size-2 document: two lines of 36 characters (part 6).
    Td2,
    /// Passport booklet: two lines of 44 characters (part 4).
    Td3,
    /// Full-size visa: two lines of 44 characters, document code `V…` (part 7).
    MrvA,
    /// Small visa: two lines of 36 characters, document code `V…` (part 7).
    MrvB,
}

impl MrzFormat {
    /// Recognises the format from the number and length of lines and, for the visa formats,
    /// the first character of the document code.
    pub fn detect(text: &MrzText) -> Result<Self, DocumentError> {
        let lines = text.lines();
        let (expected_length, expected_words) = match lines {
            [_, _, _] => (30, "30 (TD1)"),
            [first, _] => match first.len() {
                36 => (36, "36, like line 1"),
                44 => (44, "44, like line 1"),
                found => {
                    return Err(DocumentError::MrzLineLength {
                        line: 1,
                        found,
                        expected: "36 (TD2, MRV-B) or 44 (TD3, MRV-A)",
                    });
                }
            },
            _ => return Err(DocumentError::MrzLineCount { found: lines.len() }),
        };
        if let Some((index, line)) = lines
            .iter()
            .enumerate()
            .find(|(_, line)| line.len() != expected_length)
        {
            return Err(DocumentError::MrzLineLength {
                line: index + 1,
                found: line.len(),
                expected: expected_words,
            });
        }
        let is_visa = lines
            .first()
            .and_then(|line| line.as_bytes().first())
            .is_some_and(|&first| first == b'V');
        Ok(match (lines.len(), expected_length, is_visa) {
            (3, _, _) => MrzFormat::Td1,
            (_, 36, false) => MrzFormat::Td2,
            (_, 36, true) => MrzFormat::MrvB,
            (_, _, false) => MrzFormat::Td3,
            (_, _, true) => MrzFormat::MrvA,
        })
    }

    /// Number of lines in this format.
    pub fn line_count(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            _ => 2,
        }
    }

    /// Number of characters in each line of this format.
    pub fn line_length(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 | MrzFormat::MrvB => 36,
            MrzFormat::Td3 | MrzFormat::MrvA => 44,
        }
    }

    /// Whether the format carries a composite check digit (the visa formats do not).
    pub fn has_composite_check_digit(self) -> bool {
        !matches!(self, MrzFormat::MrvA | MrzFormat::MrvB)
    }

    /// The format's usual name, e.g. `TD3` or `MRV-A`.
    pub fn name(self) -> &'static str {
        match self {
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::Td3 => "TD3",
            MrzFormat::MrvA => "MRV-A",
            MrzFormat::MrvB => "MRV-B",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(lines: &[String]) -> Result<MrzFormat, DocumentError> {
        MrzFormat::detect(&MrzText::parse(&lines.join("\n"))?)
    }

    #[test]
    fn detects_every_format_by_shape_and_visa_code() {
        let line = |first: &str, length: usize| format!("{first}{}", "<".repeat(length - 1));
        assert_eq!(
            detect(&[line("I", 30), line("<", 30), line("<", 30)]).unwrap(),
            MrzFormat::Td1
        );
        assert_eq!(
            detect(&[line("I", 36), line("<", 36)]).unwrap(),
            MrzFormat::Td2
        );
        assert_eq!(
            detect(&[line("P", 44), line("<", 44)]).unwrap(),
            MrzFormat::Td3
        );
        assert_eq!(
            detect(&[line("V", 44), line("<", 44)]).unwrap(),
            MrzFormat::MrvA
        );
        assert_eq!(
            detect(&[line("V", 36), line("<", 36)]).unwrap(),
            MrzFormat::MrvB
        );
    }

    #[test]
    fn wrong_lengths_name_the_line() {
        let short = "<".repeat(43);
        let long = "<".repeat(44);
        assert_eq!(
            detect(&[long.clone(), short]).unwrap_err(),
            DocumentError::MrzLineLength {
                line: 2,
                found: 43,
                expected: "44, like line 1"
            }
        );
        assert!(matches!(
            detect(&["<".repeat(40), long]).unwrap_err(),
            DocumentError::MrzLineLength {
                line: 1,
                found: 40,
                ..
            }
        ));
        assert!(matches!(
            detect(&["<".repeat(30), "<".repeat(30), "<".repeat(31)]).unwrap_err(),
            DocumentError::MrzLineLength {
                line: 3,
                found: 31,
                ..
            }
        ));
    }
}
