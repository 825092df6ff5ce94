//! Test harness: the real application on port 0 with its own database (SQLite file or a fresh
//! PostgreSQL database), the real face models, and an HTTP client.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::{process::Command, sync::Arc};

use image::RgbImage;
use time::OffsetDateTime;

use simgate_api::{Application, Overrides, Settings, state::AppState};
use simgate_biometrics::{
    engine::{FaceEngine, OrtFaceEngine},
    testing,
    testing::synthetic,
};
use simgate_core::{ScopeSet, TenantId, api_key::generate_api_key};
use simgate_store::{ApiKeyRecord, Backend, NewApiKey, testing::TestDatabase};
use tokio::{sync::oneshot, task::JoinHandle};

/// Settings for a test server: port 0, the given database, repository models.
/// The consent a kiosk or app sends when the subscriber ticked the notice: what the default
/// kiosk and mobile policies require to open a session.
pub fn consent() -> serde_json::Value {
    serde_json::json!({
        "notice_version": "kiosk-2026-11-en",
        "purposes": ["identity_verification", "biometric_matching"],
        "method": "on_screen",
    })
}

pub fn test_settings(database_url: &str) -> Settings {
    let models = testing::engine_config();
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.database.url = database_url.to_owned();
    settings.models.dir = models.models_dir;
    settings.models.ort_dylib = models.ort_dylib;
    settings.encryption.keys = simgate_api::config::Secret(
        simgate_store::encryption::DataKeys::generate_spec_entry("test-1"),
    );
    settings
}

/// Narrows the kiosk and mobile policies to the document step and a single-frame selfie, for
/// tests of those two steps; the default policies (second factor, and active liveness on
/// mobile) are driven end to end in `end_to_end.rs`.
pub fn document_and_single_frame_selfie(settings: &mut Settings) {
    use simgate_flow::Step;
    for policy in [&mut settings.flow.kiosk, &mut settings.flow.mobile] {
        policy.required_steps = vec![Step::Document, Step::Selfie];
        policy.active_liveness_required = false;
    }
}

/// The real face engine, loaded once per test process.
pub fn face_engine() -> Arc<dyn FaceEngine> {
    static ENGINE: std::sync::OnceLock<Arc<dyn FaceEngine>> = std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Arc::new(OrtFaceEngine::load(&testing::engine_config()).expect("load face models"))
        })
        .clone()
}

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Client without default credentials.
    pub client: reqwest::Client,
    /// The application's state (store, metrics, models).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// Kept so the database lives as long as the server.
    pub db: TestDatabase,
}

impl TestApp {
    /// Starts a server on a fresh database of `backend` with the real models already loaded.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}, true).await
    }

    /// Starts a server after `adjust` edits the settings; with `preload_models` false the
    /// server loads models itself from the settings, as production does.
    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        preload_models: bool,
    ) -> Self {
        let overrides = Overrides {
            face_engine: preload_models.then(face_engine),
            ..Overrides::default()
        };
        Self::spawn_with_overrides(backend, adjust, overrides).await
    }

    /// Starts a server after `adjust` edits the settings, serving compares with `engine`.
    pub async fn spawn_with_engine(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        engine: Arc<dyn FaceEngine>,
    ) -> Self {
        let overrides = Overrides {
            face_engine: Some(engine),
            ..Overrides::default()
        };
        Self::spawn_with_overrides(backend, adjust, overrides).await
    }

    /// Starts a server with a controllable clock (and the real models preloaded).
    pub async fn spawn_with_clock(backend: Backend, clock: Arc<dyn simgate_core::Clock>) -> Self {
        let overrides = Overrides {
            face_engine: Some(face_engine()),
            clock: Some(clock),
            ..Overrides::default()
        };
        Self::spawn_with_overrides(backend, |_| {}, overrides).await
    }

    /// Starts a server after `adjust` edits the settings, with any dependency replaced.
    pub async fn spawn_with_overrides(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        overrides: Overrides,
    ) -> Self {
        let db = TestDatabase::create(backend).await;
        let mut settings = test_settings(&db.url);
        adjust(&mut settings);
        let application = Application::build_with(settings, overrides)
            .await
            .expect("build application");
        let base = format!("http://127.0.0.1:{}", application.port());
        let state = application.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            state,
            shutdown: Some(tx),
            server: Some(server),
            db,
        }
    }

    /// POSTs `body` as JSON to `path` with `key`.
    pub async fn post_json(
        &self,
        key: &str,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Submits a verification's document step: `image`, and `mrz_text` when given.
    pub async fn post_document(
        &self,
        key: &str,
        id: &str,
        image: Vec<u8>,
        mrz_text: Option<String>,
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "image",
            reqwest::multipart::Part::bytes(image).file_name("document.jpg"),
        );
        if let Some(mrz_text) = mrz_text {
            form = form.text("mrz_text", mrz_text);
        }
        self.client
            .post(self.url(&format!("/v1/verifications/{id}/document")))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with a bearer key.
    pub async fn get_with_key(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE path` with a bearer key.
    pub async fn delete_with_key(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// Creates a key directly in the store and returns its secret.
    pub async fn create_key(&self, tenant: &str, scopes: &str) -> String {
        self.create_key_with_id(tenant, scopes).await.1
    }

    /// Creates a key directly in the store and returns (id, secret).
    pub async fn create_key_with_id(&self, tenant: &str, scopes: &str) -> (String, String) {
        let generated = generate_api_key();
        let record = ApiKeyRecord {
            id: generated.id.clone(),
            tenant: TenantId::parse(tenant).unwrap(),
            name: format!("test {scopes}"),
            display_prefix: generated.display_prefix,
            scopes: ScopeSet::parse_list(scopes).unwrap(),
            created_at: time::OffsetDateTime::now_utc(),
            revoked_at: None,
        };
        self.state
            .store
            .insert_api_key(&NewApiKey {
                record,
                key_hash: generated.hash,
            })
            .await
            .unwrap();
        (generated.id, generated.secret)
    }

    /// Posts a compare with the given image bodies.
    pub async fn compare(
        &self,
        key: &str,
        reference: Vec<u8>,
        probe: Vec<u8>,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .part(
                "reference",
                reqwest::multipart::Part::bytes(reference).file_name("reference.jpg"),
            )
            .part(
                "probe",
                reqwest::multipart::Part::bytes(probe).file_name("probe.jpg"),
            );
        self.client
            .post(self.url("/v1/faces/compare"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Triggers graceful shutdown and waits for the server to stop.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().unwrap().await.unwrap()
    }

    /// Triggers shutdown without waiting; returns the server task.
    pub fn begin_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().unwrap()
    }
}

pub use testing::{
    faceless_png, labelled_photos, photo_bytes as photo, png_claiming_dimensions as png_claiming,
    side_by_side_png as two_faces_png,
};

/// Parses a problem+json response, asserting the content type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:simgate:problem:")
    );
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// For each `async fn scenario(backend: Backend)`, generates `scenario::sqlite` and
/// `scenario::postgres` tests, so the same behaviour is proven on both databases.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(simgate_store::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario(simgate_store::Backend::Postgres).await;
                }
            }
        )*
    };
}

// Documents: a valid TD3 MRZ for person A's passport photo.

/// ICAO 9303 check digit (weights 7, 3, 1; `<` = 0, letters A=10..Z=35).
pub fn check_digit(field: &str) -> char {
    let sum: u32 = field
        .chars()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(c, w)| {
            let value = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => 0,
            };
            value * w
        })
        .sum();
    char::from_digit(sum % 10, 10).unwrap()
}

/// A valid TD3 (passport) MRZ with the given surname, birth date and expiry (`YYMMDD`).
pub fn passport_mrz(surname: &str, birth: &str, expiry: &str) -> String {
    numbered_passport_mrz(surname, "L898902C3", birth, expiry)
}

/// A valid TD3 MRZ for a passport numbered `number` (9 characters).
pub fn numbered_passport_mrz(surname: &str, number: &str, birth: &str, expiry: &str) -> String {
    issued_passport_mrz("UTO", surname, number, birth, expiry)
}

/// A valid TD3 MRZ for a passport of `state` (3 letters, also the holder's nationality).
pub fn issued_passport_mrz(
    state: &str,
    surname: &str,
    number: &str,
    birth: &str,
    expiry: &str,
) -> String {
    let mut line1 = format!("P<{state}{surname}<<ANNA");
    while line1.len() < 44 {
        line1.push('<');
    }
    let optional = "ZE184226B<<<<<";
    let fields = [
        format!("{number}{}", check_digit(number)),
        state.to_owned(),
        format!("{birth}{}", check_digit(birth)),
        "F".to_owned(),
        format!("{expiry}{}", check_digit(expiry)),
        format!("{optional}{}", check_digit(optional)),
    ];
    let composite_input = format!("{}{}{}{}", fields[0], fields[2], fields[4], fields[5]);
    let line2 = format!("{}{}", fields.concat(), check_digit(&composite_input));
    format!("{line1}\n{line2}")
}

pub fn valid_mrz() -> String {
    passport_mrz("ERIKSSON", "900812", "341231")
}

// Selfies: captures of person A, and frames that answer a liveness challenge.

/// A subscriber's capture of person A (whose document photo is `person_a_1.jpg`): the second
/// photo on a grey canvas at an offset that differs per `take`, as two real attempts never
/// frame the scene identically (the same framing would rightly look like a replayed frame).
pub fn capture(take: u32) -> RgbImage {
    let image = testing::photo_rgb("person_a_2.jpg");
    let (width, height) = (image.width(), image.height());
    let mut canvas = RgbImage::from_pixel(
        width + width / 4,
        height + height / 4,
        image::Rgb([118, 124, 130]),
    );
    let step = i64::from(take % 3);
    image::imageops::replace(
        &mut canvas,
        &image,
        step * i64::from(width / 8),
        step * i64::from(height / 8),
    );
    canvas
}

/// Frames of `take` following the challenge `action` as the server words it.
pub fn frames_for(action: &str, take: u32) -> Vec<Vec<u8>> {
    let image = capture(take);
    let nose = |image: &RgbImage| {
        face_engine()
            .detect_faces(&testing::decoded(image))
            .unwrap()[0]
            .landmarks[2]
    };
    // A capture app stops at a moderate turn: at the synthetic's last squeeze (0.25) YuNet no
    // longer finds this subject's face, as a detector loses a face in full profile, and a frame
    // without a face fails the step. So head turns send the first three frames (1.0, 0.7, 0.45).
    let frames: Vec<RgbImage> = match action {
        // The warp compresses image right: the subject turns to their own left.
        "turn_head_left" => synthetic::head_turn_frames(&image, nose(&image).x)
            .into_iter()
            .take(3)
            .collect(),
        // The subject's right: a left turn of the mirrored scene, mirrored back.
        "turn_head_right" => {
            let mirrored = synthetic::flip_horizontal(&image);
            synthetic::head_turn_frames(&mirrored, nose(&mirrored).x)
                .iter()
                .take(3)
                .map(synthetic::flip_horizontal)
                .collect()
        }
        "move_closer" => synthetic::move_closer_frames(&image, nose(&image)),
        other => panic!("unknown challenge action {other}"),
    };
    frames
        .iter()
        .map(|frame| synthetic::encode_jpeg(frame, 92))
        .collect()
}

/// Three frames of a still photo held in front of the camera (sensor noise only).
pub fn still_frames(take: u32) -> Vec<Vec<u8>> {
    let image = capture(take);
    (0..3)
        .map(|seed| synthetic::encode_jpeg(&synthetic::add_noise(&image, seed + 40, 6.0), 92))
        .collect()
}

// Second factor: codes from an independent TOTP implementation.

/// `code` with every digit changed (a wrong guess of the same length).
pub fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect()
}

/// The code `oathtool` (an independent implementation) computes at `at` from a base32 secret.
pub fn oathtool_code(secret: &str, at: OffsetDateTime) -> String {
    let now = at
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap();
    let output = Command::new("oathtool")
        .args(["--totp", "-d", "6", "-b", secret, "--now", &now])
        .output()
        .expect("oathtool runs (Debian package oathtool, installed by scripts/setup.sh)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub fn secret_of(uri: &str) -> String {
    let query = uri.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("secret="))
        .expect("otpauth URI carries the secret")
        .to_owned()
}
