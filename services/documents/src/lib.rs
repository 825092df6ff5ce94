//! Identity-document checks for simgate's document step.
//!
//! Like every domain crate it knows nothing of HTTP or SQL, and never reads the clock:
//! functions that depend on the date take `today` from the caller.
//!
//! - [`mrz`]: MRZ input validation, format detection, field parsing, check digits, OCR
//!   correction and the resulting [`mrz::MrzReading`].
//! - [`raster`], [`components`]: greyscale helpers and ink segmentation.
//! - [`locate`]: finding MRZ lines and character cells in a photo at any rotation.
//! - [`ocr`]: the OCR-B template classifier.
//! - [`error`]: [`DocumentError`], the crate's single error type.
//! - `testing` (feature `testing`): OCR-B rendering, template generation, synthetic documents.

pub mod components;
pub mod error;
pub mod locate;
pub mod mrz;
pub mod ocr;
pub mod raster;
pub mod reader;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::DocumentError;
pub use mrz::{MrzFormat, MrzReading, MrzText, read_mrz};
