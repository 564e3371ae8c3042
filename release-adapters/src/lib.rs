#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "process")]
pub mod process;

#[cfg(feature = "router")]
pub mod router;

#[cfg(feature = "probes")]
pub mod probes;
