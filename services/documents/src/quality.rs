//! Capture quality: is the photo good enough to trust what was read from it?
//!
//! Measurements are taken where they matter and in units that do not depend on the camera:
//! sharpness and exposure inside the MRZ band (edge steepness over a step of 1/12 of the
//! character height, relative to the band's ink/paper contrast), glare as clipped highlights
//! over the MRZ and the portrait, and the document's outline inferred from the MRZ geometry
//! (ICAO 9303 fixes where the MRZ sits on each format, in character pitches) for cut-off and
//! too-small checks.

use image::GrayImage;
use serde::Serialize;

use crate::check::DocumentReason;
use crate::locate::LocatedMrz;
use crate::raster::{percentile, sample};

/// Thresholds behind the quality reason codes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct QualityThresholds {
    /// Smallest MRZ character height in pixels that reads reliably.
    pub min_char_height: f32,
    /// Smallest image side in pixels when no MRZ is found.
    pub min_image_side: u32,
    /// Smallest edge sharpness (0..1) in the MRZ band.
    pub min_sharpness: f32,
    /// Largest fraction of clipped pixels over the MRZ or portrait.
    pub max_glare_fraction: f32,
    /// Darkest acceptable paper level (0..255) in the MRZ band.
    pub min_paper_level: f32,
    /// Brightest acceptable ink level (0..255) in the MRZ band.
    pub max_ink_level: f32,
    /// Smallest fraction of the image the document must cover.
    pub min_document_fraction: f32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_char_height: 8.0,
            min_image_side: 300,
            min_sharpness: 0.25,
            max_glare_fraction: 0.03,
            min_paper_level: 70.0,
            max_ink_level: 150.0,
            min_document_fraction: 0.15,
        }
    }
}

/// What was measured on one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// Image width after EXIF orientation.
    pub width: u32,
    /// Image height after EXIF orientation.
    pub height: u32,
    /// MRZ character height in pixels, when an MRZ was found.
    pub char_height: Option<f32>,
    /// Edge sharpness in the MRZ band (0..1; sharp print is above 0.4).
    pub sharpness: Option<f32>,
    /// Paper brightness in the MRZ band (0..255).
    pub paper_level: Option<f32>,
    /// Ink brightness in the MRZ band (0..255).
    pub ink_level: Option<f32>,
    /// Fraction of clipped highlight pixels over the MRZ and portrait.
    pub glare_fraction: f32,
    /// Fraction of the image the document covers, when its outline could be inferred.
    pub document_fraction: Option<f32>,
    /// Whether the inferred outline crosses the image border.
    pub cut_off: bool,
    /// Reason codes raised by these measurements.
    pub reasons: Vec<DocumentReason>,
}

/// The document's size in character pitches and the MRZ's position in it, per line length:
/// (document width, document height, gap from the MRZ's bottom to the document's bottom).
fn document_geometry(line_length: usize) -> (f32, f32, f32) {
    match line_length {
        30 => (85.6 / 2.54, 54.0 / 2.54, 0.6),
        36 => (105.0 / 2.54, 74.0 / 2.54, 0.6),
        _ => (125.0 / 2.54, 88.0 / 2.54, 0.6),
    }
}

/// The document outline (four corners) inferred from the MRZ.
pub fn document_outline(mrz: &LocatedMrz) -> [(f32, f32); 4] {
    let [top_left, top_right, bottom_right, bottom_left] = mrz.corners;
    let (doc_width, doc_height, bottom_gap) = document_geometry(mrz.line_length());
    let along = (
        (top_right.0 - top_left.0) / mrz.line_length() as f32,
        (top_right.1 - top_left.1) / mrz.line_length() as f32,
    );
    let pitch = along.0.hypot(along.1).max(1e-3);
    let unit = (along.0 / pitch, along.1 / pitch);
    let up = (unit.1, -unit.0);
    let mrz_width = mrz.line_length() as f32;
    let margin = (doc_width - mrz_width) / 2.0;
    let bottom_mid = (
        (bottom_left.0 + bottom_right.0) / 2.0,
        (bottom_left.1 + bottom_right.1) / 2.0,
    );
    let point = |a: f32, u: f32| {
        (
            bottom_mid.0 + (a * unit.0 + u * up.0) * pitch,
            bottom_mid.1 + (a * unit.1 + u * up.1) * pitch,
        )
    };
    let half = mrz_width / 2.0 + margin;
    [
        point(-half, doc_height - bottom_gap),
        point(half, doc_height - bottom_gap),
        point(half, -bottom_gap),
        point(-half, -bottom_gap),
    ]
}

fn polygon_area(points: &[(f32, f32); 4]) -> f32 {
    let mut twice = 0.0;
    for i in 0..4 {
        let (a, b) = (points[i], points[(i + 1) % 4]);
        twice += a.0 * b.1 - b.0 * a.1;
    }
    twice.abs() / 2.0
}

/// Samples the MRZ band on a grid in its own frame: (value, value one step ahead, one behind).
fn band_samples(gray: &GrayImage, mrz: &LocatedMrz) -> Vec<(f32, f32)> {
    let step = (mrz.char_height / 12.0).max(1.0);
    let mut out = Vec::new();
    for line in &mrz.lines {
        let (dx, dy) = line.direction;
        let (nx, ny) = (-dy, dx);
        for cell in &line.cells {
            let mut u = -mrz.pitch / 2.0;
            while u < mrz.pitch / 2.0 {
                let mut v = -0.6 * mrz.char_height;
                while v <= 0.6 * mrz.char_height {
                    let (x, y) = (cell.x + u * dx + v * nx, cell.y + u * dy + v * ny);
                    let value = sample(gray, x, y);
                    let ahead = sample(gray, x + step * dx, y + step * dy);
                    let behind = sample(gray, x - step * dx, y - step * dy);
                    let above = sample(gray, x + step * nx, y + step * ny);
                    let below = sample(gray, x - step * nx, y - step * ny);
                    let gradient = ((ahead - behind).abs()).max((above - below).abs());
                    out.push((value, gradient));
                    v += step;
                }
                u += step;
            }
        }
    }
    out
}

fn clipped_fraction(gray: &GrayImage, region: &[(f32, f32)], paper: f32) -> f32 {
    // A scan's paper can itself be white; highlights only count when clearly above the paper.
    if paper >= 235.0 || region.is_empty() {
        return 0.0;
    }
    let clipped = region
        .iter()
        .filter(|&&(x, y)| sample(gray, x, y) >= 250.0)
        .count();
    clipped as f32 / region.len() as f32
}

/// Fraction of the image covered by large saturated blobs that do not touch its border: a
/// specular highlight on the document. A scan's white margin or background touches the border
/// and does not count.
fn enclosed_highlight_fraction(gray: &GrayImage) -> f32 {
    let (width, height) = (gray.width() as usize, gray.height() as usize);
    let mask: Vec<bool> = gray.as_raw().iter().map(|&v| v >= 250).collect();
    let area = (width * height).max(1) as f32;
    crate::components::components(&mask, width, height)
        .into_iter()
        .filter(|c| {
            c.min_x > 0
                && c.min_y > 0
                && (c.max_x as usize) + 1 < width
                && (c.max_y as usize) + 1 < height
                && c.pixels as f32 >= 0.002 * area
        })
        .map(|c| c.pixels as f32 / area)
        .sum()
}

/// Measures `gray` given the MRZ found in it (if any) and the portrait box (x, y, w, h).
pub fn assess(
    gray: &GrayImage,
    mrz: Option<&LocatedMrz>,
    zones_found: usize,
    portrait: Option<(f32, f32, f32, f32)>,
    thresholds: &QualityThresholds,
) -> QualityReport {
    let (width, height) = (gray.width(), gray.height());
    let mut report = QualityReport {
        width,
        height,
        char_height: None,
        sharpness: None,
        paper_level: None,
        ink_level: None,
        glare_fraction: 0.0,
        document_fraction: None,
        cut_off: false,
        reasons: Vec::new(),
    };
    let Some(mrz) = mrz else {
        if width.min(height) < thresholds.min_image_side {
            report.reasons.push(DocumentReason::ResolutionTooLow);
        }
        let mut values: Vec<f32> = gray
            .as_raw()
            .iter()
            .step_by(7)
            .map(|&v| f32::from(v))
            .collect();
        let median = percentile(&mut values, 0.5);
        // Without an MRZ the highlight may be why: say so, or the retake hint misses it.
        report.glare_fraction = enclosed_highlight_fraction(gray);
        if report.glare_fraction > thresholds.max_glare_fraction / 3.0 {
            report.reasons.push(DocumentReason::Glare);
        }
        if median < thresholds.min_paper_level / 2.0 {
            report.reasons.push(DocumentReason::TooDark);
        } else if percentile(&mut values, 0.05) > 230.0 {
            report.reasons.push(DocumentReason::TooBright);
        }
        return report;
    };
    report.char_height = Some(mrz.char_height);
    if mrz.char_height < thresholds.min_char_height {
        report.reasons.push(DocumentReason::ResolutionTooLow);
    }
    let samples = band_samples(gray, mrz);
    let mut values: Vec<f32> = samples.iter().map(|s| s.0).collect();
    let mut gradients: Vec<f32> = samples.iter().map(|s| s.1).collect();
    let ink = percentile(&mut values, 0.05);
    let paper = percentile(&mut values, 0.9);
    let contrast = (paper - ink).max(1.0);
    let sharpness = percentile(&mut gradients, 0.97) / contrast;
    report.sharpness = Some(sharpness);
    report.paper_level = Some(paper);
    report.ink_level = Some(ink);
    if paper < thresholds.min_paper_level {
        report.reasons.push(DocumentReason::TooDark);
    } else if ink > thresholds.max_ink_level {
        report.reasons.push(DocumentReason::TooBright);
    }
    if sharpness < thresholds.min_sharpness {
        report.reasons.push(DocumentReason::Blurry);
    }

    let mut glare_points: Vec<(f32, f32)> = Vec::new();
    for line in &mrz.lines {
        glare_points.extend(line.cells.iter().map(|c| (c.x, c.y)));
    }
    let mut glare = clipped_fraction(gray, &glare_points, paper);
    if let Some((x, y, w, h)) = portrait {
        let mut grid = Vec::new();
        for i in 0..16 {
            for j in 0..16 {
                grid.push((
                    x + w * (i as f32 + 0.5) / 16.0,
                    y + h * (j as f32 + 0.5) / 16.0,
                ));
            }
        }
        glare = glare.max(clipped_fraction(gray, &grid, paper));
    }
    report.glare_fraction = glare;
    if glare > thresholds.max_glare_fraction {
        report.reasons.push(DocumentReason::Glare);
    }

    let outline = document_outline(mrz);
    let fraction = polygon_area(&outline) / (width as f32 * height as f32);
    report.document_fraction = Some(fraction);
    let tolerance = 0.03 * mrz.pitch * mrz.line_length() as f32;
    let outside = outline.iter().any(|&(x, y)| {
        x < -tolerance
            || y < -tolerance
            || x > width as f32 + tolerance
            || y > height as f32 + tolerance
    });
    report.cut_off = outside;
    if outside {
        report.reasons.push(DocumentReason::DocumentCutOff);
    } else if fraction < thresholds.min_document_fraction {
        report.reasons.push(DocumentReason::DocumentTooSmall);
    }
    if zones_found > 1 {
        report.reasons.push(DocumentReason::MultipleDocuments);
    }
    report
}
