//! The first-party modules and built-in policies, precompiled at build time.
//!
//! `runner/build.rs` compiles every embedded component with an engine
//! configured by [`engine_config`](super::engine_config) (the same file the
//! host uses) and embeds the artifacts, so a first run loads a module in about
//! a millisecond instead of compiling it with Cranelift for a second or so.
//! [`Host::load`](super::Host::load) tries the artifact of a module whose
//! digest is an embedded one before the disk cache ([`cache`](super::cache)).
//!
//! An artifact is never trusted blindly: wasmtime checks its header against
//! the loading engine (wasmtime version, target, compiler flags, CPU features
//! the host must have, tunables, wasm features) and refuses any mismatch; the
//! host then compiles the module as it would any other. A binary built on one
//! machine and run on another with fewer CPU features therefore still works,
//! only its first run is slower. A cross-compiled build embeds no artifacts.

use wasmtime::Engine;
use wasmtime::component::Component;

/// One embedded component, compiled for the build machine's engine.
#[derive(Debug)]
pub struct Precompiled {
    /// sha256 of the component it was compiled from, lowercase hex.
    pub sha256: &'static str,
    /// What `Engine::precompile_component` returned.
    pub artifact: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/precompiled_modules.rs"));

/// The artifact compiled at build time from the component whose sha256 is
/// `digest`, when it is an embedded one.
pub fn artifact(digest: &str) -> Option<&'static [u8]> {
    PRECOMPILED
        .iter()
        .find(|p| p.sha256 == digest)
        .map(|p| p.artifact)
}

/// Load `artifact` into `engine`; wasmtime refuses (an `Err`) an artifact of
/// another wasmtime version, engine configuration or richer CPU.
#[expect(
    unsafe_code,
    reason = "wasmtime requires `unsafe` to load precompiled code; the artifact is part of this binary"
)]
pub(super) fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: the artifacts are `include_bytes!` of what `runner/build.rs`
    // wrote with `Engine::precompile_component` (as trusted as the binary's
    // own code), or, in tests, bytes from an engine of this process.
    // wasmtime checks the header against `engine` before using any of it.
    unsafe { Component::deserialize(engine, artifact) }
}
