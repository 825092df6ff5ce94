//! Typed configuration: defaults, then an optional TOML file, then `SIMGATE__SECTION__KEY`
//! environment overrides, then `SIMGATE__SECTION__KEY_FILE` secrets (a file whose content is the
//! value, as Kubernetes mounts Secrets). Later sources win. Validation runs once, at load.

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Format as _, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use simgate_biometrics::{
    compare::DocumentReplayThresholds,
    pad::PadConfig,
    prepare::{FaceCheckConfig, PortraitUpscale},
    quality::QualityThresholds,
    select::SelectionPolicy,
};

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "SIMGATE__";

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or did not match the schema.
    #[error("configuration error: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A `*_FILE` secret could not be read.
    #[error("cannot read secret file {path} (from {variable}): {source}")]
    SecretFile {
        /// The environment variable naming the file.
        variable: String,
        /// The file path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Values load but make no sense together.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole service configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener and request handling.
    pub server: ServerSettings,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Model files and inference threading.
    pub models: ModelSettings,
    /// Face comparison limits and threshold.
    pub faces: FaceSettings,
    /// Log output.
    pub logging: LoggingSettings,
    /// Data keys sealing sensitive columns at rest.
    pub encryption: EncryptionSettings,
    /// Activation-token issuing and signing keys.
    pub tokens: TokenSettings,
    /// Verification sessions: the steps and limits of each channel.
    pub flow: simgate_flow::FlowPolicy,
    /// Signed callbacks on decisions and revocations.
    pub webhooks: WebhookSettings,
    /// The second factor: TOTP parameters, SMS code limits and message texts.
    pub otp: OtpSettings,
    /// SMS delivery: which gateway, and the outbox worker's retries.
    pub sms: simgate_sms::SmsSettings,
    /// Risk monitoring: the rules, as data.
    pub risk: RiskSettings,
    /// How long records are kept before `simgate purge` deletes them.
    pub retention: crate::retention::RetentionSettings,
}

/// `[risk]`: monitoring rules over sliding windows (`[[risk.rules]]`, validated at load; an
/// empty list switches monitoring off), the geography the region rules use, and where the
/// client's address comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSettings {
    /// The rules; the default set is [`simgate_risk::RiskRules::default`].
    pub rules: simgate_risk::RiskRules,
    /// Home regions, region centroids, store locations, travel speed (`[risk.geography]`).
    pub geography: simgate_risk::geography::Geography,
    /// A header the deployment's ingress sets to the client's address (e.g. `x-forwarded-for`;
    /// its first address is taken). Empty: the TCP peer address, right without a proxy.
    pub client_ip_header: String,
    /// A header the deployment's ingress or CDN sets to the region of the client's address
    /// (an IP-geolocation country such as `MU`): a verification opened with it is a sighting
    /// there. Empty: off (no IP-to-region lookup ships with simgate).
    pub client_region_header: String,
}

/// `[otp]`: the second factor. Every value is checked at load by building the otp crate's
/// settings from it, so a bad value fails at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpSettings {
    /// The carrier's name: the TOTP issuer shown in authenticator apps and named in SMS texts.
    pub carrier_name: String,
    /// TOTP HMAC: `SHA1` (what every authenticator app supports), `SHA256` or `SHA512`.
    pub totp_algorithm: String,
    /// TOTP code length.
    pub totp_digits: u8,
    /// TOTP time step in seconds.
    pub totp_step_secs: u64,
    /// TOTP steps of clock skew accepted each way.
    pub totp_skew_steps: u8,
    /// SMS code length (6 to 10).
    pub sms_code_digits: u8,
    /// SMS code lifetime in seconds (at most 600).
    pub sms_code_lifetime_secs: u64,
    /// Verification attempts per SMS code.
    pub max_attempts_per_code: u32,
    /// Refused codes in a row (any method) before the subscriber's second factor is locked.
    pub max_consecutive_failures: u32,
    /// Seconds between two codes sent to one number.
    pub resend_cooldown_secs: u64,
    /// Codes sent to one number per rolling hour.
    pub max_sends_per_msisdn_per_hour: u32,
    /// Codes sent on behalf of one API key per rolling hour.
    pub max_sends_per_client_per_hour: u32,
    /// Locale of the SMS text when a request names none (must have a template).
    pub default_locale: String,
    /// Extra or replacement SMS texts by locale, with `{code}`, `{carrier}` and `{minutes}`.
    pub templates: std::collections::BTreeMap<String, String>,
}

impl Default for OtpSettings {
    fn default() -> Self {
        let sms = simgate_otp::SmsCodeSettings::default();
        Self {
            carrier_name: "simgate".into(),
            totp_algorithm: "SHA1".into(),
            totp_digits: 6,
            totp_step_secs: 30,
            totp_skew_steps: 1,
            sms_code_digits: sms.digits(),
            sms_code_lifetime_secs: u64::try_from(sms.lifetime().whole_seconds()).unwrap_or(300),
            max_attempts_per_code: sms.max_attempts_per_code(),
            max_consecutive_failures: sms.max_consecutive_failures(),
            resend_cooldown_secs: u64::try_from(sms.resend_cooldown().whole_seconds())
                .unwrap_or(60),
            max_sends_per_msisdn_per_hour: sms.max_sends_per_msisdn_per_hour(),
            max_sends_per_client_per_hour: sms.max_sends_per_client_per_hour(),
            default_locale: "en".into(),
            templates: std::collections::BTreeMap::new(),
        }
    }
}

/// The otp crate's settings built from `[otp]`.
#[derive(Debug, Clone)]
pub struct OtpPolicy {
    /// TOTP parameters, with the carrier as issuer.
    pub totp: simgate_otp::TotpSettings,
    /// SMS code limits.
    pub sms_codes: simgate_otp::SmsCodeSettings,
    /// SMS texts by locale.
    pub templates: simgate_otp::SmsTemplates,
    /// The carrier named in texts.
    pub carrier: simgate_otp::CarrierName,
}

impl OtpSettings {
    /// Validates and builds the otp crate's settings.
    pub fn build(&self) -> Result<OtpPolicy, simgate_otp::OtpError> {
        use simgate_otp::{
            CarrierName, SmsCodeSettings, SmsLocale, SmsTemplate, SmsTemplates, TotpAlgorithm,
            TotpSettings,
        };
        let secs = |value: u64| time::Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX));
        let carrier = CarrierName::parse(&self.carrier_name)?;
        let totp = TotpSettings::new(carrier.clone())
            .with_algorithm(TotpAlgorithm::parse(&self.totp_algorithm)?)
            .with_digits(self.totp_digits)?
            .with_step_secs(self.totp_step_secs)?
            .with_skew_steps(self.totp_skew_steps)?;
        let sms_codes = SmsCodeSettings::default()
            .with_digits(self.sms_code_digits)?
            .with_lifetime(secs(self.sms_code_lifetime_secs))?
            .with_max_attempts_per_code(self.max_attempts_per_code)?
            .with_max_consecutive_failures(self.max_consecutive_failures)?
            .with_resend_cooldown(secs(self.resend_cooldown_secs))?
            .with_max_sends_per_msisdn_per_hour(self.max_sends_per_msisdn_per_hour)?
            .with_max_sends_per_client_per_hour(self.max_sends_per_client_per_hour)?;
        let mut templates = SmsTemplates::builtin()?;
        for (locale, text) in &self.templates {
            templates =
                templates.with_template(SmsLocale::parse(locale)?, SmsTemplate::parse(text)?);
        }
        let templates = templates.with_default_locale(SmsLocale::parse(&self.default_locale)?)?;
        Ok(OtpPolicy {
            totp,
            sms_codes,
            templates,
            carrier,
        })
    }
}

/// Signed callbacks (HMAC-SHA256 over timestamp and body) delivered from the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where events are POSTed; empty disables webhooks (nothing is queued).
    pub url: String,
    /// HMAC key of the `Simgate-Signature` header; give it as `SIMGATE__WEBHOOKS__SECRET_FILE`.
    pub secret: Secret,
    /// Per-attempt timeout in seconds.
    pub timeout_secs: u64,
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// First retry delay in seconds; doubles per attempt up to `max_backoff_secs`.
    pub initial_backoff_secs: u64,
    /// Longest delay between attempts, in seconds.
    pub max_backoff_secs: u64,
    /// How often the worker looks for due messages, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret: Secret::default(),
            timeout_secs: 10,
            max_attempts: 12,
            initial_backoff_secs: 2,
            max_backoff_secs: 15 * 60,
            poll_interval_ms: 1000,
        }
    }
}

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "[empty]"
        } else {
            "[redacted]"
        })
    }
}

/// Data keys sealing sensitive columns at rest (AES-256-GCM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionSettings {
    /// `id=base64key[,id=base64key...]`, 32-byte keys; give it as `SIMGATE__ENCRYPTION__KEYS_FILE`.
    /// `simgate keys generate-data-key --id ID` prints an entry.
    pub keys: Secret,
    /// Which key seals new values (default: the last listed); older ones only open old values.
    pub current_key: String,
}

/// Activation-token issuing and signing keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` of issued tokens.
    pub issuer: String,
    /// `aud` of issued tokens: the provisioning (SM-DP+ side) system that verifies them.
    pub audience: String,
    /// Token lifetime in seconds.
    pub lifetime_secs: u64,
    /// Algorithm of new signing keys: `EdDSA` or `ES256`.
    pub algorithm: String,
    /// After a rotation, how long the previous key stays published and accepted.
    pub rotation_overlap_hours: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "simgate".into(),
            audience: "esim-provisioning".into(),
            lifetime_secs: 600,
            algorithm: "EdDSA".into(),
            rotation_overlap_hours: 24,
        }
    }
}

/// HTTP listener and request handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 picks a free port (tests).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub request_body_limit_bytes: usize,
    /// A request taking longer than this is answered 408.
    pub request_timeout_secs: u64,
    /// A connection that has not sent a request's complete headers this long after it opened
    /// (or after its previous request) is closed: slow-loris clients cannot hold connections.
    pub header_read_timeout_secs: u64,
    /// After SIGTERM, how long in-flight requests may take before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// Sustained requests per second per caller (API key, else client IP) per replica; 0 disables.
    pub rate_limit_per_sec: f64,
    /// Burst a caller may send above the sustained rate.
    pub rate_limit_burst: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            request_body_limit_bytes: 25 * 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 25,
            rate_limit_per_sec: 20.0,
            rate_limit_burst: 40,
        }
    }
}

/// Database connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://var/simgate.db` (default) or `postgres://...`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// Apply migrations when `serve` starts (off when a Kubernetes Job migrates once per release).
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://var/simgate.db".into(),
            max_connections: 10,
            acquire_timeout_secs: 5,
            migrate_on_start: true,
        }
    }
}

/// Model files and inference threading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// Directory holding `yunet.onnx` and `sface.onnx`.
    pub dir: PathBuf,
    /// Path of `libonnxruntime.so.1.31.0`.
    pub ort_dylib: PathBuf,
    /// Threads of the process-wide ONNX Runtime pool every model session shares.
    pub intra_threads: usize,
    /// Inter-op threads of that pool (above 1: parallel execution mode).
    pub inter_threads: usize,
    /// Minimum YuNet score for a face to count.
    pub detection_score_threshold: f32,
    /// Longer side, in pixels, of the image the face detector sees in its single full pass:
    /// photos are scaled to it (alignment and quality still use the uploaded pixels). With
    /// two-pass detection it runs only where the coarse pass cannot stand.
    pub detection_side: u32,
    /// Longer side of the coarse whole-image pass of two-pass detection; 0 turns two-pass
    /// detection off (one pass at `detection_side`).
    pub coarse_detection_side: u32,
    /// Longer side the crop around each face found by the coarse pass is scaled to for the
    /// second pass, which measures its box and landmarks.
    pub refine_detection_side: u32,
    /// Sessions per model, i.e. model runs that can go at once.
    pub sessions_per_model: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            dir: "models/dist".into(),
            ort_dylib: "models/dist/libonnxruntime.so.1.31.0".into(),
            intra_threads: 1,
            inter_threads: 1,
            detection_score_threshold: 0.9,
            detection_side: simgate_biometrics::detect::DEFAULT_DETECTION_SIDE,
            coarse_detection_side: simgate_biometrics::refine::DEFAULT_COARSE_SIDE,
            refine_detection_side: simgate_biometrics::refine::DEFAULT_REFINE_SIDE,
            sessions_per_model: 2,
        }
    }
}

impl ModelSettings {
    /// The face engine configuration these settings describe.
    pub fn engine_config(&self) -> simgate_biometrics::engine::EngineConfig {
        simgate_biometrics::engine::EngineConfig {
            models_dir: self.dir.clone(),
            ort_dylib: self.ort_dylib.clone(),
            intra_threads: self.intra_threads,
            inter_threads: self.inter_threads,
            detection_score_threshold: self.detection_score_threshold,
            detection_side: self.detection_side,
            two_pass: simgate_biometrics::refine::TwoPassDetection {
                coarse_side: self.coarse_detection_side,
                refine_side: self.refine_detection_side,
                ..simgate_biometrics::refine::TwoPassDetection::default()
            },
            sessions_per_model: self.sessions_per_model,
        }
    }
}

/// Face comparison limits and threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceSettings {
    /// Cosine similarity at or above which two faces match.
    pub match_threshold: f32,
    /// The false-match rate the threshold stands for, as documented in models/MODEL_CARD.md.
    pub threshold_basis: String,
    /// Largest accepted image, in bytes.
    pub max_image_bytes: usize,
    /// Largest accepted image, in pixels (width x height), checked before decoding.
    pub max_image_pixels: u64,
    /// Largest accepted width or height.
    pub max_image_dimension: u32,
    /// The false-match rate `match_threshold` is calibrated for (returned with every compare).
    pub threshold_fmr: f64,
    /// Compares running decode + inference at once per replica; more wait in the queue.
    pub max_in_flight: usize,
    /// Compares allowed to wait for an inference slot; beyond that the API answers 503.
    pub max_queued: usize,
    /// `Retry-After` seconds on a 503 when the inference queue is full.
    pub busy_retry_after_secs: u64,
    /// Face selection and the quality gate run before matching (`faces.quality.*`).
    pub quality: FaceQualitySettings,
    /// Passive presentation-attack detection (`faces.pad.*`); no models = not configured.
    pub pad: PadConfig,
    /// When a selfie counts as the document portrait itself (`faces.document_replay.*`).
    pub document_replay: DocumentReplayThresholds,
}

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            match_threshold: simgate_biometrics::calibration::SHIPPED_MATCH_THRESHOLD,
            threshold_basis: simgate_biometrics::calibration::SHIPPED_THRESHOLD_BASIS.into(),
            max_image_bytes: 10 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            max_image_dimension: 12_000,
            threshold_fmr: simgate_biometrics::calibration::SHIPPED_THRESHOLD_FMR,
            max_in_flight: 2,
            max_queued: 8,
            busy_retry_after_secs: 1,
            quality: FaceQualitySettings::default(),
            pad: PadConfig::default(),
            document_replay: DocumentReplayThresholds::default(),
        }
    }
}

/// Face selection and quality thresholds; selfies (probes) and document portraits
/// (references) have separate limits, the document ones looser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceQualitySettings {
    /// Limits for the probe (live selfie).
    pub selfie: QualityThresholds,
    /// Limits for the reference (document portrait).
    pub document: QualityThresholds,
    /// Which face counts, and when a second face in a selfie is rejected.
    pub selection: SelectionPolicy,
    /// Upscaling of small document portraits before alignment.
    pub portrait_upscale: PortraitUpscale,
}

impl Default for FaceQualitySettings {
    fn default() -> Self {
        let checks = FaceCheckConfig::default();
        Self {
            selfie: checks.selfie_quality,
            document: checks.document_quality,
            selection: checks.selection,
            portrait_upscale: checks.portrait_upscale,
        }
    }
}

impl FaceQualitySettings {
    /// The biometrics crate's view of these settings.
    pub fn face_check_config(&self) -> FaceCheckConfig {
        FaceCheckConfig {
            selection: self.selection,
            selfie_quality: self.selfie,
            document_quality: self.document,
            portrait_upscale: self.portrait_upscale,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (default; what log shippers want).
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSettings {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info,simgate_api=debug`.
    pub filter: String,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            filter: "info".into(),
        }
    }
}

impl Settings {
    /// Loads from the optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads from the optional file and the given environment (tests pass their own).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only variables we were given count, not the real process environment, so tests are hermetic.
        figment = figment.merge(env_provider(&env));
        for (variable, path) in env.iter().filter(|(k, _)| k.ends_with("_FILE")) {
            let key = variable[ENV_PREFIX.len()..variable.len() - "_FILE".len()]
                .to_lowercase()
                .replace("__", ".");
            let value =
                std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                    variable: variable.clone(),
                    path: path.into(),
                    source,
                })?;
            figment = figment.merge((key, value.trim_end_matches(['\n', '\r']).to_owned()));
        }
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Rejects combinations that would fail later in confusing ways.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if let Err(error) = self.flow.validate() {
            return invalid(error.to_string());
        }
        if let Err(error) = self.otp.build() {
            return invalid(format!("otp: {error}"));
        }
        if let Err(error) = self.sms.validate() {
            return invalid(format!("sms: {error}"));
        }
        if let Err(error) = self.risk.geography.validate() {
            return invalid(format!("risk: {error}"));
        }
        if !self.webhooks.url.is_empty() {
            if !(self.webhooks.url.starts_with("http://")
                || self.webhooks.url.starts_with("https://"))
            {
                return invalid("webhooks.url must be an http(s) URL".into());
            }
            if self.webhooks.secret.0.len() < 16 {
                return invalid(
                    "webhooks.secret must be at least 16 characters when webhooks.url is set"
                        .into(),
                );
            }
            if self.webhooks.max_attempts == 0 {
                return invalid("webhooks.max_attempts must be at least 1".into());
            }
        }
        if !(-1.0..=1.0).contains(&self.faces.match_threshold) {
            return invalid(format!(
                "faces.match_threshold {} is not a cosine similarity in [-1, 1]",
                self.faces.match_threshold
            ));
        }
        if !(0.0..=1.0).contains(&self.models.detection_score_threshold) {
            return invalid("models.detection_score_threshold must be in [0, 1]".into());
        }
        if self.server.request_body_limit_bytes < 2 * self.faces.max_image_bytes {
            return invalid("server.request_body_limit_bytes must hold two images (>= 2 x faces.max_image_bytes)".into());
        }
        if self.faces.max_image_bytes == 0
            || self.faces.max_image_pixels == 0
            || self.faces.max_image_dimension == 0
        {
            return invalid("faces image limits must be positive".into());
        }
        validate_face_checks(&self.faces)?;
        if self.models.intra_threads == 0 {
            return invalid("models.intra_threads must be at least 1".into());
        }
        if self.models.detection_side < simgate_biometrics::detect::YUNET_INPUT_ALIGNMENT {
            return invalid(format!(
                "models.detection_side must be at least {}",
                simgate_biometrics::detect::YUNET_INPUT_ALIGNMENT
            ));
        }
        if self.models.coarse_detection_side != 0
            && (self.models.coarse_detection_side
                < simgate_biometrics::detect::YUNET_INPUT_ALIGNMENT
                || self.models.refine_detection_side
                    < simgate_biometrics::detect::YUNET_INPUT_ALIGNMENT)
        {
            return invalid(format!(
                "models.coarse_detection_side (0 for one pass) and models.refine_detection_side \
                 must be at least {}",
                simgate_biometrics::detect::YUNET_INPUT_ALIGNMENT
            ));
        }
        if !(1..=16).contains(&self.models.sessions_per_model) {
            return invalid("models.sessions_per_model must be between 1 and 16".into());
        }
        if self.models.inter_threads == 0 {
            return invalid("models.inter_threads must be at least 1".into());
        }
        if self.faces.max_in_flight == 0 {
            return invalid("faces.max_in_flight must be at least 1".into());
        }
        if !(self.faces.threshold_fmr > 0.0 && self.faces.threshold_fmr < 1.0) {
            return invalid("faces.threshold_fmr must be a rate in (0, 1)".into());
        }
        if !matches!(self.tokens.algorithm.as_str(), "EdDSA" | "ES256") {
            return invalid(format!(
                "tokens.algorithm {:?} must be EdDSA or ES256",
                self.tokens.algorithm
            ));
        }
        if !(10..=3600).contains(&self.tokens.lifetime_secs) {
            return invalid("tokens.lifetime_secs must be between 10 and 3600".into());
        }
        if !self.server.rate_limit_per_sec.is_finite() || self.server.rate_limit_per_sec < 0.0 {
            return invalid("server.rate_limit_per_sec must be a non-negative number".into());
        }
        if self.server.request_timeout_secs == 0 {
            return invalid("server.request_timeout_secs must be at least 1".into());
        }
        if !(1..=300).contains(&self.server.header_read_timeout_secs) {
            return invalid("server.header_read_timeout_secs must be 1 to 300".into());
        }
        Ok(())
    }
}

/// Rejects face-check limits that could never pass or never fail.
fn validate_face_checks(faces: &FaceSettings) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    for (name, limits) in [
        ("selfie", &faces.quality.selfie),
        ("document", &faces.quality.document),
    ] {
        let values = [
            limits.min_inter_eye_px,
            limits.min_visible_fraction,
            limits.min_sharpness,
            limits.min_brightness,
            limits.max_brightness,
            limits.max_yaw_degrees,
            limits.max_roll_degrees,
            limits.min_eye_contrast,
            limits.max_eye_occlusion,
        ];
        if values
            .iter()
            .any(|value| !value.is_finite() || *value < 0.0)
        {
            return invalid(format!(
                "faces.quality.{name}: limits must be non-negative numbers"
            ));
        }
        if limits.min_visible_fraction > 1.0 || limits.min_brightness >= limits.max_brightness {
            return invalid(format!(
                "faces.quality.{name}: min_visible_fraction must be <= 1 and min_brightness < max_brightness"
            ));
        }
    }
    let ratio = faces.quality.selection.significant_face_area_ratio;
    if !(ratio > 0.0 && ratio <= 1.0) {
        return invalid(
            "faces.quality.selection.significant_face_area_ratio must be in (0, 1]".into(),
        );
    }
    if !(0.0..=1.0).contains(&faces.pad.threshold) {
        return invalid(format!(
            "faces.pad.threshold {} is not a probability in [0, 1]",
            faces.pad.threshold
        ));
    }
    Ok(())
}

/// Turns `SIMGATE__A__B=value` pairs into a figment provider with typed values.
fn env_provider(env: &[(String, String)]) -> Figment {
    let mut figment = Figment::new();
    for (key, value) in env.iter().filter(|(k, _)| !k.ends_with("_FILE")) {
        let path = key[ENV_PREFIX.len()..].to_lowercase().replace("__", ".");
        let value: figment::value::Value = value.parse().unwrap_or_else(|_| value.clone().into());
        figment = figment.merge((path, value));
    }
    figment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_serve_sqlite_on_loopback_8080() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.database.url, "sqlite://var/simgate.db");
        assert!((settings.faces.match_threshold - 0.363).abs() < 1e-6);
    }

    #[test]
    fn default_threshold_is_the_calibrated_one_with_its_fmr() {
        use simgate_biometrics::calibration as cal;
        let faces = Settings::load_from(None, env(&[])).unwrap().faces;
        assert_eq!(faces.match_threshold, cal::SHIPPED_MATCH_THRESHOLD);
        assert_eq!(faces.threshold_fmr, cal::SHIPPED_THRESHOLD_FMR);
        assert_eq!(faces.threshold_basis, cal::SHIPPED_THRESHOLD_BASIS);
        assert!(Settings::load_from(None, env(&[("SIMGATE__FACES__THRESHOLD_FMR", "0")])).is_err());
        assert!(Settings::load_from(None, env(&[("SIMGATE__FACES__MAX_IN_FLIGHT", "0")])).is_err());
    }

    #[test]
    fn file_then_env_then_secret_file_each_override_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("simgate.toml");
        std::fs::write(&file, "[server]\nport = 9000\nhost = \"0.0.0.0\"\n[database]\nurl = \"sqlite://from-file.db\"\n").unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://app:s3cret@db:5432/simgate\n").unwrap();
        let data_keys = dir.path().join("data-keys");
        std::fs::write(
            &data_keys,
            "k1=c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcyEhIQ\n",
        )
        .unwrap();

        let from_file = Settings::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(
            (from_file.server.port, from_file.server.host.as_str()),
            (9000, "0.0.0.0")
        );
        assert_eq!(from_file.database.url, "sqlite://from-file.db");

        let overridden = Settings::load_from(
            Some(&file),
            env(&[
                ("SIMGATE__SERVER__PORT", "9100"),
                ("SIMGATE__FACES__MATCH_THRESHOLD", "0.5"),
                ("SIMGATE__DATABASE__MIGRATE_ON_START", "false"),
                ("SIMGATE__DATABASE__URL_FILE", secret.to_str().unwrap()),
                (
                    "SIMGATE__ENCRYPTION__KEYS_FILE",
                    data_keys.to_str().unwrap(),
                ),
                ("UNRELATED", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(overridden.server.port, 9100);
        assert_eq!(
            overridden.server.host, "0.0.0.0",
            "file value kept where env is silent"
        );
        assert!((overridden.faces.match_threshold - 0.5).abs() < 1e-6);
        assert!(!overridden.database.migrate_on_start);
        assert_eq!(
            overridden.database.url, "postgres://app:s3cret@db:5432/simgate",
            "secret file wins, newline trimmed"
        );
        assert_eq!(
            overridden.encryption.keys.0,
            "k1=c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcyEhIQ"
        );
        assert!(
            !format!("{overridden:?}").contains("c2VjcmV0"),
            "data keys never appear in Debug output"
        );
    }

    #[test]
    fn face_quality_and_pad_settings_load_with_per_kind_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("simgate.toml");
        std::fs::write(
            &file,
            "[faces.quality.document]\nmin_inter_eye_px = 18.0\n[faces.pad]\nmodels = [\"a/2.7_80x80_MiniFASNetV2.onnx\"]\n",
        )
        .unwrap();
        let settings = Settings::load_from(
            Some(&file),
            env(&[("SIMGATE__FACES__QUALITY__SELFIE__MAX_YAW_DEGREES", "20")]),
        )
        .unwrap();
        let quality = &settings.faces.quality;
        assert_eq!(quality.document.min_inter_eye_px, 18.0);
        assert_eq!(
            quality.document.min_sharpness,
            QualityThresholds::document_portrait().min_sharpness,
            "unset document fields keep the document defaults, not the selfie ones"
        );
        assert_eq!(quality.selfie.max_yaw_degrees, 20.0);
        assert!(settings.faces.pad.is_configured());
        assert!(!Settings::default().faces.pad.is_configured());
    }

    #[test]
    fn example_config_file_loads_and_states_the_face_defaults() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/simgate.example.toml");
        let settings = Settings::load_from(Some(&example), env(&[])).unwrap();
        assert_eq!(settings.faces, FaceSettings::default());
        assert_eq!(
            settings.risk,
            RiskSettings::default(),
            "the example states the shipped rules"
        );
    }

    #[test]
    fn unknown_keys_bad_types_and_missing_files_are_errors() {
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__SERVER__PROT", "1")])).is_err(),
            "typo in key"
        );
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__SERVER__PORT", "eighty")])).is_err(),
            "not a number"
        );
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__SERVER__PORT", "70000")])).is_err(),
            "out of range"
        );
        assert!(
            Settings::load_from(Some(Path::new("/nonexistent/simgate.toml")), env(&[])).is_err()
        );
        let missing = Settings::load_from(
            None,
            env(&[("SIMGATE__DATABASE__URL_FILE", "/nonexistent/secret")]),
        );
        assert!(matches!(missing, Err(ConfigError::SecretFile { .. })));
    }

    #[test]
    fn nonsensical_values_are_rejected_at_load() {
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__FACES__MATCH_THRESHOLD", "1.5")])).is_err()
        );
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__MODELS__INTRA_THREADS", "0")])).is_err()
        );
        assert!(
            Settings::load_from(None, env(&[("SIMGATE__FACES__PAD__THRESHOLD", "2")])).is_err()
        );
        assert!(
            Settings::load_from(
                None,
                env(&[("SIMGATE__FACES__QUALITY__SELFIE__MIN_BRIGHTNESS", "250")])
            )
            .is_err(),
            "min brightness above max"
        );
        assert!(
            Settings::load_from(
                None,
                env(&[("SIMGATE__SERVER__REQUEST_BODY_LIMIT_BYTES", "1000")])
            )
            .is_err(),
            "body limit smaller than two images"
        );
    }
}
