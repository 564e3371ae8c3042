//! Typed identifiers of the release domain.
//!
//! Every id is a newtype over a string so that a `ComponentId` can never be passed where an
//! `EnvironmentName` is expected. Ids serialize as plain strings and order by their text, which
//! keeps plans and reports deterministic.
//!
//! Representation: an id holds a [`SmolStr`], not a `String`. Ids of up to 23 bytes (nearly
//! every real one: `checkout-api`, `prod`, `CR-1042`) are stored inline in the 24 bytes a
//! `String` takes, longer ones behind an `Arc<str>`; either way a clone allocates nothing.
//! Ids are copied everywhere (a plan holds each shipped component's id in its deploy step,
//! its rollback step and its blast radius entries), and with `String` the 100,000-component
//! plan spent most of its time in `malloc`/`free` for those copies (issue #10, BENCHMARKS.md).
//! An `Arc<str>` would also share the text but still touch a shared counter per clone and
//! per drop; inline ids touch nothing. The public API (`new`, `as_str`, `From`, `Borrow<str>`,
//! `Display`, ordering by text) and the serialized form (a plain string) are unchanged.
//!
//! [`SlotName`] joined them in issue #10; it was a `String`. It serializes as the same
//! string and derefs to `str`, but code that stored it in a `String` now converts.

use std::borrow::Borrow;
use std::fmt;

use smol_str::SmolStr;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(#[schemars(with = "String")] SmolStr);

        impl $name {
            /// Creates the id from any string.
            pub fn new(id: impl Into<String>) -> Self {
                Self(SmolStr::from(id.into()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(SmolStr::new(s))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(SmolStr::from(s))
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

string_id!(
    /// A deployable component (a service, a database schema, a job): also a configuration item.
    ComponentId
);
string_id!(
    /// The name of an environment (`dev`, `staging`, `production`).
    EnvironmentName
);
string_id!(
    /// A change request as the change-management system knows it (`CR-1042`).
    ChangeRequestId
);
string_id!(
    /// A change inside a release (`CHG-1`).
    ChangeId
);
string_id!(
    /// A release (`shop-2026.12.1`).
    ReleaseId
);
string_id!(
    /// A shared resource such as a database or an external API (`orders-postgres`).
    SharedResourceId
);
string_id!(
    /// A person, usually an e-mail address (`ana@shop.example`).
    PersonId
);
string_id!(
    /// A role a person holds in a sign-off or approval (`qa-lead`).
    RoleName
);
string_id!(
    /// A lifecycle phase (`verify`).
    PhaseName
);
string_id!(
    /// A named analysis template of the platform (`error-rate`).
    AnalysisName
);
string_id!(
    /// A team that owns components (`payments`).
    TeamName
);
// A slot name was a `String` until issue #10: slot specs and weights are copied at every
// step of a rollout (the program, the journal, the target's status, the router's table),
// and each copy of a `String` was an allocation. It serializes as the same plain string.
string_id!(
    /// The name of a slot (`stable`, `canary`, `blue`, `green`, `preview`).
    SlotName
);

impl Default for SlotName {
    /// The empty name, as a `String` had one (so a `#[derive(Default)]` struct holding a
    /// slot name keeps compiling).
    fn default() -> Self {
        Self(SmolStr::default())
    }
}

/// A slot name reads as a `&str` (`&spec.slot` where a `&str` is asked for,
/// `spec.slot.starts_with(..)`), as the `String` it was before issue #10 did. Code that
/// needs an owned `String` (a `String`-keyed map, a `String` field) converts with
/// `to_string()`; lookups in such maps take `spec.slot.as_str()`. The other ids do not
/// deref: they never were strings.
impl std::ops::Deref for SlotName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<String> for SlotName {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SlotName> for str {
    fn eq(&self, other: &SlotName) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SlotName> for &str {
    fn eq(&self, other: &SlotName) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<SlotName> for String {
    fn eq(&self, other: &SlotName) -> bool {
        self.as_str() == other.as_str()
    }
}

impl AsRef<std::ffi::OsStr> for SlotName {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.as_str().as_ref()
    }
}

impl AsRef<std::path::Path> for SlotName {
    fn as_ref(&self) -> &std::path::Path {
        self.as_str().as_ref()
    }
}

impl AsRef<[u8]> for SlotName {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl From<&String> for SlotName {
    fn from(s: &String) -> Self {
        Self::from(s.as_str())
    }
}

impl From<SlotName> for String {
    fn from(s: SlotName) -> Self {
        s.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{RolloutStep, SlotSpec, SlotWeight};

    #[test]
    fn a_slot_name_is_written_and_read_as_the_string_it_was() {
        // Journals hold slot names (programs, weights, specs): issue #10 changed the type
        // from `String`, and the JSON, hence every record hash, must not change.
        let name = SlotName::from("canary");
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""canary""#);
        let long = "a-slot-name-longer-than-twenty-three-bytes";
        let back: SlotName = serde_json::from_str(&format!("\"{long}\"")).unwrap();
        assert_eq!(back, long);
        assert_eq!(*long, back);

        let step = RolloutStep::RemoveSlot { slot: name.clone() };
        let json = serde_json::to_string(&step).unwrap();
        assert_eq!(json, r#"{"remove_slot":{"slot":"canary"}}"#);
        assert_eq!(serde_json::from_str::<RolloutStep>(&json).unwrap(), step);

        let weights = RolloutStep::SetWeights(vec![SlotWeight {
            slot: "stable".into(),
            weight: 80,
        }]);
        let json = serde_json::to_string(&weights).unwrap();
        assert_eq!(json, r#"{"set_weights":[{"slot":"stable","weight":80}]}"#);

        let spec = SlotSpec::new("api", "prod", "blue", semver::Version::new(1, 2, 3), 2);
        let value = serde_json::to_value(&spec).unwrap();
        assert_eq!(value["slot"], "blue");
        assert_eq!(serde_json::from_value::<SlotSpec>(value).unwrap(), spec);
    }

    #[test]
    fn a_slot_name_reads_as_a_str() {
        let name = SlotName::from("stable");
        assert!(name.starts_with("sta"));
        assert_eq!(name, "stable".to_owned());
        assert_eq!("stable".to_owned(), name);
        assert_eq!("stable", name);
        let os: &std::ffi::OsStr = name.as_ref();
        assert_eq!(os, "stable");
        assert_eq!(String::from(name.clone()), "stable");
        assert_eq!(SlotName::default(), "");
    }
}
