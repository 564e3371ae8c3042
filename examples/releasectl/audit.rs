//! `releasectl audit verify` and `audit export`: the hash chain of every journal (M5.3).
//!
//! `verify` reads a state directory's ledger (`--state`, the default), any SQLite ledger file
//! (`--ledger`) or a JSON Lines audit export (`--export`), checks each release's chain with
//! release-core's `verify_chain` (numbered 1, 2, 3…, each record linked to its
//! predecessor's hash, each hash matching its content) and prints, per release, the records
//! and the chain head, or the first record that breaks the chain and how. Exit 0 when every
//! chain verifies, 3 when one does not (the check found a problem), 2 when the source cannot
//! be read at all.
//!
//! `verify --bundle FILE --trusted-key KEY` checks a signed evidence bundle instead
//! (release-artifacts' `verify_bundle`: the signature by a trusted key, every member's
//! digest, missing or unexpected members, the embedded journal's chain up to the signed
//! head); with `--state DIR` it also checks that the live ledger still holds that head.
//!
//! `export` writes journals as JSON Lines (all releases, or `--release`), the format
//! `verify --export` and release-core's `import_jsonl` read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use release_adapters::sqlite_ledger::SqliteLedgerConfig;
use release_artifacts::bundle::{check_ledger_head, verify_bundle};
use release_core::ledger::{Ledger, Record, export_jsonl, import_jsonl, read_all, verify_chain};
use release_core::model::ReleaseId;
use serde::Serialize;

use crate::Exit;
use crate::host::runtime;
use crate::pipeline::to_json;
use crate::report::trusted_key;
use crate::state::{Failure, StateDir, TargetKind};

/// Where `verify` reads journals from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// A state directory's ledger.
    State(PathBuf),
    /// A SQLite ledger file.
    Ledger(PathBuf),
    /// A JSON Lines export.
    Export(PathBuf),
    /// A signed evidence bundle, the keys trusted to sign it, and optionally the state
    /// directory whose ledger must still hold the signed chain head.
    Bundle {
        /// The archive.
        path: PathBuf,
        /// Trusted public keys (hex, or files).
        keys: Vec<String>,
        /// The live ledger to compare with.
        state: Option<PathBuf>,
    },
}

/// One release's verdict.
#[derive(Debug, Serialize)]
struct Verdict {
    release: String,
    records: usize,
    head: Option<String>,
    ok: bool,
    problem: Option<String>,
}

/// The JSON of `audit verify`.
#[derive(Debug, Serialize)]
struct VerifyReport {
    source: String,
    verified: bool,
    exit: u8,
    releases: Vec<Verdict>,
}

fn verdict(release: &ReleaseId, read: release_core::Result<Vec<Record>>) -> Verdict {
    let (records, problem) = match read {
        Ok(records) => {
            let problem = verify_chain(&records).err().map(|e| e.to_string());
            (records, problem)
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Verdict {
        release: release.to_string(),
        records: records.len(),
        head: if problem.is_none() {
            records.last().map(|r| r.hash.hex())
        } else {
            None
        },
        ok: problem.is_none(),
        problem,
    }
}

fn open_ledger(path: &Path) -> Result<Box<dyn Ledger>, Failure> {
    if !path.is_file() {
        return Err(Failure::invalid(format!(
            "no ledger file at {}; pass the `ledger.db` of a state directory (or `--state DIR`)",
            path.display()
        )));
    }
    let ledger = SqliteLedgerConfig::new(path).open().map_err(|e| {
        Failure::invalid(format!(
            "{}: {e}; is it a releasectl SQLite ledger?",
            path.display()
        ))
    })?;
    Ok(Box::new(ledger))
}

async fn verdicts(source: &Source, only: Option<&str>) -> Result<Vec<Verdict>, Failure> {
    let keep = |id: &ReleaseId| only.is_none_or(|o| id.as_str() == o);
    let mut out = Vec::new();
    match source {
        Source::State(dir) => {
            let state = StateDir::existing(dir)?;
            let ledger = open_ledger(&state.ledger_path())?;
            for id in ledger.releases().await?.iter().filter(|id| keep(id)) {
                out.push(verdict(id, read_all(ledger.as_ref(), id).await));
            }
        }
        Source::Ledger(path) => {
            let ledger = open_ledger(path)?;
            for id in ledger.releases().await?.iter().filter(|id| keep(id)) {
                out.push(verdict(id, read_all(ledger.as_ref(), id).await));
            }
        }
        Source::Export(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::invalid(format!(
                    "cannot read the audit export {}: {e}; write one with `releasectl audit export --out FILE`",
                    path.display()
                ))
            })?;
            match import_jsonl(&text) {
                Ok(records) => {
                    // One chain per release, in the order the file holds the records.
                    let mut by_release: BTreeMap<ReleaseId, Vec<Record>> = BTreeMap::new();
                    for r in records {
                        by_release.entry(r.release.clone()).or_default().push(r);
                    }
                    for (id, records) in by_release.into_iter().filter(|(id, _)| keep(id)) {
                        out.push(verdict(&id, Ok(records)));
                    }
                }
                Err(e) => out.push(Verdict {
                    release: "-".to_owned(),
                    records: 0,
                    head: None,
                    ok: false,
                    problem: Some(format!("{}: {e}", path.display())),
                }),
            }
        }
        Source::Bundle { path, keys, state } => {
            out.push(bundle_verdict(path, keys, state.as_deref()).await?);
        }
    }
    if let (Some(id), true) = (only, out.is_empty()) {
        return Err(Failure::invalid(format!(
            "release {id} has no records in {}",
            describe(source)
        )));
    }
    Ok(out)
}

fn describe(source: &Source) -> String {
    match source {
        Source::State(dir) => dir.join("ledger.db").display().to_string(),
        Source::Ledger(path) | Source::Export(path) | Source::Bundle { path, .. } => {
            path.display().to_string()
        }
    }
}

/// Checks a bundle (release-artifacts' `verify_bundle`) and, with a state directory, that its
/// ledger still holds the chain head the bundle signed.
async fn bundle_verdict(
    path: &Path,
    keys: &[String],
    state: Option<&Path>,
) -> Result<Verdict, Failure> {
    let trusted = keys
        .iter()
        .map(|k| trusted_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::invalid(format!(
            "cannot read the evidence bundle {}: {e}; write one with `releasectl report --out DIR --sign-key REF`",
            path.display()
        ))
    })?;
    let verified = match verify_bundle(&bytes, &trusted) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Verdict {
                release: "-".to_owned(),
                records: 0,
                head: None,
                ok: false,
                problem: Some(format!("{}: {e}", path.display())),
            });
        }
    };
    let release = verified.manifest.release.clone();
    let mut problem = None;
    if let Some(dir) = state {
        let state = StateDir::existing(dir)?;
        let ledger = open_ledger(&state.ledger_path())?;
        let live = read_all(ledger.as_ref(), &release).await?;
        problem = check_ledger_head(&verified.manifest, &live)
            .err()
            .map(|e| format!("{e} (the ledger in {})", state.ledger_path().display()));
    }
    Ok(Verdict {
        release: release.to_string(),
        records: verified.records.len(),
        head: Some(verified.manifest.chain_head.hash.hex()),
        ok: problem.is_none(),
        problem,
    })
}

/// `releasectl audit verify`.
pub(crate) fn verify(source: &Source, release: Option<&str>, json: bool) -> Exit {
    let outcome = (|| {
        let verdicts = runtime(TargetKind::Process)?.block_on(verdicts(source, release))?;
        let verified = verdicts.iter().all(|v| v.ok);
        let exit = if verified { Exit::Ok } else { Exit::Problems };
        if json {
            let report = VerifyReport {
                source: describe(source),
                verified,
                exit: exit as u8,
                releases: verdicts,
            };
            println!("{}", to_json(&report)?);
            return Ok(exit);
        }
        for v in &verdicts {
            match (&v.problem, &v.head) {
                (None, head) => println!(
                    "ok        {}: {} records, head {}",
                    v.release,
                    v.records,
                    head.as_deref().unwrap_or("-")
                ),
                (Some(problem), _) => println!("TAMPERED  {}: {problem}", v.release),
            }
        }
        let bad = verdicts.iter().filter(|v| !v.ok).count();
        if bad == 0 {
            println!(
                "{}: {} journal(s) verified",
                describe(source),
                verdicts.len()
            );
        } else if matches!(source, Source::Bundle { .. }) {
            eprintln!(
                "{}: the evidence bundle does not verify; do not trust it: fetch the original from where it was archived",
                describe(source)
            );
        } else {
            eprintln!(
                "{}: {bad} of {} journal(s) fail verification; the ledger was changed outside the engine: restore it from a backup or an audit export and find out who wrote to it",
                describe(source),
                verdicts.len()
            );
        }
        Ok(exit)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// `releasectl audit export`.
pub(crate) fn export(
    state_path: &Path,
    release: Option<&str>,
    out: Option<&Path>,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let text = runtime(TargetKind::Process)?.block_on(async {
            let ledger = open_ledger(&state.ledger_path())?;
            let ids = match release {
                Some(id) => vec![ReleaseId::from(id)],
                None => ledger.releases().await?,
            };
            let mut text = String::new();
            for id in &ids {
                let records = read_all(ledger.as_ref(), id).await?;
                if records.is_empty() {
                    return Err(Failure::invalid(format!(
                        "release {id} has no records in {}",
                        state.ledger_path().display()
                    )));
                }
                text.push_str(&export_jsonl(&records)?);
            }
            Ok::<_, Failure>((text, ids.len()))
        })?;
        let (text, releases) = text;
        match out {
            Some(path) => {
                std::fs::write(path, &text)
                    .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
                if json {
                    println!(
                        "{}",
                        to_json(&serde_json::json!({
                            "out": path.display().to_string(),
                            "releases": releases,
                            "records": text.lines().count(),
                            "exit": 0,
                        }))?
                    );
                } else {
                    println!(
                        "{}: {} records of {releases} release(s)",
                        path.display(),
                        text.lines().count()
                    );
                }
            }
            None => print!("{text}"),
        }
        Ok(Exit::Ok)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}
