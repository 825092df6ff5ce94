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
    /// Neither an image nor MRZ text was given.
    #[error("nothing to check: send a document image or MRZ text")]
    NoInput,
    /// The image body was empty.
    #[error("image '{image}' is empty")]
    EmptyImage {
        /// Which input image.
        image: &'static str,
    },
    /// The encoded image is larger than the configured byte limit.
    #[error("image '{image}' is {bytes} bytes, more than the limit of {limit} bytes")]
    ImageTooLarge {
        /// Which input image.
        image: &'static str,
        /// Size of the encoded image in bytes.
        bytes: usize,
        /// Configured maximum in bytes.
        limit: usize,
    },
    /// The image header declares more pixels (or a longer side) than allowed.
    #[error("image '{image}' is {width}x{height} pixels, which exceeds the limit of {limit}")]
    TooManyPixels {
        /// Which input image.
        image: &'static str,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit exceeded (total pixels, or pixels per side).
        limit: u64,
    },
    /// The bytes are not a JPEG, PNG or WebP image.
    #[error("image '{image}' is not JPEG, PNG or WebP")]
    UnsupportedFormat {
        /// Which input image.
        image: &'static str,
    },
    /// The image is truncated or otherwise cannot be decoded.
    #[error("image '{image}' is corrupt or truncated: {detail}")]
    CorruptImage {
        /// Which input image.
        image: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The face engine failed while looking for the portrait.
    #[error("portrait detection failed: {0}")]
    FaceEngine(String),
}
