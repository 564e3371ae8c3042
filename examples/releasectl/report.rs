//! `releasectl report` and `releasectl inventory`: projections of the journal (M7.1, M7.5).
//!
//! `report` prints release-core's closure projections of one release's journal — the
//! stakeholders' summary (changes, versions per environment, known issues, mitigations,
//! RCAs) and the post-implementation review (criteria, planned vs actual timeline,
//! incidents, time to detect and recover, pain points) — followed by the journal's timeline.
//! `--out DIR` writes `DIR/<release>/`: `summary.{md,json}`, `review.{md,json}`, the HTML
//! report (release-artifacts' `render_html`, charts in SVG), `audit.jsonl`, and with
//! `--sign-key REF` the signed evidence bundle `evidence.tar` (release-artifacts' bundle,
//! verified before it is written). The key is an Ed25519 seed read through a secret
//! reference (see `host.rs`), never from a flag's value, and never printed; the public key is.
//!
//! `inventory` prints what runs per environment from two sources side by side: the CMDB
//! (release-adapters' inventory in `<state>/inventory.db`, synced from the ledger first):
//! version, release, since when, deployed or rolled back; and the target, asked (`observe`)
//! what it runs now: slots, versions, ready replicas, endpoints. They differ mid-stage (the
//! CMDB moves when a stage completes or rolls back) and when something outside the engine
//! stopped a process. `--history` adds the CMDB's deployment history; the JSON always has
//! `history` and `dependencies`.
//!
//! Both are deterministic for a given journal: environments in lifecycle order, components
//! and releases sorted by id.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use release_adapters::inventory::{DependencyRow, DeploymentAction, HistoryRow};
use release_artifacts::bundle::{EvidenceBundle, verify_bundle};
use release_artifacts::provenance::key_id;
use release_artifacts::report::render_html;
use release_core::closure::{post_implementation_review, release_summary};
use release_core::ledger::{Event, Ledger, Record, export_jsonl};
use release_core::model::{Platform, SecretRef};
use serde::Serialize;

use crate::Exit;
use crate::host::{runtime, secret_variable, target};
use crate::pipeline::to_json;
use crate::state::{Failure, StateDir, TargetKind, pick_release};
use crate::timeline::{Line, line, render};

/// Where `report --out` wrote, and the bundle's signer.
#[derive(Debug, Default, Serialize)]
struct Written {
    files: Vec<String>,
    /// The key id and public key (hex) that signed `evidence.tar`.
    signed_by: Option<(String, String)>,
}

/// The JSON of `report`.
#[derive(Debug, Serialize)]
struct ReportJson {
    summary: serde_json::Value,
    review: serde_json::Value,
    timeline: Vec<Line>,
    written: Written,
}

fn closure_error(e: impl std::fmt::Display) -> Failure {
    Failure::other(format!(
        "cannot project the journal: {e}; check it with `releasectl audit verify`"
    ))
}

fn hex_bytes(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bundle signing key from a secret reference (`env://NAME`, or any `scheme://path`
/// read from `RELEASECTL_SECRET_…`, as configuration secrets are): 32 bytes of Ed25519 seed,
/// in hex. The value is never printed.
fn signing_key(reference: &str) -> Result<SigningKey, Failure> {
    let parsed =
        SecretRef::parse(reference).map_err(|e| Failure::invalid(format!("--sign-key: {e}")))?;
    let variable = secret_variable(&parsed);
    let value = std::env::var(&variable).map_err(|_| {
        Failure::invalid(format!(
            "--sign-key {reference}: the environment variable `{variable}` is not set; make it a masked CI variable holding a 32-byte Ed25519 seed in hex (`openssl rand -hex 32`)"
        ))
    })?;
    let seed = hex_bytes(&value).ok_or_else(|| {
        Failure::invalid(format!(
            "--sign-key {reference}: `{variable}` does not hold 64 hex digits (a 32-byte Ed25519 seed); generate one with `openssl rand -hex 32`"
        ))
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A trusted public key: 64 hex digits, or a file holding them.
pub(crate) fn trusted_key(text: &str) -> Result<VerifyingKey, Failure> {
    let value = match std::fs::read_to_string(text) {
        Ok(content) => content,
        Err(_) => text.to_owned(),
    };
    let bytes = hex_bytes(&value).ok_or_else(|| {
        Failure::invalid(format!(
            "--trusted-key {text}: give the signer's Ed25519 public key as 64 hex digits (as `releasectl report --sign-key` prints it), or a file holding them"
        ))
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| {
        Failure::invalid(format!(
            "--trusted-key {text}: not an Ed25519 public key ({e})"
        ))
    })
}

fn write_file(path: &Path, bytes: &[u8], written: &mut Written) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
    written.files.push(path.display().to_string());
    Ok(())
}

/// Writes summary, review, HTML report, audit export and (with a key) the evidence bundle.
fn write_closure(
    dir: &Path,
    records: &[Record],
    key: Option<&SigningKey>,
) -> Result<Written, Failure> {
    let id = records
        .first()
        .map(|r| r.release.to_string())
        .unwrap_or_default();
    let dir = dir.join(&id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    let summary = release_summary(records).map_err(closure_error)?;
    let review = post_implementation_review(records).map_err(closure_error)?;
    let (summary_md, review_md) = (summary.to_markdown(), review.to_markdown());
    let mut written = Written::default();
    write_file(&dir.join("summary.md"), summary_md.as_bytes(), &mut written)?;
    let summary_json = summary.to_json().map_err(closure_error)?;
    write_file(
        &dir.join("summary.json"),
        summary_json.as_bytes(),
        &mut written,
    )?;
    write_file(&dir.join("review.md"), review_md.as_bytes(), &mut written)?;
    let review_json = review.to_json().map_err(closure_error)?;
    write_file(
        &dir.join("review.json"),
        review_json.as_bytes(),
        &mut written,
    )?;
    let html = render_html(records).map_err(closure_error)?;
    write_file(&dir.join("report.html"), html.as_bytes(), &mut written)?;
    let audit = export_jsonl(records)?;
    write_file(&dir.join("audit.jsonl"), audit.as_bytes(), &mut written)?;
    if let Some(key) = key {
        let bundle = EvidenceBundle::new(records)
            .and_then(|b| b.with_file("closure/summary.md", summary_md.into_bytes()))
            .and_then(|b| b.with_file("closure/review.md", review_md.into_bytes()))
            .and_then(|b| b.write(key))
            .map_err(closure_error)?;
        // Verified before it is handed over, as an auditor will.
        verify_bundle(&bundle, &[key.verifying_key()]).map_err(closure_error)?;
        write_file(&dir.join("evidence.tar"), &bundle, &mut written)?;
        written.signed_by = Some((
            key_id(&key.verifying_key()),
            hex(key.verifying_key().as_bytes()),
        ));
    }
    Ok(written)
}

/// `releasectl report`.
pub(crate) fn report(
    release: Option<&str>,
    state_path: &Path,
    out: Option<&Path>,
    sign_key: Option<&str>,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let key = sign_key.map(signing_key).transpose()?;
        if key.is_some() && out.is_none() {
            return Err(Failure::invalid(
                "--sign-key signs the evidence bundle `report` writes: add `--out DIR`",
            ));
        }
        let state = StateDir::existing(state_path)?;
        let records = runtime(TargetKind::Process)?.block_on(async {
            let ledger = state.ledger()?;
            let (_, records) = pick_release(ledger.as_ref(), release, &state.ledger_path()).await?;
            Ok::<_, Failure>(records)
        })?;
        let summary = release_summary(&records).map_err(closure_error)?;
        let review = post_implementation_review(&records).map_err(closure_error)?;
        let first = records
            .first()
            .map_or_else(DateTime::<Utc>::default, |r| r.at);
        let timeline: Vec<Line> = records.iter().filter_map(|r| line(first, r)).collect();
        let written = match out {
            Some(dir) => write_closure(dir, &records, key.as_ref())?,
            None => Written::default(),
        };
        if json {
            let parse = |text: release_core::Result<String>| {
                text.map_err(closure_error).and_then(|t| {
                    serde_json::from_str(&t).map_err(|e| Failure::other(e.to_string()))
                })
            };
            let report = ReportJson {
                summary: parse(summary.to_json())?,
                review: parse(review.to_json())?,
                timeline,
                written,
            };
            println!("{}", to_json(&report)?);
            return Ok(Exit::Ok);
        }
        print!("{}", summary.to_markdown());
        println!();
        print!("{}", review.to_markdown());
        println!("\n## Timeline\n\n```text");
        for l in &timeline {
            println!("{}", render(&l.offset, l));
        }
        println!("```");
        for file in &written.files {
            eprintln!("wrote {file}");
        }
        if let Some((id, public)) = &written.signed_by {
            eprintln!(
                "evidence.tar signed by key {id}; verify with `releasectl audit verify --bundle FILE --trusted-key {public}`"
            );
        }
        Ok(Exit::Ok)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// One component in one environment.
#[derive(Debug, Serialize)]
struct Running {
    component: String,
    /// The version the CMDB records (what the last completed stage or rollback left).
    version: Option<String>,
    /// The release that put it there.
    release: Option<String>,
    /// Since when.
    since: Option<DateTime<Utc>>,
    /// `deployed` or `rolled_back`.
    via: Option<DeploymentAction>,
    /// The slots the target runs now (more than one mid-canary or mid-switch).
    slots: Vec<SlotLine>,
}

#[derive(Debug, Serialize)]
struct SlotLine {
    slot: String,
    version: String,
    replicas: u32,
    ready: u32,
    endpoints: Vec<String>,
}

/// The JSON of `inventory`.
#[derive(Debug, Serialize)]
struct InventoryReport {
    environments: Vec<EnvironmentInventory>,
    history: Vec<HistoryRow>,
    dependencies: Vec<DependencyRow>,
}

#[derive(Debug, Serialize)]
struct EnvironmentInventory {
    environment: String,
    components: Vec<Running>,
}

/// The newest platform document of each platform in the ledger.
async fn platforms(ledger: &dyn Ledger) -> Result<BTreeMap<String, Platform>, Failure> {
    let mut newest: BTreeMap<String, (DateTime<Utc>, Platform)> = BTreeMap::new();
    for id in ledger.releases().await? {
        let records = ledger.events(&id, 0).await?;
        for r in records.iter().take(1) {
            if let Event::ReleaseStarted { platform, .. } = &r.event {
                let name = platform.metadata.name.clone();
                if newest.get(&name).is_none_or(|(at, _)| r.at >= *at) {
                    newest.insert(name, (r.at, (**platform).clone()));
                }
            }
        }
    }
    Ok(newest.into_iter().map(|(n, (_, p))| (n, p)).collect())
}

/// `releasectl inventory`.
pub(crate) fn inventory(state_path: &Path, history: bool, json: bool) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let settings = state.required_settings()?;
        let report = runtime(settings.target)?.block_on(async {
            let ledger = state.ledger()?;
            let cmdb = state.inventory()?;
            cmdb.sync(ledger.as_ref())
                .await
                .map_err(|e| Failure::other(e.to_string()))?;
            let snapshot = cmdb
                .snapshot()
                .await
                .map_err(|e| Failure::other(e.to_string()))?;
            let target = target(&state, &settings).await?;
            let mut environments: Vec<EnvironmentInventory> = Vec::new();
            for (name, platform) in platforms(ledger.as_ref()).await? {
                for (_, env) in platform.lifecycle.environments() {
                    let mut components = Vec::new();
                    for component in &platform.components {
                        let row = snapshot.deployments.iter().find(|d| {
                            d.platform == name
                                && &d.environment == env
                                && d.component == component.id
                        });
                        let slots: Vec<SlotLine> = target
                            .observe(&component.id, env)
                            .await?
                            .iter()
                            .filter(|s| s.spec.replicas > 0)
                            .map(|s| SlotLine {
                                slot: s.spec.slot.to_string(),
                                version: s.spec.version.to_string(),
                                replicas: s.spec.replicas,
                                ready: s.ready_replicas,
                                endpoints: s.endpoints.iter().map(|e| e.url.clone()).collect(),
                            })
                            .collect();
                        if row.is_none() && slots.is_empty() {
                            continue;
                        }
                        components.push(Running {
                            component: component.id.to_string(),
                            version: row.map(|r| r.version.to_string()),
                            release: row.map(|r| r.release.to_string()),
                            since: row.map(|r| r.since),
                            via: row.map(|r| r.via),
                            slots,
                        });
                    }
                    components.sort_by(|a, b| a.component.cmp(&b.component));
                    match environments
                        .iter_mut()
                        .find(|e| e.environment == env.as_str())
                    {
                        Some(e) => e.components.extend(components),
                        None => environments.push(EnvironmentInventory {
                            environment: env.to_string(),
                            components,
                        }),
                    }
                }
            }
            Ok::<_, Failure>(InventoryReport {
                environments,
                history: snapshot.history,
                dependencies: snapshot.dependencies,
            })
        })?;
        if json {
            println!("{}", to_json(&report)?);
            return Ok(Exit::Ok);
        }
        for env in &report.environments {
            println!("{}:", env.environment);
            if env.components.is_empty() {
                println!("  nothing runs");
            }
            for c in &env.components {
                let slots: Vec<String> = c
                    .slots
                    .iter()
                    .map(|s| format!("{} {} {}/{} ready", s.slot, s.version, s.ready, s.replicas))
                    .collect();
                println!(
                    "  {:<14} {:<10} {:<22} {}",
                    c.component,
                    c.version.as_deref().unwrap_or("-"),
                    match (&c.release, c.via) {
                        (Some(r), Some(DeploymentAction::RolledBack)) =>
                            format!("{r} (rolled back)"),
                        (Some(r), _) => r.clone(),
                        (None, _) => "(no completed stage)".to_owned(),
                    },
                    if slots.is_empty() {
                        "not running".to_owned()
                    } else {
                        slots.join(", ")
                    }
                );
            }
        }
        if history {
            println!("history:");
            for h in &report.history {
                println!(
                    "  {}  {:<11} {:<14} {:<11} {} -> {}  {}",
                    h.at.format("%Y-%m-%dT%H:%M:%SZ"),
                    h.environment,
                    h.component,
                    match h.action {
                        DeploymentAction::Deployed => "deployed",
                        DeploymentAction::RolledBack => "rolled back",
                    },
                    h.replaced
                        .as_ref()
                        .map_or("-".to_owned(), ToString::to_string),
                    h.version
                        .as_ref()
                        .map_or("-".to_owned(), ToString::to_string),
                    h.release
                );
            }
        }
        Ok(Exit::Ok)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}
