//! Operational surface: health, readiness, metrics, OpenAPI and docs, request ids, problem+json
//! for unknown routes and methods, and graceful shutdown with a request in flight.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use simgate_store::Backend;
use support::{TestApp, photo, problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_report_database_and_models() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["models"], "ok");
    assert_eq!(body["detector"], "yunet-2023mar-fp32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_loads_models_itself_and_turns_ready() {
    let app = TestApp::spawn_with(Backend::Sqlite, |_| {}, false).await;
    let mut last = Value::Null;
    for _ in 0..200 {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        let status = response.status();
        last = response.json().await.unwrap();
        if status == 200 {
            assert_eq!(last["models"], "ok");
            return;
        }
        assert_eq!(status, 503);
        assert_eq!(
            last["models"], "loading",
            "only 'loading' may precede ready: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not ready after 20 s: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_models_keep_readiness_red_and_compare_answers_503() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| s.models.dir = "/nonexistent/models".into(),
        false,
    )
    .await;
    let key = app.create_key("carrier-a", "verify").await;
    let mut body = Value::Null;
    for _ in 0..100 {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        body = response.json().await.unwrap();
        if body["models"] != "loading" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["models"].as_str().unwrap().starts_with("failed"),
        "{body}"
    );
    assert_eq!(body["database"], "ok");
    let response = app
        .compare(&key, photo("person_a_1.jpg"), photo("person_a_2.jpg"))
        .await;
    assert_eq!(
        problem(response, 503).await["type"],
        "urn:simgate:problem:models-unavailable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_and_compare_outcomes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.create_key("carrier-a", "verify,admin").await;
    assert_eq!(
        app.compare(&key, photo("person_a_1.jpg"), photo("person_a_2.jpg"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.compare(&key, photo("person_a_1.jpg"), photo("person_b_1.jpg"))
            .await
            .status(),
        200
    );
    let revoke = app.delete_with_key("/v1/api-keys/key_unknown", &key).await;
    assert_eq!(revoke.status(), 404);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"simgate_http_requests_total{method="POST",route="/v1/faces/compare",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/api-keys/{id}",status="404""#),
        "ids never become labels: {text}"
    );
    assert!(text.contains(r#"simgate_face_compare_total{outcome="match"} 1"#));
    assert!(text.contains(r#"simgate_face_compare_total{outcome="no_match"} 1"#));
    assert!(text.contains("simgate_inference_duration_seconds_count 2"));
    assert!(text.contains("simgate_inference_in_flight 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_every_route_and_docs_page_is_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/faces/compare",
        "/v1/api-keys",
        "/v1/api-keys/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let compare = &doc["paths"]["/v1/faces/compare"]["post"];
    assert!(
        compare["requestBody"]["content"]
            .get("multipart/form-data")
            .is_some()
    );
    assert!(compare["responses"].get("422").is_some());
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(
        doc["components"]["schemas"]
            .get("CompareFacesResponse")
            .is_some()
    );

    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    assert!(!html.contains("cdn."), "no external CDN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id_and_given_ids_are_kept() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let generated = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = app
        .client
        .get(app.url("/v1/nothing"))
        .header("x-request-id", "kiosk-42-req-7")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "kiosk-42-req-7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = problem(
        app.client
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(body["type"], "urn:simgate:problem:not-found");
    let response = app
        .client
        .get(app.url("/v1/faces/compare"))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = problem(response, 405).await;
    assert_eq!(body["type"], "urn:simgate:problem:method-not-allowed");
    assert_eq!(allow.as_deref(), Some("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_a_problem() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.server.request_timeout_secs = 1, true).await;
    let key = app.create_key("carrier-a", "verify").await;
    let boundary = "simgateboundary";
    let (tx, request) = streamed_compare(&app, &key, boundary);
    tx.send(Ok(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"reference\"; filename=\"r.jpg\"\r\n\r\n").into_bytes()))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let response = request.send().await.unwrap();
    let body = problem(response, 408).await;
    assert_eq!(body["type"], "urn:simgate:problem:request-timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(tx);
}

/// Slow-loris: many connections that trickle their request headers a byte at a time are each
/// closed once `server.header_read_timeout_secs` has passed, while an ordinary client is served
/// throughout. (Slow bodies are the request timeout's, above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_trickling_their_headers_are_closed_and_others_still_answer() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| s.server.header_read_timeout_secs = 2,
        false,
    )
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let started = std::time::Instant::now();
    let mut trickles = Vec::new();
    for _ in 0..64 {
        let address = address.clone();
        trickles.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            stream
                .write_all(b"POST /v1/faces/compare HTTP/1.1\r\nHost: simgate\r\n")
                .await
                .unwrap();
            let opened = std::time::Instant::now();
            // One more header byte every 250 ms, never the blank line that ends the headers;
            // stops when the server closes the connection (a write fails or a read ends).
            let mut buffer = [0u8; 512];
            for _ in 0..80 {
                if stream.write_all(b"X").await.is_err() {
                    return opened.elapsed();
                }
                // An answer (hyper may send 408) is read and the loop goes on to the close.
                let read =
                    tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buffer))
                        .await;
                if let Ok(Ok(0) | Err(_)) = read {
                    return opened.elapsed();
                }
            }
            panic!("a connection trickling headers was still open after 20 s");
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "served while the trickles hold connections"
    );
    let mut held = Vec::new();
    for trickle in trickles {
        held.push(trickle.await.unwrap());
    }
    let longest = held.iter().max().unwrap();
    assert!(
        held.iter().all(|d| *d >= Duration::from_millis(1500)),
        "closed before the timeout: {held:?}"
    );
    assert!(
        *longest < Duration::from_secs(8),
        "held {longest:?} with a 2 s header timeout"
    );
    eprintln!(
        "64 trickling connections closed after {:?}..{longest:?} (total {:?})",
        held.iter().min().unwrap(),
        started.elapsed()
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_in_flight_request_finish_then_refuses_new_ones() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.create_key("carrier-a", "verify").await;
    let boundary = "simgateboundary";
    let mut payload = Vec::new();
    for (name, file) in [("reference", "person_b_1.jpg"), ("probe", "person_b_2.jpg")] {
        payload.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        payload.extend_from_slice(&photo(file));
        payload.extend_from_slice(b"\r\n");
    }
    payload.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let (first, rest) = payload.split_at(payload.len() / 2);
    let (tx, request) = streamed_compare(&app, &key, boundary);
    tx.send(Ok(first.to_vec())).await.unwrap();
    let request = request.send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let server = app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the in-flight request"
    );
    let fresh = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(
        fresh.is_err(),
        "new connections are refused once shutdown began"
    );

    tx.send(Ok(rest.to_vec())).await.unwrap();
    drop(tx);
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["match"], true);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops after the request")
        .unwrap()
        .unwrap();
}

/// A compare request whose multipart body (with `boundary`) the test feeds chunk by chunk
/// through the returned sender; dropping the sender ends the body.
fn streamed_compare(
    app: &TestApp,
    key: &str,
    boundary: &str,
) -> (
    tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    reqwest::RequestBuilder,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let request = app
        .client
        .post(app.url("/v1/faces/compare"))
        .bearer_auth(key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)));
    (tx, request)
}

/// Adapts a tokio channel into the `Stream` reqwest wants for a streamed body.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A server whose callers get a burst of 3 requests, then one every 2 s.
async fn app_with_a_tight_rate_limit() -> TestApp {
    TestApp::spawn_with(
        Backend::Sqlite,
        |s| {
            s.server.rate_limit_per_sec = 0.5;
            s.server.rate_limit_burst = 3;
        },
        true,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_get_429_with_retry_after_while_probes_and_other_callers_still_answer() {
    let app = app_with_a_tight_rate_limit().await;
    let flooder = app.create_key("carrier-a", "admin").await;
    let other = app.create_key("carrier-a", "admin").await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let response = app.get_with_key("/v1/api-keys", &flooder).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            limited = Some(response);
        }
    }
    assert_eq!(
        &statuses[..3],
        [200, 200, 200],
        "the burst is served: {statuses:?}"
    );
    assert!(
        statuses[3..].iter().all(|s| *s == 429),
        "then refused: {statuses:?}"
    );
    let limited = limited.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&retry_after),
        "one token every 2 s: {retry_after}"
    );
    let body = problem(limited, 429).await;
    assert_eq!(body["type"], "urn:simgate:problem:rate-limited");

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "probes are never rate limited");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let unaffected = app.get_with_key("/v1/api-keys", &other).await;
    assert_eq!(
        unaffected.status(),
        200,
        "another caller keeps its own budget"
    );
}

/// A flood of made-up API keys from one address, each a different key (so each would get a
/// fresh per-key bucket): after the burst of 401s the address is answered 429 with
/// `Retry-After` before any key lookup, while a key that works, from the same address, is still
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_keys_are_limited_by_address_while_a_working_key_there_still_answers() {
    let app = app_with_a_tight_rate_limit().await;
    let working = app.create_key("carrier-a", "admin").await;
    assert_eq!(
        app.get_with_key("/v1/api-keys", &working).await.status(),
        200
    );
    let mut statuses = Vec::new();
    let mut limited = None;
    for n in 0..12 {
        let made_up = format!("sgk_madeup{n:040}");
        let response = app.get_with_key("/v1/api-keys", &made_up).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            limited = Some(response);
        }
    }
    assert_eq!(&statuses[..3], [401, 401, 401], "{statuses:?}");
    assert!(
        statuses[3..].iter().all(|s| *s == 429),
        "then refused by address: {statuses:?}"
    );
    let limited = limited.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        problem(limited, 429).await["type"],
        "urn:simgate:problem:rate-limited"
    );
    assert_eq!(
        app.get_with_key("/v1/api-keys", &working).await.status(),
        200,
        "the working key from the same address keeps its own budget"
    );
    // While the address is spent, a new made-up key is refused on any route before its key or
    // its path is looked at, so it can never be taken for a key that authenticated.
    let another = format!("sgk_madeup{:040}", 99);
    for path in ["/v1/subscribers/not-a-number/timeline", "/v1/api-keys"] {
        assert_eq!(
            app.get_with_key(path, &another).await.status(),
            429,
            "{path}"
        );
    }
}
