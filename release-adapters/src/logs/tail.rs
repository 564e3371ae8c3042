//! Incremental reading of one log file: offsets, partial lines, truncation and rotation.

use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::LogWatchError;

/// At most this many bytes are read from one file per query; the rest comes next time.
const MAX_READ: u64 = 64 << 20;

/// The first bytes of a file are remembered to see it truncated and rewritten.
const HEAD: usize = 64;

/// A file's identity (device, inode), to see a rotation.
pub(crate) type FileId = Option<(u64, u64)>;

#[cfg(unix)]
pub(crate) fn file_id(meta: &Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub(crate) fn file_id(_: &Metadata) -> FileId {
    None
}

/// A complete line read from a file.
pub(crate) struct Line {
    /// The text, without its line break.
    pub(crate) text: String,
    /// Only learned from (history before the watcher started), not counted.
    pub(crate) learn_only: bool,
}

/// Where reading a file stands.
#[derive(Debug)]
pub(crate) struct Tail {
    id: FileId,
    /// Bytes consumed so far (the partial line included).
    offset: u64,
    /// Lines ending at or before this offset are history: learned, not counted.
    learn_until: u64,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// The partial line was cut at `max_line_bytes`; drop the rest of it.
    overlong: bool,
    /// Reading started mid-file: drop everything up to the first line break.
    skip_first: bool,
    /// The file's first bytes (up to 64) as last seen.
    head: Vec<u8>,
}

impl Tail {
    /// A file seen for the first time. `history` is `Some(size)` for a file that existed
    /// when the watcher was created and whose lines up to `size` are only learned from.
    pub(crate) fn new(id: FileId, history: Option<u64>, history_bytes: u64) -> Self {
        match history {
            Some(size) => {
                let offset = size.saturating_sub(history_bytes);
                Self {
                    id,
                    offset,
                    learn_until: size,
                    partial: Vec::new(),
                    overlong: false,
                    skip_first: offset > 0,
                    head: Vec::new(),
                }
            }
            None => Self::fresh(id),
        }
    }

    fn fresh(id: FileId) -> Self {
        Self {
            id,
            offset: 0,
            learn_until: 0,
            partial: Vec::new(),
            overlong: false,
            skip_first: false,
            head: Vec::new(),
        }
    }

    /// Reads what was appended to `path` since the last call. A file replaced under the same
    /// name (rotated) is finished from its rotated sibling (`replica-0.log.1`…) when one
    /// with the old identity is found, then the new file is read from its start; a file
    /// shorter than what was read, or whose first bytes changed (truncated, as by
    /// `copytruncate`, and written again), is read again from 0.
    pub(crate) fn read_new(
        &mut self,
        path: &Path,
        max_line: usize,
        out: &mut Vec<Line>,
    ) -> Result<(), LogWatchError> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.drain_rotated(path, max_line, out)?;
                return Ok(());
            }
            Err(source) => {
                return Err(LogWatchError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let id = file_id(&meta);
        if self.id.is_some() && id != self.id {
            self.drain_rotated(path, max_line, out)?;
            *self = Self::fresh(id);
        }
        if meta.len() < self.offset
            || (!self.head.is_empty() && read_head(path, self.head.len())? != self.head)
        {
            *self = Self::fresh(id);
        }
        self.read_from(path, meta.len(), max_line, out)?;
        if self.head.len() < HEAD && meta.len() > self.head.len() as u64 {
            self.head = read_head(path, HEAD)?;
        }
        Ok(())
    }

    /// Finishes the old file after a rotation, if it can be found next to `path`.
    fn drain_rotated(
        &mut self,
        path: &Path,
        max_line: usize,
        out: &mut Vec<Line>,
    ) -> Result<(), LogWatchError> {
        let Some(rotated) = rotated_sibling(path, self.id) else {
            return Ok(());
        };
        let len = std::fs::metadata(&rotated).map_or(0, |m| m.len());
        self.read_from(&rotated, len, max_line, out)
    }

    fn read_from(
        &mut self,
        path: &Path,
        len: u64,
        max_line: usize,
        out: &mut Vec<Line>,
    ) -> Result<(), LogWatchError> {
        if len <= self.offset {
            return Ok(());
        }
        let read_err = |source| LogWatchError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            // Removed between listing and opening: nothing to read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(read_err(e)),
        };
        file.seek(SeekFrom::Start(self.offset)).map_err(read_err)?;
        let want = (len - self.offset).min(MAX_READ);
        let mut chunk = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        file.take(want).read_to_end(&mut chunk).map_err(read_err)?;
        let base = self.offset;
        let mut start = 0;
        for (i, b) in chunk.iter().enumerate() {
            if *b != b'\n' {
                continue;
            }
            let end = base + i as u64 + 1;
            self.push(&chunk[start..i], max_line);
            let mut bytes = std::mem::take(&mut self.partial);
            self.overlong = false;
            start = i + 1;
            if std::mem::take(&mut self.skip_first) {
                continue;
            }
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
            out.push(Line {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                learn_only: end <= self.learn_until,
            });
        }
        self.push(&chunk[start..], max_line);
        self.offset = base + chunk.len() as u64;
        Ok(())
    }

    fn push(&mut self, bytes: &[u8], max_line: usize) {
        if self.overlong {
            return;
        }
        let room = max_line.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.overlong = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }
}

/// The first `n` bytes of a file (fewer if it is shorter; none if it is gone).
fn read_head(path: &Path, n: usize) -> Result<Vec<u8>, LogWatchError> {
    let mut head = Vec::with_capacity(n);
    match File::open(path) {
        Ok(f) => {
            f.take(n as u64)
                .read_to_end(&mut head)
                .map_err(|source| LogWatchError::Read {
                    path: path.to_owned(),
                    source,
                })?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(LogWatchError::Read {
                path: path.to_owned(),
                source,
            });
        }
    }
    Ok(head)
}

/// A file next to `path` whose name starts with `path`'s and whose identity is `id`.
fn rotated_sibling(path: &Path, id: FileId) -> Option<PathBuf> {
    let id = id?;
    let dir = path.parent()?;
    let name = path.file_name()?.to_str()?;
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n != name && n.starts_with(name))
        })
        .collect();
    candidates.sort();
    candidates.into_iter().find(|p| {
        std::fs::metadata(p)
            .ok()
            .is_some_and(|m| file_id(&m) == Some(id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn texts(lines: &[Line]) -> Vec<(&str, bool)> {
        lines
            .iter()
            .map(|l| (l.text.as_str(), l.learn_only))
            .collect()
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn partial_lines_wait_for_their_end_and_long_ones_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica-0.log");
        append(&path, "one\r\ntw");
        let mut tail = Tail::new(None, None, 0);
        let mut out = Vec::new();
        tail.read_new(&path, 8, &mut out).unwrap();
        assert_eq!(texts(&out), vec![("one", false)]);
        append(&path, "o\n0123456789abcdef\nend\n");
        out.clear();
        tail.read_new(&path, 8, &mut out).unwrap();
        assert_eq!(
            texts(&out),
            vec![("two", false), ("01234567", false), ("end", false)]
        );
    }

    #[test]
    fn history_is_learned_not_counted_and_starts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica-0.log");
        append(&path, "aaaa\nbbbb\ncccc\n");
        let size = std::fs::metadata(&path).unwrap().len();
        // Only the last 7 bytes are history: "bbbb\n" is cut, "cccc" learned.
        let mut tail = Tail::new(None, Some(size), 7);
        append(&path, "dddd\n");
        let mut out = Vec::new();
        tail.read_new(&path, 100, &mut out).unwrap();
        assert_eq!(texts(&out), vec![("cccc", true), ("dddd", false)]);
    }

    #[test]
    fn truncation_and_rotation_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica-0.log");
        append(&path, "first\n");
        let id = file_id(&std::fs::metadata(&path).unwrap());
        let mut tail = Tail::new(id, None, 0);
        let mut out = Vec::new();
        tail.read_new(&path, 100, &mut out).unwrap();
        // copytruncate: the file starts again.
        std::fs::write(&path, "").unwrap();
        append(&path, "second\n");
        tail.read_new(&path, 100, &mut out).unwrap();
        // Rotation by rename: the old file gets one more line after the last read, then a
        // new file appears under the name.
        append(&path, "third\n");
        std::fs::rename(&path, dir.path().join("replica-0.log.1")).unwrap();
        append(&path, "fourth\n");
        tail.read_new(&path, 100, &mut out).unwrap();
        let lines: Vec<&str> = out.iter().map(|l| l.text.as_str()).collect();
        #[cfg(unix)]
        assert_eq!(lines, vec!["first", "second", "third", "fourth"]);
        #[cfg(not(unix))]
        assert_eq!(lines[..2], ["first", "second"]);
    }
}
