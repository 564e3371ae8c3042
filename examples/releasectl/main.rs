//! `releasectl`: the reference pipeline binary, for people and for CI (M5.2).
//!
//! Exit codes: 0 done, 2 invalid input, 3 the check found problems (conflicts; a release
//! rolled back or a gate failed), 4 waiting for an approval, 1 anything else. `--json`
//! prints machine-readable output on stdout.

mod cmd;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The release engine's reference command line.
#[derive(Parser)]
#[command(name = "releasectl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    };
    ExitCode::from(exit as u8)
}
