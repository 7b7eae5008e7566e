//! The `[stacks.<name>]` table of a secrets stack, and its validation into
//! [`Settings`]: secret names checked (each becomes a physical name, a
//! logical id and an export name), the database user checked.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, cfn, check};

/// The secret `database_credentials = true` adds.
pub const DB_CREDENTIALS: &str = "db-credentials";
/// A secret's name in the config: it is part of export names.
const MAX_SECRET_NAME: usize = 40;
/// Database user names: PostgreSQL's limit is 63; MySQL's is 32.
const MAX_USERNAME: usize = 32;
/// Names PostgreSQL, MySQL or RDS keep for themselves.
const RESERVED_USERNAMES: &[&str] = &[
    "postgres",
    "admin",
    "root",
    "rdsadmin",
    "rdsrepladmin",
    "rds_superuser",
    "mysql",
    "public",
    "user",
    "select",
    "table",
];

/// Secrets Manager secrets for the application, encrypted with the stack's
/// KMS key; their values are written by operators, never by templates.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Secrets to create, by short name (lowercase letters, digits and single
    /// hyphens, starting with a letter, at most 40 characters). Secret
    /// `app-config` is named `{project}-{environment}-app-config`. Each starts
    /// as `{"bootstrap": "<random>"}`; operators then write the real value.
    pub secrets: Vec<String>,
    /// Also create `db-credentials`: `{"username": database_username,
    /// "password": <32 generated characters>}`, for an application database
    /// user.
    pub database_credentials: bool,
    /// The user name stored in `db-credentials`: letters, digits and
    /// underscores, starting with a letter, at most 32 characters, not a name
    /// the database reserves (`postgres`, `admin`, `root`, ...).
    pub database_username: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            secrets: vec!["app-config".into()],
            database_credentials: false,
            database_username: "app".into(),
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Every secret to create, in config order, `db-credentials` last.
    pub secrets: Vec<Secret>,
    /// The user name of `db-credentials`, when it is created.
    pub database_username: Option<String>,
}

/// One secret and the names that follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The short name from the config, used in the export name.
    pub key: String,
    /// The secret's `Name`, `{project}-{environment}-{key}`.
    pub name: String,
    /// Logical id, e.g. `AppConfigSecret`.
    pub logical_id: String,
}

impl Secret {
    fn new(ctx: &Context, key: &str) -> Self {
        Self {
            key: key.to_owned(),
            name: ctx.name(key),
            logical_id: format!("{}Secret", cfn::logical_id(key)),
        }
    }

    /// True for the database credentials secret.
    pub fn is_database_credentials(&self) -> bool {
        self.key == DB_CREDENTIALS
    }
}

impl Config {
    /// Check every key, reporting all problems at once.
    pub fn validate(self, ctx: &Context) -> Result<Settings, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let mut secrets: Vec<Secret> = Vec::new();
        for (index, key) in self.secrets.iter().enumerate() {
            let path = format!("secrets.{index}");
            if !check::resource_name(
                &path,
                "secret",
                key,
                MAX_SECRET_NAME,
                "app-config",
                &mut diagnostics,
            ) {
                continue;
            }
            if self.database_credentials && key == DB_CREDENTIALS {
                diagnostics
                    .error(&path, format!("`{DB_CREDENTIALS}` is the database credentials secret, which `database_credentials = true` creates"))
                    .help(format!("remove `{DB_CREDENTIALS}` from `secrets`"));
                continue;
            }
            let secret = Secret::new(ctx, key);
            let earlier = secrets
                .iter()
                .map(|s| (s.key.as_str(), s.logical_id.as_str()));
            if !check::unique_name(
                &path,
                "secret",
                key,
                &secret.logical_id,
                earlier,
                &mut diagnostics,
            ) {
                continue;
            }
            secrets.push(secret);
        }
        if self.secrets.is_empty() && !self.database_credentials {
            diagnostics
                .error("secrets", "no secrets to create")
                .help("list at least one, e.g. `secrets = [\"app-config\"]`, or set `database_credentials = true`");
        }
        let database_username = if self.database_credentials {
            check_username(&self.database_username, &mut diagnostics);
            secrets.push(Secret::new(ctx, DB_CREDENTIALS));
            Some(self.database_username)
        } else {
            None
        };
        diagnostics.check()?;
        Ok(Settings {
            secrets,
            database_username,
        })
    }
}

/// A user name both PostgreSQL and MySQL accept without quoting.
fn check_username(name: &str, diagnostics: &mut Diagnostics) {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_USERNAME;
    if !valid {
        diagnostics
            .error("database_username", format!("`{name}` is not a valid database user name"))
            .help("use letters, digits and underscores, starting with a letter, at most 32 characters, e.g. `app`");
    } else if RESERVED_USERNAMES.contains(&name.to_ascii_lowercase().as_str()) {
        diagnostics
            .error(
                "database_username",
                format!("`{name}` is reserved by the database or RDS"),
            )
            .help("use a user of your application, e.g. `app`");
    }
}
