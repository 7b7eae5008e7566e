//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, properties, resource, resources};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "secrets");

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
    testing::assert_exports(
        &rendered,
        &test_ctx(),
        &["app-config-secret-arn", "kms-key-arn"],
    );
    assert_eq!(rendered.exports, exports(&["app-config"], false));
    testing::assert_output_values(
        &rendered,
        &[
            ("AppConfigSecretArn", r#"{"Ref":"AppConfigSecret"}"#),
            ("KmsKeyArn", r#"{"Fn::GetAtt":["SecretKey","Arn"]}"#),
        ],
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
    assert_tagged_in(&test_ctx(), config);
    assert_tagged_in(&production_ctx(), config);
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
    testing::assert_errors_at(
        &errors,
        &["secrets.0", "secrets.2", "secrets.3", "database_username"],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"recovery_window_days": 7}"#, "recovery_window_days");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"database_credentials": "yes"}"#, "database_credentials");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(3);
}
