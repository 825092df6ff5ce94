//! The manifest: one record per JSONL line or CSV row, streamed, never loaded whole.
//!
//! A record names one reference face (a document image, a portrait image, or a stored
//! verification whose portrait template is in the database) and one or more selfies:
//!
//! ```json
//! {"id": "r1", "document_image": "docs/r1.jpg", "selfie_image": "selfies/r1.jpg", "label": "genuine"}
//! {"id": "r2", "portrait_image": "p/r2.png", "selfie_images": ["s/r2a.jpg", "s/r2b.jpg"]}
//! {"id": "r3", "verification_id": "ver_...", "selfie_image": "s/r3.jpg", "msisdn": "+230..."}
//! ```
//!
//! CSV has a header with the same column names; `selfie_images` holds several paths separated by
//! `|`. Paths are relative to the manifest's folder unless absolute or a URI (`s3://...`).
//! `label` (`genuine` or `impostor`) is optional ground truth for the report's score histogram.
//! `msisdn` is accepted for the operator's bookkeeping and never copied to the results.
//!
//! Every non-blank line or row gets a sequence number (`seq`, from 0) whether or not it parses:
//! sharding, ordering and resuming all count in `seq`. A line that is not a valid record becomes
//! a [`ManifestEntry`] whose `record` is an error message, and then a result line with the reason
//! `record_invalid`. JSONL lines longer than [`MAX_LINE_BYTES`] are invalid records too, skipped
//! without being held in memory.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::ReverifyError;

/// Longest accepted JSONL line; a record is a few paths, so anything longer is garbage.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Most selfies one record may name.
pub const MAX_SELFIES: usize = 10;

/// The manifest's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one record per row.
    Csv,
}

impl ManifestFormat {
    /// The format a file name implies: `.jsonl`/`.ndjson`/`.json` or `.csv`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// Parses `jsonl` or `csv`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// Ground truth for one record, when the operator has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// The selfie shows the reference's holder.
    Genuine,
    /// The selfie shows someone else.
    Impostor,
}

/// Where an image is: a local file or a URI for another [`crate::source::ImageSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// A file on the local file system (already resolved against the manifest's folder).
    File(PathBuf),
    /// `scheme://rest`, e.g. `s3://bucket/key`.
    Uri {
        /// The scheme, lower case.
        scheme: String,
        /// Everything after `://`.
        rest: String,
    },
}

impl ImageLocation {
    /// Resolves a manifest path: a URI stays a URI, a relative path is taken from `base_dir`.
    pub fn resolve(raw: &str, base_dir: &Path) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("an image path is empty".to_owned());
        }
        if raw.contains('\0') {
            return Err("an image path holds a NUL byte".to_owned());
        }
        if let Some((scheme, rest)) = raw.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Ok(Self::Uri {
                scheme: scheme.to_ascii_lowercase(),
                rest: rest.to_owned(),
            });
        }
        let path = Path::new(raw);
        Ok(Self::File(if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }))
    }
}

/// What the selfies are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSource {
    /// The largest face on an identity-document image.
    DocumentImage(ImageLocation),
    /// A portrait image (already cropped, or any image whose largest face is the holder).
    PortraitImage(ImageLocation),
    /// The portrait template a stored verification kept.
    StoredVerification(String),
}

impl ReferenceSource {
    /// `document_image`, `portrait_image` or `verification_id`, as in the manifest.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DocumentImage(_) => "document_image",
            Self::PortraitImage(_) => "portrait_image",
            Self::StoredVerification(_) => "verification_id",
        }
    }
}

/// One valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    /// The operator's id for the record.
    pub id: String,
    /// The face the selfies must match.
    pub reference: ReferenceSource,
    /// The selfies (1..=[`MAX_SELFIES`]); none for a stored verification re-scored from its
    /// stored score.
    pub selfies: Vec<ImageLocation>,
    /// Ground truth, when given.
    pub label: Option<Label>,
}

/// One line or row of the manifest, valid or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Position among the manifest's non-blank lines or rows, from 0.
    pub seq: u64,
    /// The record's id when one could be read, even from an otherwise invalid line.
    pub id: Option<String>,
    /// The record, or why the line is not one.
    pub record: Result<ManifestRecord, String>,
}

/// The fields as they appear on the wire (JSONL and CSV share them).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    document_image: Option<String>,
    #[serde(default)]
    portrait_image: Option<String>,
    #[serde(default)]
    verification_id: Option<String>,
    #[serde(default)]
    selfie_image: Option<String>,
    #[serde(default)]
    selfie_images: Option<SelfieList>,
    #[serde(default)]
    msisdn: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// `selfie_images`: a JSON array, or (CSV) one string of `|`-separated paths.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SelfieList {
    List(Vec<String>),
    Joined(String),
}

impl RawRecord {
    /// Validates the raw fields into a record.
    fn into_record(self, base_dir: &Path) -> Result<ManifestRecord, String> {
        let id = non_empty(self.id).ok_or("the record has no id")?;
        if id.len() > 200 || id.chars().any(char::is_control) {
            return Err("the id is longer than 200 characters or holds control characters".into());
        }
        let references = [
            non_empty(self.document_image).map(|raw| ("document_image", raw)),
            non_empty(self.portrait_image).map(|raw| ("portrait_image", raw)),
            non_empty(self.verification_id).map(|raw| ("verification_id", raw)),
        ];
        let mut given = references.into_iter().flatten();
        let (kind, raw_reference) = given.next().ok_or(
            "the record names no reference (document_image, portrait_image or verification_id)",
        )?;
        if let Some((other, _)) = given.next() {
            return Err(format!(
                "the record names two references ({kind} and {other}); give exactly one"
            ));
        }
        let reference = match kind {
            "document_image" => {
                ReferenceSource::DocumentImage(ImageLocation::resolve(&raw_reference, base_dir)?)
            }
            "portrait_image" => {
                ReferenceSource::PortraitImage(ImageLocation::resolve(&raw_reference, base_dir)?)
            }
            _ => ReferenceSource::StoredVerification(raw_reference),
        };
        let mut raw_selfies: Vec<String> = non_empty(self.selfie_image).into_iter().collect();
        match self.selfie_images {
            Some(SelfieList::List(list)) => raw_selfies.extend(list),
            Some(SelfieList::Joined(joined)) => raw_selfies.extend(
                joined
                    .split('|')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned),
            ),
            None => {}
        }
        // A stored verification without selfies is re-scored from its stored score (a
        // threshold change); every other reference needs a selfie to compare with.
        if raw_selfies.is_empty() && !matches!(reference, ReferenceSource::StoredVerification(_)) {
            return Err("the record names no selfie (selfie_image or selfie_images)".into());
        }
        if raw_selfies.len() > MAX_SELFIES {
            return Err(format!(
                "the record names {} selfies; at most {MAX_SELFIES} are accepted",
                raw_selfies.len()
            ));
        }
        let selfies = raw_selfies
            .iter()
            .map(|raw| ImageLocation::resolve(raw, base_dir))
            .collect::<Result<Vec<_>, _>>()?;
        let label = match non_empty(self.label).as_deref() {
            None => None,
            Some("genuine") => Some(Label::Genuine),
            Some("impostor") => Some(Label::Impostor),
            Some(other) => return Err(format!("label {other:?} is not genuine or impostor")),
        };
        // The MSISDN is the operator's bookkeeping; it is validated only as "not absurd" and
        // dropped here so it cannot reach the results.
        if let Some(msisdn) = self.msisdn
            && msisdn.len() > 32
        {
            return Err("msisdn is longer than 32 characters".into());
        }
        Ok(ManifestRecord {
            id,
            reference,
            selfies,
            label,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

/// Streams the entries of a manifest file.
pub struct ManifestReader {
    base_dir: PathBuf,
    next_seq: u64,
    inner: Inner,
}

enum Inner {
    Jsonl {
        reader: BufReader<File>,
        line: Vec<u8>,
    },
    Csv(Box<csv::Reader<File>>),
}

impl std::fmt::Debug for ManifestReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestReader")
            .field("base_dir", &self.base_dir)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl ManifestReader {
    /// Opens `path`; the format is `format`, else the one its extension implies.
    pub fn open(path: &Path, format: Option<ManifestFormat>) -> Result<Self, ReverifyError> {
        let format = format
            .or_else(|| ManifestFormat::from_path(path))
            .ok_or_else(|| ReverifyError::Manifest {
                path: path.to_path_buf(),
                reason: "unknown format: name it .jsonl or .csv, or pass --format".into(),
            })?;
        let file = File::open(path).map_err(|e| ReverifyError::io("opening", path, e))?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let inner = match format {
            ManifestFormat::Jsonl => Inner::Jsonl {
                reader: BufReader::with_capacity(64 * 1024, file),
                line: Vec::new(),
            },
            ManifestFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(file);
                let headers = reader.headers().map_err(|e| ReverifyError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!("the CSV header cannot be read: {e}"),
                })?;
                if !headers.iter().any(|h| h == "id") {
                    return Err(ReverifyError::Manifest {
                        path: path.to_path_buf(),
                        reason: "the CSV header has no `id` column".into(),
                    });
                }
                Inner::Csv(Box::new(reader))
            }
        };
        Ok(Self {
            base_dir,
            next_seq: 0,
            inner,
        })
    }

    /// The next entry, `None` at the end; `Err` only when the file itself cannot be read.
    pub fn next_entry(&mut self) -> Result<Option<ManifestEntry>, std::io::Error> {
        let parsed = match &mut self.inner {
            Inner::Jsonl { reader, line } => loop {
                match read_bounded_line(reader, line, MAX_LINE_BYTES)? {
                    None => return Ok(None),
                    Some(LineRead::TooLong) => {
                        break (
                            None,
                            Err(format!("the line is longer than {MAX_LINE_BYTES} bytes")),
                        );
                    }
                    Some(LineRead::Complete) => {
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        break parse_json_line(line, &self.base_dir);
                    }
                }
            },
            Inner::Csv(reader) => {
                let mut row = csv::StringRecord::new();
                loop {
                    match reader.read_record(&mut row) {
                        Ok(false) => return Ok(None),
                        Ok(true) if row.iter().all(|field| field.is_empty()) => {}
                        Ok(true) => {
                            let headers = reader.headers().map_err(std::io::Error::other)?.clone();
                            break parse_csv_row(&headers, &row, &self.base_dir);
                        }
                        Err(error) if error.is_io_error() => {
                            return Err(std::io::Error::other(error));
                        }
                        Err(error) => {
                            break (None, Err(format!("the CSV row is malformed: {error}")));
                        }
                    }
                }
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let (id, record) = parsed;
        Ok(Some(ManifestEntry { seq, id, record }))
    }
}

impl Iterator for ManifestReader {
    type Item = Result<ManifestEntry, std::io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

type Parsed = (Option<String>, Result<ManifestRecord, String>);

fn parse_json_line(line: &[u8], base_dir: &Path) -> Parsed {
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(error) => return (None, Err(format!("the line is not JSON: {error}"))),
    };
    let id = value
        .get("id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let record = serde_json::from_value::<RawRecord>(value)
        .map_err(|error| format!("the line is not a record: {error}"))
        .and_then(|raw| raw.into_record(base_dir));
    (id, record)
}

fn parse_csv_row(headers: &csv::StringRecord, row: &csv::StringRecord, base_dir: &Path) -> Parsed {
    let id = headers
        .iter()
        .position(|h| h == "id")
        .and_then(|index| row.get(index))
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let record = row
        .deserialize::<RawRecord>(Some(headers))
        .map_err(|error| format!("the row is not a record: {error}"))
        .and_then(|raw| raw.into_record(base_dir));
    (id, record)
}

enum LineRead {
    Complete,
    TooLong,
}

/// Reads one line into `line` (without the newline), or skips it when longer than `max`.
fn read_bounded_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> Result<Option<LineRead>, std::io::Error> {
    line.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(read_any.then_some(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Complete
            }));
        }
        read_any = true;
        let (chunk, found_newline) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], true),
            None => (buffer, false),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Complete
            }));
        }
    }
}

/// SHA-256 of the manifest file, streamed: identifies the manifest a run was started on.
pub fn manifest_sha256(path: &Path) -> Result<String, ReverifyError> {
    let mut file = File::open(path).map_err(|e| ReverifyError::io("opening", path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|e| ReverifyError::io("reading", path, e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write as _;

    use super::*;

    fn entries(name: &str, content: &str) -> Vec<ManifestEntry> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        ManifestReader::open(&path, None)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn jsonl_records_resolve_paths_and_bad_lines_keep_their_place() {
        let content = concat!(
            r#"{"id":"a","document_image":"docs/a.jpg","selfie_image":"s/a.jpg","label":"genuine"}"#,
            "\n\n",
            "not json\n",
            r#"{"id":"c","portrait_image":"/abs/p.png","selfie_images":["s1.jpg","s3://b/k.jpg"]}"#,
            "\n",
            r#"{"id":"d","selfie_image":"s.jpg"}"#,
            "\n",
            r#"{"id":"e","verification_id":"ver_1","selfie_image":"s.jpg","msisdn":"+23057000000"}"#,
        );
        let entries = entries("m.jsonl", content);
        assert_eq!(entries.len(), 5, "blank lines are skipped, bad ones kept");
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let first = entries[0].record.as_ref().unwrap();
        assert!(matches!(&first.reference,
            ReferenceSource::DocumentImage(ImageLocation::File(p)) if p.ends_with("docs/a.jpg") && p.is_absolute()));
        assert_eq!(first.label, Some(Label::Genuine));
        assert!(entries[1].record.is_err() && entries[1].id.is_none());
        let third = entries[2].record.as_ref().unwrap();
        assert_eq!(
            third.selfies[1],
            ImageLocation::Uri {
                scheme: "s3".into(),
                rest: "b/k.jpg".into()
            }
        );
        assert_eq!(entries[3].id.as_deref(), Some("d"));
        assert!(
            entries[3]
                .record
                .as_ref()
                .unwrap_err()
                .contains("no reference")
        );
        assert!(matches!(
            &entries[4].record.as_ref().unwrap().reference,
            ReferenceSource::StoredVerification(id) if id == "ver_1"
        ));
    }

    #[test]
    fn csv_rows_share_the_jsonl_fields() {
        let content = "id,portrait_image,selfie_images,label\n\
                       r1,p.jpg,a.jpg|b.jpg,impostor\n\
                       r2,,a.jpg,\n";
        let entries = entries("m.csv", content);
        assert_eq!(entries.len(), 2);
        let first = entries[0].record.as_ref().unwrap();
        assert_eq!(first.selfies.len(), 2);
        assert_eq!(first.label, Some(Label::Impostor));
        assert!(entries[1].record.is_err());
        assert_eq!(entries[1].id.as_deref(), Some("r2"));
    }

    #[test]
    fn an_overlong_line_is_one_invalid_entry() {
        let long = format!("{{\"id\":\"{}\"}}\n", "x".repeat(MAX_LINE_BYTES + 10));
        let content = format!(
            "{long}{}\n",
            r#"{"id":"ok","portrait_image":"p.jpg","selfie_image":"s.jpg"}"#
        );
        let entries = entries("m.jsonl", &content);
        assert_eq!(entries.len(), 2);
        assert!(
            entries[0]
                .record
                .as_ref()
                .unwrap_err()
                .contains("longer than")
        );
        assert!(entries[1].record.is_ok());
    }
}
