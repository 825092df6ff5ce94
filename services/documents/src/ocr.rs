//! OCR for MRZ characters: a small network trained on OCR-B renders.
//!
//! MRZs are printed in one monospaced font (OCR-B, ISO 1073-2) from a 37-character alphabet,
//! so a character's cell is known once the line is located, and recognising it is classifying
//! one small patch. Each patch is sampled in the cell's own perspective frame (so rotation and
//! shear do not matter), scaled by the local pitch across and character height up (so size
//! and aspect do not matter), inverted, made zero-mean and unit-variance, and fed to a
//! one-hidden-layer network (384 inputs, 128 ReLU units, 37 softmax outputs).
//!
//! The weights (`data/ocrb-mlp.bin`, 216 KB) are trained by `crate::ocr_training` (feature
//! `testing`) on augmented renders of the public-domain OCR-B fonts of Debian's
//! `fonts-ocr-b`; the `train_ocrb` example regenerates them deterministically. It replaced a
//! nearest-template correlation classifier, which confused 0/O, Q/O/D, 2/Z and 5/S on phone
//! photos (synthetic photographed variants 38% valid with it; with the network, the
//! perspective grid and the measured character height, 99.2% of a harder set). A test
//! checks the committed network on renders made with a seed it was not trained on.

use std::sync::OnceLock;

use image::GrayImage;

use crate::raster::sample;

/// Feature patch width in samples.
pub const FEATURE_WIDTH: usize = 16;
/// Feature patch height in samples.
pub const FEATURE_HEIGHT: usize = 24;
/// The patch spans this many character heights vertically (cap height plus margin).
pub const WINDOW_HEIGHT_IN_CHAR_HEIGHTS: f32 = 1.3;
/// The patch spans this many pitches horizontally.
pub const WINDOW_WIDTH_IN_PITCHES: f32 = 1.0;
/// The MRZ alphabet, in template order.
pub const MRZ_ALPHABET: &[u8; 37] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

static BUILTIN: OnceLock<OcrbClassifier> = OnceLock::new();

/// Where one character sits: centre, reading direction and size, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharacterCell {
    /// Centre, horizontal.
    pub x: f32,
    /// Centre, vertical.
    pub y: f32,
    /// Unit vector along the text.
    pub direction: (f32, f32),
    /// Unit vector from the top of the character to its bottom (perpendicular to `direction`
    /// unless the view shears the glyphs).
    pub across: (f32, f32),
    /// Distance between character centres.
    pub pitch: f32,
    /// Height of capitals and digits.
    pub char_height: f32,
}

/// The best and second-best reading of one character.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharacterGuess {
    /// Best match.
    pub character: u8,
    /// Its correlation in [-1, 1].
    pub score: f32,
    /// Best match among the other characters.
    pub runner_up: u8,
    /// Its correlation.
    pub runner_up_score: f32,
}

/// Samples the raw feature patch (ink bright, 0..255) for `cell`, shifted by whole samples.
pub fn raw_features(gray: &GrayImage, cell: &CharacterCell, shift: (i32, i32)) -> Vec<f32> {
    let (dx, dy) = cell.direction;
    let (nx, ny) = cell.across;
    let step_u = cell.pitch * WINDOW_WIDTH_IN_PITCHES / FEATURE_WIDTH as f32;
    let step_v = cell.char_height * WINDOW_HEIGHT_IN_CHAR_HEIGHTS / FEATURE_HEIGHT as f32;
    let subsamples = (step_u.max(step_v).round() as usize).clamp(1, 4);
    let mut out = Vec::with_capacity(FEATURE_WIDTH * FEATURE_HEIGHT);
    for row in 0..FEATURE_HEIGHT {
        for column in 0..FEATURE_WIDTH {
            let mut total = 0.0;
            for sy in 0..subsamples {
                for sx in 0..subsamples {
                    let u = (column as f32 + (sx as f32 + 0.5) / subsamples as f32
                        - FEATURE_WIDTH as f32 / 2.0
                        + shift.0 as f32)
                        * step_u;
                    let v = (row as f32 + (sy as f32 + 0.5) / subsamples as f32
                        - FEATURE_HEIGHT as f32 / 2.0
                        + shift.1 as f32)
                        * step_v;
                    total += sample(gray, cell.x + u * dx + v * nx, cell.y + u * dy + v * ny);
                }
            }
            out.push(255.0 - total / (subsamples * subsamples) as f32);
        }
    }
    out
}

/// Zero-mean, unit-norm copy of `features` (all zeros when flat).
pub fn normalise(features: &[f32]) -> Vec<f32> {
    let mean = features.iter().sum::<f32>() / features.len().max(1) as f32;
    let centred: Vec<f32> = features.iter().map(|v| v - mean).collect();
    let norm = centred.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm < 1e-3 {
        return vec![0.0; features.len()];
    }
    centred.iter().map(|v| v / norm).collect()
}

/// File header of the trained network (`data/ocrb-mlp.bin`).
const NETWORK_MAGIC: &[u8; 8] = b"OCRBMLP1";
/// Hidden units of the shipped network.
pub const HIDDEN_UNITS: usize = 128;
/// Number of inputs: one per feature sample.
pub const INPUTS: usize = FEATURE_WIDTH * FEATURE_HEIGHT;
/// Number of outputs: one per character of [`MRZ_ALPHABET`].
pub const CLASSES: usize = MRZ_ALPHABET.len();

/// A one-hidden-layer perceptron over a normalised feature patch: `W2 relu(W1 x + b1) + b2`.
///
/// Weights are row-major (`w1[h * inputs + i]`, `w2[c * hidden + h]`).
#[derive(Debug, Clone, PartialEq)]
pub struct OcrbNetwork {
    /// Hidden units.
    pub hidden: usize,
    /// Input-to-hidden weights.
    pub w1: Vec<f32>,
    /// Hidden biases.
    pub b1: Vec<f32>,
    /// Hidden-to-output weights.
    pub w2: Vec<f32>,
    /// Output biases.
    pub b2: Vec<f32>,
}

impl OcrbNetwork {
    /// A network of zeros with `hidden` units (the trainer initialises it).
    pub fn zeros(hidden: usize) -> Self {
        Self {
            hidden,
            w1: vec![0.0; hidden * INPUTS],
            b1: vec![0.0; hidden],
            w2: vec![0.0; CLASSES * hidden],
            b2: vec![0.0; CLASSES],
        }
    }

    /// Hidden activations (after ReLU) for the network input `x`.
    pub fn hidden_activations(&self, x: &[f32]) -> Vec<f32> {
        self.w1
            .chunks_exact(INPUTS)
            .zip(&self.b1)
            .map(|(row, bias)| {
                let sum: f32 = row.iter().zip(x).map(|(w, v)| w * v).sum();
                (sum + bias).max(0.0)
            })
            .collect()
    }

    /// Output logits for the hidden activations `h`.
    pub fn logits_from_hidden(&self, h: &[f32]) -> [f32; CLASSES] {
        let mut out = [0.0; CLASSES];
        for ((slot, row), bias) in out
            .iter_mut()
            .zip(self.w2.chunks_exact(self.hidden))
            .zip(&self.b2)
        {
            *slot = row.iter().zip(h).map(|(w, v)| w * v).sum::<f32>() + bias;
        }
        out
    }

    /// Class probabilities for a raw feature patch (see [`network_input`]).
    pub fn probabilities(&self, raw: &[f32]) -> [f32; CLASSES] {
        softmax(&self.logits_from_hidden(&self.hidden_activations(&network_input(raw))))
    }

    /// Serialises the network: magic, hidden size (u32 LE), then the four arrays as f32 LE.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = NETWORK_MAGIC.to_vec();
        out.extend((self.hidden as u32).to_le_bytes());
        for value in self
            .w1
            .iter()
            .chain(&self.b1)
            .chain(&self.w2)
            .chain(&self.b2)
        {
            out.extend(value.to_le_bytes());
        }
        out
    }

    /// Parses [`OcrbNetwork::encode`]'s format; `None` when malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(NETWORK_MAGIC.as_slice())?;
        let (size, rest) = rest.split_first_chunk::<4>()?;
        let hidden = u32::from_le_bytes(*size) as usize;
        let expected = hidden * INPUTS + hidden + CLASSES * hidden + CLASSES;
        if hidden == 0 || rest.len() != expected * 4 {
            return None;
        }
        let mut values = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut take = |n: usize| values.by_ref().take(n).collect::<Vec<f32>>();
        let (w1, b1) = (take(hidden * INPUTS), take(hidden));
        let (w2, b2) = (take(CLASSES * hidden), take(CLASSES));
        Some(Self {
            hidden,
            w1,
            b1,
            w2,
            b2,
        })
    }
}

/// The network's input for a raw patch: zero mean, unit variance per sample.
pub fn network_input(raw: &[f32]) -> Vec<f32> {
    let scale = (raw.len() as f32).sqrt();
    normalise(raw).into_iter().map(|v| v * scale).collect()
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32; CLASSES]) -> [f32; CLASSES] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut out = logits.map(|z| (z - max).exp());
    let total: f32 = out.iter().sum();
    for value in &mut out {
        *value /= total;
    }
    out
}

/// The MRZ character classifier: the trained OCR-B network.
#[derive(Debug, Clone)]
pub struct OcrbClassifier {
    network: OcrbNetwork,
}

impl OcrbClassifier {
    /// The classifier built from the committed network (`data/ocrb-mlp.bin`).
    pub fn builtin() -> &'static Self {
        BUILTIN.get_or_init(|| Self {
            network: OcrbNetwork::decode(include_bytes!("../data/ocrb-mlp.bin"))
                .unwrap_or_else(|| OcrbNetwork::zeros(1)),
        })
    }

    /// Reads the character in `cell`, choosing only among characters `allowed` accepts.
    pub fn classify(
        &self,
        gray: &GrayImage,
        cell: &CharacterCell,
        allowed: impl Fn(u8) -> bool,
    ) -> CharacterGuess {
        let mut best = self.scores(gray, cell);
        for (slot, &character) in MRZ_ALPHABET.iter().enumerate() {
            if !allowed(character) {
                best[slot] = f32::NEG_INFINITY;
            }
        }
        let mut order: Vec<usize> = (0..MRZ_ALPHABET.len()).collect();
        order.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
        CharacterGuess {
            character: MRZ_ALPHABET[order[0]],
            score: best[order[0]],
            runner_up: MRZ_ALPHABET[order[1]],
            runner_up_score: best[order[1]],
        }
    }

    /// The probability of every character of [`MRZ_ALPHABET`] in `cell`.
    pub fn scores(&self, gray: &GrayImage, cell: &CharacterCell) -> [f32; CLASSES] {
        self.network
            .probabilities(&raw_features(gray, cell, (0, 0)))
    }
}
