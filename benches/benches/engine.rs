//! Engine overhead per journaled step, with in-memory targets and the in-memory ledger.
//!
//! A release of N independent components into one environment, all at once, no gates, no
//! probes, no watch window: what is measured is the interpreter and its journal (two
//! appends per step, a re-read of the journal at every step boundary), not a target.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use release_benches::engine_input;
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{InMemoryLedger, read_all};
use release_core::memory::InMemoryTarget;
use release_core::plugin::TokioClock;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .expect("time")
        .to_utc();
    let mut group = c.benchmark_group("engine");
    for components in [10usize, 100] {
        let (platform, release) = engine_input(components);
        let run = || async {
            let ledger = Arc::new(InMemoryLedger::new());
            let engine = Engine::builder()
                .ledger(ledger.clone())
                .clock(Arc::new(TokioClock::new(start)))
                .target("default", Arc::new(InMemoryTarget::new()))
                .options(EngineOptions::default().with_max_parallel(1))
                .build()
                .expect("engine");
            let outcome = engine
                .start(&platform, &release, "bench")
                .await
                .expect("runs");
            (outcome, ledger)
        };
        // Count the journaled steps once.
        let (outcome, ledger) = runtime.block_on(run());
        assert!(outcome.outcome().is_some_and(|o| o.succeeded()));
        let records = runtime
            .block_on(read_all(ledger.as_ref(), release.id()))
            .expect("journal");
        let steps = records
            .iter()
            .filter(|r| r.event.type_name() == "step_succeeded")
            .count() as u64;
        group.throughput(Throughput::Elements(steps));
        group.bench_function(
            format!("release_of_{components}_components/{steps}_steps"),
            |b| {
                b.iter(|| black_box(runtime.block_on(run())));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
