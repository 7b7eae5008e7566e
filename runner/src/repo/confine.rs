//! Reading a config repository's files without ever leaving it.
//!
//! Module binaries, environment files and workflow files come from a
//! repository that may be a stranger's pull request, so every read obeys
//! the same rules, on disk and in git trees alike:
//!
//! - the path, after resolving every symbolic link, stays inside the
//!   repository (`modules/evil.wasm -> /etc/passwd` is refused, and so is a
//!   link that loops);
//! - it names a regular file: a directory, a FIFO, a socket or a device
//!   (`/dev/zero`) is refused by its kind, before it is opened for reading,
//!   and a FIFO swapped in afterwards cannot block the open;
//! - it is read with a size cap, so nothing is hashed or parsed unbounded.

use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Component, Path};

use git2::{ObjectType, Oid, Repository};

use super::RepoError;

/// The largest file Strata reads from a repository (a module binary).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The largest text file (TOML) Strata reads from a repository.
pub const MAX_TEXT_BYTES: u64 = 8 << 20;

/// How many symbolic links one path may go through.
const MAX_LINK_HOPS: usize = 32;

/// Git's file mode of a symbolic link.
const GIT_SYMLINK_MODE: i32 = 0o120_000;

/// The kind of something that is not a regular file.
fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else {
        Some("not a regular file")
    }
}

/// The bytes of `relative` (already normalized: no `..`, not absolute) under
/// `root` on disk, at most `limit` of them; `None` when nothing is there.
pub fn read_on_disk(root: &Path, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, RepoError> {
    let path = root.join(relative);
    let io = |error| RepoError::Io {
        path: relative.to_owned(),
        error,
    };
    match std::fs::symlink_metadata(&path) {
        Ok(_) => {}
        Err(error) if is_absent(&error) => return Ok(None),
        Err(error) => return Err(io(error)),
    }
    let resolved = match path.canonicalize() {
        Ok(resolved) => resolved,
        Err(error) if error.raw_os_error() == Some(40) => {
            return Err(RepoError::SymlinkLoop {
                path: relative.to_owned(),
            });
        }
        Err(error) if is_absent(&error) => {
            return Err(RepoError::DanglingSymlink {
                path: relative.to_owned(),
                target: std::fs::read_link(&path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default(),
            });
        }
        Err(error) => return Err(io(error)),
    };
    let root = root.canonicalize().map_err(io)?;
    if !resolved.starts_with(&root) {
        return Err(RepoError::OutsideRepository {
            path: relative.to_owned(),
            resolved: resolved.display().to_string(),
        });
    }
    let metadata = std::fs::metadata(&resolved).map_err(io)?;
    if let Some(kind) = kind_of(metadata.file_type()) {
        return Err(RepoError::NotAFile {
            path: relative.to_owned(),
            kind,
        });
    }
    // Non-blocking, so a FIFO swapped in after the check cannot hang the open.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&resolved)
        .map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if let Some(kind) = kind_of(metadata.file_type()) {
        return Err(RepoError::NotAFile {
            path: relative.to_owned(),
            kind,
        });
    }
    if metadata.len() > limit {
        return Err(too_large(relative, limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(relative, limit));
    }
    Ok(Some(bytes))
}

/// Names of the entries directly in `dir` under `root` on disk, of any kind
/// (a FIFO or a dangling link named `dev.toml` is listed, so reading it says
/// what is wrong rather than skipping it); empty when there is no such folder.
pub fn list_on_disk(root: &Path, dir: &str) -> Result<Vec<String>, RepoError> {
    let io = |error| RepoError::Io {
        path: dir.to_owned(),
        error,
    };
    let folder = root.join(dir);
    if !dir.is_empty() {
        // The folder itself must stay inside the repository.
        match folder.canonicalize() {
            Ok(resolved) => {
                let root = root.canonicalize().map_err(io)?;
                if !resolved.starts_with(&root) {
                    return Err(RepoError::OutsideRepository {
                        path: dir.to_owned(),
                        resolved: resolved.display().to_string(),
                    });
                }
            }
            Err(error) if is_absent(&error) => return Ok(Vec::new()),
            Err(error) if error.raw_os_error() == Some(40) => {
                return Err(RepoError::SymlinkLoop {
                    path: dir.to_owned(),
                });
            }
            Err(error) => return Err(io(error)),
        }
    }
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if is_absent(&error) => return Ok(Vec::new()),
        Err(error) => return Err(io(error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The bytes of `relative` in the git tree `tree`, following symbolic links
/// that stay inside it, at most `limit` of them; `None` when nothing is there.
pub fn read_in_tree(
    repo: &Repository,
    tree: Oid,
    relative: &str,
    limit: u64,
    context: &dyn Fn(git2::Error) -> RepoError,
) -> Result<Option<Vec<u8>>, RepoError> {
    let mut pending: Vec<String> = relative.split('/').map(str::to_owned).collect();
    let mut hops = 0;
    'restart: loop {
        let mut current = repo.find_tree(tree).map_err(context)?;
        let mut walked: Vec<String> = Vec::new();
        let mut index = 0;
        while index < pending.len() {
            let name = &pending[index];
            let Some(entry) = current.get_name(name).map(|entry| entry.to_owned()) else {
                return Ok(None);
            };
            let last = index + 1 == pending.len();
            if entry.filemode() == GIT_SYMLINK_MODE {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(RepoError::SymlinkLoop {
                        path: relative.to_owned(),
                    });
                }
                let blob = repo.find_blob(entry.id()).map_err(context)?;
                let target = String::from_utf8_lossy(blob.content()).into_owned();
                let Some(resolved) = resolve_link(&walked, &target) else {
                    return Err(RepoError::OutsideRepository {
                        path: relative.to_owned(),
                        resolved: target,
                    });
                };
                let mut next = resolved;
                next.extend(pending[index + 1..].iter().cloned());
                pending = next;
                continue 'restart;
            }
            match entry.kind() {
                Some(ObjectType::Tree) if !last => {
                    current = repo.find_tree(entry.id()).map_err(context)?;
                    walked.push(name.clone());
                    index += 1;
                }
                Some(ObjectType::Tree) => {
                    return Err(RepoError::NotAFile {
                        path: relative.to_owned(),
                        kind: "a directory",
                    });
                }
                Some(ObjectType::Blob) if last => {
                    let blob = repo.find_blob(entry.id()).map_err(context)?;
                    if blob.size() as u64 > limit {
                        return Err(too_large(relative, limit));
                    }
                    return Ok(Some(blob.content().to_vec()));
                }
                Some(ObjectType::Commit) if last => {
                    return Err(RepoError::NotAFile {
                        path: relative.to_owned(),
                        kind: "a submodule",
                    });
                }
                // A file where a folder is needed, or a submodule on the way.
                _ => return Ok(None),
            }
        }
        return Ok(None);
    }
}

/// `target`, a link found in folder `dir` (parts from the root), as parts
/// from the root; `None` when it is absolute or leaves the repository.
fn resolve_link(dir: &[String], target: &str) -> Option<Vec<String>> {
    let mut parts: Vec<String> = dir.to_vec();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then_some(parts)
}

fn too_large(relative: &str, limit: u64) -> RepoError {
    RepoError::TooLarge {
        path: relative.to_owned(),
        limit,
    }
}

fn is_absent(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_climbing_out_of_the_root_is_outside() {
        assert_eq!(resolve_link(&["modules".into()], "../../etc/passwd"), None);
        assert_eq!(resolve_link(&[], "/etc/passwd"), None);
    }

    #[test]
    fn a_link_to_a_sibling_folder_resolves_from_the_root() {
        assert_eq!(
            resolve_link(&["modules".into()], "../build/x.wasm"),
            Some(vec!["build".to_owned(), "x.wasm".to_owned()])
        );
    }
}
