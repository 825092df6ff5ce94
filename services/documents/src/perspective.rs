//! The perspective model of an MRZ: a homography from the character grid to the image.
//!
//! An MRZ is a flat grid of equally spaced characters, so wherever the camera was, the centre
//! of character `column` on line `line` is `H(column, line)` for one 3x3 homography `H`. The
//! locator fits `H` by least squares to the glyphs it can see (several dozen points), which
//! absorbs rotation, foreshortening along the lines and the shear a tilted camera gives the
//! glyphs; the reader then samples each character in its own local frame, `H`'s derivative at
//! that cell, rather than in a frame perpendicular to the text.

/// A point in the plane, `(x, y)`.
pub type Point = (f32, f32);

/// A plane-to-plane projective map, row-major with `h[8] = 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    h: [f64; 9],
}

impl Homography {
    /// Least-squares fit (algebraic error, `h33 = 1`) of `grid -> image` pairs; `None` when the
    /// points do not determine a map (fewer than four, or degenerate).
    pub fn fit(pairs: &[(Point, Point)]) -> Option<Self> {
        if pairs.len() < 4 {
            return None;
        }
        // Normalise both sides (centre and scale) so the normal equations are well conditioned.
        let (grid_t, image_t) = (
            Similarity::normalising(pairs.iter().map(|p| p.0)),
            Similarity::normalising(pairs.iter().map(|p| p.1)),
        );
        let mut normal = [[0.0_f64; 9]; 8];
        for &(from, to) in pairs {
            let (u, v) = grid_t.apply(from);
            let (x, y) = image_t.apply(to);
            let rows = [
                [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x],
                [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y],
            ];
            for row in rows {
                for i in 0..8 {
                    for j in 0..9 {
                        normal[i][j] += row[i] * row[j];
                    }
                }
            }
        }
        let solution = solve_8x8(normal)?;
        let mut n = [1.0; 9];
        n[..8].copy_from_slice(&solution);
        // H = image_t^-1 * N * grid_t
        let composed = multiply(&multiply(&image_t.inverse_matrix(), &n), &grid_t.matrix());
        let scale = composed[8];
        if scale.abs() < 1e-12 || !composed.iter().all(|v| v.is_finite()) {
            return None;
        }
        Some(Self {
            h: composed.map(|v| v / scale),
        })
    }

    /// The image point of grid point `(column, line)`.
    pub fn apply(&self, (u, v): (f32, f32)) -> (f32, f32) {
        let (u, v) = (f64::from(u), f64::from(v));
        let h = &self.h;
        let w = h[6] * u + h[7] * v + h[8];
        (
            ((h[0] * u + h[1] * v + h[2]) / w) as f32,
            ((h[3] * u + h[4] * v + h[5]) / w) as f32,
        )
    }

    /// The image vectors of one grid step along the line and one across it, at `(u, v)`.
    pub fn local_steps(&self, (u, v): (f32, f32)) -> ((f32, f32), (f32, f32)) {
        let difference = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0, a.1 - b.1);
        (
            difference(self.apply((u + 0.5, v)), self.apply((u - 0.5, v))),
            difference(self.apply((u, v + 0.5)), self.apply((u, v - 0.5))),
        )
    }
}

/// Translation and isotropic scale taking a point set to mean 0 and mean distance sqrt(2).
struct Similarity {
    scale: f64,
    centre: (f64, f64),
}

impl Similarity {
    fn normalising(points: impl Iterator<Item = (f32, f32)> + Clone) -> Self {
        let count = points.clone().count().max(1) as f64;
        let (sx, sy) = points.clone().fold((0.0, 0.0), |(a, b), (x, y)| {
            (a + f64::from(x), b + f64::from(y))
        });
        let centre = (sx / count, sy / count);
        let spread = points
            .map(|(x, y)| (f64::from(x) - centre.0).hypot(f64::from(y) - centre.1))
            .sum::<f64>()
            / count;
        Self {
            scale: if spread > 1e-9 {
                std::f64::consts::SQRT_2 / spread
            } else {
                1.0
            },
            centre,
        }
    }

    fn apply(&self, (x, y): (f32, f32)) -> (f64, f64) {
        (
            (f64::from(x) - self.centre.0) * self.scale,
            (f64::from(y) - self.centre.1) * self.scale,
        )
    }

    fn matrix(&self) -> [f64; 9] {
        let s = self.scale;
        [
            s,
            0.0,
            -s * self.centre.0,
            0.0,
            s,
            -s * self.centre.1,
            0.0,
            0.0,
            1.0,
        ]
    }

    fn inverse_matrix(&self) -> [f64; 9] {
        let s = 1.0 / self.scale;
        [s, 0.0, self.centre.0, 0.0, s, self.centre.1, 0.0, 0.0, 1.0]
    }
}

fn multiply(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut out = [0.0; 9];
    for row in 0..3 {
        for column in 0..3 {
            out[row * 3 + column] = (0..3).map(|k| a[row * 3 + k] * b[k * 3 + column]).sum();
        }
    }
    out
}

/// Solves the augmented 8x9 system by Gaussian elimination with partial pivoting; `None`
/// when it is singular.
pub fn solve_8x8(mut m: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for column in 0..8 {
        let pivot =
            (column..8).max_by(|&a, &b| m[a][column].abs().total_cmp(&m[b][column].abs()))?;
        if m[pivot][column].abs() < 1e-12 {
            return None;
        }
        m.swap(column, pivot);
        let pivot_row = m[column];
        for (index, row) in m.iter_mut().enumerate() {
            if index != column {
                let factor = row[column] / pivot_row[column];
                for (value, pivot_value) in row.iter_mut().zip(pivot_row).skip(column) {
                    *value -= factor * pivot_value;
                }
            }
        }
    }
    let mut out = [0.0; 8];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = m[i][8] / m[i][i];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_perspective_map() {
        let truth = Homography {
            h: [12.0, 1.5, 100.0, -2.0, 18.0, 400.0, 0.002, -0.01, 1.0],
        };
        let pairs: Vec<_> = (0..44)
            .flat_map(|k| (0..2).map(move |l| (k as f32, l as f32)))
            .map(|g| (g, truth.apply(g)))
            .collect();
        let fitted = Homography::fit(&pairs).expect("fits");
        for (grid, image) in pairs {
            let got = fitted.apply(grid);
            assert!((got.0 - image.0).abs() < 0.01 && (got.1 - image.1).abs() < 0.01);
        }
        let ((ax, ay), _) = fitted.local_steps((0.0, 0.0));
        assert!((ax.hypot(ay) - 12.0).abs() < 1.0);
    }

    #[test]
    fn too_few_or_collinear_points_do_not_fit() {
        assert!(Homography::fit(&[((0.0, 0.0), (1.0, 1.0))]).is_none());
        let collinear: Vec<_> = (0..10)
            .map(|k| ((k as f32, 0.0), (k as f32 * 3.0, 5.0)))
            .collect();
        assert!(Homography::fit(&collinear).is_none());
    }
}
