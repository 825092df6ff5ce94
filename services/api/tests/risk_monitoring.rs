//! Risk monitoring replayed as scripted attacks over HTTP, on SQLite and PostgreSQL: a SIM-swap
//! burst (freeze, tokens revoked, alert), a data burst from one eSIM, a data burst from a region
//! the subscriber was never seen in (freeze), an activation at a store hours after a sighting a
//! continent away (review), one passport presented for several numbers (review), a number
//! verified with another state's passport than before (review), SMS pumping
//! from one kiosk, verifications from one client address; a scripted set of genuine subscribers
//! raises nothing; and two application instances on one PostgreSQL enforce one shared window
//! (services/simgate/tests/cli.rs does the same with two `simgate serve` processes).
//!
//! The shipped rules are used except where a scenario states its own (rules are data: the OTP
//! pumping threshold is lowered so the script stays short).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use simgate_api::{Application, Overrides, Settings};
use simgate_core::{Clock as _, ManualClock, Msisdn, TenantId};
use simgate_otp::gateway::testing::RecordingSmsGateway;
use simgate_risk::{KeyKind, RiskRule, RiskRules, RuleAction, Severity, Signal};
use simgate_store::{ActivationTokenRow, Backend, incident::verify_audit_log};
use support::{TestApp, face_engine, photo, problem, valid_mrz};
use time::{Duration, OffsetDateTime, macros::datetime};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const START: OffsetDateTime = datetime!(2026-11-26 10:00:00 UTC);

/// A valid EID (GSMA SGP.29: 30 digits, then two ISO 7064 MOD 97-10 check digits).
fn eid(serial: u64) -> String {
    let body = format!("890490321234512345123456{serial:06}");
    let remainder = (body.clone() + "00")
        .bytes()
        .fold(0u64, |acc, digit| (acc * 10 + u64::from(digit - b'0')) % 97);
    format!("{body}{:02}", 98 - remainder)
}

struct Watch {
    app: TestApp,
    clock: Arc<ManualClock>,
    kiosk: String,
    network: String,
    admin: String,
}

impl Watch {
    async fn start(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let clock = Arc::new(ManualClock::new(START));
        let overrides = Overrides {
            clock: Some(clock.clone()),
            face_engine: Some(face_engine()),
            sms_gateway: Some(Arc::new(RecordingSmsGateway::new())),
        };
        let app = TestApp::spawn_with_overrides(
            backend,
            |settings| {
                support::document_and_single_frame_selfie(settings);
                adjust(settings);
            },
            overrides,
        )
        .await;
        let kiosk = app.create_key("carrier-a", "verify,otp,tokens").await;
        let network = app.create_key("carrier-a", "events").await;
        let admin = app.create_key("carrier-a", "admin").await;
        Self {
            app,
            clock,
            kiosk,
            network,
            admin,
        }
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        post(&self.app.base, key, path, body).await
    }

    async fn open(&self, msisdn: &str, eid: &str, store: &str) -> reqwest::Response {
        self.post(
            &self.kiosk,
            "/v1/verifications",
            json!({"channel": "kiosk", "msisdn": msisdn, "eid": eid, "iccid": ICCID, "store_id": store,
                "consent": support::consent()}),
        )
        .await
    }

    /// Opens a kiosk verification for `msisdn` and submits a document: `photo_file` with `mrz`;
    /// returns the session id and the document step's response.
    async fn open_with_document(
        &self,
        msisdn: &str,
        photo_file: &str,
        mrz: String,
    ) -> (String, Value) {
        let session: Value = self
            .open(msisdn, EID, "port-louis-1")
            .await
            .json()
            .await
            .unwrap();
        let id = session["id"].as_str().unwrap().to_owned();
        let body: Value = self
            .app
            .post_document(&self.kiosk, &id, photo(photo_file), Some(mrz))
            .await
            .json()
            .await
            .unwrap();
        (id, body)
    }

    async fn events(&self, events: Value) -> Value {
        let response = self.post(&self.network, "/v1/events", events).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn alerts(&self, status: &str) -> Vec<Value> {
        let body: Value = self
            .app
            .get_with_key(&format!("/v1/alerts?status={status}"), &self.admin)
            .await
            .json()
            .await
            .unwrap();
        body["alerts"].as_array().unwrap().clone()
    }

    fn at(&self, ago: Duration) -> String {
        (self.clock.now() - ago)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }
}

async fn post(base: &str, key: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn event(msisdn: &str, eid: &str, kind: &str, at: &str) -> Value {
    json!({"msisdn": msisdn, "eid": eid, "kind": kind, "at": at})
}

fn rules(rules: Vec<RiskRule>) -> RiskRules {
    RiskRules::try_from(rules).unwrap()
}

async fn a_sim_swap_burst_freezes_the_subscriber_and_revokes_their_tokens(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let msisdn = "+23057001234";
    // The subscriber holds a live activation token from an earlier verification.
    let subscriber =
        simgate_api::sessions::subscriber_id(&watch.app.state, &Msisdn::parse(msisdn).unwrap())
            .await
            .unwrap();
    let store = watch.app.state.store.as_ref();
    store
        .insert_activation_token(&ActivationTokenRow {
            jti: "jti-live".into(),
            tenant: TenantId::parse("carrier-a").unwrap(),
            verification_id: "ver_earlier".into(),
            subscriber_id: subscriber.as_str().into(),
            kid: "kid".into(),
            issued_at: START,
            expires_at: START + Duration::minutes(10),
            revoked_at: None,
            revoked_reason: None,
            redeemed_at: None,
        })
        .await
        .unwrap();

    let first = watch
        .events(json!([event(
            msisdn,
            EID,
            "sim_swap",
            &watch.at(Duration::hours(3))
        )]))
        .await;
    assert_eq!(first["fired"], json!([]), "one swap is ordinary");
    let second = watch
        .events(json!([
            event(msisdn, EID, "attach", &watch.at(Duration::minutes(5))),
            event(
                msisdn,
                &eid(99),
                "sim_swap",
                &watch.at(Duration::minutes(1))
            ),
        ]))
        .await;
    assert_eq!(
        second["fired"],
        json!([{"event": 1, "rule": "sim_swap_burst", "action": "freeze_and_revoke"}])
    );

    let token = store
        .find_activation_token("jti-live")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.revoked_reason.as_deref(), Some("sim_swap_burst"));
    let refused = problem(watch.open(msisdn, &eid(99), "port-louis-1").await, 403).await;
    assert_eq!(refused["type"], "urn:simgate:problem:subscriber-frozen");

    let open = watch.alerts("open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        (&open[0]["rule"], &open[0]["severity"], &open[0]["total"]),
        (&json!("sim_swap_burst"), &json!("critical"), &json!(2))
    );
    assert_eq!(open[0]["subscriber_id"], subscriber.as_str());
    // Only admin keys see or acknowledge alerts.
    problem(
        watch.app.get_with_key("/v1/alerts", &watch.kiosk).await,
        403,
    )
    .await;
    let id = open[0]["id"].as_str().unwrap();
    let acked = watch
        .post(&watch.admin, &format!("/v1/alerts/{id}/ack"), json!({}))
        .await;
    assert_eq!(acked.status(), 200);
    problem(
        watch
            .post(&watch.admin, &format!("/v1/alerts/{id}/ack"), json!({}))
            .await,
        404,
    )
    .await;
    assert!(watch.alerts("open").await.is_empty());
    assert_eq!(watch.alerts("all").await.len(), 1);

    let metrics = watch
        .app
        .client
        .get(watch.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("simgate_risk_alerts_total{rule=\"sim_swap_burst\",severity=\"critical\"} 1"),
        "{metrics}"
    );
    let report = verify_audit_log(store).await.unwrap();
    assert_eq!(report.broken, None);
    let actions: Vec<String> = store
        .audit_entries_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "alert.raised",
            "subscriber.frozen",
            "subscriber.tokens_revoked",
            "alert.acknowledged"
        ]
    );
}

async fn a_data_burst_from_one_esim_raises_an_alert_only_within_the_hour(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let msisdn = "+23057001234";
    let usage = |bytes: u64, ago: Duration| {
        json!({"msisdn": msisdn, "eid": EID, "kind": "data_usage", "bytes": bytes,
               "region": "MU-PL", "at": watch.at(ago)})
    };
    // 2 GB two hours ago and 2 GB now: 4 GB within any hour, under the 5 GB rule.
    let quiet = watch
        .events(json!([
            usage(2_000_000_000, Duration::hours(2)),
            usage(2_000_000_000, Duration::minutes(30))
        ]))
        .await;
    assert_eq!(quiet["fired"], json!([]));
    let burst = watch
        .events(json!([usage(3_500_000_000, Duration::minutes(1))]))
        .await;
    assert_eq!(burst["fired"][0]["rule"], "data_usage_burst");
    assert_eq!(burst["fired"][0]["action"], "alert");
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["total"], 5_500_000_000_u64);
    // A second burst while the alert is open does not raise a duplicate.
    watch
        .events(json!([usage(1_000_000_000, Duration::minutes(0))]))
        .await;
    assert_eq!(watch.alerts("open").await.len(), 1);
    // A bad event names itself and nothing of the batch is recorded.
    let bad = watch
        .post(
            &watch.network,
            "/v1/events",
            json!([usage(1, Duration::minutes(0)), {"msisdn": msisdn, "eid": EID, "kind": "data_usage", "at": watch.at(Duration::minutes(0))}]),
        )
        .await;
    assert_eq!(problem(bad, 422).await["field"], "events[1].bytes");
}

async fn a_data_burst_from_an_unusual_region_freezes_the_subscriber(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let victim = "+23057002001";
    let traveller = "+23057002002";
    let usage = |msisdn: &str, eid: &str, bytes: u64, region: &str, ago: Duration| {
        json!({"msisdn": msisdn, "eid": eid, "kind": "data_usage", "bytes": bytes,
               "region": region, "at": watch.at(ago)})
    };
    // The traveller was in France last week (seen again now), the victim only ever at home.
    watch
        .events(json!([
            usage(victim, EID, 10_000_000, "MU-PL", Duration::hours(20)),
            usage(traveller, &eid(7), 10_000_000, "MU-PL", Duration::hours(20)),
        ]))
        .await;
    watch.clock.advance(Duration::days(7));
    watch
        .events(json!([usage(
            traveller,
            &eid(7),
            10_000_000,
            "FR",
            Duration::hours(23)
        )]))
        .await;
    watch.clock.advance(Duration::days(7));
    let traveller_burst = watch
        .events(json!([
            usage(traveller, &eid(7), 400_000_000, "FR", Duration::minutes(30)),
            usage(traveller, &eid(7), 400_000_000, "FR", Duration::minutes(5)),
        ]))
        .await;
    assert_eq!(
        traveller_burst["fired"],
        json!([]),
        "France is usual for the traveller"
    );

    // The victim's line suddenly uses data in France: first an alert, then the freeze.
    let first = watch
        .events(json!([usage(
            victim,
            EID,
            300_000_000,
            "FR",
            Duration::minutes(30)
        )]))
        .await;
    let rules: Vec<&str> = first["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["activity_unusual_region"], "{first}");
    let second = watch
        .events(json!([usage(
            victim,
            EID,
            300_000_000,
            "FR",
            Duration::minutes(5)
        )]))
        .await;
    let burst = second["fired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "data_burst_unusual_region")
        .unwrap_or_else(|| panic!("no burst alert: {second}"));
    assert_eq!(burst["action"], "freeze_and_revoke");
    let refused = problem(watch.open(victim, &eid(99), "port-louis-1").await, 403).await;
    assert_eq!(refused["type"], "urn:simgate:problem:subscriber-frozen");
    let mut raised: Vec<(String, String)> = watch
        .alerts("open")
        .await
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_owned(),
                a["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    raised.sort();
    // The traveller's first trip to France was unusual too, a week ago: a low alert, no more.
    assert_eq!(
        raised,
        [
            ("activity_unusual_region".to_owned(), "low".to_owned()),
            ("activity_unusual_region".to_owned(), "low".to_owned()),
            (
                "data_burst_unusual_region".to_owned(),
                "critical".to_owned()
            ),
        ]
    );
}

async fn an_activation_hours_after_a_sighting_abroad_goes_to_review(backend: Backend) {
    let watch = Watch::start(backend, |settings| {
        settings
            .risk
            .geography
            .stores
            .insert("port-louis-1".into(), "MU".into());
    })
    .await;
    let msisdn = "+23057003001";
    // The subscriber's phone attached in France two hours ago; now "they" are at a kiosk in
    // Port Louis, 9,400 km away.
    watch
        .events(
            json!([{"msisdn": msisdn, "eid": EID, "kind": "attach", "region": "FR",
                        "at": watch.at(Duration::hours(2))}]),
        )
        .await;
    let session: Value = watch
        .open(msisdn, &eid(5), "port-louis-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], "needs_review", "{session}");
    assert_eq!(
        session["decision"]["reasons"],
        json!(["risk:impossible_travel"])
    );
    let alerts = watch.alerts("open").await;
    assert!(
        alerts.iter().any(|a| a["rule"] == "impossible_travel"),
        "{alerts:?}"
    );

    // A day later the same trip is possible: a new verification is not held.
    watch.clock.advance(Duration::hours(20));
    let other = "+23057003002";
    watch
        .events(
            json!([{"msisdn": other, "eid": eid(6), "kind": "attach", "region": "FR",
                        "at": watch.at(Duration::hours(22))}]),
        )
        .await;
    let later: Value = watch
        .open(other, &eid(6), "port-louis-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["status"], "in_progress", "{later}");
}

async fn a_verification_from_an_address_geolocated_abroad_is_a_sighting_there(backend: Backend) {
    let watch = Watch::start(backend, |settings| {
        // The carrier's CDN sets the country it geolocated the client's address to.
        settings.risk.client_region_header = "x-client-region".into();
    })
    .await;
    let open_from = |msisdn: &'static str, region: &'static str| {
        let base = watch.app.base.clone();
        let key = watch.kiosk.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/verifications"))
                .bearer_auth(key)
                .header("x-client-region", region)
                .json(
                    &json!({"channel": "kiosk", "msisdn": msisdn, "eid": EID, "iccid": ICCID,
                    "consent": support::consent()}),
                )
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // The phone attached at home an hour ago; the verification comes from an address in France.
    let msisdn = "+23057007001";
    watch
        .events(
            json!([{"msisdn": msisdn, "eid": EID, "kind": "attach", "region": "MU-PL",
                        "at": watch.at(Duration::hours(1))}]),
        )
        .await;
    let session = open_from(msisdn, "FR").await;
    assert_eq!(session["status"], "needs_review", "{session}");
    assert_eq!(
        session["decision"]["reasons"],
        json!(["risk:impossible_travel"])
    );
    let mut rules: Vec<String> = watch
        .alerts("open")
        .await
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_owned())
        .collect();
    rules.sort();
    assert_eq!(rules, ["activity_unusual_region", "impossible_travel"]);
    // From home, or with a value that is no region code, nothing is raised.
    let home = open_from("+23057007002", "MU").await;
    assert_eq!(home["status"], "in_progress", "{home}");
    let junk = open_from("+23057007003", "<script>").await;
    assert_eq!(junk["status"], "in_progress", "{junk}");
    assert_eq!(watch.alerts("open").await.len(), 2);
}

async fn verifications_from_one_client_address_are_alerted(backend: Backend) {
    let watch = Watch::start(backend, |settings| {
        // Behind the carrier's ingress, which sets X-Forwarded-For.
        settings.risk.client_ip_header = "x-forwarded-for".into();
        settings.risk.rules = rules(vec![RiskRule {
            name: "verifications_per_client_ip".into(),
            signal: Signal::VerificationOpened,
            key: KeyKind::ClientIp,
            aggregate: simgate_risk::Aggregate::Count,
            window_secs: 3600,
            threshold: 3,
            severity: Severity::Medium,
            action: RuleAction::Alert,
        }]);
    })
    .await;
    let open_from = |address: &'static str, n: u64| {
        let base = watch.app.base.clone();
        let key = watch.kiosk.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/verifications"))
                .bearer_auth(key)
                .header("x-forwarded-for", format!("{address}, 10.0.0.1"))
                .json(&json!({"channel": "kiosk", "consent": support::consent(), "msisdn": format!("+2305900{n:04}"),
                              "eid": eid(20_000 + n), "iccid": ICCID, "store_id": format!("store-{n}")}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Two from one address and two from another: nothing.
    for (n, address) in [
        (1, "203.0.113.7"),
        (2, "203.0.113.7"),
        (3, "198.51.100.9"),
        (4, "198.51.100.9"),
    ] {
        assert_eq!(open_from(address, n).await, 201);
    }
    assert!(watch.alerts("open").await.is_empty());
    // A third from the first address: one alert keyed by the client address.
    assert_eq!(open_from("203.0.113.7", 5).await, 201);
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["key_kind"], "client_ip");
    assert_eq!(alerts[0]["total"], 3);
}

async fn one_passport_for_several_numbers_goes_to_review(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let mut statuses = Vec::new();
    for msisdn in ["+23057001001", "+23057001002", "+23057001003"] {
        let (id, body) = watch
            .open_with_document(msisdn, "person_a_1.jpg", valid_mrz())
            .await;
        assert_eq!(body["outcome"]["passed"], true, "{body}");
        statuses.push(body["verification"]["status"].as_str().unwrap().to_owned());
        if msisdn.ends_with("003") {
            assert_eq!(
                body["verification"]["decision"]["reasons"],
                json!(["risk:document_many_msisdns"])
            );
            // Under review, no token can be issued.
            problem(
                watch
                    .post(
                        &watch.kiosk,
                        &format!("/v1/verifications/{id}/activation"),
                        json!({}),
                    )
                    .await,
                409,
            )
            .await;
        }
    }
    assert_eq!(statuses, ["in_progress", "in_progress", "needs_review"]);
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"], "document_many_msisdns");
    assert_eq!(alerts[0]["key_kind"], "document");
}

async fn a_number_verified_with_another_states_passport_goes_to_review(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let msisdn = "+23057006001";
    let submit = |photo_file: &'static str, mrz: String| {
        let watch = &watch;
        async move {
            let (_, body) = watch.open_with_document(msisdn, photo_file, mrz).await;
            assert_eq!(body["outcome"]["passed"], true, "{body}");
            body["verification"].clone()
        }
    };
    // The holder verifies twice with their Utopian passport: nothing unusual.
    for _ in 0..2 {
        assert_eq!(
            submit("person_a_1.jpg", valid_mrz()).await["status"],
            "in_progress"
        );
    }
    // Then someone presents a French passport for the same number.
    let french = support::issued_passport_mrz("FRA", "MARTIN", "16AB12345", "880101", "330101");
    let taken_over = submit("person_b_1.jpg", french).await;
    assert_eq!(taken_over["status"], "needs_review", "{taken_over}");
    assert_eq!(
        taken_over["decision"]["reasons"],
        json!(["risk:document_issuer_changed"])
    );
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "document_issuer_changed");
    // A first verification with a foreign passport (a visitor's new number) is not unusual.
    let visitor = support::issued_passport_mrz("FRA", "DUBOIS", "17CD67890", "900101", "340101");
    let (_, body) = watch
        .open_with_document("+23057006002", "impostor_1.jpg", visitor)
        .await;
    assert_eq!(body["verification"]["status"], "in_progress", "{body}");
}

async fn one_face_under_two_names_goes_to_review(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    let submit = |msisdn: &'static str, mrz: String| {
        let watch = &watch;
        async move {
            let (_, body) = watch
                .open_with_document(msisdn, "person_a_1.jpg", mrz)
                .await;
            assert_eq!(body["outcome"]["passed"], true, "{body}");
            body["verification"].clone()
        }
    };
    // The same passport presented again by its holder is no sign of fraud.
    assert_eq!(
        submit("+23057002001", valid_mrz()).await["status"],
        "in_progress"
    );
    assert_eq!(
        submit("+23057002001", valid_mrz()).await["status"],
        "in_progress"
    );
    // The same face printed on another passport, under another name and number, is.
    let forged = support::numbered_passport_mrz("MARTIN", "X4R7Q0B21", "880101", "330101");
    let second = submit("+23057002002", forged).await;
    assert_eq!(second["status"], "needs_review", "{second}");
    assert_eq!(
        second["decision"]["reasons"],
        json!(["risk:face_under_other_identity"])
    );
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"], "face_under_other_identity");
    // Another person's face on a third passport matches neither.
    let third = support::numbered_passport_mrz("OKAFOR", "AB1234567", "850101", "330101");
    let (_, body) = watch
        .open_with_document("+23057002003", "person_b_1.jpg", third)
        .await;
    assert_eq!(body["verification"]["status"], "in_progress", "{body}");
    assert_eq!(watch.alerts("open").await.len(), 1);
}

async fn sms_pumping_from_one_kiosk_is_alerted(backend: Backend) {
    let watch = Watch::start(backend, |settings| {
        settings.flow.kiosk.required_steps = vec![simgate_flow::Step::Otp];
        settings.risk.rules = rules(vec![RiskRule {
            name: "otp_pumping_per_store".into(),
            signal: Signal::OtpSend,
            key: KeyKind::Store,
            aggregate: simgate_risk::Aggregate::Count,
            window_secs: 3600,
            threshold: 4,
            severity: Severity::High,
            action: RuleAction::Alert,
        }]);
    })
    .await;
    let send = |n: usize, store: &'static str| {
        let watch = &watch;
        async move {
            let msisdn = format!("+2305700{n:04}");
            let session: Value = watch.open(&msisdn, EID, store).await.json().await.unwrap();
            let id = session["id"].as_str().unwrap().to_owned();
            let sent = watch
                .post(
                    &watch.kiosk,
                    &format!("/v1/verifications/{id}/otp"),
                    json!({"method": "sms"}),
                )
                .await;
            assert_eq!(sent.status(), 202);
        }
    };
    for n in 0..3 {
        send(n, "kiosk-7").await;
        send(100 + n, "kiosk-8").await;
    }
    assert!(
        watch.alerts("open").await.is_empty(),
        "three per kiosk is fine"
    );
    send(3, "kiosk-7").await;
    let alerts = watch.alerts("open").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (
            &alerts[0]["rule"],
            &alerts[0]["key_kind"],
            &alerts[0]["total"]
        ),
        (&json!("otp_pumping_per_store"), &json!("store"), &json!(4))
    );
}

async fn genuine_subscribers_raise_no_alert(backend: Backend) {
    let watch = Watch::start(backend, |_| {}).await;
    for n in 0..5u64 {
        let msisdn = format!("+2305800{n:04}");
        let eid = eid(10_000 + n);
        assert_eq!(
            watch.open(&msisdn, &eid, "port-louis-1").await.status(),
            201
        );
        let fired = watch
            .events(json!([
                event(&msisdn, &eid, "attach", &watch.at(Duration::minutes(50))),
                {"msisdn": msisdn, "eid": eid, "kind": "data_usage", "bytes": 150_000_000_u64,
                 "region": "MU-PL", "at": watch.at(Duration::minutes(20))},
                event(&msisdn, &eid, "login", &watch.at(Duration::minutes(10))),
            ]))
            .await;
        assert_eq!(fired["fired"], json!([]));
    }
    // A re-verification a week later, as a subscriber changing phone would.
    watch.clock.advance(Duration::days(7));
    assert_eq!(
        watch
            .open("+23058000001", &eid(99), "port-louis-1")
            .await
            .status(),
        201
    );
    assert!(watch.alerts("all").await.is_empty());
}

on_both_backends!(
    a_sim_swap_burst_freezes_the_subscriber_and_revokes_their_tokens,
    a_data_burst_from_one_esim_raises_an_alert_only_within_the_hour,
    a_data_burst_from_an_unusual_region_freezes_the_subscriber,
    an_activation_hours_after_a_sighting_abroad_goes_to_review,
    a_verification_from_an_address_geolocated_abroad_is_a_sighting_there,
    verifications_from_one_client_address_are_alerted,
    one_passport_for_several_numbers_goes_to_review,
    a_number_verified_with_another_states_passport_goes_to_review,
    one_face_under_two_names_goes_to_review,
    sms_pumping_from_one_kiosk_is_alerted,
    genuine_subscribers_raise_no_alert,
);

/// Two server processes on one PostgreSQL: a SIM swap reported to each one still makes two in
/// the shared window, and the second replica freezes the subscriber.
#[tokio::test]
async fn two_replicas_on_one_postgresql_share_the_window() {
    let watch = Watch::start(Backend::Postgres, |_| {}).await;
    let settings: Settings = (*watch.app.state.settings).clone();
    let replica = Application::build_with(
        settings,
        Overrides {
            clock: Some(watch.clock.clone()),
            face_engine: Some(face_engine()),
            sms_gateway: Some(Arc::new(RecordingSmsGateway::new())),
        },
    )
    .await
    .expect("second replica");
    let replica_base = format!("http://127.0.0.1:{}", replica.port());
    let _serving = tokio::spawn(replica.run_until_stopped(std::future::pending::<()>()));

    let msisdn = "+23057004321";
    let first = watch
        .events(json!([event(
            msisdn,
            EID,
            "sim_swap",
            &watch.at(Duration::hours(1))
        )]))
        .await;
    assert_eq!(first["fired"], json!([]));
    let second: Value = post(
        &replica_base,
        &watch.network,
        "/v1/events",
        json!([event(
            msisdn,
            &eid(99),
            "sim_swap",
            &watch.at(Duration::minutes(1))
        )]),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(second["fired"][0]["rule"], "sim_swap_burst", "{second}");
    // The first replica sees the freeze the second applied.
    let refused = problem(watch.open(msisdn, &eid(99), "port-louis-1").await, 403).await;
    assert_eq!(refused["type"], "urn:simgate:problem:subscriber-frozen");
}
