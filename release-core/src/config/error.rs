//! Errors of rendering templates and resolving secrets. Each names where the problem is and
//! how to fix it; none ever contains a secret value.

use std::fmt;

use crate::id::{ComponentId, EnvironmentName};
use crate::model::SecretRef;

/// Where a placeholder sits: component, template (file) name, and 1-based line and column
/// (in characters) inside the template text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct TemplateLocation {
    /// The component whose template it is.
    pub component: ComponentId,
    /// The template's name: the key under the component's `config`.
    pub template: String,
    /// 1-based line inside the template text.
    pub line: u32,
    /// 1-based column, in characters, of the opening `{{`.
    pub column: u32,
}

impl fmt::Display for TemplateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component `{}`, template `{}`, line {}, column {}",
            self.component, self.template, self.line, self.column
        )
    }
}

/// What went wrong rendering a configuration template (M2.4).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `{{` has no `}}` after it on the same line.
    #[error(
        "{location}: placeholder `{placeholder}` is not closed; add `}}}}` on the same line, such as `{{{{ name }}}}`"
    )]
    UnclosedPlaceholder {
        /// Where the `{{` is.
        location: TemplateLocation,
        /// The text from `{{` to the end of the line (shortened when long).
        placeholder: String,
    },
    /// `{{ }}` names nothing.
    #[error(
        "{location}: placeholder `{placeholder}` names no parameter; write a parameter name between the braces or remove it"
    )]
    EmptyPlaceholder {
        /// Where the `{{` is.
        location: TemplateLocation,
        /// The placeholder as written.
        placeholder: String,
    },
    /// The placeholder names neither a parameter of the environment nor a built-in.
    #[error(
        "{location}: placeholder `{placeholder}` names `{name}`, which environment `{environment}` does not define; add `{name}` to environment `{environment}`'s parameters or remove the placeholder"
    )]
    UnknownParameter {
        /// Where the `{{` is.
        location: TemplateLocation,
        /// The placeholder as written.
        placeholder: String,
        /// The name inside it.
        name: String,
        /// The environment being rendered.
        environment: EnvironmentName,
    },
    /// `{{ release.version }}` was used but no release version was given.
    #[error(
        "{location}: placeholder `{placeholder}` needs a release version, and none was given; render the configuration for a release, or remove the placeholder"
    )]
    ReleaseVersionUnavailable {
        /// Where the `{{` is.
        location: TemplateLocation,
        /// The placeholder as written.
        placeholder: String,
    },
    /// An environment defines a parameter whose name is reserved for a built-in.
    #[error(
        "environment `{environment}` defines parameter `{name}`, a built-in name; rename the parameter (built-ins: {builtins})",
        builtins = super::template::BUILTINS.join(", ")
    )]
    ReservedParameter {
        /// The environment.
        environment: EnvironmentName,
        /// The parameter's name.
        name: String,
    },
}

impl ConfigError {
    /// The template location the error points at, when it has one.
    pub fn location(&self) -> Option<&TemplateLocation> {
        match self {
            Self::UnclosedPlaceholder { location, .. }
            | Self::EmptyPlaceholder { location, .. }
            | Self::UnknownParameter { location, .. }
            | Self::ReleaseVersionUnavailable { location, .. } => Some(location),
            Self::ReservedParameter { .. } => None,
        }
    }
}

/// Every error found while rendering, in a deterministic order (component, template, line,
/// column). Never empty when returned as an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// Wraps errors; callers only build it from a non-empty list.
    pub(crate) fn new(errors: Vec<ConfigError>) -> Self {
        Self(errors)
    }

    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The errors, by value.
    pub fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (never for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl From<ConfigErrors> for Vec<ConfigError> {
    fn from(e: ConfigErrors) -> Self {
        e.0
    }
}

/// Why a secret reference could not be resolved. Carries the reference, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The store has no secret under this reference.
    #[error(
        "secret `{reference}` was not found; create it in the secret store or fix the reference in the environment's parameters"
    )]
    NotFound {
        /// The reference.
        reference: SecretRef,
    },
    /// The store refused access.
    #[error(
        "access to secret `{reference}` was denied: {reason}; grant the deploying identity read access to it"
    )]
    Denied {
        /// The reference.
        reference: SecretRef,
        /// What the store said (must not contain the value).
        reason: String,
    },
    /// No provider handles the reference's scheme.
    #[error(
        "no secret provider handles scheme `{scheme}` of `{reference}`; configure a provider for `{scheme}://` or change the reference"
    )]
    UnsupportedScheme {
        /// The reference.
        reference: SecretRef,
        /// Its scheme.
        scheme: String,
    },
    /// The store failed (network, timeout, server error).
    #[error("secret store failed resolving `{reference}`: {message}{hint}", hint = if *retryable { "; the failure is transient, retry" } else { "" })]
    Backend {
        /// The reference.
        reference: SecretRef,
        /// What went wrong.
        message: String,
        /// True when trying again may succeed.
        retryable: bool,
        /// The backend's own error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl SecretError {
    /// True when trying again may succeed (the engine reads this to retry).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                retryable: true,
                ..
            }
        )
    }

    /// The reference that failed.
    pub fn reference(&self) -> &SecretRef {
        match self {
            Self::NotFound { reference }
            | Self::Denied { reference, .. }
            | Self::UnsupportedScheme { reference, .. }
            | Self::Backend { reference, .. } => reference,
        }
    }
}
