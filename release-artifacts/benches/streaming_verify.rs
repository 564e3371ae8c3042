//! Streaming SHA-256 verification of a 1 GiB artifact from the filesystem store (1 MiB reads,
//! hash in the same pass as the copy), compared in the same run with `openssl dgst -sha256`
//! on the very same blob file. Target (DESIGN.md): ≥ 0.95× openssl.
//!
//! `RELEASE_ARTIFACTS_BENCH_BYTES` overrides the size (default 1 GiB). The file lives in a
//! temporary directory under /tmp and is deleted at the end.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use release_artifacts::FsArtifactStore;
use release_core::plugin::{ArtifactId, ArtifactStore};
use tokio::io::{AsyncRead, ReadBuf};

/// Pseudo-random bytes (xorshift), so the file is not trivially compressible.
struct Generated {
    left: u64,
    state: u64,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf
            .remaining()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX))
            / 8
            * 8;
        let n = if n == 0 {
            buf.remaining().min(self.left as usize)
        } else {
            n
        };
        let mut chunk = vec![0u8; n];
        for word in chunk.chunks_mut(8) {
            let mut x = self.state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.state = x;
            word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
        }
        buf.put_slice(&chunk);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let size: u64 = std::env::var("RELEASE_ARTIFACTS_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let dir = tempfile::Builder::new()
        .prefix("release-artifacts-bench")
        .tempdir_in("/tmp")
        .expect("a temporary directory under /tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let store = rt
        .block_on(FsArtifactStore::open(dir.path()))
        .expect("the store opens");
    let id = ArtifactId::new("bench", "1.0.0");
    let meta = rt
        .block_on(store.put(
            &id,
            "application/octet-stream",
            &BTreeMap::new(),
            &mut Generated {
                left: size,
                state: 0x9E37_79B9_7F4A_7C15,
            },
        ))
        .expect("the bench artifact is stored");
    let blob = store.blob_path(&meta.digest);
    let gib = size as f64 / (1u64 << 30) as f64;

    // Warm the page cache, then interleave both sides so neither gets a warmer machine.
    let openssl = |path: &std::path::Path| {
        let t = Instant::now();
        let out = Command::new("openssl")
            .arg("dgst")
            .arg("-sha256")
            .arg(path)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl failed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.trim_end().ends_with(&meta.digest.hex()),
            "openssl digest differs: {text}"
        );
        t.elapsed()
    };
    let ours = || {
        let t = Instant::now();
        rt.block_on(store.verify(&id)).expect("verification passes");
        t.elapsed()
    };
    openssl(&blob);
    ours();
    let (mut o, mut r) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        o.push(openssl(&blob));
        r.push(ours());
    }
    let (o, r) = (median(o), median(r));
    let ratio = o.as_secs_f64() / r.as_secs_f64();
    println!(
        "streaming verification of {gib:.3} GiB: openssl dgst -sha256 {:.3} s ({:.0} MiB/s), fs store get {:.3} s ({:.0} MiB/s); ours/openssl throughput ratio {ratio:.3} — target ≥ 0.95: {}",
        o.as_secs_f64(),
        size as f64 / (1 << 20) as f64 / o.as_secs_f64(),
        r.as_secs_f64(),
        size as f64 / (1 << 20) as f64 / r.as_secs_f64(),
        if ratio >= 0.95 { "met" } else { "NOT met" }
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    let mut group = c.benchmark_group("streaming_verify");
    group.throughput(Throughput::Bytes(size));
    group.bench_function("fs_store_get_verified", |b| b.iter(ours));
    group.bench_function("openssl_dgst_sha256", |b| b.iter(|| openssl(&blob)));
    group.finish();
    c.final_summary();
    drop(store);
    dir.close().expect("the bench directory is removed");
}
