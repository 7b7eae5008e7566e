//! Write a Strata *policy module*: a component of the `strata:policy` world
//! (`wit/policy/policy.wit`) that reads every rendered template of an
//! environment and returns [`Finding`]s.
//!
//! A policy runs in the same sandbox as a stack module (no filesystem,
//! network, clock or randomness; the same memory, time and output limits).
//! Strata runs its built-in policy (`guarantees`) on every stack, whoever
//! wrote the stack's module; a repository adds its own in `strata.toml`
//! (`[policies.NAME]`, pinned by sha256 like a module) and may change a
//! rule's severity per environment. Error findings block deploys.
//!
//! The SDK gives you typed input ([`Environment`], [`Stack`], with parsed
//! templates), walkers over resources ([`Environment::resources`],
//! [`Environment::resources_of_type`], [`ResourceRef::property`]), a
//! [`Findings`] collector, the [`crate::policy!`] export macro, and a test
//! kit ([`testing`]) to evaluate templates natively in unit tests.
//!
//! # Example
//!
//! ```
//! use strata_module_sdk::policy::{Environment, Findings, Rule, testing};
//! use strata_module_sdk::json;
//!
//! pub const RULES: &[Rule] = &[Rule::new("versioning", "S3 buckets keep object versions")];
//!
//! pub fn evaluate(env: &Environment) -> Findings {
//!     let mut findings = Findings::new();
//!     for bucket in env.resources_of_type("AWS::S3::Bucket") {
//!         let status = bucket.property("Properties.VersioningConfiguration.Status");
//!         if status.and_then(|s| s.as_str()) != Some("Enabled") {
//!             findings
//!                 .error("versioning", &bucket, "Properties.VersioningConfiguration.Status", "does not keep object versions")
//!                 .help("set `VersioningConfiguration: { Status: Enabled }`");
//!         }
//!     }
//!     findings
//! }
//!
//! // In the policy crate (a `cdylib` built for wasm32-wasip2):
//! // strata_module_sdk::policy! {
//! //     name: "buckets",
//! //     description: "House rules for buckets",
//! //     rules: RULES,
//! //     evaluate: evaluate,
//! // }
//!
//! let env = testing::environment("dev")
//!     .stack("storage", "s3", json!({ "Resources": { "Bucket": { "Type": "AWS::S3::Bucket", "Properties": {} } } }));
//! let findings = testing::evaluate(&env, evaluate);
//! testing::assert_finds(&findings, "versioning", "storage", "Bucket");
//! ```

use serde_json::Value;

pub use crate::Severity;

/// The version of the `strata:policy` WIT package this SDK builds against.
pub const POLICY_WIT_VERSION: &str = "0.1.0";

/// The table of properties that hold a resource's physical name: a bare
/// `PROPERTY` per line counts on every type, `TYPE PROPERTY` on that type
/// only (`#` starts a comment). See [`name_properties`].
pub const NAME_PROPERTIES_LIST: &str = include_str!("name-properties.txt");

/// The properties of a `kind` resource that hold its physical name, by
/// [`NAME_PROPERTIES_LIST`].
pub fn name_properties(kind: &str) -> Vec<&'static str> {
    NAME_PROPERTIES_LIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            match (fields.next(), fields.next()) {
                (Some(property), None) => Some(property),
                (Some(of), Some(property)) if of == kind => Some(property),
                _ => None,
            }
        })
        .collect()
}

/// A rule a policy checks: its id (lowercase words joined by `-`) and one
/// line saying what it requires. Users name the id in `strata.toml` to
/// change its severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Short id, e.g. `multi-az`.
    pub id: &'static str,
    /// What it requires.
    pub description: &'static str,
}

impl Rule {
    /// A rule (usable in `const` tables).
    pub const fn new(id: &'static str, description: &'static str) -> Self {
        Self { id, description }
    }
}

/// The module that rendered a stack.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleRef {
    /// Stack type name.
    pub name: String,
    /// The module's version.
    pub version: String,
    /// sha256 of the component.
    pub digest: String,
}

/// One rendered stack of the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// Its name in the environment file.
    pub name: String,
    /// Its stack type.
    pub stack_type: String,
    /// The module that rendered it.
    pub module: ModuleRef,
    /// The CloudFormation template.
    pub template: Value,
    /// Output names it exports.
    pub exports: Vec<String>,
    /// Other stacks' outputs it imports, as (stack, output).
    pub imports: Vec<(String, String)>,
}

impl Stack {
    /// Every resource of the template, in logical-id order.
    pub fn resources(&self) -> impl Iterator<Item = ResourceRef<'_>> {
        self.template
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(move |(id, resource)| ResourceRef {
                stack: self,
                id,
                kind: resource.get("Type").and_then(Value::as_str).unwrap_or(""),
                resource,
            })
    }

    /// The resource with logical id `id`.
    pub fn resource(&self, id: &str) -> Option<ResourceRef<'_>> {
        self.resources().find(|r| r.id == id)
    }

    /// The resources of type `kind` (e.g. `AWS::RDS::DBInstance`).
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = ResourceRef<'a>> + 'a {
        self.resources().filter(move |r| r.kind == kind)
    }
}

/// What a policy evaluates: one environment and its rendered stacks.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// Naming prefix of every resource, e.g. `v3-backend`.
    pub project: String,
    /// Environment as written in resource names, e.g. `production`.
    pub environment: String,
    /// The environment file's stem, e.g. `prod`.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// AWS account id, when pinned.
    pub account: Option<String>,
    /// Whether this is production (named `prod`, `production` or `prd`).
    pub production: bool,
    /// Tags every taggable resource must carry, sorted by key.
    pub tags: Vec<(String, String)>,
    /// The rendered stacks, sorted by name.
    pub stacks: Vec<Stack>,
}

impl Environment {
    /// `{project}-{environment}`: the prefix of every physical name.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.project, self.environment)
    }

    /// Every resource of every stack.
    pub fn resources(&self) -> impl Iterator<Item = ResourceRef<'_>> {
        self.stacks.iter().flat_map(Stack::resources)
    }

    /// Every resource of type `kind`, in every stack.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = ResourceRef<'a>> + 'a {
        self.resources().filter(move |r| r.kind == kind)
    }

    /// The stack named `name`.
    pub fn find_stack(&self, name: &str) -> Option<&Stack> {
        self.stacks.iter().find(|s| s.name == name)
    }
}

/// A resource of a template, with the stack it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRef<'a> {
    /// The stack.
    pub stack: &'a Stack,
    /// Logical id.
    pub id: &'a str,
    /// `Type`, e.g. `AWS::S3::Bucket` (`""` when missing).
    pub kind: &'a str,
    /// The whole resource (`Type`, `Properties`, `DeletionPolicy`, …).
    pub resource: &'a Value,
}

impl<'a> ResourceRef<'a> {
    /// `Properties` (`Null` when there are none).
    pub fn properties(&self) -> &'a Value {
        self.resource.get("Properties").unwrap_or(&Value::Null)
    }

    /// The value at a dotted `path` inside the resource, e.g.
    /// `Properties.DistributionConfig.DefaultCacheBehavior` (list items by
    /// index: `Properties.SecurityGroupIngress.0.CidrIp`).
    pub fn property(&self, path: &str) -> Option<&'a Value> {
        lookup(self.resource, path)
    }

    /// Whether the property at `path` is `true` (or the string `"true"`, as
    /// CloudFormation accepts).
    pub fn is_true(&self, path: &str) -> bool {
        self.property(path).is_some_and(truthy)
    }

    /// Whether the property at `path` is set (to anything but `null`).
    pub fn has(&self, path: &str) -> bool {
        self.property(path).is_some_and(|v| !v.is_null())
    }

    /// The other resources of the same stack.
    pub fn siblings(&self) -> impl Iterator<Item = ResourceRef<'a>> + 'a {
        let id = self.id;
        self.stack.resources().filter(move |r| r.id != id)
    }
}

/// The value at dotted `path` inside `value` (`""` = `value` itself).
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// `true`, or the string `"true"`.
pub fn truthy(value: &Value) -> bool {
    value == &Value::Bool(true) || value == "true"
}

/// Something a rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id.
    pub rule: String,
    /// Error or warning (the repository may change it per environment).
    pub severity: Severity,
    /// The stack.
    pub stack: String,
    /// The resource's logical id, when it is about one.
    pub resource: Option<String>,
    /// Property path inside the resource (`""` = the whole resource).
    pub path: String,
    /// What is wrong, lowercase, e.g. "is not encrypted at rest".
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

impl Finding {
    /// An error of `rule` about resource `resource` of stack `stack`, named
    /// rather than walked to: for what [`StackByStack::finish`] concludes
    /// about resources an earlier [`StackByStack::stack`] saw.
    pub fn about_resource(
        rule: &str,
        stack: &str,
        resource: &str,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule: rule.to_owned(),
            severity: Severity::Error,
            stack: stack.to_owned(),
            resource: Some(resource.to_owned()),
            path: String::new(),
            message: message.into(),
            help: None,
        }
    }

    /// Add a `help:` line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
}

/// Findings, collected so the user sees every one at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings(Vec<Finding>);

impl Findings {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An error of `rule` about `resource`'s property at `path`; chain
    /// `.help(..)`.
    pub fn error(
        &mut self,
        rule: &str,
        resource: &ResourceRef<'_>,
        path: &str,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.push(Severity::Error, rule, resource, path, message.into())
    }

    /// A warning of `rule` about `resource`'s property at `path`.
    pub fn warning(
        &mut self,
        rule: &str,
        resource: &ResourceRef<'_>,
        path: &str,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.push(Severity::Warning, rule, resource, path, message.into())
    }

    fn push(
        &mut self,
        severity: Severity,
        rule: &str,
        resource: &ResourceRef<'_>,
        path: &str,
        message: String,
    ) -> &mut Finding {
        self.add(Finding {
            rule: rule.to_owned(),
            severity,
            stack: resource.stack.name.clone(),
            resource: Some(resource.id.to_owned()),
            path: path.to_owned(),
            message,
            help: None,
        })
    }

    /// Add a finding built by hand (one about a whole stack, say).
    pub fn add(&mut self, finding: Finding) -> &mut Finding {
        self.0.push(finding);
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every finding.
    pub fn iter(&self) -> std::slice::Iter<'_, Finding> {
        self.0.iter()
    }

    /// The findings.
    pub fn into_vec(self) -> Vec<Finding> {
        self.0
    }
}

impl From<Vec<Finding>> for Findings {
    fn from(findings: Vec<Finding>) -> Self {
        Self(findings)
    }
}

impl<'a> IntoIterator for &'a Findings {
    type Item = &'a Finding;
    type IntoIter = std::slice::Iter<'a, Finding>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Glue between the WIT bindings and a policy's typed `evaluate`;
/// [`crate::policy!`] expands to calls of these.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod entry {
    use super::{Environment, Findings, ModuleRef, Rule, Severity, Stack, StackByStack};
    use crate::policy_bindings::exports::strata::policy::policy_module as wit;
    use crate::policy_bindings::strata::policy::types as wit_types;

    /// The `describe` answer.
    pub fn describe(
        name: &str,
        version: &str,
        description: &str,
        rules: &[Rule],
    ) -> wit::PolicyInfo {
        super::install_panic_hook();
        wit::PolicyInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            rules: rules
                .iter()
                .map(|r| wit_types::RuleInfo {
                    id: r.id.to_owned(),
                    description: r.description.to_owned(),
                })
                .collect(),
        }
    }

    /// Run a typed `evaluate` on the host's environment.
    pub fn evaluate(
        env: wit::Environment,
        evaluate: impl FnOnce(&Environment) -> Findings,
    ) -> Vec<wit::Finding> {
        super::install_panic_hook();
        let (mut env, stacks) = split(env);
        env.stacks = stacks.into_iter().map(stack).collect();
        let findings = evaluate(&env);
        // The sandbox is thrown away after this call: skip freeing the input.
        std::mem::forget(env);
        to_wit(findings)
    }

    /// Run a [`StackByStack`] policy on the host's environment: each stack's
    /// template is parsed, checked and dropped before the next.
    pub fn evaluate_stack_by_stack<P: StackByStack>(env: wit::Environment) -> Vec<wit::Finding> {
        super::install_panic_hook();
        let (header, stacks) = split(env);
        to_wit(super::run_stack_by_stack::<P>(
            header,
            stacks.into_iter().map(stack),
        ))
    }

    /// The host's environment without its stacks, and its stacks as sent.
    fn split(env: wit::Environment) -> (Environment, Vec<wit_types::Stack>) {
        let header = Environment {
            project: env.project,
            environment: env.environment,
            name: env.name,
            region: env.region,
            account: env.account,
            production: env.production,
            tags: env.tags,
            stacks: Vec::new(),
        };
        (header, env.stacks)
    }

    /// A stack as the host sent it, its template parsed.
    fn stack(s: wit_types::Stack) -> Stack {
        Stack {
            name: s.name,
            stack_type: s.stack_type,
            module: ModuleRef {
                name: s.module.name,
                version: s.module.version,
                digest: s.module.digest,
            },
            template: serde_json::from_str(&s.template).unwrap_or(serde_json::Value::Null),
            exports: s.exports,
            imports: s.imports.into_iter().map(|i| (i.stack, i.output)).collect(),
        }
    }

    fn to_wit(findings: Findings) -> Vec<wit::Finding> {
        findings
            .into_vec()
            .into_iter()
            .map(|f| wit::Finding {
                rule: f.rule,
                severity: match f.severity {
                    Severity::Error => wit_types::Severity::Error,
                    Severity::Warning => wit_types::Severity::Warning,
                },
                stack: f.stack,
                resource: f.resource,
                path: f.path,
                message: f.message,
                help: f.help,
            })
            .collect()
    }
}

/// A policy that reads an environment one stack at a time: rules about
/// single stacks, plus whatever small summary across stacks it keeps for
/// [`StackByStack::finish`]. Export it with `policy! { …, stack_by_stack:
/// Type }`.
///
/// Why: a parsed template takes about ten times the memory of its text
/// (every JSON object is a B-tree node). An `evaluate` policy holds every
/// template of the environment parsed at once, about 350 MB of sandbox
/// memory for 10,000 stacks; a stack-by-stack policy holds one, and the
/// environment's text (about 40 MB for those 10,000 stacks).
///
/// Findings are the same as an `evaluate` policy that walks the stacks in
/// order and then concludes would return.
///
/// ```
/// use strata_module_sdk::policy::{Environment, Findings, StackByStack, stack_by_stack, testing};
/// use strata_module_sdk::json;
///
/// use strata_module_sdk::policy::Finding;
///
/// /// Every queue is encrypted; and an environment with queues has a topic.
/// #[derive(Default)]
/// struct Queues {
///     queues: Vec<(String, String)>,
///     topics: usize,
/// }
///
/// impl StackByStack for Queues {
///     fn stack(&mut self, env: &Environment, findings: &mut Findings) {
///         for queue in env.resources_of_type("AWS::SQS::Queue") {
///             if !queue.is_true("Properties.SqsManagedSseEnabled") {
///                 findings.error("encrypted", &queue, "Properties", "not encrypted");
///             }
///             self.queues.push((queue.stack.name.clone(), queue.id.to_owned()));
///         }
///         self.topics += env.resources_of_type("AWS::SNS::Topic").count();
///     }
///
///     fn finish(self, _env: &Environment, findings: &mut Findings) {
///         if self.topics == 0 {
///             for (stack, queue) in &self.queues {
///                 findings.add(Finding::about_resource("topic", stack, queue, "no topic to alert on"));
///             }
///         }
///     }
/// }
///
/// let env = testing::environment("dev")
///     .stack("jobs", "sqs", json!({ "Resources": { "Q": { "Type": "AWS::SQS::Queue", "Properties": {} } } }));
/// let findings = stack_by_stack::<Queues>(&env);
/// testing::assert_finds(&findings, "encrypted", "jobs", "Q");
/// testing::assert_finds(&findings, "topic", "jobs", "Q");
/// ```
pub trait StackByStack: Default {
    /// Check one stack. `env` is the environment holding this stack alone:
    /// `env.stacks` has one entry, and [`Environment::resources`] walks its
    /// resources.
    fn stack(&mut self, env: &Environment, findings: &mut Findings);

    /// After the last stack: findings across stacks, from what
    /// [`StackByStack::stack`] kept. `env.stacks` is empty.
    fn finish(self, env: &Environment, findings: &mut Findings) {
        let _ = (env, findings);
    }
}

/// Evaluate the [`StackByStack`] policy `P` over `env` natively, exactly as
/// the sandbox does: one stack at a time, then [`StackByStack::finish`].
pub fn stack_by_stack<P: StackByStack>(env: &Environment) -> Findings {
    run_stack_by_stack::<P>(shell(env), env.stacks.iter().cloned())
}

/// `env` without its stacks.
fn shell(env: &Environment) -> Environment {
    Environment {
        project: env.project.clone(),
        environment: env.environment.clone(),
        name: env.name.clone(),
        region: env.region.clone(),
        account: env.account.clone(),
        production: env.production,
        tags: env.tags.clone(),
        stacks: Vec::new(),
    }
}

fn run_stack_by_stack<P: StackByStack>(
    mut env: Environment,
    stacks: impl Iterator<Item = Stack>,
) -> Findings {
    let mut policy = P::default();
    let mut findings = Findings::new();
    for stack in stacks {
        env.stacks.push(stack);
        policy.stack(&env, &mut findings);
        // Dropped here, so the next stack's template reuses its memory.
        env.stacks.clear();
    }
    policy.finish(&env, &mut findings);
    findings
}

/// Write a line to the operator's log from a policy. The host keeps the last
/// lines and attaches them to the diagnostic when the policy traps.
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::policy_bindings::strata::policy::host::log(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[policy] {message}");
}

/// Send panic messages through the policy host's `log` before the policy
/// aborts, so the host can say why it panicked. [`crate::policy!`] calls it.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.payload_as_str().unwrap_or("(no message)");
            match info.location() {
                Some(at) => log(&format!(
                    "panicked: {message} (at {}:{}:{})",
                    at.file(),
                    at.line(),
                    at.column()
                )),
                None => log(&format!("panicked: {message}")),
            }
        }));
    });
}

/// A test kit for policy authors: build environments from templates and
/// evaluate a policy natively, then assert on its findings.
pub mod testing {
    use serde_json::Value;

    use super::{Environment, Finding, Findings, ModuleRef, Rule, Severity, Stack};

    /// A test environment named `name` of project `acme` in `us-east-1`,
    /// production when `name` is `prod`, `production` or `prd`, with the
    /// tags Strata requires (`Application`, `Environment`, `ManagedBy`).
    pub fn environment(name: &str) -> Environment {
        Environment {
            project: "acme".to_owned(),
            environment: name.to_owned(),
            name: name.to_owned(),
            region: "us-east-1".to_owned(),
            account: None,
            production: matches!(name, "prod" | "production" | "prd"),
            tags: vec![
                ("Application".to_owned(), "acme".to_owned()),
                ("Environment".to_owned(), name.to_owned()),
                ("ManagedBy".to_owned(), "strata".to_owned()),
            ],
            stacks: Vec::new(),
        }
    }

    impl Environment {
        /// Add a stack `name` of type `stack_type` rendered as `template`
        /// (a module named after the type, version `0.1.0`).
        pub fn stack(mut self, name: &str, stack_type: &str, template: Value) -> Self {
            self.stacks.push(Stack {
                name: name.to_owned(),
                stack_type: stack_type.to_owned(),
                module: ModuleRef {
                    name: stack_type.to_owned(),
                    version: "0.1.0".to_owned(),
                    digest: "0".repeat(64),
                },
                template,
                exports: Vec::new(),
                imports: Vec::new(),
            });
            self.stacks.sort_by(|a, b| a.name.cmp(&b.name));
            self
        }

        /// The same environment, production or not.
        pub fn production(mut self, production: bool) -> Self {
            self.production = production;
            self
        }

        /// `Tags` as CloudFormation takes them (`[{Key, Value}]`), for
        /// templates written in tests.
        pub fn tag_list(&self) -> Value {
            Value::Array(
                self.tags
                    .iter()
                    .map(|(k, v)| serde_json::json!({ "Key": k, "Value": v }))
                    .collect(),
            )
        }

        /// Tags as a map (`{Key: Value}`).
        pub fn tag_map(&self) -> Value {
            Value::Object(
                self.tags
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        }

        /// `{project}-{environment}-{suffix}`.
        pub fn name(&self, suffix: &str) -> String {
            format!("{}-{suffix}", self.prefix())
        }
    }

    /// Evaluate `evaluate` over `env`, natively.
    pub fn evaluate(
        env: &Environment,
        evaluate: impl FnOnce(&Environment) -> Findings,
    ) -> Findings {
        evaluate(env)
    }

    /// Assert there are no findings, listing them when there are.
    pub fn assert_no_findings(findings: &Findings) {
        assert!(
            findings.is_empty(),
            "expected no findings, got {}:\n  {}",
            findings.len(),
            describe(findings)
        );
    }

    /// Assert some finding of `rule` is about `stack`'s resource `resource`;
    /// returns it.
    pub fn assert_finds<'a>(
        findings: &'a Findings,
        rule: &str,
        stack: &str,
        resource: &str,
    ) -> &'a Finding {
        findings
            .iter()
            .find(|f| f.rule == rule && f.stack == stack && f.resource.as_deref() == Some(resource))
            .unwrap_or_else(|| {
                panic!(
                    "expected a `{rule}` finding about {stack}/{resource}, got:\n  {}",
                    describe(findings)
                )
            })
    }

    /// The rule ids found, sorted and deduplicated.
    pub fn rules_of(findings: &Findings) -> Vec<&str> {
        let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }

    /// Assert every finding names one of `rules` and has a message, and
    /// every rule id is lowercase words joined by `-`.
    pub fn assert_well_formed(findings: &Findings, rules: &[Rule]) {
        for rule in rules {
            assert!(
                !rule.id.is_empty()
                    && rule
                        .id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "rule id `{}` must be lowercase words joined by `-`",
                rule.id
            );
        }
        for finding in findings {
            assert!(
                rules.iter().any(|r| r.id == finding.rule),
                "finding of undeclared rule `{}`: add it to the policy's rules",
                finding.rule
            );
            assert!(!finding.message.is_empty(), "a finding without a message");
        }
    }

    fn describe(findings: &Findings) -> String {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{} [{}] {}/{} {}: {}",
                    match f.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    f.rule,
                    f.stack,
                    f.resource.as_deref().unwrap_or("-"),
                    f.path,
                    f.message
                )
            })
            .collect::<Vec<_>>()
            .join("\n  ")
    }
}
