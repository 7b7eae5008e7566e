//! Compiled components on disk, keyed by the module's sha256 and the
//! engine's compatibility hash, so a module compiles once per machine and
//! Strata version, then loads in about a tenth of a millisecond.
//!
//! Only files this cache wrote itself are deserialized (they live in the
//! user's own cache directory, written atomically by rename). A file that
//! fails to load is compiled again and replaced. The first-party modules
//! rarely reach it: they are precompiled into the binary ([`precompiled`](super::precompiled));
//! it serves modules a repository pins, and the first-party ones when their
//! embedded artifacts do not fit the engine (another CPU).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    compatibility: String,
}

impl ComponentCache {
    /// A cache under `dir` for components compiled by `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Self {
            dir: dir.join("components"),
            compatibility: format!("{:016x}", hasher.finish()),
        }
    }

    /// Where the component with `digest` is cached.
    pub fn path(&self, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", self.compatibility))
    }

    /// The component with `digest`, when this cache holds a loadable one.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if path.is_file() {
            deserialize(engine, &path).ok()
        } else {
            None
        }
    }

    /// Keep `compiled` (what `Engine::precompile_component` returned for the
    /// component with `digest`). Failing to write the cache is not an error:
    /// the next run compiles again.
    pub fn put(&self, digest: &str, compiled: &[u8]) {
        let path = self.path(digest);
        if let Err(error) = self.store(&path, compiled)
            && std::env::var_os("STRATA_MODULE_LOG").is_some()
        {
            eprintln!(
                "note: could not cache compiled module at `{}`: {error}",
                path.display()
            );
        }
    }

    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, compiled)?;
        std::fs::rename(&temporary, path)
    }
}

#[expect(
    unsafe_code,
    reason = "wasmtime requires `unsafe` to load precompiled code; the file is one this cache wrote"
)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `path` is in Strata's own cache directory and was produced by
    // `Engine::precompile_component` of an engine with the same
    // compatibility hash (it is part of the file name); wasmtime checks the
    // header again on load.
    unsafe { Component::deserialize_file(engine, path) }
}

#[expect(
    unsafe_code,
    reason = "wasmtime requires `unsafe` to load precompiled code; the bytes were compiled just now"
)]
pub(super) fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` came from `Engine::precompile_component` on this very
    // engine a moment ago.
    unsafe { Component::deserialize(engine, bytes) }
}
