//! Evidence payloads: what hosts record as `EvidenceRecorded` events and gates read back
//! from `GateContext::events`.
//!
//! Each payload is a serde struct with a kind constant; [`evidence_event`] and
//! [`evidence_draft`] build the event a host appends to the ledger, and [`find_evidence`]
//! reads them back, newest last. Evidence recorded without an environment applies to every
//! environment of the release; evidence with one applies to that environment only.

use chrono::{DateTime, Utc};
use release_core::config::{ConfigDigest, RenderedConfig};
use release_core::id::{ComponentId, EnvironmentName, PersonId, ReleaseId, RoleName, TeamName};
use release_core::ledger::{Event, EventDraft, Record};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A typed evidence payload with its `kind`.
pub trait EvidencePayload: Serialize + DeserializeOwned {
    /// The `kind` of the `EvidenceRecorded` event (`sign_off`, `junit`…).
    const KIND: &'static str;
}

/// A formal test sign-off by one person in one role (M4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// The role signed for (`qa-lead`, `business-owner`).
    pub role: RoleName,
    /// Who signs.
    pub person: PersonId,
    /// What they say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl EvidencePayload for SignOff {
    const KIND: &'static str = "sign_off";
}

/// The approved configuration baseline of one component in one environment (M2.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigBaseline {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The digest of the approved rendered configuration.
    pub digest: ConfigDigest,
    /// The approved rendered configuration itself (secrets are references), so drift can
    /// be reported key by key; without it only the digests are compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<RenderedConfig>,
}

impl EvidencePayload for ConfigBaseline {
    const KIND: &'static str = "config_baseline";
}

/// A backup of an environment that was restored and verified (M2.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupVerified {
    /// The backup's id in the backup system.
    pub backup: String,
    /// The restore succeeded.
    pub restored: bool,
    /// The restored data passed its checks.
    pub verified: bool,
    /// When it was verified.
    pub verified_at: DateTime<Utc>,
}

impl EvidencePayload for BackupVerified {
    const KIND: &'static str = "backup_verified";
}

/// A support team member acknowledged the release's runbook (M6.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookAck {
    /// The team.
    pub team: TeamName,
    /// Who acknowledged.
    pub person: PersonId,
}

impl EvidencePayload for RunbookAck {
    const KIND: &'static str = "runbook_ack";
}

/// A scoped, reasoned, expiring override of one gate (M5.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    /// The release it applies to.
    pub release: ReleaseId,
    /// The environment it applies to.
    pub environment: EnvironmentName,
    /// The gate's registered name (`window`, `approval`).
    pub gate: String,
    /// Why (an incident number and a sentence).
    pub reason: String,
    /// Who breaks the glass.
    pub operator: PersonId,
    /// When the override stops applying.
    pub expires_at: DateTime<Utc>,
}

impl EvidencePayload for BreakGlass {
    const KIND: &'static str = "break_glass";
}

/// The `EvidenceRecorded` event for a payload.
pub fn evidence_event<P: EvidencePayload>(
    environment: Option<EnvironmentName>,
    payload: &P,
) -> Event {
    Event::EvidenceRecorded {
        kind: P::KIND.to_owned(),
        environment,
        // Serializing plain serde structs with string keys cannot fail.
        payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
    }
}

/// A draft of the `EvidenceRecorded` event, ready for `Ledger::append`.
pub fn evidence_draft<P: EvidencePayload>(
    release: ReleaseId,
    at: DateTime<Utc>,
    actor: impl Into<String>,
    environment: Option<EnvironmentName>,
    payload: &P,
) -> EventDraft {
    EventDraft::new(
        release,
        at,
        actor,
        Vec::new(),
        evidence_event(environment, payload),
    )
}

/// One piece of evidence found in a journal.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<'a, P> {
    /// The record it came from.
    pub record: &'a Record,
    /// The environment it was recorded for (`None`: the whole release).
    pub environment: Option<&'a EnvironmentName>,
    /// The payload, or why it could not be read.
    pub payload: Result<P, String>,
}

/// Every evidence of kind `P::KIND` that applies to `environment` (release-wide evidence
/// included; `None` takes all), in journal order.
pub fn find_evidence<'a, P: EvidencePayload>(
    events: &'a [Record],
    environment: Option<&EnvironmentName>,
) -> Vec<Found<'a, P>> {
    events
        .iter()
        .filter_map(|record| match &record.event {
            Event::EvidenceRecorded {
                kind,
                environment: env,
                payload,
            } if kind == P::KIND => {
                let applies = match (environment, env) {
                    (Some(wanted), Some(have)) => wanted == have,
                    _ => true,
                };
                applies.then(|| Found {
                    record,
                    environment: env.as_ref(),
                    payload: serde_json::from_value(payload.clone()).map_err(|e| e.to_string()),
                })
            }
            _ => None,
        })
        .collect()
}
