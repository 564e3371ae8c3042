//! Shared parts of the runnable examples: the demo service the quickstart deploys.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod demo;
