//! The team: whenever a release waits for people, named people act as a real team would.
//! QA and the business owner sign off staging (they wrote none of the changes), CI records
//! the test results and rehearses the database migrations on a clone of production's data,
//! and a release manager other than the one who started the release approves production
//! (M4.5, M4.6, M5.2).

use std::sync::Arc;

use release_core::engine::{Engine, RunOutcome};
use release_core::ledger::Ledger;
use release_core::model::{Platform, Release};
use release_core::plugin::Clock;
use release_gates::promotion::GatesConfig;
use release_gates::promotion::evidence::{SignOff, evidence_draft};
use release_gates::promotion::junit::JunitReport;

use crate::data::Data;

/// Who starts releases.
pub const STARTER: &str = "ana@shop.example";

/// The JUnit report the staging suite produced.
pub const JUNIT: &str = r#"<testsuites>
  <testsuite name="orders-integration" tests="212" failures="0" errors="0" skipped="0"/>
  <testsuite name="checkout-journeys" tests="200" failures="0" errors="0" skipped="0"/>
</testsuites>"#;

/// Who holds which role: the gates read it (approvals by role, distinct sign-offs).
pub fn roles() -> GatesConfig {
    GatesConfig::default()
        .with_role("mia@shop.example", "qa-lead")
        .with_role("omar@shop.example", "business-owner")
        .with_role("ana@shop.example", "release-manager")
        .with_role("tom@shop.example", "release-manager")
}

/// Starts a release and answers every wait for people until it ends; `say` reports each
/// action.
pub async fn ship(
    engine: &Engine,
    ledger: &Arc<dyn Ledger>,
    clock: &Arc<dyn Clock>,
    platform: &Platform,
    release: &Release,
    data: &Data,
    say: &dyn Fn(String),
) -> Result<RunOutcome, String> {
    let mut outcome = engine
        .start(platform, release, STARTER)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..10 {
        let RunOutcome::Waiting {
            environment,
            reason,
        } = &outcome
        else {
            break;
        };
        let env = environment.clone().unwrap_or_else(|| "production".into());
        if reason.contains("`sign_off`") {
            for (person, role) in [
                ("mia@shop.example", "qa-lead"),
                ("omar@shop.example", "business-owner"),
            ] {
                let sign = SignOff {
                    role: role.into(),
                    person: person.into(),
                    comment: Some("looks good".to_owned()),
                };
                let draft = evidence_draft(
                    release.id().clone(),
                    clock.now(),
                    person,
                    Some(env.clone()),
                    &sign,
                );
                ledger
                    .append(draft, None)
                    .await
                    .map_err(|e| e.to_string())?;
                say(format!("{env}: signed off by {person} ({role})"));
            }
        } else if reason.contains("`junit`") {
            let report =
                JunitReport::parse("ci/staging-tests.xml", JUNIT).map_err(|e| e.to_string())?;
            let draft = evidence_draft(
                release.id().clone(),
                clock.now(),
                "ci@shop.example",
                Some(env.clone()),
                &report,
            );
            ledger
                .append(draft, None)
                .await
                .map_err(|e| e.to_string())?;
            say(format!("{env}: CI recorded 412 of 412 tests passed"));
        } else if reason.contains("`migration_rehearsal`") {
            // CI rehearses the pinned migration set on a clone of the environment's database
            // and records the report, passed or not: the gate judges it.
            let report = data
                .rehearse(platform, release, env.as_str(), clock.now())
                .await?;
            let draft = evidence_draft(
                release.id().clone(),
                clock.now(),
                "ci@shop.example",
                Some(env.clone()),
                &report,
            );
            ledger
                .append(draft, None)
                .await
                .map_err(|e| e.to_string())?;
            say(format!(
                "{env}: CI rehearsed the migrations on a clone of {}: {} ({} checks, down restores the original: {})",
                report.resource,
                if report.passed() { "passed" } else { "FAILED" },
                report.checks.len(),
                report.restored_digest == Some(report.original_digest)
            ));
        } else if reason.contains("`approval`") {
            engine
                .approve(
                    release.id(),
                    &env,
                    "tom@shop.example",
                    Some("go".to_owned()),
                )
                .await
                .map_err(|e| e.to_string())?;
            say(format!(
                "{env}: approved by tom@shop.example (release manager)"
            ));
        } else {
            return Err(format!("nobody can answer: {reason}"));
        }
        outcome = engine
            .resume(release.id(), STARTER)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(outcome)
}
