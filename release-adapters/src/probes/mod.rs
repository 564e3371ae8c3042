//! Probes: HTTP, TCP and command health checks, YAML journeys and security probes, run
//! against the endpoints a deployment target reports (M4.3, M4.4, M5.4, M6.3).
//!
//! Decisions:
//! - A probe checks **every** endpoint of the slot; the slot is healthy only when all pass,
//!   and the message names each endpoint's result. A slot without endpoints is unhealthy.
//! - A failed check is an unhealthy [`ProbeOutcome`](release_core::plugin::ProbeOutcome), not
//!   an error; errors are kept for probes that cannot run at all (a command that does not
//!   exist, a journey that does not parse).
//! - Journeys are sequences of HTTP requests; each step may capture values from a JSON
//!   answer (by JSON pointer) into variables used as `{{name}}` in later paths, headers and
//!   bodies and in expected JSON strings. `{{endpoint}}`, `{{slot}}`, `{{component}}` and `{{environment}}` are always set.
//! - Security probes pass when every request is **refused** (by default with 401 or 403).
//! - The HTTP client is reqwest (rustls); redirects are not followed, so a redirect to a login
//!   page is seen as what it is.

mod config;
mod error;
mod http_probe;
mod journey;

pub use config::{
    CommandProbeConfig, HttpProbeConfig, Journey, JourneyExpect, JourneyStep, SecurityCheck,
    SecurityProbeConfig, TcpProbeConfig,
};
pub use error::ProbeError;
pub use http_probe::{CommandProbe, HttpProbe, TcpProbe};
pub use journey::{JourneyProbe, SecurityProbe};
