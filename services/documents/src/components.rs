//! Ink segmentation: adaptive thresholding and connected components.
//!
//! MRZ characters are dark on a light background whose brightness varies across a photo
//! (shadows, glare, security printing), so a pixel is ink when it is clearly darker than the
//! mean of its neighbourhood rather than darker than one global level. Components are
//! 8-connected and carry only the statistics the locator needs.

use image::GrayImage;

use crate::raster::Integral;

/// One connected group of ink pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// Leftmost column.
    pub min_x: u32,
    /// Topmost row.
    pub min_y: u32,
    /// Rightmost column (inclusive).
    pub max_x: u32,
    /// Bottom row (inclusive).
    pub max_y: u32,
    /// Number of ink pixels.
    pub pixels: u32,
}

impl Component {
    /// Bounding-box width.
    pub fn width(&self) -> f32 {
        (self.max_x - self.min_x + 1) as f32
    }

    /// Bounding-box height.
    pub fn height(&self) -> f32 {
        (self.max_y - self.min_y + 1) as f32
    }

    /// Bounding-box centre.
    pub fn centre(&self) -> (f32, f32) {
        (
            (self.min_x + self.max_x) as f32 / 2.0 + 0.5,
            (self.min_y + self.max_y) as f32 / 2.0 + 0.5,
        )
    }
}

/// Marks ink: pixels darker than their `2 * radius + 1` neighbourhood mean by a margin.
pub fn ink_mask(gray: &GrayImage, radius: usize) -> Vec<bool> {
    let integral = Integral::new(gray);
    let width = gray.width() as usize;
    gray.as_raw()
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let mean = integral.box_mean(index % width, index / width, radius);
            f32::from(value) < mean - (0.12 * mean).max(12.0)
        })
        .collect()
}

/// 8-connected components of `mask` (row-major, `width` wide).
pub fn components(mask: &[bool], width: usize, height: usize) -> Vec<Component> {
    let mut seen = vec![false; mask.len()];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (sx, sy) = ((start % width) as u32, (start / width) as u32);
        let mut component = Component {
            min_x: sx,
            min_y: sy,
            max_x: sx,
            max_y: sy,
            pixels: 0,
        };
        while let Some(index) = stack.pop() {
            let (x, y) = (index % width, index / width);
            component.pixels += 1;
            component.min_x = component.min_x.min(x as u32);
            component.max_x = component.max_x.max(x as u32);
            component.min_y = component.min_y.min(y as u32);
            component.max_y = component.max_y.max(y as u32);
            for dy in -1_i64..=1 {
                for dx in -1_i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    let neighbour = ny as usize * width + nx as usize;
                    if mask[neighbour] && !seen[neighbour] {
                        seen[neighbour] = true;
                        stack.push(neighbour);
                    }
                }
            }
        }
        found.push(component);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_blobs_and_measures_them() {
        let (width, height) = (10, 5);
        let mut mask = vec![false; width * height];
        for (x, y) in [(1, 1), (2, 1), (2, 2), (7, 3), (8, 4)] {
            mask[y * width + x] = true;
        }
        let found = components(&mask, width, height);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].min_x, found[0].max_x, found[0].pixels), (1, 2, 3));
        assert_eq!((found[1].min_y, found[1].max_y, found[1].pixels), (3, 4, 2));
    }
}
