//! The Rust side of `benches/compare/planner.py`: the planner on the graph file the script
//! wrote for networkx and `tsort` (`RELEASE_COMPARE_GRAPH`, one `dependency dependent` pair
//! per line). Without the variable it generates the same seeded graph itself.
//!
//! - `compare_planner/graph_core`: CSR build with the reverse index, Kahn waves, rollback
//!   order (against networkx `topological_generations`, which also starts from a built graph);
//! - `compare_planner/read_and_graph_core`: reading and parsing the file, then the same
//!   (against `tsort`, a process that reads the same file);
//! - `compare_planner/plan_release`: the full plan from the model, every component shipped,
//!   blast radius off (against networkx's graph build plus generations);
//! - `compare_planner/plan_prepared`: `Planner::plan` on a platform indexed once, the same
//!   plan (against `topological_generations` on the built graph);
//! - `compare_planner/index_platform`: `Planner::new` alone (sorting, resolving `depends_on`,
//!   the graph and its topological order: the counterpart of networkx's graph build).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use release_benches::{PLANNER_SEED, parse_edge_list, planner_input_from_edges, random_dag};
use release_core::plan::{DependencyGraph, PlanOptions, Planner, plan_release};

fn graph_core(nodes: u32, edges: &[(u32, u32)]) -> (usize, usize) {
    let graph =
        DependencyGraph::from_edges(nodes as usize, edges).expect("the file is a valid graph");
    let waves = graph.waves().expect("the file is a DAG");
    let rollback = waves.reversed();
    (waves.len(), rollback.len() + graph.dependents(0).len())
}

fn bench(c: &mut Criterion) {
    let file = std::env::var_os("RELEASE_COMPARE_GRAPH").map(PathBuf::from);
    let (nodes, edges) = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path).expect("RELEASE_COMPARE_GRAPH is readable");
            parse_edge_list(&text).expect("RELEASE_COMPARE_GRAPH is an edge list")
        }
        None => (100_000, random_dag(100_000, 300_000, PLANNER_SEED)),
    };
    let (waves, _) = graph_core(nodes, &edges);
    let (platform, release) = planner_input_from_edges(nodes, &edges, 1);
    let options = PlanOptions::new().with_blast_radius(false);
    let plan = plan_release(&platform, &release, &options).expect("plannable");
    println!(
        "planner input: {nodes} nodes, {} edges; waves {waves}; plan_release waves {}",
        edges.len(),
        plan.stages[0].waves.len()
    );
    drop(plan);

    let mut group = c.benchmark_group("compare_planner");
    group.sample_size(20);
    group.bench_function("graph_core", |b| {
        b.iter(|| black_box(graph_core(nodes, black_box(&edges))))
    });
    if let Some(path) = &file {
        group.bench_function("read_and_graph_core", |b| {
            b.iter(|| {
                let text = std::fs::read_to_string(path).expect("readable");
                let (n, e) = parse_edge_list(&text).expect("an edge list");
                black_box(graph_core(n, &e))
            })
        });
    }
    group.bench_function("plan_release", |b| {
        b.iter(|| {
            let plan = plan_release(black_box(&platform), black_box(&release), &options)
                .expect("plannable");
            black_box(plan.stages[0].waves.len())
        })
    });
    // The platform indexed once, as networkx's graph is built once before
    // `topological_generations` is timed: what each further release's plan costs.
    let planner = Planner::new(&platform).expect("plannable");
    group.bench_function("plan_prepared", |b| {
        b.iter(|| {
            let plan = planner
                .plan(black_box(&release), &options)
                .expect("plannable");
            black_box(plan.stages[0].waves.len())
        })
    });
    group.bench_function("index_platform", |b| {
        b.iter(|| black_box(Planner::new(black_box(&platform)).expect("plannable")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
