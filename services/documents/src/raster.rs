//! Greyscale rasters and the small pixel operations the document pipeline needs: conversion
//! from RGB, bilinear sampling, box means through an integral image, percentiles.
//!
//! Everything works on `image::GrayImage` (one byte per pixel), which keeps a 40-megapixel
//! upload at 40 MB instead of 160 MB as floats.

use image::{GrayImage, RgbImage};

/// Rec. 601 luma of an RGB image.
pub fn to_gray(rgb: &RgbImage) -> GrayImage {
    // Integer weights (per mille) over the raw buffer: a per-pixel float conversion through
    // `get_pixel` took 17 ms on a 1.9-megapixel photo, most of a document's decode-to-OCR time.
    let luma: Vec<u8> = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let sum = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
            ((sum + 500) / 1000) as u8
        })
        .collect();
    GrayImage::from_raw(rgb.width(), rgb.height(), luma)
        .unwrap_or_else(|| GrayImage::new(rgb.width(), rgb.height()))
}

/// Bilinear sample at sub-pixel `(x, y)`; positions outside the image repeat the edge.
pub fn sample(gray: &GrayImage, x: f32, y: f32) -> f32 {
    let max_x = gray.width().saturating_sub(1) as f32;
    let max_y = gray.height().saturating_sub(1) as f32;
    let x = x.clamp(0.0, max_x);
    let y = y.clamp(0.0, max_y);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let x1 = (x0 + 1).min(gray.width() - 1);
    let y1 = (y0 + 1).min(gray.height() - 1);
    let at = |px: u32, py: u32| f32::from(gray.get_pixel(px, py).0[0]);
    let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
    let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Summed-area table for constant-time box means.
pub struct Integral {
    width: usize,
    height: usize,
    sums: Vec<u64>,
}

impl Integral {
    /// Builds the table for `gray`.
    pub fn new(gray: &GrayImage) -> Self {
        let (width, height) = (gray.width() as usize, gray.height() as usize);
        let mut sums = vec![0_u64; (width + 1) * (height + 1)];
        let raw = gray.as_raw();
        for y in 0..height {
            let mut row = 0_u64;
            for x in 0..width {
                row += u64::from(raw[y * width + x]);
                sums[(y + 1) * (width + 1) + x + 1] = sums[y * (width + 1) + x + 1] + row;
            }
        }
        Self {
            width,
            height,
            sums,
        }
    }

    /// Mean over the box of half-size `radius` around `(x, y)`, clipped to the image.
    pub fn box_mean(&self, x: usize, y: usize, radius: usize) -> f32 {
        let x0 = x.saturating_sub(radius);
        let y0 = y.saturating_sub(radius);
        let x1 = (x + radius + 1).min(self.width);
        let y1 = (y + radius + 1).min(self.height);
        let stride = self.width + 1;
        let total = self.sums[y1 * stride + x1] + self.sums[y0 * stride + x0]
            - self.sums[y0 * stride + x1]
            - self.sums[y1 * stride + x0];
        let area = ((x1 - x0) * (y1 - y0)).max(1);
        total as f32 / area as f32
    }
}

/// The value below which `fraction` of `values` lie (nearest rank); 0 for no values.
pub fn percentile(values: &mut [f32], fraction: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f32::total_cmp);
    let index = ((values.len() - 1) as f32 * fraction.clamp(0.0, 1.0)).round() as usize;
    values[index]
}

/// Median of `values` (0 for none).
pub fn median(values: &mut [f32]) -> f32 {
    percentile(values, 0.5)
}
