//! Incident response over HTTP on SQLite and PostgreSQL: the response team freezes a subscriber
//! (no new verification, no token even for an already approved session), revokes every live
//! token of theirs, and unfreezes; only admin keys may; and every step lands in an intact audit
//! chain that names the subscriber only by their opaque id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use simgate_store::{Backend, incident::verify_audit_log};
use support::{TestApp, photo, problem, valid_mrz};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const MSISDN: &str = "+23057001234";
const FREEZE: &str = "/v1/subscribers/%2B23057001234/freeze";

struct Team {
    app: TestApp,
    kiosk: String,
    admin: String,
}

impl Team {
    async fn start(backend: Backend) -> Self {
        let app =
            TestApp::spawn_with(backend, support::document_and_single_frame_selfie, true).await;
        simgate_api::signing_keys::rotate_signing_key(
            app.state.store.as_ref(),
            simgate_tokens::SigningAlgorithm::EdDSA,
            std::time::Duration::from_secs(3600),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        let kiosk = app.create_key("carrier-a", "verify,tokens").await;
        let admin = app.create_key("carrier-a", "admin").await;
        Self { app, kiosk, admin }
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.app.post_json(key, path, body).await
    }

    async fn open(&self, msisdn: &str) -> reqwest::Response {
        self.post(
            &self.kiosk,
            "/v1/verifications",
            json!({"channel": "kiosk", "msisdn": msisdn, "eid": EID, "iccid": ICCID,
                "consent": support::consent()}),
        )
        .await
    }

    /// Opens a session for [`MSISDN`] and passes document and selfie with person A.
    async fn approved(&self) -> String {
        let session: Value = self.open(MSISDN).await.json().await.unwrap();
        let id = session["id"].as_str().unwrap().to_owned();
        let document = self
            .app
            .post_document(&self.kiosk, &id, photo("person_a_1.jpg"), Some(valid_mrz()))
            .await;
        assert_eq!(document.status(), 200);
        let form = reqwest::multipart::Form::new().part(
            "frames",
            reqwest::multipart::Part::bytes(photo("person_a_2.jpg")).file_name("selfie.jpg"),
        );
        let selfie: Value = self
            .app
            .client
            .post(self.app.url(&format!("/v1/verifications/{id}/selfie")))
            .bearer_auth(&self.kiosk)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(selfie["verification"]["status"], "approved", "{selfie}");
        id
    }

    async fn activation(&self, id: &str) -> reqwest::Response {
        self.post(
            &self.kiosk,
            &format!("/v1/verifications/{id}/activation"),
            json!({}),
        )
        .await
    }
}

async fn freeze_revoke_and_unfreeze_are_enforced_and_audited(backend: Backend) {
    let team = Team::start(backend).await;
    let activated = team.approved().await;
    let response = team.activation(&activated).await;
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved_not_activated = team.approved().await;

    // Only the response team may freeze.
    problem(
        team.post(&team.kiosk, FREEZE, json!({"reason": "x"})).await,
        403,
    )
    .await;
    let frozen = team
        .post(&team.admin, FREEZE, json!({"reason": "sim_swap_suspected"}))
        .await;
    assert_eq!(frozen.status(), 200);
    let frozen: Value = frozen.json().await.unwrap();
    assert_eq!(
        (frozen["frozen"].clone(), frozen["newly_frozen"].clone()),
        (json!(true), json!(true))
    );
    let again: Value = team
        .post(&team.admin, FREEZE, json!({"reason": "second"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["newly_frozen"], false);
    assert_eq!(
        again["reason"], "sim_swap_suspected",
        "the first freeze is kept"
    );

    // Frozen: no new session, and no token even for the session approved before the freeze.
    let refused = problem(team.open(MSISDN).await, 403).await;
    assert_eq!(refused["type"], "urn:simgate:problem:subscriber-frozen");
    assert!(
        !refused.to_string().contains("sim_swap"),
        "the reason is not told to the client"
    );
    assert_eq!(
        team.open("+23057009999").await.status(),
        201,
        "others are not affected"
    );
    let refused = problem(team.activation(&approved_not_activated).await, 403).await;
    assert_eq!(refused["type"], "urn:simgate:problem:subscriber-frozen");

    // Every live token of the subscriber is revoked, and introspection says so.
    let introspect = |token: String| {
        let team = &team;
        async move {
            team.post(
                &team.kiosk,
                "/v1/tokens/introspect",
                json!({ "token": token }),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["active"]
                .clone()
        }
    };
    assert_eq!(introspect(token.clone()).await, true);
    let revoke_path = "/v1/subscribers/%2B23057001234/tokens/revoke";
    problem(team.post(&team.kiosk, revoke_path, json!({})).await, 403).await;
    let revoked: Value = team
        .post(
            &team.admin,
            revoke_path,
            json!({"reason": "fraud_confirmed"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1, "{revoked}");
    assert_eq!(introspect(token.clone()).await, false);
    let none_left: Value = team
        .post(&team.admin, revoke_path, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none_left["revoked"], 0);

    // Unfreezing restores service; unfreezing twice is a 404.
    let unfreeze = || {
        team.app
            .client
            .delete(team.app.url(FREEZE))
            .bearer_auth(&team.admin)
            .send()
    };
    assert_eq!(unfreeze().await.unwrap().status(), 204);
    problem(unfreeze().await.unwrap(), 404).await;
    assert_eq!(team.activation(&approved_not_activated).await.status(), 201);

    // The audit chain holds every step, intact, without the MSISDN.
    let store = team.app.state.store.as_ref();
    let report = verify_audit_log(store).await.unwrap();
    assert_eq!(report.broken, None);
    let entries = store.audit_entries_after(0, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "verification.decided",
            "token.issued",
            "verification.decided",
            "subscriber.frozen",
            "subscriber.tokens_revoked",
            "subscriber.tokens_revoked",
            "subscriber.unfrozen",
            "token.issued",
        ]
    );
    let frozen_entry = &entries[3];
    assert!(frozen_entry.subject.starts_with("subscriber:"));
    assert!(frozen_entry.details.contains("sim_swap_suspected"));
    assert_eq!(report.checked, 8);
    for entry in &entries {
        let text = format!("{entry:?}");
        assert!(
            !text.contains("57001234"),
            "no MSISDN in the audit log: {text}"
        );
    }

    // The response team's timeline of the subscriber shows all of it, newest first.
    let timeline_path = "/v1/subscribers/%2B23057001234/timeline";
    problem(team.app.get_with_key(timeline_path, &team.kiosk).await, 403).await;
    let timeline: Value = team
        .app
        .get_with_key(timeline_path, &team.admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["freeze"], Value::Null, "{timeline}");
    assert_eq!(timeline["verifications"].as_array().unwrap().len(), 2);
    assert_eq!(timeline["verifications"][0]["id"], approved_not_activated);
    assert_eq!(timeline["verifications"][0]["status"], "activated");
    let tokens = timeline["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens
            .iter()
            .any(|t| t["revoked_reason"] == "fraud_confirmed")
    );
    let signals: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["signal"].as_str().unwrap())
        .collect();
    assert_eq!(
        signals
            .iter()
            .filter(|s| **s == "verification_opened")
            .count(),
        2,
        "{signals:?}"
    );
    let audit_actions: Vec<&str> = timeline["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        audit_actions,
        [
            "token.issued",
            "subscriber.unfrozen",
            "subscriber.tokens_revoked",
            "subscriber.tokens_revoked",
            "subscriber.frozen",
            "token.issued"
        ]
    );
    assert!(!timeline.to_string().contains("57001234"));
}

async fn requiring_reverification_holds_back_every_earlier_approval(backend: Backend) {
    let team = Team::start(backend).await;
    let activated = team.approved().await;
    let response = team.activation(&activated).await;
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved = team.approved().await;

    let path = "/v1/subscribers/%2B23057001234/reverify";
    problem(team.post(&team.kiosk, path, json!({})).await, 403).await;
    let response = team
        .post(&team.admin, path, json!({"reason": "case-2026-118"}))
        .await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["verifications_flagged"], json!([approved]));
    assert_eq!(changed["tokens_revoked"].as_array().unwrap().len(), 1);

    // The approval from before cannot activate, the token is dead, a new verification may start.
    let held = problem(team.activation(&approved).await, 409).await;
    assert_eq!(held["verification_status"], "needs_review");
    let introspected: Value = team
        .post(
            &team.kiosk,
            "/v1/tokens/introspect",
            json!({ "token": token }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);
    assert_eq!(team.open(MSISDN).await.status(), 201);
    let store = team.app.state.store.as_ref();
    assert_eq!(verify_audit_log(store).await.unwrap().broken, None);
    let last = store.audit_entries_after(0, 100).await.unwrap();
    assert!(
        last.iter()
            .any(|e| e.action == "subscriber.reverification_required")
    );
}

async fn erasing_a_subscriber_deletes_their_data_revokes_their_tokens_and_is_audited(
    backend: Backend,
) {
    let team = Team::start(backend).await;
    let activated = team.approved().await;
    let response = team.activation(&activated).await;
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = team.approved().await;
    // Another subscriber's data must survive.
    let other: Value = team.open("+23057009999").await.json().await.unwrap();
    let other_id = other["id"].as_str().unwrap().to_owned();

    let path = "/v1/subscribers/%2B23057001234";
    let forbidden = team
        .app
        .client
        .delete(team.app.url(path))
        .bearer_auth(&team.kiosk)
        .send()
        .await
        .unwrap();
    problem(forbidden, 403).await;
    let erase = || {
        team.app
            .client
            .delete(team.app.url(path))
            .bearer_auth(&team.admin)
            .send()
    };
    let response = erase().await.unwrap();
    assert_eq!(response.status(), 200);
    let erased: Value = response.json().await.unwrap();
    assert_eq!(
        erased["revoked_tokens"].as_array().unwrap().len(),
        1,
        "{erased}"
    );
    assert_eq!(erased["deleted"]["verifications"], 2, "{erased}");
    assert_eq!(erased["deleted"]["activation_tokens"], 1, "{erased}");
    assert!(
        erased["deleted"]["risk_events"].as_u64().unwrap() >= 2,
        "{erased}"
    );

    // The sessions are gone, the token is dead, the timeline is empty; the other subscriber's
    // session is untouched.
    for id in [&activated, &pending] {
        let gone = team
            .app
            .get_with_key(&format!("/v1/verifications/{id}"), &team.kiosk)
            .await;
        assert_eq!(gone.status(), 404);
    }
    let introspected: Value = team
        .post(
            &team.kiosk,
            "/v1/tokens/introspect",
            json!({ "token": token }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);
    let timeline: Value = team
        .app
        .get_with_key("/v1/subscribers/%2B23057001234/timeline", &team.admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["verifications"], json!([]), "{timeline}");
    assert_eq!(timeline["tokens"], json!([]), "{timeline}");
    assert_eq!(timeline["events"], json!([]), "{timeline}");
    let kept = team
        .app
        .get_with_key(&format!("/v1/verifications/{other_id}"), &team.kiosk)
        .await;
    assert_eq!(kept.status(), 200);

    // Erasing again finds nothing; the audit chain holds both erasures.
    let again: Value = erase().await.unwrap().json().await.unwrap();
    assert_eq!(again["deleted"]["verifications"], 0);
    let store = team.app.state.store.as_ref();
    assert_eq!(verify_audit_log(store).await.unwrap().broken, None);
    let entries = store.audit_entries_after(0, 100).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "subscriber.erased")
            .count(),
        2
    );
    assert!(
        entries.iter().all(|e| !e.details.contains("23057001234")),
        "the audit trail names the subscriber only by the opaque id"
    );
}

on_both_backends!(
    freeze_revoke_and_unfreeze_are_enforced_and_audited,
    erasing_a_subscriber_deletes_their_data_revokes_their_tokens_and_is_audited,
    requiring_reverification_holds_back_every_earlier_approval,
);
