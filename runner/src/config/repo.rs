//! `strata.toml` at the root of a config repository: modules the repository
//! adds (each pinned by sha256, from a path in the repository or a URL),
//! policy modules and the severity of their rules, and sandbox limits. The
//! file is optional.

use std::ops::Range;
use std::sync::Arc;

use toml::de::DeTable;

use super::diagnostic::{Diagnostic, SourceFile};
use super::fields::{At, Fields};

/// Sandbox limits for module renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Linear memory a module may grow to, in MiB.
    pub memory_mib: u64,
    /// Wall-clock budget of one render, in milliseconds.
    pub timeout_ms: u64,
    /// Largest template a module may return, in MiB.
    pub output_mib: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            timeout_ms: 2_000,
            output_mib: 4,
        }
    }
}

/// Where a declared module's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// `path = "modules/NAME.wasm"`: a file of the repository.
    Path,
    /// `url = "https://…"`: downloaded once into the cache, verified, then
    /// read from the cache.
    Url,
}

/// A module the repository declares: `[modules.NAME]`.
#[derive(Debug, Clone)]
pub struct DeclaredModule {
    /// The stack type it provides.
    pub name: At<String>,
    /// Whether `path` is a path or a URL.
    pub pin: Pin,
    /// Path of the `.wasm` component (relative to the repository root), or
    /// its URL.
    pub path: At<String>,
    /// Expected sha256 of the file, lowercase hex.
    pub sha256: At<String>,
    /// The `[modules.NAME]` table.
    pub span: Range<usize>,
}

/// What a policy rule's findings become in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSeverity {
    /// Findings block deploys.
    Error,
    /// Findings are shown and do not block.
    Warning,
    /// The rule is not applied.
    Off,
}

impl RuleSeverity {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "error" => Some(Self::Error),
            "warning" => Some(Self::Warning),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// `[policies.NAME.rules.RULE]`: a rule's severity, everywhere and per
/// environment (by file stem).
#[derive(Debug, Clone)]
pub struct RuleSetting {
    /// The rule id (checked against the policy's rules once it is loaded).
    pub rule: At<String>,
    /// `severity = "..."`: in every environment not listed below.
    pub severity: Option<At<RuleSeverity>>,
    /// `environments = { dev = "off" }`.
    pub environments: Vec<(At<String>, At<RuleSeverity>)>,
}

impl RuleSetting {
    /// The severity set for environment `name`, if any.
    pub fn for_environment(&self, name: &str) -> Option<RuleSeverity> {
        self.environments
            .iter()
            .find(|(env, _)| env.get_ref() == name)
            .map(|(_, severity)| *severity.get_ref())
            .or_else(|| self.severity.as_ref().map(|s| *s.get_ref()))
    }
}

/// A policy the repository declares or configures: `[policies.NAME]`.
#[derive(Debug, Clone)]
pub struct DeclaredPolicy {
    /// Its name.
    pub name: At<String>,
    /// Where its component comes from; `None` for a built-in policy
    /// (`guarantees`), which needs no pin.
    pub pin: Option<DeclaredModule>,
    /// Rule settings.
    pub rules: Vec<RuleSetting>,
    /// The `[policies.NAME]` table.
    pub span: Range<usize>,
}

/// The repository's `strata.toml`.
#[derive(Debug, Clone, Default)]
pub struct RepoConfig {
    /// The file, when there is one.
    pub source: Option<Arc<SourceFile>>,
    /// Declared modules.
    pub modules: Vec<DeclaredModule>,
    /// Declared (or configured built-in) policies.
    pub policies: Vec<DeclaredPolicy>,
    /// Sandbox limits.
    pub sandbox: SandboxSettings,
}

/// The file name.
pub const FILE_NAME: &str = "strata.toml";

/// Whether `url` may be downloaded from: `https://`, or `http://` to the
/// local machine (a test server, a local mirror).
fn url_rule(url: &str) -> Result<(), &'static str> {
    let host_of = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
            .to_owned()
    };
    if let Some(rest) = url.strip_prefix("https://") {
        if host_of(rest).is_empty() {
            return Err("has no host");
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        return match host_of(rest).as_str() {
            "127.0.0.1" | "localhost" | "[::1]" => Ok(()),
            _ => Err(
                "must use `https://`: a module fetched over plain HTTP could be swapped on the way (the digest would refuse it, but say so early)",
            ),
        };
    }
    Err("must be an `https://` URL")
}

impl RepoConfig {
    /// Parse the text of a `strata.toml`.
    pub fn parse(source: Arc<SourceFile>) -> Result<Self, Vec<Diagnostic>> {
        match Self::parse_lenient(source) {
            Ok((config, problems)) if problems.is_empty() => Ok(config),
            Ok((_, problems)) => Err(problems),
            Err(diagnostics) => Err(diagnostics),
        }
    }

    /// Parse a `strata.toml`, keeping going past problems that leave a
    /// usable configuration: a bad `[sandbox]` value falls back to its
    /// default and is returned beside the configuration, so `validate` can
    /// still report every environment file's errors. Anything else wrong is
    /// `Err`.
    pub fn parse_lenient(
        source: Arc<SourceFile>,
    ) -> Result<(Self, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let mut problems = Vec::new();
        let document = DeTable::parse(&source.text)
            .map_err(|e| vec![super::raw::syntax_error(&source, &e)])?;
        let mut fields = Fields::new(&source, document.get_ref(), 0..0, format!("`{FILE_NAME}`"));
        let mut config = RepoConfig {
            source: Some(Arc::clone(&source)),
            ..Self::default()
        };
        if let Some((modules, _)) = fields.table("modules", &mut diagnostics) {
            for (name, table) in modules.iter() {
                let Some(inner) = table.get_ref().as_table() else {
                    diagnostics.push(
                        Diagnostic::error(format!(
                            "module `{}` must be a table with `path` (or `url`) and `sha256`",
                            name.get_ref()
                        ))
                        .at(&source, table.span(), "expected a table"),
                    );
                    continue;
                };
                let what = format!("module `{}`", name.get_ref());
                let mut module = Fields::new(&source, inner, table.span(), what);
                let declared = declared_pin(
                    &source,
                    name,
                    table.span(),
                    &mut module,
                    "module",
                    &mut diagnostics,
                );
                module.deny_unknown(&["path", "url", "sha256"], &mut diagnostics);
                config.modules.extend(declared);
            }
        }
        if let Some((policies, _)) = fields.table("policies", &mut diagnostics) {
            for (name, table) in policies.iter() {
                if let Some(policy) = parse_policy(&source, name, table, &mut diagnostics) {
                    config.policies.push(policy);
                }
            }
        }
        if let Some((sandbox, span)) = fields.table("sandbox", &mut problems) {
            let mut limits = Fields::new(&source, sandbox, span, "`[sandbox]`");
            let mut read = |key: &str,
                            range: std::ops::RangeInclusive<u64>,
                            target: &mut u64,
                            diagnostics: &mut Vec<Diagnostic>| {
                if let Some(value) = limits.integer(key, diagnostics) {
                    if range.contains(value.get_ref()) {
                        *target = *value.get_ref();
                    } else {
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "`{key}` must be between {} and {}, got {}",
                                range.start(),
                                range.end(),
                                value.get_ref()
                            ))
                            .at(&source, value.span(), "out of range"),
                        );
                    }
                }
            };
            read(
                "memory_mib",
                1..=4096,
                &mut config.sandbox.memory_mib,
                &mut problems,
            );
            read(
                "timeout_ms",
                10..=600_000,
                &mut config.sandbox.timeout_ms,
                &mut problems,
            );
            read(
                "output_mib",
                1..=1024,
                &mut config.sandbox.output_mib,
                &mut problems,
            );
            limits.deny_unknown(&["memory_mib", "timeout_ms", "output_mib"], &mut problems);
        }
        // `[server]` configures `strata serve`, which reads it itself: a
        // table, not an unknown key.
        let _ = fields.table("server", &mut diagnostics);
        fields.deny_unknown(
            &["modules", "policies", "sandbox", "server"],
            &mut diagnostics,
        );
        if diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.extend(problems);
            Err(diagnostics)
        } else {
            diagnostics.extend(problems);
            if !diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.clear();
            }
            Ok((config, diagnostics))
        }
    }
}

/// The pin of a `[modules.NAME]` or `[policies.NAME]` table (`kind` is
/// "module" or "policy"): `path` or `url`, and `sha256`.
fn declared_pin(
    source: &Arc<SourceFile>,
    name: &toml::Spanned<toml::de::DeString<'_>>,
    span: Range<usize>,
    fields: &mut Fields<'_, '_>,
    kind: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DeclaredModule> {
    let path = fields.string("path", diagnostics);
    let url = fields.string("url", diagnostics);
    let located = match (path, url) {
        (Some(path), None) => Some((Pin::Path, path)),
        (None, Some(url)) => {
            let text = url.get_ref();
            match url_rule(text) {
                Ok(()) => Some((Pin::Url, url)),
                Err(rule) => {
                    diagnostics.push(
                        Diagnostic::error(format!("`url` of {kind} `{}` {rule}", name.get_ref()))
                            .at(source, url.span(), "not a download URL")
                            .with_help(
                                "use `https://…` (plain `http://` only on 127.0.0.1 or localhost)",
                            ),
                    );
                    None
                }
            }
        }
        (Some(_), Some(url)) => {
            diagnostics.push(
                Diagnostic::error(format!(
                    "{kind} `{}` has both `path` and `url`",
                    name.get_ref()
                ))
                .at(source, url.span(), "one of the two")
                .with_help("keep `path` for a file in the repository, or `url` to download it"),
            );
            None
        }
        (None, None) => {
            diagnostics.push(
                Diagnostic::error(format!("{kind} `{}` needs `path` or `url`", name.get_ref()))
                    .at(source, span.clone(), "declared here")
                    .with_help(
                        "add `path = \"modules/NAME.wasm\"`, or `url = \"https://…/NAME.wasm\"`",
                    ),
            );
            None
        }
    };
    let sha256 = fields.required_string(
        "sha256",
        "add `sha256 = \"...\"` (print it with `sha256sum FILE`)",
        diagnostics,
    );
    if let Some(digest) = &sha256 {
        let d = digest.get_ref();
        if d.len() != 64
            || !d
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            diagnostics.push(
                Diagnostic::error(format!(
                    "`sha256` of {kind} `{}` is not a sha256 digest",
                    name.get_ref()
                ))
                .at(source, digest.span(), "expected 64 lowercase hex digits"),
            );
        }
    }
    let ((pin, path), sha256) = (located?, sha256?);
    Some(DeclaredModule {
        name: toml::Spanned::new(name.span(), name.get_ref().to_string()),
        pin,
        path,
        sha256,
        span,
    })
}

/// Names of the policies built into this strata (`modules/policies/`).
pub const BUILT_IN_POLICIES: &[&str] = &["guarantees"];

const SEVERITY_HELP: &str = "use `\"error\"` (blocks deploys), `\"warning\"` (shown) or `\"off\"`";

fn severity_of(
    source: &Arc<SourceFile>,
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<At<RuleSeverity>> {
    let text = value.get_ref().as_str();
    match text.and_then(RuleSeverity::parse) {
        Some(severity) => Some(toml::Spanned::new(value.span(), severity)),
        None => {
            let got = super::fields::describe(value.get_ref());
            diagnostics.push(
                Diagnostic::error(format!(
                    "a rule's severity must be `error`, `warning` or `off`, got {got}"
                ))
                .at(source, value.span(), "not a severity")
                .with_help_opt(
                    text.and_then(|t| {
                        super::suggest::help_for(t, &["error", "warning", "off"], "severities")
                    })
                    .or_else(|| Some(SEVERITY_HELP.to_owned())),
                ),
            );
            None
        }
    }
}

/// `[policies.NAME]`: a pin (unless NAME is built in) and `[rules.RULE]`
/// tables.
fn parse_policy(
    source: &Arc<SourceFile>,
    name: &toml::Spanned<toml::de::DeString<'_>>,
    table: &toml::Spanned<toml::de::DeValue<'_>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DeclaredPolicy> {
    let policy_name = name.get_ref().to_string();
    let Some(inner) = table.get_ref().as_table() else {
        diagnostics.push(
            Diagnostic::error(format!(
                "policy `{policy_name}` must be a table with `path` (or `url`) and `sha256`, or `rules`"
            ))
            .at(source, table.span(), "expected a table"),
        );
        return None;
    };
    let mut fields = Fields::new(
        source,
        inner,
        table.span(),
        format!("policy `{policy_name}`"),
    );
    let built_in = BUILT_IN_POLICIES.contains(&policy_name.as_str());
    let pinned =
        inner.contains_key("path") || inner.contains_key("url") || inner.contains_key("sha256");
    let pin = if built_in && !pinned {
        None
    } else {
        Some(declared_pin(
            source,
            name,
            table.span(),
            &mut fields,
            "policy",
            diagnostics,
        )?)
    };
    let mut rules = Vec::new();
    if let Some((table, _)) = fields.table("rules", diagnostics) {
        for (rule, value) in table.iter() {
            let rule_name = rule.get_ref().to_string();
            let Some(settings) = value.get_ref().as_table() else {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "rule `{rule_name}` of policy `{policy_name}` must be a table"
                    ))
                    .at(source, value.span(), "expected a table")
                    .with_help(format!(
                        "write `[policies.{policy_name}.rules.{rule_name}]` with `severity = \"warning\"` and/or `environments = {{ dev = \"off\" }}`"
                    )),
                );
                continue;
            };
            let mut rule_fields = Fields::new(
                source,
                settings,
                value.span(),
                format!("rule `{rule_name}` of policy `{policy_name}`"),
            );
            let severity = rule_fields
                .value("severity")
                .and_then(|(_, v)| severity_of(source, v, diagnostics));
            let mut environments = Vec::new();
            if let Some((envs, _)) = rule_fields.table("environments", diagnostics) {
                for (env, v) in envs.iter() {
                    if let Some(severity) = severity_of(source, v, diagnostics) {
                        environments.push((
                            toml::Spanned::new(env.span(), env.get_ref().to_string()),
                            severity,
                        ));
                    }
                }
            }
            rule_fields.deny_unknown(&["severity", "environments"], diagnostics);
            rules.push(RuleSetting {
                rule: toml::Spanned::new(rule.span(), rule_name),
                severity,
                environments,
            });
        }
    }
    fields.deny_unknown(&["path", "url", "sha256", "rules"], diagnostics);
    Some(DeclaredPolicy {
        name: toml::Spanned::new(name.span(), policy_name),
        pin,
        rules,
        span: table.span(),
    })
}

#[cfg(test)]
mod tests {
    use super::{RepoConfig, RuleSeverity};
    use crate::config::SourceFile;

    fn parse(text: &str) -> RepoConfig {
        RepoConfig::parse(SourceFile::new("strata.toml", text)).expect("a valid strata.toml")
    }

    #[test]
    fn a_rules_severity_applies_everywhere_unless_its_environment_says_otherwise() {
        let config = parse(
            "[policies.guarantees.rules.multi-az]\nseverity = \"warning\"\nenvironments = { dev = \"off\", prod = \"error\" }\n\n[policies.guarantees.rules.tags]\nenvironments = { dev = \"warning\" }\n",
        );
        let guarantees = &config.policies[0];
        assert_eq!(guarantees.name.get_ref(), "guarantees");
        assert!(guarantees.pin.is_none(), "a built-in policy needs no pin");
        let rule = |id: &str| {
            guarantees
                .rules
                .iter()
                .find(|r| r.rule.get_ref() == id)
                .expect("the rule")
        };
        let cases = [
            ("multi-az", "dev", Some(RuleSeverity::Off)),
            ("multi-az", "prod", Some(RuleSeverity::Error)),
            ("multi-az", "staging", Some(RuleSeverity::Warning)),
            ("tags", "dev", Some(RuleSeverity::Warning)),
            ("tags", "prod", None),
        ];
        for (id, environment, expected) in cases {
            assert_eq!(
                rule(id).for_environment(environment),
                expected,
                "{id} in {environment}"
            );
        }
    }

    #[test]
    fn a_policy_of_its_own_is_pinned_like_a_module() {
        let digest = "a".repeat(64);
        let config = parse(&format!(
            "[policies.house-rules]\npath = \"policies/house-rules.wasm\"\nsha256 = \"{digest}\"\n"
        ));
        let pin = config.policies[0].pin.as_ref().expect("a pin");
        assert_eq!(pin.path.get_ref(), "policies/house-rules.wasm");
        assert_eq!(pin.sha256.get_ref(), &digest);
        let refused = |text: &str| {
            RepoConfig::parse(SourceFile::new("strata.toml", text))
                .expect_err("refused")
                .into_iter()
                .map(|d| d.message)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            refused("[policies.mine]\nrules = {}\n"),
            [
                "policy `mine` needs `path` or `url`",
                "policy `mine` has no `sha256`"
            ]
        );
        assert_eq!(
            refused("[policies.guarantees.rules.tags]\nseverity = \"loud\"\n"),
            ["a rule's severity must be `error`, `warning` or `off`, got the string `loud`"]
        );
        assert_eq!(
            refused("[policies.guarantees.rules.tags]\nseverty = \"off\"\n"),
            ["unknown key `severty` in rule `tags` of policy `guarantees`"]
        );
    }
}
