//! Gates as written in a lifecycle phase (`entry_gates`, `exit_gates`).
//!
//! These are the serde shapes; release-gates evaluates them. Hosts register further gates
//! under a name and refer to them with `custom`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{HumanDuration, Percentage};
use crate::id::{AnalysisName, PersonId, RoleName, TeamName};

/// A gate in a lifecycle phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GateSpec {
    /// Sign-off by people in each of these roles, all distinct (M4.6).
    SignOff {
        /// Roles that must each sign off.
        roles: Vec<RoleName>,
        /// Whether the author of a change may sign off for it.
        #[serde(default)]
        allow_authors: bool,
    },
    /// Manual approvals: every rule must be satisfied (M5.2).
    Approval {
        /// Rules such as "1 approval from release-manager".
        rules: Vec<ApprovalRule>,
        /// Whether the person who started the release may approve it.
        #[serde(default)]
        allow_self_approval: bool,
    },
    /// The environment's deployment windows and freezes (M5.6).
    Window {},
    /// JUnit results recorded as evidence (M4.1).
    Junit {
        /// Least share of passing tests.
        min_pass_rate: Percentage,
    },
    /// SARIF findings recorded as evidence (M3.4, M4.3).
    Sarif {
        /// Findings at this level or above block (`error`, `warning`, `note`).
        #[serde(default = "default_sarif_level")]
        fail_on: String,
    },
    /// Every change's request is still approved and inside its window (M1.1, M1.2).
    ChangeRequest {},
    /// The rendered configuration matches the approved baseline (M2.4).
    ConfigBaseline {},
    /// A backup was restored and verified recently (M2.6).
    BackupVerified {
        /// How old the verified backup may be.
        max_age: HumanDuration,
    },
    /// A passing rehearsal on a clone (M4.5) for exactly the migration set each shipped
    /// component with migrations pins (`migrations.digest` in the release).
    MigrationRehearsal {
        /// How old the rehearsal may be; any age when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_age: Option<HumanDuration>,
    },
    /// The support team acknowledged the runbook (M6.4).
    RunbookAck {
        /// The team that must acknowledge.
        team: TeamName,
    },
    /// A named analysis passes.
    Analysis {
        /// The analysis template's name.
        name: AnalysisName,
    },
    /// Every root-cause analysis opened after a rollback of one of the release's components
    /// is closed (M8.6): a component that rolled back does not ship again before its RCA.
    RcaClosed {},
    /// A gate registered by the host.
    Custom {
        /// Name the gate is registered under.
        name: String,
        /// Its parameters, passed through untouched.
        #[serde(default)]
        params: serde_json::Value,
    },
}

fn default_sarif_level() -> String {
    "error".to_owned()
}

/// "N approvals from these roles or people".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// How many distinct approvers.
    pub count: u32,
    /// Roles whose holders may approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_roles: Vec<RoleName>,
    /// People who may approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_people: Vec<PersonId>,
}
