//! Renders kept on disk, so a plan renders only what changed.
//!
//! A render is a pure function of the module (its sha256), the context
//! (project, environment, stack, region, account, tags) and the stack's
//! config: the sandbox gives a module nothing else. So a successful render
//! is stored under the sha256 of exactly those inputs, and of this strata's
//! version (which post-processes the answer), in `renders/` beside the
//! compile cache. A file is written whole to a temporary name and renamed, so
//! concurrent processes never read half of one; one that does not parse, or
//! whose key is not the one asked for, is ignored and rendered again. The
//! directory is trimmed, oldest first, when it grows past its cap.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::types::RawRender;

/// The most bytes the directory may hold before it is trimmed.
pub const MAX_BYTES: u64 = 256 << 20;

/// What the trim leaves: this share of [`MAX_BYTES`].
const TRIM_TO: u64 = MAX_BYTES / 4 * 3;

/// One stored render, with the key it answers.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    render: RawRender,
}

/// The on-disk render cache.
#[derive(Debug)]
pub struct RenderCache {
    dir: PathBuf,
}

impl RenderCache {
    /// The cache under `dir` (created on first write), trimmed now if it has
    /// grown past its cap.
    pub fn new(dir: PathBuf) -> Self {
        let cache = Self { dir };
        cache.trim();
        cache
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The render stored under `key`, if a whole, matching one is there.
    pub fn get(&self, key: &str) -> Option<RawRender> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        (stored.key == key).then_some(stored.render)
    }

    /// Store `render` under `key`; failures only cost a later render.
    pub fn put(&self, key: &str, render: &RawRender) {
        let stored = Stored {
            key: key.to_owned(),
            render: render.clone(),
        };
        let Ok(bytes) = serde_json::to_vec(&stored) else {
            return;
        };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let temporary = self.dir.join(format!(
            ".{key}.{}.{:x}.tmp",
            std::process::id(),
            fastrand::u64(..)
        ));
        if std::fs::write(&temporary, &bytes).is_ok()
            && std::fs::rename(&temporary, self.path(key)).is_err()
        {
            let _ = std::fs::remove_file(&temporary);
        }
    }

    /// Delete the oldest renders while the directory holds more than
    /// [`MAX_BYTES`], down to three quarters of it.
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter_map(|entry| {
                let metadata = entry.metadata().ok()?;
                metadata.is_file().then(|| {
                    (
                        metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        metadata.len(),
                        entry.path(),
                    )
                })
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, size, _)| size).sum();
        if total <= MAX_BYTES {
            return;
        }
        files.sort();
        for (_, size, path) in files {
            if total <= TRIM_TO {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(size);
            }
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
