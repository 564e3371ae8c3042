//! The error metric analysis returns on bad input: every variant names the thing that was
//! wrong and what would fix it.

/// What went wrong while analysing metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A sample that must hold values is empty.
    #[error("the {sample} sample is empty; collect at least one measurement before comparing")]
    EmptySample {
        /// Which sample (`canary`, `baseline`, `x`, `y`).
        sample: String,
    },
    /// A sample holds a value that is not a finite number.
    #[error(
        "the {sample} sample holds a value that is not finite ({value}) at position {index}; drop NaN and infinite values (or map them to no data) before comparing"
    )]
    NotFinite {
        /// Which sample.
        sample: String,
        /// The position of the value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The exact distribution of U is too large to count.
    #[error(
        "the exact distribution of U for samples of {n1} and {n2} values is too large to count exactly; use the asymptotic method"
    )]
    ExactTooLarge {
        /// First sample size.
        n1: usize,
        /// Second sample size.
        n2: usize,
    },
    /// A configuration value is out of range.
    #[error("{field} = {value} is out of range; {fix}")]
    OutOfRange {
        /// The field (`alpha`, `confidence`, `weight`).
        field: String,
        /// The value given.
        value: String,
        /// What would fix it.
        fix: String,
    },
    /// A configuration is inconsistent.
    #[error("invalid analysis configuration: {0}")]
    Invalid(String),
}

impl AnalysisError {
    pub(crate) fn out_of_range(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        fix: impl Into<String>,
    ) -> Self {
        Self::OutOfRange {
            field: field.into(),
            value: value.to_string(),
            fix: fix.into(),
        }
    }
}

/// Checks that a sample is non-empty and finite.
pub(crate) fn check_sample(name: &str, values: &[f64]) -> Result<(), AnalysisError> {
    if values.is_empty() {
        return Err(AnalysisError::EmptySample {
            sample: name.to_owned(),
        });
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(AnalysisError::NotFinite {
            sample: name.to_owned(),
            index,
            value,
        });
    }
    Ok(())
}
