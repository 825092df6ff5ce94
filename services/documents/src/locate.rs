//! Finding machine-readable zones in a photo, at any rotation.
//!
//! The MRZ is the most regular thing on a document: two or three parallel lines of 30, 36 or
//! 44 equally spaced characters of one height. The locator works on connected ink components
//! (see [`crate::components`]):
//! 1. **Text direction**: every glyph-sized component is linked to its nearest similar
//!    neighbour; the histogram of link angles peaks at the text direction (mod 180 degrees).
//! 2. **Lines**: in that frame (`t` along the text, `rho` across it) components whose centres
//!    share `rho` and follow each other closely are chained into text lines; long ones are
//!    MRZ line candidates, each fitted with a straight centre line (this absorbs rotation and
//!    the mild slant a perspective view gives each line). Component boxes are first corrected
//!    for the rotation, which inflates them.
//! 3. **Zones**: two or three consecutive candidate lines with MRZ spacing, start and length
//!    form a zone; the character count follows from length / pitch and is snapped to the
//!    format sizes.
//! 4. **Grid**: a homography from (column, line) to the image is fitted to the line ends, then
//!    refitted to the glyphs it predicts (outliers dropped; see [`crate::perspective`]). Each
//!    cell gets its glyph's centre (or the fit's), and its local frame from the fit's
//!    derivative: one pitch along, one character height across, sheared as the view shears.
//! 5. **Height**: the character height is measured from the darkness profile across the
//!    lines in those frames, not from ink boxes.
//!
//! Reading direction is ambiguous modulo 180 degrees, so each zone is also returned upside
//! down; the OCR step keeps whichever reads as a valid MRZ.

use image::{GrayImage, imageops};

use crate::components::{Component, components, ink_mask};
use crate::perspective::Homography;
use crate::raster::{median, percentile};

/// Longest side the locator works at; bigger images are downscaled first (geometry is mapped
/// back to full resolution, where the OCR samples).
const LOCATE_MAX_SIDE: u32 = 1600;
/// Ratio of the ink extent of a line to its pitch count is `N - 2 * SIDE_BEARING`.
const SIDE_BEARING: f32 = 0.12;

/// One character cell of a located MRZ line, in full-resolution image coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Centre, horizontal.
    pub x: f32,
    /// Centre, vertical.
    pub y: f32,
    /// One pitch along the text, in reading direction (the local perspective frame).
    pub along: (f32, f32),
    /// One character height from the top of the glyph to its bottom (not always
    /// perpendicular to `along`: a tilted camera shears the glyphs).
    pub across: (f32, f32),
}

/// One located MRZ line.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedLine {
    /// Character cells in reading order.
    pub cells: Vec<Cell>,
    /// Unit vector along the text (reading direction), in image coordinates.
    pub direction: (f32, f32),
}

/// A located MRZ: its lines, character pitch and height, and outline.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedMrz {
    /// The lines, top to bottom in reading orientation.
    pub lines: Vec<LocatedLine>,
    /// Distance between character centres, in pixels.
    pub pitch: f32,
    /// Height of capital letters and digits, in pixels.
    pub char_height: f32,
    /// Corners of the zone's bounding quadrilateral: top-left, top-right, bottom-right,
    /// bottom-left in reading orientation.
    pub corners: [(f32, f32); 4],
    /// Which zone this is among those found (the two reading directions of one zone share it).
    pub zone: usize,
}

impl LocatedMrz {
    /// Characters per line.
    pub fn line_length(&self) -> usize {
        self.lines.first().map_or(0, |line| line.cells.len())
    }

    /// The same zone read the other way round (the photo was upside down).
    pub fn rotated_half_turn(&self) -> Self {
        let lines = self
            .lines
            .iter()
            .rev()
            .map(|line| LocatedLine {
                cells: line
                    .cells
                    .iter()
                    .rev()
                    .map(|cell| Cell {
                        along: (-cell.along.0, -cell.along.1),
                        across: (-cell.across.0, -cell.across.1),
                        ..*cell
                    })
                    .collect(),
                direction: (-line.direction.0, -line.direction.1),
            })
            .collect();
        let [a, b, c, d] = self.corners;
        Self {
            lines,
            corners: [c, d, a, b],
            ..self.clone()
        }
    }
}

/// A component seen in the text frame.
#[derive(Debug, Clone, Copy)]
struct Placed {
    t: f32,
    rho: f32,
    /// Extent along the text.
    along: f32,
    /// Extent across the text.
    across: f32,
}

/// Finds every MRZ-like zone in `gray`, each in both reading directions.
pub fn locate_mrz(gray: &GrayImage) -> Vec<LocatedMrz> {
    let long_side = gray.width().max(gray.height());
    let scale = if long_side > LOCATE_MAX_SIDE {
        LOCATE_MAX_SIDE as f32 / long_side as f32
    } else {
        1.0
    };
    let working;
    let view = if scale < 1.0 {
        working = imageops::resize(
            gray,
            ((gray.width() as f32 * scale).round() as u32).max(1),
            ((gray.height() as f32 * scale).round() as u32).max(1),
            imageops::FilterType::Triangle,
        );
        &working
    } else {
        gray
    };
    let radius = (view.width().max(view.height()) as usize / 40).clamp(7, 50);
    let mask = ink_mask(view, radius);
    let all = components(&mask, view.width() as usize, view.height() as usize);
    let max_height = view.height().min(view.width()) as f32 / 6.0;
    let candidates: Vec<Component> = all
        .into_iter()
        .filter(|c| {
            let h = c.height().max(c.width().min(c.height() * 2.0));
            c.pixels >= 6 && h >= 4.0 && c.height() <= max_height && c.width() <= max_height * 6.0
        })
        .collect();
    let Some(angle) = text_angle(&candidates) else {
        return Vec::new();
    };
    let zones = find_zones(&candidates, angle);
    let mut found = Vec::new();
    for (zone_index, mut zone) in zones.into_iter().enumerate() {
        zone.zone = zone_index;
        let zone = with_measured_height(gray, zone.scaled(1.0 / scale));
        let flipped = zone.rotated_half_turn();
        found.push(zone);
        found.push(flipped);
    }
    found
}

impl LocatedMrz {
    fn scaled(mut self, factor: f32) -> Self {
        for line in &mut self.lines {
            for cell in &mut line.cells {
                cell.x *= factor;
                cell.y *= factor;
                cell.along = (cell.along.0 * factor, cell.along.1 * factor);
                cell.across = (cell.across.0 * factor, cell.across.1 * factor);
            }
        }
        for corner in &mut self.corners {
            corner.0 *= factor;
            corner.1 *= factor;
        }
        self.pitch *= factor;
        self.char_height *= factor;
        self
    }
}

fn is_glyph_like(c: &Component) -> bool {
    let (long, short) = (c.width().max(c.height()), c.width().min(c.height()));
    long >= 5.0 && short >= 0.08 * long && c.pixels as f32 >= 0.12 * long * short
}

/// The dominant text direction in radians, in `[0, pi)`.
fn text_angle(candidates: &[Component]) -> Option<f32> {
    let glyphs: Vec<&Component> = candidates.iter().filter(|c| is_glyph_like(c)).collect();
    if glyphs.len() < 20 {
        return None;
    }
    let size = |c: &Component| c.width().max(c.height());
    let mut sizes: Vec<f32> = glyphs.iter().map(|c| size(c)).collect();
    let bucket = (percentile(&mut sizes, 0.9) * 2.5).max(8.0);
    let mut grid: std::collections::HashMap<(i32, i32), Vec<usize>> = Default::default();
    for (index, c) in glyphs.iter().enumerate() {
        let (x, y) = c.centre();
        grid.entry(((x / bucket) as i32, (y / bucket) as i32))
            .or_default()
            .push(index);
    }
    let mut histogram = [0.0_f32; 180];
    let mut links = Vec::new();
    for (index, c) in glyphs.iter().enumerate() {
        let (x, y) = c.centre();
        let (gx, gy) = ((x / bucket) as i32, (y / bucket) as i32);
        let mut best: Option<(f32, f32, f32)> = None;
        for bx in gx - 1..=gx + 1 {
            for by in gy - 1..=gy + 1 {
                for &other in grid.get(&(bx, by)).map_or(&[][..], |v| v.as_slice()) {
                    if other == index {
                        continue;
                    }
                    let o = glyphs[other];
                    let ratio = size(o) / size(c);
                    if !(0.7..=1.43).contains(&ratio) {
                        continue;
                    }
                    let (ox, oy) = o.centre();
                    let distance = (ox - x).hypot(oy - y);
                    if distance < 0.3 * size(c) || distance > 2.2 * size(c) {
                        continue;
                    }
                    if best.is_none_or(|(d, _, _)| distance < d) {
                        best = Some((distance, ox - x, oy - y));
                    }
                }
            }
        }
        if let Some((_, dx, dy)) = best {
            let degrees = dy.atan2(dx).to_degrees().rem_euclid(180.0);
            histogram[(degrees.round() as usize) % 180] += 1.0;
            links.push(degrees);
        }
    }
    let smoothed: Vec<f32> = (0..180_usize)
        .map(|i| {
            (-2_i32..=2)
                .map(|d| histogram[(i as i32 + d).rem_euclid(180) as usize])
                .sum()
        })
        .collect();
    let peak = (0..180_usize).max_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]))? as f32;
    // Refine with the mean of nearby link angles (unwrapped around the peak).
    let near: Vec<f32> = links
        .iter()
        .map(|&a| {
            let mut diff = a - peak;
            if diff > 90.0 {
                diff -= 180.0;
            } else if diff < -90.0 {
                diff += 180.0;
            }
            diff
        })
        .filter(|diff| diff.abs() <= 4.0)
        .collect();
    let refined = if near.is_empty() {
        peak
    } else {
        peak + near.iter().sum::<f32>() / near.len() as f32
    };
    Some(refined.to_radians())
}

struct Union {
    parent: Vec<usize>,
}

impl Union {
    fn find(&mut self, mut a: usize) -> usize {
        while self.parent[a] != a {
            self.parent[a] = self.parent[self.parent[a]];
            a = self.parent[a];
        }
        a
    }
    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[rb] = ra;
        }
    }
}

/// A candidate MRZ line in the text frame.
#[derive(Debug, Clone)]
struct TextLine {
    members: Vec<Placed>,
    start: f32,
    end: f32,
    /// `rho = intercept + slope * t` through the tall members' centres.
    intercept: f32,
    slope: f32,
    height: f32,
}

impl TextLine {
    fn rho_at(&self, t: f32) -> f32 {
        self.intercept + self.slope * t
    }
    fn middle_rho(&self) -> f32 {
        self.rho_at((self.start + self.end) / 2.0)
    }
}

fn find_zones(candidates: &[Component], angle: f32) -> Vec<LocatedMrz> {
    let (cos, sin) = (angle.cos(), angle.sin());
    // A rotated glyph's image-axis box is bigger than the glyph: for a w x h rectangle at angle
    // theta its box projects to w + s h along the text and h + s w across, s = |sin 2 theta|
    // (at 30 degrees a glyph looked 2.4 pitches long, so no cell snapped to it). Solve for w
    // and h, with s reduced because rounded glyphs grow less than rectangles (0.6 read best; 0.8
    // lost 3 of the 120 test variants) and capped because near 45 degrees the box cannot tell w
    // from h.
    let inflation = (0.6 * (2.0 * angle).sin().abs()).min(0.75);
    let unrotated = |box_along: f32, box_across: f32| {
        let denominator = 1.0 - inflation * inflation;
        (
            ((box_along - inflation * box_across) / denominator).max(1.0),
            ((box_across - inflation * box_along) / denominator).max(1.0),
        )
    };
    let mut placed: Vec<Placed> = candidates
        .iter()
        .map(|c| {
            let (x, y) = c.centre();
            let (along, across) = unrotated(
                (c.width() * cos).abs() + (c.height() * sin).abs(),
                (c.width() * sin).abs() + (c.height() * cos).abs(),
            );
            Placed {
                t: x * cos + y * sin,
                rho: -x * sin + y * cos,
                along,
                across,
            }
        })
        .filter(|p| p.across >= 4.0)
        .collect();
    placed.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut union = Union {
        parent: (0..placed.len()).collect(),
    };
    for (index, a) in placed.iter().enumerate() {
        let mut best: Option<(f32, usize)> = None;
        for (offset, b) in placed[index + 1..].iter().enumerate() {
            let reach = 1.3 * a.across.max(b.across);
            if b.t - b.along / 2.0 > a.t + a.along / 2.0 + reach {
                // Sorted by centre, so a wide later component could still start close; stop
                // only well past any plausible neighbour.
                if b.t - a.t > a.along + 40.0 * a.across {
                    break;
                }
                continue;
            }
            let ratio = b.across / a.across;
            if !(0.35..=2.8).contains(&ratio) {
                continue;
            }
            if (b.rho - a.rho).abs() > 0.3 * a.across.max(b.across) {
                continue;
            }
            let gap = (b.t - b.along / 2.0) - (a.t + a.along / 2.0);
            if best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, index + 1 + offset));
            }
        }
        if let Some((_, other)) = best {
            union.join(index, other);
        }
    }
    let mut chains: std::collections::HashMap<usize, Vec<Placed>> = Default::default();
    for (index, p) in placed.iter().enumerate() {
        chains.entry(union.find(index)).or_default().push(*p);
    }
    let mut lines: Vec<TextLine> = chains
        .into_values()
        .filter(|members| members.len() >= 8)
        .filter_map(fit_line)
        .filter(|line| line.end - line.start >= 14.0 * line.height)
        .collect();
    lines.sort_by(|a, b| a.middle_rho().total_cmp(&b.middle_rho()));

    let mut zones = Vec::new();
    let mut used = vec![false; lines.len()];
    for first in 0..lines.len() {
        if used[first] {
            continue;
        }
        let mut group = vec![first];
        let mut last = first;
        for next in first + 1..lines.len() {
            if used[next] {
                continue;
            }
            if belongs_after(&lines[last], &lines[next]) {
                group.push(next);
                last = next;
                if group.len() == 3 {
                    break;
                }
            }
        }
        if group.len() < 2 {
            continue;
        }
        let members: Vec<&TextLine> = group.iter().map(|&i| &lines[i]).collect();
        if let Some(zone) = build_zone(&members, cos, sin) {
            for &i in &group {
                used[i] = true;
            }
            zones.push(zone);
        }
    }
    zones
}

fn belongs_after(upper: &TextLine, lower: &TextLine) -> bool {
    let height = upper.height.max(lower.height);
    let spacing = lower.middle_rho() - upper.middle_rho();
    let upper_length = upper.end - upper.start;
    let lower_length = lower.end - lower.start;
    (1.1 * height..=3.2 * height).contains(&spacing)
        && (upper.start - lower.start).abs() < 3.0 * height
        && (0.75..=1.33).contains(&(upper_length / lower_length))
        && (upper.height / lower.height - 1.0).abs() < 0.3
}

fn fit_line(members: Vec<Placed>) -> Option<TextLine> {
    let mut heights: Vec<f32> = members.iter().map(|p| p.across).collect();
    let height = percentile(&mut heights, 0.75);
    let tall: Vec<&Placed> = members
        .iter()
        .filter(|p| p.across >= 0.8 * height)
        .collect();
    if tall.len() < 5 {
        return None;
    }
    let n = tall.len() as f32;
    let mean_t = tall.iter().map(|p| p.t).sum::<f32>() / n;
    let mean_rho = tall.iter().map(|p| p.rho).sum::<f32>() / n;
    let covariance: f32 = tall
        .iter()
        .map(|p| (p.t - mean_t) * (p.rho - mean_rho))
        .sum();
    let variance: f32 = tall.iter().map(|p| (p.t - mean_t).powi(2)).sum();
    let slope = if variance > 0.0 {
        covariance / variance
    } else {
        0.0
    };
    let start = members
        .iter()
        .map(|p| p.t - p.along / 2.0)
        .fold(f32::INFINITY, f32::min);
    let end = members
        .iter()
        .map(|p| p.t + p.along / 2.0)
        .fold(f32::NEG_INFINITY, f32::max);
    Some(TextLine {
        intercept: mean_rho - slope * mean_t,
        slope,
        start,
        end,
        height,
        members,
    })
}

fn build_zone(lines: &[&TextLine], cos: f32, sin: f32) -> Option<LocatedMrz> {
    let height = {
        let mut hs: Vec<f32> = lines.iter().map(|l| l.height).collect();
        median(&mut hs)
    };
    let mut steps = Vec::new();
    for line in lines {
        let tall: Vec<&Placed> = line
            .members
            .iter()
            .filter(|p| p.across >= 0.8 * height && p.along <= 1.2 * height)
            .collect();
        for pair in tall.windows(2) {
            let step = pair[1].t - pair[0].t;
            if (0.45 * height..=2.0 * height).contains(&step) {
                steps.push(step);
            }
        }
    }
    if steps.len() < 5 {
        return None;
    }
    let pitch_estimate = median(&mut steps);
    let length = lines
        .iter()
        .map(|l| l.end - l.start)
        .fold(0.0_f32, f32::max);
    let estimated_count = length / pitch_estimate + 2.0 * SIDE_BEARING;
    let count = if lines.len() == 3 {
        30
    } else if (estimated_count - 36.0).abs() < (estimated_count - 44.0).abs() {
        36
    } else {
        44
    };
    if (estimated_count - count as f32).abs() > 0.15 * count as f32 {
        return None;
    }
    let pitch = length / (count as f32 - 2.0 * SIDE_BEARING);
    let to_image = |t: f32, rho: f32| (t * cos - rho * sin, t * sin + rho * cos);
    let grid = fit_grid(lines, count, pitch, &to_image)?;
    let spacing = {
        let mut spacings: Vec<f32> = (0..count)
            .map(|k| {
                let (_, across) = grid.homography.local_steps((k as f32, 0.5));
                across.0.hypot(across.1)
            })
            .collect();
        median(&mut spacings).max(1e-3)
    };
    let mut located = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        let cells = (0..count)
            .map(|k| {
                let at = (k as f32, l as f32);
                // A glyph's own centre beats the fit's prediction where one was matched.
                let (x, y) = grid.snapped[l][k].unwrap_or_else(|| grid.homography.apply(at));
                let (along, across) = grid.homography.local_steps(at);
                // Character height scales with the local line spacing.
                let factor = height / spacing;
                Cell {
                    x,
                    y,
                    along,
                    across: (across.0 * factor, across.1 * factor),
                }
            })
            .collect();
        // The local direction follows the fitted slope.
        let norm = (1.0 + line.slope * line.slope).sqrt();
        let (dt, drho) = (1.0 / norm, line.slope / norm);
        located.push(LocatedLine {
            cells,
            direction: (dt * cos - drho * sin, dt * sin + drho * cos),
        });
    }
    let first_line = lines.first()?;
    let last_line = lines.last()?;
    let left = lines.iter().map(|l| l.start).fold(f32::INFINITY, f32::min) - SIDE_BEARING * pitch;
    let right = left + pitch * count as f32;
    let top = |t: f32| first_line.rho_at(t) - 0.75 * height;
    let bottom = |t: f32| last_line.rho_at(t) + 0.75 * height;
    Some(LocatedMrz {
        lines: located,
        pitch,
        char_height: height,
        corners: [
            to_image(left, top(left)),
            to_image(right, top(right)),
            to_image(right, bottom(right)),
            to_image(left, bottom(left)),
        ],
        zone: 0,
    })
}

/// The zone's perspective model and the glyph each cell was matched to.
struct Grid {
    homography: Homography,
    /// Per line and column: the centre of the single glyph found there, if any.
    snapped: Vec<Vec<Option<(f32, f32)>>>,
}

/// How far (in local pitches) a glyph may lie from a cell's predicted centre and still be its.
const SNAP_RADIUS: f32 = 0.35;
/// How far (in local pitches) a matched glyph may lie from the refitted grid and still count.
const OUTLIER_RADIUS: f32 = 0.2;

/// Fits the grid-to-image homography: first to the ends of the lines, then, a few times, to
/// the glyphs found near the cells the current fit predicts.
fn fit_grid(
    lines: &[&TextLine],
    count: usize,
    pitch: f32,
    to_image: &impl Fn(f32, f32) -> (f32, f32),
) -> Option<Grid> {
    let glyphs: Vec<Vec<(f32, f32)>> = lines
        .iter()
        .map(|line| {
            line.members
                .iter()
                .filter(|p| p.along <= 1.1 * pitch && p.across >= 0.5 * line.height)
                .map(|p| to_image(p.t, p.rho))
                .collect()
        })
        .collect();
    let first_edge = SIDE_BEARING - 0.5;
    let last_edge = count as f32 - 0.5 - SIDE_BEARING;
    let mut ends = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        ends.push((
            (first_edge, l as f32),
            to_image(line.start, line.rho_at(line.start)),
        ));
        ends.push((
            (last_edge, l as f32),
            to_image(line.end, line.rho_at(line.end)),
        ));
    }
    let mut homography = Homography::fit(&ends)?;
    let mut snapped = vec![vec![None; count]; lines.len()];
    for _ in 0..3 {
        let mut matched = Vec::new();
        for (l, line_glyphs) in glyphs.iter().enumerate() {
            for (k, slot) in snapped[l].iter_mut().enumerate() {
                let at = (k as f32, l as f32);
                let predicted = homography.apply(at);
                let (along, _) = homography.local_steps(at);
                let radius = SNAP_RADIUS * along.0.hypot(along.1);
                *slot = line_glyphs
                    .iter()
                    .map(|g| (g, (g.0 - predicted.0).hypot(g.1 - predicted.1)))
                    .filter(|(_, distance)| *distance <= radius)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(g, _)| *g);
                if let Some(glyph) = *slot {
                    matched.push((at, glyph));
                }
            }
        }
        if matched.len() < 8 {
            break;
        }
        let Some(refit) = Homography::fit(&matched) else {
            break;
        };
        // A glyph snapped to the wrong cell pulls the fit; drop what the refit cannot explain
        // and fit again.
        let consistent: Vec<_> = matched
            .iter()
            .copied()
            .filter(|&(at, glyph)| {
                let predicted = refit.apply(at);
                let (along, _) = refit.local_steps(at);
                (glyph.0 - predicted.0).hypot(glyph.1 - predicted.1)
                    <= OUTLIER_RADIUS * along.0.hypot(along.1)
            })
            .collect();
        homography = if consistent.len() >= 8 && consistent.len() < matched.len() {
            Homography::fit(&consistent).unwrap_or(refit)
        } else {
            refit
        };
    }
    Some(Grid {
        homography,
        snapped,
    })
}

/// Replaces the zone's character height, estimated from ink bounding boxes (which a rotated
/// glyph inflates: at 15 degrees by about 15%), with one measured across the lines in each
/// cell's own frame: the extent over which the mean darkness along the cells stays above a
/// third of its range.
fn with_measured_height(gray: &GrayImage, mut zone: LocatedMrz) -> LocatedMrz {
    const STEPS: i32 = 24;
    const ALONG: [f32; 5] = [-0.3, -0.15, 0.0, 0.15, 0.3];
    let mut profile = vec![0.0_f32; (2 * STEPS + 1) as usize];
    for line in &zone.lines {
        for cell in &line.cells {
            for (slot, step) in profile.iter_mut().zip(-STEPS..=STEPS) {
                let v = step as f32 / STEPS as f32;
                *slot += ALONG
                    .iter()
                    .map(|&u| {
                        let x = cell.x + u * cell.along.0 + v * cell.across.0;
                        let y = cell.y + u * cell.along.1 + v * cell.across.1;
                        255.0 - crate::raster::sample(gray, x, y)
                    })
                    .sum::<f32>();
            }
        }
    }
    let low = profile.iter().copied().fold(f32::INFINITY, f32::min);
    let high = profile.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if high - low <= f32::EPSILON {
        return zone;
    }
    let threshold = low + (high - low) / 3.0;
    let centre = STEPS as usize;
    let mut top = centre;
    while top > 0 && profile[top - 1] > threshold {
        top -= 1;
    }
    let mut bottom = centre;
    while bottom + 1 < profile.len() && profile[bottom + 1] > threshold {
        bottom += 1;
    }
    // The profile spans +-1 estimated heights; the extent is in those units.
    let ratio = (bottom - top) as f32 / STEPS as f32;
    if !(0.6..=1.4).contains(&ratio) {
        return zone;
    }
    for line in &mut zone.lines {
        for cell in &mut line.cells {
            cell.across = (cell.across.0 * ratio, cell.across.1 * ratio);
        }
    }
    zone.char_height *= ratio;
    zone
}
