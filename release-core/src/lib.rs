#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod id;
pub mod model;
pub mod manifest;
pub mod plan;
pub mod validate;
pub mod advise;
pub mod config;
