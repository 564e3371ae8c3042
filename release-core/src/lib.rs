#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod advise;
pub mod closure;
pub mod config;
pub mod digest;
pub mod engine;
mod error;
pub mod id;
pub mod ledger;
pub mod manifest;
pub mod memory;
pub mod migration;
pub mod model;
pub mod plan;
pub mod plugin;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod validate;

pub use error::{BoxError, Error, ErrorKind, Result};

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
