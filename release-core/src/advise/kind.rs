//! Which release type to use (M1.3): delta, full or emergency, from risk tolerance, rollback
//! complexity, component criticality, emergency requests and the size of the change set.
//!
//! Rules, applied in this order; the first that decides wins, and every rule that applied is
//! listed as a reason:
//! 1. Any change request is an emergency request → **emergency** (`emergency-request`); it is
//!    the only type that may carry it (validation enforces this).
//! 2. No component changes → **full** (`no-change-set`): there is nothing to scope a delta on,
//!    so the release re-ships the baseline.
//! 3. Low risk tolerance and a complex rollback → **full** (`low-tolerance-complex-rollback`):
//!    a full release re-deploys a known-good baseline everywhere, which is what a
//!    risk-averse team wants when rolling back is hard.
//! 4. Low risk tolerance and a critical component touched → **full**
//!    (`low-tolerance-critical-component`).
//! 5. More than half of the platform's components change → **full** (`most-components-changed`):
//!    a delta that large gains nothing and hides drift of the rest.
//! 6. Otherwise → **delta** (`small-change-set`), with `simple-rollback`, `high-tolerance`
//!    or `complex-rollback-tolerated` added to say why a delta is still acceptable.
//!
//! Rollback complexity, when derived from a release ([`ReleaseKindInput::from_release`]):
//! complex when a change alters a schema *and* a touched component is stateful, moderate
//! when only one of the two holds, simple otherwise — data is what makes rollbacks hard.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Reason;
use crate::model::{ChangeRequestKind, Criticality, Platform, Release, ReleaseKind};

/// How much risk the team accepts for this release.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskTolerance {
    /// Prefer safety over speed.
    Low,
    /// Balanced.
    #[default]
    Medium,
    /// Prefer speed; accept a harder recovery.
    High,
}

/// How hard it is to roll the release back.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RollbackComplexity {
    /// Redeploy the previous artifacts.
    #[default]
    Simple,
    /// Some state or schema to take care of.
    Moderate,
    /// Data must be restored as well.
    Complex,
}

/// What the release-type advisor decides from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseKindInput {
    /// The team's risk tolerance.
    pub risk_tolerance: RiskTolerance,
    /// How hard a rollback would be.
    pub rollback_complexity: RollbackComplexity,
    /// The highest criticality of the components touched.
    pub highest_criticality: Criticality,
    /// Whether any change request is an emergency request.
    pub emergency_request: bool,
    /// Components the changes touch.
    pub changed_components: usize,
    /// Components of the platform.
    pub total_components: usize,
}

impl Default for ReleaseKindInput {
    fn default() -> Self {
        Self {
            risk_tolerance: RiskTolerance::Medium,
            rollback_complexity: RollbackComplexity::Simple,
            highest_criticality: Criticality::Low,
            emergency_request: false,
            changed_components: 0,
            total_components: 0,
        }
    }
}

impl ReleaseKindInput {
    /// Sets the risk tolerance.
    pub fn risk_tolerance(mut self, v: RiskTolerance) -> Self {
        self.risk_tolerance = v;
        self
    }

    /// Sets the rollback complexity.
    pub fn rollback_complexity(mut self, v: RollbackComplexity) -> Self {
        self.rollback_complexity = v;
        self
    }

    /// Sets the highest criticality touched.
    pub fn highest_criticality(mut self, v: Criticality) -> Self {
        self.highest_criticality = v;
        self
    }

    /// Sets whether an emergency request is involved.
    pub fn emergency_request(mut self, v: bool) -> Self {
        self.emergency_request = v;
        self
    }

    /// Sets changed and total component counts.
    pub fn components(mut self, changed: usize, total: usize) -> Self {
        self.changed_components = changed;
        self.total_components = total;
        self
    }

    /// Derives the input from a release and its platform (see the module docs).
    pub fn from_release(
        platform: &Platform,
        release: &Release,
        risk_tolerance: RiskTolerance,
    ) -> Self {
        let touched: BTreeSet<&str> = release
            .changes
            .iter()
            .flat_map(|c| c.components.iter().map(|id| id.as_str()))
            .collect();
        let components: Vec<_> = touched
            .iter()
            .filter_map(|id| platform.component(id))
            .collect();
        let stateful = components.iter().any(|c| c.stateful);
        let schema = release.changes.iter().any(|c| !c.schemas.is_empty());
        let rollback_complexity = match (stateful, schema) {
            (true, true) => RollbackComplexity::Complex,
            (false, false) => RollbackComplexity::Simple,
            _ => RollbackComplexity::Moderate,
        };
        let cited: BTreeSet<&str> = release.changes.iter().map(|c| c.request.as_str()).collect();
        let emergency_request = release
            .change_requests
            .iter()
            .any(|r| r.kind == ChangeRequestKind::Emergency && cited.contains(r.id.as_str()));
        Self {
            risk_tolerance,
            rollback_complexity,
            highest_criticality: components
                .iter()
                .map(|c| c.criticality)
                .max()
                .unwrap_or(Criticality::Low),
            emergency_request,
            changed_components: touched.len(),
            total_components: platform.components.len(),
        }
    }
}

/// The recommended release type and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseKindAdvice {
    /// The recommended type.
    pub kind: ReleaseKind,
    /// Why, most decisive first.
    pub reasons: Vec<Reason>,
}

impl fmt::Display for ReleaseKindAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recommended release type: {}", self.kind)?;
        for r in &self.reasons {
            write!(f, "\n  - {r}")?;
        }
        Ok(())
    }
}

/// Recommends a release type from `input` (rules in the module docs).
pub fn recommend_release_kind(input: &ReleaseKindInput) -> ReleaseKindAdvice {
    let i = input;
    let full = |reasons| ReleaseKindAdvice {
        kind: ReleaseKind::Full,
        reasons,
    };
    if i.emergency_request {
        return ReleaseKindAdvice {
            kind: ReleaseKind::Emergency,
            reasons: vec![Reason::new(
                "emergency-request",
                "a change request is an emergency request; only an emergency release may carry it",
            )],
        };
    }
    if i.changed_components == 0 {
        return full(vec![Reason::new(
            "no-change-set",
            "no change touches a component, so there is nothing to scope a delta on; re-ship the baseline",
        )]);
    }
    let mut reasons = Vec::new();
    if i.risk_tolerance == RiskTolerance::Low
        && i.rollback_complexity == RollbackComplexity::Complex
    {
        reasons.push(Reason::new(
            "low-tolerance-complex-rollback",
            "risk tolerance is low and rolling back needs a data restore; a full release re-deploys a known-good baseline",
        ));
    }
    if i.risk_tolerance == RiskTolerance::Low && i.highest_criticality == Criticality::Critical {
        reasons.push(Reason::new(
            "low-tolerance-critical-component",
            "risk tolerance is low and a critical component changes; a full release leaves no component on an untested combination",
        ));
    }
    if i.changed_components * 2 > i.total_components {
        reasons.push(Reason::new(
            "most-components-changed",
            format!(
                "{} of {} components change; a delta that large gains nothing over a full release",
                i.changed_components, i.total_components
            ),
        ));
    }
    if !reasons.is_empty() {
        return full(reasons);
    }
    reasons.push(Reason::new(
        "small-change-set",
        format!(
            "only {} of {} components change; a delta ships just those",
            i.changed_components, i.total_components
        ),
    ));
    match (i.rollback_complexity, i.risk_tolerance) {
        (RollbackComplexity::Simple, _) => reasons.push(Reason::new(
            "simple-rollback",
            "rolling back means redeploying the previous artifacts",
        )),
        (_, RiskTolerance::High) => reasons.push(Reason::new(
            "high-tolerance",
            "risk tolerance is high, so a harder rollback is accepted for a smaller release",
        )),
        (complexity, _) => reasons.push(Reason::new(
            "complex-rollback-tolerated",
            format!(
                "rollback is {} but risk tolerance is not low; rehearse it before production (M8.3)",
                match complexity {
                    RollbackComplexity::Complex => "complex",
                    _ => "moderate",
                }
            ),
        )),
    }
    ReleaseKindAdvice {
        kind: ReleaseKind::Delta,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(a: &ReleaseKindAdvice) -> Vec<&'static str> {
        a.reasons.iter().map(|r| r.code).collect()
    }

    fn small() -> ReleaseKindInput {
        ReleaseKindInput::default().components(2, 10)
    }

    #[test]
    fn emergency_request_means_emergency_release() {
        let a = recommend_release_kind(
            &small()
                .emergency_request(true)
                .risk_tolerance(RiskTolerance::Low),
        );
        assert_eq!(a.kind, ReleaseKind::Emergency);
        assert_eq!(codes(&a), ["emergency-request"]);
    }

    #[test]
    fn no_change_set_means_full() {
        let a = recommend_release_kind(&ReleaseKindInput::default().components(0, 5));
        assert_eq!(
            (a.kind, codes(&a)),
            (ReleaseKind::Full, vec!["no-change-set"])
        );
    }

    #[test]
    fn low_tolerance_with_complex_rollback_or_critical_component_means_full() {
        let a = recommend_release_kind(
            &small()
                .risk_tolerance(RiskTolerance::Low)
                .rollback_complexity(RollbackComplexity::Complex)
                .highest_criticality(Criticality::Critical),
        );
        assert_eq!(a.kind, ReleaseKind::Full);
        assert_eq!(
            codes(&a),
            [
                "low-tolerance-complex-rollback",
                "low-tolerance-critical-component"
            ]
        );
        let a = recommend_release_kind(
            &small()
                .risk_tolerance(RiskTolerance::Low)
                .highest_criticality(Criticality::Critical),
        );
        assert_eq!(codes(&a), ["low-tolerance-critical-component"]);
    }

    #[test]
    fn most_components_changed_means_full() {
        let a = recommend_release_kind(&ReleaseKindInput::default().components(6, 10));
        assert_eq!(a.kind, ReleaseKind::Full);
        assert_eq!(codes(&a), ["most-components-changed"]);
        assert!(a.reasons[0].message.contains("6 of 10"));
    }

    #[test]
    fn small_change_sets_are_deltas_with_the_reason() {
        let a = recommend_release_kind(&small());
        assert_eq!(
            (a.kind, codes(&a)),
            (
                ReleaseKind::Delta,
                vec!["small-change-set", "simple-rollback"]
            )
        );
        let a = recommend_release_kind(
            &small()
                .risk_tolerance(RiskTolerance::High)
                .rollback_complexity(RollbackComplexity::Complex),
        );
        assert_eq!(codes(&a), ["small-change-set", "high-tolerance"]);
        let a = recommend_release_kind(&small().rollback_complexity(RollbackComplexity::Moderate));
        assert_eq!(
            codes(&a),
            ["small-change-set", "complex-rollback-tolerated"]
        );
        assert!(
            a.to_string()
                .starts_with("recommended release type: delta\n  - only 2 of 10"),
            "{a}"
        );
    }
}
