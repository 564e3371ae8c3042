//! releasectl's command line (clap): every command, flag and default. Kept apart from the
//! commands so the CI files' test can parse their `releasectl` invocations with
//! `Cli::try_parse_from` and prove the binary accepts each one.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// Which deployment target a state directory drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Real OS processes on loopback (release-adapters' local-process target).
    Process,
    /// release-core's in-memory target in virtual time, its slots kept in `simulated.json`.
    Simulated,
}

/// The release engine's reference command line.
#[derive(Parser)]
#[command(name = "releasectl", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the state lives between jobs.
#[derive(Args, Clone, Debug)]
pub struct StateArgs {
    /// The state directory: the SQLite ledger and what the target keeps between jobs.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".release",
        env = "RELEASECTL_STATE"
    )]
    pub state: PathBuf,
}

/// Who acts; journaled with every record the command causes (M5.3).
#[derive(Args, Clone, Debug)]
pub struct Operator {
    /// The operator's id (default: `$RELEASECTL_AS`, then `$USER`).
    #[arg(long = "as", value_name = "OPERATOR", env = "RELEASECTL_AS")]
    pub operator: Option<String>,
}

/// Which release a command means.
#[derive(Args, Clone, Debug)]
pub struct ReleaseArg {
    /// The release id (default: the release with the most recent journal record).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
}

/// An operator decision's common arguments.
#[derive(Args, Clone, Debug)]
pub struct Decision {
    #[command(flatten)]
    pub release: ReleaseArg,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub operator: Operator,
    /// A comment journaled with the decision.
    #[arg(long)]
    pub comment: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses `RESOURCE=PATH`.
pub fn database_arg(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((resource, path)) if !resource.trim().is_empty() && !path.trim().is_empty() => {
            Ok((resource.trim().to_owned(), PathBuf::from(path.trim())))
        }
        _ => Err(format!(
            "`{text}`: write RESOURCE=PATH, such as orders-db=/srv/shop/orders.db"
        )),
    }
}

pub fn port_range(text: &str) -> Result<(u16, u16), String> {
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}`: write START-END, such as 21000-21099"))?;
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port number (1-65535)"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a == 0 || a > b {
        return Err(format!(
            "`{text}`: START must be at least 1 and not above END"
        ));
    }
    Ok((a, b))
}

#[derive(Subcommand)]
pub enum Command {
    /// Check manifests; exit 0 when valid, 2 with every violation on stderr otherwise.
    Validate {
        /// Manifest files (YAML or TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print a JSON report on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Plan releases: waves per environment, rollback plan, blast radius, critical path.
    Plan {
        /// Manifest files (YAML or TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Plan only this environment.
        #[arg(long)]
        env: Option<String>,
        /// Plan only this release (default: every release in the files).
        #[arg(long)]
        release: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of a manifest document.
    Schema,
    /// Run a release on in-memory targets in virtual time and print its timeline; exit 0 when
    /// it completed, 3 when it was rolled back, 2 on invalid input.
    Simulate {
        /// Manifest files holding the platform and the release.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The release to simulate (default: the first one that is not the baseline).
        #[arg(long)]
        release: Option<String>,
        /// A release to run first, silently, so the environments have something to roll back to.
        #[arg(long)]
        baseline: Option<String>,
        /// Make the Nth slot apply of COMPONENT in ENV fail: `COMPONENT@ENV[:N]`.
        #[arg(long)]
        fail: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Report conflicts across scheduled releases: shared components and resources, double-booked
    /// release managers, cross-release dependencies out of order.
    Conflicts {
        /// Manifest files holding the platform and the releases.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start a release (or continue it, when its journal exists) and drive it until it ends
    /// (exit 0, or 3 when rolled back or a gate failed) or waits for a person (exit 4).
    Run {
        /// Manifest files holding the platform and the release.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The release to start (default: the only `Release` document in the files).
        #[arg(long, value_name = "ID")]
        release: Option<String>,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        operator: Operator,
        /// The deployment target (kept in the state directory; default `process`).
        #[arg(long, value_enum)]
        target: Option<TargetKind>,
        /// Builds for the process target: `DIR/<component>/<version>/` holding the program.
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
        /// The program in each build directory (default `run.sh`); it listens on `$PORT`.
        #[arg(long, value_name = "PROGRAM")]
        command: Option<String>,
        /// An argument for the program (repeat for several; `{port}` is replaced).
        #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
        args: Option<Vec<String>>,
        /// Loopback ports replicas may use, `START-END` (default 20000-20999).
        #[arg(long, value_name = "START-END", value_parser = port_range)]
        ports: Option<(u16, u16)>,
        /// Probe every replica with `GET PATH` after each step (M5.4), e.g. `/healthz`.
        #[arg(long, value_name = "PATH")]
        probe_path: Option<String>,
        /// Prometheus' base URL: analyses and rollback triggers query it (PromQL with
        /// `{{scope}}`, `{{component}}`, `{{environment}}` placeholders) under every metrics
        /// source name the platform's analyses use.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
        /// The SQLite file of a database the release migrates: `RESOURCE=PATH`, the resource
        /// an environment binds or the declared one (repeat for several; kept for later jobs).
        #[arg(long = "database", value_name = "RESOURCE=PATH", value_parser = database_arg)]
        databases: Vec<(String, PathBuf)>,
        /// Who holds which role, for approval and sign-off gates (YAML, TOML or JSON:
        /// `roles: { alice@example.com: [release-manager] }`).
        #[arg(long, value_name = "FILE")]
        roles: Option<PathBuf>,
        /// Print JSON instead of the timeline.
        #[arg(long)]
        json: bool,
    },
    /// Continue a release from its journal (after an approval, a promotion, an abort or a
    /// crash); exit codes as for `run`.
    Resume {
        #[command(flatten)]
        release: ReleaseArg,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        operator: Operator,
        /// Print JSON instead of the timeline.
        #[arg(long)]
        json: bool,
    },
    /// Print a release's state, folded from its journal; exit 0 succeeded or running, 3 rolled
    /// back / aborted / gate failed, 4 waiting.
    Status {
        #[command(flatten)]
        release: ReleaseArg,
        #[command(flatten)]
        state: StateArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Journal an approval for an environment's gates; `resume` then continues.
    Approve {
        /// The environment approved.
        #[arg(long, value_name = "ENV")]
        env: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Journal a rejection: the waiting approval gate fails when the release resumes.
    Reject {
        /// The environment rejected.
        #[arg(long, value_name = "ENV")]
        env: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Journal a sign-off for an environment's `sign_off` gate (M4.6): `--as` signs for
    /// `--role`; `resume` then continues.
    SignOff {
        /// The environment signed off.
        #[arg(long, value_name = "ENV")]
        env: String,
        /// The role signed for (`qa-lead`, `business-owner`); the `--roles` file given to
        /// `run` says who holds it.
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Rehearse the release's migrations on clones of an environment's databases (up, checks,
    /// referential integrity, down) and journal the reports for the `migration_rehearsal`
    /// gate (M4.5); exit 0 when all passed, 3 when one failed.
    Rehearse {
        /// The environment whose databases are cloned.
        #[arg(long, value_name = "ENV")]
        env: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Journal a JUnit XML test report as evidence for an environment's `junit` gate (M4.4),
    /// as a CI job does after its tests; `resume` then continues.
    TestReport {
        /// The JUnit XML file.
        file: PathBuf,
        /// The environment the tests ran against.
        #[arg(long, value_name = "ENV")]
        env: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Journal a promotion: a step paused until promoted, or an inconclusive analysis, counts
    /// as done (Argo Rollouts' `promote`); `resume` then continues.
    Promote {
        #[command(flatten)]
        decision: Decision,
    },
    /// Journal an abort: the current stage rolls back at the next step boundary of a running
    /// release, or when `resume` or `rollback` runs.
    Abort {
        #[command(flatten)]
        decision: Decision,
    },
    /// Abort and carry out the rollback of the current stage to the end; exit 0 when the stage
    /// is back on what ran before.
    Rollback {
        #[command(flatten)]
        decision: Decision,
    },
    /// Print a release's summary, review and timeline from its journal (Markdown), or JSON;
    /// write them, the HTML report and the evidence bundle with `--out`.
    Report {
        #[command(flatten)]
        release: ReleaseArg,
        #[command(flatten)]
        state: StateArgs,
        /// Also write `DIR/<release>/`: summary and review (Markdown, JSON), the HTML report,
        /// the audit export, and with `--sign-key` the signed evidence bundle.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Sign `evidence.tar` with the Ed25519 seed (64 hex digits) this secret reference
        /// names: `env://NAME` reads `$NAME`.
        #[arg(long, value_name = "REF")]
        sign_key: Option<String>,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Print what runs per environment: the CMDB's versions and releases beside the slots the
    /// target runs now (M7.1).
    Inventory {
        #[command(flatten)]
        state: StateArgs,
        /// Also print the deployment history.
        #[arg(long)]
        history: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check or export the hash-chained journals (M5.3).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify every journal's hash chain, or an evidence bundle; exit 0 when all verify, 3
    /// when one does not.
    Verify {
        /// The state directory whose ledger to check (default `.release`); with `--bundle`,
        /// also check that its ledger still holds the chain head the bundle signed.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["ledger", "export"])]
        state: Option<PathBuf>,
        /// A SQLite ledger file to check.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["export", "bundle"])]
        ledger: Option<PathBuf>,
        /// A JSON Lines audit export to check.
        #[arg(long, value_name = "FILE.jsonl", conflicts_with = "bundle")]
        export: Option<PathBuf>,
        /// A signed evidence bundle (`evidence.tar` from `report --sign-key`) to check:
        /// signature, every member's digest, the embedded journal's chain.
        #[arg(long, value_name = "FILE.tar", requires = "trusted_key")]
        bundle: Option<PathBuf>,
        /// A public key (64 hex digits, or a file holding them) whose signature is trusted.
        #[arg(long, value_name = "KEY", requires = "bundle")]
        trusted_key: Vec<String>,
        /// Check only this release.
        #[arg(long, value_name = "ID")]
        release: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write journals as JSON Lines (every release, or `--release`).
    Export {
        #[command(flatten)]
        state: StateArgs,
        /// Export only this release.
        #[arg(long, value_name = "ID")]
        release: Option<String>,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// With `--out`, print a JSON summary.
        #[arg(long)]
        json: bool,
    },
}
