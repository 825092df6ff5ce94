//! API keys, scopes and tenant isolation over HTTP, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use simgate_store::Backend;
use support::{TestApp, photo, problem};

on_both_backends!(
    requests_without_a_valid_key_are_refused_with_a_bearer_challenge,
    keys_only_reach_routes_their_scopes_allow,
    a_tenant_sees_and_revokes_only_its_own_keys,
    keys_created_over_http_work_once_and_revoked_keys_stop_working,
);

async fn requests_without_a_valid_key_are_refused_with_a_bearer_challenge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.url("/v1/api-keys");
    let cases: [(Option<&str>, &str); 5] = [
        (None, "no header"),
        (Some("Bearer "), "empty key"),
        (Some("Basic dXNlcjpwYXNz"), "wrong scheme"),
        (Some("Bearer sgk_notarealkey"), "unknown key"),
        (Some("sgk_missing_scheme"), "no scheme"),
    ];
    for (header, why) in cases {
        let mut request = app.client.get(&url);
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"simgate\"",
            "{why}"
        );
        let body = problem(response, 401).await;
        assert_eq!(body["type"], "urn:simgate:problem:unauthorized", "{why}");
    }
    // The compare route refuses before reading the (large) body.
    let response = app
        .compare(
            "sgk_bogus",
            photo("person_a_1.jpg"),
            photo("person_a_2.jpg"),
        )
        .await;
    problem(response, 401).await;
}

async fn keys_only_reach_routes_their_scopes_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let otp_only = app.create_key("carrier-a", "otp").await;
    let verify_only = app.create_key("carrier-a", "verify").await;
    let admin_only = app.create_key("carrier-a", "admin").await;

    let response = app
        .compare(&otp_only, photo("person_a_1.jpg"), photo("person_a_2.jpg"))
        .await;
    let body = problem(response, 403).await;
    assert_eq!(body["required_scope"], "verify");
    let response = app
        .compare(
            &admin_only,
            photo("person_a_1.jpg"),
            photo("person_a_2.jpg"),
        )
        .await;
    problem(response, 403).await;
    let response = app
        .compare(
            &verify_only,
            photo("person_a_1.jpg"),
            photo("person_a_2.jpg"),
        )
        .await;
    assert_eq!(response.status(), 200);

    for key in [&otp_only, &verify_only] {
        let response = app.get_with_key("/v1/api-keys", key).await;
        assert_eq!(problem(response, 403).await["required_scope"], "admin");
    }
    let response = app.get_with_key("/v1/api-keys", &admin_only).await;
    assert_eq!(response.status(), 200);
}

async fn a_tenant_sees_and_revokes_only_its_own_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_a = app.create_key("carrier-a", "admin").await;
    let (b_verify_id, b_verify) = app.create_key_with_id("carrier-b", "verify").await;
    let admin_b = app.create_key("carrier-b", "admin").await;

    let listed: Value = app
        .get_with_key("/v1/api-keys", &admin_a)
        .await
        .json()
        .await
        .unwrap();
    let keys = listed["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "tenant A sees only its own key: {listed}");
    assert!(keys.iter().all(|k| k["tenant"] == "carrier-a"));
    assert!(
        keys.iter()
            .all(|k| k.get("secret").is_none() && k.get("key_hash").is_none()),
        "no secrets listed"
    );

    // Revoking another tenant's key looks exactly like revoking an unknown one.
    let foreign = app
        .delete_with_key(&format!("/v1/api-keys/{b_verify_id}"), &admin_a)
        .await;
    let foreign = problem(foreign, 404).await;
    let unknown = app
        .delete_with_key("/v1/api-keys/key_0000000000000000", &admin_a)
        .await;
    let unknown = problem(unknown, 404).await;
    assert_eq!(foreign, unknown);

    let still_works = app
        .compare(&b_verify, photo("person_b_1.jpg"), photo("person_b_2.jpg"))
        .await;
    assert_eq!(
        still_works.status(),
        200,
        "tenant B's key survived tenant A's attempt"
    );

    let own = app
        .delete_with_key(&format!("/v1/api-keys/{b_verify_id}"), &admin_b)
        .await;
    assert_eq!(own.status(), 204);
    let revoked = app
        .compare(&b_verify, photo("person_b_1.jpg"), photo("person_b_2.jpg"))
        .await;
    problem(revoked, 401).await;
}

async fn keys_created_over_http_work_once_and_revoked_keys_stop_working(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.create_key("carrier-a", "admin").await;

    let response = app
        .client
        .post(app.url("/v1/api-keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "kiosk port-louis 3", "scopes": ["verify"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["tenant"], "carrier-a",
        "a key is always created in the caller's tenant"
    );
    assert_eq!(created["scopes"], json!(["verify"]));
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));

    let listed: Value = app
        .get_with_key("/v1/api-keys", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed.to_string().find(&secret).is_none(),
        "the secret is shown only at creation"
    );

    let ok = app
        .compare(&secret, photo("person_a_1.jpg"), photo("person_a_2.jpg"))
        .await;
    assert_eq!(ok.status(), 200);
    let id = created["id"].as_str().unwrap();
    let revoke = app
        .delete_with_key(&format!("/v1/api-keys/{id}"), &admin)
        .await;
    assert_eq!(revoke.status(), 204);
    problem(
        app.compare(&secret, photo("person_a_1.jpg"), photo("person_a_2.jpg"))
            .await,
        401,
    )
    .await;

    // Bad creation requests are problems, and create nothing.
    let before = app.state.store.list_api_keys(None).await.unwrap().len();
    let bad_bodies = [
        (json!({"name": "", "scopes": ["verify"]}), 422),
        (json!({"name": "x", "scopes": []}), 422),
        (json!({"name": "x", "scopes": ["root"]}), 422),
        (
            json!({"name": "x", "scopes": ["verify"], "tenant": "carrier-b"}),
            422,
        ),
    ];
    for (body, status) in bad_bodies {
        let response = app
            .client
            .post(app.url("/v1/api-keys"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(response, status).await;
    }
    let not_json = app
        .client
        .post(app.url("/v1/api-keys"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(not_json, 400).await;
    assert_eq!(
        app.state.store.list_api_keys(None).await.unwrap().len(),
        before,
        "no partial writes"
    );
}

on_both_backends!(every_operation_refuses_keys_without_a_scope_its_document_names);

/// Every operation of the served OpenAPI document that names the scopes it needs, called with a
/// key of each other scope alone: 403 `insufficient-scope`, whatever the path or body holds (the
/// scope is judged before anything is looked up or parsed), so the document and the code agree
/// and no route is reachable with a weaker key.
async fn every_operation_refuses_keys_without_a_scope_its_document_names(backend: Backend) {
    const ALL_SCOPES: [&str; 7] = [
        "verify", "otp", "tokens", "admin", "batch", "events", "kiosk",
    ];
    let app = TestApp::spawn(backend).await;
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys = std::collections::BTreeMap::new();
    for scope in ALL_SCOPES {
        keys.insert(scope, app.create_key("carrier-a", scope).await);
    }
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(security) = operation["security"].as_array() else {
                continue;
            };
            let allowed: Vec<&str> = security
                .iter()
                .filter_map(|alternative| alternative["api_key"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if allowed.is_empty() {
                continue;
            }
            let concrete = path
                .replace("{id}", "ver_0123456789abcdef0123456789abcdef")
                .replace("{msisdn}", "%2B23057001234");
            let multipart = operation["requestBody"]["content"]
                .as_object()
                .is_some_and(|content| content.contains_key("multipart/form-data"));
            for scope in ALL_SCOPES.iter().filter(|s| !allowed.contains(s)) {
                let request = app
                    .client
                    .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                    .bearer_auth(&keys[scope]);
                let request = match (method.as_str(), multipart) {
                    ("get" | "delete", _) => request,
                    (_, true) => request.multipart(reqwest::multipart::Form::new().text("x", "y")),
                    (_, false) => request.json(&json!({})),
                };
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or_default();
                assert_eq!(
                    (status, body["type"].as_str()),
                    (403, Some("urn:simgate:problem:insufficient-scope")),
                    "{method} {path} with a `{scope}` key (needs one of {allowed:?}): {body}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} combinations checked");
    eprintln!("{checked} (operation, scope) combinations refused with 403");
}
