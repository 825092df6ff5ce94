//! Synthetic captures made from the fixture photos, for tests of this and other crates.
//!
//! - Geometry: [`rotate_about_centre`] (returns the point mapping), [`scale`],
//!   [`flip_horizontal`] (with its mapping [`flipped_x`]).
//! - Bad captures, one per quality reason: [`scale`] down (`face_too_small`),
//!   [`crop_through_face`] (`face_cut_off`), [`blur`] (`blurry`), [`expose`] (`underexposed` /
//!   `overexposed`), [`yaw_squeeze`] (`excessive_yaw`), [`rotate_about_centre`]
//!   (`excessive_roll`), [`cover_eyes`] (`eyes_not_visible`).
//! - Presentation attacks: [`printed_photo`] (halftone screen, reduced dynamic range, warm
//!   paper with texture), [`screen_replay`] (gamma, RGB sub-pixel stripes, moiré, black bezel),
//!   [`document_held_up`] (the portrait on a card, tilted, in front of a wall, re-encoded).
//! - Active-liveness sequences: [`head_turn_frames`] (the face side the head turns towards
//!   compressed progressively — a non-affine warp like a real 3-D turn), [`flat_turn_frames`]
//!   (a photo turned as a whole: uniform horizontal squeeze), [`move_closer_frames`] (zoom),
//!   each frame with a little sensor noise ([`add_noise`]).

use image::{ImageEncoder as _, Rgb, RgbImage, codecs::jpeg::JpegEncoder, imageops::FilterType};

use crate::{
    align::{SimilarityTransform, warp_affine},
    detect::{BoundingBox, Point},
};

/// Rotates by `degrees` (clockwise on screen) onto a canvas large enough for the whole image
/// (black corners); returns the image and the mapping from original to new pixels.
pub fn rotate_about_centre(image: &RgbImage, degrees: f64) -> (RgbImage, SimilarityTransform) {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (width, height) = (f64::from(image.width()), f64::from(image.height()));
    let new_width = (width * cos.abs() + height * sin.abs()).ceil();
    let new_height = (width * sin.abs() + height * cos.abs()).ceil();
    let (cx, cy) = (width / 2.0, height / 2.0);
    let transform = SimilarityTransform {
        a: cos,
        b: sin,
        tx: new_width / 2.0 - (cos * cx - sin * cy),
        ty: new_height / 2.0 - (sin * cx + cos * cy),
    };
    let rotated = warp_affine(image, &transform, new_width as u32, new_height as u32)
        .unwrap_or_else(|| image.clone());
    (rotated, transform)
}

/// Resizes by `factor` (Catmull-Rom up, triangle down).
pub fn scale(image: &RgbImage, factor: f32) -> RgbImage {
    let width = ((image.width() as f32 * factor).round() as u32).max(1);
    let height = ((image.height() as f32 * factor).round() as u32).max(1);
    let filter = if factor > 1.0 {
        FilterType::CatmullRom
    } else {
        FilterType::Triangle
    };
    image::imageops::resize(image, width, height, filter)
}

/// Mirror image.
pub fn flip_horizontal(image: &RgbImage) -> RgbImage {
    image::imageops::flip_horizontal(image)
}

/// Where an x coordinate lands after [`flip_horizontal`] of an image `width` wide.
pub fn flipped_x(x: f32, width: u32) -> f32 {
    width as f32 - x
}

/// Cuts the image so its left edge runs through the face box, keeping `keep` of its width.
pub fn crop_through_face(image: &RgbImage, face: &BoundingBox, keep: f32) -> RgbImage {
    let left = (face.x + face.width * (1.0 - keep)).clamp(0.0, image.width() as f32 - 1.0) as u32;
    image::imageops::crop_imm(image, left, 0, image.width() - left, image.height()).to_image()
}

/// Gaussian blur with standard deviation `sigma` pixels.
pub fn blur(image: &RgbImage, sigma: f32) -> RgbImage {
    image::imageops::blur(image, sigma)
}

/// Every channel mapped through `value * gain + offset` (clamped): gain 0.2 darkens, a gain of
/// 0.25 with offset 200 washes out.
pub fn expose(image: &RgbImage, gain: f32, offset: f32) -> RgbImage {
    map_channels(image, |value| value * gain + offset)
}

/// Compresses everything right of `pivot_x` horizontally by `factor` (< 1): the foreshortening
/// of the face side a head turns towards (towards image right: the subject's left).
pub fn yaw_squeeze(image: &RgbImage, pivot_x: f32, factor: f32) -> RgbImage {
    let pivot = pivot_x.clamp(0.0, image.width() as f32);
    let new_width = (pivot + (image.width() as f32 - pivot) * factor)
        .round()
        .max(1.0) as u32;
    remap_columns(image, new_width, |x| {
        if x < pivot {
            x
        } else {
            pivot + (x - pivot) / factor
        }
    })
}

/// Paints a black bar over both eyes (eye landmarks in YuNet order), `height` eye distances
/// tall and reaching half an eye distance beyond each eye.
pub fn cover_eyes(image: &RgbImage, right_eye: Point, left_eye: Point, height: f32) -> RgbImage {
    let eye_distance = (left_eye.x - right_eye.x).hypot(left_eye.y - right_eye.y);
    let centre_y = (right_eye.y + left_eye.y) / 2.0;
    let (left, right) = (
        right_eye.x.min(left_eye.x) - eye_distance * 0.5,
        right_eye.x.max(left_eye.x) + eye_distance * 0.5,
    );
    let (top, bottom) = (
        centre_y - eye_distance * height / 2.0,
        centre_y + eye_distance * height / 2.0,
    );
    let mut out = image.clone();
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let (x, y) = (x as f32, y as f32);
        if x >= left && x <= right && y >= top && y <= bottom {
            *pixel = Rgb([0, 0, 0]);
        }
    }
    out
}

/// Adds deterministic uniform noise of +-`amplitude` grey levels (a camera sensor's).
pub fn add_noise(image: &RgbImage, seed: u64, amplitude: f32) -> RgbImage {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut out = image.clone();
    for value in out.iter_mut() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let unit = (state >> 40) as f32 / (1u64 << 24) as f32; // 0..1
        *value = (f32::from(*value) + (unit * 2.0 - 1.0) * amplitude)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

/// A printed photograph re-captured: cyan/magenta/yellow-style halftone dot screens (period 4
/// px, per-channel offsets), print softness, reduced dynamic range (black at 40, white at 225),
/// a warm paper tint and low-frequency paper texture.
pub fn printed_photo(image: &RgbImage) -> RgbImage {
    let period = 4.0f32;
    let halftone = RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let source = image.get_pixel(x, y);
        let mut out = [0u8; 3];
        for (channel, value) in out.iter_mut().enumerate() {
            let shift = channel as f32 * 1.3;
            let (u, v) = (
                (x as f32 + shift) % period - period / 2.0,
                (y as f32 + shift * 0.7) % period - period / 2.0,
            );
            let ink = 1.0 - f32::from(source[channel]) / 255.0;
            // Dot area proportional to ink coverage.
            let radius = (ink * period * period / std::f32::consts::PI).sqrt();
            *value = if u.hypot(v) < radius { 0 } else { 255 };
        }
        Rgb(out)
    });
    let soft = image::imageops::blur(&halftone, 1.2);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let texture = 6.0 * ((x as f32 * 0.21).sin() * (y as f32 * 0.17).cos())
            + 3.0 * ((x as f32 * 0.05 + y as f32 * 0.03).sin());
        let tint = [1.0, 0.97, 0.9];
        let pixel = soft.get_pixel(x, y);
        Rgb(std::array::from_fn(|channel| {
            let value = 40.0 + f32::from(pixel[channel]) / 255.0 * 185.0;
            (value * tint[channel] + texture).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// A photo shown on a phone or monitor and re-captured: display gamma, RGB sub-pixel stripes
/// (period 3 px), a moiré pattern from the camera sampling the pixel grid, a blue cast and a
/// black bezel around the screen.
pub fn screen_replay(image: &RgbImage) -> RgbImage {
    let bezel_x = image.width() / 12;
    let bezel_y = image.height() / 12;
    let (sin, cos) = 12f32.to_radians().sin_cos();
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let inside = x >= bezel_x
            && x < image.width() - bezel_x
            && y >= bezel_y
            && y < image.height() - bezel_y;
        if !inside {
            return Rgb([8, 8, 10]);
        }
        let pixel = image.get_pixel(x, y);
        let moire = 1.0
            + 0.12 * (2.0 * std::f32::consts::PI * (x as f32 * cos + y as f32 * sin) / 5.3).sin();
        let cast = [0.92, 0.98, 1.08];
        Rgb(std::array::from_fn(|channel| {
            let lit = (f32::from(pixel[channel]) / 255.0).powf(0.8) * 255.0;
            let stripe = if x as usize % 3 == channel { 1.0 } else { 0.65 };
            (lit * stripe * moire * cast[channel] + 12.0)
                .round()
                .clamp(0.0, 255.0) as u8
        }))
    })
}

/// The portrait held up to a camera on its card: white card margin, scaled by 0.8, tilted 4
/// degrees, in front of a shaded wall, slightly darker, then JPEG-encoded at quality 85.
pub fn document_held_up(portrait: &RgbImage) -> RgbImage {
    let margin = portrait.width() / 10;
    let mut card = RgbImage::from_pixel(
        portrait.width() * 2,
        portrait.height() + 2 * margin,
        Rgb([236, 234, 228]),
    );
    image::imageops::replace(&mut card, portrait, i64::from(margin), i64::from(margin));
    // Printed text lines to the right of the portrait.
    for line in 0..6u32 {
        let top = margin * 2 + line * portrait.height() / 7;
        for y in top..(top + margin / 3).min(card.height()) {
            for x in portrait.width() + 2 * margin..card.width() - margin {
                card.put_pixel(x, y, Rgb([60, 60, 70]));
            }
        }
    }
    let card = scale(&card, 0.8);
    let (tilted, _) = rotate_about_centre(&card, 4.0);
    let mut scene = RgbImage::from_fn(
        tilted.width() + tilted.width() / 3,
        tilted.height() + tilted.height() / 3,
        |x, y| {
            Rgb([
                (150 + (x / 40) % 20) as u8,
                (140 + (y / 50) % 15) as u8,
                120,
            ])
        },
    );
    let (offset_x, offset_y) = (tilted.width() / 6, tilted.height() / 6);
    for (x, y, pixel) in tilted.enumerate_pixels() {
        // The rotation's black corners are not card: keep the wall there.
        if pixel.0 != [0, 0, 0] {
            scene.put_pixel(x + offset_x, y + offset_y, *pixel);
        }
    }
    let darker = expose(&scene, 0.9, 8.0);
    jpeg_round_trip(&darker, 85)
}

/// Frames of a head turning towards image right (the subject's left) by compressing the face
/// side right of `nose_x`: factors 1.0, 0.7, 0.45, 0.25, with sensor noise per frame.
pub fn head_turn_frames(image: &RgbImage, nose_x: f32) -> Vec<RgbImage> {
    [1.0f32, 0.7, 0.45, 0.25]
        .iter()
        .enumerate()
        .map(|(index, factor)| {
            let turned = if *factor < 1.0 {
                yaw_squeeze(image, nose_x, *factor)
            } else {
                image.clone()
            };
            add_noise(&turned, index as u64 + 1, 3.0)
        })
        .collect()
}

/// A flat photo turned about a vertical axis: the whole picture squeezed uniformly (factors
/// 1.0, 0.7, 0.45, 0.25), so the nose stays centred between the eyes.
pub fn flat_turn_frames(image: &RgbImage) -> Vec<RgbImage> {
    [1.0f32, 0.7, 0.45, 0.25]
        .iter()
        .enumerate()
        .map(|(index, factor)| {
            let width = ((image.width() as f32 * factor).round() as u32).max(1);
            let squeezed =
                image::imageops::resize(image, width, image.height(), FilterType::Triangle);
            add_noise(&squeezed, index as u64 + 11, 3.0)
        })
        .collect()
}

/// Frames of a face approaching the camera: centre zooms of 1.0, 1.15, 1.35 at the original
/// size, with sensor noise per frame.
pub fn move_closer_frames(image: &RgbImage, centre: Point) -> Vec<RgbImage> {
    [1.0f32, 1.15, 1.35]
        .iter()
        .enumerate()
        .map(|(index, zoom)| {
            let (width, height) = (image.width() as f32, image.height() as f32);
            let (crop_width, crop_height) = (width / zoom, height / zoom);
            let left = (centre.x - crop_width / 2.0).clamp(0.0, width - crop_width);
            let top = (centre.y - crop_height / 2.0).clamp(0.0, height - crop_height);
            let crop = image::imageops::crop_imm(
                image,
                left as u32,
                top as u32,
                crop_width as u32,
                crop_height as u32,
            )
            .to_image();
            let resized = image::imageops::resize(
                &crop,
                image.width(),
                image.height(),
                FilterType::CatmullRom,
            );
            add_noise(&resized, index as u64 + 21, 3.0)
        })
        .collect()
}

/// Encodes as JPEG at `quality` and decodes again (compression artefacts).
pub fn jpeg_round_trip(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    if let Err(error) = JpegEncoder::new_with_quality(&mut bytes, quality).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    ) {
        panic!("encoding a synthetic JPEG: {error}");
    }
    match image::load_from_memory(&bytes) {
        Ok(decoded) => decoded.to_rgb8(),
        Err(error) => panic!("decoding a synthetic JPEG: {error}"),
    }
}

/// Encodes as JPEG at `quality` (for HTTP tests).
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Err(error) = JpegEncoder::new_with_quality(&mut bytes, quality).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    ) {
        panic!("encoding a synthetic JPEG: {error}");
    }
    bytes
}

fn map_channels(image: &RgbImage, map: impl Fn(f32) -> f32) -> RgbImage {
    let mut out = image.clone();
    for value in out.iter_mut() {
        *value = map(f32::from(*value)).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Builds an image `new_width` wide whose column `x` samples source column `source_x(x)`
/// (linear interpolation between columns).
fn remap_columns(image: &RgbImage, new_width: u32, source_x: impl Fn(f32) -> f32) -> RgbImage {
    let last = image.width().saturating_sub(1);
    RgbImage::from_fn(new_width, image.height(), |x, y| {
        let source = source_x(x as f32).clamp(0.0, last as f32);
        let left = source.floor() as u32;
        let right = (left + 1).min(last);
        let weight = source - left as f32;
        let (a, b) = (image.get_pixel(left, y), image.get_pixel(right, y));
        Rgb(std::array::from_fn(|channel| {
            (f32::from(a[channel]) * (1.0 - weight) + f32::from(b[channel]) * weight).round() as u8
        }))
    })
}
