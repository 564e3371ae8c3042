//! Walking, copying and digesting a directory tree (blocking code, run on the blocking pool).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use release_core::digest::{Sha256, Sha256Digest};
use sha2::Digest as _;

use super::DirectoryBackupError;

/// What the digest starts with: names the format, so a future format cannot collide.
const DOMAIN: &[u8] = b"release.backup.directory.v1\n";

const BUFFER: usize = 1 << 20;

/// One entry of a tree, as the digest sees it.
#[derive(Debug)]
enum Entry {
    Dir {
        path: Vec<u8>,
    },
    File {
        path: Vec<u8>,
        executable: bool,
        size: u64,
        content: [u8; 32],
    },
    Symlink {
        path: Vec<u8>,
        target: Vec<u8>,
    },
}

impl Entry {
    fn path(&self) -> &[u8] {
        match self {
            Self::Dir { path } | Self::File { path, .. } | Self::Symlink { path, .. } => path,
        }
    }

    fn feed(&self, h: &mut Sha256) {
        let bytes = |h: &mut Sha256, b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        match self {
            Self::Dir { path } => {
                h.update(b"d");
                bytes(h, path);
            }
            Self::File {
                path,
                executable,
                size,
                content,
            } => {
                h.update(b"f");
                bytes(h, path);
                h.update([u8::from(*executable)]);
                h.update(size.to_be_bytes());
                h.update(content);
            }
            Self::Symlink { path, target } => {
                h.update(b"l");
                bytes(h, path);
                bytes(h, target);
            }
        }
    }
}

fn digest_of(mut entries: Vec<Entry>) -> Sha256Digest {
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    let mut h = Sha256::new();
    h.update(DOMAIN);
    for e in &entries {
        e.feed(&mut h);
    }
    Sha256Digest::from_hasher(h)
}

fn relative(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = prefix.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn unsupported(path: &Path, ft: fs::FileType) -> DirectoryBackupError {
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_socket() {
        "socket"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "special file"
    };
    DirectoryBackupError::Unsupported {
        path: path.to_owned(),
        kind,
    }
}

/// Reads `from` to its end, writing it to `to` when given; returns size and SHA-256.
fn stream(
    from: &Path,
    mut to: Option<&mut fs::File>,
) -> Result<(u64, [u8; 32]), DirectoryBackupError> {
    let mut file = fs::File::open(from).map_err(DirectoryBackupError::io(from, "open"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DirectoryBackupError::io(from, "read")(e)),
        };
        h.update(&buf[..n]);
        if let Some(out) = to.as_deref_mut() {
            out.write_all(&buf[..n])
                .map_err(DirectoryBackupError::io(from, "copy"))?;
        }
        size += n as u64;
    }
    Ok((size, *Sha256Digest::from_hasher(h).as_bytes()))
}

/// Walks `root` (which must be a directory) and, when `copy_to` is given, copies it there
/// (the destination must not exist). Returns the tree's digest, computed from what was read.
pub(crate) fn walk(
    root: &Path,
    copy_to: Option<&Path>,
) -> Result<Sha256Digest, DirectoryBackupError> {
    let meta = fs::symlink_metadata(root).map_err(DirectoryBackupError::io(root, "read"))?;
    if !meta.is_dir() {
        return Err(DirectoryBackupError::NotADirectory {
            path: root.to_owned(),
        });
    }
    if let Some(dest) = copy_to {
        fs::create_dir(dest).map_err(DirectoryBackupError::io(dest, "create"))?;
    }
    let mut entries = Vec::new();
    // (source dir, destination dir, relative path); directories' permissions are set after
    // their content is written, so a read-only directory can still be filled.
    let mut stack: Vec<(PathBuf, Option<PathBuf>, Vec<u8>)> =
        vec![(root.to_owned(), copy_to.map(Path::to_owned), Vec::new())];
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    if let Some(dest) = copy_to {
        dir_modes.push((dest.to_owned(), meta.permissions().mode()));
    }
    while let Some((dir, dest, rel)) = stack.pop() {
        let listing = fs::read_dir(&dir).map_err(DirectoryBackupError::io(&dir, "list"))?;
        for item in listing {
            let item = item.map_err(DirectoryBackupError::io(&dir, "list"))?;
            let path = item.path();
            let name = item.file_name();
            let rel_path = relative(&rel, name.as_bytes());
            let to = dest.as_ref().map(|d| d.join(&name));
            let meta =
                fs::symlink_metadata(&path).map_err(DirectoryBackupError::io(&path, "read"))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                if let Some(to) = &to {
                    fs::create_dir(to).map_err(DirectoryBackupError::io(to, "create"))?;
                    dir_modes.push((to.clone(), meta.permissions().mode()));
                }
                entries.push(Entry::Dir {
                    path: rel_path.clone(),
                });
                stack.push((path, to, rel_path));
            } else if ft.is_file() {
                let mode = meta.permissions().mode();
                let (size, content) = match &to {
                    Some(to) => {
                        let mut out =
                            fs::File::create(to).map_err(DirectoryBackupError::io(to, "create"))?;
                        let r = stream(&path, Some(&mut out))?;
                        out.sync_all()
                            .map_err(DirectoryBackupError::io(to, "sync"))?;
                        fs::set_permissions(to, fs::Permissions::from_mode(mode & 0o7777))
                            .map_err(DirectoryBackupError::io(to, "set permissions of"))?;
                        r
                    }
                    None => stream(&path, None)?,
                };
                entries.push(Entry::File {
                    path: rel_path,
                    executable: mode & 0o111 != 0,
                    size,
                    content,
                });
            } else if ft.is_symlink() {
                let target =
                    fs::read_link(&path).map_err(DirectoryBackupError::io(&path, "read link"))?;
                if let Some(to) = &to {
                    symlink(&target, to).map_err(DirectoryBackupError::io(to, "create link"))?;
                }
                entries.push(Entry::Symlink {
                    path: rel_path,
                    target: target.as_os_str().as_bytes().to_vec(),
                });
            } else {
                return Err(unsupported(&path, ft));
            }
        }
    }
    // Deepest first, so a read-only parent is locked last.
    for (dir, mode) in dir_modes.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(DirectoryBackupError::io(dir, "set permissions of"))?;
    }
    Ok(digest_of(entries))
}

/// The digest of the directory tree at `root` (see the [module docs](super) for what it
/// covers): the value a [`BackupRecord`](release_core::plugin::BackupRecord) of it carries.
pub fn tree_digest(root: &Path) -> Result<Sha256Digest, DirectoryBackupError> {
    walk(root, None)
}

/// Removes a tree, making read-only directories writable first.
pub(crate) fn remove_tree(root: &Path) -> Result<(), DirectoryBackupError> {
    match fs::remove_dir_all(root) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(root);
            fs::remove_dir_all(root).map_err(DirectoryBackupError::io(root, "remove"))
        }
    }
}

fn make_writable(dir: &Path) {
    if let Ok(meta) = fs::symlink_metadata(dir)
        && meta.is_dir()
    {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        if let Ok(listing) = fs::read_dir(dir) {
            for item in listing.flatten() {
                make_writable(&item.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_covers_paths_content_exec_bit_and_links_but_not_order_of_creation() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        fs::write(a.path().join("x"), b"1").unwrap();
        fs::create_dir(a.path().join("d")).unwrap();
        fs::write(a.path().join("d/y"), b"2").unwrap();
        // The same tree, created in another order.
        fs::create_dir(b.path().join("d")).unwrap();
        fs::write(b.path().join("d/y"), b"2").unwrap();
        fs::write(b.path().join("x"), b"1").unwrap();
        let da = tree_digest(a.path()).unwrap();
        assert_eq!(da, tree_digest(b.path()).unwrap());

        fs::set_permissions(b.path().join("x"), fs::Permissions::from_mode(0o755)).unwrap();
        let exec = tree_digest(b.path()).unwrap();
        assert_ne!(da, exec, "the executable bit is digested");
        fs::set_permissions(b.path().join("x"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            da,
            tree_digest(b.path()).unwrap(),
            "other mode bits are not"
        );

        symlink("x", b.path().join("l")).unwrap();
        let linked = tree_digest(b.path()).unwrap();
        assert_ne!(da, linked);
        fs::remove_file(b.path().join("l")).unwrap();
        symlink("d/y", b.path().join("l")).unwrap();
        assert_ne!(
            linked,
            tree_digest(b.path()).unwrap(),
            "the link text is digested"
        );
        fs::remove_file(b.path().join("l")).unwrap();

        fs::create_dir(b.path().join("empty")).unwrap();
        assert_ne!(
            da,
            tree_digest(b.path()).unwrap(),
            "empty directories count"
        );
    }

    #[test]
    fn a_file_named_like_a_path_does_not_collide_with_the_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        fs::write(a.path().join("ab"), b"").unwrap();
        fs::create_dir(b.path().join("a")).unwrap();
        fs::write(b.path().join("a/b"), b"").unwrap();
        assert_ne!(
            tree_digest(a.path()).unwrap(),
            tree_digest(b.path()).unwrap()
        );
    }
}
