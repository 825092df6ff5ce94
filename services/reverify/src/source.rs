//! Where record images come from: the [`ImageSource`] trait, the local file system
//! ([`LocalFiles`]), and [`SchemeRouter`], which sends each URI scheme to its source.
//!
//! Sources enforce the byte limit while reading, so a huge file costs at most `max_bytes + 1`
//! bytes of memory before it is refused. Errors carry a stable reason code for the results.

use std::{collections::BTreeMap, io::Read as _, sync::Arc};

use crate::manifest::ImageLocation;

/// Why an image could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Nothing at that location.
    #[error("not found")]
    NotFound,
    /// Larger than the decode limit.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No source is configured for the URI scheme.
    #[error("no image source for {0}:// URIs is configured")]
    UnsupportedScheme(String),
    /// Reading failed.
    #[error("read failed: {0}")]
    Read(String),
}

impl SourceError {
    /// Reason-code suffix for result lines (`image_missing`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "image_missing",
            Self::TooLarge { .. } => "image_too_large",
            Self::UnsupportedScheme(_) => "image_source_unsupported",
            Self::Read(_) => "image_unreadable",
        }
    }
}

/// Fetches the bytes of one image.
pub trait ImageSource: Send + Sync {
    /// The image's encoded bytes, at most `max_bytes` of them.
    fn fetch(&self, location: &ImageLocation, max_bytes: usize) -> Result<Vec<u8>, SourceError>;
}

/// Files on the local file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFiles;

impl ImageSource for LocalFiles {
    fn fetch(&self, location: &ImageLocation, max_bytes: usize) -> Result<Vec<u8>, SourceError> {
        let ImageLocation::File(path) = location else {
            return Err(SourceError::UnsupportedScheme(match location {
                ImageLocation::Uri { scheme, .. } => scheme.clone(),
                ImageLocation::File(_) => String::new(),
            }));
        };
        let file = std::fs::File::open(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound,
            _ => SourceError::Read(error.kind().to_string()),
        })?;
        let mut bytes = Vec::new();
        file.take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| SourceError::Read(error.kind().to_string()))?;
        if bytes.len() > max_bytes {
            return Err(SourceError::TooLarge { limit: max_bytes });
        }
        Ok(bytes)
    }
}

/// Local files plus one source per URI scheme (an object store client registers `s3` here).
#[derive(Clone, Default)]
pub struct SchemeRouter {
    files: LocalFiles,
    schemes: BTreeMap<String, Arc<dyn ImageSource>>,
}

impl std::fmt::Debug for SchemeRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemeRouter")
            .field("schemes", &self.schemes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchemeRouter {
    /// Local files only.
    pub fn local_only() -> Self {
        Self::default()
    }

    /// Serves `scheme://` URIs from `source`.
    pub fn with_scheme(mut self, scheme: &str, source: Arc<dyn ImageSource>) -> Self {
        self.schemes.insert(scheme.to_ascii_lowercase(), source);
        self
    }
}

impl ImageSource for SchemeRouter {
    fn fetch(&self, location: &ImageLocation, max_bytes: usize) -> Result<Vec<u8>, SourceError> {
        match location {
            ImageLocation::File(_) => self.files.fetch(location, max_bytes),
            ImageLocation::Uri { scheme, .. } => self
                .schemes
                .get(scheme)
                .ok_or_else(|| SourceError::UnsupportedScheme(scheme.clone()))?
                .fetch(location, max_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn local_files_enforce_the_limit_and_report_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        std::fs::write(&path, vec![7u8; 100]).unwrap();
        let router = SchemeRouter::local_only();
        let file = ImageLocation::File(path);
        assert_eq!(router.fetch(&file, 100).unwrap().len(), 100);
        assert_eq!(
            router.fetch(&file, 99),
            Err(SourceError::TooLarge { limit: 99 })
        );
        let missing = ImageLocation::File(dir.path().join("nope.jpg"));
        assert_eq!(router.fetch(&missing, 10), Err(SourceError::NotFound));
        let s3 = ImageLocation::Uri {
            scheme: "s3".into(),
            rest: "bucket/key".into(),
        };
        assert_eq!(
            router.fetch(&s3, 10).unwrap_err().code(),
            "image_source_unsupported"
        );
    }
}
