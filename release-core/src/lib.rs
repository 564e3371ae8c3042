#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod advise;
pub mod config;
pub mod digest;
pub mod id;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod validate;
