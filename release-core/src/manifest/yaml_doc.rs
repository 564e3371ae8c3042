//! YAML documents: split at `---`, map every value's position, then the typed parse.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::fix_for;
use super::source::{DocumentSource, Position, escape_segment};
use super::{Document, Format, Kind, Location, ManifestError, Sourced, check_header};

/// Parses every document of a YAML file.
pub(super) fn parse(text: &str, file: &Arc<str>) -> Vec<Result<Document, ManifestError>> {
    split_documents(text)
        .into_iter()
        .filter(|(_, chunk)| has_content(chunk))
        .map(|(first_line, chunk)| parse_document(chunk, first_line, file))
        .collect()
}

/// Splits at `---` / `...` lines; returns each chunk with the 0-based line it starts on.
fn split_documents(text: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0u32;
    let mut offset = 0usize;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let line_no = u32::try_from(line_no).unwrap_or(u32::MAX);
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker =
            bare == "---" || bare.starts_with("--- ") || bare == "..." || bare.starts_with("---\t");
        if is_marker {
            out.push((start_line, &text[start..offset]));
            // A `--- ` line may carry content after the marker; keep it in the next chunk
            // by blanking only the marker (columns stay right).
            start = offset;
            start_line = line_no;
        }
        offset += line.len();
    }
    out.push((start_line, &text[start..]));
    out
}

/// True when the chunk holds more than markers, blank lines and comments.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with('#') || t == "---" || t == "...")
    })
}

/// Replaces a leading document marker by spaces so that lines and columns stay true.
fn blank_marker(chunk: &str) -> String {
    let mut s = chunk.to_owned();
    if s.starts_with("---") || s.starts_with("...") {
        s.replace_range(0..3, "   ");
    }
    s
}

fn parse_document(
    chunk: &str,
    first_line: u32,
    file: &Arc<str>,
) -> Result<Document, ManifestError> {
    let text = blank_marker(chunk);
    let at = |line: u32, column: u32| Location::new(file.clone(), line + first_line, column);
    let located = |e: &serde_saphyr::Error| {
        e.location()
            .map_or_else(|| at(1, 1), |l| at(clamp(l.line()), clamp(l.column())))
    };

    let root: Spanned<Node> = serde_saphyr::from_str(&text).map_err(|e| ManifestError::Syntax {
        location: located(&e),
        format: Format::Yaml,
        message: bare_message(&e),
    })?;
    let mut source = DocumentSource::new(file.clone());
    record(&root, String::new(), first_line, &mut source);

    let header: Header = serde_saphyr::from_str(&text).map_err(|e| ManifestError::Invalid {
        location: located(&e),
        message: bare_message(&e),
        fix: "write `apiVersion` and `kind` as plain strings",
    })?;
    let kind = check_header(
        &source,
        header.api_version.as_deref(),
        header.kind.as_deref(),
    )?;
    let source = Arc::new(source);
    let invalid = |e: serde_saphyr::Error| {
        let message = bare_message(&e);
        ManifestError::Invalid {
            location: located(&e),
            fix: fix_for(&message),
            message,
        }
    };
    Ok(match kind {
        Kind::Platform => Document::Platform(Sourced {
            value: serde_saphyr::from_str(&text).map_err(invalid)?,
            source,
        }),
        Kind::Release => Document::Release(Sourced {
            value: serde_saphyr::from_str(&text).map_err(invalid)?,
            source,
        }),
    })
}

fn clamp(v: impl TryInto<u32>) -> u32 {
    v.try_into().unwrap_or(u32::MAX).max(1)
}

/// The parser's message without its trailing ` at line L, column C`.
fn bare_message(e: &serde_saphyr::Error) -> String {
    let full = e.without_snippet().to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

fn record(node: &Spanned<Node>, pointer: String, first_line: u32, source: &mut DocumentSource) {
    let pos = |s: &serde_saphyr::Location| Position {
        line: clamp(s.line()) + first_line,
        column: clamp(s.column()),
    };
    source.insert(pointer.clone(), pos(&node.referenced));
    match &node.value {
        Node::Map(entries) => {
            for (key, value) in entries {
                let child = format!("{pointer}/{}", escape_segment(&key.value.0));
                // Point at the key: `field: value` reads best reported at `field`.
                source.insert(child.clone(), pos(&key.referenced));
                record(value, child, first_line, source);
            }
        }
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                record(item, format!("{pointer}/{i}"), first_line, source);
            }
        }
        Node::Scalar => {}
    }
}

/// A YAML value with positions, values dropped: all the source map needs.
enum Node {
    Map(Vec<(Spanned<Key>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = m.next_key::<Spanned<Key>>()? {
                    entries.push((k, m.next_value::<Spanned<Node>>()?));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = s.next_element::<Spanned<Node>>()? {
                    items.push(n);
                }
                Ok(Node::Seq(items))
            }
        }
        d.deserialize_any(V)
    }
}
