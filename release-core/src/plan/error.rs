//! Why a release could not be planned.

use std::fmt;

use crate::id::{ComponentId, EnvironmentName, PhaseName};

/// Why [`super::plan_release`] refused a release; each message names the offending ids and
/// the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The platform's `depends_on` edges form a cycle.
    #[error(
        "dependency cycle: {}; no order can deploy these components, so remove one of these `depends_on` entries (for example `{}` depending on `{}`)",
        Arrowed(path),
        path.first().map_or("?", ComponentId::as_str),
        path.get(1).map_or("?", ComponentId::as_str)
    )]
    Cycle {
        /// The cycle, first component repeated at the end; each component depends on the next.
        path: Vec<ComponentId>,
    },
    /// A component depends on an id the platform does not define.
    #[error(
        "component `{component}` depends on `{dependency}`, which is not a component of the platform; add `{dependency}` to the platform's components or remove it from `{component}`'s `depends_on`"
    )]
    UnknownDependency {
        /// The component whose `depends_on` names the unknown id.
        component: ComponentId,
        /// The unknown id.
        dependency: ComponentId,
    },
    /// The release ships a component the platform does not define.
    #[error(
        "the release ships `{component}`, which is not a component of platform `{platform}`; add it to the platform's components or remove it from the release's `components`"
    )]
    UnknownComponent {
        /// The unknown component.
        component: ComponentId,
        /// The platform's name.
        platform: String,
    },
    /// Two components of the platform share an id.
    #[error(
        "the platform defines component `{component}` more than once; give each component a unique id"
    )]
    DuplicateComponent {
        /// The repeated id.
        component: ComponentId,
    },
    /// A lifecycle phase names an environment the platform does not define.
    #[error(
        "lifecycle phase `{phase}` names environment `{environment}`, which the platform does not define; add it to `environments` or remove it from the phase"
    )]
    UnknownLifecycleEnvironment {
        /// The phase.
        phase: PhaseName,
        /// The unknown environment.
        environment: EnvironmentName,
    },
    /// The plan options ask for an environment that is not in the lifecycle.
    #[error(
        "environment `{environment}` is not in the platform's lifecycle; plan one of {} or add it to a lifecycle phase",
        Listed(known)
    )]
    UnknownEnvironment {
        /// The environment asked for.
        environment: EnvironmentName,
        /// The environments the lifecycle has, in lifecycle order.
        known: Vec<EnvironmentName>,
    },
    /// A parallelism cap of zero would deploy nothing.
    #[error(
        "max_parallel is 0 (set by the {origin}), so no wave could deploy anything; set it to at least 1 or remove it for no cap"
    )]
    ZeroParallelism {
        /// Where the cap came from: `plan options` or `release`.
        origin: &'static str,
    },
    /// The topology is too large for the index-based graph.
    #[error("the platform's dependency graph cannot be planned: {0}")]
    Graph(#[from] super::GraphError),
}

/// Displays ids joined by arrows: `a → b → a`.
struct Arrowed<'a>(&'a [ComponentId]);

impl fmt::Display for Arrowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            f.write_str(id.as_str())?;
        }
        Ok(())
    }
}

/// Displays names as `` `a`, `b` `` (or `(none)`).
struct Listed<'a>(&'a [EnvironmentName]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none: the lifecycle is empty)");
        }
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}
