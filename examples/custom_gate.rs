//! A promotion gate written against `release-core` alone: production may only be entered
//! when the release's change requests are all of low or medium risk, unless a `risk_accepted`
//! evidence event from the change manager is in the journal. Every verdict carries reasons.
//!
//! ```sh
//! cargo run --example custom_gate
//! ```
//!
//! Register it with `Engine::builder().gate("risk", Arc::new(RiskGate))` and name it in a
//! lifecycle phase as `{ custom: { name: risk } }`.

use std::sync::Arc;

use async_trait::async_trait;
use release_core::ledger::Event;
use release_core::model::Risk;
use release_core::plugin::{Gate, GateContext, GateVerdict, Reason};

/// Refuses high-risk change requests without an accepted risk.
pub struct RiskGate;

#[async_trait]
impl Gate for RiskGate {
    async fn evaluate(&self, context: &GateContext) -> release_core::Result<GateVerdict> {
        let risky: Vec<String> = context
            .release
            .change_requests
            .iter()
            .filter(|cr| cr.risk >= Risk::High)
            .map(|cr| format!("{} ({})", cr.id, format!("{:?}", cr.risk).to_lowercase()))
            .collect();
        if risky.is_empty() {
            return Ok(GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "risk.low",
                    "every change request is of low or medium risk",
                )],
            });
        }
        let accepted = context.events.iter().find_map(|r| match &r.event {
            Event::EvidenceRecorded {
                kind, environment, ..
            } if kind == "risk_accepted" && environment.as_ref() == Some(&context.environment) => {
                Some(r.actor.clone())
            }
            _ => None,
        });
        Ok(match accepted {
            Some(by) => GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "risk.accepted",
                    format!("high-risk requests {} accepted by {by}", risky.join(", ")),
                )],
            },
            None => GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "risk.unaccepted",
                    format!(
                        "high-risk requests {} need a `risk_accepted` evidence event for {}",
                        risky.join(", "),
                        context.environment
                    ),
                )],
            },
        })
    }
}

// Virtual time: the one-minute watch window passes at once.
#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    use release_core::engine::{Engine, RunOutcome};
    use release_core::ledger::{EventDraft, InMemoryLedger, Ledger};
    use release_core::manifest::{Document, Format, parse_str};
    use release_core::memory::InMemoryTarget;

    let text = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: demo }
components: [ { id: api, owner: { primary: a@x, backup: b@x } } ]
environments: [ { name: production, tier: production } ]
lifecycle:
  phases: [ { name: release, environments: [production], entry_gates: [ { custom: { name: risk } } ] } ]
---
apiVersion: release/v1
kind: Release
metadata: { id: demo-1.0.0 }
version: 1.0.0
platform: demo
type: delta
release_manager: { primary: a@x, backup: b@x }
change_requests: [ { id: CR-7, kind: normal, state: approved, risk: high, configuration_items: [api] } ]
changes: [ { id: CHG-1, request: CR-7, components: [api] } ]
components: { api: { version: 1.0.0 } }
rollback: { watch_window: 1m, triggers: [ { error_rate: { above: 0.05 } } ] }
"#;
    let mut docs = match parse_str(text, "demo.yaml", Format::Yaml) {
        Ok(docs) => docs.into_iter(),
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    };
    let (Some(Document::Platform(platform)), Some(Document::Release(release))) =
        (docs.next(), docs.next())
    else {
        eprintln!("the demo manifest holds a platform and a release");
        std::process::exit(2);
    };
    let (platform, release) = (platform.value, release.value);
    let ledger = Arc::new(InMemoryLedger::new());
    let clock = Arc::new(release_core::plugin::TokioClock::new(chrono::Utc::now()));
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(clock.clone())
        .target("default", Arc::new(InMemoryTarget::new()))
        .gate("risk", Arc::new(RiskGate))
        .build()
        .expect("the demo engine has a ledger and a target");
    let first = engine
        .start(&platform, &release, "ana@x")
        .await
        .expect("starts");
    if let RunOutcome::Waiting { reason, .. } = &first {
        println!("waiting: {reason}");
    }
    // The change manager accepts the risk: an evidence event in the journal.
    let draft = EventDraft::new(
        release.id().clone(),
        release_core::plugin::Clock::now(clock.as_ref()),
        "carol@x",
        vec![],
        Event::EvidenceRecorded {
            kind: "risk_accepted".to_owned(),
            environment: Some("production".into()),
            payload: serde_json::json!({ "note": "CAB minutes 2026-12-01" }),
        },
    );
    ledger.append(draft, None).await.expect("recorded");
    let done = engine.resume(release.id(), "ana@x").await.expect("resumes");
    println!("{done:?}");
}
