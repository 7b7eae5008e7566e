//! Environment files and the repository's `strata.toml`: read, validated as a
//! whole, and turned into the model the rest of Strata works with.
//!
//! Loading goes in four steps: read the text (kept for snippets) →
//! [`raw::parse`] into spanned raw types → [`validate`] the whole file,
//! collecting every problem → the valid [`Environment`]. Knows nothing of
//! modules beyond their type names, and nothing of AWS or wasmtime.

pub mod diagnostic;
pub(crate) mod fields;
pub mod raw;
pub mod repo;
pub mod schema;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

pub use diagnostic::{Diagnostic, Severity, SourceFile};
pub use raw::ConfigSpans;
pub use repo::RepoConfig;

/// Tags Strata puts on every taggable resource. `Environment`, `ManagedBy`
/// and (unless `[tags]` sets it) `Application` are filled in by Strata; the
/// others must be in the environment file's `[tags]`.
pub const REQUIRED_TAGS: &[&str] = &[
    "Application",
    "CostCenter",
    "Environment",
    "ManagedBy",
    "Owner",
];

/// AWS regions, for did-you-mean on `region`.
const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// A stack's name in an environment file: lowercase letters, digits and
/// hyphens, starting with a letter, at most 40 characters (it becomes part of
/// CloudFormation stack and export names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StackName(String);

impl StackName {
    /// Check `name` against the rules; the error says which rule failed.
    pub fn parse(name: &str) -> Result<Self, String> {
        check_identifier(name, 40).map(|()| Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for StackName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Lowercase letters, digits and single hyphens, starting with a letter.
pub(crate) fn check_identifier(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "must be at most {max} characters, got {}",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "may hold only lowercase letters, digits and `-`, not `{bad}`"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err("must not end with `-` or contain `--`".into());
    }
    Ok(())
}

/// A suggestion for an invalid identifier: lowercased, other characters as `-`.
pub(crate) fn identifier_suggestion(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// A validated environment: one file of `environments/`.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The file stem, what `--env` takes: `prod`.
    pub name: String,
    /// The file, for diagnostics.
    pub source: Arc<SourceFile>,
    /// Naming prefix: `v3-backend`.
    pub project: String,
    /// The environment as written in resource names: `production`.
    pub environment: String,
    /// AWS region.
    pub region: String,
    /// AWS account id deploys must match, when pinned.
    pub account: Option<String>,
    /// Deploys keep termination protection on (prod).
    pub protected: bool,
    /// Every tag resources carry: required ones merged with `[tags]`.
    pub tags: BTreeMap<String, String>,
    /// The stacks, by name.
    pub stacks: BTreeMap<StackName, Stack>,
}

/// One stack of an environment.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Its name.
    pub name: StackName,
    /// Its stack type: the module that renders it.
    pub kind: String,
    /// Stacks it must deploy after, besides those it imports from.
    pub depends_on: Vec<StackName>,
    /// The module's config: the table without `type` and `depends_on`.
    pub config: Value,
    /// Spans of the config's keys.
    pub spans: ConfigSpans,
    /// The `[stacks.NAME]` header.
    pub header: Range<usize>,
    /// The `type = "..."` value.
    pub kind_span: Range<usize>,
}

impl Stack {
    /// Where to point for a problem at `path` inside the config: the value
    /// when the path exists, its closest ancestor otherwise, else the header.
    pub fn span_of(&self, path: &str) -> Range<usize> {
        if path.is_empty() {
            return self.header.clone();
        }
        self.spans
            .find(path)
            .map_or_else(|| self.header.clone(), |s| s.value.clone())
    }

    /// The span of the key at `path` (for "unknown key" problems).
    pub fn key_span_of(&self, path: &str) -> Range<usize> {
        match self.spans.get(path) {
            Some(span) => span.key.clone().unwrap_or_else(|| span.value.clone()),
            None => self.span_of(path),
        }
    }
}

/// Read and validate the environment file at `path`. `display_name` is how the
/// file is named in messages; `types` are the stack types available.
pub fn load(
    path: &Path,
    display_name: &str,
    types: &[&str],
) -> Result<(Environment, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::error(format!(
            "cannot read environment file `{display_name}`: {e}"
        ))]
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_environment(&name, SourceFile::new(display_name, text), types)
}

/// Validate an environment file's text. `name` is its file stem.
pub fn parse_environment(
    name: &str,
    source: Arc<SourceFile>,
    types: &[&str],
) -> Result<(Environment, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (file, mut diagnostics) = raw::parse(&source);
    let environment = file.and_then(|file| validate(name, file, types, &mut diagnostics));
    diagnostic::sort(&mut diagnostics);
    match environment {
        Some(environment) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok((environment, diagnostics))
        }
        _ => Err(diagnostics),
    }
}

/// Check a parsed file as a whole; `None` when anything is wrong (all of it
/// is in `diagnostics`).
pub fn validate(
    name: &str,
    mut file: raw::EnvironmentFile,
    types: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Environment> {
    let source = Arc::clone(&file.source);
    let error_count = diagnostics.iter().filter(|d| d.is_error()).count();
    let identifier = |field: &str,
                      value: &toml::Spanned<String>,
                      diagnostics: &mut Vec<Diagnostic>| {
        if let Err(rule) = check_identifier(value.get_ref(), 32) {
            let suggestion = identifier_suggestion(value.get_ref());
            diagnostics.push(
                Diagnostic::error(format!("{field} `{}` {rule}", value.get_ref()))
                    .at(&source, value.span(), "used in every resource name")
                    .with_help_opt((!suggestion.is_empty()).then(|| format!("try `{suggestion}`"))),
            );
        }
    };

    if let Some(project) = &file.project {
        identifier("project", project, diagnostics);
    }
    let environment_name = match &file.environment {
        Some(environment) => {
            identifier("environment", environment, diagnostics);
            environment.get_ref().clone()
        }
        None => {
            if let Err(rule) = check_identifier(name, 32) {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "the file name `{name}` {rule}, so it cannot name the environment"
                    ))
                    .at(&source, 0..0, "")
                    .with_help("add `environment = \"production\"`, or rename the file"),
                );
            }
            name.to_owned()
        }
    };
    if let Some(region) = &file.region
        && !REGIONS.contains(&region.get_ref().as_str())
    {
        let help = suggest::did_you_mean(region.get_ref(), REGIONS.iter().copied()).map_or_else(
            || "regions look like `us-east-1` or `eu-west-2`".to_owned(),
            |r| format!("did you mean `{r}`?"),
        );
        diagnostics.push(
            Diagnostic::error(format!("unknown AWS region `{}`", region.get_ref()))
                .at(&source, region.span(), "not a region")
                .with_help(help),
        );
    }
    if let Some(account) = &file.account {
        let id = account.get_ref();
        if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
            diagnostics.push(
                Diagnostic::error(format!("account `{id}` is not an AWS account id"))
                    .at(&source, account.span(), "expected 12 digits")
                    .with_help("an account id is 12 digits, e.g. `account = \"123456789012\"`"),
            );
        }
    }

    let tags = validate_tags(&file, &environment_name, diagnostics);

    // Stack names, types, depends_on.
    let names: Vec<String> = file
        .stacks
        .iter()
        .map(|s| s.name.get_ref().clone())
        .collect();
    let known: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut stacks = BTreeMap::new();
    // Each stack's table and spans move into the environment: the file's
    // copy is not kept beside it.
    for stack in &mut file.stacks {
        let stack_name = match StackName::parse(stack.name.get_ref()) {
            Ok(name) => Some(name),
            Err(rule) => {
                let suggestion = identifier_suggestion(stack.name.get_ref());
                diagnostics.push(
                    Diagnostic::error(format!("stack name `{}` {rule}", stack.name.get_ref()))
                        .at(&source, stack.name.span(), "invalid stack name")
                        .with_help_opt(
                            (!suggestion.is_empty())
                                .then(|| format!("try `[stacks.{suggestion}]`")),
                        ),
                );
                None
            }
        };
        if let Some(kind) = &stack.kind
            && !types.contains(&kind.get_ref().as_str())
        {
            let help = suggest::help_for(kind.get_ref(), types, "known stack types");
            diagnostics.push(
                Diagnostic::error(format!(
                    "unknown stack type `{}` in stack `{}`",
                    kind.get_ref(),
                    stack.name.get_ref()
                ))
                .at(&source, kind.span(), "no module for this type")
                .with_help_opt(help),
            );
        }
        let mut depends_on = Vec::new();
        let mut seen = BTreeSet::new();
        for dependency in &stack.depends_on {
            let target = dependency.get_ref();
            if target == stack.name.get_ref() {
                diagnostics.push(
                    Diagnostic::error(format!("stack `{target}` depends on itself")).at(
                        &source,
                        dependency.span(),
                        "remove this entry",
                    ),
                );
            } else if !known.contains(target.as_str()) {
                let others: Vec<&str> = names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| *n != stack.name.get_ref())
                    .collect();
                diagnostics.push(
                    Diagnostic::error(format!(
                        "unknown stack `{target}` in `depends_on` of stack `{}`",
                        stack.name.get_ref()
                    ))
                    .at(
                        &source,
                        dependency.span(),
                        format!("no stack named `{target}`"),
                    )
                    .with_help_opt(suggest::help_for(
                        target,
                        &others,
                        "stacks in this file",
                    )),
                );
            } else if !seen.insert(target.clone()) {
                diagnostics.push(
                    Diagnostic::warning(format!(
                        "stack `{target}` is listed twice in `depends_on`"
                    ))
                    .at(&source, dependency.span(), "duplicate"),
                );
            } else if let Ok(name) = StackName::parse(target) {
                depends_on.push(name);
            }
        }
        if let (Some(name), Some(kind)) = (stack_name, &stack.kind) {
            stacks.insert(
                name.clone(),
                Stack {
                    name,
                    kind: kind.get_ref().clone(),
                    depends_on,
                    config: std::mem::take(&mut stack.config),
                    spans: std::mem::take(&mut stack.spans),
                    header: stack.span.clone(),
                    kind_span: kind.span(),
                },
            );
        }
    }
    if file.stacks.is_empty() {
        diagnostics.push(
            Diagnostic::warning(format!("environment `{name}` has no stacks"))
                .at(&source, 0..0, "")
                .with_help("add a stack: `[stacks.networking]` with `type = \"networking\"`"),
        );
    }

    let failed = diagnostics.iter().filter(|d| d.is_error()).count() > error_count;
    if failed {
        return None;
    }
    Some(Environment {
        name: name.to_owned(),
        source,
        project: file.project?.into_inner(),
        environment: environment_name,
        region: file.region?.into_inner(),
        account: file.account.map(toml::Spanned::into_inner),
        protected: file.protected.is_some_and(|p| *p.get_ref()),
        tags,
        stacks,
    })
}

fn validate_tags(
    file: &raw::EnvironmentFile,
    environment: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let source = &file.source;
    let mut tags = BTreeMap::new();
    if let Some(project) = &file.project {
        tags.insert("Application".to_owned(), project.get_ref().clone());
    }
    tags.insert("ManagedBy".to_owned(), "strata".to_owned());
    for (key, value) in &file.tags {
        let (key_text, value_text) = (key.get_ref(), value.get_ref());
        if key_text.to_lowercase().starts_with("aws:") {
            diagnostics.push(
                Diagnostic::error(format!("tag `{key_text}` uses the reserved `aws:` prefix")).at(
                    source,
                    key.span(),
                    "reserved by AWS",
                ),
            );
        } else if key_text.chars().count() > 128 || value_text.chars().count() > 256 {
            diagnostics.push(
                Diagnostic::error(format!("tag `{key_text}` is too long")).at(
                    source,
                    key.span(),
                    "keys ≤ 128 characters, values ≤ 256",
                ),
            );
        } else if key_text == "Environment" && value_text != environment {
            diagnostics.push(
                Diagnostic::error(format!(
                    "tag `Environment` is `{value_text}`, but the environment is `{environment}`"
                ))
                .at(source, value.span(), "Strata sets this tag itself")
                .with_help("remove it from `[tags]`"),
            );
        } else {
            tags.insert(key_text.clone(), value_text.clone());
        }
    }
    tags.insert("Environment".to_owned(), environment.to_owned());
    let missing: Vec<&str> = REQUIRED_TAGS
        .iter()
        .copied()
        .filter(|t| !tags.contains_key(*t))
        // `Application` comes from `project`, which has its own error.
        .filter(|t| *t != "Application" || file.project.is_some())
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let example = missing
            .iter()
            .map(|t| format!("{t} = \"...\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut diagnostic =
            Diagnostic::error(format!("required tag {list} missing from `[tags]`"));
        diagnostic = match file.tags.first() {
            Some((key, _)) => diagnostic.at(source, key.span(), "`[tags]` starts here"),
            None => diagnostic.at(source, 0..0, ""),
        };
        diagnostics.push(diagnostic.with_help(format!(
            "every taggable resource carries {}; add to `[tags]`: {example}",
            REQUIRED_TAGS.join(", ")
        )));
    }
    tags
}

#[cfg(test)]
mod tests;
