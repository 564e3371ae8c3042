//! The planner workload as a plain release binary, for profilers and for the byte-identity
//! check of plans before and after an optimisation.
//!
//! ```text
//! plan-workload [--graph FILE] [--iterations N] [--variant all|blast|capped|all-variants] [--prepared] [--digest] [--time]
//! ```
//!
//! - `--graph FILE`: read the edge list a `benches/compare` script wrote (`dependency dependent`
//!   per line, as `tsort` reads it) instead of generating the seeded graph.
//! - `--iterations N`: plan N times (default 1); under `valgrind --tool=callgrind` keep it at 1.
//! - `--variant`: `all` (every component shipped, blast radius off: `plan_release/all_shipped`),
//!   `blast` (1 % shipped, blast radius on), `capped` (all shipped, `max_parallel` 500), or
//!   `all-variants` (the three, for `--digest`).
//! - `--prepared`: index the platform once (`Planner::new`, untimed) and time
//!   `Planner::plan` alone, as networkx's `topological_generations` is timed on a built graph;
//!   without it each iteration is the whole `plan_release`. The plans are the same either way.
//! - `--digest`: print the SHA-256 of each plan's JSON and of its text rendering.
//! - `--time`: print the fastest and the median wall time of the iterations (a quick look;
//!   criterion's `planner` bench gives the figures BENCHMARKS.md quotes).

use std::process::ExitCode;

use release_benches::{PLANNER_SEED, planner_input_from_edges, random_dag, read_edge_file};
use release_core::plan::{PlanOptions, Planner, plan_release};
use sha2::{Digest, Sha256};

const NODES: u32 = 100_000;
const EDGES: usize = 300_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let mut graph = None;
    let mut iterations = 1usize;
    let mut variant = String::from("all");
    let mut digest = false;
    let mut time = false;
    let mut prepared = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--graph" => graph = args.next(),
            "--iterations" => {
                iterations = match args.next().and_then(|s| s.parse().ok()) {
                    Some(n) => n,
                    None => {
                        eprintln!("--iterations needs a number");
                        return ExitCode::from(2);
                    }
                }
            }
            "--variant" => variant = args.next().unwrap_or_default(),
            "--digest" => digest = true,
            "--time" => time = true,
            "--prepared" => prepared = true,
            other => {
                eprintln!(
                    "unknown argument {other:?}; usage: plan-workload [--graph FILE] [--iterations N] [--variant all|blast|capped|all-variants] [--prepared] [--digest] [--time]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let (nodes, edges) = match graph {
        Some(path) => match read_edge_file(std::path::Path::new(&path)) {
            Ok(read) => read,
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => (NODES, random_dag(NODES, EDGES, PLANNER_SEED)),
    };
    let variants: Vec<&str> = match variant.as_str() {
        "all-variants" => vec!["all", "blast", "capped"],
        "all" | "blast" | "capped" => vec![variant.as_str()],
        other => {
            eprintln!("unknown variant {other:?}; use all, blast, capped or all-variants");
            return ExitCode::from(2);
        }
    };
    for name in variants {
        let (ship_every, options) = match name {
            "blast" => (100, PlanOptions::new()),
            "capped" => (
                1,
                PlanOptions::new()
                    .with_blast_radius(false)
                    .with_max_parallel(500),
            ),
            _ => (1, PlanOptions::new().with_blast_radius(false)),
        };
        let (platform, release) = planner_input_from_edges(nodes, &edges, ship_every);
        let planner = if prepared {
            match Planner::new(&platform) {
                Ok(planner) => Some(planner),
                Err(e) => {
                    eprintln!("indexing the platform failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            None
        };
        if time && planner.is_none() {
            // The two halves of `plan_release`, each timed on its own in the same loop.
            let (mut index, mut plan) = (Vec::new(), Vec::new());
            for _ in 0..iterations {
                let started = std::time::Instant::now();
                let Ok(p) = Planner::new(&platform) else {
                    break;
                };
                let indexed = started.elapsed();
                let planned = p.plan(&release, &options);
                let done = started.elapsed();
                drop((p, planned));
                index.push(indexed);
                plan.push(done - indexed);
            }
            index.sort();
            plan.sort();
            if let (Some(i), Some(p)) = (index.first(), plan.first()) {
                println!(
                    "{name}: halves, fastest Planner::new {:.2} ms, fastest Planner::plan {:.2} ms",
                    i.as_secs_f64() * 1e3,
                    p.as_secs_f64() * 1e3
                );
            }
        }
        let mut last = None;
        let mut took = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            // Dropping the previous plan counts, as it does in the criterion bench.
            let started = std::time::Instant::now();
            drop(last.take());
            let planned = match &planner {
                Some(planner) => planner.plan(&release, &options),
                None => plan_release(&platform, &release, &options),
            };
            match planned {
                Ok(plan) => {
                    last = Some(plan);
                    took.push(started.elapsed());
                }
                Err(e) => {
                    eprintln!("planning failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let Some(plan) = last else {
            continue;
        };
        let waves = plan.stages.first().map_or(0, |s| s.waves.len());
        if time {
            took.sort();
            println!(
                "{name}: {iterations} iterations, fastest {:.2} ms, median {:.2} ms",
                took[0].as_secs_f64() * 1e3,
                took[took.len() / 2].as_secs_f64() * 1e3
            );
        }
        if digest {
            let json = match serde_json::to_vec(&plan) {
                Ok(json) => json,
                Err(e) => {
                    eprintln!("serializing the plan failed: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!(
                "{name}: waves {waves}, json {} bytes sha256 {}, text sha256 {}",
                json.len(),
                hex(&Sha256::digest(&json)),
                hex(&Sha256::digest(plan.to_text().as_bytes())),
            );
        } else {
            println!("{name}: waves {waves}");
        }
    }
    ExitCode::SUCCESS
}
