//! Policy modules: components of the `strata:policy` world (`wit/policy/`),
//! which read every rendered template of an environment and return findings.
//!
//! They run in the stack modules' sandbox: the same [`Engine`], the same
//! [`Limits`](super::Limits) (memory cap, epoch deadline, output cap), no
//! WASI (every other import traps), and the same trap reporting, as a
//! [`PolicyError::Trapped`] naming the policy. Their own `bindgen!` lives in
//! [`bindings`] here, apart from the stack world's, so the two contracts
//! version on their own. Talks to the rest of Strata in plain types
//! ([`PolicyInput`], [`RawFinding`], [`PolicyInfo`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::types::{ComponentExtern, ComponentItem};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::{HostError, ModuleError, Sandbox, TrapReason};
use crate::text::printable_owned;

/// The most findings kept from one policy over one environment; the rest
/// are counted in one more.
pub const MAX_POLICY_FINDINGS: usize = 500;

/// The `strata:policy` world's bindings. Kept out of `host/bindings.rs` so
/// the stack world's bindings can be restructured per version on their own.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/policy",
        world: "policy",
    });
}

use bindings::strata::policy::types as wit_types;

/// The `environment` record of `strata:policy`, lowered into the sandbox
/// straight from a [`PolicyInput`]'s strings. The bindings' own type owns
/// its strings, so building it copied every template first: 40 MB at
/// 10,000 stacks, held while the policy ran.
mod lowered {
    use wasmtime::component::{ComponentType, Lower};

    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct ModuleRef<'a> {
        pub name: &'a str,
        pub version: &'a str,
        pub digest: &'a str,
    }

    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct ImportRef<'a> {
        pub stack: &'a str,
        pub output: &'a str,
    }

    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct Stack<'a> {
        pub name: &'a str,
        #[component(name = "stack-type")]
        pub stack_type: &'a str,
        pub module: ModuleRef<'a>,
        pub template: &'a str,
        pub exports: &'a [String],
        pub imports: Vec<ImportRef<'a>>,
    }

    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct Environment<'a> {
        pub project: &'a str,
        pub environment: &'a str,
        pub name: &'a str,
        pub region: &'a str,
        pub account: Option<&'a str>,
        pub production: bool,
        pub tags: &'a [(String, String)],
        pub stacks: Vec<Stack<'a>>,
    }

    impl<'a> Environment<'a> {
        pub fn of(input: &'a super::PolicyInput) -> Self {
            Environment {
                project: &input.project,
                environment: &input.environment,
                name: &input.name,
                region: &input.region,
                account: input.account.as_deref(),
                production: input.production,
                tags: &input.tags,
                stacks: input
                    .stacks
                    .iter()
                    .map(|s| Stack {
                        name: &s.name,
                        stack_type: &s.stack_type,
                        module: ModuleRef {
                            name: &s.module.name,
                            version: &s.module.version,
                            digest: &s.module.digest,
                        },
                        template: &s.template,
                        exports: &s.exports,
                        imports: s
                            .imports
                            .iter()
                            .map(|(stack, output)| ImportRef { stack, output })
                            .collect(),
                    })
                    .collect(),
            }
        }
    }
}

/// The WIT package every policy implements.
pub const POLICY_WIT_PACKAGE: &str = "strata:policy";
/// The interface a policy exports.
pub const POLICY_WIT_EXPORT: &str = "strata:policy/policy-module";
/// The WIT version this host is built against; policies of any `0.1.x` load.
pub const POLICY_WIT_VERSION: &str = "0.1.0";

/// Error or warning, as a policy reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    /// Blocks the deploy.
    Error,
    /// Shown, does not block.
    Warning,
}

/// A rule a policy checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleInfo {
    /// Short id, e.g. `multi-az`.
    pub id: String,
    /// What it requires.
    pub description: String,
}

/// A policy's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyInfo {
    /// Its name.
    pub name: String,
    /// Its semver version.
    pub version: String,
    /// One line.
    pub description: String,
    /// Every rule it may report.
    pub rules: Vec<RuleInfo>,
}

/// The module that rendered a stack, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyModuleRef {
    /// Stack type name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// sha256 of the component.
    pub digest: String,
}

/// One rendered stack, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStack {
    /// Stack name.
    pub name: String,
    /// Stack type.
    pub stack_type: String,
    /// The module that rendered it.
    pub module: PolicyModuleRef,
    /// Template JSON, shared with the rendered stack it came from.
    pub template: Arc<str>,
    /// Exported output names.
    pub exports: Vec<String>,
    /// Imports, as (stack, output).
    pub imports: Vec<(String, String)>,
}

/// What a policy evaluates: an environment and its rendered stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInput {
    /// Naming prefix.
    pub project: String,
    /// Environment as written in resource names.
    pub environment: String,
    /// The environment file's stem.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// AWS account id, when pinned.
    pub account: Option<String>,
    /// Whether this is production.
    pub production: bool,
    /// Tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Rendered stacks, sorted by name.
    pub stacks: Vec<PolicyStack>,
}

/// A finding as the policy returned it, before the repository's severity
/// settings apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFinding {
    /// Rule id.
    pub rule: String,
    /// Severity the policy gave it.
    pub severity: FindingSeverity,
    /// Stack.
    pub stack: String,
    /// Logical id of the resource, when it is about one.
    pub resource: Option<String>,
    /// Property path inside the resource.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

/// A policy that could not be loaded or did not evaluate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// The bytes are not a loadable policy component.
    #[error("policy `{policy}` is not a valid policy component: {reason}")]
    Invalid {
        /// Policy name.
        policy: String,
        /// What is wrong.
        reason: String,
    },
    /// Declared under one name but calls itself another.
    #[error("policy declared as `{declared}` calls itself `{describes}`")]
    Misnamed {
        /// `[policies.NAME]`.
        declared: String,
        /// Its `describe` name.
        describes: String,
    },
    /// Built against a `strata:policy` version this host does not accept.
    #[error(
        "policy `{policy}` was built against `{found}`, but this strata accepts `{POLICY_WIT_PACKAGE}@0.1.x` (it implements `{POLICY_WIT_PACKAGE}@{POLICY_WIT_VERSION}`)"
    )]
    IncompatibleWit {
        /// Policy name.
        policy: String,
        /// What it exports.
        found: String,
    },
    /// A trap (panic, timeout, out of memory, forbidden import).
    #[error("policy `{policy}` {} while evaluating environment `{environment}`{}", reason.headline(), reason.detail().map(|d| format!(": {d}")).unwrap_or_default())]
    Trapped {
        /// Policy name.
        policy: String,
        /// The environment (or `(describe)`).
        environment: String,
        /// Why.
        reason: TrapReason,
        /// The policy's last log lines.
        log: Vec<String>,
    },
    /// The findings are larger than the output cap.
    #[error("policy `{policy}` returned {bytes} bytes of findings for environment `{environment}`, over the {} MiB output cap", cap >> 20)]
    OutputTooLarge {
        /// Policy name.
        policy: String,
        /// The environment.
        environment: String,
        /// Size returned.
        bytes: usize,
        /// The cap.
        cap: usize,
    },
}

/// A compiled policy, ready to instantiate.
pub struct Policy {
    /// The name it was declared under (`guarantees` for the built-in one).
    pub name: String,
    /// sha256 of its bytes.
    pub digest: String,
    /// What `describe` returned.
    pub info: PolicyInfo,
    pre: bindings::PolicyPre<Sandbox>,
    /// Its `evaluate` export, called with [`lowered::Environment`].
    evaluate: wasmtime::component::ComponentExportIndex,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

/// The host's policy side: a linker for the `policy` world and the policies
/// loaded so far.
pub(super) struct PolicyState {
    linker: Linker<Sandbox>,
    loaded: Mutex<BTreeMap<String, Arc<Policy>>>,
}

impl PolicyState {
    pub(super) fn new(engine: &Engine) -> Result<Self, HostError> {
        let mut linker = Linker::new(engine);
        bindings::Policy::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |sandbox| {
            sandbox
        })
        .map_err(|e| HostError(format!("{e:#}")))?;
        Ok(Self {
            linker,
            loaded: Mutex::new(BTreeMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Policy>>> {
        // Inserts are single operations: a poisoned map is still consistent.
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl bindings::strata::policy::host::Host for Sandbox {
    fn log(&mut self, message: String) {
        super::tracing_log(&message);
        self.log.push(message);
    }
}

impl wit_types::Host for Sandbox {}

impl super::Host {
    /// Compile (or load precompiled, or from the cache) the policy `name` with `bytes`, whose
    /// sha256 is `digest`, and ask it to describe itself. Loaded once per
    /// digest and host. A policy whose `describe` name is not `name` is
    /// refused.
    pub fn load_policy(
        &self,
        name: &str,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Arc<Policy>, PolicyError> {
        let key = format!("{name}@{digest}");
        if let Some(policy) = self.policy.lock().get(&key) {
            return Ok(Arc::clone(policy));
        }
        let invalid = |reason: String| PolicyError::Invalid {
            policy: name.to_owned(),
            reason,
        };
        let component = self
            .component(digest, bytes)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let interface = self.check_policy_wit(name, &component)?;
        let evaluate = component
            .get_export_index(None, &interface)
            .and_then(|interface| component.get_export_index(Some(&interface), "evaluate"))
            .ok_or_else(|| PolicyError::Invalid {
                policy: name.to_owned(),
                reason: format!("`{interface}` has no `evaluate` function"),
            })?;
        let mut linker = self.policy.linker.clone();
        super::wasi::define(&mut linker, &component).map_err(|e| PolicyError::Invalid {
            policy: name.to_owned(),
            reason: format!("{e:#}"),
        })?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = bindings::PolicyPre::new(pre).map_err(|e| invalid(format!("{e:#}")))?;
        let mut store = self.store();
        let described = pre
            .instantiate(&mut store)
            .and_then(|instance| {
                instance
                    .strata_policy_policy_module()
                    .call_describe(&mut store)
            })
            .map_err(|error| trapped(self, name, "(describe)", error, &mut store))?;
        let info = PolicyInfo {
            name: described.name,
            version: described.version,
            description: described.description,
            rules: described
                .rules
                .into_iter()
                .map(|r| RuleInfo {
                    id: r.id,
                    description: r.description,
                })
                .collect(),
        };
        if info.name != name {
            return Err(PolicyError::Misnamed {
                declared: name.to_owned(),
                describes: info.name,
            });
        }
        let policy = Arc::new(Policy {
            name: name.to_owned(),
            digest: digest.to_owned(),
            info,
            pre,
            evaluate,
        });
        self.policy.lock().insert(key, Arc::clone(&policy));
        Ok(policy)
    }

    /// Evaluate `policy` over `input` in a fresh sandbox, under the host's
    /// limits. A trap, a timeout or oversized findings are an `Err`.
    pub fn evaluate_policy(
        &self,
        policy: &Policy,
        input: &PolicyInput,
    ) -> Result<Vec<RawFinding>, PolicyError> {
        self.evaluate_policy_measured(policy, input).0
    }

    /// [`Host::evaluate_policy`], and the most linear memory the policy's
    /// sandbox held, in bytes.
    pub fn evaluate_policy_measured(
        &self,
        policy: &Policy,
        input: &PolicyInput,
    ) -> (Result<Vec<RawFinding>, PolicyError>, usize) {
        let env = lowered::Environment::of(input);
        // A policy reads the whole environment: its memory and time grow
        // with what it is given (16 bytes of memory and 1 s per 2 MiB for
        // each byte of templates), up to a ceiling, so a valid 10,000-stack
        // environment is not refused for its size.
        let input_bytes: usize = env.stacks.iter().map(|s| s.template.len()).sum();
        let memory = self
            .limits
            .memory_bytes
            .saturating_add(input_bytes.saturating_mul(16))
            .min(super::POLICY_MEMORY_CEILING);
        let timeout = self
            .limits
            .timeout
            .saturating_add(std::time::Duration::from_secs((input_bytes >> 21) as u64));
        let mut store = self.store_with(memory, timeout);
        let result = self.evaluate_in(&mut store, policy, input, &env);
        (result, store.data().limiter.peak_bytes)
    }

    fn evaluate_in(
        &self,
        store: &mut Store<Sandbox>,
        policy: &Policy,
        input: &PolicyInput,
        env: &lowered::Environment<'_>,
    ) -> Result<Vec<RawFinding>, PolicyError> {
        let mut store = store;
        let findings = policy
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .and_then(|instance| {
                instance.get_typed_func::<(&lowered::Environment<'_>,), (Vec<wit_types::Finding>,)>(
                    &mut store,
                    &policy.evaluate,
                )
            })
            .and_then(|evaluate| evaluate.call(&mut store, (env,)))
            .map(|(findings,)| findings)
            .map_err(|error| trapped(self, &policy.name, &input.name, error, store))?;
        let bytes: usize = findings
            .iter()
            .map(|f| {
                f.rule.len()
                    + f.stack.len()
                    + f.resource.as_ref().map_or(0, String::len)
                    + f.path.len()
                    + f.message.len()
                    + f.help.as_ref().map_or(0, String::len)
            })
            .sum();
        if bytes > self.limits.output_bytes {
            return Err(PolicyError::OutputTooLarge {
                policy: policy.name.clone(),
                environment: input.name.clone(),
                bytes,
                cap: self.limits.output_bytes,
            });
        }
        let total = findings.len();
        let mut kept: Vec<RawFinding> = findings
            .into_iter()
            .take(MAX_POLICY_FINDINGS)
            .map(|f| RawFinding {
                rule: printable_owned(f.rule),
                severity: match f.severity {
                    wit_types::Severity::Error => FindingSeverity::Error,
                    wit_types::Severity::Warning => FindingSeverity::Warning,
                },
                stack: printable_owned(f.stack),
                resource: f.resource.map(printable_owned),
                path: printable_owned(f.path),
                message: printable_owned(f.message),
                help: f.help.map(printable_owned),
            })
            .collect();
        if total > MAX_POLICY_FINDINGS
            && let Some(last) = kept.last().cloned()
        {
            // Counted under the last kept finding's rule and stack, as an
            // error: what was cut may hold errors.
            kept.push(RawFinding {
                severity: FindingSeverity::Error,
                resource: None,
                path: String::new(),
                message: format!(
                    "and {} more findings from policy `{}`, not shown",
                    total - MAX_POLICY_FINDINGS,
                    policy.name
                ),
                help: Some(format!("fix the first {MAX_POLICY_FINDINGS} and run again")),
                ..last
            });
        }
        Ok(kept)
    }

    /// Check that `component` exports a `strata:policy` 0.1.x interface;
    /// its export name is returned.
    fn check_policy_wit(&self, name: &str, component: &Component) -> Result<String, PolicyError> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(export, _)| export.to_owned())
            .collect();
        let ours = exports
            .iter()
            .find(|e| e.starts_with(&format!("{POLICY_WIT_EXPORT}@")) || *e == POLICY_WIT_EXPORT);
        let Some(found) = ours else {
            return Err(
                match exports
                    .iter()
                    .find(|e| e.starts_with(&format!("{POLICY_WIT_PACKAGE}/")))
                {
                    Some(other) => PolicyError::IncompatibleWit {
                        policy: name.to_owned(),
                        found: other.clone(),
                    },
                    None => PolicyError::Invalid {
                        policy: name.to_owned(),
                        reason: format!(
                            "it does not export `{POLICY_WIT_EXPORT}` (it exports {}); build it with the strata-module-sdk crate's `policy!` macro",
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
                },
            );
        };
        let version = found.split_once('@').map(|(_, v)| v).unwrap_or("");
        if !(version.starts_with("0.1.") || version == "0.1") {
            return Err(PolicyError::IncompatibleWit {
                policy: name.to_owned(),
                found: found.clone(),
            });
        }
        if !matches!(
            ty.get_export(&self.engine, found),
            Some(ComponentExtern {
                ty: ComponentItem::ComponentInstance(_),
                ..
            })
        ) {
            return Err(PolicyError::Invalid {
                policy: name.to_owned(),
                reason: format!("`{found}` is not an interface"),
            });
        }
        Ok(found.clone())
    }
}

/// A trap, in the policy's words: the stack modules' trap reading (memory
/// cap, epoch deadline, panic message from the log, forbidden import).
fn trapped(
    host: &super::Host,
    policy: &str,
    environment: &str,
    error: wasmtime::Error,
    store: &mut Store<Sandbox>,
) -> PolicyError {
    match host.trapped(policy, environment, error, store) {
        ModuleError::Trapped { reason, log, .. } => PolicyError::Trapped {
            policy: policy.to_owned(),
            environment: environment.to_owned(),
            reason,
            log,
        },
        other => PolicyError::Invalid {
            policy: policy.to_owned(),
            reason: other.to_string(),
        },
    }
}
