//! Identity-document checks for simgate's document step.
//!
//! For now this crate holds only the text layer of the machine-readable zone (MRZ): turning
//! two or three lines of OCR output into validated fields per ICAO Doc 9303. Image decoding,
//! document localisation and OCR come later and will feed [`mrz::read_mrz`]. Like every domain
//! crate it knows nothing of HTTP or SQL, and never reads the clock: functions that depend on
//! the date take `today` from the caller.
//!
//! - [`mrz`]: MRZ input validation, format detection, field parsing, check digits, OCR
//!   correction and the resulting [`mrz::MrzReading`].
//! - [`error`]: [`DocumentError`], the crate's single error type.

pub mod error;
pub mod mrz;

pub use error::DocumentError;
pub use mrz::{MrzFormat, MrzReading, MrzText, read_mrz};
