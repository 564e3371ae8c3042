//! The plan as text for a terminal: stages, waves, rollback order, critical path and blast
//! radius, aligned in columns.

use std::fmt;

use super::{Plan, Stage};

/// Dependents listed per blast radius before the rest is summarised.
const LISTED_DEPENDENTS: usize = 8;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shipped = self.stages.first().map_or(0, |s| s.steps().count());
        write!(
            f,
            "Plan for release {} ({}): {} stage{}, {} component{}, estimated {}",
            self.release,
            self.version,
            self.stages.len(),
            plural(self.stages.len()),
            shipped,
            plural(shipped),
            self.estimated_duration,
        )?;
        if let Some(cap) = self.max_parallel {
            write!(f, ", at most {cap} in parallel")?;
        }
        writeln!(f)?;
        if !self.critical_path.components.is_empty() {
            writeln!(
                f,
                "Critical path ({}): {}",
                self.critical_path.duration,
                join(
                    self.critical_path.components.iter().map(|c| c.as_str()),
                    " → "
                )
            )?;
        }
        for (i, stage) in self.stages.iter().enumerate() {
            writeln!(f)?;
            render_stage(f, i, self.stages.len(), stage)?;
            if let Some(rollback) = self.rollback.get(i) {
                writeln!(f, "  rollback, each component to its previous version:")?;
                for wave in &rollback.waves {
                    writeln!(
                        f,
                        "    wave {:<3} {}",
                        wave.index + 1,
                        join(wave.steps.iter().map(|s| s.component.as_str()), ", ")
                    )?;
                }
            }
        }
        if !self.blast_radius.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "Blast radius (transitive dependents in the whole platform):"
            )?;
            let width = self
                .blast_radius
                .keys()
                .map(|k| k.as_str().chars().count())
                .max()
                .unwrap_or(0);
            for (component, radius) in &self.blast_radius {
                write!(f, "  {:<width$}  ", component.as_str())?;
                let count = radius.dependents.len();
                match radius.max_criticality {
                    None => writeln!(f, "no dependents")?,
                    Some(criticality) => {
                        let criticality = serde_json::to_value(criticality)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        write!(
                            f,
                            "{count} dependent{}, max criticality {criticality}: {}",
                            plural(count),
                            join(
                                radius
                                    .dependents
                                    .iter()
                                    .take(LISTED_DEPENDENTS)
                                    .map(|c| c.as_str()),
                                ", "
                            )
                        )?;
                        if count > LISTED_DEPENDENTS {
                            write!(f, " … and {} more", count - LISTED_DEPENDENTS)?;
                        }
                        writeln!(f)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn render_stage(f: &mut fmt::Formatter<'_>, i: usize, of: usize, stage: &Stage) -> fmt::Result {
    writeln!(
        f,
        "Stage {}/{of}: {} ({}, phase {}), estimated {}",
        i + 1,
        stage.environment,
        stage.tier,
        stage.phase,
        stage.estimated_duration
    )?;
    if stage.waves.is_empty() {
        return writeln!(f, "  nothing to deploy");
    }
    let id_width = stage
        .steps()
        .map(|s| s.component.as_str().chars().count())
        .max()
        .unwrap_or(0);
    let version_width = stage
        .steps()
        .map(|s| s.version.to_string().chars().count())
        .max()
        .unwrap_or(0);
    let strategy_width = stage
        .steps()
        .map(|s| s.strategy.as_str().chars().count())
        .max()
        .unwrap_or(0);
    for wave in &stage.waves {
        for (k, step) in wave.steps.iter().enumerate() {
            let label = if k == 0 {
                format!("wave {}", wave.index + 1)
            } else {
                String::new()
            };
            writeln!(
                f,
                "  {label:<8} {:<id_width$}  {:<version_width$}  {:<strategy_width$}  {}",
                step.component.as_str(),
                step.version.to_string(),
                step.strategy.as_str(),
                step.estimated_duration,
            )?;
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn join<'a>(items: impl Iterator<Item = &'a str>, separator: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(item);
    }
    out
}
