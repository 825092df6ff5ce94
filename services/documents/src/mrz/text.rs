//! Untrusted MRZ text becomes validated lines here, at the edge.
//!
//! [`MrzText::parse`] normalises what OCR tends to add (surrounding whitespace, blank lines,
//! lowercase) and rejects anything else, so everything downstream can index lines as bytes
//! knowing they hold only `A-Z`, `0-9` and `<`. Layout (line count and lengths) is checked
//! later by [`crate::mrz::format`], because the allowed lengths depend on the format.

use std::{fmt, str::FromStr};

use crate::DocumentError;

/// Largest MRZ text accepted: three 44-character lines plus generous whitespace. Anything
/// bigger is not an MRZ, and refusing it early bounds the work done on hostile input.
pub const MAX_MRZ_TEXT_BYTES: usize = 4096;

/// One MRZ line: non-empty, uppercase, only `A-Z`, `0-9` and `<`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MrzLine(String);

impl MrzLine {
    /// Validates one line; `line_number` (1-based) only labels errors. Surrounding whitespace
    /// is removed and lowercase letters are uppercased.
    pub fn parse(raw: &str, line_number: usize) -> Result<Self, DocumentError> {
        let mut normalised = String::with_capacity(raw.len());
        for (index, character) in raw.trim().chars().enumerate() {
            let upper = character.to_ascii_uppercase();
            if !is_mrz_character(upper) {
                return Err(DocumentError::MrzIllegalCharacter {
                    line: line_number,
                    column: index + 1,
                    found: character,
                });
            }
            normalised.push(upper);
        }
        Ok(Self(normalised))
    }

    /// The line as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The line as ASCII bytes (every character is ASCII by construction).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Number of characters in the line.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the line has no characters (never true for lines from [`MrzText::parse`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for MrzLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Two or three validated MRZ lines, in reading order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MrzText {
    lines: Vec<MrzLine>,
}

impl MrzText {
    /// Parses OCR output: blank lines are skipped, then there must be 2 or 3 lines made only of
    /// MRZ characters. Line lengths are not checked here (see [`crate::mrz::MrzFormat::detect`]).
    pub fn parse(raw: &str) -> Result<Self, DocumentError> {
        if raw.len() > MAX_MRZ_TEXT_BYTES {
            return Err(DocumentError::MrzTooLong {
                length: raw.len(),
                limit: MAX_MRZ_TEXT_BYTES,
            });
        }
        let non_blank: Vec<&str> = raw.lines().filter(|l| !l.trim().is_empty()).collect();
        // Count before characters: with the wrong number of lines, a character error deep in
        // some line would distract from the real problem.
        if !(2..=3).contains(&non_blank.len()) {
            return Err(DocumentError::MrzLineCount {
                found: non_blank.len(),
            });
        }
        let lines = non_blank
            .iter()
            .enumerate()
            .map(|(index, line)| MrzLine::parse(line, index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { lines })
    }

    /// The lines, in reading order.
    pub fn lines(&self) -> &[MrzLine] {
        &self.lines
    }
}

impl FromStr for MrzText {
    type Err = DocumentError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for MrzText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, line) in self.lines.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            f.write_str(line.as_str())?;
        }
        Ok(())
    }
}

/// Whether `character` belongs to the MRZ alphabet (`A-Z`, `0-9`, `<`).
pub fn is_mrz_character(character: char) -> bool {
    character.is_ascii_uppercase() || character.is_ascii_digit() || character == '<'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_skips_blank_lines_and_uppercases() {
        let text = MrzText::parse("\n  p<uto  \r\n\n\t l898<<\n\n").unwrap();
        let lines: Vec<&str> = text.lines().iter().map(MrzLine::as_str).collect();
        assert_eq!(lines, ["P<UTO", "L898<<"]);
    }

    #[test]
    fn illegal_character_names_line_and_column() {
        let error = MrzText::parse("P<UTO\n\n  AB C").unwrap_err();
        assert_eq!(
            error,
            DocumentError::MrzIllegalCharacter {
                line: 2,
                column: 3,
                found: ' '
            }
        );
    }

    #[test]
    fn wrong_line_counts_are_rejected() {
        assert_eq!(
            MrzText::parse("").unwrap_err(),
            DocumentError::MrzLineCount { found: 0 }
        );
        assert_eq!(
            MrzText::parse("A\nB\nC\nD").unwrap_err(),
            DocumentError::MrzLineCount { found: 4 }
        );
    }

    #[test]
    fn oversized_text_is_refused_unread() {
        let huge = "<".repeat(MAX_MRZ_TEXT_BYTES + 1);
        assert!(matches!(
            MrzText::parse(&huge),
            Err(DocumentError::MrzTooLong { .. })
        ));
    }
}
