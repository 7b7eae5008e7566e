//! The `secrets` stack type: Secrets Manager secrets for the application.
//!
//! - [`config`] validates the stack's table: secret names (each becomes a
//!   physical name, a logical id and an export name) and the database user.
//! - This file adds the resources: a customer-managed KMS key and its alias,
//!   and the secrets, encrypted with it.
//!
//! No value is ever written in a template. Secrets Manager generates every
//! initial value (`GenerateSecretString`): a throwaway `bootstrap` key for
//! application secrets, which operators then overwrite, and a 32-character
//! password for `db-credentials`. The compute stack imports the secret
//! ARNs (see [`exports`]) to inject them into tasks; the key policy lets any
//! principal of the account that may read a secret decrypt it through
//! Secrets Manager.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, DeletionPolicy, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{Secret, Settings};

const KEY: &str = "SecretKey";
/// Length of generated values.
const GENERATED_LENGTH: u32 = 32;
/// Characters left out of generated passwords: RDS refuses `"`, `@` and `/`
/// in passwords, and quotes and backslashes break shell and connection
/// strings.
const EXCLUDED_PASSWORD_CHARACTERS: &str = "\"@/\\'";

/// The export names of the secrets `secrets` (plus `db-credentials` when
/// `database_credentials`), in order.
pub fn exports(secrets: &[&str], database_credentials: bool) -> Vec<String> {
    let mut names: Vec<String> = secrets.iter().map(|s| format!("{s}-secret-arn")).collect();
    if database_credentials {
        names.push(format!("{}-secret-arn", config::DB_CREDENTIALS));
    }
    names.push("kms-key-arn".into());
    names
}

/// Render a secrets stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let settings = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} Secrets Manager secret(s), KMS-encrypted",
            ctx.name(&ctx.stack),
            settings.secrets.len()
        ),
    );
    add_key(&mut template, ctx);
    let retention = aws::retain_if(ctx.is_production());
    for secret in &settings.secrets {
        add_secret(&mut template, ctx, &settings, secret, retention);
        template.export(
            &format!("{}-secret-arn", secret.key),
            cfn::reference(&secret.logical_id),
            &format!("ARN of the {} secret", secret.key),
        );
    }
    template.export(
        "kms-key-arn",
        cfn::get_att(KEY, "Arn"),
        "ARN of the KMS key encrypting the secrets",
    );
    Ok(template)
}

/// The key outlives the stack: retained secrets (production) are
/// unreadable without it.
fn add_key(template: &mut Template, ctx: &Context) {
    let alias = ctx.name(&ctx.stack);
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &alias,
            description: format!("Encrypts the secrets of {alias}"),
            // Whoever may read or write a secret (a Secrets Manager
            // permission) may use the key for it, and only through Secrets
            // Manager, as with its AWS-managed key.
            statements: vec![aws::key_use_via_service(
                "AccountUsesTheKeyThroughSecretsManager",
                &[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "secretsmanager",
            )],
        },
        DeletionPolicy::Retain,
    );
}

fn add_secret(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    secret: &Secret,
    retention: DeletionPolicy,
) {
    let (description, generate) = match &settings.database_username {
        Some(username) if secret.is_database_credentials() => (
            format!("Credentials of database user {username}; the password is generated"),
            json!({
                // serde_json escapes the name, so the template is valid JSON
                // whatever it holds.
                "SecretStringTemplate": json!({ "username": username }).to_string(),
                "GenerateStringKey": "password",
                "PasswordLength": GENERATED_LENGTH,
                "ExcludeCharacters": EXCLUDED_PASSWORD_CHARACTERS,
            }),
        ),
        _ => (
            format!(
                "{}: application secret; replace the generated bootstrap value with the real one",
                secret.key
            ),
            json!({
                "SecretStringTemplate": "{}",
                "GenerateStringKey": "bootstrap",
                "PasswordLength": GENERATED_LENGTH,
                "ExcludePunctuation": true,
            }),
        ),
    };
    let properties: Value = json!({
        "Name": secret.name,
        "Description": description,
        "KmsKeyId": cfn::get_att(KEY, "Arn"),
        "GenerateSecretString": generate,
        "Tags": ctx.tags(),
    });
    template.resource(
        &secret.logical_id,
        Resource::new("AWS::SecretsManager::Secret", properties).retain_as(retention),
    );
}

strata_sdk::module! {
    name: "secrets",
    description: "Secrets Manager secrets (application config, optional generated database credentials), encrypted with a rotating KMS key",
    config: Config,
    render: render,
}
