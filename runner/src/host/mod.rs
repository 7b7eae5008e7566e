//! The module host: runs stack modules (WebAssembly components) in a sandbox.
//!
//! One [`Host`] holds one wasmtime `Engine` (Cranelift, component model,
//! pooling allocator, NaN canonicalisation for deterministic output) and a
//! `Linker` that defines only `strata:module/host` — no WASI at all. Every
//! other import a module declares (a plain `wasm32-wasip2` guest imports a
//! dozen WASI interfaces) is defined as a trap, so a module that reaches for a
//! file, the clock, the environment or randomness stops with a diagnostic.
//!
//! The host speaks two minor versions of the contract ([`WitVersion`]): a
//! module built against `strata:module@0.1.x` or `@0.2.x` loads, and
//! [`Host::load`] picks the binding (`bindings.rs`) from the version of its
//! `strata:module/stack-module` export. A 0.2 render may declare its
//! resources' traits (stateful, replacing properties); a 0.1 render declares
//! none and the plan falls back to the host's tables.
//!
//! The first-party modules and built-in policies come precompiled for this
//! engine ([`precompiled`], made by `runner/build.rs` with the configuration
//! in [`engine_config`]), so a first run compiles nothing; other modules, and
//! embedded ones whose artifact the engine refuses, are compiled once and
//! cached on disk by module digest and the engine's compatibility hash
//! ([`cache`]). Each call gets a fresh `Store` with a
//! memory cap, an epoch deadline (a ticker thread advances the epoch every
//! 10 ms) and, after the call, an output cap. Talks to `config` types only
//! through [`types`]; knows nothing of CloudFormation beyond the strings.

mod bindings;
pub mod cache;
pub mod engine_config;
pub mod policy;
pub mod precompiled;
pub mod renders;
pub mod types;
mod wasi;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::types::{ComponentExtern, ComponentItem};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};

use crate::text;
use bindings::{v0_1, v0_2};
pub use engine_config::POLICY_MEMORY_CEILING;
pub use types::{
    ImportRef, ModuleDiagnostic, ModuleInfo, ModuleSeverity, RawRender, RenderContext,
    ResourceTraits,
};

/// The WIT package every module implements, and the versions accepted.
pub const WIT_PACKAGE: &str = "strata:module";
/// The interface a module exports.
pub const WIT_EXPORT: &str = "strata:module/stack-module";
/// The newest WIT version this host is built against; modules of any
/// [`WitVersion`] (`0.1.x`, `0.2.x`) load.
pub const WIT_VERSION: &str = "0.2.0";

/// A minor version of `strata:module` this host speaks; a module speaks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitVersion {
    /// `0.1.x`: templates, exports, imports and warnings.
    V0_1,
    /// `0.2.x`: 0.1 plus the traits of the template's resources.
    V0_2,
}

impl WitVersion {
    /// Every version this host loads, oldest first.
    pub const ACCEPTED: [Self; 2] = [Self::V0_1, Self::V0_2];
    /// The version of [`WIT_VERSION`], which `strata-module-sdk` builds against.
    pub const NEWEST: Self = Self::V0_2;

    /// The version of an export's `@version` suffix, when this host speaks it.
    pub fn of(version: &str) -> Option<Self> {
        Self::ACCEPTED.into_iter().find(|accepted| {
            let minor = accepted.minor();
            version == minor
                || version
                    .strip_prefix(minor)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// `0.1` or `0.2`.
    pub fn minor(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1",
            Self::V0_2 => "0.2",
        }
    }

    /// Whether a module of this version can declare its resources' traits.
    pub fn declares_resource_traits(self) -> bool {
        self >= Self::V0_2
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{WIT_PACKAGE}@{}.x", self.minor())
    }
}

/// The versions this host loads, as a user reads them:
/// `` `strata:module@0.1.x` and `strata:module@0.2.x` ``.
pub fn accepted_wit_versions() -> String {
    WitVersion::ACCEPTED
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

const EPOCH_TICK: Duration = Duration::from_millis(10);
const LOG_LINES_KEPT: usize = 20;
/// The most diagnostics (errors, or warnings) kept from one call; the rest
/// are counted in one last diagnostic.
pub const MAX_MODULE_DIAGNOSTICS: usize = 100;
/// The most outputs a template may import.
pub const MAX_IMPORTS: usize = 1_000;
/// The most outputs a template may export (CloudFormation's limit).
pub const MAX_EXPORTS: usize = 200;
/// The largest config schema a module may describe itself with: the host
/// keeps it per module and `strata schema` composes them all.
pub const MAX_SCHEMA_BYTES: usize = 256 << 10;
const LOG_BYTES_KEPT: usize = 64 * 1024;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Limits every render runs under. Defaults: 64 MiB memory, 2 s wall clock,
/// 4 MiB output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call.
    pub timeout: Duration,
    /// Largest template, in bytes.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(2),
            output_bytes: 4 << 20,
        }
    }
}

/// What one render cost the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderCost {
    /// Wall-clock time of the call, instantiation included.
    pub elapsed: Duration,
    /// The most linear memory the module held, in bytes.
    pub peak_memory_bytes: usize,
}

/// Why a call into a module stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapReason {
    /// The wall-clock budget ran out.
    TimedOut(Duration),
    /// Linear memory would have grown past the cap.
    OutOfMemory {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The module panicked (`unreachable`); the message when it logged one.
    Panicked(Option<String>),
    /// The module called an import the sandbox does not provide.
    ForbiddenImport(String),
    /// The module's call stack ran out (deep or endless recursion).
    StackOverflow,
    /// Any other trap.
    Other(String),
}

impl TrapReason {
    /// What happened, as a verb phrase: "timed out after 2000 ms".
    pub fn headline(&self) -> String {
        match self {
            Self::TimedOut(limit) => format!("timed out after {} ms", limit.as_millis()),
            Self::OutOfMemory { limit } => format!(
                "ran out of memory (it tried to grow past the {} MiB cap)",
                limit >> 20
            ),
            Self::Panicked(_) => "panicked".to_owned(),
            Self::StackOverflow => "overflowed its stack (deep or endless recursion)".to_owned(),
            Self::ForbiddenImport(import) => format!("tried to use `{import}`"),
            Self::Other(_) => "trapped".to_owned(),
        }
    }

    /// More about it, when there is more.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Panicked(message) => message.clone(),
            Self::ForbiddenImport(_) => {
                Some("the sandbox gives modules no filesystem, network, environment, clock or randomness".to_owned())
            }
            Self::Other(message) => Some(message.clone()),
            Self::TimedOut(_) | Self::OutOfMemory { .. } | Self::StackOverflow => None,
        }
    }
}

fn trapped_message(module: &str, stack: &str, reason: &TrapReason) -> String {
    let detail = reason
        .detail()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let during = if stack == DESCRIBE {
        "while describing itself".to_owned()
    } else {
        format!("while rendering stack `{stack}`")
    };
    format!("module `{module}` {} {during}{detail}", reason.headline())
}

/// What [`ModuleError::Trapped`] names as its stack when `describe` trapped.
pub const DESCRIBE: &str = "(describe)";

/// A module that could not be loaded or did not render.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModuleError {
    /// The bytes are not a loadable component.
    #[error("module `{module}` is not a valid component: {reason}")]
    Invalid {
        /// Module name.
        module: String,
        /// What wasmtime said.
        reason: String,
    },
    /// Pinned under one stack type but calls itself another (its
    /// `describe` name): a pin of the wrong file, or a renamed module.
    #[error("module pinned as `{pinned}` calls itself `{describes}`")]
    Misnamed {
        /// The stack type it was pinned as (`[modules.NAME]`).
        pinned: String,
        /// The name its `describe` gives.
        describes: String,
    },
    /// Built against a WIT package version this host does not accept.
    #[error(
        "module `{module}` was built against `{found}`, but this strata accepts {} (it implements `{WIT_PACKAGE}@{WIT_VERSION}`)",
        accepted_wit_versions()
    )]
    IncompatibleWit {
        /// Module name.
        module: String,
        /// What the module exports, e.g. `strata:module/stack-module@0.3.0`.
        found: String,
    },
    /// A trap during a call.
    #[error("{}", trapped_message(module, stack, reason))]
    Trapped {
        /// Module name.
        module: String,
        /// Stack being rendered (or `describe`).
        stack: String,
        /// Why.
        reason: TrapReason,
        /// The module's last log lines.
        log: Vec<String>,
    },
    /// The module returned something that is not a usable result.
    #[error("module `{module}` returned a malformed result for stack `{stack}`: {reason}")]
    Malformed {
        /// Module name.
        module: String,
        /// Stack.
        stack: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `describe` gave a config schema the host cannot use.
    #[error("module `{module}` describes its config with an unusable schema: {problem}")]
    BadSchema {
        /// Module name.
        module: String,
        /// What is wrong with it (the first problems, `; `-separated).
        problem: String,
    },
    /// The template is larger than the output cap.
    #[error("module `{module}` returned {bytes} bytes for stack `{stack}`, over the {} MiB output cap", cap >> 20)]
    OutputTooLarge {
        /// Module name.
        module: String,
        /// Stack.
        stack: String,
        /// Size returned.
        bytes: usize,
        /// The cap.
        cap: usize,
    },
}

/// A compiled module, ready to instantiate.
pub struct Module {
    /// The stack type it was registered as.
    pub name: String,
    /// sha256 of its bytes.
    pub digest: String,
    /// What `describe` returned.
    pub info: ModuleInfo,
    /// The interface it exports, with the WIT package version it was built
    /// against: `strata:module/stack-module@0.2.0`.
    pub wit_export: String,
    /// The contract version it speaks, read from `wit_export`.
    pub wit_version: WitVersion,
    pre: Pre,
}

/// A module ready to instantiate, through the binding of its version.
enum Pre {
    V0_1(v0_1::StackPre<Sandbox>),
    V0_2(v0_2::StackPre<Sandbox>),
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

/// Runs modules. Cheap to share across threads (`&Host` is `Sync`).
pub struct Host {
    engine: Engine,
    linker: Linker<Sandbox>,
    limits: Limits,
    cache: Option<cache::ComponentCache>,
    /// Successful renders kept on disk across processes.
    renders: Option<renders::RenderCache>,
    /// Module calls actually run by [`Host::render`] (not served from the
    /// memo or the render cache).
    executed: std::sync::atomic::AtomicU64,
    /// Components compiled by Cranelift (not precompiled, not from the disk
    /// cache).
    compiled: std::sync::atomic::AtomicU64,
    loaded: Mutex<BTreeMap<String, Arc<Module>>>,
    /// Policy modules: their linker and those loaded ([`policy`]).
    policy: policy::PolicyState,
    /// Renders are pure functions of (module, context, config): the same
    /// inputs are rendered once per host. A plan renders most stacks of the
    /// base and the head identically.
    memo: Mutex<Memo>,
    _ticker: Option<Ticker>,
}

/// Most template bytes the memo holds before it starts over: a
/// long-running server must not grow without bound, and a 10,000-stack
/// environment (40 MB of templates) must not be held twice. The disk render
/// cache, not the memo, is what keeps renders across processes.
const MEMO_BYTES: usize = 16 << 20;

/// Renders remembered in memory, by [`memo_key`], with the bytes they hold.
#[derive(Default)]
struct Memo {
    renders: std::collections::HashMap<[u8; 32], RawRender>,
    bytes: usize,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The per-call state of a sandbox.
struct Sandbox {
    limiter: Limiter,
    log: Log,
    /// What the module wrote to stderr ([`wasi`]).
    stderr: wasi::Captured,
    /// This call's deadline, for naming a timeout.
    timeout: Duration,
}

/// Caps memory and table growth; remembers that the memory cap was hit so
/// the trap can be named.
struct Limiter {
    memory_bytes: usize,
    hit_memory_cap: bool,
    /// The most linear memory granted so far, in bytes.
    peak_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit_memory_cap = true;
            return Err(wasmtime::Error::msg("memory cap reached"));
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The last lines a module logged, bounded in count and bytes.
#[derive(Default)]
struct Log {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl Log {
    fn push(&mut self, line: String) {
        let mut line = text::printable_owned(line);
        if line.len() > 4096 {
            let mut cut = 4096;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > LOG_LINES_KEPT || self.bytes > LOG_BYTES_KEPT {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    fn take(&mut self) -> Vec<String> {
        let mut lines = Vec::with_capacity(self.lines.len() + 1);
        if self.dropped > 0 {
            lines.push(format!("({} earlier lines not kept)", self.dropped));
        }
        lines.extend(self.lines.drain(..));
        lines
    }
}

impl Sandbox {
    fn log(&mut self, message: String) {
        tracing_log(&message);
        self.log.push(message);
    }

    /// The log of the call so far, stderr's lines after the module's own.
    fn take_log(&mut self) -> Vec<String> {
        for line in self.stderr.take_lines() {
            self.log(line);
        }
        self.log.take()
    }
}

impl v0_1::strata::module::host::Host for Sandbox {
    fn log(&mut self, message: String) {
        Sandbox::log(self, message);
    }
}

impl v0_1::strata::module::types::Host for Sandbox {}

impl v0_2::strata::module::host::Host for Sandbox {
    fn log(&mut self, message: String) {
        Sandbox::log(self, message);
    }
}

impl v0_2::strata::module::types::Host for Sandbox {}

fn tracing_log(message: &str) {
    if std::env::var_os("STRATA_MODULE_LOG").is_some() {
        eprintln!("[module] {}", text::printable(message));
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Option<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("strata-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok()?;
        Some(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The host could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the module sandbox: {0}")]
pub struct HostError(String);

impl Host {
    /// A host with `limits`, caching compiled modules under `cache_dir` (no
    /// cache when `None`).
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self, HostError> {
        let engine = Engine::new(&engine_config::engine_config(limits.memory_bytes))
            .map_err(|e| HostError(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        // Each version's `host` interface under its own name
        // (`strata:module/host@0.1.0`, `@0.2.0`): one linker serves both.
        v0_1::Stack::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |sandbox| sandbox)
            .map_err(|e| HostError(format!("{e:#}")))?;
        v0_2::Stack::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |sandbox| sandbox)
            .map_err(|e| HostError(format!("{e:#}")))?;
        let policy = policy::PolicyState::new(&engine)?;
        let renders = cache_dir
            .as_ref()
            .map(|dir| renders::RenderCache::new(dir.join("renders")));
        let cache = cache_dir.map(|dir| cache::ComponentCache::new(dir, &engine));
        let ticker = Ticker::start(engine.clone());
        Ok(Self {
            engine,
            linker,
            limits,
            cache,
            renders,
            executed: std::sync::atomic::AtomicU64::new(0),
            compiled: std::sync::atomic::AtomicU64::new(0),
            loaded: Mutex::new(BTreeMap::new()),
            policy,
            memo: Mutex::new(Memo::default()),
            _ticker: ticker,
        })
    }

    /// The limits renders run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Compile (or load precompiled, or from the cache) the module `name`
    /// with `bytes`, whose sha256 is `digest`, and ask it to describe itself.
    /// Loaded once per digest and host.
    pub fn load(&self, name: &str, bytes: &[u8], digest: &str) -> Result<Arc<Module>, ModuleError> {
        let key = format!("{name}@{digest}");
        if let Some(module) = self.lock_loaded().get(&key) {
            return Ok(Arc::clone(module));
        }
        let invalid = |reason: String| ModuleError::Invalid {
            module: name.to_owned(),
            reason,
        };
        let component = self
            .component(digest, bytes)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let (wit_export, wit_version) = self.check_wit_version(name, &component)?;
        let mut linker = self.linker.clone();
        wasi::define(&mut linker, &component).map_err(|e| invalid(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = match wit_version {
            WitVersion::V0_1 => v0_1::StackPre::new(pre).map(Pre::V0_1),
            WitVersion::V0_2 => v0_2::StackPre::new(pre).map(Pre::V0_2),
        }
        .map_err(|e| invalid(format!("{e:#}")))?;
        let mut module = Module {
            name: name.to_owned(),
            digest: digest.to_owned(),
            info: ModuleInfo {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                config_schema: String::new(),
            },
            wit_export,
            wit_version,
            pre,
        };
        module.info = self.describe(&module)?;
        check_schema(name, &module.info.config_schema)?;
        let module = Arc::new(module);
        self.lock_loaded().insert(key, Arc::clone(&module));
        Ok(module)
    }

    /// The compiled component for `bytes`, whose sha256 is `digest`: the
    /// artifact precompiled into this binary when `digest` is an embedded
    /// module's, else the disk cache's, else compiled now (and cached).
    fn component(&self, digest: &str, bytes: &[u8]) -> wasmtime::Result<Component> {
        self.component_from(digest, bytes, precompiled::artifact(digest))
    }

    /// [`Host::component`], with `artifact` as the precompiled candidate. An
    /// artifact the engine refuses (another wasmtime, another configuration,
    /// a CPU lacking features it was compiled for) is passed over, never used.
    fn component_from(
        &self,
        digest: &str,
        bytes: &[u8],
        artifact: Option<&[u8]>,
    ) -> wasmtime::Result<Component> {
        if let Some(artifact) = artifact {
            // The disk cache first even so: a mapped file costs memory only
            // for the pages run, where loading from the binary reads the
            // whole artifact and copies it (about 30 MB more for a render of
            // every example environment).
            if let Some(component) = self
                .cache
                .as_ref()
                .and_then(|cache| cache.get(&self.engine, digest))
            {
                return Ok(component);
            }
            match precompiled::deserialize(&self.engine, artifact) {
                Ok(component) => {
                    if let Some(cache) = &self.cache {
                        cache.put(digest, artifact);
                    }
                    return Ok(component);
                }
                Err(error) => {
                    if std::env::var_os("STRATA_MODULE_LOG").is_some() {
                        eprintln!(
                            "note: the built-in compiled module `{digest}` does not fit this engine, compiling it: {error:#}"
                        );
                    }
                }
            }
        }
        if let Some(component) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&self.engine, digest))
        {
            return Ok(component);
        }
        self.compiled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.cache {
            Some(cache) => {
                let compiled = self.engine.precompile_component(bytes)?;
                cache.put(digest, &compiled);
                cache::deserialize_bytes(&self.engine, &compiled)
            }
            None => Component::new(&self.engine, bytes),
        }
    }

    /// How many components this host has compiled with Cranelift, rather
    /// than loaded precompiled (the embedded modules) or from the disk cache.
    pub fn compiled_count(&self) -> u64 {
        self.compiled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The engine's compatibility hash, as `runner/build.rs` records it in
    /// [`precompiled::BUILD_COMPATIBILITY_HASH`]: the embedded artifacts load
    /// only into an engine whose hash is theirs.
    pub fn compatibility_hash(&self) -> String {
        engine_config::compatibility_hash(&self.engine)
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Module>>> {
        // A panic while holding this lock leaves the map consistent (inserts
        // are single operations), so a poisoned lock is still usable.
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The export of `component` implementing [`WIT_EXPORT`] and its
    /// version, when it is one this host accepts.
    fn check_wit_version(
        &self,
        name: &str,
        component: &Component,
    ) -> Result<(String, WitVersion), ModuleError> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(export, _)| export.to_owned())
            .collect();
        let ours = exports
            .iter()
            .find(|e| e.starts_with(&format!("{WIT_EXPORT}@")) || *e == WIT_EXPORT);
        let Some(found) = ours else {
            let packaged = exports
                .iter()
                .find(|e| e.starts_with(&format!("{WIT_PACKAGE}/")));
            return Err(match packaged {
                Some(other) => ModuleError::IncompatibleWit {
                    module: name.to_owned(),
                    found: other.clone(),
                },
                None => ModuleError::Invalid {
                    module: name.to_owned(),
                    reason: format!(
                        "it does not export `{WIT_EXPORT}` (it exports {}); build it with the strata-module-sdk crate",
                        if exports.is_empty() {
                            "nothing".to_owned()
                        } else {
                            exports
                                .iter()
                                .map(|e| format!("`{e}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                },
            });
        };
        let version = found.split_once('@').map(|(_, v)| v).unwrap_or("");
        let Some(wit_version) = WitVersion::of(version) else {
            return Err(ModuleError::IncompatibleWit {
                module: name.to_owned(),
                found: found.clone(),
            });
        };
        // The export must be the interface, not something else of that name.
        if !matches!(
            ty.get_export(&self.engine, found),
            Some(ComponentExtern {
                ty: ComponentItem::ComponentInstance(_),
                ..
            })
        ) {
            return Err(ModuleError::Invalid {
                module: name.to_owned(),
                reason: format!("`{found}` is not an interface"),
            });
        }
        Ok((found.clone(), wit_version))
    }

    fn store(&self) -> Store<Sandbox> {
        self.store_with(self.limits.memory_bytes, self.limits.timeout)
    }

    /// A store whose memory cap and deadline are `memory_bytes` and
    /// `timeout` (a policy's grow with its input).
    fn store_with(&self, memory_bytes: usize, timeout: Duration) -> Store<Sandbox> {
        let sandbox = Sandbox {
            limiter: Limiter {
                memory_bytes,
                hit_memory_cap: false,
                peak_bytes: 0,
            },
            log: Log::default(),
            stderr: wasi::Captured::default(),
            timeout,
        };
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|sandbox| &mut sandbox.limiter);
        let ticks = (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store
    }

    fn describe(&self, module: &Module) -> Result<ModuleInfo, ModuleError> {
        let mut store = self.store();
        let result = match &module.pre {
            Pre::V0_1(pre) => pre.instantiate(&mut store).and_then(|instance| {
                let info = instance
                    .strata_module_stack_module()
                    .call_describe(&mut store)?;
                Ok(ModuleInfo {
                    name: info.name,
                    version: info.version,
                    description: info.description,
                    config_schema: info.config_schema,
                })
            }),
            Pre::V0_2(pre) => pre.instantiate(&mut store).and_then(|instance| {
                let info = instance
                    .strata_module_stack_module()
                    .call_describe(&mut store)?;
                Ok(ModuleInfo {
                    name: info.name,
                    version: info.version,
                    description: info.description,
                    config_schema: info.config_schema,
                })
            }),
        };
        result
            .map(|info| ModuleInfo {
                name: text::printable_owned(info.name),
                version: text::printable_owned(info.version),
                description: text::printable_owned(info.description),
                config_schema: info.config_schema,
            })
            .map_err(|error| self.trapped(&module.name, DESCRIBE, error, &mut store))
    }

    /// Render one stack in a fresh sandbox. `config` is the stack's table as
    /// JSON. A module's own diagnostics come back as `Ok(Err(..))`; a trap,
    /// a timeout or an oversized answer as `Err`.
    pub fn render(
        &self,
        module: &Module,
        ctx: &RenderContext,
        config: &str,
    ) -> Result<Result<RawRender, Vec<ModuleDiagnostic>>, ModuleError> {
        let key = memo_key(module, ctx, config);
        if let Some(hit) = self
            .memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .renders
            .get(&key)
        {
            return Ok(Ok(hit.clone()));
        }
        let disk_key = disk_key(&key, self.limits);
        if let Some(hit) = self.renders.as_ref().and_then(|r| r.get(&disk_key)) {
            self.remember(key, &hit);
            return Ok(Ok(hit));
        }
        self.executed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.render_fresh(module, ctx, config)?;
        if let Ok(rendered) = &result {
            self.remember(key, rendered);
            if let Some(renders) = &self.renders {
                renders.put(&disk_key, rendered);
            }
        }
        Ok(result)
    }

    /// How many module calls [`Host::render`] has run, rather than served
    /// from memory or the render cache.
    pub fn renders_executed(&self) -> u64 {
        self.executed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn remember(&self, key: [u8; 32], rendered: &RawRender) {
        let mut memo = self
            .memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes = rendered.template.len();
        if bytes > MEMO_BYTES / 4 {
            return;
        }
        if memo.bytes + bytes > MEMO_BYTES {
            memo.renders.clear();
            memo.bytes = 0;
        }
        if memo.renders.insert(key, rendered.clone()).is_none() {
            memo.bytes += bytes;
        }
    }

    /// Render in a fresh sandbox, without the memo.
    pub fn render_fresh(
        &self,
        module: &Module,
        ctx: &RenderContext,
        config: &str,
    ) -> Result<Result<RawRender, Vec<ModuleDiagnostic>>, ModuleError> {
        self.render_in(&mut self.store(), module, ctx, config)
    }

    /// [`Host::render_fresh`], measured: what the call cost the sandbox
    /// (for `strata module check`, which compares it with the [`Limits`]).
    pub fn render_measured(
        &self,
        module: &Module,
        ctx: &RenderContext,
        config: &str,
    ) -> (
        Result<Result<RawRender, Vec<ModuleDiagnostic>>, ModuleError>,
        RenderCost,
    ) {
        let mut store = self.store();
        let started = std::time::Instant::now();
        let result = self.render_in(&mut store, module, ctx, config);
        let cost = RenderCost {
            elapsed: started.elapsed(),
            peak_memory_bytes: store.data().limiter.peak_bytes,
        };
        (result, cost)
    }

    fn render_in(
        &self,
        store: &mut Store<Sandbox>,
        module: &Module,
        ctx: &RenderContext,
        config: &str,
    ) -> Result<Result<RawRender, Vec<ModuleDiagnostic>>, ModuleError> {
        let result = match &module.pre {
            Pre::V0_1(pre) => render_v0_1(pre, store, ctx, config),
            Pre::V0_2(pre) => render_v0_2(pre, store, ctx, config),
        };
        let answer = match result {
            Ok(answer) => answer,
            Err(error) => return Err(self.trapped(&module.name, &ctx.stack, error, store)),
        };
        let log = store.data_mut().take_log();
        match answer {
            Ok(mut rendered) => {
                let malformed = |reason: String| ModuleError::Malformed {
                    module: module.name.clone(),
                    stack: ctx.stack.clone(),
                    reason,
                };
                if rendered.imports.len() > MAX_IMPORTS {
                    return Err(malformed(format!(
                        "it imports {} outputs; a template may import at most {MAX_IMPORTS}",
                        rendered.imports.len()
                    )));
                }
                if rendered.exports.len() > MAX_EXPORTS {
                    return Err(malformed(format!(
                        "it exports {} outputs; CloudFormation allows at most {MAX_EXPORTS}",
                        rendered.exports.len()
                    )));
                }
                rendered.warnings = bounded(rendered.warnings);
                if rendered.template.len() > self.limits.output_bytes {
                    return Err(ModuleError::OutputTooLarge {
                        module: module.name.clone(),
                        stack: ctx.stack.clone(),
                        bytes: rendered.template.len(),
                        cap: self.limits.output_bytes,
                    });
                }
                rendered.log = log;
                Ok(Ok(rendered))
            }
            Err(diagnostics) => Ok(Err(bounded(diagnostics))),
        }
    }

    fn trapped(
        &self,
        module: &str,
        stack: &str,
        error: wasmtime::Error,
        store: &mut Store<Sandbox>,
    ) -> ModuleError {
        let mut log = store.data_mut().take_log();
        let reason = if store.data().limiter.hit_memory_cap {
            TrapReason::OutOfMemory {
                limit: store.data().limiter.memory_bytes,
            }
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => TrapReason::TimedOut(store.data().timeout),
                Some(Trap::UnreachableCodeReached) => {
                    // The SDK's hook logs `panicked: …`; std's default hook
                    // prints to stderr.
                    let mut message = log
                        .iter()
                        .rev()
                        .find_map(|line| line.strip_prefix("panicked: "))
                        .map(str::to_owned);
                    // The message is in the headline; keep the log for what came before it.
                    log.retain(|line| !line.starts_with("panicked: "));
                    if message.is_none()
                        && let Some((text, lines)) = wasi::std_panic_message(&log)
                    {
                        message = Some(text);
                        log.drain(lines);
                    }
                    TrapReason::Panicked(message)
                }
                Some(Trap::StackOverflow) => TrapReason::StackOverflow,
                Some(Trap::MemoryOutOfBounds) => TrapReason::Other(
                    "it accessed memory out of bounds, most often because its stack overflowed (deep or endless recursion)"
                        .to_owned(),
                ),
                Some(other) => TrapReason::Other(other.to_string()),
                None => {
                    let text = format!("{error:#}");
                    match forbidden_import(&text) {
                        Some(import) => TrapReason::ForbiddenImport(import),
                        None => TrapReason::Other(text),
                    }
                }
            }
        };
        ModuleError::Trapped {
            module: module.to_owned(),
            stack: stack.to_owned(),
            reason,
            log,
        }
    }
}

/// `diagnostics` made printable and cut to [`MAX_MODULE_DIAGNOSTICS`], the
/// rest counted in one last diagnostic of the worst severity cut.
fn bounded(diagnostics: Vec<ModuleDiagnostic>) -> Vec<ModuleDiagnostic> {
    let total = diagnostics.len();
    let mut kept: Vec<ModuleDiagnostic> = Vec::with_capacity(total.min(MAX_MODULE_DIAGNOSTICS + 1));
    let mut cut_error = false;
    for (i, d) in diagnostics.into_iter().enumerate() {
        if i < MAX_MODULE_DIAGNOSTICS {
            kept.push(ModuleDiagnostic {
                severity: d.severity,
                path: cut(text::printable_owned(d.path), 256),
                message: if d.message.trim().is_empty() {
                    "(the module gave no message)".to_owned()
                } else {
                    cut(text::printable_owned(d.message), 2_000)
                },
                help: d.help.map(|h| cut(text::printable_owned(h), 2_000)),
            });
        } else {
            cut_error |= d.severity == ModuleSeverity::Error;
        }
    }
    if total > MAX_MODULE_DIAGNOSTICS {
        kept.push(ModuleDiagnostic {
            severity: if cut_error {
                ModuleSeverity::Error
            } else {
                ModuleSeverity::Warning
            },
            path: String::new(),
            message: format!(
                "and {} more from the module, not shown",
                total - MAX_MODULE_DIAGNOSTICS
            ),
            help: Some(format!(
                "fix the first {MAX_MODULE_DIAGNOSTICS} and run again"
            )),
        });
    }
    kept
}

/// `text` cut to at most `max` bytes (on a character boundary), with `…`.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Refuse a config schema the config layer cannot use: over
/// [`MAX_SCHEMA_BYTES`], not JSON, or with keywords whose values make no
/// sense (`"type": 42`, a `pattern` that is no regular expression).
fn check_schema(module: &str, schema: &str) -> Result<(), ModuleError> {
    let bad = |problem: String| ModuleError::BadSchema {
        module: module.to_owned(),
        problem,
    };
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(bad(format!(
            "it is {} bytes, over the {} KiB the host accepts",
            schema.len(),
            MAX_SCHEMA_BYTES >> 10
        )));
    }
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| bad(format!("it is not JSON ({e})")))?;
    let problems = crate::config::schema::lint(&value, 4);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(bad(text::printable_owned(problems.join("; "))))
    }
}

/// What identifies a render: the module's digest, every context field and
/// the config, each length-prefixed so no two inputs collide.
fn memo_key(module: &Module, ctx: &RenderContext, config: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(module.digest.as_bytes());
    field(module.name.as_bytes());
    field(ctx.project.as_bytes());
    field(ctx.environment.as_bytes());
    field(ctx.stack.as_bytes());
    field(ctx.region.as_bytes());
    field(ctx.account.as_deref().unwrap_or("\u{0}").as_bytes());
    for (key, value) in &ctx.tags {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    field(config.as_bytes());
    hasher.finalize().into()
}

/// The render cache's file name for a render: the memo key, salted with
/// this strata's version (it post-processes what a module returns) and the
/// sandbox's limits (a render that fit looser limits is not served under
/// tighter ones).
fn disk_key(memo: &[u8; 32], limits: Limits) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"strata-render-cache-v1\0");
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(b"\0");
    hasher.update((limits.memory_bytes as u64).to_le_bytes());
    hasher.update((limits.timeout.as_millis() as u64).to_le_bytes());
    hasher.update((limits.output_bytes as u64).to_le_bytes());
    hasher.update(memo);
    hex::encode(hasher.finalize())
}

/// The import named in wasmtime's "unknown import" trap, without the version.
fn forbidden_import(message: &str) -> Option<String> {
    let rest = &message[message.find("unknown import")?..];
    let start = rest.find('`')? + 1;
    let end = start + rest[start..].find('`')?;
    Some(rest[start..end].to_owned())
}

/// A render's answer in Strata's types: the render (its `log` still empty)
/// or the module's diagnostics.
type Answer = Result<RawRender, Vec<ModuleDiagnostic>>;

/// One render through a binding's generated types, which differ per WIT
/// version although their shapes agree: the context in, the answer out in
/// Strata's types. `|rendered| traits` says what the version declares about
/// its resources.
macro_rules! render_through {
    ($binding:ident, $pre:expr, $store:expr, $ctx:expr, $config:expr, |$rendered:ident| $traits:expr) => {{
        use $binding::exports::strata::module::stack_module as wit;
        use $binding::strata::module::types::Severity;
        let diagnostic = |d: wit::Diagnostic| ModuleDiagnostic {
            severity: match d.severity {
                Severity::Error => ModuleSeverity::Error,
                Severity::Warning => ModuleSeverity::Warning,
            },
            path: d.path,
            message: d.message,
            help: d.help,
        };
        let ctx: &RenderContext = $ctx;
        let wit_ctx = wit::Context {
            project: ctx.project.clone(),
            environment: ctx.environment.clone(),
            stack: ctx.stack.clone(),
            region: ctx.region.clone(),
            account: ctx.account.clone(),
            tags: ctx.tags.clone(),
        };
        let instance = $pre.instantiate(&mut *$store)?;
        let answer =
            instance
                .strata_module_stack_module()
                .call_render(&mut *$store, &wit_ctx, $config)?;
        Ok(match answer {
            Ok($rendered) => {
                let resource_traits: BTreeMap<String, ResourceTraits> = $traits;
                Ok(RawRender {
                    template: $rendered.template,
                    exports: $rendered.exports,
                    imports: $rendered
                        .imports
                        .into_iter()
                        .map(|i| ImportRef {
                            stack: i.stack,
                            output: i.output,
                        })
                        .collect(),
                    warnings: $rendered.warnings.into_iter().map(diagnostic).collect(),
                    log: Vec::new(),
                    resource_traits,
                })
            }
            Err(diagnostics) => Err(diagnostics.into_iter().map(diagnostic).collect()),
        })
    }};
}

/// Render through the 0.1 binding: no resource traits.
fn render_v0_1(
    pre: &v0_1::StackPre<Sandbox>,
    store: &mut Store<Sandbox>,
    ctx: &RenderContext,
    config: &str,
) -> wasmtime::Result<Answer> {
    render_through!(v0_1, pre, store, ctx, config, |rendered| BTreeMap::new())
}

/// Render through the 0.2 binding: resource traits merged by logical id.
fn render_v0_2(
    pre: &v0_2::StackPre<Sandbox>,
    store: &mut Store<Sandbox>,
    ctx: &RenderContext,
    config: &str,
) -> wasmtime::Result<Answer> {
    render_through!(v0_2, pre, store, ctx, config, |rendered| {
        let mut merged: BTreeMap<String, ResourceTraits> = BTreeMap::new();
        for declared in rendered.resources {
            let traits = merged.entry(declared.logical_id).or_default();
            traits.stateful |= declared.stateful;
            traits.replaced_by.extend(declared.replaced_by);
        }
        for traits in merged.values_mut() {
            traits.replaced_by.sort();
            traits.replaced_by.dedup();
        }
        merged
    })
}

/// The default cache directory: `$STRATA_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/strata`, else `~/.cache/strata`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STRATA_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("strata"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("strata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_minor_version_of_an_export_and_refuses_others() {
        for (version, expected) in [
            ("0.1.0", Some(WitVersion::V0_1)),
            ("0.1.7", Some(WitVersion::V0_1)),
            ("0.1", Some(WitVersion::V0_1)),
            ("0.2.0", Some(WitVersion::V0_2)),
            ("0.2.1-rc.1", Some(WitVersion::V0_2)),
            ("0.10.0", None),
            ("0.3.0", None),
            ("1.0.0", None),
            ("", None),
        ] {
            assert_eq!(WitVersion::of(version), expected, "{version}");
        }
        assert_eq!(
            accepted_wit_versions(),
            "`strata:module@0.1.x` and `strata:module@0.2.x`"
        );
    }

    /// The smallest embedded component, and its digest.
    fn built_in_policy() -> (&'static [u8], &'static str) {
        let policy = crate::modules::EMBEDDED_POLICIES
            .first()
            .expect("a built-in policy");
        (policy.bytes, policy.sha256)
    }

    #[test]
    fn an_artifact_from_a_differently_configured_engine_is_refused_and_compiled_again() {
        let host = Host::new(Limits::default(), None).expect("host starts");
        let (bytes, digest) = built_in_policy();
        // The same engine but for epoch interruption, which changes the code.
        let mut config = engine_config::engine_config(POLICY_MEMORY_CEILING);
        config.epoch_interruption(false);
        let other = Engine::new(&config).expect("other engine");
        assert_ne!(
            engine_config::compatibility_hash(&other),
            host.compatibility_hash()
        );
        let artifact = other.precompile_component(bytes).expect("compiles");
        let Err(refused) = precompiled::deserialize(&host.engine, &artifact) else {
            panic!("wasmtime loaded another engine's artifact");
        };
        assert!(
            format!("{refused:#}").contains("epoch"),
            "names what differs: {refused:#}"
        );

        host.component_from(digest, bytes, Some(&artifact))
            .expect("compiled instead");
        assert_eq!(host.compiled_count(), 1);
    }

    #[test]
    fn a_damaged_artifact_is_refused_and_compiled_again() {
        let host = Host::new(Limits::default(), None).expect("host starts");
        let (bytes, digest) = built_in_policy();
        let artifact = host.engine.precompile_component(bytes).expect("compiles");
        for damaged in [
            artifact[..artifact.len() / 2].to_vec(),
            b"garbage".to_vec(),
            Vec::new(),
        ] {
            host.component_from(digest, bytes, Some(&damaged))
                .expect("compiled instead");
        }
        assert_eq!(host.compiled_count(), 3);
        // The undamaged artifact loads without compiling.
        host.component_from(digest, bytes, Some(&artifact))
            .expect("loads");
        assert_eq!(host.compiled_count(), 3);
    }
}
