//! Late resolution of secret references at deploy time, and the resolved configuration that
//! holds their values without ever printing them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::ConfigDigest;
use super::error::SecretError;
use super::rendered::{RenderedConfig, Segment};
use crate::model::{REDACTED, SecretRef, SecretValue};

/// Resolves secret references (`vault://shop/orders/db`) to values at deploy time.
///
/// Implementations must not log or put the value into errors.
#[async_trait::async_trait]
pub trait SecretProvider: Send + Sync {
    /// Fetches the value `reference` points to.
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError>;
}

fn _assert_object_safe(_: &dyn SecretProvider) {}

#[async_trait::async_trait]
impl<T: SecretProvider + ?Sized> SecretProvider for Arc<T> {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        (**self).resolve(reference).await
    }
}

#[async_trait::async_trait]
impl<T: SecretProvider + ?Sized> SecretProvider for Box<T> {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        (**self).resolve(reference).await
    }
}

/// The in-memory reference [`SecretProvider`]: a map from reference to value. Its `Debug`
/// lists references only.
#[derive(Clone, Default)]
pub struct InMemorySecrets {
    values: BTreeMap<SecretRef, SecretValue>,
}

impl InMemorySecrets {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a secret.
    pub fn insert(&mut self, reference: SecretRef, value: SecretValue) {
        self.values.insert(reference, value);
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, reference: SecretRef, value: SecretValue) -> Self {
        self.insert(reference, value);
        self
    }

    /// Removes a secret; later resolutions of it fail with [`SecretError::NotFound`].
    pub fn remove(&mut self, reference: &SecretRef) -> bool {
        self.values.remove(reference).is_some()
    }

    /// The references held, sorted.
    pub fn references(&self) -> impl Iterator<Item = &SecretRef> {
        self.values.keys()
    }
}

impl FromIterator<(SecretRef, SecretValue)> for InMemorySecrets {
    fn from_iter<I: IntoIterator<Item = (SecretRef, SecretValue)>>(iter: I) -> Self {
        Self {
            values: iter.into_iter().collect(),
        }
    }
}

impl fmt::Debug for InMemorySecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySecrets")
            .field("references", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait::async_trait]
impl SecretProvider for InMemorySecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        self.values
            .get(reference)
            .cloned()
            .ok_or_else(|| SecretError::NotFound {
                reference: reference.clone(),
            })
    }
}

/// A piece of a resolved file.
#[derive(Clone, PartialEq, Eq)]
enum ResolvedSegment {
    Text(String),
    Secret(SecretRef, SecretValue),
}

/// A configuration with its secrets resolved, ready to hand to a deployment target.
///
/// `Debug`, `Display` and `Serialize` show `[REDACTED]` in place of every secret; only
/// [`expose_file`](Self::expose_file) returns the real content.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedConfig {
    digest: ConfigDigest,
    files: BTreeMap<String, Vec<ResolvedSegment>>,
}

impl RenderedConfig {
    /// Resolves every secret reference through `provider` (each distinct reference once, in
    /// sorted order) and fails on the first reference that cannot be resolved.
    pub async fn resolve(
        &self,
        provider: &dyn SecretProvider,
    ) -> Result<ResolvedConfig, SecretError> {
        let mut values = BTreeMap::new();
        for reference in self.secret_refs() {
            let value = provider.resolve(reference).await?;
            values.insert(reference.clone(), value);
        }
        let mut files = BTreeMap::new();
        for (name, file) in self.files() {
            let mut segments = Vec::with_capacity(file.segments().len());
            for s in file.segments() {
                segments.push(match s {
                    Segment::Text(t) => ResolvedSegment::Text(t.clone()),
                    Segment::Secret(r) => {
                        // Every reference was resolved above; a provider cannot skip one.
                        let value =
                            values
                                .get(r)
                                .cloned()
                                .ok_or_else(|| SecretError::NotFound {
                                    reference: r.clone(),
                                })?;
                        ResolvedSegment::Secret(r.clone(), value)
                    }
                });
            }
            files.insert(name.clone(), segments);
        }
        Ok(ResolvedConfig {
            digest: self.digest(),
            files,
        })
    }
}

impl ResolvedConfig {
    /// The digest of the rendered configuration this was resolved from (the one the engine
    /// records; secret values never enter it).
    pub fn digest(&self) -> ConfigDigest {
        self.digest
    }

    /// The file names, sorted.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The real content of a file, secrets included: hand it to a target, never log it.
    pub fn expose_file(&self, name: &str) -> Option<String> {
        self.files.get(name).map(|segments| {
            segments
                .iter()
                .map(|s| match s {
                    ResolvedSegment::Text(t) => t.as_str(),
                    ResolvedSegment::Secret(_, v) => v.expose(),
                })
                .collect()
        })
    }

    /// A file's content with `[REDACTED]` in place of each secret: safe to show.
    pub fn redacted_file(&self, name: &str) -> Option<String> {
        self.files.get(name).map(|segments| redacted(segments))
    }

    fn redacted_files(&self) -> BTreeMap<&str, String> {
        self.files
            .iter()
            .map(|(name, segments)| (name.as_str(), redacted(segments)))
            .collect()
    }
}

fn redacted(segments: &[ResolvedSegment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            ResolvedSegment::Text(t) => t.as_str(),
            ResolvedSegment::Secret(..) => REDACTED,
        })
        .collect()
}

/// Files in name order, each as `--- name ---` and its text, secrets as `[REDACTED]`.
impl fmt::Display for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, text) in self.redacted_files() {
            writeln!(f, "--- {name} ---")?;
            f.write_str(&text)?;
            if !text.ends_with('\n') {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedConfig")
            .field("digest", &self.digest)
            .field("files", &self.redacted_files())
            .finish()
    }
}

/// `{ "digest": "sha256:…", "files": { name: redacted text } }`.
impl Serialize for ResolvedConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Redacted<'a> {
            digest: ConfigDigest,
            files: BTreeMap<&'a str, String>,
        }
        Redacted {
            digest: self.digest,
            files: self.redacted_files(),
        }
        .serialize(s)
    }
}
