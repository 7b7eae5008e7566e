//! The `cognito` stack type: a Cognito user pool and the app clients that
//! sign users in to it.
//!
//! - [`config`] validates the stack's table: the password policy, MFA and
//!   recovery, each client's OAuth settings and token lifetimes, the hosted
//!   UI's domain, the groups.
//! - This file adds the resources: the user pool (email sign-in and
//!   verification, deletion protection and retention in production), one
//!   `AWS::Cognito::UserPoolClient` per client, the domain, the groups.
//!
//! It imports nothing, except a custom domain's `certificate-arn` from the
//! certificate stack. Services import the pool and client ids it exports
//! (see [`exports`]), e.g. as `{ import = "auth.user-pool-id" }` in an
//! environment variable; an HTTP API's JWT authorizer reads
//! `user-pool-provider-url` as its issuer.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{AccountRecovery, HostedDomain, Mfa, Settings};

const USER_POOL: &str = "UserPool";
const DOMAIN: &str = "UserPoolDomain";

/// The export names of a config's clients (by short name) with or without
/// a domain (`custom`: a custom domain), in order.
pub fn exports(clients: &[&str], domain: Option<bool>) -> Vec<String> {
    let mut names: Vec<String> = ["user-pool-id", "user-pool-arn", "user-pool-provider-url"]
        .map(String::from)
        .to_vec();
    names.extend(clients.iter().map(|name| format!("client-{name}-id")));
    if let Some(custom) = domain {
        names.push("domain".into());
        if custom {
            names.push("domain-cloudfront-name".into());
        }
    }
    names
}

/// Render a cognito stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: Cognito user pool with {} app client(s)",
            ctx.name(&ctx.stack),
            settings.clients.len()
        ),
    );
    template.warn_all(warnings);
    add_user_pool(&mut template, ctx, &settings);
    add_clients(&mut template, ctx, &settings);
    add_groups(&mut template, &settings);

    template.export(
        "user-pool-id",
        cfn::reference(USER_POOL),
        "Id of the Cognito user pool",
    );
    template.export(
        "user-pool-arn",
        cfn::get_att(USER_POOL, "Arn"),
        "ARN of the Cognito user pool",
    );
    template.export(
        "user-pool-provider-url",
        cfn::get_att(USER_POOL, "ProviderURL"),
        "The user pool's issuer, `cognito-idp.{region}.amazonaws.com/{id}` (JWT authorizers)",
    );
    for (logical_id, client) in &settings.clients {
        template.export(
            &format!("client-{}-id", client.name),
            cfn::reference(logical_id),
            &format!("Id of the {} app client", client.name),
        );
    }
    if let Some(domain) = &settings.domain {
        add_domain(&mut template, domain);
    }
    Ok(template)
}

fn add_user_pool(template: &mut Template, ctx: &Context, settings: &Settings) {
    let password = &settings.password;
    let recovery = match settings.account_recovery {
        AccountRecovery::Email => "verified_email",
        AccountRecovery::AdminOnly => "admin_only",
    };
    let mut properties = json!({
        "UserPoolName": ctx.name(&ctx.stack),
        "AutoVerifiedAttributes": ["email"],
        // A changed address takes effect only once verified; until then
        // users keep signing in with the old one.
        "UserAttributeUpdateSettings": { "AttributesRequireVerificationBeforeUpdate": ["email"] },
        "Schema": [{
            "Name": "email",
            "AttributeDataType": "String",
            "Required": true,
            "Mutable": true,
        }],
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": password.minimum_length,
                "RequireLowercase": password.require_lowercase,
                "RequireUppercase": password.require_uppercase,
                "RequireNumbers": password.require_numbers,
                "RequireSymbols": password.require_symbols,
                "TemporaryPasswordValidityDays": password.temporary_password_validity_days,
            },
        },
        "MfaConfiguration": match settings.mfa {
            Mfa::Off => "OFF",
            Mfa::Optional => "OPTIONAL",
            Mfa::Required => "ON",
        },
        "AccountRecoverySetting": {
            "RecoveryMechanisms": [{ "Name": recovery, "Priority": 1 }],
        },
        "AdminCreateUserConfig": { "AllowAdminCreateUserOnly": !settings.self_sign_up },
        "VerificationMessageTemplate": { "DefaultEmailOption": "CONFIRM_WITH_CODE" },
        "DeletionProtection": if settings.deletion_protection { "ACTIVE" } else { "INACTIVE" },
        "UserPoolTags": ctx.tag_map(),
    });
    if settings.mfa != Mfa::Off {
        properties["EnabledMfas"] = json!(["SOFTWARE_TOKEN_MFA"]);
    }
    if settings.email_as_username {
        properties["UsernameAttributes"] = json!(["email"]);
    }
    properties["UsernameConfiguration"] = json!({ "CaseSensitive": false });
    template.resource(
        USER_POOL,
        Resource::new("AWS::Cognito::UserPool", properties)
            .retain_as(aws::retain_if(ctx.is_production())),
    );
}

fn add_clients(template: &mut Template, ctx: &Context, settings: &Settings) {
    for (logical_id, client) in &settings.clients {
        let oauth = !client.oauth_flows.is_empty();
        let mut properties = json!({
            "ClientName": ctx.name(&client.name),
            "UserPoolId": cfn::reference(USER_POOL),
            "GenerateSecret": client.generate_secret,
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": true,
            "AccessTokenValidity": client.access_token_minutes,
            "IdTokenValidity": client.id_token_minutes,
            "RefreshTokenValidity": client.refresh_token_days,
            "TokenValidityUnits": {
                "AccessToken": "minutes",
                "IdToken": "minutes",
                "RefreshToken": "days",
            },
            "SupportedIdentityProviders": ["COGNITO"],
            "AllowedOAuthFlowsUserPoolClient": oauth,
        });
        if oauth {
            properties["AllowedOAuthFlows"] = json!(client.oauth_flows);
            properties["AllowedOAuthScopes"] = json!(client.oauth_scopes);
            properties["CallbackURLs"] = json!(client.callback_urls);
            if !client.logout_urls.is_empty() {
                properties["LogoutURLs"] = json!(client.logout_urls);
            }
        }
        template.resource(
            logical_id,
            Resource::new("AWS::Cognito::UserPoolClient", properties),
        );
    }
}

fn add_groups(template: &mut Template, settings: &Settings) {
    for (logical_id, group) in &settings.groups {
        let mut properties = json!({
            "UserPoolId": cfn::reference(USER_POOL),
            "GroupName": group.name,
        });
        if let Some(description) = &group.description {
            properties["Description"] = Value::String(description.clone());
        }
        if let Some(precedence) = group.precedence {
            properties["Precedence"] = precedence.into();
        }
        template.resource(
            logical_id,
            Resource::new("AWS::Cognito::UserPoolGroup", properties),
        );
    }
}

/// The domain and its exports: the prefix domain's full name, or the
/// custom domain and the CloudFront distribution an alias record points at.
fn add_domain(template: &mut Template, domain: &HostedDomain) {
    let mut properties = json!({ "UserPoolId": cfn::reference(USER_POOL) });
    match domain {
        HostedDomain::Prefix(prefix) => {
            properties["Domain"] = Value::String(prefix.clone());
            template.resource(
                DOMAIN,
                Resource::new("AWS::Cognito::UserPoolDomain", properties),
            );
            template.export(
                "domain",
                cfn::sub(&format!("{prefix}.auth.${{AWS::Region}}.amazoncognito.com")),
                "Domain of the hosted UI",
            );
        }
        HostedDomain::Custom {
            domain,
            certificate_stack,
        } => {
            let certificate = template.import(certificate_stack, "certificate-arn");
            properties["Domain"] = Value::String(domain.clone());
            properties["CustomDomainConfig"] = json!({ "CertificateArn": certificate });
            template.resource(
                DOMAIN,
                Resource::new("AWS::Cognito::UserPoolDomain", properties),
            );
            template.export(
                "domain",
                Value::String(domain.clone()),
                "Domain of the hosted UI",
            );
            template.export(
                "domain-cloudfront-name",
                cfn::get_att(DOMAIN, "CloudFrontDistribution"),
                "CloudFront name of the custom domain (the target of its alias record)",
            );
        }
    }
}

strata_sdk::module! {
    name: "cognito",
    description: "Cognito user pool (email sign-in, password policy, MFA, deletion protection in prod) with app clients, hosted-UI domain and groups",
    config: Config,
    render: render,
}
