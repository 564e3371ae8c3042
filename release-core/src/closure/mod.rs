//! Release closure (M6.4–M6.6, M7, M8.4, M8.6): post-deployment issues, feedback, root-cause
//! analyses, the stakeholders' release summary and the post-implementation review — every one
//! a pure projection of the ledger.
//!
//! These functions read the [`Record`]s of one release (or of several, for the views across
//! releases) and nothing else: no clock, no plugin, no `HashMap` iteration. The same records
//! give byte-identical Markdown and JSON, so a review can be regenerated from an audit export
//! years later and diffed. Hosts record the inputs with the engine's operator methods
//! ([`Engine::report_issue`](crate::engine::Engine::report_issue),
//! [`Engine::resolve_issue`](crate::engine::Engine::resolve_issue),
//! [`Engine::record_feedback`](crate::engine::Engine::record_feedback),
//! [`Engine::close_rca`](crate::engine::Engine::close_rca)); the engine itself opens an RCA
//! whenever a stage rolls back.
//!
//! Decisions (where the issue is silent, after GitLab's release notes and incident timelines,
//! Octopus' deployment reports and Spinnaker's execution history):
//! - **Orders** are the journal's (sequence numbers) within a release, release id across
//!   releases, and sorted keys for every map. Longest waits sort by length, then by time.
//! - **Durations** are whole seconds in JSON (`*_secs`) and `1h 02m 03s` in Markdown.
//! - **Known issues** are the issues still open; **mitigations** are their workarounds, the
//!   resolutions of closed issues and every rollback (the strongest mitigation).
//! - **Final versions** of an environment are the release's when its last stage attempt
//!   completed, what its rollback plan captured when it rolled back, and absent when the
//!   release never reached it.
//! - **Time to detect** runs from the first bad signal (an issue of high or critical severity,
//!   an unhealthy probe, a failed analysis or step — or, when none was journaled, the stage's
//!   first deploy step) to the trigger or failure that started the rollback; **time to
//!   recover** from there to `RollbackCompleted`.
//! - **Waits** are gates that said *wait* until they passed, pause steps, and the release
//!   being paused (for a person or an inconclusive analysis) until the engine went on.
//!   **Flaky gates** are gates whose verdict for one environment went from pass to not-pass
//!   or from fail to pass within a release (waiting for an approval is not flaky).
//!
//! ```rust,no_run
//! # async fn demo(ledger: &dyn release_core::ledger::Ledger) -> release_core::Result<()> {
//! use release_core::closure::{post_implementation_review, release_summary};
//! use release_core::ledger::read_all;
//!
//! let records = read_all(ledger, &"shop-2.0.0".into()).await?;
//! let summary = release_summary(&records)?;
//! std::fs::write("summary.md", summary.to_markdown()).unwrap();
//! let review = post_implementation_review(&records)?;
//! println!("{}", review.to_json()?);
//! # Ok(()) }
//! ```

mod markdown;
mod records;
mod review;
mod summary;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use records::{
    ComponentRcas, FeedbackEntry, Issue, IssueResolution, Rca, RcaClose, feedback, issues, rcas,
    rcas_by_component,
};
pub use review::{
    Criterion, FlakyGate, FlakyGateAcrossReleases, Incident, Intervention,
    InterventionsAcrossReleases, PainPoints, PainPointsAcrossReleases, PostImplementationReview,
    RetriesAcrossReleases, Retry, Signal, StageTimeline, Wait, WaitKind, WaitsAcrossReleases,
    aggregate_pain_points, pain_points, post_implementation_review,
};
pub use summary::{
    ChangeLine, EnvironmentStatus, EnvironmentVersions, Mitigation, ReleaseSummary, release_summary,
};

use crate::error::{Error, Result};
use crate::ledger::{Event, Outcome, Record};
use crate::model::{Platform, Release};

/// How a release ended, for people and machines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReleaseOutcome {
    /// `succeeded`, `rolled_back`, `aborted`, `gate_failed` or `in_progress`.
    pub status: String,
    /// One sentence.
    pub text: String,
    /// When the release finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
}

impl ReleaseOutcome {
    fn of(records: &[Record]) -> Self {
        // A retry reopens a release: the last `release_finished` after the last retry counts.
        let mut outcome = None;
        for r in records {
            match &r.event {
                Event::ReleaseFinished { outcome: o } => outcome = Some((o.clone(), r.at)),
                Event::OperatorActed {
                    action: crate::ledger::OperatorAction::Retry,
                    ..
                } => outcome = None,
                _ => {}
            }
        }
        match outcome {
            None => Self {
                status: "in_progress".to_owned(),
                text: "in progress".to_owned(),
                finished_at: None,
            },
            Some((o, at)) => Self {
                status: match &o {
                    Outcome::Succeeded => "succeeded",
                    Outcome::RolledBack { .. } => "rolled_back",
                    Outcome::Aborted { .. } => "aborted",
                    Outcome::GateFailed { .. } => "gate_failed",
                }
                .to_owned(),
                text: o.to_string(),
                finished_at: Some(at),
            },
        }
    }

    /// True when the release completed every stage.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

/// The start of a release's journal: its record, platform and release document.
struct Started<'a> {
    record: &'a Record,
    platform: &'a Platform,
    release: &'a Release,
}

fn started(records: &[Record]) -> Result<Started<'_>> {
    let release = records.first().map(|r| r.release.to_string());
    records
        .iter()
        .find_map(|r| match &r.event {
            Event::ReleaseStarted {
                platform, release, ..
            } => Some(Started {
                record: r,
                platform,
                release,
            }),
            _ => None,
        })
        .ok_or_else(|| {
            Error::not_found(
                format!(
                    "the `release_started` record in the journal of release {}",
                    release.as_deref().unwrap_or("(empty journal)")
                ),
                "pass the whole journal of a started release (`ledger::read_all`), from record 1",
            )
        })
}

/// Whole seconds from `from` to `to` (negative when `to` is earlier).
fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

/// A duration as people read it: `45s`, `2m 05s`, `1h 02m 03s`, `3d 4h 05m`.
pub fn format_secs(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (d, h, m, s) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if d > 0 {
        format!("{sign}{d}d {h}h {m:02}m")
    } else if h > 0 {
        format!("{sign}{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{sign}{m}m {s:02}s")
    } else {
        format!("{sign}{s}s")
    }
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Codec {
        what: what.to_owned(),
        message: e.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(format_secs(0), "0s");
        assert_eq!(format_secs(45), "45s");
        assert_eq!(format_secs(125), "2m 05s");
        assert_eq!(format_secs(3723), "1h 02m 03s");
        assert_eq!(format_secs(273_900), "3d 4h 05m");
        assert_eq!(format_secs(-90), "-1m 30s");
    }
}
