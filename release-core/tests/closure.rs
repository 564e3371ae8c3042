//! Release closure through the real engine on in-memory plugins, in virtual time: a critical
//! issue inside the watch window rolls the stage back and opens an RCA (M6.6, M8.1, M8.6);
//! issues, feedback, the summary (M7.5) and the post-implementation review with pain points
//! (M7.3, M7.4) are exact, deterministic projections of the journal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::closure::{
    EnvironmentStatus, WaitKind, aggregate_pain_points, feedback, issues, pain_points,
    post_implementation_review, rcas, rcas_by_component, release_summary,
};
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{
    Event, Feedback, InMemoryLedger, IssueReport, Ledger, Outcome, RcaClosure, Record, Sentiment,
    export_jsonl, import_jsonl, read_all, verify_chain,
};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{InMemoryMetrics, InMemoryRouter, InMemoryTarget, ScopeMatcher};
use release_core::model::{Pause, Platform, Release, Severity};
use release_core::plugin::{
    Gate, GateContext, GateVerdict, Reason, RolloutSpec, RolloutStep, STABLE, SlotWeight, Strategy,
    TokioClock,
};

/// A small canary: one canary replica at 20 %, an analysis, half the traffic for five
/// minutes, then the stable slot takes the new version.
struct Stepped;

impl Strategy for Stepped {
    fn name(&self) -> &str {
        "stepped"
    }
    fn steps(&self, spec: &RolloutSpec) -> release_core::Result<Vec<RolloutStep>> {
        if spec.previous.is_empty() {
            return Ok(vec![
                RolloutStep::Apply(spec.slot(STABLE, spec.replicas)),
                RolloutStep::SetWeights(vec![SlotWeight::new(STABLE, 100)]),
                RolloutStep::Verify,
            ]);
        }
        Ok(vec![
            RolloutStep::Apply(spec.slot("canary", 1)),
            RolloutStep::SetWeights(vec![
                SlotWeight::new(STABLE, 80),
                SlotWeight::new("canary", 20),
            ]),
            RolloutStep::Analyze {
                analysis: "error-rate".into(),
            },
            RolloutStep::SetWeights(vec![
                SlotWeight::new(STABLE, 50),
                SlotWeight::new("canary", 50),
            ]),
            RolloutStep::Pause(Pause::For(release_core::model::HumanDuration::from_mins(5))),
            RolloutStep::Apply(spec.slot(STABLE, spec.replicas)),
            RolloutStep::SetWeights(vec![SlotWeight::new(STABLE, 100)]),
            RolloutStep::RemoveSlot {
                slot: "canary".into(),
            },
        ])
    }
}

/// A smoke gate that fails the first time it is asked and passes afterwards.
#[derive(Default)]
struct FlakySmoke {
    calls: AtomicUsize,
}

#[async_trait]
impl Gate for FlakySmoke {
    async fn evaluate(&self, _: &GateContext) -> release_core::Result<GateVerdict> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Ok(GateVerdict::Fail {
                reasons: vec![Reason::new("smoke.failed", "checkout smoke test timed out")],
            })
        } else {
            Ok(GateVerdict::Pass {
                reasons: vec![Reason::new("smoke.passed", "checkout smoke test passed")],
            })
        }
    }
}

fn platform(staging_gates: &str, production_gates: &str) -> Platform {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Platform
metadata: {{ name: shop }}
components:
  - {{ id: api, owner: {{ primary: dev@x, backup: ops@x }}, strategy: {{ custom: {{ name: stepped }} }} }}
  - {{ id: web, owner: {{ primary: dev@x, backup: ops@x }}, depends_on: [api], strategy: {{ custom: {{ name: stepped }} }} }}
environments:
  - {{ name: staging, tier: staging }}
  - {{ name: production, tier: production, parameters: {{ replicas: 3 }} }}
lifecycle:
  phases:
    - {{ name: verify, environments: [staging], entry_gates: [{staging_gates}] }}
    - {{ name: release, environments: [production], entry_gates: [{production_gates}] }}
analyses:
  error-rate:
    metric: {{ source: default, query: error_ratio }}
    success: "< 0.05"
    interval: 1m
    count: 2
"#
    );
    match parse_str(&text, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

fn release(version: &str) -> Release {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-{version} }}
version: {version}
platform: shop
type: full
release_manager: {{ primary: ana@x, backup: tom@x }}
change_requests:
  - {{ id: CR-7, kind: normal, state: approved, risk: medium, configuration_items: [api, web] }}
changes:
  - {{ id: CHG-1, request: CR-7, components: [api], summary: "Faster checkout", author: dev@x }}
  - {{ id: CHG-2, request: CR-7, components: [web], summary: "New basket page" }}
components:
  api: {{ version: {version} }}
  web: {{ version: {version} }}
rollback:
  watch_window: 30m
  triggers:
    - critical_defect: {{}}
"#
    );
    match parse_str(&text, "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

struct Rig {
    platform: Platform,
    ledger: Arc<dyn Ledger>,
    target: Arc<InMemoryTarget>,
    engine: Engine,
}

impl Rig {
    fn new(platform: Platform) -> Self {
        let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
        let target = Arc::new(InMemoryTarget::new());
        let metrics = Arc::new(InMemoryMetrics::new());
        metrics.set("error_ratio", ScopeMatcher::any(), 0.01);
        let engine = Engine::builder()
            .ledger(ledger.clone())
            .clock(Arc::new(TokioClock::new(start_time())))
            .target("default", target.clone())
            .router(Arc::new(InMemoryRouter::new()))
            .metrics("default", metrics)
            .strategy(Arc::new(Stepped))
            .gate("smoke", Arc::new(FlakySmoke::default()))
            .options(
                EngineOptions::default()
                    .with_holder("engine-a")
                    .with_poll_interval(Duration::from_secs(30)),
            )
            .build()
            .unwrap();
        Self {
            platform,
            ledger,
            target,
            engine,
        }
    }

    async fn journal(&self, version: &str) -> Vec<Record> {
        read_all(self.ledger.as_ref(), &format!("shop-{version}").into())
            .await
            .unwrap()
    }

    fn versions(&self, env: &str) -> Vec<String> {
        self.target
            .versions(env)
            .into_iter()
            .map(|(c, v)| {
                let v: Vec<String> = v.iter().map(ToString::to_string).collect();
                format!("{c} {}", v.join("+"))
            })
            .collect()
    }
}

/// Ships 1.0.0, then runs 2.0.0 until production's watch window has begun and reports
/// `issues` there (each a minute apart); returns the finished run of 2.0.0.
async fn rollback_by_issue(rig: &Rig, reported: Vec<IssueReport>) -> RunOutcome {
    let v1 = rig
        .engine
        .start(&rig.platform, &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(v1.outcome(), Some(&Outcome::Succeeded), "{v1:?}");
    let running = tokio::spawn({
        let engine = rig.engine.clone();
        let (p, r) = (rig.platform.clone(), release("2.0.0"));
        async move { engine.start(&p, &r, "ana@x").await }
    });
    let id = "shop-2.0.0".into();
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let journal = read_all(rig.ledger.as_ref(), &id).await.unwrap();
        if journal.iter().any(|r| {
            matches!(&r.event, Event::WatchStarted { environment, .. } if environment == "production")
        }) {
            break;
        }
        assert!(
            !running.is_finished(),
            "2.0.0 ended before production's watch"
        );
    }
    for issue in reported {
        rig.engine.report_issue(&id, "sre@x", issue).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    running.await.unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_critical_issue_inside_the_watch_window_rolls_the_stage_back_and_opens_an_rca() {
    // covers M6.6 (issues with severity and owner; a critical one triggers rollback), M8.1,
    // M8.6 (RCA after each rollback, closed by a person)
    let rig = Rig::new(platform("", ""));
    let minor = IssueReport::new(
        "INC-1",
        Severity::Low,
        "dev@x",
        "production",
        "basket icon misaligned",
    )
    .with_component("web")
    .with_mitigation("hidden behind a feature flag");
    let critical = IssueReport::new(
        "INC-2",
        Severity::Critical,
        "dev@x",
        "production",
        "checkout returns 500",
    )
    .with_component("api");
    let done = rollback_by_issue(&rig, vec![minor, critical]).await;
    let Some(Outcome::RolledBack {
        environment,
        reason,
    }) = done.outcome()
    else {
        panic!("expected a rollback, got {done:?}");
    };
    assert_eq!(environment.as_str(), "production");
    assert_eq!(
        reason,
        "post-deployment issue of severity critical or worse: critical issue INC-2 reported by \
         sre@x: checkout returns 500 (owner dev@x)"
    );
    // Production is back on 1.0.0; staging keeps 2.0.0.
    assert_eq!(rig.versions("production"), ["api 1.0.0", "web 1.0.0"]);
    assert_eq!(rig.versions("staging"), ["api 2.0.0", "web 2.0.0"]);

    let journal = rig.journal("2.0.0").await;
    verify_chain(&journal).unwrap();
    // The minor issue (reported first) fired nothing; the critical one fired once, naming it.
    let fired: Vec<(Option<String>, String)> = journal
        .iter()
        .filter_map(|r| match &r.event {
            Event::TriggerFired {
                component,
                observed,
                ..
            } => Some((
                component.as_ref().map(ToString::to_string),
                observed.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        fired,
        [(
            Some("api".to_owned()),
            "critical issue INC-2 reported by sre@x: checkout returns 500 (owner dev@x)".to_owned()
        )]
    );
    let reported_at = journal
        .iter()
        .find(|r| matches!(&r.event, Event::IssueReported(i) if i.id == "INC-2"))
        .unwrap()
        .at;
    let fired_at = journal
        .iter()
        .find(|r| matches!(r.event, Event::TriggerFired { .. }))
        .unwrap()
        .at;
    // The watch loop polls every 30 s: the trigger fires within one poll of the report.
    assert!(fired_at >= reported_at && fired_at - reported_at <= chrono::Duration::seconds(30));

    // The engine opened one RCA naming the components production deployed.
    let opened = rcas(&journal);
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].id, "RCA-shop-2.0.0-production-1");
    assert_eq!(
        opened[0]
            .components
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["api", "web"]
    );
    assert!(opened[0].is_open());
    assert_eq!(opened[0].reason, *reason);

    // Issues and their owners, in report order; INC-2 is resolved later.
    let id = "shop-2.0.0".into();
    rig.engine
        .resolve_issue(&id, "INC-2", "dev@x", "null check in the payment client")
        .await
        .unwrap();
    let err = rig
        .engine
        .resolve_issue(&id, "INC-2", "dev@x", "again")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot resolve issue release shop-2.0.0: issue INC-2 is already resolved"
    );
    let err = rig
        .engine
        .report_issue(
            &id,
            "sre@x",
            IssueReport::new("INC-3", Severity::High, "dev@x", "qa", "slow"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot report issue release shop-2.0.0: the platform has no environment `qa`"
    );
    let listed = issues(&rig.journal("2.0.0").await);
    let brief: Vec<(&str, Severity, &str, bool)> = listed
        .iter()
        .map(|i| (i.id.as_str(), i.severity, i.owner.as_str(), i.is_open()))
        .collect();
    assert_eq!(
        brief,
        [
            ("INC-1", Severity::Low, "dev@x", true),
            ("INC-2", Severity::Critical, "dev@x", false)
        ]
    );

    // Closing the RCA needs a summary and a cause; then it is closed, once.
    let empty = RcaClosure::new("RCA-shop-2.0.0-production-1", "", "", Vec::<String>::new());
    assert!(
        rig.engine
            .close_rca(&id, "lead@x", empty)
            .await
            .unwrap_err()
            .to_string()
            .contains("needs a summary and a root cause")
    );
    let closure = RcaClosure::new(
        "RCA-shop-2.0.0-production-1",
        "Checkout failed for card payments for 4 minutes",
        "the payment client did not handle an empty token",
        ["contract test for empty tokens", "alert on checkout 5xx"],
    );
    rig.engine
        .close_rca(&id, "lead@x", closure.clone())
        .await
        .unwrap();
    assert!(
        rig.engine
            .close_rca(&id, "lead@x", closure)
            .await
            .unwrap_err()
            .to_string()
            .contains("is already closed")
    );
    let journal = rig.journal("2.0.0").await;
    let closed = rcas(&journal);
    let close = closed[0].closure.as_ref().unwrap();
    assert_eq!(close.by, "lead@x");
    assert_eq!(close.actions.len(), 2);
    let by_component = rcas_by_component(&[rig.journal("1.0.0").await, journal]);
    assert_eq!(
        by_component.keys().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["api", "web"]
    );
    assert!(
        by_component
            .values()
            .all(|c| c.open.is_empty() && c.closed.len() == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_summary_and_the_review_of_a_rolled_back_release_are_exact_and_deterministic() {
    // covers M7.3 (criteria, planned vs actual, incidents, time to detect and recover),
    // M7.5 (changes, known issues, mitigations), M6.5 (feedback)
    let rig = Rig::new(platform("", ""));
    let critical = IssueReport::new(
        "INC-9",
        Severity::Critical,
        "dev@x",
        "production",
        "checkout returns 500",
    )
    .with_component("api");
    rollback_by_issue(&rig, vec![critical]).await;
    let id = "shop-2.0.0".into();
    rig.engine
        .record_feedback(
            &id,
            "pm@x",
            Feedback::new(
                "beta-customers",
                Sentiment::Positive,
                "basket page is faster",
            )
            .in_environment("staging")
            .about("web"),
        )
        .await
        .unwrap();
    let journal = rig.journal("2.0.0").await;
    assert_eq!(feedback(&journal)[0].from, "beta-customers");

    let summary = release_summary(&journal).unwrap();
    assert_eq!(summary.outcome.status, "rolled_back");
    let envs: Vec<(&str, EnvironmentStatus, Vec<String>)> = summary
        .environments
        .iter()
        .map(|e| {
            (
                e.environment.as_str(),
                e.status,
                e.versions.iter().map(|(c, v)| format!("{c} {v}")).collect(),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [
            (
                "staging",
                EnvironmentStatus::Deployed,
                vec!["api 2.0.0".to_owned(), "web 2.0.0".to_owned()]
            ),
            (
                "production",
                EnvironmentStatus::RolledBack,
                vec!["api 1.0.0".to_owned(), "web 1.0.0".to_owned()]
            ),
        ]
    );
    let md = summary.to_markdown();
    let at = |kind: &str| {
        journal
            .iter()
            .find(|r| r.event.type_name() == kind)
            .unwrap()
            .at
            .to_rfc3339()
    };
    let expected = format!(
        "# Release shop-2.0.0 (v2.0.0)\n\n\
         - **Outcome:** rolled back in production: post-deployment issue of severity critical or worse: critical issue INC-9 reported by sre@x: checkout returns 500 (owner dev@x)\n\
         - **Type:** full\n\
         - **Release manager:** ana@x (backup tom@x)\n\
         - **Started:** {started} by ana@x\n\
         - **Finished:** {finished}\n\n\
         ## Changes\n\n\
         | Change | Summary | Request | Kind | Risk | Components |\n\
         |---|---|---|---|---|---|\n\
         | CHG-1 | Faster checkout | CR-7 | normal | medium | api |\n\
         | CHG-2 | New basket page | CR-7 | normal | medium | web |\n\n\
         ## Versions per environment\n\n\
         | Environment | Status | Versions |\n\
         |---|---|---|\n\
         | staging | deployed | api 2.0.0, web 2.0.0 |\n\
         | production | rolled back | api 1.0.0, web 1.0.0 |\n\n\
         ## Known issues\n\n\
         | Issue | Severity | Environment | Component | Owner | Title | State |\n\
         |---|---|---|---|---|---|---|\n\
         | INC-9 | critical | production | api | dev@x | checkout returns 500 | open |\n\n\
         ## Mitigations\n\n\
         - **rollback** (production, {rolled_back}): production rolled back to api 1.0.0, web 1.0.0 after: post-deployment issue of severity critical or worse: critical issue INC-9 reported by sre@x: checkout returns 500 (owner dev@x)\n\n\
         ## Root-cause analyses\n\n\
         - **RCA-shop-2.0.0-production-1** (api, web; post-deployment issue of severity critical or worse: critical issue INC-9 reported by sre@x: checkout returns 500 (owner dev@x)): open\n\n\
         ## Feedback\n\n\
         - *positive* from beta-customers: basket page is faster\n",
        started = at("release_started"),
        finished = at("release_finished"),
        rolled_back = at("rollback_completed"),
    );
    assert_eq!(md, expected);

    let review = post_implementation_review(&journal).unwrap();
    assert!(!review.success);
    let criteria: Vec<(&str, bool)> = review
        .success_criteria
        .iter()
        .map(|c| (c.criterion.as_str(), c.met))
        .collect();
    assert_eq!(
        criteria,
        [
            ("the release completes every stage", false),
            ("analysis error-rate of api in staging passes", true),
            ("analysis error-rate of web in staging passes", true),
            ("analysis error-rate of api in production passes", true),
            ("analysis error-rate of web in production passes", true),
            ("no rollback trigger fires in staging", true),
            ("no rollback trigger fires in production", false),
            ("no critical issue is open", false),
        ]
    );
    // Each stage: two components of five minutes (the default estimate) in two waves.
    let planned: Vec<(i64, Option<EnvironmentStatus>)> = review
        .timeline
        .iter()
        .map(|t| (t.planned_secs, Some(t.status)))
        .collect();
    assert_eq!(
        planned,
        [
            (600, Some(EnvironmentStatus::Deployed)),
            (600, Some(EnvironmentStatus::RolledBack))
        ]
    );
    assert_eq!(review.planned_secs, 1200);
    let staging = &review.timeline[0];
    let started = journal
        .iter()
        .find(|r| matches!(&r.event, Event::StageStarted { environment, .. } if environment == "staging"))
        .unwrap()
        .at;
    let completed = journal
        .iter()
        .find(|r| matches!(&r.event, Event::StageCompleted { environment } if environment == "staging"))
        .unwrap()
        .at;
    assert_eq!(
        staging.actual_secs,
        Some((completed - started).num_seconds())
    );
    // Staging: two canaries of 2 analyses a minute apart and a 5-minute pause each, plus the
    // 30-minute watch window: over the 10-minute estimate.
    assert!(staging.variance_secs.unwrap() > 0, "{staging:?}");

    // The incident: detected one poll after the report, recovered by the rollback.
    assert_eq!(review.incidents.len(), 1);
    let incident = &review.incidents[0];
    let reported = journal
        .iter()
        .find(|r| matches!(r.event, Event::IssueReported(_)))
        .unwrap()
        .at;
    let fired = journal
        .iter()
        .find(|r| matches!(r.event, Event::TriggerFired { .. }))
        .unwrap()
        .at;
    let recovered = journal
        .iter()
        .find(|r| matches!(r.event, Event::RollbackCompleted { .. }))
        .unwrap()
        .at;
    assert_eq!(incident.first_signal.at, reported);
    assert_eq!(
        incident.first_signal.what,
        "critical issue INC-9 reported: checkout returns 500"
    );
    assert_eq!(incident.detected_at, fired);
    assert_eq!(
        incident.time_to_detect_secs,
        (fired - reported).num_seconds()
    );
    assert_eq!(
        incident.time_to_recover_secs,
        Some((recovered - fired).num_seconds())
    );
    assert_eq!(incident.component.as_ref().map(|c| c.as_str()), Some("api"));
    assert_eq!(incident.rca.as_deref(), Some("RCA-shop-2.0.0-production-1"));
    assert!(review.to_markdown().contains("time to detect"));

    // Pause steps are the longest waits: four of five minutes each (api and web, twice).
    let waits = &review.pain_points.longest_waits;
    assert_eq!(waits.len(), 4);
    assert!(
        waits
            .iter()
            .all(|w| w.kind == WaitKind::PauseStep && w.secs == 300)
    );

    // Same records in, same bytes out — also after an export and import of the journal.
    let again = import_jsonl(&export_jsonl(&journal).unwrap()).unwrap();
    assert_eq!(release_summary(&again).unwrap().to_markdown(), md);
    assert_eq!(
        release_summary(&again).unwrap().to_json().unwrap(),
        summary.to_json().unwrap()
    );
    assert_eq!(
        post_implementation_review(&again)
            .unwrap()
            .to_json()
            .unwrap(),
        review.to_json().unwrap()
    );
    assert_eq!(
        post_implementation_review(&again).unwrap().to_markdown(),
        review.to_markdown()
    );
}

#[tokio::test(start_paused = true)]
async fn pain_points_list_waits_retries_interventions_and_flaky_gates_across_releases() {
    // covers M7.4 (longest waits, retries, manual interventions, flaky gates; across releases)
    let rig = Rig::new(platform(
        "{ custom: { name: smoke } }",
        "{ approval: { rules: [ { count: 1, from_people: [tom@x] } ] } }",
    ));
    let r1 = release("1.0.0");
    let id1 = r1.id().clone();
    // The smoke gate fails staging's first attempt; ana retries.
    let first = rig.engine.start(&rig.platform, &r1, "ana@x").await.unwrap();
    assert!(
        matches!(first.outcome(), Some(Outcome::GateFailed { gate, .. }) if gate == "smoke"),
        "{first:?}"
    );
    rig.engine
        .retry(&id1, "ana@x", Some("smoke env fixed".into()))
        .await
        .unwrap();
    let waiting = rig.engine.resume(&id1, "ana@x").await.unwrap();
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    // Production waits two hours for tom's approval.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    rig.engine
        .approve(&id1, &"production".into(), "tom@x", Some("go".into()))
        .await
        .unwrap();
    let done = rig.engine.resume(&id1, "tom@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");

    // The second release waits one hour.
    let r2 = release("2.0.0");
    let waiting = rig.engine.start(&rig.platform, &r2, "ana@x").await.unwrap();
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    rig.engine
        .approve(r2.id(), &"production".into(), "tom@x", None)
        .await
        .unwrap();
    let done = rig.engine.resume(r2.id(), "tom@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");

    let j1 = rig.journal("1.0.0").await;
    let points = pain_points(&j1);
    let longest = &points.longest_waits[0];
    assert_eq!(
        (
            longest.kind,
            longest.environment.as_ref().map(|e| e.as_str()),
            longest.subject.as_str(),
            longest.secs
        ),
        (WaitKind::Gate, Some("production"), "approval", 7200)
    );
    let retries: Vec<(&str, &str, &str, &str)> = points
        .retries
        .iter()
        .map(|r| {
            (
                r.environment.as_str(),
                r.kind.as_str(),
                r.subject.as_str(),
                r.by.as_str(),
            )
        })
        .collect();
    assert_eq!(retries, [("staging", "stage", "attempt 2", "ana@x")]);
    let interventions: Vec<(&str, &str)> = points
        .manual_interventions
        .iter()
        .map(|i| (i.action.as_str(), i.by.as_str()))
        .collect();
    assert_eq!(interventions, [("retry", "ana@x"), ("approve", "tom@x")]);
    assert_eq!(points.flaky_gates.len(), 1);
    assert_eq!(points.flaky_gates[0].gate, "smoke");
    assert_eq!(points.flaky_gates[0].verdicts, ["fail", "pass"]);
    assert_eq!(points.flaky_gates[0].flips, 1);

    // Across both releases (in either order): the approval wait leads.
    let j2 = rig.journal("2.0.0").await;
    let across = aggregate_pain_points(&[j2.clone(), j1.clone()]);
    assert_eq!(across, aggregate_pain_points(&[j1, j2]));
    let top = &across.waits[0];
    assert_eq!(
        (
            top.kind,
            top.subject.as_str(),
            top.count,
            top.releases,
            top.total_secs,
            top.max_secs
        ),
        (WaitKind::Gate, "approval", 2, 2, 10_800, 7200)
    );
    let approvals = across
        .interventions
        .iter()
        .find(|i| i.action == "approve")
        .unwrap();
    assert_eq!((approvals.count, approvals.releases), (2, 2));
    assert_eq!(approvals.people, ["tom@x"]);
    assert_eq!(across.retries[0].count, 1);
    assert_eq!(across.flaky_gates[0].releases, 1);
    let md = across.to_markdown();
    assert!(
        md.contains("| gate | production | approval | 2 | 2 | 3h 00m 00s | 2h 00m 00s |"),
        "{md}"
    );
}

#[tokio::test]
async fn metric_samples_with_awkward_floats_survive_an_export_and_import() {
    // The audit export must re-import to records whose hashes still verify (M5.3): serde_json
    // parses floats exactly only with `float_roundtrip`.
    use release_core::ledger::{EventDraft, MetricSample, MetricSamples};
    let ledger = InMemoryLedger::new();
    let samples: Vec<MetricSample> = (0..50)
        .map(|i| MetricSample::new("canary", start_time(), 0.004 + 0.0005 * f64::from(i)))
        .collect();
    let draft = EventDraft::new(
        "shop-9.0.0".into(),
        start_time(),
        "host",
        Vec::new(),
        Event::MetricsSampled(MetricSamples::new(
            "production",
            "api",
            "error_ratio",
            samples,
        )),
    );
    ledger.append(draft, None).await.unwrap();
    let records = read_all(&ledger, &"shop-9.0.0".into()).await.unwrap();
    let again = import_jsonl(&export_jsonl(&records).unwrap()).unwrap();
    verify_chain(&again).unwrap();
    assert_eq!(again, records);
}

// covers M5.3: engine work on memory and speed (issue #10) must not change a single journaled
// byte. A canary-like rollout with analyses, a router and a gate, then a rollback by a
// critical issue in the watch window (the journal-reading trigger, the RCA): the (record
// count, hash of the last record) of each journal was recorded before that work; the hash
// chains every record's bytes.
#[tokio::test(start_paused = true)]
async fn the_journals_of_a_rollback_by_issue_stay_byte_identical() {
    let rig = Rig::new(platform("", ""));
    let critical = IssueReport::new(
        "INC-2",
        Severity::Critical,
        "dev@x",
        "production",
        "checkout returns 500",
    )
    .with_component("api");
    rollback_by_issue(&rig, vec![critical]).await;
    let mut got = Vec::new();
    for version in ["1.0.0", "2.0.0"] {
        let journal = rig.journal(version).await;
        verify_chain(&journal).unwrap();
        let last = journal
            .last()
            .map(|r| r.hash.to_string())
            .unwrap_or_default();
        got.push((journal.len(), last));
    }
    let want = [
        (
            40,
            "sha256:c57572143686dfa6eae576d23793c540fb455fe00793e5e335fb08efa60f8974",
        ),
        (
            101,
            "sha256:d9bcd3c8f5b1d5430d37b60a043578808dd800512e0eb4cac19077b0ca011f53",
        ),
    ]
    .map(|(n, hash)| (n, hash.to_owned()));
    assert_eq!(got, want);
}
