//! Identity-document checks for simgate's document step.
//!
//! Like every domain crate it knows nothing of HTTP or SQL, and never reads the clock:
//! functions that depend on the date take `today` from the caller.
//!
//! **Entry point:** [`check_document`]`(&DocumentInput { image, back, mrz_text }, &policy,
//! &dyn FaceEngine, today) -> Result<DocumentCheck, DocumentError>`. It decodes the uploads
//! safely, finds and reads the MRZ (OCR-B network OCR, perspective-tolerant location, check-digit
//! guided correction), validates it per ICAO 9303, applies the [`DocumentPolicy`] (channel
//! document types, expiry grace, minimum age, issuer lists), measures capture quality and crops
//! the portrait for the face matcher ([`DocumentCheck::portrait_image`], never serialised).
//! Only unusable input is an error; findings are [`DocumentReason`] codes.
//!
//! - [`check`]: the entry point and the result types.
//! - [`decode`]: document upload limits over the biometrics crate's safe decoder.
//! - [`policy`]: channels, document types and the policy rules.
//! - [`quality`]: capture-quality measurements and reason codes.
//! - [`reader`]: from a photo to an MRZ reading.
//! - [`mrz`]: MRZ input validation, format detection, field parsing, check digits, OCR
//!   correction and the resulting [`mrz::MrzReading`].
//! - [`raster`], [`components`]: greyscale helpers and ink segmentation.
//! - [`locate`]: finding MRZ lines and character cells in a photo at any rotation.
//! - [`perspective`]: the homography from an MRZ's character grid to the image.
//! - [`ocr`]: the OCR-B character classifier, a small network trained on OCR-B renders
//!   (`ocr_training`, feature `testing`).
//! - [`error`]: [`DocumentError`], the crate's single error type.
//! - `testing` (feature `testing`): OCR-B rendering, synthetic documents;
//!   `ocr_training` (same feature): training the OCR network.

pub mod check;
pub mod components;
pub mod decode;
pub mod error;
pub mod locate;
pub mod mrz;
pub mod ocr;
#[cfg(feature = "testing")]
pub mod ocr_training;
pub mod perspective;
pub mod policy;
pub mod quality;
pub mod raster;
pub mod reader;
#[cfg(feature = "testing")]
pub mod testing;

pub use check::{DocumentCheck, DocumentInput, DocumentReason, check_document};
pub use error::DocumentError;
pub use mrz::{MrzFormat, MrzReading, MrzText, read_mrz};
pub use policy::{Channel, DocumentPolicy, DocumentType};
