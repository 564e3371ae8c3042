//! People gates: manual approvals by role (M5.2) and formal test sign-off (M4.6).
//!
//! Decisions (GitLab protected environments, Octopus manual interventions):
//! - **Approvals are the ledger's `ApprovalRecorded` events** for the environment, the
//!   approver being the record's actor. A person counts once per rule, and may count toward
//!   several rules (GitLab's multiple approval rules).
//! - **Any rejection fails** the gate, whoever rejects (a stop is always honoured).
//! - **Self-approval** (approver = who started the release) does not count unless the spec
//!   allows it.
//! - **Roles come from the [`RoleDirectory`]** configured on the gate; a role claimed in a
//!   sign-off that the directory does not give the person does not count.
//! - **Sign-offs** are `sign_off` evidence; each required role needs a different person
//!   (a maximum matching), and authors of the release's changes are excluded unless
//!   `allow_authors`.

use std::collections::{BTreeMap, BTreeSet};

use super::GatesError;
use super::policy::GateInput;
use release_core::id::{EnvironmentName, PersonId, RoleName};
use release_core::ledger::{Decision, Event, Record};
use release_core::model::{ApprovalRule, GateSpec, Release};
use release_core::plugin::{GateVerdict, Reason};
use serde::{Deserialize, Serialize};

use super::evidence::{SignOff, find_evidence};

/// Who holds which roles (person → roles).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleDirectory(pub BTreeMap<PersonId, BTreeSet<RoleName>>);

impl RoleDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `person` the `role` (builder form).
    pub fn with(mut self, person: impl Into<PersonId>, role: impl Into<RoleName>) -> Self {
        self.0.entry(person.into()).or_default().insert(role.into());
        self
    }

    /// True when `person` holds `role`.
    pub fn holds(&self, person: &PersonId, role: &RoleName) -> bool {
        self.0.get(person).is_some_and(|roles| roles.contains(role))
    }
}

/// The role-aware manual approval gate (`approval`).
#[derive(Clone, Debug, Default)]
pub struct ApprovalGate {
    roles: RoleDirectory,
}

impl ApprovalGate {
    /// A gate reading roles from `roles`.
    pub fn new(roles: RoleDirectory) -> Self {
        Self { roles }
    }
}

/// Approvers and rejecters for an environment, in journal order.
fn decisions(events: &[Record], env: &EnvironmentName) -> (Vec<PersonId>, Vec<PersonId>) {
    let mut approvers = Vec::new();
    let mut rejecters = Vec::new();
    for record in events {
        if let Event::ApprovalRecorded {
            environment,
            decision,
            ..
        } = &record.event
            && environment == env
        {
            let who = PersonId::new(record.actor.clone());
            match decision {
                Decision::Approve if !approvers.contains(&who) => approvers.push(who),
                Decision::Reject if !rejecters.contains(&who) => rejecters.push(who),
                _ => {}
            }
        }
    }
    (approvers, rejecters)
}

fn rule_text(rule: &ApprovalRule) -> String {
    let mut from: Vec<String> = rule
        .from_roles
        .iter()
        .map(|r| format!("role {r}"))
        .collect();
    from.extend(rule.from_people.iter().map(|p| p.to_string()));
    if from.is_empty() {
        format!("{} approval(s) from anyone", rule.count)
    } else {
        format!("{} approval(s) from {}", rule.count, from.join(" or "))
    }
}

/// Evaluates approval rules against the journal: the pure core of [`ApprovalGate`].
pub fn evaluate_approvals(
    rules: &[ApprovalRule],
    allow_self_approval: bool,
    roles: &RoleDirectory,
    environment: &EnvironmentName,
    started_by: Option<&PersonId>,
    events: &[Record],
) -> GateVerdict {
    let (approvers, rejecters) = decisions(events, environment);
    if !rejecters.is_empty() {
        let names: Vec<&str> = rejecters.iter().map(PersonId::as_str).collect();
        return GateVerdict::Fail {
            reasons: vec![Reason::new(
                "approval.rejected",
                format!("rejected for {environment} by {}", names.join(", ")),
            )],
        };
    }
    let mut reasons = Vec::new();
    let mut missing = false;
    let self_approved = started_by.filter(|s| approvers.contains(s));
    if let (Some(starter), false) = (self_approved, allow_self_approval) {
        reasons.push(Reason::new(
            "approval.self_ignored",
            format!("{starter} started the release; their own approval does not count"),
        ));
    }
    for rule in rules {
        let eligible: Vec<&PersonId> = approvers
            .iter()
            .filter(|a| allow_self_approval || Some(*a) != started_by)
            .filter(|a| {
                (rule.from_roles.is_empty() && rule.from_people.is_empty())
                    || rule.from_people.contains(a)
                    || rule.from_roles.iter().any(|r| roles.holds(a, r))
            })
            .collect();
        let have = u32::try_from(eligible.len()).unwrap_or(u32::MAX);
        let names: Vec<&str> = eligible.iter().map(|p| p.as_str()).collect();
        if have >= rule.count {
            reasons.push(Reason::new(
                "approval.rule_met",
                format!("{}: approved by {}", rule_text(rule), names.join(", ")),
            ));
        } else {
            missing = true;
            reasons.push(Reason::new(
                "approval.missing",
                format!(
                    "{}: {have} of {} for {environment}{}",
                    rule_text(rule),
                    rule.count,
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(" (approved by {})", names.join(", "))
                    }
                ),
            ));
        }
    }
    if missing {
        GateVerdict::Wait {
            until: None,
            reasons,
        }
    } else {
        GateVerdict::Pass { reasons }
    }
}

impl ApprovalGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let (rules, allow_self) = match &context.spec {
            GateSpec::Approval {
                rules,
                allow_self_approval,
            } => (rules.clone(), *allow_self_approval),
            _ => (Vec::new(), false),
        };
        let rules = if rules.is_empty() {
            vec![ApprovalRule {
                count: 1,
                from_roles: Vec::new(),
                from_people: Vec::new(),
            }]
        } else {
            rules
        };
        Ok(evaluate_approvals(
            &rules,
            allow_self,
            &self.roles,
            context.environment,
            context.started_by,
            context.events,
        ))
    }
}

/// The test sign-off gate (`sign_off`).
#[derive(Clone, Debug, Default)]
pub struct SignOffGate {
    roles: RoleDirectory,
}

impl SignOffGate {
    /// A gate reading roles from `roles`.
    pub fn new(roles: RoleDirectory) -> Self {
        Self { roles }
    }
}

/// Evaluates a sign-off requirement: the pure core of [`SignOffGate`].
pub fn evaluate_sign_offs(
    required: &[RoleName],
    allow_authors: bool,
    roles: &RoleDirectory,
    release: &Release,
    environment: &EnvironmentName,
    events: &[Record],
) -> GateVerdict {
    let authors: BTreeSet<&PersonId> = release
        .changes
        .iter()
        .filter_map(|c| c.author.as_ref())
        .collect();
    let mut reasons = Vec::new();
    // role → people who validly signed for it.
    let mut signers: BTreeMap<&RoleName, BTreeSet<PersonId>> = BTreeMap::new();
    for found in find_evidence::<SignOff>(events, Some(environment)) {
        let sign_off = match found.payload {
            Ok(s) => s,
            Err(e) => {
                reasons.push(Reason::new(
                    "sign_off.unreadable",
                    format!("sign-off #{} cannot be read: {e}", found.record.seq),
                ));
                continue;
            }
        };
        let Some(role) = required.iter().find(|r| **r == sign_off.role) else {
            continue;
        };
        if !roles.holds(&sign_off.person, role) {
            reasons.push(Reason::new(
                "sign_off.not_in_role",
                format!(
                    "{} signed as {role} but does not hold that role",
                    sign_off.person
                ),
            ));
        } else if !allow_authors && authors.contains(&sign_off.person) {
            reasons.push(Reason::new(
                "sign_off.author",
                format!(
                    "{} authored a change of the release and may not sign off as {role}",
                    sign_off.person
                ),
            ));
        } else {
            signers.entry(role).or_default().insert(sign_off.person);
        }
    }
    let assignment = match_roles(required, &signers);
    let mut missing = false;
    for (role, person) in required.iter().zip(&assignment) {
        match person {
            Some(p) => reasons.push(Reason::new(
                "sign_off.signed",
                format!("{role} signed off by {p}"),
            )),
            None => {
                missing = true;
                let others = signers.get(role).is_some_and(|s| !s.is_empty());
                reasons.push(Reason::new(
                    "sign_off.missing",
                    if others {
                        format!("{role}: everyone who signed already signs for another role; a distinct person must sign")
                    } else {
                        format!("{role} has not signed off for {environment}")
                    },
                ));
            }
        }
    }
    if missing {
        GateVerdict::Wait {
            until: None,
            reasons,
        }
    } else {
        GateVerdict::Pass { reasons }
    }
}

/// Assigns a distinct person to as many roles as possible (Kuhn's augmenting paths).
fn match_roles(
    required: &[RoleName],
    signers: &BTreeMap<&RoleName, BTreeSet<PersonId>>,
) -> Vec<Option<PersonId>> {
    fn augment(
        role: usize,
        required: &[RoleName],
        signers: &BTreeMap<&RoleName, BTreeSet<PersonId>>,
        owner: &mut BTreeMap<PersonId, usize>,
        seen: &mut BTreeSet<PersonId>,
    ) -> bool {
        let Some(candidates) = signers.get(&required[role]) else {
            return false;
        };
        for person in candidates {
            if !seen.insert(person.clone()) {
                continue;
            }
            let free = match owner.get(person).copied() {
                None => true,
                Some(other) => augment(other, required, signers, owner, seen),
            };
            if free {
                owner.insert(person.clone(), role);
                return true;
            }
        }
        false
    }
    let mut owner: BTreeMap<PersonId, usize> = BTreeMap::new();
    for role in 0..required.len() {
        augment(role, required, signers, &mut owner, &mut BTreeSet::new());
    }
    let mut out = vec![None; required.len()];
    for (person, role) in owner {
        out[role] = Some(person);
    }
    out
}

impl SignOffGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let (required, allow_authors) = match &context.spec {
            GateSpec::SignOff {
                roles,
                allow_authors,
            } => (roles.clone(), *allow_authors),
            _ => (Vec::new(), false),
        };
        Ok(evaluate_sign_offs(
            &required,
            allow_authors,
            &self.roles,
            context.release,
            context.environment,
            context.events,
        ))
    }
}

crate::promotion::policy::gate_via_input!(ApprovalGate, "ApprovalGate");

crate::promotion::policy::gate_via_input!(SignOffGate, "SignOffGate");
