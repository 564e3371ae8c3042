//! Lease times as stored by the SQL ledgers: nanoseconds since the Unix epoch in a 64-bit
//! integer, so a lease read back equals the one handed out, to the nanosecond (SQL timestamp
//! types keep microseconds).

use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::Error;

/// Expiry of a lease of `ttl` taken at `now`, as core's in-memory ledger computes it.
pub(crate) fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>, Error> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| Error::Invalid(format!("lease ttl {ttl:?} is out of range")))
}

/// A time as stored.
pub(crate) fn to_nanos(at: DateTime<Utc>) -> Result<i64, Error> {
    at.timestamp_nanos_opt().ok_or_else(|| {
        Error::Invalid(format!(
            "time {at} cannot be stored in a ledger (supported: 1677-09-21 to 2262-04-11)"
        ))
    })
}

/// A stored time.
pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}
