//! The Rust side of `benches/compare/verify.py`: the artifact file the script wrote
//! (`RELEASE_COMPARE_ARTIFACT`, 1 GiB) is published into a [`FsArtifactStore`] in a temporary
//! directory beside it, then `compare_verify/store_verify` measures `FsArtifactStore::verify`
//! (the store's `get` path: 1 MiB reads, SHA-256 in the same pass as the copy, into a sink).
//! The script times `openssl dgst -sha256` on the same file and compares the digests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use release_artifacts::FsArtifactStore;
use release_core::plugin::{ArtifactId, ArtifactStore};

fn bench(c: &mut Criterion) {
    let file = PathBuf::from(
        std::env::var_os("RELEASE_COMPARE_ARTIFACT")
            .expect("set RELEASE_COMPARE_ARTIFACT (benches/compare/verify.py does)"),
    );
    let size = std::fs::metadata(&file).expect("the artifact exists").len();
    let parent = file.parent().expect("the artifact has a directory");
    let dir = tempfile::Builder::new()
        .prefix("store-")
        .tempdir_in(parent)
        .expect("a temporary store directory beside the artifact");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let store = rt
        .block_on(FsArtifactStore::open(dir.path()))
        .expect("the store opens");
    let id = ArtifactId::new("compare", "1.0.0");
    let meta = rt
        .block_on(async {
            let mut reader = tokio::fs::File::open(&file).await.expect("readable");
            store
                .put(
                    &id,
                    "application/octet-stream",
                    &BTreeMap::new(),
                    &mut reader,
                )
                .await
        })
        .expect("the artifact is stored");
    println!(
        "rust: sha256 {} size {size} blob {}",
        meta.digest.hex(),
        store.blob_path(&meta.digest).display()
    );
    // Warm the page cache with one verification.
    rt.block_on(store.verify(&id)).expect("verification passes");

    let mut group = c.benchmark_group("compare_verify");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(size));
    group.bench_function("store_verify", |b| {
        b.iter(|| rt.block_on(store.verify(&id)).expect("verification passes"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
