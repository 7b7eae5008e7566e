//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::Context;
use strata_sdk::testing::{
    self, count_of, has_resource, import_value, properties, resource, resources,
};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "auth");

/// A web client with the hosted UI, a server client without OAuth, a
/// prefix domain and two groups.
const FULL: &str = r#"{
    "clients": [
        {"name": "web", "callback_urls": ["https://app.example.com/callback", "http://localhost:3000/callback"],
         "logout_urls": ["https://app.example.com/"]},
        {"name": "backend", "generate_secret": true, "oauth_flows": [], "oauth_scopes": []}
    ],
    "domain": {},
    "groups": [{"name": "admin", "description": "Operators", "precedence": 1}, {"name": "test"}]
}"#;

#[test]
fn renders_an_empty_table_as_a_user_pool_signing_in_by_email() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 1);
    let pool = properties(&rendered, "UserPool");
    assert_eq!(pool["UserPoolName"], "acme-test-auth");
    assert_eq!(pool["UsernameAttributes"].to_string(), r#"["email"]"#);
    assert_eq!(pool["AutoVerifiedAttributes"].to_string(), r#"["email"]"#);
    assert_eq!(pool["MfaConfiguration"], "OPTIONAL");
    assert_eq!(pool["EnabledMfas"].to_string(), r#"["SOFTWARE_TOKEN_MFA"]"#);
    assert_eq!(
        pool["AccountRecoverySetting"]["RecoveryMechanisms"].to_string(),
        r#"[{"Name":"verified_email","Priority":1}]"#
    );
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        false
    );
    assert_eq!(pool["DeletionProtection"], "INACTIVE");
    assert_eq!(resource(&rendered, "UserPool")["DeletionPolicy"], "Delete");
    assert!(rendered.warnings.is_empty());
}

#[test]
fn defaults_to_a_strong_password_policy() {
    let rendered = rendered("{}");
    let policy = &properties(&rendered, "UserPool")["Policies"]["PasswordPolicy"];
    assert_eq!(policy["MinimumLength"], 12);
    for rule in [
        "RequireLowercase",
        "RequireUppercase",
        "RequireNumbers",
        "RequireSymbols",
    ] {
        assert_eq!(policy[rule], true, "{rule}");
    }
    assert_eq!(policy["TemporaryPasswordValidityDays"], 7);
}

#[test]
fn protects_and_retains_the_pool_in_production() {
    let prod = rendered_in(&production_ctx(), "{}");
    assert_eq!(
        properties(&prod, "UserPool")["DeletionProtection"],
        "ACTIVE"
    );
    let pool = resource(&prod, "UserPool");
    assert_eq!(pool["DeletionPolicy"], "Retain");
    assert_eq!(pool["UpdateReplacePolicy"], "Retain");
    let error = error_in(
        &production_ctx(),
        r#"{"deletion_protection": false}"#,
        "deletion_protection",
    );
    assert!(error.message.contains("always"), "{}", error.message);
    let protected = rendered(r#"{"deletion_protection": true}"#);
    assert_eq!(
        properties(&protected, "UserPool")["DeletionProtection"],
        "ACTIVE"
    );
}

#[test]
fn sets_mfa_recovery_and_sign_up_as_configured() {
    let off = rendered(
        r#"{"mfa": "off", "account_recovery": "admin-only", "self_sign_up": false, "email_as_username": false}"#,
    );
    let pool = properties(&off, "UserPool");
    assert_eq!(pool["MfaConfiguration"], "OFF");
    assert!(pool.get("EnabledMfas").is_none());
    assert!(pool.get("UsernameAttributes").is_none());
    assert_eq!(
        pool["AccountRecoverySetting"]["RecoveryMechanisms"][0]["Name"],
        "admin_only"
    );
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    let required = rendered(r#"{"mfa": "required"}"#);
    assert_eq!(properties(&required, "UserPool")["MfaConfiguration"], "ON");
}

#[test]
fn creates_app_clients_with_oauth_and_token_lifetimes() {
    let rendered = rendered(FULL);
    let web = properties(&rendered, "WebClient");
    assert_eq!(web["ClientName"], "acme-test-web");
    assert_eq!(web["UserPoolId"].to_string(), r#"{"Ref":"UserPool"}"#);
    assert_eq!(web["GenerateSecret"], false);
    assert_eq!(web["AllowedOAuthFlowsUserPoolClient"], true);
    assert_eq!(web["AllowedOAuthFlows"].to_string(), r#"["code"]"#);
    assert_eq!(
        web["AllowedOAuthScopes"].to_string(),
        r#"["openid","email","profile"]"#
    );
    assert_eq!(web["CallbackURLs"][1], "http://localhost:3000/callback");
    assert_eq!(web["LogoutURLs"][0], "https://app.example.com/");
    assert_eq!(web["AccessTokenValidity"], 60);
    assert_eq!(web["RefreshTokenValidity"], 30);
    assert_eq!(web["TokenValidityUnits"]["RefreshToken"], "days");
    assert_eq!(web["PreventUserExistenceErrors"], "ENABLED");
    let backend = properties(&rendered, "BackendClient");
    assert_eq!(backend["GenerateSecret"], true);
    assert_eq!(backend["AllowedOAuthFlowsUserPoolClient"], false);
    assert!(backend.get("AllowedOAuthFlows").is_none());
    assert!(backend.get("CallbackURLs").is_none());
}

#[test]
fn adds_a_prefix_domain_named_after_the_stack() {
    let full = rendered(FULL);
    let domain = properties(&full, "UserPoolDomain");
    assert_eq!(domain["Domain"], "acme-test-auth");
    assert!(domain.get("CustomDomainConfig").is_none());
    testing::assert_output_values(
        &full,
        &[(
            "Domain",
            r#"{"Fn::Sub":"acme-test-auth.auth.${AWS::Region}.amazoncognito.com"}"#,
        )],
    );
    let named = rendered(r#"{"domain": {"prefix": "acme-login"}}"#);
    assert_eq!(properties(&named, "UserPoolDomain")["Domain"], "acme-login");
}

#[test]
fn adds_a_custom_domain_with_the_certificate_stacks_certificate() {
    let rendered = rendered(r#"{"domain": {"custom_domain": "auth.example.com"}}"#);
    let domain = properties(&rendered, "UserPoolDomain");
    assert_eq!(domain["Domain"], "auth.example.com");
    assert_eq!(
        domain["CustomDomainConfig"]["CertificateArn"].to_string(),
        import_value(&test_ctx(), "certificate", "certificate-arn")
    );
    testing::assert_exports(&rendered, &test_ctx(), &exports(&[], Some(true)));
    testing::assert_output_values(
        &rendered,
        &[
            ("Domain", r#""auth.example.com""#),
            (
                "DomainCloudfrontName",
                r#"{"Fn::GetAtt":["UserPoolDomain","CloudFrontDistribution"]}"#,
            ),
        ],
    );
    testing::assert_imports(&rendered, &[("certificate", "certificate-arn")]);
}

#[test]
fn refuses_a_custom_domain_outside_us_east_1() {
    let ctx = Context {
        region: "eu-west-1".into(),
        ..test_ctx()
    };
    let error = error_in(
        &ctx,
        r#"{"domain": {"custom_domain": "auth.example.com"}}"#,
        "domain.custom_domain",
    );
    assert!(error.message.contains("us-east-1"), "{}", error.message);
}

#[test]
fn creates_groups() {
    let rendered = rendered(FULL);
    assert_eq!(count_of(&rendered, "AWS::Cognito::UserPoolGroup"), 2);
    let admin = properties(&rendered, "AdminGroup");
    assert_eq!(admin["GroupName"], "admin");
    assert_eq!(admin["Description"], "Operators");
    assert_eq!(admin["Precedence"], 1);
    assert!(
        properties(&rendered, "TestGroup")
            .get("Precedence")
            .is_none()
    );
}

#[test]
fn exports_the_pool_each_client_and_the_domain() {
    let rendered = rendered(FULL);
    testing::assert_exports(
        &rendered,
        &test_ctx(),
        &exports(&["web", "backend"], Some(false)),
    );
    assert_eq!(
        rendered.exports,
        [
            "user-pool-id",
            "user-pool-arn",
            "user-pool-provider-url",
            "client-web-id",
            "client-backend-id",
            "domain"
        ]
    );
    testing::assert_output_values(
        &rendered,
        &[
            ("UserPoolId", r#"{"Ref":"UserPool"}"#),
            ("UserPoolArn", r#"{"Fn::GetAtt":["UserPool","Arn"]}"#),
            (
                "UserPoolProviderUrl",
                r#"{"Fn::GetAtt":["UserPool","ProviderURL"]}"#,
            ),
            ("ClientWebId", r#"{"Ref":"WebClient"}"#),
        ],
    );
    assert!(rendered.imports.is_empty());
}

#[test]
fn exports_exactly_the_contract_names() {
    testing::assert_exports(&rendered("{}"), &test_ctx(), &exports(&[], None));
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), FULL);
    let rendered = assert_tagged_in(&production_ctx(), FULL);
    assert!(properties(&rendered, "UserPool")["UserPoolTags"].is_object());
    assert!(!has_resource(&rendered, "Tags"));
}

#[test]
fn rejects_a_weak_password_policy() {
    error_at(
        r#"{"password": {"minimum_length": 6}}"#,
        "password.minimum_length",
    );
    error_at(
        r#"{"password": {"temporary_password_validity_days": 0}}"#,
        "password.temporary_password_validity_days",
    );
    error_at(r#"{"mfa": "sms"}"#, "mfa");
}

#[test]
fn rejects_oauth_without_callbacks_or_a_domain() {
    let error = error_at(
        r#"{"clients": [{"name": "web"}], "domain": {}}"#,
        "clients.0.callback_urls",
    );
    assert!(
        error.message.contains("no callback URL"),
        "{}",
        error.message
    );
    error_at(
        r#"{"clients": [{"name": "web", "callback_urls": ["https://app.example.com/cb"]}]}"#,
        "clients.0.oauth_flows",
    );
    error_at(
        r#"{"clients": [{"name": "api", "oauth_flows": [], "callback_urls": ["https://a.example.com/"]}]}"#,
        "clients.0.callback_urls",
    );
}

#[test]
fn rejects_flows_scopes_and_urls_cognito_would_refuse() {
    let errors = errors(
        r#"{"domain": {}, "clients": [{"name": "web",
            "oauth_flows": ["code", "client_credentials"],
            "oauth_scopes": ["email", "profil"],
            "callback_urls": ["http://app.example.com/cb", "https://app.example.com/#x", "app"],
            "logout_urls": ["https://"]}]}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "clients.0.oauth_flows.1",
            "clients.0.oauth_scopes.1",
            "clients.0.oauth_scopes",
            "clients.0.callback_urls.0",
            "clients.0.callback_urls.1",
            "clients.0.callback_urls.2",
            "clients.0.logout_urls.0",
        ],
    );
    assert_eq!(errors[1].help.as_deref(), Some("did you mean `profile`?"));
}

#[test]
fn rejects_token_lifetimes_outside_cognitos_limits() {
    let oauth_off = r#""oauth_flows": [], "oauth_scopes": []"#;
    error_at(
        &format!(r#"{{"clients": [{{"name": "a", {oauth_off}, "access_token_minutes": 2}}]}}"#),
        "clients.0.access_token_minutes",
    );
    error_at(
        &format!(r#"{{"clients": [{{"name": "a", {oauth_off}, "id_token_minutes": 1441}}]}}"#),
        "clients.0.id_token_minutes",
    );
    error_at(
        &format!(r#"{{"clients": [{{"name": "a", {oauth_off}, "refresh_token_days": 0}}]}}"#),
        "clients.0.refresh_token_days",
    );
    error_at(
        &format!(
            r#"{{"clients": [{{"name": "a", {oauth_off}, "refresh_token_days": 1, "access_token_minutes": 1440}}]}}"#
        ),
        "clients.0.refresh_token_days",
    );
}

#[test]
fn rejects_bad_client_and_group_names() {
    let oauth_off = r#""oauth_flows": [], "oauth_scopes": []"#;
    error_at(
        &format!(r#"{{"clients": [{{"name": "Web", {oauth_off}}}]}}"#),
        "clients.0.name",
    );
    let error = error_at(
        &format!(
            r#"{{"clients": [{{"name": "web", {oauth_off}}}, {{"name": "web", {oauth_off}}}]}}"#
        ),
        "clients.1.name",
    );
    assert_eq!(error.message, "client `web` is listed twice");
    error_at(r#"{"groups": [{"name": "Admins"}]}"#, "groups.0.name");
    error_at(
        r#"{"groups": [{"name": "a"}, {"name": "a"}]}"#,
        "groups.1.name",
    );
}

#[test]
fn rejects_domain_prefixes_cognito_refuses() {
    let error = error_at(
        r#"{"domain": {"prefix": "my-cognito-login"}}"#,
        "domain.prefix",
    );
    assert!(error.message.contains("`cognito`"), "{}", error.message);
    error_at(r#"{"domain": {"prefix": "Login"}}"#, "domain.prefix");
    let ctx = Context {
        project: "aws-shop".into(),
        ..test_ctx()
    };
    let error = error_in(&ctx, r#"{"domain": {}}"#, "domain");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("domain.prefix"),
        "{:?}",
        error.help
    );
    error_at(
        r#"{"domain": {"prefix": "login", "custom_domain": "auth.example.com"}}"#,
        "domain.custom_domain",
    );
    error_at(
        r#"{"domain": {"custom_domain": "Auth.example.com"}}"#,
        "domain.custom_domain",
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"password": {"minimum_length": 4}, "clients": [{"name": "Bad", "oauth_flows": []}], "groups": [{"name": "X"}],
            "domain": {"prefix": "-x"}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "password.minimum_length",
            "domain.prefix",
            "clients.0.name",
            "groups.0.name",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"mfa_configuration": "ON"}"#, "mfa_configuration");
    error_at(
        r#"{"clients": [{"name": "a", "secret": true}]}"#,
        "clients.0.secret",
    );
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(9);
}
