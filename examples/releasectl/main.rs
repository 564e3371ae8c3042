//! `releasectl`: the reference pipeline binary, for people and for CI (M5.2).
//!
//! Exit codes, the same for every command: **0** done; **2** invalid input (a manifest, a
//! flag, a release or environment that does not exist, an action the release's state does
//! not allow); **3** the check found problems — a release rolled back, was aborted or a gate
//! failed, conflicts were found, an audit chain does not verify; **4** waiting for an
//! approval or a promotion (a CI job stops there; a later job runs `approve` and `resume`);
//! **1** anything else (a target, the ledger or the file system failed). Errors go to stderr
//! and name the thing, the place and the fix. `--json` prints one JSON document on stdout
//! (with an error: `{"error": "...", "exit": N}`).
//!
//! Commands that plan: `validate`, `plan`, `schema`, `conflicts`, `simulate` (in memory,
//! virtual time, nothing kept). Commands that release, across CI jobs, keeping their state in
//! `--state DIR` (default `.release/`; layout and decisions in `state.rs`): `run`, `resume`,
//! `status`, `approve`, `reject`, `promote`, `abort`, `rollback` (`pipeline.rs`), `report`,
//! `inventory` (`report.rs`) and `audit verify` / `audit export` (`audit.rs`). What the
//! engine is built from — ledger, targets, gates, strategies, probe, secrets — is in
//! `host.rs`; the process and simulated targets in `target.rs`.
//!
//! JSON shapes (stable; fields are only ever added):
//! - `run`, `resume`, `rollback`: `{release, status, exit, outcome, waiting: {environment,
//!   reason} | null, records, head}`; `status` is `succeeded`, `rolled_back`, `aborted`,
//!   `gate_failed` or `waiting`; `outcome` is the journal's outcome (`{"outcome":
//!   "rolled_back", "environment", "reason"}`…).
//! - `status`: the above plus `current_stage, started_by, started_at, last_record_at,
//!   stages: [{environment, state, attempt, gates_passed, watch_until, triggers,
//!   rollback_reason}], approvals: [{environment, decision, by, seq}], steps: {succeeded,
//!   failed, in_flight}` (`status` may also be `running`).
//! - `approve`, `reject`, `promote`, `abort`: `{release, action, environment, by, seq, exit}`.
//! - `report`: `{release, version, platform, status, outcome, waiting, started_by,
//!   started_at, ended_at, duration_seconds, components, changes, stages, decisions,
//!   failures, records, head, timeline: [{at, offset, environment, component, event,
//!   detail}]}`.
//! - `inventory`: `{environments: [{environment, components: [{component, versions, slots:
//!   [{slot, version, replicas, ready, endpoints}], release}]}]}`.
//! - `audit verify`: `{source, verified, exit, releases: [{release, records, head, ok,
//!   problem}]}`.

mod audit;
mod cmd;
mod host;
mod pipeline;
mod report;
mod simulate;
mod state;
mod target;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::{Act, TargetOptions, operator};
use crate::state::TargetKind;

/// The release engine's reference command line.
#[derive(Parser)]
#[command(name = "releasectl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the state lives between jobs.
#[derive(Args, Clone, Debug)]
struct StateArgs {
    /// The state directory: the SQLite ledger and what the target keeps between jobs.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".release",
        env = "RELEASECTL_STATE"
    )]
    state: PathBuf,
}

/// Who acts; journaled with every record the command causes (M5.3).
#[derive(Args, Clone, Debug)]
struct Operator {
    /// The operator's id (default: `$RELEASECTL_AS`, then `$USER`).
    #[arg(long = "as", value_name = "OPERATOR", env = "RELEASECTL_AS")]
    operator: Option<String>,
}

/// Which release a command means.
#[derive(Args, Clone, Debug)]
struct ReleaseArg {
    /// The release id (default: the release with the most recent journal record).
    #[arg(long, value_name = "ID")]
    release: Option<String>,
}

/// An operator decision's common arguments.
#[derive(Args, Clone, Debug)]
struct Decision {
    #[command(flatten)]
    release: ReleaseArg,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    operator: Operator,
    /// A comment journaled with the decision.
    #[arg(long)]
    comment: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn port_range(text: &str) -> Result<(u16, u16), String> {
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
enum Command {
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
    /// Print a release's summary and timeline from its journal (Markdown), or JSON.
    Report {
        #[command(flatten)]
        release: ReleaseArg,
        #[command(flatten)]
        state: StateArgs,
        /// Also write `<release>.summary.md` and `<release>.summary.json` into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Print what runs per environment: versions, slots, and the release that put them there.
    Inventory {
        #[command(flatten)]
        state: StateArgs,
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
enum AuditCommand {
    /// Verify every journal's hash chain; exit 0 when all verify, 3 when one does not.
    Verify {
        /// The state directory whose ledger to check (default `.release`).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["ledger", "export"])]
        state: Option<PathBuf>,
        /// A SQLite ledger file to check.
        #[arg(long, value_name = "FILE", conflicts_with = "export")]
        ledger: Option<PathBuf>,
        /// A JSON Lines audit export to check.
        #[arg(long, value_name = "FILE.jsonl")]
        export: Option<PathBuf>,
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

/// The exit codes CI jobs read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// Anything else went wrong.
    Failure = 1,
    /// The input is invalid.
    Invalid = 2,
    /// The check found problems, a release rolled back or a gate failed.
    Problems = 3,
    /// Waiting for an approval.
    Waiting = 4,
}

fn decide(act: Act, env: Option<&str>, d: Decision) -> Exit {
    pipeline::act(
        act,
        d.release.release.as_deref(),
        env,
        &d.state.state,
        &operator(d.operator.operator),
        d.comment,
        d.json,
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let exit = match cli.command {
        Command::Validate { files, json } => cmd::validate(&files, json),
        Command::Plan {
            files,
            env,
            release,
            json,
        } => cmd::plan(&files, env.as_deref(), release.as_deref(), json),
        Command::Schema => cmd::schema(),
        Command::Conflicts { files, json } => cmd::conflicts(&files, json),
        Command::Simulate {
            files,
            release,
            baseline,
            fail,
            json,
        } => simulate::simulate(
            &files,
            release.as_deref(),
            baseline.as_deref(),
            fail.as_deref(),
            json,
        ),
        Command::Run {
            files,
            release,
            state,
            operator: who,
            target,
            artifacts,
            command,
            args,
            ports,
            probe_path,
            roles,
            json,
        } => pipeline::run(
            &files,
            release.as_deref(),
            &state.state,
            &TargetOptions {
                target,
                artifacts,
                command,
                args,
                ports,
                probe_path,
                roles,
            },
            &operator(who.operator),
            json,
        ),
        Command::Resume {
            release,
            state,
            operator: who,
            json,
        } => pipeline::resume(
            release.release.as_deref(),
            &state.state,
            &operator(who.operator),
            json,
        ),
        Command::Status {
            release,
            state,
            json,
        } => pipeline::status(release.release.as_deref(), &state.state, json),
        Command::Approve { env, decision } => decide(Act::Approve, Some(&env), decision),
        Command::Reject { env, decision } => decide(Act::Reject, Some(&env), decision),
        Command::Promote { decision } => decide(Act::Promote, None, decision),
        Command::Abort { decision } => decide(Act::Abort, None, decision),
        Command::Rollback { decision: d } => pipeline::rollback(
            d.release.release.as_deref(),
            &d.state.state,
            &operator(d.operator.operator),
            d.comment,
            d.json,
        ),
        Command::Report {
            release,
            state,
            out,
            json,
        } => report::report(
            release.release.as_deref(),
            &state.state,
            out.as_deref(),
            json,
        ),
        Command::Inventory { state, json } => report::inventory(&state.state, json),
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                state,
                ledger,
                export,
                release,
                json,
            } => {
                let source = match (ledger, export) {
                    (Some(path), _) => audit::Source::Ledger(path),
                    (None, Some(path)) => audit::Source::Export(path),
                    (None, None) => {
                        audit::Source::State(state.unwrap_or_else(|| PathBuf::from(".release")))
                    }
                };
                audit::verify(&source, release.as_deref(), json)
            }
            AuditCommand::Export {
                state,
                release,
                out,
                json,
            } => audit::export(&state.state, release.as_deref(), out.as_deref(), json),
        },
    };
    ExitCode::from(exit as u8)
}
