//! Where things are in a manifest file: locations, line indexes and per-document source maps
//! that turn a JSON pointer (`/components/2/owner/backup`) into `file:line:column`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A place in a manifest file: `file:line:column`, 1-based, columns counted in characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file's path as given to the loader.
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl Location {
    /// A location in `file`.
    pub fn new(file: impl Into<Arc<str>>, line: u32, column: u32) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Line and column inside a file, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub line: u32,
    pub column: u32,
}

/// Maps byte offsets of a text to line and column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Position {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

/// The source of one document: its file and where each value sits in it.
#[derive(Clone, Debug, Default)]
pub struct DocumentSource {
    file: Arc<str>,
    /// Position of the document itself.
    start: Option<Position>,
    /// JSON pointer → position of the value (for keys: of the key, which reads better).
    positions: BTreeMap<String, Position>,
}

impl DocumentSource {
    pub(crate) fn new(file: Arc<str>) -> Self {
        Self {
            file,
            start: None,
            positions: BTreeMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, pointer: String, position: Position) {
        if pointer.is_empty() {
            self.start = Some(position);
        }
        self.positions.entry(pointer).or_insert(position);
    }

    /// The file the document came from.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// Where the value at `pointer` sits; falls back to its nearest ancestor that exists (a
    /// missing field is reported at the object that lacks it), then to the document start.
    pub fn locate(&self, pointer: &str) -> Location {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Location::new(self.file.clone(), pos.line, pos.column);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        let pos = self.start.unwrap_or(Position { line: 1, column: 1 });
        Location::new(self.file.clone(), pos.line, pos.column)
    }

    /// Where the document starts.
    pub fn start(&self) -> Location {
        self.locate("")
    }
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
