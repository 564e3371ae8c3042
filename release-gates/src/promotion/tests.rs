//! Unit tests of every promotion gate's decision and of `may_enter`, on hand-built journals.
//! Each test names the requirement it covers.

use chrono::{DateTime, Duration, Utc};
use release_core::config::render_component;
use release_core::digest::Sha256Digest;
use release_core::id::{EnvironmentName, PersonId, PhaseName};
use release_core::ledger::{Decision, Event, Record};
use release_core::manifest::{Document, Format, parse_str};
use release_core::model::{GateSpec, Platform, Release};
use release_core::plugin::{GatePosition, GateVerdict};
use serde_json::json;

use super::break_glass::active_override;
use super::evidence::{
    BackupVerified, BreakGlass, ConfigBaseline, EvidencePayload, RunbookAck, SignOff,
    evidence_event,
};
use super::junit::JunitReport;
use super::sarif::{Level, SarifReport};
use super::{GateInput, GatesConfig, GatesError, evaluate, may_enter};

pub(crate) const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - id: api
    owner: { primary: a@x, backup: b@x }
    config:
      app.env: |
        LOG_LEVEL={{ log_level }}
        DB_PASSWORD={{ db_password }}
environments:
  - { name: dev, tier: development, parameters: { log_level: debug, db_password: dev-password } }
  - { name: qa1, tier: test, parameters: { log_level: debug, db_password: dev-password } }
  - { name: qa2, tier: test, parameters: { log_level: debug, db_password: dev-password } }
  - { name: qa3, tier: test, parameters: { log_level: debug, db_password: dev-password } }
  - name: production
    tier: production
    parameters: { log_level: warn, db_password: { secret: "vault://p/db" } }
lifecycle:
  phases:
    - { name: develop, environments: [dev] }
    - { name: test, environments: [qa1, qa2, qa3], required: { at_least: 2 } }
    - { name: release, environments: [production] }
"#;

pub(crate) const RELEASE: &str = r#"
apiVersion: release/v1
kind: Release
metadata: { id: shop-1.0.0 }
version: 1.0.0
platform: shop
type: full
release_manager: { primary: a@x, backup: c@x }
change_requests:
  - id: CR-1
    kind: normal
    state: approved
    configuration_items: [api]
    window: { from: "2026-12-01T08:00:00Z", to: "2026-12-01T12:00:00Z" }
changes:
  - { id: CHG-1, request: CR-1, components: [api], author: dev@x }
components:
  api: { version: 1.0.0 }
"#;

pub(crate) fn platform_from(text: &str) -> Platform {
    match parse_str(text, "platform.yaml", Format::Yaml)
        .expect("platform parses")
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

pub(crate) fn release_from(text: &str) -> Release {
    match parse_str(text, "release.yaml", Format::Yaml)
        .expect("release parses")
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

pub(crate) fn platform() -> Platform {
    platform_from(PLATFORM)
}

pub(crate) fn release() -> Release {
    release_from(RELEASE)
}

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("rfc3339").to_utc()
}

pub(crate) fn now() -> DateTime<Utc> {
    t("2026-12-01T09:00:00Z")
}

pub(crate) fn env(name: &str) -> EnvironmentName {
    EnvironmentName::new(name)
}

pub(crate) fn spec(value: serde_json::Value) -> GateSpec {
    serde_json::from_value(value).expect("gate spec")
}

/// A journal being built: records with increasing seq, one minute apart before `now`.
#[derive(Default)]
pub(crate) struct Journal(pub Vec<Record>);

impl Journal {
    pub(crate) fn push(mut self, actor: &str, event: Event) -> Self {
        let seq = self.0.len() as u64 + 1;
        self.0.push(Record {
            release: release().id().clone(),
            seq,
            at: now() - Duration::minutes(60) + Duration::minutes(seq as i64),
            actor: actor.to_owned(),
            changes: Vec::new(),
            event,
            prev: Sha256Digest::of(b""),
            hash: Sha256Digest::of(&seq.to_be_bytes()),
        });
        self
    }

    pub(crate) fn approve(self, who: &str, environment: &str) -> Self {
        self.decide(who, environment, Decision::Approve)
    }

    pub(crate) fn reject(self, who: &str, environment: &str) -> Self {
        self.decide(who, environment, Decision::Reject)
    }

    fn decide(self, who: &str, environment: &str, decision: Decision) -> Self {
        self.push(
            who,
            Event::ApprovalRecorded {
                environment: env(environment),
                decision,
                comment: None,
            },
        )
    }

    pub(crate) fn evidence<P: EvidencePayload>(
        self,
        actor: &str,
        environment: Option<&str>,
        payload: &P,
    ) -> Self {
        self.push(actor, evidence_event(environment.map(env), payload))
    }

    pub(crate) fn completed(self, environment: &str) -> Self {
        self.push(
            "engine",
            Event::StageCompleted {
                environment: env(environment),
            },
        )
    }
}

/// Evaluates `spec` for `environment` (its phase from the lifecycle) at `at`.
#[allow(clippy::too_many_arguments)]
fn run_at(
    config: &GatesConfig,
    p: &Platform,
    r: &Release,
    environment: &str,
    gate: &GateSpec,
    at: DateTime<Utc>,
    started_by: Option<&str>,
    events: &[Record],
) -> GateVerdict {
    let environment = env(environment);
    let phase = p
        .lifecycle
        .phases
        .iter()
        .find(|ph| ph.environments.contains(&environment))
        .map(|ph| ph.name.clone())
        .unwrap_or_else(|| PhaseName::new("none"));
    let starter = started_by.map(PersonId::new);
    let input = GateInput {
        platform: p,
        release: r,
        environment: &environment,
        phase: &phase,
        position: GatePosition::Entry,
        spec: gate,
        now: at,
        started_by: starter.as_ref(),
        events,
    };
    evaluate(config, &input)
}

fn run(config: &GatesConfig, gate: &GateSpec, journal: &Journal) -> GateVerdict {
    run_at(
        config,
        &platform(),
        &release(),
        "production",
        gate,
        now(),
        Some("ana@x"),
        &journal.0,
    )
}

fn codes(v: &GateVerdict) -> Vec<&str> {
    v.reasons().iter().map(|r| r.code.as_str()).collect()
}

#[track_caller]
fn assert_pass(v: &GateVerdict, code: &str) {
    assert!(
        matches!(v, GateVerdict::Pass { .. }),
        "expected pass: {v:?}"
    );
    assert!(codes(v).contains(&code), "expected {code}: {v:?}");
}

#[track_caller]
fn assert_fail(v: &GateVerdict, code: &str) {
    assert!(
        matches!(v, GateVerdict::Fail { .. }),
        "expected fail: {v:?}"
    );
    assert!(codes(v).contains(&code), "expected {code}: {v:?}");
}

#[track_caller]
fn assert_wait(v: &GateVerdict, code: &str) {
    assert!(
        matches!(v, GateVerdict::Wait { until: None, .. }),
        "expected wait: {v:?}"
    );
    assert!(codes(v).contains(&code), "expected {code}: {v:?}");
}

fn roles() -> GatesConfig {
    GatesConfig::new()
        .with_role("ana@x", "sre")
        .with_role("tom@x", "sre")
        .with_role("eva@x", "sre")
        .with_role("eva@x", "dba")
        .with_role("qa@x", "qa-lead")
        .with_role("bo@x", "business-owner")
        .with_role("dev@x", "qa-lead")
}

// ---- approval (M5.2) ----

fn two_sres() -> GateSpec {
    spec(json!({"approval": {"rules": [{"count": 2, "from_roles": ["sre"]}]}}))
}

#[test]
fn approval_needs_n_distinct_role_holders() {
    // M5.2: N approvals from a role; the same person approving twice counts once.
    let one = Journal::default()
        .approve("tom@x", "production")
        .approve("tom@x", "production");
    let v = run(&roles(), &two_sres(), &one);
    assert_wait(&v, "approval.missing");
    assert!(v.reasons()[0].message.contains("1 of 2"), "{v:?}");

    let two = one.approve("eva@x", "production");
    assert_pass(&run(&roles(), &two_sres(), &two), "approval.rule_met");
}

#[test]
fn approval_by_someone_without_the_role_does_not_count() {
    // M5.2: roles come from the directory.
    let j = Journal::default()
        .approve("tom@x", "production")
        .approve("bo@x", "production");
    assert_wait(&run(&roles(), &two_sres(), &j), "approval.missing");
}

#[test]
fn approval_for_another_environment_does_not_count() {
    // M5.2: approvals are per environment.
    let j = Journal::default()
        .approve("tom@x", "dev")
        .approve("eva@x", "dev");
    assert_wait(&run(&roles(), &two_sres(), &j), "approval.missing");
}

#[test]
fn self_approval_is_refused_by_default_and_allowed_when_configured() {
    // M5.2: the person who started the release may not approve it unless allowed.
    let j = Journal::default()
        .approve("ana@x", "production")
        .approve("tom@x", "production");
    let v = run(&roles(), &two_sres(), &j);
    assert_wait(&v, "approval.self_ignored");
    assert_eq!(codes(&v), ["approval.self_ignored", "approval.missing"]);

    let allowed = spec(json!({"approval": {
        "rules": [{"count": 2, "from_roles": ["sre"]}],
        "allow_self_approval": true
    }}));
    assert_eq!(
        codes(&run(&roles(), &allowed, &j)),
        ["approval.rule_met"],
        "self-approval counts when allowed"
    );
}

#[test]
fn any_rejection_fails_the_approval() {
    // M5.2: a rejection stops the release even when enough approvals exist.
    let j = Journal::default()
        .approve("tom@x", "production")
        .approve("eva@x", "production")
        .reject("bo@x", "production");
    let v = run(&roles(), &two_sres(), &j);
    assert_fail(&v, "approval.rejected");
    assert_eq!(codes(&v), ["approval.rejected"]);
}

#[test]
fn every_approval_rule_is_reported() {
    // M5.2: several rules; one person may satisfy more than one rule.
    let gate = spec(json!({"approval": {"rules": [
        {"count": 1, "from_roles": ["sre"]},
        {"count": 1, "from_roles": ["dba"]},
        {"count": 1, "from_people": ["bo@x"]}
    ]}}));
    let j = Journal::default().approve("eva@x", "production");
    let v = run(&roles(), &gate, &j);
    assert_wait(&v, "approval.missing");
    assert_eq!(
        codes(&v),
        ["approval.rule_met", "approval.rule_met", "approval.missing"]
    );
}

// ---- sign-off (M4.6) ----

fn sign_off_gate(allow_authors: bool) -> GateSpec {
    spec(
        json!({"sign_off": {"roles": ["qa-lead", "business-owner"], "allow_authors": allow_authors}}),
    )
}

fn sign(role: &str, person: &str) -> SignOff {
    SignOff {
        role: role.into(),
        person: person.into(),
        comment: None,
    }
}

#[test]
fn sign_off_needs_each_role_from_a_holder() {
    // M4.6: every required role signed by someone holding it.
    let j = Journal::default().evidence("qa@x", None, &sign("qa-lead", "qa@x"));
    let v = run(&roles(), &sign_off_gate(false), &j);
    assert_wait(&v, "sign_off.missing");
    assert_eq!(codes(&v), ["sign_off.signed", "sign_off.missing"]);

    let j = j
        .evidence("tom@x", None, &sign("business-owner", "tom@x"))
        .evidence("bo@x", None, &sign("business-owner", "bo@x"));
    let v = run(&roles(), &sign_off_gate(false), &j);
    assert!(v.passed(), "{v:?}");
    assert_eq!(
        codes(&v),
        ["sign_off.not_in_role", "sign_off.signed", "sign_off.signed"]
    );
}

#[test]
fn sign_off_needs_distinct_people_per_role() {
    // M4.6: one person holding two roles fills only one of them.
    let config = GatesConfig::new()
        .with_role("eva@x", "qa-lead")
        .with_role("eva@x", "business-owner");
    let j = Journal::default()
        .evidence("eva@x", None, &sign("qa-lead", "eva@x"))
        .evidence("eva@x", None, &sign("business-owner", "eva@x"));
    let v = run(&config, &sign_off_gate(false), &j);
    assert_wait(&v, "sign_off.missing");
    assert!(
        v.reasons()
            .iter()
            .any(|r| r.message.contains("distinct person")),
        "{v:?}"
    );
}

#[test]
fn sign_off_by_an_author_is_refused_unless_allowed() {
    // M4.6: dev@x wrote CHG-1 and may not sign off, unless allow_authors.
    let j = Journal::default()
        .evidence("dev@x", None, &sign("qa-lead", "dev@x"))
        .evidence("bo@x", None, &sign("business-owner", "bo@x"));
    let v = run(&roles(), &sign_off_gate(false), &j);
    assert_wait(&v, "sign_off.author");
    assert!(run(&roles(), &sign_off_gate(true), &j).passed());
}

// ---- change request (M1.1, M1.2) ----

#[test]
fn change_request_passes_inside_its_window_and_fails_outside() {
    // M1.1, M1.2: approved request covering the components, window read at `now`.
    let gate = spec(json!({"change_request": {}}));
    let (p, r, j) = (platform(), release(), Journal::default());
    let at = |s: &str| run_at(&roles(), &p, &r, "production", &gate, t(s), None, &j.0);
    assert_pass(&at("2026-12-01T09:00:00Z"), "change_request.ok");
    assert_fail(&at("2026-12-01T12:00:00Z"), "change_request.outside_window");
    assert_fail(&at("2026-12-01T07:59:59Z"), "change_request.outside_window");
}

#[test]
fn change_request_not_approved_or_not_covering_fails_with_every_reason() {
    // M1.1: state and coverage are both reported.
    let r = release_from(
        &RELEASE
            .replace("state: approved", "state: submitted")
            .replace("configuration_items: [api]", "configuration_items: [web]"),
    );
    let gate = spec(json!({"change_request": {}}));
    let v = run_at(
        &roles(),
        &platform(),
        &r,
        "production",
        &gate,
        now(),
        None,
        &[],
    );
    assert!(matches!(v, GateVerdict::Fail { .. }), "{v:?}");
    assert_eq!(
        codes(&v),
        ["change_request.not_approved", "change_request.uncovered"]
    );
}

// ---- config baseline (M2.4) ----

fn baseline_of(p: &Platform, environment: &str) -> ConfigBaseline {
    let e = p.environment(environment).expect("environment");
    let c = p.component("api").expect("component");
    let rendered = render_component(p, c, e, None).expect("renders");
    ConfigBaseline {
        component: "api".into(),
        environment: env(environment),
        digest: rendered.digest(),
        rendered: Some(rendered),
    }
}

#[test]
fn config_baseline_matching_digest_passes() {
    // M2.4
    let j = Journal::default().evidence(
        "cab@x",
        Some("production"),
        &baseline_of(&platform(), "production"),
    );
    let v = run(&roles(), &spec(json!({"config_baseline": {}})), &j);
    assert_pass(&v, "config_baseline.match");
}

#[test]
fn config_baseline_missing_waits() {
    // M2.4: no baseline yet: someone can record it.
    let v = run(
        &roles(),
        &spec(json!({"config_baseline": {}})),
        &Journal::default(),
    );
    assert_wait(&v, "config_baseline.missing");
}

#[test]
fn config_drift_fails_key_by_key_without_secret_values() {
    // M2.4: the approved baseline had another log level and another secret; the reason
    // names both keys, shows secrets only as references, and never a resolved value.
    let approved = platform_from(
        &PLATFORM
            .replace("log_level: warn", "log_level: error")
            .replace("vault://p/db", "vault://p/old-db"),
    );
    let j = Journal::default().evidence(
        "cab@x",
        Some("production"),
        &baseline_of(&approved, "production"),
    );
    let v = run(&roles(), &spec(json!({"config_baseline": {}})), &j);
    assert_fail(&v, "config_baseline.drift");
    let message = &v.reasons()[0].message;
    assert!(message.contains("LOG_LEVEL"), "{message}");
    assert!(message.contains("DB_PASSWORD"), "{message}");
    assert!(message.contains("vault://p/db"), "{message}");
    assert!(!message.contains("dev-password"), "{message}");
}

// ---- backup verified (M2.6) ----

fn backup(restored: bool, verified: bool, at: DateTime<Utc>) -> BackupVerified {
    BackupVerified {
        backup: "bk-1".into(),
        restored,
        verified,
        verified_at: at,
    }
}

#[test]
fn backup_verified_within_max_age_passes_and_too_old_waits() {
    // M2.6
    let gate = spec(json!({"backup_verified": {"max_age": "24h"}}));
    let fresh = Journal::default().evidence(
        "ops@x",
        Some("production"),
        &backup(true, true, now() - Duration::hours(2)),
    );
    assert_pass(&run(&roles(), &gate, &fresh), "backup.verified");
    let old = Journal::default().evidence(
        "ops@x",
        Some("production"),
        &backup(true, true, now() - Duration::hours(25)),
    );
    assert_wait(&run(&roles(), &gate, &old), "backup.too_old");
}

#[test]
fn unverified_or_other_environment_backups_wait() {
    // M2.6: restore not verified, or a backup of staging, is no backup of production.
    let gate = spec(json!({"backup_verified": {"max_age": "24h"}}));
    let j = Journal::default()
        .evidence("ops@x", Some("production"), &backup(true, false, now()))
        .evidence("ops@x", Some("dev"), &backup(true, true, now()));
    let v = run(&roles(), &gate, &j);
    assert_wait(&v, "backup.missing");
    assert!(v.reasons()[0].message.contains("none was both"), "{v:?}");
}

// ---- runbook ack (M6.4) ----

#[test]
fn runbook_ack_by_a_team_member_passes_and_by_others_waits() {
    // M6.4
    let config = GatesConfig::new().with_team_member("ops", "olga@x");
    let gate = spec(json!({"runbook_ack": {"team": "ops"}}));
    let ack = |who: &str| RunbookAck {
        team: "ops".into(),
        person: who.into(),
    };
    let outsider = Journal::default().evidence("tom@x", None, &ack("tom@x"));
    let v = run(&config, &gate, &outsider);
    assert_wait(&v, "runbook.not_member");
    assert_eq!(codes(&v), ["runbook.not_member", "runbook.missing"]);
    let member = outsider.evidence("olga@x", None, &ack("olga@x"));
    assert_pass(&run(&config, &gate, &member), "runbook.acknowledged");
}

// ---- lifecycle (M2.3) ----

fn lifecycle_gate() -> GateSpec {
    spec(json!({"custom": {"name": "lifecycle"}}))
}

#[test]
fn lifecycle_needs_all_then_at_least_n() {
    // M2.3: develop requires all (dev); test requires at least 2 of 3.
    let j = Journal::default().completed("qa1").completed("qa2");
    let v = run(&roles(), &lifecycle_gate(), &j);
    assert_wait(&v, "lifecycle.phase_incomplete");
    assert_eq!(v.reasons().len(), 1, "only develop is unmet: {v:?}");
    assert!(v.reasons()[0].message.contains("develop"), "{v:?}");

    let j = Journal::default().completed("dev").completed("qa1");
    let v = run(&roles(), &lifecycle_gate(), &j);
    assert_wait(&v, "lifecycle.phase_incomplete");
    assert!(v.reasons()[0].message.contains("needs 2 of 3"), "{v:?}");

    let j = j.completed("qa3");
    assert_pass(&run(&roles(), &lifecycle_gate(), &j), "lifecycle.in_order");
}

#[test]
fn lifecycle_optional_phase_never_blocks() {
    // M2.3: an optional phase may be skipped.
    let p = platform_from(&PLATFORM.replace("required: { at_least: 2 }", "required: optional"));
    let j = Journal::default().completed("dev");
    let v = run_at(
        &roles(),
        &p,
        &release(),
        "production",
        &lifecycle_gate(),
        now(),
        None,
        &j.0,
    );
    assert_pass(&v, "lifecycle.in_order");
}

#[test]
fn a_rolled_back_environment_does_not_count() {
    // M2.3: the last stage must have completed after the last rollback.
    let j = Journal::default().completed("dev").push(
        "engine",
        Event::RollbackCompleted {
            environment: env("dev"),
        },
    );
    let v = run(
        &roles(),
        &spec(json!({"custom": {"name": "lifecycle"}})),
        &j,
    );
    assert_wait(&v, "lifecycle.phase_incomplete");
}

// ---- SARIF (M3.4, M4.3) ----

const SARIF: &str = r#"{
  "version": "2.1.0",
  "runs": [{
    "tool": { "driver": { "name": "scan", "rules": [ { "id": "R2", "defaultConfiguration": { "level": "error" } } ] } },
    "results": [
      { "ruleId": "R1", "level": "warning", "message": { "text": "weak" },
        "locations": [ { "physicalLocation": { "artifactLocation": { "uri": "a.rs" }, "region": { "startLine": 3 } } } ] },
      { "ruleId": "R2", "message": { "text": "injection" }, "partialFingerprints": { "h": "abc" } },
      { "ruleId": "R3", "level": "error", "message": { "text": "accepted" }, "suppressions": [ { "kind": "inSource" } ] },
      { "ruleId": "R4", "level": "error", "message": { "text": "under review" }, "suppressions": [ { "kind": "external", "status": "underReview" } ] }
    ]
  }]
}"#;

#[test]
fn sarif_threshold_and_suppressions() {
    // M3.4, M4.3: the rule's default level applies; accepted suppressions do not block,
    // suppressions under review do.
    let report = SarifReport::parse("scan.sarif", SARIF).expect("valid");
    let errors: Vec<&str> = report
        .blocking(Level::Error)
        .iter()
        .map(|f| f.rule_id.as_str())
        .collect();
    assert_eq!(errors, ["R2", "R4"]);
    let warnings: Vec<&str> = report
        .blocking(Level::Warning)
        .iter()
        .map(|f| f.rule_id.as_str())
        .collect();
    assert_eq!(warnings, ["R1", "R2", "R4"]);

    let j = Journal::default().evidence("ci", None, &report);
    let v = run(&roles(), &spec(json!({"sarif": {"fail_on": "error"}})), &j);
    assert_fail(&v, "sarif.finding");
    assert_eq!(v.reasons().len(), 2);
    let v = run(&roles(), &spec(json!({"sarif": {"fail_on": "bogus"}})), &j);
    assert_fail(&v, "sarif.bad_threshold");
}

#[test]
fn sarif_new_only_mode_ignores_baseline_findings() {
    // M3.4: findings present in production's baseline (by fingerprint) do not block.
    let report = SarifReport::parse("scan.sarif", SARIF).expect("valid");
    let baseline = SarifReport::parse(
        "baseline.sarif",
        &SARIF.replace(r#""status": "underReview""#, r#""status": "rejected""#),
    )
    .expect("valid");
    let only_new = report.against_baseline(&baseline);
    assert!(only_new.blocking(Level::Note).is_empty());

    let baseline_without_r2 = SarifReport {
        findings: baseline
            .findings
            .iter()
            .filter(|f| f.rule_id != "R2")
            .cloned()
            .collect(),
        ..baseline
    };
    let report = SarifReport::parse("scan.sarif", SARIF).expect("valid");
    let j = Journal::default().evidence("ci", None, &report.against_baseline(&baseline_without_r2));
    let v = run(&roles(), &spec(json!({"sarif": {"fail_on": "error"}})), &j);
    assert_fail(&v, "sarif.finding");
    assert_eq!(v.reasons().len(), 1);
    assert!(v.reasons()[0].message.contains("R2"), "{v:?}");
}

#[test]
fn sarif_missing_waits_and_bad_logs_are_typed_errors() {
    // M4.3
    let v = run(&roles(), &spec(json!({"sarif": {}})), &Journal::default());
    assert_wait(&v, "sarif.missing");
    assert!(matches!(
        SarifReport::parse("x", r#"{"version": "2.0.0", "runs": []}"#),
        Err(GatesError::InvalidSarif { .. })
    ));
    let err = SarifReport::parse("x", "{\n  nope").expect_err("not JSON");
    assert!(err.to_string().contains("line 2"), "{err}");
}

// ---- JUnit (M4.1) ----

const JUNIT: &str = r#"<?xml version="1.0"?>
<testsuites>
  <testsuite name="api" tests="99">
    <testcase name="a"/>
    <testcase name="b"><failure message="boom"/></testcase>
    <testcase name="c"><skipped/></testcase>
    <testcase name="d"/>
    <testcase name="e"/>
  </testsuite>
</testsuites>"#;

#[test]
fn junit_pass_rate_against_the_minimum() {
    // M4.1: 3 of 4 run cases passed (75 %); cases override the suite's attributes.
    let report = JunitReport::parse("ci", JUNIT).expect("valid");
    assert_eq!(report.totals().tests, 5);
    assert_eq!(report.pass_rate(), Some(0.75));
    let j = Journal::default().evidence("ci", Some("dev"), &report);
    let gate = |rate: f64| spec(json!({"junit": {"min_pass_rate": rate}}));
    assert_pass(&run(&roles(), &gate(75.0), &j), "junit.passed");
    assert_fail(&run(&roles(), &gate(80.0), &j), "junit.pass_rate");
    assert_wait(
        &run(&roles(), &gate(75.0), &Journal::default()),
        "junit.missing",
    );
}

#[test]
fn malformed_junit_is_a_typed_error_naming_the_line() {
    // M4.1
    let xml = "<testsuites>\n  <testsuite name=\"a\" tests=\"x\">\n  </testsuite>\n</testsuites>";
    match JunitReport::parse("ci/job-7", xml) {
        Err(GatesError::InvalidJunit {
            source_name, line, ..
        }) => {
            assert_eq!(source_name, "ci/job-7");
            assert_eq!(line, 2);
        }
        other => panic!("expected InvalidJunit, got {other:?}"),
    }
    let broken = "<testsuites>\n<testsuite>\n<testcase>\n</testsuite>\n</testsuites>";
    match JunitReport::parse("ci", broken) {
        Err(GatesError::InvalidJunit { line, .. }) => assert!(line >= 3, "line {line}"),
        other => panic!("expected InvalidJunit, got {other:?}"),
    }
}

// ---- break-glass (M5.6) ----

fn glass(operator: &str, environment: &str, gate: &str, expires: DateTime<Utc>) -> BreakGlass {
    BreakGlass {
        release: release().id().clone(),
        environment: env(environment),
        gate: gate.into(),
        reason: "INC-42: payments down, hotfix".into(),
        operator: operator.into(),
        expires_at: expires,
    }
}

#[test]
fn break_glass_overrides_only_its_release_environment_and_gate() {
    // M5.6: scoped, reasoned, expiring; the gate's own reasons are kept.
    let later = now() + Duration::hours(1);
    let j = Journal::default().approve("tom@x", "production").evidence(
        "olga@x",
        None,
        &glass("olga@x", "production", "approval", later),
    );
    let v = run(&roles(), &two_sres(), &j);
    assert!(v.passed(), "{v:?}");
    assert_eq!(codes(&v), ["break_glass.overridden", "approval.missing"]);

    for other in [
        glass("olga@x", "dev", "approval", later),
        glass("olga@x", "production", "window", later),
        BreakGlass {
            release: "shop-2.0.0".into(),
            ..glass("olga@x", "production", "approval", later)
        },
    ] {
        let j = Journal::default().evidence("olga@x", None, &other);
        assert_wait(&run(&roles(), &two_sres(), &j), "approval.missing");
    }
}

#[test]
fn expired_or_impersonated_break_glass_is_ignored() {
    // M5.6: expired overrides and overrides recorded by someone other than their operator
    // do not count.
    let expired = Journal::default().evidence(
        "olga@x",
        None,
        &glass("olga@x", "production", "approval", now()),
    );
    assert_wait(&run(&roles(), &two_sres(), &expired), "approval.missing");
    let impersonated = Journal::default().evidence(
        "mallory@x",
        None,
        &glass(
            "olga@x",
            "production",
            "approval",
            now() + Duration::hours(1),
        ),
    );
    assert_wait(
        &run(&roles(), &two_sres(), &impersonated),
        "approval.missing",
    );
    assert!(
        active_override(
            &impersonated.0,
            &release(),
            &env("production"),
            "approval",
            now()
        )
        .is_none()
    );
}

// ---- may_enter (M5.2, M5.6, M2.3) ----

#[test]
fn may_enter_lists_every_reason_of_every_gate() {
    // M2.3, M5.2, M1.2, M2.6: lifecycle, approval, change window and backup all fail or
    // wait; every reason comes back, prefixed by its gate.
    let gated = PLATFORM.replace(
        "{ name: release, environments: [production] }",
        r#"{ name: release, environments: [production], entry_gates: [
              { approval: { rules: [ { count: 2, from_roles: [sre] } ] } },
              { change_request: {} },
              { backup_verified: { max_age: 24h } } ] }"#,
    );
    let p = platform_from(&gated);
    let j = Journal::default()
        .approve("ana@x", "production")
        .completed("dev");
    let decision = may_enter(
        &p,
        &release(),
        &env("production"),
        t("2026-12-01T13:00:00Z"),
        &PersonId::new("ana@x"),
        &j.0,
        &roles(),
    );
    assert!(!decision.allowed);
    let codes: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "lifecycle/lifecycle.phase_incomplete",
            "approval/approval.self_ignored",
            "approval/approval.missing",
            "change_request/change_request.outside_window",
            "backup_verified/backup.missing",
        ]
    );

    // Everything met: allowed, with every gate's reasons.
    let j = Journal::default()
        .completed("dev")
        .completed("qa1")
        .completed("qa2")
        .approve("tom@x", "production")
        .approve("eva@x", "production")
        .evidence("ops@x", Some("production"), &backup(true, true, now()));
    let decision = may_enter(
        &p,
        &release(),
        &env("production"),
        now() + Duration::minutes(5),
        &PersonId::new("ana@x"),
        &j.0,
        &roles(),
    );
    assert!(decision.allowed, "{decision:?}");
    let codes: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "lifecycle/lifecycle.in_order",
            "approval/approval.rule_met",
            "change_request/change_request.ok",
            "backup_verified/backup.verified",
        ]
    );
}

#[test]
fn may_enter_refuses_an_environment_outside_the_lifecycle() {
    // M2.3
    let d = may_enter(
        &platform(),
        &release(),
        &env("nowhere"),
        now(),
        &PersonId::new("ana@x"),
        &[],
        &roles(),
    );
    assert!(!d.allowed);
    assert_eq!(d.reasons[0].code, "policy.not_in_lifecycle");
}

// ---- properties (M5.2, M2.3, M5.6) ----

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn pool() -> Vec<GateSpec> {
        vec![
            two_sres(),
            spec(json!({"approval": {"rules": [{"count": 1}]}})),
            spec(json!({"change_request": {}})),
            spec(json!({"backup_verified": {"max_age": "1h"}})),
            spec(json!({"runbook_ack": {"team": "ops"}})),
            spec(json!({"sign_off": {"roles": ["qa-lead"]}})),
            spec(json!({"custom": {"name": "lifecycle"}})),
            spec(json!({"junit": {"min_pass_rate": 75.0}})),
            spec(json!({"custom": {"name": "unknown"}})),
        ]
    }

    /// A journal from a bit set over the events the pool's gates read.
    fn journal(bits: u16) -> Journal {
        let mut j = Journal::default();
        let on = |i: u16| bits & (1 << i) != 0;
        for (i, env_name) in ["dev", "qa1", "qa2"].into_iter().enumerate() {
            if on(i as u16) {
                j = j.completed(env_name);
            }
        }
        if on(3) {
            j = j.approve("tom@x", "production");
        }
        if on(4) {
            j = j.approve("eva@x", "production");
        }
        if on(5) {
            j = j.reject("bo@x", "production");
        }
        if on(6) {
            j = j.evidence("ops@x", Some("production"), &backup(true, true, now()));
        }
        if on(7) {
            j = j.evidence(
                "olga@x",
                None,
                &RunbookAck {
                    team: "ops".into(),
                    person: "olga@x".into(),
                },
            );
        }
        if on(8) {
            j = j.evidence("qa@x", None, &sign("qa-lead", "qa@x"));
        }
        if on(9) {
            j = j.evidence("ci", None, &JunitReport::parse("ci", JUNIT).expect("valid"));
        }
        if on(10) {
            j = j.evidence(
                "olga@x",
                None,
                &glass(
                    "olga@x",
                    "production",
                    "approval",
                    now() + Duration::hours(1),
                ),
            );
        }
        j
    }

    fn gated(gates: &[GateSpec]) -> Platform {
        let list = serde_json::to_string(gates).expect("serializes");
        platform_from(&PLATFORM.replace(
            "{ name: release, environments: [production] }",
            &format!("{{ name: release, environments: [production], entry_gates: {list} }}"),
        ))
    }

    fn decide(gates: &[GateSpec], j: &Journal, minutes: i64) -> super::super::PolicyDecision {
        may_enter(
            &gated(gates),
            &release(),
            &env("production"),
            now() + Duration::minutes(minutes),
            &PersonId::new("ana@x"),
            &j.0,
            &roles().with_team_member("ops", "olga@x"),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Adding a gate never turns a refusal into an allowance; adding a gate that does not
        /// pass on its own always refuses, and every earlier reason is still reported.
        #[test]
        fn adding_a_gate_is_monotone(
            chosen in proptest::collection::vec(0usize..9, 0..4),
            extra in 0usize..9,
            bits in any::<u16>(),
            minutes in -120i64..240,
        ) {
            let pool = pool();
            let j = journal(bits);
            let mut gates: Vec<GateSpec> = chosen.iter().map(|i| pool[*i].clone()).collect();
            let before = decide(&gates, &j, minutes);
            gates.push(pool[extra].clone());
            let after = decide(&gates, &j, minutes);
            prop_assert!(before.allowed || !after.allowed, "{before:?} then {after:?}");
            let alone = decide(std::slice::from_ref(&pool[extra]), &j, minutes);
            let extra_fails = alone
                .reasons
                .iter()
                .any(|r| !r.code.starts_with("lifecycle/"))
                && !alone.allowed;
            if extra_fails {
                prop_assert!(!after.allowed, "{alone:?} then {after:?}");
            }
            if !before.allowed {
                for reason in &before.reasons {
                    prop_assert!(after.reasons.contains(reason), "{reason:?} lost: {after:?}");
                }
            }
        }

        /// The same gate on the same evidence at the same time gives the same verdict.
        #[test]
        fn the_same_gate_on_the_same_evidence_decides_the_same(
            index in 0usize..9,
            bits in any::<u16>(),
            minutes in -120i64..240,
        ) {
            let gate = &pool()[index];
            let j = journal(bits);
            let copy = Journal(j.0.clone());
            let at = now() + Duration::minutes(minutes);
            let config = roles().with_team_member("ops", "olga@x");
            let (p, r) = (platform(), release());
            let first = run_at(&config, &p, &r, "production", gate, at, Some("ana@x"), &j.0);
            let second = run_at(&config, &p, &r, "production", gate, at, Some("ana@x"), &copy.0);
            prop_assert_eq!(first, second);
        }
    }
}
