//! Issues (M6.6), feedback (M6.5) and root-cause analyses (M8.6) as lists folded from the
//! journal.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::id::{ComponentId, EnvironmentName, PersonId, ReleaseId};
use crate::ledger::{Event, Record, Sentiment};
use crate::model::Severity;

/// A post-deployment issue with its state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Issue {
    /// The release it was reported against.
    pub release: ReleaseId,
    /// Its id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// Who owns the fix.
    pub owner: PersonId,
    /// Where it was seen.
    pub environment: EnvironmentName,
    /// The component, when known.
    pub component: Option<ComponentId>,
    /// One line.
    pub title: String,
    /// The workaround in place.
    pub mitigation: Option<String>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// Who reported it.
    pub reported_by: String,
    /// How it was resolved, once it was.
    pub resolution: Option<IssueResolution>,
}

impl Issue {
    /// True until it is resolved.
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }
}

/// The resolution of an issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IssueResolution {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// What resolved it.
    pub resolution: String,
}

/// The release's post-deployment issues, in the order they were reported.
pub fn issues(records: &[Record]) -> Vec<Issue> {
    let mut out: Vec<Issue> = Vec::new();
    for r in records {
        match &r.event {
            Event::IssueReported(i) => out.push(Issue {
                release: r.release.clone(),
                id: i.id.clone(),
                severity: i.severity,
                owner: i.owner.clone(),
                environment: i.environment.clone(),
                component: i.component.clone(),
                title: i.title.clone(),
                mitigation: i.mitigation.clone(),
                reported_at: r.at,
                reported_by: r.actor.clone(),
                resolution: None,
            }),
            Event::IssueResolved { issue, resolution } => {
                if let Some(found) = out.iter_mut().find(|i| &i.id == issue) {
                    found.resolution = Some(IssueResolution {
                        at: r.at,
                        by: r.actor.clone(),
                        resolution: resolution.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// One piece of feedback recorded with a release.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FeedbackEntry {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
    /// Who gave it.
    pub from: String,
    /// Positive, neutral or negative.
    pub sentiment: Sentiment,
    /// What they said.
    pub text: String,
    /// The environment they used.
    pub environment: Option<EnvironmentName>,
    /// The component it is about.
    pub component: Option<ComponentId>,
}

/// The release's feedback, in the order it was recorded.
pub fn feedback(records: &[Record]) -> Vec<FeedbackEntry> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::FeedbackRecorded(f) => Some(FeedbackEntry {
                at: r.at,
                recorded_by: r.actor.clone(),
                from: f.from.clone(),
                sentiment: f.sentiment,
                text: f.text.clone(),
                environment: f.environment.clone(),
                component: f.component.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// A root-cause analysis with its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Rca {
    /// The release that rolled back.
    pub release: ReleaseId,
    /// Its id.
    pub id: String,
    /// The environment that rolled back.
    pub environment: EnvironmentName,
    /// The stage attempt.
    pub attempt: u32,
    /// The components rolled back.
    pub components: Vec<ComponentId>,
    /// Why the stage rolled back.
    pub reason: String,
    /// When the engine opened it.
    pub opened_at: DateTime<Utc>,
    /// The close, once a person closed it.
    pub closure: Option<RcaClose>,
}

impl Rca {
    /// True until a person closes it.
    pub fn is_open(&self) -> bool {
        self.closure.is_none()
    }
}

/// What closed an RCA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RcaClose {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// What happened.
    pub summary: String,
    /// The root cause.
    pub cause: String,
    /// The actions.
    pub actions: Vec<String>,
}

/// The release's RCAs, in the order they were opened.
pub fn rcas(records: &[Record]) -> Vec<Rca> {
    let mut out: Vec<Rca> = Vec::new();
    for r in records {
        match &r.event {
            Event::RcaOpened(o) => out.push(Rca {
                release: r.release.clone(),
                id: o.id.clone(),
                environment: o.environment.clone(),
                attempt: o.attempt,
                components: o.components.clone(),
                reason: o.reason.clone(),
                opened_at: r.at,
                closure: None,
            }),
            Event::RcaClosed(c) => {
                if let Some(found) = out.iter_mut().find(|o| o.id == c.id) {
                    found.closure = Some(RcaClose {
                        at: r.at,
                        by: r.actor.clone(),
                        summary: c.summary.clone(),
                        cause: c.cause.clone(),
                        actions: c.actions.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The RCAs that name one component, across releases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ComponentRcas {
    /// Still open: the component may not ship again (M8.6).
    pub open: Vec<Rca>,
    /// Closed.
    pub closed: Vec<Rca>,
}

impl ComponentRcas {
    /// The most recently opened RCA of the component, open or closed.
    pub fn last(&self) -> Option<&Rca> {
        self.open
            .iter()
            .chain(&self.closed)
            .max_by(|a, b| (a.opened_at, &a.release, &a.id).cmp(&(b.opened_at, &b.release, &b.id)))
    }
}

/// Open and closed RCAs per component over the journals of several releases; each list in
/// the order the RCAs were opened (then by release and id).
pub fn rcas_by_component(journals: &[Vec<Record>]) -> BTreeMap<ComponentId, ComponentRcas> {
    let mut all: Vec<Rca> = journals.iter().flat_map(|j| rcas(j)).collect();
    all.sort_by(|a, b| (a.opened_at, &a.release, &a.id).cmp(&(b.opened_at, &b.release, &b.id)));
    let mut out: BTreeMap<ComponentId, ComponentRcas> = BTreeMap::new();
    for rca in all {
        for component in &rca.components {
            let entry = out.entry(component.clone()).or_default();
            if rca.is_open() {
                entry.open.push(rca.clone());
            } else {
                entry.closed.push(rca.clone());
            }
        }
    }
    out
}
