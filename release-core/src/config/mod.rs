//! Configuration per environment (M2.1, M2.4): rendering, digests, late secret resolution,
//! parity and drift.
//!
//! Data flow:
//!
//! 1. A component's version-controlled templates live in the platform manifest
//!    (`Component.config`: file or key name → template text).
//! 2. [`render_component`] / [`render_environment`] fill them with an environment's
//!    parameters into a [`RenderedConfig`]. Secret parameters stay
//!    [`SecretRef`](crate::model::SecretRef)s
//!    ([`Segment::Secret`]), so a rendered configuration holds no secret and may be printed,
//!    stored and compared.
//! 3. The engine records [`RenderedConfig::digest`] (`sha256:<hex>`) per component and
//!    environment; [`diff_rendered`] explains a changed digest file by file and key by key.
//! 4. At deploy time [`RenderedConfig::resolve`] fetches each secret through a
//!    [`SecretProvider`]. The [`ResolvedConfig`] shows `[REDACTED]` in `Debug`, `Display` and
//!    serde; only [`ResolvedConfig::expose_file`] yields the real text, for the target.
//!
//! [`parity_report`] compares parameters across tiers against `parity.allow` (M2.1).
//!
//! Decisions:
//!
//! - Template syntax is `{{ name }}` (whitespace optional). `{{` always opens a placeholder
//!   and must close with `}}` on the same line; there is no escape. To emit a literal `{{`,
//!   define a parameter holding it (`lbrace: "{{"`) and write `{{ lbrace }}`. A lone `}}` is
//!   plain text.
//! - Names are the environment's parameters plus the built-ins [`BUILTINS`]: `env.name`,
//!   `env.tier`, `component.id`, `release.version` (only when a version is given). An
//!   environment may not define a parameter with a built-in name: it is an error rather than a
//!   silent shadow.
//! - Rendering returns every error at once ([`ConfigErrors`]), each naming component,
//!   template, line and column (1-based, columns in characters) and the fix.
//! - Plain parameter values render as their text (`1`, `true`, `0.5`).
//! - The digest hashes a versioned, length-prefixed encoding of file names and canonical
//!   segments (adjacent texts merged), so it depends only on content, never on how a file
//!   was built; a secret reference and text with the same spelling hash differently.
//! - The parity report compares values as rendered (`1` equals `"1"`; a secret never equals
//!   plain text) and shows secrets as `secret:<reference>`.

mod drift;
mod error;
mod parity;
mod rendered;
mod secret;
mod template;

pub use crate::digest::{ParseDigestError, Sha256Digest as ConfigDigest};
pub use drift::{ConfigDrift, KeyDrift, diff_rendered};
pub use error::{ConfigError, ConfigErrors, SecretError, TemplateLocation};
pub use parity::{ParityDifference, ParityEnvironment, ParityKind, ParityReport, parity_report};
pub use rendered::{RenderedConfig, RenderedFile, Segment};
pub use secret::{InMemorySecrets, ResolvedConfig, SecretProvider};
pub use template::{BUILTINS, render_component, render_environment, render_environment_for};
