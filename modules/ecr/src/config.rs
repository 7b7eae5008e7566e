//! The `[stacks.<name>]` table of an ecr stack, and its validation into
//! [`Settings`]: repository names checked against ECR's rules (each also
//! becomes a logical id and export names), tag mutability resolved for the
//! environment.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::did_you_mean;
use strata_sdk::{Context, Diagnostics, cfn};

/// ECR's tag mutability settings this module renders.
pub const MUTABILITIES: [&str; 2] = ["MUTABLE", "IMMUTABLE"];
/// Images kept per repository.
const KEEP_LAST_IMAGES: std::ops::RangeInclusive<u32> = 1..=1000;
/// ECR repository names: 2 to 256 characters.
const MAX_REPOSITORY_NAME: usize = 256;

/// Container image repositories with scanning and a lifecycle policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Repositories to create, by short name. ECR's rules: lowercase letters
    /// and digits, separated by single `.`, `_` or `-`, in path components
    /// joined by `/` (e.g. `api`, `team/worker`). Repository `api` is named
    /// `{project}-{environment}-api`. Export names replace `/`, `.` and `_`
    /// with `-` (`team/worker` exports `team-worker-repository-uri`).
    pub repositories: Vec<String>,
    /// Scan every pushed image for known vulnerabilities (basic scanning).
    pub scan_on_push: bool,
    /// `IMMUTABLE` (a tag, once pushed, always names the same image) or
    /// `MUTABLE`. Defaults to `IMMUTABLE` in production, `MUTABLE` elsewhere.
    pub image_tag_mutability: Option<String>,
    /// Keep this many most recent images per repository (1 to 1000); older
    /// ones are deleted.
    pub keep_last_images: u32,
    /// Delete untagged images this many days after they were pushed (at least
    /// 1).
    pub untagged_expiry_days: u32,
    /// Encrypt images with the AWS-managed KMS key for ECR (`aws/ecr`)
    /// instead of S3-managed AES-256. Changing it replaces the repositories.
    pub kms: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            repositories: vec!["api".into()],
            scan_on_push: true,
            image_tag_mutability: None,
            keep_last_images: 30,
            untagged_expiry_days: 7,
            kms: false,
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The repositories, in config order.
    pub repositories: Vec<Repository>,
    /// Scan on push.
    pub scan_on_push: bool,
    /// `MUTABLE` or `IMMUTABLE`.
    pub image_tag_mutability: String,
    /// Images kept.
    pub keep_last_images: u32,
    /// Days before untagged images expire.
    pub untagged_expiry_days: u32,
    /// KMS (AWS-managed key) instead of AES-256.
    pub kms: bool,
}

/// One repository and the names that follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The short name from the config.
    pub key: String,
    /// The short name as it appears in export names (`/`, `.`, `_` → `-`).
    pub export_key: String,
    /// `RepositoryName`, `{project}-{environment}-{key}`.
    pub name: String,
    /// Logical id, e.g. `ApiRepository`.
    pub logical_id: String,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let repositories = self.check_repositories(ctx, &mut diagnostics);
        let production = ctx.is_production();
        let mutability = match &self.image_tag_mutability {
            None if production => "IMMUTABLE".to_owned(),
            None => "MUTABLE".to_owned(),
            Some(value) => {
                check_mutability(value, &mut diagnostics);
                if production && value == "MUTABLE" {
                    diagnostics
                        .warning(
                            "image_tag_mutability",
                            format!("mutable image tags in production environment `{}`", ctx.environment),
                        )
                        .help("a pushed tag can then change the image a running service uses on its next deploy or scale-out; remove `image_tag_mutability` (it defaults to `IMMUTABLE` in production)");
                }
                value.clone()
            }
        };
        let keep = self.keep_last_images;
        if !KEEP_LAST_IMAGES.contains(&keep) {
            diagnostics
                .error("keep_last_images", format!("`{keep}` is outside 1 to 1000"))
                .help("use e.g. `30`, enough images to roll back several releases");
        }
        if self.untagged_expiry_days == 0 {
            diagnostics
                .error(
                    "untagged_expiry_days",
                    "untagged images must be kept at least 1 day, got `0`",
                )
                .help("use e.g. `7`");
        }
        diagnostics.check()?;
        let settings = Settings {
            repositories,
            scan_on_push: self.scan_on_push,
            image_tag_mutability: mutability,
            keep_last_images: keep,
            untagged_expiry_days: self.untagged_expiry_days,
            kms: self.kms,
        };
        Ok((settings, diagnostics))
    }

    fn check_repositories(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> Vec<Repository> {
        if self.repositories.is_empty() {
            diagnostics
                .error("repositories", "no repositories to create")
                .help("list at least one, e.g. `repositories = [\"api\"]`");
        }
        let mut repositories: Vec<Repository> = Vec::new();
        for (index, key) in self.repositories.iter().enumerate() {
            let path = format!("repositories.{index}");
            if !is_repository_name(key) {
                diagnostics
                    .error(&path, format!("`{key}` is not an ECR repository name"))
                    .help(format!(
                        "use lowercase letters and digits separated by single `.`, `_` or `-`, in parts joined by `/`, e.g. `{}`",
                        suggestion(key)
                    ));
                continue;
            }
            let export_key: String = key
                .chars()
                .map(|c| if matches!(c, '/' | '.' | '_') { '-' } else { c })
                .collect();
            let repository = Repository {
                key: key.clone(),
                name: ctx.name(key),
                logical_id: format!("{}Repository", cfn::logical_id(&export_key)),
                export_key,
            };
            if repositories.iter().any(|r| r.key == *key) {
                diagnostics
                    .error(&path, format!("repository `{key}` is listed twice"))
                    .help("list each repository once");
                continue;
            }
            if let Some(first) = repositories
                .iter()
                .find(|r| r.logical_id == repository.logical_id)
            {
                diagnostics
                    .error(
                        &path,
                        format!(
                            "repository `{key}` and repository `{}` would share the export names `{}-repository-*`",
                            first.key, first.export_key
                        ),
                    )
                    .help("rename one of them so that they differ in more than separators");
                continue;
            }
            if repository.name.len() > MAX_REPOSITORY_NAME {
                diagnostics
                    .error(
                        &path,
                        format!(
                            "repository name `{}` is {} characters, ECR allows 256",
                            repository.name,
                            repository.name.len()
                        ),
                    )
                    .help("use a shorter repository name");
                continue;
            }
            repositories.push(repository);
        }
        repositories
    }
}

fn check_mutability(value: &str, diagnostics: &mut Diagnostics) {
    if MUTABILITIES.contains(&value) {
        return;
    }
    let error = diagnostics.error(
        "image_tag_mutability",
        format!("`{value}` is not an image tag mutability"),
    );
    match did_you_mean(value, &MUTABILITIES) {
        Some(suggestion) => error.help(format!("did you mean `{suggestion}`?")),
        None => error.help("use `IMMUTABLE` or `MUTABLE`"),
    };
}

/// ECR's rule: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn is_repository_name(name: &str) -> bool {
    name.split('/').all(|part| {
        !part.is_empty()
            && part.split(['.', '_', '-']).all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    })
}

/// A valid name close to `name`: lowercase, runs of other characters as one
/// `-`, empty path parts dropped.
fn suggestion(name: &str) -> String {
    let parts: Vec<String> = name
        .split('/')
        .map(|part| {
            let mut out = String::new();
            for c in part.chars() {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    out.push(c);
                } else if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
            out.trim_end_matches('-').to_owned()
        })
        .filter(|part| !part.is_empty())
        .collect();
    if parts.is_empty() {
        "api".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_ecr_repository_name_rules() {
        for name in ["api", "team/api", "a.b_c-d", "v2", "a/b/c", "9lives"] {
            assert!(is_repository_name(name), "{name}");
        }
        for name in [
            "", "Api", "api/", "/api", "a//b", "a..b", "a-", "-a", "a_", "a b", "a__b",
        ] {
            assert!(!is_repository_name(name), "{name}");
        }
    }

    #[test]
    fn suggests_valid_repository_names() {
        for (name, expected) in [
            ("My API", "my-api"),
            ("Team//Worker_", "team/worker"),
            ("--", "api"),
        ] {
            assert_eq!(suggestion(name), expected);
            assert!(is_repository_name(&suggestion(name)));
        }
    }
}
