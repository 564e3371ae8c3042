//! Metric analysis for promotion gates (issue #5; M5.5, M6.1, M8.1): the statistics and
//! judges that turn metric samples into a verdict a person can read.
//!
//! - [`mannwhitney`]: the Mann-Whitney U test (scipy-exact p-values) and the
//!   Hodges-Lehmann shift estimate with its confidence interval.
//! - [`judge`]: a Kayenta-style canary judge: per-metric High / Low / Pass / NoData,
//!   weighted groups, a 0–100 score and Pass / Marginal / Fail.
//! - [`slo`]: Keptn-style SLO scoring with absolute and relative criteria.
//! - [`sequential`]: an anytime-valid mixture SPRT on error counts.
//! - [`threshold`]: threshold analysis with Argo Rollouts' semantics, built on the core's
//!   `evaluate_measurements`.
//! - [`gate`]: [`AnalysisGate`], a [`release_core::plugin::Gate`] that runs a named
//!   analysis against a metrics source.

pub mod error;
pub mod gate;
pub mod judge;
pub mod mannwhitney;
pub mod sequential;
pub mod slo;
pub mod threshold;

pub use error::AnalysisError;
pub use gate::AnalysisGate;
