//! Lockfile checks (M3.6): every dependency pinned to one exact version (and, where the format
//! has them, a checksum or a commit).
//!
//! Formats: `Cargo.lock` (read with the `cargo-lock` crate), npm's `package-lock.json`
//! (lockfile versions 1–3), and pip's `requirements.txt` (ranges such as `>=`, `~=`, `==1.*`
//! and entries with no version are flagged; a VCS URL must name a full commit).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ArtifactError, Result};

/// Which lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockfileKind {
    /// `Cargo.lock`.
    Cargo,
    /// `package-lock.json`.
    Npm,
    /// `requirements.txt`.
    Requirements,
}

/// What is wrong with one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
#[non_exhaustive]
pub enum PinProblem {
    /// A version range instead of one version.
    Range {
        /// The specifier.
        spec: String,
    },
    /// No version at all.
    Unpinned,
    /// A registry package without a checksum or integrity hash.
    MissingChecksum,
    /// A git dependency without a full commit.
    GitWithoutCommit {
        /// The source.
        source: String,
    },
}

/// One flagged entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockfileFinding {
    /// The package.
    pub package: String,
    /// The line (requirements.txt), if known.
    pub line: Option<usize>,
    /// The problem.
    pub problem: PinProblem,
}

/// What a lockfile check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockfileReport {
    /// The format.
    pub kind: LockfileKind,
    /// Entries checked.
    pub packages: usize,
    /// Flagged entries, in file order.
    pub findings: Vec<LockfileFinding>,
}

impl LockfileReport {
    /// True when nothing was flagged.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks a lockfile, choosing the format by its file name.
pub fn check_lockfile(file: &str, text: &str) -> Result<LockfileReport> {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    if base == "Cargo.lock" {
        check_cargo_lock(file, text)
    } else if base == "package-lock.json" || base == "npm-shrinkwrap.json" {
        check_package_lock(file, text)
    } else if base.ends_with(".txt") {
        check_requirements(text)
    } else {
        Err(ArtifactError::Parse {
            file: file.to_owned(),
            problem:
                "unknown lockfile; expected Cargo.lock, package-lock.json or requirements*.txt"
                    .into(),
        })
    }
}

fn full_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a `Cargo.lock`.
pub fn check_cargo_lock(file: &str, text: &str) -> Result<LockfileReport> {
    let lock: cargo_lock::Lockfile =
        text.parse()
            .map_err(|e: cargo_lock::Error| ArtifactError::Parse {
                file: file.to_owned(),
                problem: format!("{e}; regenerate it with `cargo generate-lockfile`"),
            })?;
    let mut findings = Vec::new();
    for p in &lock.packages {
        let package = format!("{} {}", p.name, p.version);
        let Some(source) = &p.source else { continue };
        if source.is_git() {
            if !source.precise().is_some_and(full_commit) {
                findings.push(LockfileFinding {
                    package,
                    line: None,
                    problem: PinProblem::GitWithoutCommit {
                        source: source.url().to_string(),
                    },
                });
            }
        } else if source.is_registry() && p.checksum.is_none() && lock.metadata.is_empty() {
            findings.push(LockfileFinding {
                package,
                line: None,
                problem: PinProblem::MissingChecksum,
            });
        }
    }
    Ok(LockfileReport {
        kind: LockfileKind::Cargo,
        packages: lock.packages.len(),
        findings,
    })
}

fn exact_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn npm_entry(name: &str, entry: &Value, findings: &mut Vec<LockfileFinding>) {
    if entry.get("link").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let finding = |problem| LockfileFinding {
        package: name.to_owned(),
        line: None,
        problem,
    };
    match entry.get("version").and_then(Value::as_str) {
        None => findings.push(finding(PinProblem::Unpinned)),
        Some(v) if v.starts_with("git") || v.contains("github:") => {
            if !v.rsplit('#').next().is_some_and(full_commit) {
                findings.push(finding(PinProblem::GitWithoutCommit {
                    source: v.to_owned(),
                }));
            }
        }
        Some(v) if v.starts_with("file:") => {}
        Some(v) if !exact_semver(v) => {
            findings.push(finding(PinProblem::Range { spec: v.to_owned() }))
        }
        Some(_) => {
            let bundled = entry.get("inBundle").and_then(Value::as_bool) == Some(true)
                || entry.get("bundled").and_then(Value::as_bool) == Some(true);
            if entry.get("integrity").and_then(Value::as_str).is_none() && !bundled {
                findings.push(finding(PinProblem::MissingChecksum));
            }
        }
    }
}

fn npm_v1(deps: &Value, count: &mut usize, findings: &mut Vec<LockfileFinding>) {
    for (name, entry) in deps.as_object().into_iter().flatten() {
        *count += 1;
        npm_entry(name, entry, findings);
        if let Some(nested) = entry.get("dependencies") {
            npm_v1(nested, count, findings);
        }
    }
}

/// Checks a `package-lock.json`.
pub fn check_package_lock(file: &str, text: &str) -> Result<LockfileReport> {
    let doc: Value = serde_json::from_str(text).map_err(|e| ArtifactError::Parse {
        file: file.to_owned(),
        problem: format!("not JSON: {e}; regenerate it with `npm install --package-lock-only`"),
    })?;
    let mut findings = Vec::new();
    let mut count = 0;
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        for (path, entry) in packages {
            if path.is_empty() {
                continue; // the root project itself
            }
            count += 1;
            let name = path.rsplit("node_modules/").next().unwrap_or(path);
            npm_entry(name, entry, &mut findings);
        }
    } else if let Some(deps) = doc.get("dependencies") {
        npm_v1(deps, &mut count, &mut findings);
    } else {
        return Err(ArtifactError::Parse {
            file: file.to_owned(),
            problem: "no `packages` or `dependencies`; is this a package-lock.json?".into(),
        });
    }
    Ok(LockfileReport {
        kind: LockfileKind::Npm,
        packages: count,
        findings,
    })
}

/// Checks a pip `requirements.txt`.
pub fn check_requirements(text: &str) -> Result<LockfileReport> {
    let mut findings = Vec::new();
    let mut count = 0;
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let line = raw.split(" #").next().unwrap_or(raw);
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if entry.starts_with('-') && !entry.starts_with("-e") && !entry.starts_with("--editable") {
            continue; // options: -r other.txt, --index-url, --hash continuation
        }
        count += 1;
        let spec = entry
            .split(" --hash")
            .next()
            .unwrap_or(entry)
            .split(';')
            .next()
            .unwrap_or(entry)
            .trim();
        let finding = |package: &str, problem| LockfileFinding {
            package: package.to_owned(),
            line: Some(start),
            problem,
        };
        if spec.starts_with("-e") || spec.starts_with("--editable") || spec.contains("://") {
            let commit = spec
                .rsplit('@')
                .next()
                .map(|s| s.split('#').next().unwrap_or(s));
            if !(spec.contains('@') && commit.is_some_and(full_commit)) {
                findings.push(finding(
                    spec,
                    PinProblem::GitWithoutCommit {
                        source: spec.to_owned(),
                    },
                ));
            }
            continue;
        }
        let op_at = spec.find(['=', '<', '>', '~', '!']);
        let name = op_at.map_or(spec, |i| &spec[..i]).trim();
        let name = name.split('[').next().unwrap_or(name).trim();
        match op_at.map(|i| spec[i..].trim()) {
            None => findings.push(finding(name, PinProblem::Unpinned)),
            Some(v) => {
                let pinned = (v.starts_with("===") || (v.starts_with("==") && !v.contains('*')))
                    && !v.contains(',');
                if !pinned {
                    findings.push(finding(name, PinProblem::Range { spec: v.to_owned() }));
                }
            }
        }
    }
    Ok(LockfileReport {
        kind: LockfileKind::Requirements,
        packages: count,
        findings,
    })
}
