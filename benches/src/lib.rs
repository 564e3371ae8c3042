//! Input generators shared by the criterion benches.
