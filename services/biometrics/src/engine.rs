//! The face engine: the [`FaceEngine`] trait and its ONNX Runtime implementation.
//!
//! [`FaceEngine`] is the seam the rest of simgate depends on (tests can swap in a fake).
//! [`OrtFaceEngine`] loads ONNX Runtime from an explicit library path (once per process — ONNX
//! Runtime allows a single environment), then the YuNet detector and SFace recogniser from
//! `models_dir`. Each `ort` session needs `&mut` to run, so each sits behind its own `Mutex`.
//!
//! Every session runs on one process-wide ONNX Runtime thread pool, sized by the first engine
//! loaded. With a pool per session, the detector's workers were still spinning (ONNX Runtime
//! keeps idle workers busy-waiting briefly for the next operator) while the recogniser's ran, so
//! on two cores the two pools fought over them: one compare took 1.7x longer than the sum of its
//! model runs in isolation (BENCHMARKS.md).
//! Detection runs in two passes by default ([`crate::refine`]): a coarse pass over the whole
//! image, then one on a crop around each face for precise landmarks.
//! [`extract_single_face`] is the "exactly one face" policy used for selfies and portraits.

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
};

use image::RgbImage;
use ort::{environment::Environment, session::Session, value::Tensor};
use serde::Serialize;

use crate::{
    BiometricsError,
    align::{ALIGNED_FACE_SIZE, warp_to_template},
    decode::DecodedImage,
    detect::{
        DEFAULT_DETECTION_SIDE, DEFAULT_SCORE_THRESHOLD, FaceDetection, NMS_IOU_THRESHOLD,
        YUNET_INPUT_ALIGNMENT, YUNET_STRIDES, YunetStrideOutputs, decode_yunet_outputs, letterbox,
        non_maximum_suppression,
    },
    embed::{EMBEDDING_DIMENSION, FaceEmbedding, sface_input_tensor},
    refine::{
        TwoPassDetection, coarse_pass_suffices, copy_region, matching_refined_face,
        offset_detection, refine_region,
    },
};

/// File name of the fp32 YuNet detector inside the models directory.
pub const DETECTOR_FILE_NAME: &str = "yunet.onnx";
/// File name of the fp32 SFace recogniser inside the models directory.
pub const RECOGNISER_FILE_NAME: &str = "sface.onnx";
/// Identifier of the detector model reported in [`ModelInfo`].
pub const DETECTOR_MODEL_ID: &str = "yunet-2023mar-fp32";
/// Identifier of the recogniser model reported in [`ModelInfo`].
pub const RECOGNISER_MODEL_ID: &str = "sface-2021dec-fp32";
/// Name of the SFace output holding the embedding.
const RECOGNISER_OUTPUT_NAME: &str = "fc1";

/// The process-wide ONNX Runtime environment (ONNX Runtime allows only one per process).
static ORT_ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Which models an engine runs; recorded with every verification for re-scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// Face detector identifier, e.g. `yunet-2023mar-fp32`.
    pub detector: String,
    /// Face recogniser identifier, e.g. `sface-2021dec-fp32`.
    pub recogniser: String,
}

/// Face detection and embedding, abstracted so callers can use a fake in tests.
pub trait FaceEngine: Send + Sync {
    /// Finds all faces in the image, best score first.
    fn detect_faces(&self, image: &DecodedImage) -> Result<Vec<FaceDetection>, BiometricsError>;
    /// Embeds faces already aligned to the 112x112 ArcFace template, results in the same order
    /// (one model run for all of them where the engine batches).
    fn embed_aligned_faces(
        &self,
        aligned: &[RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError>;
    /// Aligns and embeds one detected face.
    fn embed_face(
        &self,
        image: &DecodedImage,
        face: &FaceDetection,
    ) -> Result<FaceEmbedding, BiometricsError> {
        let aligned = align_face(image, face)?;
        self.embed_aligned_faces(std::slice::from_ref(&aligned))?
            .pop()
            .ok_or_else(|| {
                BiometricsError::Inference("the engine returned no embedding".to_owned())
            })
    }
    /// Identifies the models in use.
    fn model_info(&self) -> ModelInfo;
}

/// Where to find ONNX Runtime and the models, and how to run them.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Directory holding `yunet.onnx` and `sface.onnx`.
    pub models_dir: PathBuf,
    /// Path of the ONNX Runtime shared library (`libonnxruntime.so.1.31.0`).
    pub ort_dylib: PathBuf,
    /// Threads of the process-wide pool ONNX Runtime runs one operator on (the calling thread
    /// counts as one); fixed by the first engine loaded in the process.
    pub intra_threads: usize,
    /// Threads of the process-wide pool for independent operators (fixed by the first engine
    /// loaded); above 1 the sessions run in ONNX Runtime's parallel execution mode.
    pub inter_threads: usize,
    /// Minimum YuNet score for a face to count.
    pub detection_score_threshold: f32,
    /// Longer side, in pixels, of the image the detector sees in its single full pass: photos
    /// are scaled to it, up or down (landmarks map back to the original pixels, which alignment
    /// and quality use). With two-pass detection this pass runs only where the coarse one does
    /// not suffice.
    pub detection_side: u32,
    /// The coarse whole-image pass and the crop pass around each face ([`TwoPassDetection`]).
    pub two_pass: TwoPassDetection,
    /// Sessions per model: how many runs of one model can go at once (a compare detects and
    /// embeds its two faces side by side, and concurrent requests do not queue on one session).
    pub sessions_per_model: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models/dist"),
            ort_dylib: PathBuf::from("models/dist/libonnxruntime.so.1.31.0"),
            // One thread per model run, several runs at once: on two cores, two single-threaded
            // runs side by side beat one run split over both (BENCHMARKS.md).
            intra_threads: 1,
            inter_threads: 1,
            detection_score_threshold: DEFAULT_SCORE_THRESHOLD,
            detection_side: DEFAULT_DETECTION_SIDE,
            two_pass: TwoPassDetection::default(),
            sessions_per_model: 2,
        }
    }
}

/// [`FaceEngine`] running YuNet and SFace through ONNX Runtime on the CPU.
pub struct OrtFaceEngine {
    detector: SessionPool,
    detector_input_name: String,
    recogniser: SessionPool,
    recogniser_input_name: String,
    detection_score_threshold: f32,
    detection_side: u32,
    two_pass: TwoPassDetection,
}

impl std::fmt::Debug for OrtFaceEngine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OrtFaceEngine")
            .field("detector_input_name", &self.detector_input_name)
            .field("recogniser_input_name", &self.recogniser_input_name)
            .field("detection_score_threshold", &self.detection_score_threshold)
            .finish_non_exhaustive()
    }
}

impl OrtFaceEngine {
    /// Loads ONNX Runtime (the first call in the process fixes the library; later calls reuse
    /// it whatever their `ort_dylib`) and both models.
    pub fn load(config: &EngineConfig) -> Result<Self, BiometricsError> {
        if !(0.0..=1.0).contains(&config.detection_score_threshold) {
            return Err(BiometricsError::ModelLoad(format!(
                "detection score threshold {} is outside 0..=1",
                config.detection_score_threshold
            )));
        }
        let threads = SessionThreads {
            intra: config.intra_threads.max(1),
            inter: config.inter_threads.max(1),
        };
        let two_pass = config.two_pass;
        if two_pass.coarse_side > 0
            && (two_pass.coarse_side < YUNET_INPUT_ALIGNMENT
                || two_pass.refine_side < YUNET_INPUT_ALIGNMENT)
        {
            return Err(BiometricsError::ModelLoad(format!(
                "coarse_detection_side {} and refine_detection_side {} must be at least \
                 {YUNET_INPUT_ALIGNMENT} pixels (or coarse_detection_side 0: one pass)",
                two_pass.coarse_side, two_pass.refine_side
            )));
        }
        if config.detection_side < YUNET_INPUT_ALIGNMENT {
            return Err(BiometricsError::ModelLoad(format!(
                "detection_side {} is below {YUNET_INPUT_ALIGNMENT} pixels",
                config.detection_side
            )));
        }
        let environment = shared_environment(&config.ort_dylib, threads)?;
        let copies = config.sessions_per_model.max(1);
        let detector_outputs: Vec<String> = YUNET_STRIDES
            .iter()
            .flat_map(|stride| ["cls", "obj", "bbox", "kps"].map(|head| format!("{head}_{stride}")))
            .collect();
        let mut detectors = Vec::with_capacity(copies);
        let mut recognisers = Vec::with_capacity(copies);
        for _ in 0..copies {
            let detector = load_session(
                &environment,
                &config.models_dir.join(DETECTOR_FILE_NAME),
                threads,
            )?;
            require_outputs(&detector, DETECTOR_FILE_NAME, &detector_outputs)?;
            detectors.push(detector);
            let recogniser = load_session(
                &environment,
                &config.models_dir.join(RECOGNISER_FILE_NAME),
                threads,
            )?;
            require_outputs(
                &recogniser,
                RECOGNISER_FILE_NAME,
                &[RECOGNISER_OUTPUT_NAME.to_owned()],
            )?;
            recognisers.push(recogniser);
        }
        Ok(Self {
            detector_input_name: first_input_name(&detectors[0], DETECTOR_FILE_NAME)?,
            detector: SessionPool::new(detectors),
            recogniser_input_name: first_input_name(&recognisers[0], RECOGNISER_FILE_NAME)?,
            recogniser: SessionPool::new(recognisers),
            detection_score_threshold: config.detection_score_threshold,
            detection_side: config.detection_side,
            two_pass: config.two_pass,
        })
    }
}

/// Interchangeable sessions of one model; a run takes a free one, or waits its turn on one.
struct SessionPool {
    sessions: Vec<Mutex<Session>>,
    next: std::sync::atomic::AtomicUsize,
}

impl SessionPool {
    fn new(sessions: Vec<Session>) -> Self {
        Self {
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many runs can go at once.
    fn len(&self) -> usize {
        self.sessions.len()
    }

    /// A free session if there is one, else the next in turn once it is free.
    fn acquire(&self) -> Result<MutexGuard<'_, Session>, BiometricsError> {
        for session in &self.sessions {
            if let Ok(guard) = session.try_lock() {
                return Ok(guard);
            }
        }
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.sessions[turn % self.sessions.len()])
    }
}

impl FaceEngine for OrtFaceEngine {
    fn detect_faces(&self, image: &DecodedImage) -> Result<Vec<FaceDetection>, BiometricsError> {
        let rgb = image.as_rgb_image();
        if !self.two_pass.applies_below(self.detection_side) {
            return self.run_detector(rgb, self.detection_side);
        }
        let coarse = self.run_detector(rgb, self.two_pass.coarse_side)?;
        if !coarse_pass_suffices(&coarse, rgb.width(), rgb.height(), &self.two_pass) {
            return self.run_detector(rgb, self.detection_side);
        }
        let mut refined = Vec::with_capacity(coarse.len());
        for face in &coarse {
            let region = refine_region(face, rgb.width(), rgb.height(), self.two_pass.crop_scale);
            let crop = copy_region(rgb, region);
            let found: Vec<FaceDetection> = self
                .run_detector(&crop, self.two_pass.refine_side)?
                .iter()
                .map(|candidate| offset_detection(candidate, region.x, region.y))
                .collect();
            match matching_refined_face(face, &found) {
                Some(face) => refined.push(face),
                // The crop lost the face the whole image showed: trust neither, look again at
                // full resolution.
                None => return self.run_detector(rgb, self.detection_side),
            }
        }
        // Two coarse faces can refine onto one; keep the better-scoring.
        Ok(non_maximum_suppression(refined, NMS_IOU_THRESHOLD))
    }

    fn embed_aligned_faces(
        &self,
        aligned: &[RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
        self.embed_aligned_batch(aligned)
    }

    fn model_info(&self) -> ModelInfo {
        ModelInfo {
            detector: DETECTOR_MODEL_ID.to_owned(),
            recogniser: RECOGNISER_MODEL_ID.to_owned(),
        }
    }
}

impl OrtFaceEngine {
    /// One YuNet run over `image` scaled so its longer side is `side`; faces in `image` pixels.
    fn run_detector(
        &self,
        image: &RgbImage,
        side: u32,
    ) -> Result<Vec<FaceDetection>, BiometricsError> {
        let input = letterbox(image, side);
        let shape = [
            1usize,
            3,
            input.geometry.input_height as usize,
            input.geometry.input_width as usize,
        ];
        let tensor = Tensor::from_array((shape, input.tensor)).map_err(inference_error)?;
        let mut session = self.detector.acquire()?;
        let outputs = session
            .run(ort::inputs![self.detector_input_name.as_str() => tensor])
            .map_err(inference_error)?;
        let extract = |name: String| -> Result<&[f32], BiometricsError> {
            let value = outputs.get(&name).ok_or_else(|| {
                BiometricsError::Inference(format!("YuNet output {name} is missing"))
            })?;
            let (_shape, data) = value.try_extract_tensor::<f32>().map_err(inference_error)?;
            Ok(data)
        };
        let mut per_stride = Vec::with_capacity(YUNET_STRIDES.len());
        for stride in YUNET_STRIDES {
            per_stride.push(YunetStrideOutputs {
                stride,
                cls: extract(format!("cls_{stride}"))?,
                obj: extract(format!("obj_{stride}"))?,
                bbox: extract(format!("bbox_{stride}"))?,
                kps: extract(format!("kps_{stride}"))?,
            });
        }
        decode_yunet_outputs(&per_stride, &input.geometry, self.detection_score_threshold)
    }

    /// Embeds a face already aligned to the 112x112 ArcFace template (SFace alone, no alignment;
    /// the benchmarks time this stage separately).
    pub fn embed_aligned(&self, aligned: &RgbImage) -> Result<FaceEmbedding, BiometricsError> {
        let mut embeddings = self.embed_aligned_batch(std::slice::from_ref(aligned))?;
        embeddings
            .pop()
            .ok_or_else(|| BiometricsError::Inference("SFace returned no embedding".to_owned()))
    }

    /// Embeds aligned 112x112 faces: split over the recogniser sessions, each share run side by
    /// side as one batch.
    pub fn embed_aligned_batch(
        &self,
        aligned: &[RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
        if aligned.len() < 2 || self.recogniser.len() < 2 {
            return self.embed_on_one_session(aligned);
        }
        let share = aligned.len().div_ceil(self.recogniser.len());
        let mut chunks = aligned.chunks(share);
        let first = chunks.next().unwrap_or_default();
        let (first_result, rest) = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .map(|chunk| scope.spawn(move || self.embed_on_one_session(chunk)))
                .collect();
            let first_result = self.embed_on_one_session(first);
            let rest: Vec<_> = handles
                .into_iter()
                .map(std::thread::ScopedJoinHandle::join)
                .collect();
            (first_result, rest)
        });
        let mut embeddings = first_result?;
        for result in rest {
            let chunk = result.map_err(|_| {
                BiometricsError::Inference("an SFace worker thread panicked".to_owned())
            })?;
            embeddings.extend(chunk?);
        }
        Ok(embeddings)
    }

    /// Embeds aligned faces in one SFace run (batch dimension = number of faces).
    fn embed_on_one_session(
        &self,
        aligned: &[RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
        if aligned.is_empty() {
            return Ok(Vec::new());
        }
        let side = ALIGNED_FACE_SIZE as usize;
        let mut batch = Vec::with_capacity(aligned.len() * 3 * side * side);
        for face in aligned {
            batch.extend(sface_input_tensor(face));
        }
        let tensor =
            Tensor::from_array(([aligned.len(), 3, side, side], batch)).map_err(inference_error)?;
        let mut session = self.recogniser.acquire()?;
        let outputs = session
            .run(ort::inputs![self.recogniser_input_name.as_str() => tensor])
            .map_err(inference_error)?;
        let value = outputs.get(RECOGNISER_OUTPUT_NAME).ok_or_else(|| {
            BiometricsError::Inference(format!("SFace output {RECOGNISER_OUTPUT_NAME} is missing"))
        })?;
        let (_shape, data) = value.try_extract_tensor::<f32>().map_err(inference_error)?;
        if data.len() != aligned.len() * EMBEDDING_DIMENSION {
            return Err(BiometricsError::Inference(format!(
                "SFace returned {} values for {} faces",
                data.len(),
                aligned.len()
            )));
        }
        data.chunks_exact(EMBEDDING_DIMENSION)
            .map(|values| {
                FaceEmbedding::from_values(values).ok_or_else(|| {
                    BiometricsError::Inference(
                        "SFace produced an unusable embedding (zero or non-finite)".to_owned(),
                    )
                })
            })
            .collect()
    }
}

/// The face aligned to the ArcFace template, or an inference error for degenerate landmarks.
pub fn align_face(image: &DecodedImage, face: &FaceDetection) -> Result<RgbImage, BiometricsError> {
    warp_to_template(image.as_rgb_image(), &face.landmarks).ok_or_else(|| {
        BiometricsError::Inference("face landmarks are degenerate; cannot align".to_owned())
    })
}

/// Detects faces and embeds the only one; `NoFace` or `MultipleFaces` otherwise.
pub fn extract_single_face(
    engine: &dyn FaceEngine,
    image: &DecodedImage,
) -> Result<(FaceDetection, FaceEmbedding), BiometricsError> {
    let faces = engine.detect_faces(image)?;
    match faces.as_slice() {
        [] => Err(BiometricsError::NoFace),
        [face] => {
            let embedding = engine.embed_face(image, face)?;
            Ok((*face, embedding))
        }
        several => Err(BiometricsError::MultipleFaces {
            count: several.len(),
            boxes: several.iter().map(|face| face.bbox).collect(),
        }),
    }
}

/// Returns the process-wide environment, loading ONNX Runtime from `dylib` and creating the
/// shared thread pool with `threads` on first use (later calls get the existing pool).
pub(crate) fn shared_environment(
    dylib: &Path,
    threads: SessionThreads,
) -> Result<Environment, BiometricsError> {
    let mut slot = ORT_ENVIRONMENT.lock().map_err(|_| {
        BiometricsError::ModelLoad("ONNX Runtime environment lock is poisoned".to_owned())
    })?;
    if let Some(environment) = slot.as_ref() {
        return Ok(environment.clone());
    }
    if !dylib.is_file() {
        return Err(BiometricsError::ModelLoad(format!(
            "ONNX Runtime library not found at {}",
            dylib.display()
        )));
    }
    // The library must be loaded (init_from) before any other ONNX Runtime call.
    let builder = ort::init_from(dylib).map_err(|error| {
        BiometricsError::ModelLoad(format!(
            "cannot load ONNX Runtime from {}: {error}",
            dylib.display()
        ))
    })?;
    let pool_error = |error: ort::Error| {
        BiometricsError::ModelLoad(format!(
            "cannot configure the ONNX Runtime thread pool: {error}"
        ))
    };
    let pool = ort::environment::GlobalThreadPoolOptions::default()
        .with_intra_threads(threads.intra)
        .and_then(|pool| pool.with_inter_threads(threads.inter))
        // Spinning between operators is what lets one pool serve back-to-back model runs fast;
        // with one shared pool nothing else competes for the cores while it spins.
        .and_then(|pool| pool.with_spin_control(true))
        .map_err(pool_error)?;
    let environment = builder
        .with_name("simgate-biometrics")
        .with_telemetry(false)
        .with_global_thread_pool(pool)
        .build()
        .map_err(|error| {
            BiometricsError::ModelLoad(format!("cannot create ONNX Runtime environment: {error}"))
        })?;
    *slot = Some(environment.clone());
    Ok(environment)
}

/// ONNX Runtime thread-pool sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionThreads {
    pub(crate) intra: usize,
    pub(crate) inter: usize,
}

/// Builds a CPU session for one model file.
pub(crate) fn load_session(
    environment: &Environment,
    model_path: &Path,
    threads: SessionThreads,
) -> Result<Session, BiometricsError> {
    if !model_path.is_file() {
        return Err(BiometricsError::ModelLoad(format!(
            "model file not found at {}",
            model_path.display()
        )));
    }
    let load_error = |error: &dyn std::fmt::Display| {
        BiometricsError::ModelLoad(format!("{}: {error}", model_path.display()))
    };
    // The environment's shared pool replaces per-session threads (ort disables those itself).
    Session::builder(environment)
        .map_err(|error| load_error(&error))?
        // Inter-op threads only take effect in parallel mode; YuNet's three heads can overlap.
        .with_parallel_execution(threads.inter > 1)
        .map_err(|error| load_error(&error))?
        .commit_from_file(model_path)
        .map_err(|error| load_error(&error))
}

/// Fails unless the session declares every named output.
pub(crate) fn require_outputs(
    session: &Session,
    model: &str,
    required: &[String],
) -> Result<(), BiometricsError> {
    let declared: Vec<&str> = session
        .outputs()
        .iter()
        .map(|outlet| outlet.name())
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|name| !declared.contains(name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(BiometricsError::ModelLoad(format!(
            "{model} lacks outputs {missing:?} (has {declared:?})"
        )))
    }
}

/// Name of the session's single image input.
pub(crate) fn first_input_name(session: &Session, model: &str) -> Result<String, BiometricsError> {
    session
        .inputs()
        .first()
        .map(|outlet| outlet.name().to_owned())
        .ok_or_else(|| BiometricsError::ModelLoad(format!("{model} declares no inputs")))
}

/// Locks a session, turning a poisoned lock into an inference error.
pub(crate) fn lock(session: &Mutex<Session>) -> Result<MutexGuard<'_, Session>, BiometricsError> {
    session
        .lock()
        .map_err(|_| BiometricsError::Inference("model session lock is poisoned".to_owned()))
}

/// Wraps an ONNX Runtime error as [`BiometricsError::Inference`].
pub(crate) fn inference_error(error: ort::Error) -> BiometricsError {
    BiometricsError::Inference(error.to_string())
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, codecs::png::PngEncoder};

    use super::*;
    use crate::{
        decode::{DecodeLimits, decode_image},
        detect::{BoundingBox, Point},
    };

    /// A fake engine that "finds" a fixed number of faces.
    struct FakeEngine {
        face_count: usize,
    }

    impl FaceEngine for FakeEngine {
        fn detect_faces(
            &self,
            _image: &DecodedImage,
        ) -> Result<Vec<FaceDetection>, BiometricsError> {
            let face = FaceDetection {
                bbox: BoundingBox {
                    x: 1.0,
                    y: 1.0,
                    width: 10.0,
                    height: 10.0,
                },
                // Distinct points, so the face can be aligned.
                landmarks: crate::align::ARCFACE_TEMPLATE.map(|[x, y]| Point {
                    x: x / 10.0,
                    y: y / 10.0,
                }),
                score: 0.95,
            };
            Ok(vec![face; self.face_count])
        }

        fn embed_aligned_faces(
            &self,
            aligned: &[RgbImage],
        ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
            aligned
                .iter()
                .map(|_| {
                    FaceEmbedding::from_values(&[1.0; crate::embed::EMBEDDING_DIMENSION])
                        .ok_or_else(|| BiometricsError::Inference("fake embedding".to_owned()))
                })
                .collect()
        }

        fn model_info(&self) -> ModelInfo {
            ModelInfo {
                detector: "fake".to_owned(),
                recogniser: "fake".to_owned(),
            }
        }
    }

    fn tiny_image() -> DecodedImage {
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&[0u8; 4 * 4 * 3], 4, 4, image::ExtendedColorType::Rgb8)
            .unwrap();
        decode_image(&png, &DecodeLimits::default()).unwrap()
    }

    #[test]
    fn single_face_policy() {
        let image = tiny_image();
        let none = extract_single_face(&FakeEngine { face_count: 0 }, &image);
        assert!(matches!(none, Err(BiometricsError::NoFace)));
        let several = extract_single_face(&FakeEngine { face_count: 3 }, &image);
        assert!(matches!(
            several,
            Err(BiometricsError::MultipleFaces { count: 3, .. })
        ));
        let (face, embedding) = extract_single_face(&FakeEngine { face_count: 1 }, &image).unwrap();
        assert_eq!(face.score, 0.95);
        assert!((embedding.cosine_similarity(&embedding) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn missing_models_give_a_load_error() {
        let config = EngineConfig {
            models_dir: PathBuf::from("/nonexistent/models"),
            ort_dylib: PathBuf::from("/nonexistent/libonnxruntime.so"),
            ..EngineConfig::default()
        };
        let result = OrtFaceEngine::load(&config);
        assert!(matches!(result, Err(BiometricsError::ModelLoad(_))));
    }

    #[test]
    fn rejects_threshold_outside_unit_interval() {
        let config = EngineConfig {
            detection_score_threshold: 1.5,
            ..EngineConfig::default()
        };
        assert!(matches!(
            OrtFaceEngine::load(&config),
            Err(BiometricsError::ModelLoad(_))
        ));
    }
}
