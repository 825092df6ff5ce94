//! Shared application state: the external things every handler may need, as trait objects,
//! wired once in [`crate::startup`].

use std::sync::{Arc, OnceLock};

use simgate_biometrics::{decode::DecodeLimits, engine::FaceEngine, pad::PadEngine};
use simgate_core::Clock;
use simgate_store::Store;

use crate::{config::Settings, metrics::Metrics};

/// Handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Current time.
    pub clock: Arc<dyn Clock>,
    /// Face models (loaded in the background at start-up).
    pub faces: Arc<FaceModels>,
    /// Prometheus registry and instruments.
    pub metrics: Arc<Metrics>,
    /// The configuration the server started with.
    pub settings: Arc<Settings>,
    /// Per-caller request rate limits.
    pub rate_limiter: Arc<crate::rate_limit::RateLimiter>,
    /// The subscriber-id key, read from (or created in) the store on first use.
    pub subscriber_key: Arc<tokio::sync::OnceCell<zeroize::Zeroizing<Vec<u8>>>>,
    /// The key that hashes risk-rule keys (MSISDN, EID, document...), read or created on first use.
    pub risk_key: Arc<tokio::sync::OnceCell<zeroize::Zeroizing<Vec<u8>>>>,
    /// Bounded admission to face inference.
    pub inference_gate: Arc<crate::admission::InferenceGate>,
    /// Second-factor settings, the SMS-code key and the SMS delivery worker.
    pub second_factor: Arc<crate::second_factor::SecondFactor>,
}

/// State of the face-model slot: filled once, by the background loader or by a test.
#[derive(Default)]
pub struct FaceModels {
    slot: OnceLock<Result<Arc<dyn FaceEngine>, String>>,
    pad: OnceLock<PadSlot>,
}

/// Outcome of loading the optional PAD models.
#[derive(Clone)]
pub enum PadSlot {
    /// `faces.pad.models` is empty: PAD is not run, results say `not_configured`.
    NotConfigured,
    /// Loaded and usable.
    Loaded(Arc<dyn PadEngine>),
    /// Configured but loading failed; the message says why.
    Failed(String),
}

/// Whether passive PAD can run, for `/readyz` and compare answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PadStatus {
    /// Not configured (no models listed).
    NotConfigured,
    /// Configured and still loading.
    Loading,
    /// Loaded; the model identifiers.
    Ready(Vec<String>),
    /// Configured but failed to load.
    Failed(String),
}

/// Whether the face models can serve requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// Loaded and usable.
    Ready,
    /// Still loading.
    Loading,
    /// Loading failed; the message says why.
    Failed(String),
}

impl FaceModels {
    /// Records the outcome of loading. Later calls are ignored.
    pub fn set(&self, outcome: Result<Arc<dyn FaceEngine>, String>) {
        let _ = self.slot.set(outcome);
    }

    /// The engine, if loaded.
    pub fn engine(&self) -> Option<Arc<dyn FaceEngine>> {
        match self.slot.get() {
            Some(Ok(engine)) => Some(Arc::clone(engine)),
            _ => None,
        }
    }

    /// Records the outcome of loading the PAD models. Later calls are ignored.
    pub fn set_pad(&self, outcome: PadSlot) {
        let _ = self.pad.set(outcome);
    }

    /// The PAD engine, if configured and loaded.
    pub fn pad_engine(&self) -> Option<Arc<dyn PadEngine>> {
        match self.pad.get() {
            Some(PadSlot::Loaded(engine)) => Some(Arc::clone(engine)),
            _ => None,
        }
    }

    /// The PAD loading status.
    pub fn pad_status(&self) -> PadStatus {
        match self.pad.get() {
            None => PadStatus::Loading,
            Some(PadSlot::NotConfigured) => PadStatus::NotConfigured,
            Some(PadSlot::Loaded(engine)) => PadStatus::Ready(engine.model_ids()),
            Some(PadSlot::Failed(message)) => PadStatus::Failed(message.clone()),
        }
    }

    /// The loading status, for `/readyz` and 503 answers.
    pub fn status(&self) -> ModelStatus {
        match self.slot.get() {
            None => ModelStatus::Loading,
            Some(Ok(_)) => ModelStatus::Ready,
            Some(Err(message)) => ModelStatus::Failed(message.clone()),
        }
    }
}

impl AppState {
    /// Image limits for face uploads.
    pub fn face_decode_limits(&self) -> DecodeLimits {
        let faces = &self.settings.faces;
        DecodeLimits {
            max_bytes: faces.max_image_bytes,
            max_pixels: faces.max_image_pixels,
            max_dimension: faces.max_image_dimension,
        }
    }
}
