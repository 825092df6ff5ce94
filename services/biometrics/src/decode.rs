//! Safe decoding of untrusted image uploads into RGB pixels.
//!
//! [`decode_image`] runs the checks in order of cost: empty body, byte size, format allow-list
//! by magic bytes (JPEG, PNG, WebP), declared dimensions read from the header *before* any
//! pixel data is decoded (so decompression bombs are rejected cheaply), a JPEG end-of-image
//! check (the JPEG decoder silently fills truncated scans), then the full decode with
//! `image::Limits` set, and finally the EXIF orientation is applied. The result is a
//! [`DecodedImage`], which can only be built through [`decode_image`].

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::BiometricsError;

/// Bytes per pixel the decoder may allocate at most (16-bit RGBA), used for the allocation limit.
const MAX_DECODER_BYTES_PER_PIXEL: u64 = 8;
/// Extra allocation headroom for decoder state beyond the pixel buffer.
const DECODER_ALLOCATION_HEADROOM: u64 = 16 * 1024 * 1024;

/// Limits applied to every untrusted image before and during decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum size of the encoded image in bytes.
    pub max_bytes: usize,
    /// Maximum number of pixels (width x height) declared by the header.
    pub max_pixels: u64,
    /// Maximum width or height in pixels.
    pub max_dimension: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_dimension: 12_000,
        }
    }
}

/// An upright RGB8 image that passed every decode check.
#[derive(Clone)]
pub struct DecodedImage {
    rgb: RgbImage,
}

/// Shows only the size: pixels of a face photo are biometric data and must not reach logs.
impl std::fmt::Debug for DecodedImage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DecodedImage")
            .field("width", &self.width())
            .field("height", &self.height())
            .finish_non_exhaustive()
    }
}

impl DecodedImage {
    /// Width in pixels (after EXIF orientation).
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    /// Height in pixels (after EXIF orientation).
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// Row-major RGB8 pixel bytes, `width * height * 3` long.
    pub fn pixels(&self) -> &[u8] {
        self.rgb.as_raw()
    }

    /// The pixels as an `image` crate buffer.
    pub fn as_rgb_image(&self) -> &RgbImage {
        &self.rgb
    }

    /// Wraps pixels this crate derived from an already-decoded image (e.g. an upscaled
    /// portrait); untrusted bytes must go through [`decode_image`].
    pub(crate) fn from_derived_pixels(rgb: RgbImage) -> Self {
        Self { rgb }
    }
}

/// Decodes untrusted bytes into an upright RGB image, enforcing `limits`.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, BiometricsError> {
    if bytes.is_empty() {
        return Err(BiometricsError::EmptyImage);
    }
    if bytes.len() > limits.max_bytes {
        return Err(BiometricsError::ImageTooLarge {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes).ok_or(BiometricsError::UnsupportedFormat)?;

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(header_reading_limits());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;

    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end_of_image_after_scan(bytes) {
        return Err(BiometricsError::CorruptImage(
            "JPEG is truncated: no end-of-image marker after the image data".to_owned(),
        ));
    }

    decoder
        .set_limits(decoding_limits(limits))
        .map_err(|error| limit_or_corrupt(error, width, height, limits))?;
    // A broken EXIF block should not reject an otherwise valid photo: treat it as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|error| limit_or_corrupt(error, width, height, limits))?;
    image.apply_orientation(orientation);

    Ok(DecodedImage {
        rgb: image.into_rgb8(),
    })
}

/// Identifies an allowed format from its magic bytes; anything else is `None`.
fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Limits for reading only the header: no dimension limits, a modest allocation budget.
fn header_reading_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(DECODER_ALLOCATION_HEADROOM * 4);
    limits
}

/// Limits handed to the decoder for the full decode.
fn decoding_limits(limits: &DecodeLimits) -> Limits {
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    decoder_limits.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(MAX_DECODER_BYTES_PER_PIXEL)
            .saturating_add(DECODER_ALLOCATION_HEADROOM),
    );
    decoder_limits
}

/// Rejects zero-sized images and images whose header exceeds the pixel or side limits.
fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), BiometricsError> {
    if width == 0 || height == 0 {
        return Err(BiometricsError::CorruptImage(format!(
            "image header declares an empty {width}x{height} image"
        )));
    }
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(BiometricsError::TooManyPixels {
            width,
            height,
            limit: u64::from(limits.max_dimension),
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(BiometricsError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// True when an end-of-image marker (FF D9) follows the first start-of-scan marker (FF DA).
///
/// Inside entropy-coded data a literal 0xFF is always followed by 0x00 or a restart marker,
/// so FF D9 after the scan start really is the end of the image.
fn jpeg_has_end_of_image_after_scan(bytes: &[u8]) -> bool {
    let Some(scan_start) = bytes.windows(2).position(|pair| pair == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[scan_start..]
        .windows(2)
        .any(|pair| pair == [0xFF, 0xD9])
}

/// Maps a decoder limit error to [`BiometricsError::TooManyPixels`], anything else to corrupt.
fn limit_or_corrupt(
    error: image::ImageError,
    width: u32,
    height: u32,
    limits: &DecodeLimits,
) -> BiometricsError {
    match error {
        image::ImageError::Limits(_) => BiometricsError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        },
        other => corrupt(other),
    }
}

/// Wraps a decoder error as [`BiometricsError::CorruptImage`].
fn corrupt(error: image::ImageError) -> BiometricsError {
    BiometricsError::CorruptImage(error.to_string())
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgb, codecs::jpeg::JpegEncoder};

    use crate::testing::{encode_png, png_claiming_dimensions};

    use super::*;

    fn two_colour_image(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, _| {
            if x < width / 2 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        })
    }

    fn encode_jpeg(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 95)
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    /// Inserts an EXIF APP1 segment carrying `orientation` right after the JPEG SOI marker.
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = b"MM\x00\x2A\x00\x00\x00\x08".to_vec(); // big-endian, IFD0 at offset 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation tag
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]); // value padding
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut payload = b"Exif\x00\x00".to_vec();
        payload.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn decodes_png_and_jpeg() {
        let image = two_colour_image(32, 16);
        for bytes in [encode_png(&image), encode_jpeg(&image)] {
            let decoded = decode_image(&bytes, &DecodeLimits::default()).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (32, 16));
            assert_eq!(decoded.pixels().len(), 32 * 16 * 3);
        }
    }

    #[test]
    fn rejects_empty_bytes() {
        let result = decode_image(&[], &DecodeLimits::default());
        assert!(matches!(result, Err(BiometricsError::EmptyImage)));
    }

    #[test]
    fn rejects_non_image_bytes() {
        let result = decode_image(b"%PDF-1.7 definitely not a face", &DecodeLimits::default());
        assert!(matches!(result, Err(BiometricsError::UnsupportedFormat)));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        let result = decode_image(gif, &DecodeLimits::default());
        assert!(matches!(result, Err(BiometricsError::UnsupportedFormat)));
    }

    #[test]
    fn rejects_oversized_bytes_before_looking_at_them() {
        let limits = DecodeLimits {
            max_bytes: 100,
            ..DecodeLimits::default()
        };
        let result = decode_image(&[0u8; 101], &limits);
        assert!(matches!(
            result,
            Err(BiometricsError::ImageTooLarge {
                bytes: 101,
                limit: 100
            })
        ));
    }

    #[test]
    fn rejects_truncated_jpeg() {
        // A noisy image so the entropy-coded scan is long enough to cut at several places.
        let noisy = RgbImage::from_fn(128, 128, |x, y| {
            Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, (x ^ y) as u8])
        });
        let jpeg = encode_jpeg(&noisy);
        for cut in [
            jpeg.len() / 3,
            jpeg.len() * 2 / 3,
            jpeg.len() - 40,
            jpeg.len() - 2,
        ] {
            let result = decode_image(&jpeg[..cut], &DecodeLimits::default());
            assert!(
                matches!(result, Err(BiometricsError::CorruptImage(_))),
                "cut at {cut} of {}: {result:?}",
                jpeg.len()
            );
        }
    }

    #[test]
    fn rejects_truncated_png() {
        let png = encode_png(&two_colour_image(64, 64));
        let truncated = &png[..png.len() / 2];
        let result = decode_image(truncated, &DecodeLimits::default());
        assert!(
            matches!(result, Err(BiometricsError::CorruptImage(_))),
            "{result:?}"
        );
    }

    #[test]
    fn rejects_decompression_bomb_from_header() {
        let bomb = png_claiming_dimensions(100_000, 100_000);
        assert!(bomb.len() < 100);
        let result = decode_image(&bomb, &DecodeLimits::default());
        assert!(
            matches!(
                result,
                Err(BiometricsError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn rejects_too_many_pixels_within_side_limit() {
        let bomb = png_claiming_dimensions(10_000, 10_000);
        let result = decode_image(&bomb, &DecodeLimits::default());
        assert!(
            matches!(
                result,
                Err(BiometricsError::TooManyPixels {
                    limit: 40_000_000,
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn applies_exif_orientation() {
        // Left half red, right half blue; orientation 6 means "rotate 90 degrees clockwise".
        let jpeg = encode_jpeg(&two_colour_image(64, 32));
        let rotated = with_exif_orientation(&jpeg, 6);
        let decoded = decode_image(&rotated, &DecodeLimits::default()).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (32, 64));
        let rgb = decoded.as_rgb_image();
        let top = rgb.get_pixel(16, 8);
        let bottom = rgb.get_pixel(16, 56);
        assert!(top[0] > 200 && top[2] < 60, "top should be red: {top:?}");
        assert!(
            bottom[2] > 200 && bottom[0] < 60,
            "bottom should be blue: {bottom:?}"
        );
    }

    #[test]
    fn sniffs_webp_magic() {
        assert_eq!(
            sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 "),
            Some(ImageFormat::WebP)
        );
        assert_eq!(sniff_format(b"RIFF\x00\x00\x00\x00WAVE"), None);
    }
}
