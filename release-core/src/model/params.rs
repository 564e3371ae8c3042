//! Environment parameters: plain values and secret references (M2.4).
//!
//! A secret is only ever a reference (`vault://shop/orders/db`) in a manifest, a plan or a
//! rendered configuration. Its value is fetched at deploy time through a `SecretProvider`
//! and lives in a [`SecretValue`], whose `Debug`, `Display` and serde forms are redacted.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The value of one environment parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// Text.
    String(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// True or false.
    Bool(bool),
    /// A reference to a secret, resolved at deploy time.
    Secret(SecretRef),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Secret(r) => write!(f, "{{secret: {r}}}"),
        }
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Integer(v) => s.serialize_i64(*v),
            Self::Float(v) => s.serialize_f64(*v),
            Self::Bool(v) => s.serialize_bool(*v),
            Self::Secret(r) => {
                let mut m = BTreeMap::new();
                m.insert("secret", r.as_str());
                m.serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or `{ secret: scheme://path }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ParamValue, E> {
                Ok(ParamValue::String(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
                i64::try_from(v)
                    .map(ParamValue::Integer)
                    .map_err(|_| E::custom(format!("`{v}` is too large for a parameter")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Float(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParamValue, A::Error> {
                let mut secret: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "secret" {
                        secret = Some(map.next_value()?);
                    } else {
                        return Err(de::Error::unknown_field(&key, &["secret"]));
                    }
                }
                let reference = secret.ok_or_else(|| de::Error::missing_field("secret"))?;
                SecretRef::parse(&reference)
                    .map(ParamValue::Secret)
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ParamValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ParamValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A plain value, or `{ secret: scheme://path }` resolved at deploy time.",
            "oneOf": [
                { "type": ["string", "number", "boolean"] },
                {
                    "type": "object",
                    "required": ["secret"],
                    "properties": { "secret": { "type": "string", "pattern": "^[a-z][a-z0-9+.-]*://.+" } },
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A reference to a secret in a secret store: `scheme://path` (`vault://shop/orders/db`).
///
/// The reference is not secret and may be shown; the value it resolves to is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretRef(String);

impl SecretRef {
    /// Checks the `scheme://path` shape.
    pub fn parse(reference: &str) -> Result<Self, String> {
        let ok = reference.split_once("://").is_some_and(|(scheme, path)| {
            !path.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
        });
        if ok {
            Ok(Self(reference.to_owned()))
        } else {
            Err(format!(
                "`{reference}` is not a secret reference; write `scheme://path`, such as `vault://shop/orders/db`"
            ))
        }
    }

    /// The scheme (`vault`), which picks the secret provider.
    pub fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(s, _)| s)
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SecretRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.0
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[a-z][a-z0-9+.-]*://.+" })
    }
}

/// A resolved secret. Its `Debug`, `Display` and serde forms never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

/// What a redacted secret shows instead of its value.
pub const REDACTED: &str = "[REDACTED]";

impl SecretValue {
    /// Wraps a value fetched from a secret store.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself; call only where it is handed to a target, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({REDACTED})")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_never_show() {
        let v = SecretValue::new("hunter2");
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(!v.to_string().contains("hunter2"));
        assert!(!serde_json::to_string(&v).unwrap().contains("hunter2"));
        assert_eq!(v.expose(), "hunter2");
    }

    #[test]
    fn secret_refs_need_a_scheme() {
        assert!(SecretRef::parse("vault://a/b").is_ok());
        let e = SecretRef::parse("plaintext-password").unwrap_err();
        assert!(e.contains("scheme://path"));
    }
}
