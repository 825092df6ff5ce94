//! Bounded inference admission: with every running and queue slot taken, a compare is answered
//! at once with 503 `inference-busy` problem+json and `Retry-After`, the in-flight and queued
//! gauges show the saturation in /metrics, and the slots free up when inference ends.
//!
//! The real engine is wrapped in a gate that holds detection until the test opens it, so
//! "saturated" is a state the test controls rather than a race against the CPU.

#![allow(clippy::unwrap_used)]

mod support;

use std::{
    sync::{Arc, Condvar, Mutex},
    time::Duration,
};

use image::RgbImage;
use serde_json::Value;
use simgate_biometrics::{
    BiometricsError,
    decode::DecodedImage,
    detect::FaceDetection,
    embed::FaceEmbedding,
    engine::{FaceEngine, ModelInfo},
};
use simgate_store::Backend;
use support::{TestApp, face_engine, photo, problem};

/// The real engine, with detection held until [`GatedEngine::open`].
struct GatedEngine {
    inner: Arc<dyn FaceEngine>,
    open: Mutex<bool>,
    opened: Condvar,
}

impl GatedEngine {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: face_engine(),
            open: Mutex::new(false),
            opened: Condvar::new(),
        })
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl FaceEngine for GatedEngine {
    fn detect_faces(&self, image: &DecodedImage) -> Result<Vec<FaceDetection>, BiometricsError> {
        let guard = self.open.lock().unwrap();
        drop(self.opened.wait_while(guard, |open| !*open).unwrap());
        self.inner.detect_faces(image)
    }

    fn embed_aligned_faces(
        &self,
        aligned: &[RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
        self.inner.embed_aligned_faces(aligned)
    }

    fn model_info(&self) -> ModelInfo {
        self.inner.model_info()
    }
}

async fn metrics(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    response.text().await.unwrap()
}

/// Waits until `/metrics` shows `line` (a gauge with its value).
async fn wait_for_metric(app: &TestApp, line: &str) {
    let mut text = String::new();
    for _ in 0..300 {
        text = metrics(app).await;
        if text.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/metrics never showed {line:?}:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_queue_answers_503_with_retry_after_and_recovers() {
    let gate = GatedEngine::new();
    let app = Arc::new(
        TestApp::spawn_with_engine(
            Backend::Sqlite,
            |s| {
                s.faces.max_in_flight = 1;
                s.faces.max_queued = 1;
                s.faces.busy_retry_after_secs = 3;
            },
            gate.clone(),
        )
        .await,
    );
    let key = app.create_key("carrier-a", "verify").await;
    let send = |reference: &str, probe: &str| {
        let (app, key) = (Arc::clone(&app), key.clone());
        let (reference, probe) = (photo(reference), photo(probe));
        tokio::spawn(async move { app.compare(&key, reference, probe).await })
    };

    let running = send("person_a_1.jpg", "person_a_2.jpg");
    wait_for_metric(&app, "simgate_inference_in_flight 1").await;
    let queued = send("person_b_1.jpg", "person_b_2.jpg");
    wait_for_metric(&app, "simgate_inference_queued 1").await;

    let refused = app
        .compare(&key, photo("person_a_1.jpg"), photo("impostor_1.jpg"))
        .await;
    assert_eq!(refused.headers()["retry-after"], "3");
    let body = problem(refused, 503).await;
    assert_eq!(body["type"], "urn:simgate:problem:inference-busy");
    assert_eq!(body["retry_after"], 3);
    assert!(
        metrics(&app)
            .await
            .contains(r#"simgate_face_compare_total{outcome="rejected_busy"} 1"#)
    );

    gate.open();
    for (task, pair) in [(running, "person_a"), (queued, "person_b")] {
        let response = task.await.unwrap();
        assert_eq!(response.status(), 200, "{pair}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["match"], true, "{pair}");
    }
    wait_for_metric(&app, "simgate_inference_in_flight 0").await;
    wait_for_metric(&app, "simgate_inference_queued 0").await;
    let after = app
        .compare(&key, photo("person_a_1.jpg"), photo("impostor_1.jpg"))
        .await;
    assert_eq!(after.status(), 200, "slots are free again");
}
