//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resources, schema};
use strata_sdk::{Context, Diagnostic, Rendered, Severity, Value};

use crate::{Config, exports, render};

fn test_ctx() -> Context {
    Context::for_tests("secrets")
}

fn production_ctx() -> Context {
    testing::production_context("secrets")
}

fn rendered_in(ctx: &Context, config: &str) -> Rendered {
    testing::rendered::<Config>(ctx, config, render)
}

fn rendered(config: &str) -> Rendered {
    rendered_in(&test_ctx(), config)
}

fn errors(config: &str) -> Vec<Diagnostic> {
    testing::errors::<Config>(&test_ctx(), config, render)
}

/// The single error of a config, asserting it is at `path`.
fn error_at(config: &str, path: &str) -> Diagnostic {
    testing::single_error(errors(config), path)
}

fn resource<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &rendered.template["Resources"][id]
}

fn properties<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &resource(rendered, id)["Properties"]
}

#[test]
fn renders_an_empty_table_with_the_app_config_secret() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 3);
    let secret = properties(&rendered, "AppConfigSecret");
    assert_eq!(secret["Name"], "acme-test-app-config");
    let generate = &secret["GenerateSecretString"];
    assert_eq!(generate["SecretStringTemplate"], "{}");
    assert_eq!(generate["GenerateStringKey"], "bootstrap");
    assert!(secret.get("SecretString").is_none());
    assert!(rendered.warnings.is_empty());
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    assert_eq!(rendered.exports, ["app-config-secret-arn", "kms-key-arn"]);
    assert_eq!(rendered.exports, exports(&["app-config"], false));
    let outputs = rendered.template["Outputs"].as_object().expect("outputs");
    assert_eq!(outputs.len(), 2);
    assert_eq!(
        outputs["AppConfigSecretArn"]["Export"]["Name"],
        "acme-test-secrets-app-config-secret-arn"
    );
    assert_eq!(
        outputs["AppConfigSecretArn"]["Value"].to_string(),
        r#"{"Ref":"AppConfigSecret"}"#
    );
    assert_eq!(
        outputs["KmsKeyArn"]["Value"].to_string(),
        r#"{"Fn::GetAtt":["SecretKey","Arn"]}"#
    );
}

#[test]
fn exports_every_listed_secret_and_the_database_credentials() {
    let rendered =
        rendered(r#"{"secrets": ["app-config", "stripe"], "database_credentials": true}"#);
    assert_eq!(
        rendered.exports,
        [
            "app-config-secret-arn",
            "stripe-secret-arn",
            "db-credentials-secret-arn",
            "kms-key-arn"
        ]
    );
    assert_eq!(rendered.exports, exports(&["app-config", "stripe"], true));
    assert_eq!(resources(&rendered).count(), 5);
}

#[test]
fn imports_nothing() {
    assert!(rendered("{}").imports.is_empty());
}

#[test]
fn generates_database_credentials_without_putting_them_in_the_template() {
    let rendered = rendered(r#"{"database_credentials": true, "database_username": "api_user"}"#);
    let secret = properties(&rendered, "DbCredentialsSecret");
    assert_eq!(secret["Name"], "acme-test-db-credentials");
    let generate = &secret["GenerateSecretString"];
    assert_eq!(
        generate["SecretStringTemplate"],
        r#"{"username":"api_user"}"#
    );
    assert_eq!(generate["GenerateStringKey"], "password");
    assert_eq!(generate["PasswordLength"], 32);
    assert_eq!(generate["ExcludeCharacters"], "\"@/\\'");
    assert!(secret.get("SecretString").is_none());
}

#[test]
fn encrypts_secrets_with_a_rotating_retained_key_usable_through_secrets_manager() {
    let rendered = rendered("{}");
    let key = resource(&rendered, "SecretKey");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    assert_eq!(key["UpdateReplacePolicy"], "Retain");
    let via = &key["Properties"]["KeyPolicy"]["Statement"][1]["Condition"]["StringEquals"];
    assert_eq!(
        via["kms:ViaService"].to_string(),
        r#"{"Fn::Sub":"secretsmanager.${AWS::Region}.amazonaws.com"}"#
    );
    assert_eq!(via["kms:CallerAccount"]["Ref"], "AWS::AccountId");
    assert_eq!(
        properties(&rendered, "SecretKeyAlias")["AliasName"],
        "alias/acme-test-secrets"
    );
    assert_eq!(
        properties(&rendered, "AppConfigSecret")["KmsKeyId"].to_string(),
        r#"{"Fn::GetAtt":["SecretKey","Arn"]}"#
    );
}

#[test]
fn retains_secrets_in_production_only() {
    let config = r#"{"database_credentials": true}"#;
    let dev = rendered(config);
    let prod = rendered_in(&production_ctx(), config);
    for id in ["AppConfigSecret", "DbCredentialsSecret"] {
        assert_eq!(resource(&dev, id)["DeletionPolicy"], "Delete");
        assert_eq!(resource(&dev, id)["UpdateReplacePolicy"], "Delete");
        assert_eq!(resource(&prod, id)["DeletionPolicy"], "Retain");
        assert_eq!(resource(&prod, id)["UpdateReplacePolicy"], "Retain");
    }
}

#[test]
fn creates_only_database_credentials_when_no_secrets_are_listed() {
    let rendered = rendered(r#"{"secrets": [], "database_credentials": true}"#);
    assert_eq!(
        rendered.exports,
        ["db-credentials-secret-arn", "kms-key-arn"]
    );
}

#[test]
fn tags_every_taggable_resource() {
    let config = r#"{"database_credentials": true}"#;
    testing::assert_tagged(&rendered(config), &test_ctx());
    testing::assert_tagged(&rendered_in(&production_ctx(), config), &production_ctx());
}

#[test]
fn rejects_nothing_to_create() {
    error_at(r#"{"secrets": []}"#, "secrets");
}

#[test]
fn rejects_invalid_secret_names_at_their_index() {
    for name in [
        "App",
        "1app",
        "app_config",
        "app-",
        "a--b",
        "app/config",
        "",
    ] {
        let error = error_at(&format!(r#"{{"secrets": ["ok", "{name}"]}}"#), "secrets.1");
        assert!(
            error
                .message
                .starts_with(&format!("`{name}` is not a secret name")),
            "{}",
            error.message
        );
    }
    error_at(
        &format!(r#"{{"secrets": ["{}"]}}"#, "s".repeat(41)),
        "secrets.0",
    );
}

#[test]
fn rejects_a_secret_listed_twice() {
    let error = error_at(r#"{"secrets": ["a", "a"]}"#, "secrets.1");
    assert_eq!(error.message, "secret `a` is listed twice");
}

#[test]
fn rejects_secrets_that_would_share_a_logical_id() {
    error_at(r#"{"secrets": ["v2", "v-2"]}"#, "secrets.1");
}

#[test]
fn rejects_listing_db_credentials_when_it_is_generated() {
    error_at(
        r#"{"secrets": ["app-config", "db-credentials"], "database_credentials": true}"#,
        "secrets.1",
    );
    rendered(r#"{"secrets": ["db-credentials"]}"#);
}

#[test]
fn rejects_invalid_and_reserved_database_usernames() {
    for name in ["1app", "app-user", "", "app user"] {
        let error = error_at(
            &format!(r#"{{"database_credentials": true, "database_username": "{name}"}}"#),
            "database_username",
        );
        assert_eq!(
            error.message,
            format!("`{name}` is not a valid database user name")
        );
    }
    for name in ["postgres", "Admin", "root"] {
        let error = error_at(
            &format!(r#"{{"database_credentials": true, "database_username": "{name}"}}"#),
            "database_username",
        );
        assert!(error.message.contains("reserved"), "{}", error.message);
    }
}

#[test]
fn ignores_the_database_username_without_database_credentials() {
    rendered(r#"{"database_username": "postgres"}"#);
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"secrets": ["Bad", "ok", "ok", "db-credentials"], "database_credentials": true,
            "database_username": "9"}"#,
    );
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["secrets.0", "secrets.2", "secrets.3", "database_username"]
    );
    assert!(errors.iter().all(|e| e.severity == Severity::Error));
}

#[test]
fn rejects_unknown_keys() {
    let errors = errors(r#"{"recovery_window_days": 7}"#);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "recovery_window_days");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    let errors = errors(r#"{"database_credentials": "yes"}"#);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "database_credentials");
}

#[test]
fn describes_every_option_in_the_schema() {
    let schema = schema::<Config>();
    let properties = schema["properties"].as_object().expect("properties");
    assert_eq!(properties.len(), 3);
    for (key, property) in properties {
        assert!(
            property["description"].is_string(),
            "{key} has no description"
        );
    }
}
