//! Training the OCR-B character network (feature `testing`).
//!
//! The training set is made, not collected: every MRZ character is rendered from Debian's
//! `fonts-ocr-b` between random neighbours, at pitches from 6.5 to 22 pixels, with random
//! ink and paper levels, blur, noise and JPEG re-encoding, and then sampled exactly as the
//! reader samples a photo, from a cell whose centre, angle, pitch and height are deliberately
//! a little wrong (the locator's estimates are never exact). A one-hidden-layer network is
//! trained on that with Adam and softmax cross-entropy.
//!
//! `cargo run --release -p simgate-documents --features testing --example train_ocrb` writes
//! `data/ocrb-mlp.bin`; the run is deterministic for a seed.

use ab_glyph::FontVec;
use image::{GrayImage, Luma, imageops};

use crate::ocr::{
    CLASSES, CharacterCell, INPUTS, MRZ_ALPHABET, OcrbNetwork, network_input, raw_features, softmax,
};
use crate::testing::{TEMPLATE_FONTS, draw_text, ink_centre_x, load_font, metrics};

/// A small deterministic generator (SplitMix64): training must be reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform(1e-7, 1.0);
        let u2 = self.uniform(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.uniform(0.0, 1.0) < p
    }
}

/// One training example: the class index in [`MRZ_ALPHABET`] and the network input.
#[derive(Debug, Clone)]
pub struct TrainingSample {
    /// Index of the character in [`MRZ_ALPHABET`].
    pub class: usize,
    /// Normalised features ([`network_input`]).
    pub input: Vec<f32>,
}

/// Renders `per_class` augmented samples of every MRZ character.
pub fn training_samples(seed: u64, per_class: usize) -> Vec<TrainingSample> {
    let fonts: Vec<FontVec> = TEMPLATE_FONTS.iter().map(|f| load_font(f)).collect();
    let mut rng = SplitMix::new(seed);
    let mut samples = Vec::with_capacity(per_class * CLASSES);
    for _ in 0..per_class {
        for (class, &character) in MRZ_ALPHABET.iter().enumerate() {
            let font = &fonts[rng.below(fonts.len())];
            let raw = render_sample(font, character, &mut rng);
            samples.push(TrainingSample {
                class,
                input: network_input(&raw),
            });
        }
    }
    samples
}

fn random_neighbour(rng: &mut SplitMix) -> char {
    if rng.chance(0.35) {
        '<'
    } else {
        char::from(MRZ_ALPHABET[rng.below(CLASSES)])
    }
}

/// One augmented rendering of `character`, sampled as the reader would.
fn render_sample(font: &FontVec, character: u8, rng: &mut SplitMix) -> Vec<f32> {
    let reference = metrics(font, 96.0);
    let pitch = rng.uniform(6.5, 22.0);
    let size = pitch * 96.0 / reference.advance;
    let cap = reference.cap_height * size / 96.0;
    let paper = rng.uniform(140.0, 250.0);
    let ink = rng.uniform(0.0, (paper - 60.0).min(110.0));
    let (width, height) = ((pitch * 5.0) as u32, (cap * 3.2) as u32);
    let mut canvas = GrayImage::from_pixel(width, height, Luma([paper as u8]));
    let text: String = [
        random_neighbour(rng),
        char::from(character),
        random_neighbour(rng),
    ]
    .iter()
    .collect();
    let pen = pitch;
    let baseline = cap * 2.1;
    draw_text(&mut canvas, font, size, &text, pen, baseline, ink as u8);
    if rng.chance(0.8) {
        let sigma = rng.uniform(0.05, 0.14) * pitch;
        canvas = imageops::blur(&canvas, sigma);
    }
    let noise = rng.uniform(0.0, 9.0);
    let gradient = rng.uniform(-0.25, 0.25) * (paper - ink) / width as f32;
    for (x, _, pixel) in canvas.enumerate_pixels_mut() {
        let value = f32::from(pixel.0[0]) + noise * rng.normal() + gradient * x as f32;
        *pixel = Luma([value.round().clamp(0.0, 255.0) as u8]);
    }
    if rng.chance(0.4) {
        let quality = rng.uniform(35.0, 95.0) as u8;
        canvas = jpeg_round_trip(&canvas, quality);
    }
    let own_pen = pen + pitch;
    let centre_x = if rng.chance(0.5) {
        own_pen + ink_centre_x(font, size, char::from(character)).unwrap_or(pitch / 2.0)
    } else {
        own_pen + pitch / 2.0
    };
    let angle = rng.uniform(-2.5, 2.5).to_radians();
    let cell = CharacterCell {
        x: centre_x + (0.06 * rng.normal()).clamp(-0.16, 0.16) * pitch,
        y: baseline - cap / 2.0 + (0.05 * rng.normal()).clamp(-0.12, 0.12) * cap,
        direction: (angle.cos(), angle.sin()),
        across: (-angle.sin(), angle.cos()),
        // Narrower jitter (2.5%) was tried: it made the network brittle on the real specimens
        // (0 read as U, validating by cancellation), so it learns the locator's errors.
        pitch: pitch * rng.uniform(0.93, 1.07),
        char_height: cap * rng.uniform(0.9, 1.1),
    };
    raw_features(&canvas, &cell, (0, 0))
}

fn jpeg_round_trip(gray: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    match gray.write_with_encoder(encoder) {
        Ok(()) => image::load_from_memory(&bytes).map_or_else(|_| gray.clone(), |d| d.into_luma8()),
        Err(_) => gray.clone(),
    }
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainingPlan {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per Adam step.
    pub batch: usize,
    /// Adam's step size at the start; it decays linearly to a tenth.
    pub learning_rate: f32,
    /// Seed of the weight initialisation and shuffling.
    pub seed: u64,
}

/// Trains a network with `hidden` units on `samples` and returns it.
pub fn train(samples: &[TrainingSample], hidden: usize, plan: TrainingPlan) -> OcrbNetwork {
    let mut rng = SplitMix::new(plan.seed);
    let mut network = OcrbNetwork::zeros(hidden);
    let scale1 = (2.0 / INPUTS as f32).sqrt();
    network
        .w1
        .iter_mut()
        .for_each(|w| *w = rng.normal() * scale1);
    let scale2 = (2.0 / hidden as f32).sqrt();
    network
        .w2
        .iter_mut()
        .for_each(|w| *w = rng.normal() * scale2 * 0.5);
    let mut adam = Adam::new(&network);
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let total_steps = (plan.epochs * samples.len().div_ceil(plan.batch)).max(1);
    let mut step = 0;
    for _ in 0..plan.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for batch in order.chunks(plan.batch) {
            let mut gradient = OcrbNetwork::zeros(hidden);
            for &index in batch {
                accumulate_gradient(&network, &samples[index], &mut gradient);
            }
            let progress = step as f32 / total_steps as f32;
            let rate = plan.learning_rate * (1.0 - 0.9 * progress);
            adam.step(&mut network, &gradient, rate, batch.len() as f32);
            step += 1;
        }
    }
    network
}

/// Adds one sample's cross-entropy gradient to `gradient`.
fn accumulate_gradient(network: &OcrbNetwork, sample: &TrainingSample, gradient: &mut OcrbNetwork) {
    let hidden = network.hidden_activations(&sample.input);
    let mut delta_out = softmax(&network.logits_from_hidden(&hidden));
    delta_out[sample.class] -= 1.0;
    let mut delta_hidden = vec![0.0_f32; network.hidden];
    for (c, &d) in delta_out.iter().enumerate() {
        gradient.b2[c] += d;
        let row = c * network.hidden;
        for h in 0..network.hidden {
            gradient.w2[row + h] += d * hidden[h];
            delta_hidden[h] += d * network.w2[row + h];
        }
    }
    for (h, d) in delta_hidden.iter().enumerate() {
        if hidden[h] <= 0.0 {
            continue;
        }
        gradient.b1[h] += d;
        let row = &mut gradient.w1[h * INPUTS..(h + 1) * INPUTS];
        for (w, x) in row.iter_mut().zip(&sample.input) {
            *w += d * x;
        }
    }
}

/// Adam's moment estimates, one pair per parameter.
struct Adam {
    first: Vec<f32>,
    second: Vec<f32>,
    steps: i32,
}

impl Adam {
    fn new(network: &OcrbNetwork) -> Self {
        let count = parameters(network).count();
        Self {
            first: vec![0.0; count],
            second: vec![0.0; count],
            steps: 0,
        }
    }

    fn step(&mut self, network: &mut OcrbNetwork, gradient: &OcrbNetwork, rate: f32, batch: f32) {
        const BETA1: f32 = 0.9;
        const BETA2: f32 = 0.999;
        const WEIGHT_DECAY: f32 = 1e-5;
        self.steps += 1;
        let correction1 = 1.0 - BETA1.powi(self.steps);
        let correction2 = 1.0 - BETA2.powi(self.steps);
        let grads: Vec<f32> = parameters(gradient).map(|g| *g / batch).collect();
        let params = network
            .w1
            .iter_mut()
            .chain(network.b1.iter_mut())
            .chain(network.w2.iter_mut())
            .chain(network.b2.iter_mut());
        for (index, (param, g)) in params.zip(grads).enumerate() {
            let g = g + WEIGHT_DECAY * *param;
            self.first[index] = BETA1 * self.first[index] + (1.0 - BETA1) * g;
            self.second[index] = BETA2 * self.second[index] + (1.0 - BETA2) * g * g;
            let m = self.first[index] / correction1;
            let v = self.second[index] / correction2;
            *param -= rate * m / (v.sqrt() + 1e-8);
        }
    }
}

fn parameters(network: &OcrbNetwork) -> impl Iterator<Item = &f32> {
    network
        .w1
        .iter()
        .chain(&network.b1)
        .chain(&network.w2)
        .chain(&network.b2)
}

/// Fraction of `samples` the network classifies correctly, and the confusions seen, as
/// (truth, read, count) sorted by count.
pub fn evaluate(network: &OcrbNetwork, samples: &[TrainingSample]) -> (f32, Vec<(u8, u8, usize)>) {
    let mut correct = 0;
    let mut confusions: std::collections::BTreeMap<(u8, u8), usize> = Default::default();
    for sample in samples {
        let logits = network.logits_from_hidden(&network.hidden_activations(&sample.input));
        let best = (0..CLASSES)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap_or(0);
        if best == sample.class {
            correct += 1;
        } else {
            *confusions
                .entry((MRZ_ALPHABET[sample.class], MRZ_ALPHABET[best]))
                .or_default() += 1;
        }
    }
    let mut confusions: Vec<(u8, u8, usize)> = confusions
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
    (correct as f32 / samples.len().max(1) as f32, confusions)
}
