//! Separable image resampling for the face pipeline's two resizes, written for its hot path.
//!
//! - [`resample_into_planes`]: the detector input; scales an RGB image and writes B, G, R `f32`
//!   planes straight into a tensor (no intermediate image).
//! - [`resample_rgb`]: upscaling a small document portrait before alignment.
//!
//! Both run the same two passes with precomputed taps ([`FilterTaps`]): first vertically over whole
//! interleaved rows (a multiply-add over contiguous memory, which the compiler vectorises), then
//! horizontally over the already reduced rows. The filter's support widens with the reduction
//! factor when scaling down, so every source pixel contributes (no aliasing); scaling up keeps
//! the kernel's own support. [`Kernel::Triangle`] is bilinear interpolation (and an area-like
//! average when reducing), [`Kernel::CatmullRom`] the bicubic filter with a = -0.5.
//!
//! The generic `image::imageops::resize` did the same work 5-10x slower: it converts every
//! pixel through a generic accumulator for each tap (BENCHMARKS.md, "where a compare's time
//! goes").

use image::RgbImage;

/// Interpolation kernel of a resampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Linear (tent) kernel, support 1.
    Triangle,
    /// Catmull-Rom cubic (a = -0.5), support 2.
    CatmullRom,
}

impl Kernel {
    /// Half-width of the kernel at unit scale.
    fn support(self) -> f64 {
        match self {
            Kernel::Triangle => 1.0,
            Kernel::CatmullRom => 2.0,
        }
    }

    /// Kernel weight at distance `x` (in unit-scale samples).
    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Kernel::Triangle => (1.0 - x).max(0.0),
            Kernel::CatmullRom => {
                if x < 1.0 {
                    1.5 * x * x * x - 2.5 * x * x + 1.0
                } else if x < 2.0 {
                    -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// Taps of a separable resampling: every output sample reads `taps` consecutive source samples
/// from its `first` index, with zero weights padding the shorter ones, so the inner loops have
/// one fixed length.
#[derive(Debug, Clone)]
struct FilterTaps {
    /// Samples read per output sample.
    taps: usize,
    /// First source index of each output sample.
    first: Vec<usize>,
    /// `taps` normalised weights per output sample.
    weights: Vec<f32>,
}

impl FilterTaps {
    /// Weights of output sample `index`.
    fn weights_of(&self, index: usize) -> &[f32] {
        &self.weights[index * self.taps..(index + 1) * self.taps]
    }
}

/// Taps mapping `source` samples onto `target` samples, pixel centres aligned.
fn filter_taps(source: usize, target: usize, kernel: Kernel) -> FilterTaps {
    let ratio = source as f64 / target as f64;
    // Reducing: stretch the kernel over `ratio` source samples so each one is averaged in.
    let stretch = ratio.max(1.0);
    let radius = kernel.support() * stretch;
    let spans: Vec<(usize, Vec<f32>)> = (0..target)
        .map(|index| {
            let centre = (index as f64 + 0.5) * ratio - 0.5;
            let first = ((centre - radius).floor() + 1.0).max(0.0) as usize;
            let last = (((centre + radius).ceil() - 1.0).max(0.0) as usize).min(source - 1);
            let first = first.min(last);
            let mut weights: Vec<f32> = (first..=last)
                .map(|tap| kernel.weight((tap as f64 - centre) / stretch) as f32)
                .collect();
            let total: f32 = weights.iter().sum();
            if total.abs() > f32::EPSILON {
                weights.iter_mut().for_each(|weight| *weight /= total);
            } else {
                // Cannot happen for these kernels; nearest sample rather than black.
                weights = vec![1.0];
            }
            (first, weights)
        })
        .collect();
    let taps = spans
        .iter()
        .map(|(_, weights)| weights.len())
        .max()
        .unwrap_or(1)
        .min(source);
    let mut first = Vec::with_capacity(target);
    let mut weights = vec![0.0f32; target * taps];
    for (index, (start, span)) in spans.into_iter().enumerate() {
        // Near the right edge, start earlier and pad the front with zero weights.
        let start_padded = start.min(source - taps);
        let offset = start - start_padded;
        weights[index * taps + offset..index * taps + offset + span.len()].copy_from_slice(&span);
        first.push(start_padded);
    }
    FilterTaps {
        taps,
        first,
        weights,
    }
}

/// Vertical pass: `image` rows filtered to `rows.first.len()` interleaved `f32` rows.
fn vertical_pass(image: &RgbImage, rows: &FilterTaps) -> Vec<f32> {
    let row_values = image.width() as usize * 3;
    let raw = image.as_raw();
    let mut out = vec![0.0f32; rows.first.len() * row_values];
    for (index, out_row) in out.chunks_exact_mut(row_values).enumerate() {
        for (offset, &weight) in rows.weights_of(index).iter().enumerate() {
            if weight == 0.0 {
                continue;
            }
            let start = (rows.first[index] + offset) * row_values;
            let source = &raw[start..start + row_values];
            for (value, &sample) in out_row.iter_mut().zip(source) {
                *value += weight * f32::from(sample);
            }
        }
    }
    out
}

/// Horizontal filter of one interleaved RGB `f32` row at output column `index`.
fn horizontal_sample(row: &[f32], columns: &FilterTaps, index: usize) -> [f32; 3] {
    let mut sums = [0.0f32; 3];
    let start = columns.first[index] * 3;
    let pixels = &row[start..start + columns.taps * 3];
    for (weight, pixel) in columns.weights_of(index).iter().zip(pixels.chunks_exact(3)) {
        sums[0] += weight * pixel[0];
        sums[1] += weight * pixel[1];
        sums[2] += weight * pixel[2];
    }
    sums
}

/// Scales `image` to `width` x `height` and writes its R, G, B values into the top-left of the
/// given planes (`planes[0]` gets red), whose rows are `row_length` values long.
///
/// # Panics
/// When a plane is shorter than `height` rows of `row_length`, or `row_length < width`.
pub fn resample_into_planes(
    image: &RgbImage,
    (width, height): (usize, usize),
    kernel: Kernel,
    planes: &mut [&mut [f32]; 3],
    row_length: usize,
) {
    if image.width() == 0 || image.height() == 0 || width == 0 || height == 0 {
        return;
    }
    let rows = filter_taps(image.height() as usize, height, kernel);
    let columns = filter_taps(image.width() as usize, width, kernel);
    let vertical = vertical_pass(image, &rows);
    let row_values = image.width() as usize * 3;
    for (y, row) in vertical.chunks_exact(row_values).enumerate() {
        let start = y * row_length;
        for x in 0..width {
            let [red, green, blue] = horizontal_sample(row, &columns, x);
            planes[0][start + x] = red;
            planes[1][start + x] = green;
            planes[2][start + x] = blue;
        }
    }
}

/// `image` scaled to `width` x `height` (values rounded and clamped to 0..=255).
pub fn resample_rgb(image: &RgbImage, width: u32, height: u32, kernel: Kernel) -> RgbImage {
    if image.width() == 0 || image.height() == 0 || width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let rows = filter_taps(image.height() as usize, height as usize, kernel);
    let columns = filter_taps(image.width() as usize, width as usize, kernel);
    let vertical = vertical_pass(image, &rows);
    let row_values = image.width() as usize * 3;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for row in vertical.chunks_exact(row_values) {
        for x in 0..width as usize {
            for value in horizontal_sample(row, &columns, x) {
                out.push(value.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            Rgb([
                (x * 3 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn taps_are_normalised_and_stay_inside_the_source() {
        for (source, target) in [(899, 640), (1280, 640), (10, 3), (204, 398), (5, 17)] {
            for kernel in [Kernel::Triangle, Kernel::CatmullRom] {
                let taps = filter_taps(source, target, kernel);
                assert_eq!(taps.first.len(), target);
                for index in 0..target {
                    let total: f32 = taps.weights_of(index).iter().sum();
                    assert!(
                        (total - 1.0).abs() < 1e-5,
                        "{source}->{target}: sum {total}"
                    );
                    assert!(taps.first[index] + taps.taps <= source);
                }
            }
        }
    }

    #[test]
    fn same_size_resampling_is_the_identity() {
        let image = gradient(37, 23);
        for kernel in [Kernel::Triangle, Kernel::CatmullRom] {
            assert_eq!(resample_rgb(&image, 37, 23, kernel), image);
        }
    }

    #[test]
    fn agrees_with_the_image_crate_filters() {
        // The same filters as image::imageops::resize (Triangle, CatmullRom): results within
        // rounding of each other, down and up.
        let image = gradient(120, 90);
        for (width, height, ours, theirs) in [
            (
                80,
                60,
                Kernel::Triangle,
                image::imageops::FilterType::Triangle,
            ),
            (
                233,
                171,
                Kernel::CatmullRom,
                image::imageops::FilterType::CatmullRom,
            ),
        ] {
            let fast = resample_rgb(&image, width, height, ours);
            let reference = image::imageops::resize(&image, width, height, theirs);
            let mean_difference = fast
                .as_raw()
                .iter()
                .zip(reference.as_raw())
                .map(|(a, b)| f64::from(a.abs_diff(*b)))
                .sum::<f64>()
                / fast.as_raw().len() as f64;
            assert!(
                mean_difference < 1.0,
                "{ours:?}: mean difference {mean_difference}"
            );
        }
    }

    #[test]
    fn planes_receive_red_green_blue_at_the_row_length() {
        let image = RgbImage::from_pixel(8, 4, Rgb([10, 20, 30]));
        let (mut red, mut green, mut blue) = (vec![0.0; 32], vec![0.0; 32], vec![0.0; 32]);
        {
            let mut planes = [
                red.as_mut_slice(),
                green.as_mut_slice(),
                blue.as_mut_slice(),
            ];
            resample_into_planes(&image, (4, 2), Kernel::Triangle, &mut planes, 8);
        }
        for row in 0..2 {
            for column in 0..8 {
                let index = row * 8 + column;
                let expected = if column < 4 {
                    [10.0, 20.0, 30.0]
                } else {
                    [0.0; 3]
                };
                let got = [red[index], green[index], blue[index]];
                for (value, want) in got.iter().zip(expected) {
                    assert!((value - want).abs() < 1e-4, "({column}, {row}): {got:?}");
                }
            }
        }
        assert!(red[16..].iter().all(|value| *value == 0.0));
    }
}
