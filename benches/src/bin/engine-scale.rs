//! Many concurrent releases in one engine process, on in-memory plugins: peak memory and
//! time to finish (DESIGN.md: 10,000 concurrent releases in < 1 GB resident, no slowdown
//! over time; Argo Rollouts' controller is reported to degrade near 10,000 rollouts at
//! 11–14 GB — a published figure, not measured here).
//!
//! ```text
//! engine-scale [--releases N] [--batches B] [--target-shards K]
//!              [--idle M] [--in-flight K] [--ballast-mib B] [--perf-ctl FIFO]
//! ```
//!
//! `N` applications (default 10,000), each its own platform with one component `svc-NNNNN`
//! in its own production environment (environment locks are per environment name, so this is
//! N independent deployments, like N Rollout objects), a canary strategy (20 % → pause 1m →
//! analysis of 3 measurements 30 s apart → 50 % → pause 1m → 100 %) behind the in-memory
//! router, slots that become ready one poll after a change. One engine, one in-memory
//! ledger, router, metrics source and — by default — one in-memory target shared by all,
//! as one cluster serves many applications. `--target-shards K` splits the target `K` ways
//! (each environment names its shard in `targets`); the target indexes its slots by
//! environment and component, so sharing it costs a map lookup per call, not a scan (before
//! issue #10 it scanned, and one shared target made the run O(N²)).
//!
//! Phases, each with all N releases started at once as tasks on one runtime thread:
//! `deploy` ships 1.0.0 everywhere (first deploy), `upgrade` ships 2.0.0 everywhere (the full
//! canary program). Time is virtual (Tokio's paused clock advances when every task waits),
//! so wall time is the engine's own work. Then `B` more upgrade rounds (default 0) of N/B
//! applications each measure whether a round slows down as the journal grows.
//!
//! Three options separate "more live heap" from "more concurrent releases" when the cost per
//! release changes with `N` (issue #10): `--idle M` deploys `M` more applications in the
//! deploy round that the upgrade round leaves alone (their journals, slots and routes stay in
//! the ledger, target and router); `--in-flight K` lets at most `K` releases of a round run at
//! once (the next starts when one ends), so the heap grows as with `N` while only `K` tasks,
//! timers and futures are live; `--ballast-mib B` allocates `B` MiB in small blocks before
//! anything else, writes them once and keeps them untouched to the end. `--perf-ctl FIFO`
//! writes `enable` to perf's control FIFO before the upgrade round and `disable` after it, so
//! that `perf record --control fifo:FIFO -D -1 …` profiles that round alone.
//!
//! Prints one `key value` line per figure; peak memory is `VmHWM` from /proc/self/status.
//! Each round is timed twice: wall time, and the CPU time of the one thread that runs every
//! release (`/proc/thread-self/schedstat`, nanoseconds on the CPU). On a machine shared with
//! other work the CPU time is the steadier figure: it leaves out the time the thread waited
//! for a core.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{InMemoryLedger, Outcome};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{
    Convergence, InMemoryMetrics, InMemoryRouter, InMemoryTarget, ScopeMatcher,
};
use release_core::model::{Platform, Release};
use release_core::plugin::TokioClock;

fn platform(app: usize, shards: usize) -> Result<Platform, String> {
    let shard = app % shards.max(1);
    let text = format!(
        r#"
apiVersion: release/v1
kind: Platform
metadata: {{ name: tenant-{app:05} }}
components:
  - id: svc-{app:05}
    owner: {{ primary: a@x, backup: b@x }}
    strategy: {{ canary: {{ steps: [ {{ set_weight: 20 }}, {{ pause: 1m }}, {{ analysis: error-rate }}, {{ set_weight: 50 }}, {{ pause: 1m }} ] }} }}
environments:
  - {{ name: prod-{app:05}, tier: production, parameters: {{ replicas: 10 }}, targets: {{ default: shard-{shard} }} }}
lifecycle:
  phases:
    - {{ name: release, environments: [prod-{app:05}] }}
analyses:
  error-rate:
    metric: {{ source: default, query: error_ratio }}
    success: "< 0.05"
    interval: 30s
    count: 3
    no_data: fail
"#
    );
    match parse_str(&text, "platform.yaml", Format::Yaml)
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?
        .into_iter()
        .next()
    {
        Some(Document::Platform(p)) => Ok(p.value),
        _ => Err("the template is not a platform".into()),
    }
}

fn release(app: usize, version: &str) -> Result<Release, String> {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: svc-{app:05}-{version} }}
version: {version}
platform: tenant-{app:05}
type: full
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-{app}, kind: normal, state: approved, configuration_items: [svc-{app:05}] }}
changes:
  - {{ id: CHG-{app}, request: CR-{app}, components: [svc-{app:05}] }}
components:
  svc-{app:05}: {{ version: {version} }}
"#
    );
    match parse_str(&text, "release.yaml", Format::Yaml)
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?
        .into_iter()
        .next()
    {
        Some(Document::Release(r)) => Ok(r.value),
        _ => Err("the template is not a release".into()),
    }
}

/// A field of /proc/self/status in KiB (Linux only; 0 elsewhere).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of the calling thread so far (Linux; zero elsewhere).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Minor page faults of the calling thread so far (Linux; zero elsewhere): field 10 of
/// /proc/thread-self/stat, counted after the command name, which may hold spaces.
fn thread_minor_faults() -> u64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let (_, fields) = s.rsplit_once(')')?;
            fields.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Sends a command to perf's control FIFO, if one was given (a failure is reported, not fatal:
/// the figures do not depend on it).
fn perf_control(fifo: Option<&str>, command: &str) {
    if let Some(path) = fifo
        && let Err(e) = std::fs::write(path, format!("{command}\n"))
    {
        eprintln!("perf control {path}: {e}");
    }
}

/// How long a round took.
struct Took {
    wall: Duration,
    cpu: Duration,
    minor_faults: u64,
}

/// Keeps `mib` MiB alive in blocks of 64 to 4,096 bytes (sizes from a SplitMix64 sequence,
/// seed 10), each written once, like a heap of the same size that the measured rounds never
/// touch.
fn ballast(mib: usize) -> Vec<Box<[u8]>> {
    let mut state: u64 = 10;
    let mut left = mib << 20;
    let mut blocks = Vec::new();
    while left > 0 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let size = (64 + (z % 4033) as usize).min(left);
        left -= size;
        blocks.push(vec![(z & 0xff) as u8; size].into_boxed_slice());
    }
    blocks
}

/// Runs one release per app, at most `in_flight` at once; returns the wall and CPU time.
/// With `perf_ctl`, perf profiles the round alone (not the parsing of its releases).
async fn round(
    engine: &Engine,
    apps: &[(usize, Arc<Platform>)],
    version: &str,
    in_flight: usize,
    perf_ctl: Option<&str>,
) -> Result<Took, String> {
    let releases: Vec<Arc<Release>> = apps
        .iter()
        .map(|(app, _)| release(*app, version).map(Arc::new))
        .collect::<Result<_, _>>()?;
    perf_control(perf_ctl, "enable");
    let started = Instant::now();
    let cpu = thread_cpu();
    let faults = thread_minor_faults();
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = apps.iter().zip(releases);
    let mut spawn = |tasks: &mut tokio::task::JoinSet<_>| {
        if let Some(((_, platform), release)) = queue.next() {
            let engine = engine.clone();
            let platform = platform.clone();
            // Shared documents, as a host that starts many releases of one platform keeps
            // them (`Engine::start` would copy both into the journal's first record).
            tasks.spawn_local(async move { engine.start_shared(platform, release, "ops@x").await });
        }
    };
    for _ in 0..in_flight.clamp(1, apps.len().max(1)) {
        spawn(&mut tasks);
    }
    let mut failed = 0usize;
    while let Some(joined) = tasks.join_next().await {
        spawn(&mut tasks);
        match joined {
            Ok(Ok(outcome)) if outcome.outcome() == Some(&Outcome::Succeeded) => {}
            Ok(Ok(other)) => {
                if failed == 0 {
                    eprintln!("a release did not succeed: {other:?}");
                }
                failed += 1;
            }
            Ok(Err(e)) => {
                if failed == 0 {
                    eprintln!("a release failed: {e}");
                }
                failed += 1;
            }
            Err(e) => return Err(format!("a release task panicked: {e}")),
        }
    }
    perf_control(perf_ctl, "disable");
    if failed > 0 {
        return Err(format!(
            "{failed} of {} releases did not succeed",
            apps.len()
        ));
    }
    Ok(Took {
        wall: started.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu),
        minor_faults: thread_minor_faults().saturating_sub(faults),
    })
}

/// What to run.
struct Options {
    releases: usize,
    batches: usize,
    shards: usize,
    idle: usize,
    in_flight: usize,
    ballast_mib: usize,
    perf_ctl: Option<String>,
}

fn main() -> ExitCode {
    let mut options = Options {
        releases: 10_000,
        batches: 0,
        shards: 1,
        idle: 0,
        in_flight: usize::MAX,
        ballast_mib: 0,
        perf_ctl: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let text = args.next();
        if arg == "--perf-ctl"
            && let Some(path) = text
        {
            options.perf_ctl = Some(path);
            continue;
        }
        let value = text.and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--releases", Some(n)) => options.releases = n,
            ("--batches", Some(b)) => options.batches = b,
            ("--target-shards", Some(k)) if k > 0 => options.shards = k,
            ("--idle", Some(m)) => options.idle = m,
            ("--in-flight", Some(k)) if k > 0 => options.in_flight = k,
            ("--ballast-mib", Some(b)) => options.ballast_mib = b,
            _ => {
                eprintln!(
                    "usage: engine-scale [--releases N] [--batches B] [--target-shards K] \
                     [--idle M] [--in-flight K] [--ballast-mib B] [--perf-ctl FIFO]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options) -> Result<(), String> {
    let Options {
        releases,
        batches,
        shards,
        idle,
        in_flight,
        ballast_mib,
        perf_ctl,
    } = options;
    let (releases, batches, shards, idle, in_flight, ballast_mib) = (
        *releases,
        *batches,
        *shards,
        *idle,
        *in_flight,
        *ballast_mib,
    );
    let rss_start = status_kib("VmRSS:");
    let ballast = ballast(ballast_mib);
    let all: Vec<(usize, Arc<Platform>)> = (0..releases + idle)
        .map(|app| platform(app, shards).map(|p| (app, Arc::new(p))))
        .collect::<Result<_, _>>()?;
    let apps = &all[..releases];
    let metrics = Arc::new(InMemoryMetrics::new());
    metrics.set("error_ratio", ScopeMatcher::any(), 0.01);
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .map_err(|e| e.to_string())?
        .to_utc();
    let mut builder = release_strategies::register(Engine::builder())
        .ledger(Arc::new(InMemoryLedger::new()))
        .clock(Arc::new(TokioClock::new(start)));
    for shard in 0..shards {
        builder = builder.target(
            format!("shard-{shard}"),
            Arc::new(InMemoryTarget::new().with_convergence(Convergence::AfterObserves(1))),
        );
    }
    let engine = builder
        .router(Arc::new(InMemoryRouter::new()))
        .metrics("default", metrics)
        .options(EngineOptions::default().with_poll_interval(Duration::from_secs(5)))
        .build()
        .map_err(|e| e.to_string())?;
    let rss_setup = status_kib("VmRSS:");

    let deploy = round(&engine, &all, "1.0.0", in_flight, None).await?;
    let rss_deploy = status_kib("VmRSS:");
    let upgrade = round(&engine, apps, "2.0.0", in_flight, perf_ctl.as_deref()).await?;
    let rss_upgrade = status_kib("VmRSS:");
    let records = engine
        .ledger()
        .events(&release_core::id::ReleaseId::from("svc-00000-2.0.0"), 0)
        .await
        .map(|r| r.len())
        .unwrap_or(0);

    println!("releases_per_round {releases}");
    println!("target_shards {shards}");
    println!("idle_applications {idle}");
    if in_flight < usize::MAX {
        println!("in_flight {in_flight}");
    }
    println!("ballast_blocks {}", ballast.len());
    println!("journal_records_per_canary_release {records}");
    println!("rss_start_kib {rss_start}");
    println!("rss_after_setup_kib {rss_setup}");
    println!("deploy_round_s {:.3}", deploy.wall.as_secs_f64());
    println!("deploy_round_cpu_s {:.3}", deploy.cpu.as_secs_f64());
    println!("deploy_round_minor_faults {}", deploy.minor_faults);
    println!("rss_after_deploy_kib {rss_deploy}");
    println!("upgrade_round_s {:.3}", upgrade.wall.as_secs_f64());
    println!("upgrade_round_cpu_s {:.3}", upgrade.cpu.as_secs_f64());
    println!("upgrade_round_minor_faults {}", upgrade.minor_faults);
    println!("rss_after_upgrade_kib {rss_upgrade}");
    if batches > 0 {
        let size = releases.div_ceil(batches);
        for (b, chunk) in apps.chunks(size).enumerate() {
            let took = round(&engine, chunk, &format!("3.{b}.0"), in_flight, None).await?;
            println!(
                "later_round_{b}_ms_per_release {:.4}",
                took.wall.as_secs_f64() * 1e3 / chunk.len() as f64
            );
            println!(
                "later_round_{b}_cpu_ms_per_release {:.4}",
                took.cpu.as_secs_f64() * 1e3 / chunk.len() as f64
            );
        }
    }
    println!("vm_hwm_kib {}", status_kib("VmHWM:"));
    drop(ballast);
    Ok(())
}
