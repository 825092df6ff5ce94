//! The crate's single error type. Variants describe what was wrong with the input in terms a
//! caller can show to a person; mapping them to transport errors is the caller's job.

/// Everything that can make a document input unusable.
///
/// Field-level problems inside a well-formed MRZ (bad check digit, impossible date, unknown
/// country) are not errors: they are reported per field in [`crate::mrz::MrzReading`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The MRZ text is larger than any plausible OCR output, so it is refused unread.
    #[error("MRZ text is {length} bytes; at most {limit} are accepted")]
    MrzTooLong {
        /// Size of the text received, in bytes.
        length: usize,
        /// The largest size accepted, in bytes.
        limit: usize,
    },
    /// The MRZ text does not have two or three non-blank lines.
    #[error("MRZ has {found} non-blank lines; expected 2 (TD2, TD3, MRV) or 3 (TD1)")]
    MrzLineCount {
        /// Number of non-blank lines found.
        found: usize,
    },
    /// A character outside `A-Z`, `0-9` and `<` appears inside an MRZ line.
    #[error(
        "MRZ line {line}, column {column}: character {found:?} is not allowed (only A-Z, 0-9 and '<')"
    )]
    MrzIllegalCharacter {
        /// 1-based MRZ line (blank lines are not counted).
        line: usize,
        /// 1-based column after surrounding whitespace is removed.
        column: usize,
        /// The offending character.
        found: char,
    },
    /// A line's length matches no ICAO 9303 format for the number of lines given.
    #[error("MRZ line {line} has {found} characters; expected {expected}")]
    MrzLineLength {
        /// 1-based MRZ line.
        line: usize,
        /// Number of characters in that line.
        found: usize,
        /// The lengths that would have been accepted, in words (e.g. "36 or 44").
        expected: &'static str,
    },
}
