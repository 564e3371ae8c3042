//! The subcommands.

use std::collections::BTreeMap;
use std::path::PathBuf;

use release_core::manifest::ManifestSet;
use release_core::plan::{PlanOptions, Planner, plan_release};
use release_core::validate::{ScheduledRelease, ValidateOptions, conflict_report, validate_set};
use serde_json::json;

use crate::Exit;

/// Loads and validates; on failure prints every problem and says which exit code to use.
pub(crate) fn load_valid(files: &[PathBuf], json: bool) -> Result<ManifestSet, Exit> {
    let set = match ManifestSet::load(files) {
        Ok(set) => set,
        Err(errors) => {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            report_invalid(&messages, json);
            return Err(Exit::Invalid);
        }
    };
    if let Err(violations) = validate_set(&set, &ValidateOptions::default()) {
        let messages: Vec<String> = violations.iter().map(ToString::to_string).collect();
        report_invalid(&messages, json);
        return Err(Exit::Invalid);
    }
    Ok(set)
}

fn report_invalid(messages: &[String], json: bool) {
    for m in messages {
        eprintln!("{m}");
    }
    eprintln!(
        "{} problem{} found",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" }
    );
    if json {
        println!("{}", json!({ "valid": false, "errors": messages }));
    }
}

pub fn validate(files: &[PathBuf], json: bool) -> Exit {
    match load_valid(files, json) {
        Ok(set) => {
            if json {
                println!(
                    "{}",
                    json!({ "valid": true, "platforms": set.platforms.len(), "releases": set.releases.len() })
                );
            } else {
                println!(
                    "valid: {} platform(s), {} release(s)",
                    set.platforms.len(),
                    set.releases.len()
                );
            }
            Exit::Ok
        }
        Err(exit) => exit,
    }
}

pub fn plan(files: &[PathBuf], env: Option<&str>, release: Option<&str>, json: bool) -> Exit {
    let set = match load_valid(files, json) {
        Ok(set) => set,
        Err(exit) => return exit,
    };
    let mut options = PlanOptions::default();
    if let Some(env) = env {
        options = options.with_environment(env);
    }
    let mut plans = Vec::new();
    // Each platform is indexed once for all of its releases.
    let mut planners: BTreeMap<&str, Option<Planner>> = BTreeMap::new();
    for r in &set.releases {
        if release.is_some_and(|id| r.value.id().as_str() != id) {
            continue;
        }
        let Some(platform) = set.platform_for(&r.value) else {
            continue;
        };
        let planned = match planners
            .entry(platform.value.metadata.name.as_str())
            .or_insert_with(|| Planner::new(&platform.value).ok())
        {
            Some(planner) => planner.plan(&r.value, &options),
            // The whole planner reports this release's error in its own order (a zero
            // `max_parallel` before the platform's cycle, for one).
            None => plan_release(&platform.value, &r.value, &options),
        };
        match planned {
            Ok(plan) => plans.push(plan),
            Err(e) => {
                eprintln!("{}: {e}", r.source.start());
                return Exit::Invalid;
            }
        }
    }
    if plans.is_empty() {
        eprintln!(
            "no release to plan{}; add a `kind: Release` document or check `--release`",
            release.map(|r| format!(" named `{r}`")).unwrap_or_default()
        );
        return Exit::Invalid;
    }
    if json {
        let value = if plans.len() == 1 {
            serde_json::to_value(&plans[0])
        } else {
            serde_json::to_value(&plans)
        };
        match value.and_then(|v| serde_json::to_string_pretty(&v)) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("cannot print the plan as JSON: {e}");
                return Exit::Failure;
            }
        }
    } else {
        for (i, plan) in plans.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{plan}");
        }
    }
    Exit::Ok
}

pub fn schema() -> Exit {
    match serde_json::to_string_pretty(&release_core::manifest::json_schema()) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("cannot print the schema: {e}");
            Exit::Failure
        }
    }
}

pub fn conflicts(files: &[PathBuf], json: bool) -> Exit {
    let set = match load_valid(files, json) {
        Ok(set) => set,
        Err(exit) => return exit,
    };
    // One report per platform: conflicts are about shared components and resources.
    let mut by_platform: BTreeMap<&str, Vec<ScheduledRelease<'_>>> = BTreeMap::new();
    let mut unscheduled = Vec::new();
    let mut planners: BTreeMap<&str, Option<Planner>> = BTreeMap::new();
    for r in &set.releases {
        let Some(platform) = set.platform_for(&r.value) else {
            continue;
        };
        let estimate = planners
            .entry(platform.value.metadata.name.as_str())
            .or_insert_with(|| Planner::new(&platform.value).ok())
            .as_ref()
            .and_then(|planner| planner.plan(&r.value, &PlanOptions::default()).ok())
            .map(|p| p.estimated_duration.as_duration());
        match ScheduledRelease::from_schedule(&r.value, estimate) {
            Some(s) => by_platform
                .entry(platform.value.metadata.name.as_str())
                .or_default()
                .push(s),
            None => unscheduled.push(r.value.id().to_string()),
        }
    }
    let mut total = 0;
    let mut reports = Vec::new();
    for p in &set.platforms {
        let name = p.value.metadata.name.as_str();
        let releases = by_platform.remove(name).unwrap_or_default();
        let report = conflict_report(&p.value, &releases);
        total += report.conflicts.len();
        reports.push((name.to_owned(), report));
    }
    if json {
        let value = json!({
            "conflicts": total,
            "unscheduled": unscheduled,
            "platforms": reports.iter().map(|(n, r)| json!({ "platform": n, "report": r })).collect::<Vec<_>>(),
        });
        println!("{value}");
    } else {
        for (name, report) in &reports {
            println!("platform {name}:");
            let text = report.to_string();
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
        for id in &unscheduled {
            println!("release {id} has no schedule; it is not checked for conflicts");
        }
    }
    if total == 0 { Exit::Ok } else { Exit::Problems }
}

/// Strategies beyond the core's all-at-once that the binary registers: rolling, blue-green
/// and canary from release-strategies.
pub(crate) fn extra_strategies() -> Vec<std::sync::Arc<dyn release_core::plugin::Strategy>> {
    release_strategies::all()
}
