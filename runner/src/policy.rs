//! Policies over rendered environments: every policy module of the
//! [`Registry`] (the built-in `guarantees`, plus those `strata.toml` pins)
//! reads every stack that rendered, in the sandbox ([`crate::host::policy`]),
//! and returns findings. The repository's `[policies.NAME.rules.RULE]`
//! settings then change a rule's severity per environment, or turn it off.
//!
//! Findings become [`Diagnostic`]s at the stack's `[stacks.NAME]` table
//! (error findings are failures: `validate` exits 1, applies are refused)
//! and travel with plans as [`Finding`]s. A policy that cannot be loaded or
//! traps is an error naming the policy, never a crash.

use serde::Serialize;

use crate::config::repo::{DeclaredPolicy, RuleSeverity};
use crate::config::{Diagnostic, Environment, RepoConfig, suggest};
use crate::host::policy::{
    FindingSeverity, PolicyError, PolicyInput, PolicyModuleRef, PolicyStack,
};
use crate::host::{Host, TrapReason};
use crate::modules::Registry;
use crate::render::RenderedEnvironment;

/// Whether `environment` is production, as policies are told: its
/// environment name (as written in resource names) is `prod`, `production`
/// or `prd`. (`protected = true` says how deploys treat the stacks, not
/// what the environment is, so it does not count.)
pub fn is_production(environment: &Environment) -> bool {
    matches!(
        environment.environment.as_str(),
        "prod" | "production" | "prd"
    )
}

/// How bad a finding is, after the repository's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks deploys.
    Error,
    /// Shown, does not block.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// A finding, after the repository's severity settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The policy that found it.
    pub policy: String,
    /// Its rule id.
    pub rule: String,
    /// Error (blocks deploys) or warning.
    pub severity: Severity,
    /// The stack.
    pub stack: String,
    /// The resource's logical id, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Property path inside the resource.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Finding {
    /// Whether it blocks deploys.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `stack/Resource Properties.Path`, for one-line listings.
    pub fn location(&self) -> String {
        let mut at = self.stack.clone();
        if let Some(resource) = &self.resource {
            at = format!("{at}/{resource}");
        }
        if !self.path.is_empty() {
            at = format!("{at} {}", self.path);
        }
        at
    }
}

/// What the policies said about one environment.
#[derive(Debug, Clone, Default)]
pub struct PolicyOutcome {
    /// Every finding, in policy, stack, resource order.
    pub findings: Vec<Finding>,
    /// The findings as diagnostics, plus [`PolicyOutcome::problems`].
    pub diagnostics: Vec<Diagnostic>,
    /// Problems with the policies themselves (one that traps, a rule
    /// setting naming no rule), which no finding reports: a plan fails on
    /// them, where findings only travel with it.
    pub problems: Vec<Diagnostic>,
}

impl PolicyOutcome {
    /// Whether any finding or problem is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// What policies are told about `rendered`.
pub fn input(rendered: &RenderedEnvironment) -> PolicyInput {
    let environment = &rendered.environment;
    PolicyInput {
        project: environment.project.clone(),
        environment: environment.environment.clone(),
        name: environment.name.clone(),
        region: environment.region.clone(),
        account: environment.account.clone(),
        production: is_production(environment),
        tags: environment
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        stacks: rendered
            .stacks
            .values()
            .map(|stack| PolicyStack {
                name: stack.name.to_string(),
                stack_type: stack.kind.clone(),
                module: PolicyModuleRef {
                    name: stack.module.name.clone(),
                    version: stack.module.version.clone(),
                    digest: stack.module.sha256.clone(),
                },
                template: stack.shared_compact(),
                exports: stack.exports.iter().map(|e| e.output.clone()).collect(),
                imports: stack
                    .imports
                    .iter()
                    .map(|i| (i.stack.clone(), i.output.clone()))
                    .collect(),
            })
            .collect(),
    }
}

/// Run every policy of `registry` over the stacks of `rendered` (those that
/// rendered), with the severity settings of `repo`. The settings themselves
/// are checked once per repository, by [`check_settings`].
pub fn check(
    host: &Host,
    registry: &Registry,
    repo: &RepoConfig,
    rendered: &RenderedEnvironment,
) -> PolicyOutcome {
    let mut outcome = PolicyOutcome::default();
    let declared = |name: &str| repo.policies.iter().find(|p| p.name.get_ref() == name);
    if rendered.stacks.is_empty() {
        return outcome;
    }
    let input = input(rendered);
    for source in registry.policies() {
        let declaration = declared(&source.name);
        let policy = match host.load_policy(&source.name, &source.bytes, &source.sha256) {
            Ok(policy) => policy,
            Err(error) => {
                outcome
                    .problems
                    .push(policy_error(repo, declaration, &error));
                continue;
            }
        };
        let raw = match host.evaluate_policy(&policy, &input) {
            Ok(raw) => raw,
            Err(error) => {
                outcome
                    .problems
                    .push(policy_error(repo, declaration, &error));
                continue;
            }
        };
        for finding in raw {
            let setting = declaration
                .and_then(|d| d.rules.iter().find(|r| r.rule.get_ref() == &finding.rule))
                .and_then(|r| r.for_environment(&rendered.environment.name));
            let severity = match setting {
                Some(RuleSeverity::Off) => continue,
                Some(RuleSeverity::Error) => Severity::Error,
                Some(RuleSeverity::Warning) => Severity::Warning,
                None => match finding.severity {
                    FindingSeverity::Error => Severity::Error,
                    FindingSeverity::Warning => Severity::Warning,
                },
            };
            let finding = Finding {
                policy: policy.name.clone(),
                rule: finding.rule,
                severity,
                stack: finding.stack,
                resource: finding.resource,
                path: finding.path,
                message: finding.message,
                help: finding.help,
            };
            outcome.diagnostics.push(diagnostic(rendered, &finding));
            outcome.findings.push(finding);
        }
    }
    outcome.diagnostics.extend(outcome.problems.iter().cloned());
    outcome.findings.sort_by(|a, b| {
        (&a.policy, &a.stack, &a.resource, &a.rule, &a.path).cmp(&(
            &b.policy,
            &b.stack,
            &b.resource,
            &b.rule,
            &b.path,
        ))
    });
    crate::config::diagnostic::sort(&mut outcome.diagnostics);
    outcome
}

/// Problems with `strata.toml`'s `[policies.…]` settings: a policy that is
/// neither built in nor pinned, a rule the policy does not have, an
/// environment that does not exist (each with a did-you-mean). Loads the
/// policies to learn their rules; one that does not load is left to
/// [`check`], which reports it for every environment it cannot check.
pub fn check_settings(
    host: &Host,
    registry: &Registry,
    repo: &RepoConfig,
    environment_names: &[String],
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let Some(source) = &repo.source else {
        return problems;
    };
    let environments: Vec<&str> = environment_names.iter().map(String::as_str).collect();
    for declaration in &repo.policies {
        let name = declaration.name.get_ref();
        let Some(policy_source) = registry.policy(name) else {
            let known: Vec<&str> = registry.policies().map(|p| p.name.as_str()).collect();
            problems.push(
                Diagnostic::error(format!("no policy `{name}`"))
                    .at(
                        source,
                        declaration.name.span(),
                        "not a built-in or pinned policy",
                    )
                    .with_help_opt(suggest::help_for(name, &known, "policies")),
            );
            continue;
        };
        let Ok(policy) = host.load_policy(name, &policy_source.bytes, &policy_source.sha256) else {
            continue;
        };
        let rules: Vec<&str> = policy.info.rules.iter().map(|r| r.id.as_str()).collect();
        for setting in &declaration.rules {
            let rule = setting.rule.get_ref();
            if !rules.contains(&rule.as_str()) {
                problems.push(
                    Diagnostic::error(format!("policy `{name}` has no rule `{rule}`"))
                        .at(source, setting.rule.span(), "no such rule")
                        .with_help_opt(suggest::help_for(
                            rule,
                            &rules,
                            &format!("rules of `{name}`"),
                        )),
                );
            }
            for (environment, _) in &setting.environments {
                let env = environment.get_ref();
                if !environments.contains(&env.as_str()) {
                    problems.push(
                        Diagnostic::error(format!(
                            "rule `{rule}` of policy `{name}` is set for environment `{env}`, which does not exist"
                        ))
                        .at(source, environment.span(), "no such environment")
                        .with_help_opt(suggest::help_for(
                            env,
                            &environments,
                            "environments (file stems of `environments/*.toml`)",
                        )),
                    );
                }
            }
        }
    }
    problems
}

/// A finding, pointing at the stack's table in the environment file: at the
/// key whose string value the property holds (a name the user chose), else
/// at the `[stacks.NAME]` header.
fn diagnostic(rendered: &RenderedEnvironment, finding: &Finding) -> Diagnostic {
    let environment = &rendered.environment;
    let subject = match &finding.resource {
        Some(resource) => format!("stack `{}`, resource `{resource}`", finding.stack),
        None => format!("stack `{}`", finding.stack),
    };
    let message = format!("{subject}: {}", finding.message);
    let base = match finding.severity {
        Severity::Error => Diagnostic::error(message).as_failure(),
        Severity::Warning => Diagnostic::warning(message),
    };
    let mut label = format!("policy `{}`, rule `{}`", finding.policy, finding.rule);
    if !finding.path.is_empty() {
        label = format!("{label}, at `{}`", finding.path);
    }
    let Some(stack) = environment.stacks.get(finding.stack.as_str()) else {
        return base.with_note(label).with_help_opt(finding.help.clone());
    };
    let value = finding.resource.as_ref().and_then(|resource| {
        let template = rendered.stacks.get(finding.stack.as_str())?.template();
        let resource = template.get("Resources")?.get(resource)?;
        crate::config::raw::lookup(resource, &finding.path)?
            .as_str()
            .map(str::to_owned)
    });
    let span = value
        .filter(|v| v.len() >= 3)
        .and_then(|v| {
            let path = stack.spans.paths_with_string(&stack.config, &v).next();
            path.map(|path| stack.span_of(path))
        })
        .unwrap_or_else(|| stack.header.clone());
    base.at(&environment.source, span, label)
        .with_help_opt(finding.help.clone())
}

fn policy_error(
    repo: &RepoConfig,
    declaration: Option<&DeclaredPolicy>,
    error: &PolicyError,
) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(error.to_string()).as_failure();
    if let (Some(source), Some(declaration)) = (&repo.source, declaration) {
        diagnostic = diagnostic.at(source, declaration.name.span(), "this policy");
    }
    match error {
        PolicyError::Trapped { reason, log, .. } => {
            if !log.is_empty() {
                diagnostic = diagnostic.with_note(format!("policy log:\n  {}", log.join("\n  ")));
            }
            diagnostic.with_help(match reason {
                TrapReason::TimedOut(_) => "a policy must finish within the sandbox's time limit (`[sandbox] timeout_ms` in strata.toml); this is most likely a bug in the policy",
                TrapReason::OutOfMemory { .. } => "raise `[sandbox] memory_mib` in strata.toml if the policy really needs more; otherwise report it to the policy's author",
                TrapReason::ForbiddenImport(_) => "policies read the templates alone; report this to the policy's author",
                TrapReason::Panicked(_) | TrapReason::Other(_) | TrapReason::StackOverflow => "this is a bug in the policy, not in your files: report it to the policy's author",
            })
        }
        PolicyError::Misnamed { describes, .. } => diagnostic.with_help(format!(
            "the file is the policy `{describes}`: declare it as `[policies.{describes}]`, or pin the policy you meant"
        )),
        PolicyError::IncompatibleWit { .. } => diagnostic.with_help(
            "rebuild the policy with a strata-module-sdk that matches this strata, or upgrade strata",
        ),
        PolicyError::OutputTooLarge { .. } => diagnostic.with_help(
            "raise `[sandbox] output_mib` in strata.toml, or make the policy report less",
        ),
        PolicyError::Invalid { .. } => diagnostic,
    }
}
