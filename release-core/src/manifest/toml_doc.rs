//! TOML documents: one per file, positions from toml's spanned tables.

use std::sync::Arc;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::error::fix_for;
use super::source::{DocumentSource, LineIndex, escape_segment};
use super::{Document, Format, Kind, ManifestError, Sourced, check_header};

pub(super) fn parse(text: &str, file: &Arc<str>) -> Result<Document, ManifestError> {
    let lines = LineIndex::new(text);
    let at = |offset: usize| {
        let p = lines.position(offset);
        super::Location::new(file.clone(), p.line, p.column)
    };
    let table = DeTable::parse(text).map_err(|e| ManifestError::Syntax {
        location: at(e.span().map_or(0, |s| s.start)),
        format: Format::Toml,
        message: e.message().trim().to_owned(),
    })?;
    let mut source = DocumentSource::new(file.clone());
    source.insert(String::new(), lines.position(table.span().start));
    record_table(table.get_ref(), "", &lines, &mut source);

    let header = |key: &str| match table.get_ref().get(key).map(|v| v.get_ref()) {
        Some(DeValue::String(s)) => Some(s.to_string()),
        _ => None,
    };
    let kind = check_header(
        &source,
        header("apiVersion").as_deref(),
        header("kind").as_deref(),
    )?;
    let invalid = |e: toml::de::Error| {
        let message = e.message().trim().to_owned();
        ManifestError::Invalid {
            location: at(e.span().map_or(0, |s| s.start)),
            fix: fix_for(&message),
            message,
        }
    };
    let source = Arc::new(source);
    Ok(match kind {
        Kind::Platform => Document::Platform(Sourced {
            value: typed(text).map_err(invalid)?,
            source,
        }),
        Kind::Release => Document::Release(Sourced {
            value: typed(text).map_err(invalid)?,
            source,
        }),
    })
}

fn typed<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, toml::de::Error> {
    toml::from_str(text)
}

fn record_table(
    table: &DeTable<'_>,
    pointer: &str,
    lines: &LineIndex<'_>,
    source: &mut DocumentSource,
) {
    for (key, value) in table {
        let child = format!("{pointer}/{}", escape_segment(key.get_ref()));
        source.insert(child.clone(), lines.position(key.span().start));
        record_value(value.get_ref(), &child, lines, source);
    }
}

fn record_value(
    value: &DeValue<'_>,
    pointer: &str,
    lines: &LineIndex<'_>,
    source: &mut DocumentSource,
) {
    match value {
        DeValue::Table(t) => record_table(t, pointer, lines, source),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = format!("{pointer}/{i}");
                source.insert(child.clone(), lines.position(item.span().start));
                record_value(item.get_ref(), &child, lines, source);
            }
        }
        _ => {}
    }
}
