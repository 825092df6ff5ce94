//! The machine-readable zone (MRZ) text layer, per ICAO Doc 9303 parts 3–7.
//!
//! Input is OCR text; output is an [`MrzReading`]. The pipeline, one submodule per step:
//! - [`text`](mod@text): untrusted text → [`MrzText`] (2–3 lines of `A-Z0-9<`), or a
//!   [`DocumentError`].
//! - [`format`](mod@format): line count and length (and a `V` document code) → [`MrzFormat`].
//! - [`correction`](mod@correction): OCR lookalike repair by character class and by
//!   check-digit search.
//! - [`check_digit`](mod@check_digit): the 7-3-1 check digit.
//! - [`dates`](mod@dates): `YYMMDD` with century inference against the caller's `today`.
//! - [`countries`](mod@countries): ISO 3166-1 alpha-3 and ICAO special state codes.
//! - [`fields`](mod@fields): field names, reason codes and small value types.
//! - [`reading`](mod@reading): field positions per format and the reading itself.
//!
//! Only malformed input is an error. A well-formed MRZ always yields a reading, and every
//! field problem (check digit, date, country) is reported on that field, because callers
//! need the partial result to explain a refusal.

pub mod check_digit;
pub mod correction;
pub mod countries;
pub mod dates;
pub mod fields;
pub mod format;
pub mod reading;
pub mod text;

pub use check_digit::check_digit;
pub use correction::{Correction, CorrectionMethod};
pub use countries::StateCodeKind;
pub use dates::MrzDate;
pub use fields::{
    CompositeCheck, FieldValidity, HolderNames, MrzField, ReasonCode, Sex, StateCode,
};
pub use format::MrzFormat;
pub use reading::{MrzReading, read_mrz_text};
pub use text::{MrzLine, MrzText};

use time::Date;

use crate::DocumentError;

/// Reads OCR text as an MRZ: validates the text, detects the format, corrects OCR lookalikes
/// where that is unambiguous, and checks every field. `today` anchors century inference
/// (pass the caller's clock, never the system time directly).
pub fn read_mrz(text: &str, today: Date) -> Result<MrzReading, DocumentError> {
    read_mrz_text(&MrzText::parse(text)?, today)
}
