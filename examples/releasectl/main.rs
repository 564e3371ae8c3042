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
//! `status`, `approve`, `reject`, `sign-off`, `test-report`, `promote`, `abort`, `rollback`
//! (`pipeline.rs`), `rehearse` (`data.rs`, with `run --database`), `report`,
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
//! - `report`: `{summary, review, timeline: [{at, offset, environment, component, event,
//!   detail}], written: {files, signed_by: [key id, public key] | null}}`; `summary` and
//!   `review` are release-core's closure JSON (`ReleaseSummary`, `PostImplementationReview`).
//! - `inventory`: `{environments: [{environment, components: [{component, version, release,
//!   since, via, slots: [{slot, version, replicas, ready, endpoints}]}]}], history: [{at,
//!   platform, environment, component, action, version, replaced, release, seq}],
//!   dependencies: [{platform, component, depends_on}]}` (the CMDB's rows).
//! - `audit verify`: `{source, verified, exit, releases: [{release, records, head, ok,
//!   problem}]}` (for a bundle: one entry, the bundle's release and signed chain head).

mod audit;
mod cli;
mod cmd;
mod data;
mod host;
mod pipeline;
mod report;
mod simulate;
mod state;
mod target;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AuditCommand, Cli, Command, Decision};
use crate::pipeline::{Act, TargetOptions, operator};

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

/// `releasectl … | head` closes stdout early: end quietly, as a shell tool does on `SIGPIPE`
/// (exit 141), instead of printing a panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
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
            prometheus,
            databases,
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
                prometheus,
                databases,
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
        Command::SignOff {
            env,
            role,
            decision,
        } => decide(Act::SignOff(role), Some(&env), decision),
        Command::Rehearse { env, decision } => data::rehearse(
            decision.release.release.as_deref(),
            &env,
            &decision.state.state,
            &operator(decision.operator.operator),
            decision.json,
        ),
        Command::TestReport {
            file,
            env,
            decision,
        } => decide(Act::TestReport(file), Some(&env), decision),
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
            sign_key,
            json,
        } => report::report(
            release.release.as_deref(),
            &state.state,
            out.as_deref(),
            sign_key.as_deref(),
            json,
        ),
        Command::Inventory {
            state,
            history,
            json,
        } => report::inventory(&state.state, history, json),
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                state,
                ledger,
                export,
                bundle,
                trusted_key,
                release,
                json,
            } => {
                let source = match (ledger, export, bundle) {
                    (Some(path), _, _) => audit::Source::Ledger(path),
                    (None, Some(path), _) => audit::Source::Export(path),
                    (None, None, Some(path)) => audit::Source::Bundle {
                        path,
                        keys: trusted_key,
                        state,
                    },
                    (None, None, None) => {
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
