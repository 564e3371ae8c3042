//! Step 1: build the demo service into versioned, signed artifacts, and unpack them for the
//! local-process target after verifying digest and provenance.
//!
//! An artifact is a tar archive of the demo program (this very executable, which serves when
//! started as `demo-service serve`), its `build.json` and, for orders-api, the database
//! migrations of its version under `db/` (as Flyway or Octopus ship scripts in the package). Archive headers are fixed (mtime 0,
//! uid/gid 0, sorted members), so the same program gives the same digest.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use release_artifacts::{
    BuildMetadata, Envelope, FsArtifactStore, VerificationPolicy, attest, publish,
};
use release_core::plugin::{ArtifactId, ArtifactStore};
use release_examples::demo::Build;

/// The builder's identity in provenance.
pub const BUILDER: &str = "https://ci.shop.example/quickstart-builder";

/// One built artifact.
pub struct Built {
    /// The demo build inside it.
    pub build: Build,
    /// Its id in the store.
    pub id: ArtifactId,
    /// `sha256:…` as a release manifest references it.
    pub reference: String,
    /// The signed in-toto/SLSA provenance.
    pub envelope: Envelope,
}

fn tar_of(
    program: &[u8],
    build: &Build,
    migrations: &[(String, Vec<u8>)],
) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(build).map_err(std::io::Error::other)?;
    let mut members: Vec<(String, &[u8], u32)> = vec![
        ("build.json".to_owned(), &json[..], 0o644),
        ("demo-service".to_owned(), program, 0o755),
    ];
    members.extend(
        migrations
            .iter()
            .map(|(name, bytes)| (format!("db/{name}"), &bytes[..], 0o644)),
    );
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        out.append_data(&mut header, name, bytes)?;
    }
    out.into_inner()
}

/// The migration files (`V<n>__name.sql`) of `dir` up to version `up_to`, by name: what a
/// build of that version carries.
fn migrations_up_to(dir: &Path, up_to: u64) -> Result<Vec<(String, Vec<u8>)>, String> {
    if up_to == 0 {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let version = name
            .strip_prefix('V')
            .and_then(|rest| rest.split_once("__"))
            .and_then(|(v, _)| v.parse::<u64>().ok());
        if version.is_some_and(|v| v <= up_to) {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push((name, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Builds, publishes and attests every build; provenance goes to `provenance_dir`.
pub async fn build_all(
    store: &FsArtifactStore,
    key: &SigningKey,
    builds: &[(Build, u64)],
    migrations_dir: &Path,
    provenance_dir: &Path,
) -> Result<Vec<Built>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the quickstart's own path: {e}"))?;
    let program = std::fs::read(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    std::fs::create_dir_all(provenance_dir)
        .map_err(|e| format!("{}: {e}", provenance_dir.display()))?;
    let mut built = Vec::new();
    for (build, schema) in builds {
        let migrations = migrations_up_to(migrations_dir, *schema)?;
        let bytes = tar_of(&program, build, &migrations)
            .map_err(|e| format!("packing {}: {e}", build.component))?;
        let id = ArtifactId::new(build.component.as_str(), build.version.as_str());
        let meta = BuildMetadata::new(
            format!("demo-{}-{}", build.component, build.version),
            BUILDER,
            "git+https://git.shop.example/shop.git",
        );
        let artifact = match store.stat(&id).await.map_err(|e| e.to_string())? {
            // A re-run finds the artifact from last time: rebuild it only if the bytes differ.
            Some(old) if old.digest == release_core::digest::Sha256Digest::of(&bytes) => {
                release_artifacts::Artifact::from_meta(&old).map_err(|e| e.to_string())?
            }
            Some(_) => {
                store.remove(&id).await.map_err(|e| e.to_string())?;
                publish(store, &id, "application/x-tar", &meta, &mut &bytes[..])
                    .await
                    .map_err(|e| e.to_string())?
            }
            None => publish(store, &id, "application/x-tar", &meta, &mut &bytes[..])
                .await
                .map_err(|e| e.to_string())?,
        };
        let envelope = attest(&artifact, "https://shop.example/demo-build/v1", key)
            .map_err(|e| e.to_string())?;
        let path =
            provenance_dir.join(format!("{}-{}.intoto.json", build.component, build.version));
        std::fs::write(&path, envelope.to_json())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        built.push(Built {
            build: build.clone(),
            id,
            reference: artifact.digest.to_string(),
            envelope,
        });
    }
    Ok(built)
}

/// Fetches an artifact (digest-checked while read), verifies its provenance against the
/// trusted builder key, and unpacks it into `<root>/releases/<component>/<version>/`.
pub async fn unpack(
    store: &FsArtifactStore,
    policy: &VerificationPolicy,
    built: &Built,
    root: &Path,
) -> Result<PathBuf, String> {
    let name = release_artifacts::artifact::label(&built.id);
    let meta = store
        .stat(&built.id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} is not in the store", name))?;
    policy
        .verify(&built.envelope, &meta)
        .map_err(|e| format!("provenance of {}: {e}", name))?;
    let mut bytes = Vec::new();
    store
        .get(&built.id, &mut bytes)
        .await
        .map_err(|e| format!("{}: {e}", name))?;
    let dir = root
        .join("releases")
        .join(&built.build.component)
        .join(&built.build.version);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut archive = tar::Archive::new(&bytes[..]);
    archive.set_preserve_permissions(true);
    archive
        .unpack(&dir)
        .map_err(|e| format!("unpacking {}: {e}", name))?;
    Ok(dir)
}
