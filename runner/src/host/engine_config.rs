//! The wasmtime engine configuration, in one file shared by the host and by
//! `runner/build.rs` (which `#[path]`-includes it to precompile the
//! first-party modules), so the two cannot drift: a component precompiled at
//! build time is only usable by an engine whose compatibility hash matches,
//! and both compute that hash here too.
//!
//! This file may use only `wasmtime` and `std`: the build script compiles it
//! outside the crate.

use std::hash::{Hash, Hasher};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Concurrent sandboxes the pooling allocator has room for.
pub const POOL_SLOTS: u32 = 64;

/// The most linear memory a policy may grow to, whatever its input.
pub const POLICY_MEMORY_CEILING: usize = 1 << 30;

/// The engine every module runs in (Cranelift, component model, pooling
/// allocator, NaN canonicalisation for deterministic output, epoch
/// interruption for deadlines). `max_memory_bytes` is the sandbox's memory
/// cap (`[sandbox] memory_mib`); the pool gets room for at least
/// [`POLICY_MEMORY_CEILING`].
///
/// The cap sizes only the pool's slots, never the generated code: wasmtime's
/// compatibility hash (tunables, features, compiler flags) is the same for
/// every cap, so the artifacts precompiled with the default limits serve any
/// `[sandbox]` setting (`runner/tests/host.rs` checks this).
pub fn engine_config(max_memory_bytes: usize) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_nan_canonicalization(true);
    config.wasm_relaxed_simd(false);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    config.parallel_compilation(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_SLOTS);
    pool.total_core_instances(POOL_SLOTS * 8);
    pool.total_memories(POOL_SLOTS * 2);
    pool.total_tables(POOL_SLOTS * 4);
    // Room for a policy over a large environment; each store's limiter
    // holds a module to the sandbox's cap.
    pool.max_memory_size(max_memory_bytes.max(POLICY_MEMORY_CEILING));
    pool.max_memories_per_module(2);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// `engine`'s [`Engine::precompile_compatibility_hash`] (target, compiler
/// and CPU flags, tunables, features, wasmtime version) as 16 hex digits.
/// Components precompiled by one engine load in another only when this
/// agrees (wasmtime checks the details again when loading).
pub fn compatibility_hash(engine: &Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
