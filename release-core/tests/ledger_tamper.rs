//! Tampering with a journal is caught by `verify_chain`, which names the first bad record.

use chrono::{DateTime, Utc};
use release_core::Error;
use release_core::id::{ComponentId, ReleaseId};
use release_core::ledger::{
    Decision, Event, EventDraft, InMemoryLedger, Ledger, OperatorAction, Outcome, Program, Record,
    StepKey, export_jsonl, hash_record, import_jsonl, verify_chain,
};
use release_core::plugin::RolloutStep;

const RECORDS: usize = 10;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn release() -> ReleaseId {
    ReleaseId::new("shop-2026.12")
}

fn events() -> Vec<Event> {
    let key = StepKey {
        environment: "staging".into(),
        attempt: 1,
        component: ComponentId::new("orders-api"),
        program: Program::Deploy,
        index: 0,
    };
    vec![
        Event::StageStarted {
            environment: "staging".into(),
            attempt: 1,
        },
        Event::LockAcquired {
            lock: "env:staging".into(),
            token: 7,
        },
        Event::StepStarted {
            key: key.clone(),
            step: RolloutStep::Verify,
        },
        Event::StepSucceeded { key },
        Event::EvidenceRecorded {
            kind: "junit".into(),
            environment: Some("staging".into()),
            payload: serde_json::json!({"tests": 120, "failures": 0}),
        },
        Event::Paused {
            environment: Some("staging".into()),
            reason: "awaiting approval".into(),
        },
        Event::ApprovalRecorded {
            environment: "production".into(),
            decision: Decision::Approve,
            comment: Some("looks good".into()),
        },
        Event::OperatorActed {
            action: OperatorAction::Resume,
            comment: Some("go".into()),
        },
        Event::StageCompleted {
            environment: "staging".into(),
        },
        Event::ReleaseFinished {
            outcome: Outcome::RolledBack {
                environment: "production".into(),
                reason: "error ratio".into(),
            },
        },
    ]
}

async fn journal() -> Vec<Record> {
    let ledger = InMemoryLedger::new();
    for (i, event) in events().into_iter().enumerate() {
        let draft = EventDraft::new(
            release(),
            t0() + chrono::Duration::seconds(i as i64 * 30),
            if i % 2 == 0 { "engine" } else { "alice" },
            vec!["CHG-1".into()],
            event,
        );
        ledger.append(draft, None).await.unwrap();
    }
    let records = ledger.events(&release(), 0).await.unwrap();
    assert_eq!(records.len(), RECORDS);
    verify_chain(&records).unwrap();
    records
}

/// Asserts `verify_chain` fails at exactly `seq`, with a problem containing `problem`.
#[track_caller]
fn assert_tampered_at(records: &[Record], seq: u64, problem: &str) {
    match verify_chain(records) {
        Err(Error::Tampered {
            release: r,
            seq: found,
            problem: p,
        }) => {
            assert_eq!(r, release());
            assert_eq!(found, seq, "wrong record named: {p}");
            assert!(
                p.contains(problem),
                "problem `{p}` does not say `{problem}`"
            );
        }
        other => panic!("expected Tampered at seq {seq}, got {other:?}"),
    }
}

const CHANGED: &str = "the record was changed";
const MISPLACED: &str = "a record was removed, inserted or reordered";
const UNLINKED: &str = "it does not link to the hash of the record before it";

/// Changes one leaf of the event's payload (a string gets `!`, a number becomes 999999):
/// the first leaf, other than the type tag, whose change still decodes as an event.
fn forge_payload(event: &Event) -> Event {
    /// Mutates the `target`-th leaf; `seen` counts leaves visited.
    fn forge(v: &mut serde_json::Value, target: usize, seen: &mut usize) -> bool {
        match v {
            serde_json::Value::String(_) | serde_json::Value::Number(_) => {
                *seen += 1;
                if *seen - 1 != target {
                    return false;
                }
                match v {
                    serde_json::Value::String(s) => s.push('!'),
                    _ => *v = serde_json::json!(999_999),
                }
                true
            }
            serde_json::Value::Object(map) => map
                .iter_mut()
                .filter(|(k, _)| k.as_str() != "type")
                .any(|(_, v)| forge(v, target, seen)),
            serde_json::Value::Array(items) => items.iter_mut().any(|v| forge(v, target, seen)),
            _ => false,
        }
    }
    let json = serde_json::to_value(event).unwrap();
    for target in 0..64 {
        let mut candidate = json.clone();
        if !forge(&mut candidate, target, &mut 0) {
            break;
        }
        if let Ok(forged) = serde_json::from_value::<Event>(candidate) {
            assert_ne!(&forged, event);
            return forged;
        }
    }
    panic!("nothing to forge in {json}");
}

#[tokio::test]
async fn a_changed_actor_is_named() {
    let records = journal().await;
    for i in 0..RECORDS {
        let mut forged = records.clone();
        forged[i].actor = "mallory".into();
        assert_tampered_at(&forged, i as u64 + 1, CHANGED);
    }
}

#[tokio::test]
async fn a_changed_event_payload_is_named() {
    let records = journal().await;
    for i in 0..RECORDS {
        let mut forged = records.clone();
        forged[i].event = forge_payload(&forged[i].event);
        assert_tampered_at(&forged, i as u64 + 1, CHANGED);
    }
}

#[tokio::test]
async fn a_changed_timestamp_is_named() {
    let records = journal().await;
    for i in 0..RECORDS {
        let mut forged = records.clone();
        forged[i].at += chrono::Duration::seconds(1);
        assert_tampered_at(&forged, i as u64 + 1, CHANGED);
    }
}

#[tokio::test]
async fn a_dropped_record_is_named() {
    let records = journal().await;
    for i in 0..RECORDS - 1 {
        let mut forged = records.clone();
        forged.remove(i);
        assert_tampered_at(&forged, i as u64 + 1, MISPLACED);
    }
    // Dropping the last records leaves a valid prefix: the chain alone cannot tell a
    // truncated journal from a shorter one. Detecting that needs an anchor kept elsewhere
    // (the expected length or last hash), which verify_chain does not take.
    let mut truncated = records.clone();
    truncated.pop();
    assert!(verify_chain(&truncated).is_ok());
}

#[tokio::test]
async fn a_dropped_record_with_the_rest_renumbered_and_rehashed_is_named() {
    let records = journal().await;
    for i in 0..RECORDS - 1 {
        let mut forged = records.clone();
        forged.remove(i);
        for (j, r) in forged.iter_mut().enumerate().skip(i) {
            r.seq = j as u64 + 1;
            r.hash = hash_record(r).unwrap();
        }
        assert_tampered_at(&forged, i as u64 + 1, UNLINKED);
    }
}

#[tokio::test]
async fn swapped_neighbours_are_named() {
    let records = journal().await;
    for i in 0..RECORDS - 1 {
        let mut forged = records.clone();
        forged.swap(i, i + 1);
        assert_tampered_at(&forged, i as u64 + 1, MISPLACED);
    }
}

#[tokio::test]
async fn jsonl_export_round_trips_and_verifies() {
    let records = journal().await;
    let text = export_jsonl(&records).unwrap();
    assert_eq!(text.lines().count(), RECORDS);
    let back = import_jsonl(&text).unwrap();
    assert_eq!(back, records);
    verify_chain(&back).unwrap();
    // Byte-identical when exported again.
    assert_eq!(export_jsonl(&back).unwrap(), text);
}

#[tokio::test]
async fn a_tampered_jsonl_line_is_caught() {
    let records = journal().await;
    let text = export_jsonl(&records).unwrap();
    for i in 0..RECORDS {
        let lines: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(j, l)| {
                if j == i {
                    let edited = l.replacen("\"actor\":\"", "\"actor\":\"x", 1);
                    assert_ne!(edited, l);
                    edited
                } else {
                    l.to_owned()
                }
            })
            .collect();
        let imported = import_jsonl(&(lines.join("\n") + "\n")).unwrap();
        assert_tampered_at(&imported, i as u64 + 1, CHANGED);
    }
}

#[tokio::test]
async fn a_broken_jsonl_line_is_named_by_number() {
    let records = journal().await;
    let text = export_jsonl(&records).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{\"release\": ";
    let err = import_jsonl(&lines.join("\n")).unwrap_err();
    match err {
        Error::Codec { what, .. } => assert_eq!(what, "line 4 of the audit export"),
        other => panic!("expected a Codec error, got {other:?}"),
    }
}

// A journal read back from storage must verify: floats (analysis measurements, observed
// values) survive JSON exactly. Without serde_json's `float_roundtrip` some values parse to
// a neighbouring f64, the re-serialised record no longer matches its hash, and an honest
// journal reads as tampered (found by the quickstart on its SQLite ledger).
#[tokio::test]
async fn measurements_round_trip_exactly_through_jsonl() {
    let ledger = InMemoryLedger::new();
    let values = [
        0.123_966_942_148_760_33,
        0.128_205_128_205_128_2,
        0.121_951_219_512_195_12,
        1.0 / 3.0,
        2.0_f64.sqrt(),
        5e-324,
        1.797_693_134_862_315_7e308,
    ];
    let draft = EventDraft::new(
        release(),
        t0(),
        "engine",
        Vec::new(),
        Event::AnalysisCompleted {
            environment: "production".into(),
            component: ComponentId::new("orders-api"),
            analysis: "error-rate".into(),
            outcome: release_core::ledger::AnalysisOutcome::Failed,
            measurements: values.iter().copied().map(Some).collect(),
        },
    );
    ledger.append(draft, None).await.unwrap();
    let records = ledger.events(&release(), 0).await.unwrap();
    let back = import_jsonl(&export_jsonl(&records).unwrap()).unwrap();
    verify_chain(&back).unwrap();
    assert_eq!(back, records);
}
