//! Metric analysis (placeholder).
