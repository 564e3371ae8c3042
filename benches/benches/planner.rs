//! Planner benchmark: 100,000 components / 300,000 dependency edges, one environment.
//!
//! `graph/*` measures the index-level core (CSR build with the reverse index, Kahn waves,
//! rollback order); `plan_release/*` the full planner from the model (id indexing, steps,
//! rollback plan, critical path). Blast radius is measured on demand for one component:
//! materialising it for all 100,000 shipped components is Θ(n²) by design (see the plan
//! module docs), so the full-plan bench turns it off, and a second variant ships 1 % of
//! the components with it on.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use release_benches::{PLANNER_SEED, planner_input, random_dag};
use release_core::plan::{DependencyGraph, PlanOptions, plan_release};

const NODES: u32 = 100_000;
const EDGES: usize = 300_000;

fn planner(c: &mut Criterion) {
    let edges = random_dag(NODES, EDGES, PLANNER_SEED);
    let mut group = c.benchmark_group("planner_100k");

    group.bench_function("graph/waves+rollback+reverse_index", |b| {
        b.iter(|| {
            let graph = DependencyGraph::from_edges(NODES as usize, black_box(&edges))
                .expect("the generator builds a valid graph");
            let waves = graph.waves().expect("the generator builds a DAG");
            let rollback = waves.reversed();
            black_box((graph.dependents(0).len(), waves.len(), rollback.len()))
        })
    });

    let graph = DependencyGraph::from_edges(NODES as usize, &edges).expect("valid graph");
    group.bench_function("graph/blast_radius_of_median_node", |b| {
        b.iter(|| black_box(graph.transitive_dependents(black_box(NODES / 2)).len()))
    });

    group.finish();

    // Full plans take tens of milliseconds: fewer samples keep the run short.
    let mut group = c.benchmark_group("planner_100k");
    group.sample_size(20);
    let (platform, release) = planner_input(NODES, EDGES, PLANNER_SEED, 1);
    let options = PlanOptions::new().with_blast_radius(false);
    group.bench_function("plan_release/all_shipped", |b| {
        b.iter(|| {
            let plan = plan_release(black_box(&platform), black_box(&release), &options)
                .expect("the generator builds a plannable release");
            black_box(plan.stages[0].waves.len())
        })
    });

    let (platform, release) = planner_input(NODES, EDGES, PLANNER_SEED, 100);
    let options = PlanOptions::new();
    group.bench_function("plan_release/1pct_shipped_with_blast_radius", |b| {
        b.iter(|| {
            let plan = plan_release(black_box(&platform), black_box(&release), &options)
                .expect("the generator builds a plannable release");
            black_box(plan.blast_radius.len())
        })
    });
    group.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
