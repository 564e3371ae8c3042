//! Every file under `tests/fixtures/invalid/` and `examples/manifests/broken/` is a manifest
//! with one deliberate mistake.
//! Its first line says what must be reported: `# expect: Variant @ line:column`.
//! The test asserts the error variant, that the message names `file:line:column`, and —
//! by running at all — that no input panics.

use std::path::Path;

use release_core::manifest::{ManifestError, ManifestSet};
use release_core::validate::{ValidateOptions, validate_set};

fn manifest_variant(e: &ManifestError) -> &'static str {
    match e {
        ManifestError::Read { .. } => "Read",
        ManifestError::UnknownFormat { .. } => "UnknownFormat",
        ManifestError::Empty { .. } => "Empty",
        ManifestError::Syntax { .. } => "Syntax",
        ManifestError::MissingHeader { .. } => "MissingHeader",
        ManifestError::UnsupportedApiVersion { .. } => "UnsupportedApiVersion",
        ManifestError::UnknownKind { .. } => "UnknownKind",
        ManifestError::Invalid { .. } => "Invalid",
        _ => "Other",
    }
}

/// (variant, message) of everything reported for one file.
fn report(path: &Path) -> Vec<(String, String)> {
    match ManifestSet::load(&[path]) {
        Err(errors) => errors
            .iter()
            .map(|e| (manifest_variant(e).to_owned(), e.to_string()))
            .collect(),
        Ok(set) => match validate_set(&set, &ValidateOptions::default()) {
            Ok(()) => Vec::new(),
            Err(violations) => violations
                .iter()
                .map(|v| {
                    let debug = format!("{:?}", v.kind);
                    let variant = debug
                        .split(|c: char| !c.is_alphanumeric())
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    (variant, v.to_string())
                })
                .collect(),
        },
    }
}

#[test]
fn every_invalid_fixture_reports_its_error_at_its_location() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Our own fixtures, and the broken examples shipped for users (one per violation class).
    let mut files: Vec<_> = ["tests/fixtures/invalid", "../examples/manifests/broken"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an `# expect:` line", path.display()));
        let (variant, place) = match expect.split_once(" @ ") {
            Some((v, p)) => (v.trim(), Some(p.trim())),
            None => (expect.trim(), None),
        };
        let reported = report(path);
        if std::env::var_os("PRINT_FIXTURES").is_some() {
            eprintln!("{} => {reported:?}", path.display());
        }
        let shown = format!("{}", path.display());
        let hit = reported.iter().find(|(v, msg)| {
            v == variant
                && match place {
                    Some(p) => msg.contains(&format!("{shown}:{p}")),
                    None => true,
                }
        });
        if hit.is_none() {
            failures.push(format!(
                "{}: expected {variant} @ {}, got {reported:#?}",
                path.display(),
                place.unwrap_or("?")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
