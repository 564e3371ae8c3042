//! Promotion gates (placeholder).
