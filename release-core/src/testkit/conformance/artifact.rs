//! The artifact store suite.

use std::collections::BTreeMap;

use crate::digest::Sha256Digest;
use crate::error::ErrorKind;
use crate::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};

use super::{ConformanceFailure, ConformanceReport, Context, Run, ensure};

const MEDIA: &str = "application/vnd.conformance";

fn id(check: &str, version: &str) -> ArtifactId {
    ArtifactId::new(format!("conformance-artifact-{check}"), version)
}

/// Deterministic bytes, bigger than one read buffer so streaming is exercised.
fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn metadata() -> BTreeMap<String, String> {
    BTreeMap::from([("commit".to_owned(), "0123abc".to_owned())])
}

async fn put(
    store: &dyn ArtifactStore,
    id: &ArtifactId,
    bytes: &[u8],
) -> crate::Result<ArtifactMeta> {
    let mut reader = bytes;
    store.put(id, MEDIA, &metadata(), &mut reader).await
}

async fn get(
    store: &dyn ArtifactStore,
    id: &ArtifactId,
) -> Result<(ArtifactMeta, Vec<u8>), String> {
    let mut out = Vec::new();
    let meta = store
        .get(id, &mut out)
        .await
        .context(&format!("get of {}@{}", id.name, id.version))?;
    Ok((meta, out))
}

/// Runs the artifact store suite.
///
/// Checks: `put_get_round_trip` (bytes, digest, size, media type and metadata),
/// `stat`, `identical_put_is_noop`, `conflicting_put_refused` (a non-retryable error, the
/// stored bytes untouched), `get_missing_is_not_found`, `list_sorted` (by name then
/// version, filtered by name), `delete` (true, then gone, then false).
pub async fn artifact_store_conformance(
    store: &dyn ArtifactStore,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("artifact_store");

    run.check("put_get_round_trip", async {
        let a = id("round-trip", "1.0.0");
        let bytes = payload(1, 3 * 1024 * 1024 + 17);
        let meta = put(store, &a, &bytes).await.context("put")?;
        let digest = Sha256Digest::of(&bytes);
        ensure!(
            meta.digest == digest && meta.size == bytes.len() as u64,
            "put returned digest {} size {}; the bytes have digest {digest} size {}",
            meta.digest,
            meta.size,
            bytes.len()
        );
        ensure!(
            meta.id == a && meta.media_type == MEDIA && meta.metadata == metadata(),
            "put returned {meta:?}; expected id, media type and metadata as given"
        );
        let (got_meta, got) = get(store, &a).await?;
        ensure!(
            got == bytes,
            "get returned {} bytes that differ from the {} put",
            got.len(),
            bytes.len()
        );
        ensure!(
            got_meta == meta,
            "get returned metadata {got_meta:?}, put returned {meta:?}"
        );
        Ok(())
    })
    .await;

    run.check("stat", async {
        let a = id("stat", "1.0.0");
        let meta = put(store, &a, &payload(2, 1000)).await.context("put")?;
        let got = store.stat(&a).await.context("stat")?;
        ensure!(
            got.as_ref() == Some(&meta),
            "stat returned {got:?}, expected {meta:?}"
        );
        let missing = store
            .stat(&id("stat", "missing"))
            .await
            .context("stat of a missing artifact")?;
        ensure!(
            missing.is_none(),
            "stat of a missing artifact returned {missing:?}"
        );
        Ok(())
    })
    .await;

    run.check("identical_put_is_noop", async {
        let a = id("identical", "1.0.0");
        let bytes = payload(3, 5000);
        let first = put(store, &a, &bytes).await.context("put")?;
        let second = put(store, &a, &bytes)
            .await
            .context("putting identical bytes again")?;
        ensure!(
            second.digest == first.digest && second.size == first.size,
            "the identical put returned {second:?}, the first {first:?}"
        );
        let listed = store.list(Some(&a.name)).await.context("list")?;
        ensure!(
            listed.len() == 1,
            "after two identical puts, list shows {} entries for {}",
            listed.len(),
            a.name
        );
        Ok(())
    })
    .await;

    run.check("conflicting_put_refused", async {
        let a = id("conflict", "1.0.0");
        let bytes = payload(4, 5000);
        put(store, &a, &bytes).await.context("put")?;
        match put(store, &a, &payload(5, 5000)).await {
            Ok(m) => return Err(format!("other bytes under a stored id were accepted: {m:?}")),
            Err(e) if e.is_retryable() => {
                return Err(format!(
                    "other bytes under a stored id were refused with a retryable error, but retrying cannot succeed: {e}"
                ));
            }
            Err(_) => {}
        }
        let (_, got) = get(store, &a).await?;
        ensure!(got == bytes, "the refused put changed the stored bytes");
        Ok(())
    })
    .await;

    run.check("get_missing_is_not_found", async {
        let mut out = Vec::new();
        match store.get(&id("missing", "1.0.0"), &mut out).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!(
                "get of a missing artifact should be NotFound, got: {e}"
            )),
            Ok(m) => Err(format!("get of a missing artifact returned {m:?}")),
        }
    })
    .await;

    run.check("list_sorted", async {
        let a2 = id("list-a", "2.0.0");
        let a1 = id("list-a", "1.0.0");
        let b1 = id("list-b", "1.0.0");
        for (i, x) in [&a2, &b1, &a1].into_iter().enumerate() {
            put(store, x, &payload(10 + i as u8, 100))
                .await
                .context("put")?;
        }
        let of_a: Vec<ArtifactId> = store
            .list(Some(&a1.name))
            .await
            .context("list by name")?
            .into_iter()
            .map(|m| m.id)
            .collect();
        ensure!(
            of_a == [a1.clone(), a2.clone()],
            "list of {} returned {of_a:?}, expected versions 1.0.0 then 2.0.0",
            a1.name
        );
        let everything: Vec<ArtifactId> = store
            .list(None)
            .await
            .context("list")?
            .into_iter()
            .map(|m| m.id)
            .collect();
        ensure!(
            everything.windows(2).all(|p| p[0] < p[1]),
            "list() is not sorted by name then version: {everything:?}"
        );
        ensure!(
            [&a1, &a2, &b1].iter().all(|x| everything.contains(x)),
            "list() misses some of {a1:?}, {a2:?}, {b1:?}"
        );
        Ok(())
    })
    .await;

    run.check("delete", async {
        let a = id("delete", "1.0.0");
        put(store, &a, &payload(6, 100)).await.context("put")?;
        ensure!(
            store.delete(&a).await.context("delete")?,
            "delete of a stored artifact returned false"
        );
        let gone = store.stat(&a).await.context("stat after delete")?;
        ensure!(gone.is_none(), "after delete, stat still returns {gone:?}");
        ensure!(
            !store.delete(&a).await.context("second delete")?,
            "deleting an artifact twice returned true the second time"
        );
        Ok(())
    })
    .await;

    run.finish()
}
