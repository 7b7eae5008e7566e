//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resources};
use strata_sdk::{Context, Rendered, Severity, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "s3");

fn bucket<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &rendered.template["Resources"][id]["Properties"]
}

fn rule<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &bucket(rendered, id)["LifecycleConfiguration"]["Rules"][0]
}

fn transitions(rendered: &Rendered, id: &str) -> Vec<(String, u64)> {
    rule(rendered, id)["Transitions"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|t| {
                    (
                        t["StorageClass"].as_str().unwrap_or_default().to_owned(),
                        t["TransitionInDays"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(c, d)| ((*c).to_owned(), *d)).collect()
}

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 6);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(
        transitions(&rendered, "LogsBucket"),
        pairs(&[("STANDARD_IA", 30)])
    );
    assert_eq!(rule(&rendered, "LogsBucket")["ExpirationInDays"], 90);
    assert_eq!(
        transitions(&rendered, "BackupsBucket"),
        pairs(&[("GLACIER", 90)])
    );
    assert_eq!(rule(&rendered, "BackupsBucket")["ExpirationInDays"], 365);
    let assets = rule(&rendered, "AssetsBucket");
    assert_eq!(assets["NoncurrentVersionExpiration"]["NoncurrentDays"], 90);
    assert_eq!(assets["ExpiredObjectDeleteMarker"], true);
    assert!(assets.get("ExpirationInDays").is_none());
    assert!(assets.get("Transitions").is_none());
}

#[test]
fn keeps_logs_a_year_and_backups_seven_years_in_production() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert_eq!(resources(&rendered).count(), 6);
    assert_eq!(
        transitions(&rendered, "LogsBucket"),
        pairs(&[("STANDARD_IA", 30), ("GLACIER", 90)])
    );
    assert_eq!(rule(&rendered, "LogsBucket")["ExpirationInDays"], 365);
    assert_eq!(rule(&rendered, "BackupsBucket")["ExpirationInDays"], 2555);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn lets_explicit_retention_win_in_production() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"log_retention_days": 400, "backup_retention_days": 30}"#,
    );
    assert_eq!(rule(&rendered, "LogsBucket")["ExpirationInDays"], 400);
    assert_eq!(rule(&rendered, "BackupsBucket")["ExpirationInDays"], 30);
    assert!(transitions(&rendered, "BackupsBucket").is_empty());
}

#[test]
fn leaves_out_transitions_that_would_come_after_expiration() {
    let rendered = rendered(r#"{"log_retention_days": 7}"#);
    let logs = rule(&rendered, "LogsBucket");
    assert!(logs.get("Transitions").is_none(), "{logs}");
    assert_eq!(logs["ExpirationInDays"], 7);
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            ("LogsBucketName", r#"{"Ref":"LogsBucket"}"#),
            (
                "BackupsBucketArn",
                r#"{"Fn::GetAtt":["BackupsBucket","Arn"]}"#,
            ),
        ],
    );
}

#[test]
fn imports_nothing() {
    assert!(rendered("{}").imports.is_empty());
}

#[test]
fn names_buckets_by_project_environment_and_account() {
    let rendered = rendered("{}");
    assert_eq!(
        bucket(&rendered, "LogsBucket")["BucketName"].to_string(),
        r#"{"Fn::Sub":"acme-test-logs-${AWS::AccountId}"}"#
    );
    assert_eq!(
        bucket(&rendered, "AssetsBucket")["BucketName"].to_string(),
        r#"{"Fn::Sub":"acme-test-assets-${AWS::AccountId}"}"#
    );
}

#[test]
fn appends_a_literal_suffix_when_given() {
    let rendered = rendered(r#"{"name_suffix": "eu1"}"#);
    assert_eq!(
        bucket(&rendered, "BackupsBucket")["BucketName"],
        "acme-test-backups-eu1"
    );
}

#[test]
fn blocks_public_access_and_encrypts_with_s3_managed_keys_by_default() {
    let rendered = rendered("{}");
    for id in ["LogsBucket", "AssetsBucket", "BackupsBucket"] {
        let properties = bucket(&rendered, id);
        for setting in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(
                properties["PublicAccessBlockConfiguration"][setting], true,
                "{id}"
            );
        }
        let encryption = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        assert_eq!(
            encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "AES256"
        );
        assert_eq!(properties["VersioningConfiguration"]["Status"], "Enabled");
    }
    assert!(
        !rendered.template["Resources"]
            .as_object()
            .expect("resources")
            .contains_key("BucketKey")
    );
}

#[test]
fn enforces_bucket_ownership_except_on_the_logs_bucket() {
    let rendered = rendered("{}");
    let ownership = |id: &str| {
        bucket(&rendered, id)["OwnershipControls"]["Rules"][0]["ObjectOwnership"].clone()
    };
    assert_eq!(ownership("LogsBucket"), "BucketOwnerPreferred");
    assert_eq!(ownership("AssetsBucket"), "BucketOwnerEnforced");
    assert_eq!(ownership("BackupsBucket"), "BucketOwnerEnforced");
}

#[test]
fn encrypts_assets_and_backups_with_a_rotating_key_when_asked() {
    let rendered = rendered(r#"{"kms": true}"#);
    assert_eq!(resources(&rendered).count(), 8);
    let key = &rendered.template["Resources"]["BucketKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    assert_eq!(key["UpdateReplacePolicy"], "Retain");
    assert_eq!(
        rendered.template["Resources"]["BucketKeyAlias"]["Properties"]["AliasName"],
        "alias/acme-test-s3"
    );
    for id in ["AssetsBucket", "BackupsBucket"] {
        let encryption =
            &bucket(&rendered, id)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        assert_eq!(
            encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "aws:kms"
        );
        assert_eq!(
            encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"].to_string(),
            r#"{"Fn::GetAtt":["BucketKey","Arn"]}"#
        );
        assert_eq!(encryption["BucketKeyEnabled"], true);
    }
    let logs = &bucket(&rendered, "LogsBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        [0];
    assert_eq!(
        logs["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
}

#[test]
fn retains_every_bucket_in_every_environment() {
    for ctx in [test_ctx(), production_ctx()] {
        let rendered = rendered_in(&ctx, "{}");
        for id in ["LogsBucket", "AssetsBucket", "BackupsBucket"] {
            let resource = &rendered.template["Resources"][id];
            assert_eq!(resource["DeletionPolicy"], "Retain", "{id}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{id}");
        }
    }
}

#[test]
fn denies_plain_http_on_every_bucket() {
    let rendered = rendered("{}");
    for id in ["LogsBucket", "AssetsBucket", "BackupsBucket"] {
        let policy = &rendered.template["Resources"][format!("{id}Policy")]["Properties"];
        assert_eq!(policy["Bucket"]["Ref"], id);
        let deny = &policy["PolicyDocument"]["Statement"][0];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Principal"], "*");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(
            deny["Resource"][1].to_string(),
            format!(r#"{{"Fn::Sub":"${{{id}.Arn}}/*"}}"#)
        );
    }
}

#[test]
fn lets_load_balancers_deliver_access_logs_under_alb() {
    let rendered = rendered("{}");
    let statements = &rendered.template["Resources"]["LogsBucketPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"];
    let allow = &statements[1];
    assert_eq!(allow["Effect"], "Allow");
    assert_eq!(
        allow["Principal"]["Service"],
        "logdelivery.elasticloadbalancing.amazonaws.com"
    );
    assert_eq!(allow["Action"], "s3:PutObject");
    assert_eq!(
        allow["Resource"].to_string(),
        r#"{"Fn::Sub":"${LogsBucket.Arn}/alb/*"}"#
    );
    let assets = &rendered.template["Resources"]["AssetsBucketPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"];
    assert_eq!(assets.as_array().map(Vec::len), Some(1));
}

fn logs_policy_statements(rendered: &Rendered) -> Vec<Value> {
    rendered.template["Resources"]["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn in_region(region: &str) -> Context {
    Context {
        region: region.into(),
        ..test_ctx()
    }
}

#[test]
fn also_lets_the_regional_load_balancer_account_deliver_logs_in_older_regions() {
    let statements = logs_policy_statements(&rendered_in(&in_region("us-east-1"), "{}"));
    assert_eq!(statements.len(), 4, "{statements:#?}");
    assert_eq!(
        statements[1]["Principal"]["Service"],
        "logdelivery.elasticloadbalancing.amazonaws.com"
    );
    let account = &statements[2];
    assert_eq!(account["Effect"], "Allow");
    assert_eq!(
        account["Principal"]["AWS"],
        "arn:aws:iam::127311923021:root"
    );
    assert_eq!(account["Action"], "s3:PutObject");
    assert_eq!(
        account["Resource"].to_string(),
        r#"{"Fn::Sub":"${LogsBucket.Arn}/alb/*"}"#
    );
}

#[test]
fn lets_only_the_log_delivery_service_deliver_logs_in_newer_regions() {
    let statements = logs_policy_statements(&rendered_in(&in_region("ap-southeast-5"), "{}"));
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert_eq!(
        statements[1]["Principal"]["Service"],
        "logdelivery.elasticloadbalancing.amazonaws.com"
    );
    assert!(
        statements
            .iter()
            .all(|statement| statement["Principal"].get("AWS").is_none())
    );
}

#[test]
fn names_the_load_balancer_account_of_each_older_region() {
    assert_eq!(
        crate::elb_account_root("eu-west-1").as_deref(),
        Some("arn:aws:iam::156460612806:root")
    );
    assert_eq!(
        crate::elb_account_root("us-gov-west-1").as_deref(),
        Some("arn:aws-us-gov:iam::048591011584:root")
    );
    assert_eq!(crate::elb_account_root("ap-southeast-5"), None);
    assert_eq!(crate::elb_account_root("mx-central-1"), None);
}

#[test]
fn suspends_versioning_when_turned_off() {
    let rendered = rendered(r#"{"versioning": false}"#);
    assert_eq!(
        bucket(&rendered, "AssetsBucket")["VersioningConfiguration"]["Status"],
        "Suspended"
    );
}

#[test]
fn warns_when_versioning_is_off_in_production() {
    let rendered = rendered_in(&production_ctx(), r#"{"versioning": false}"#);
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "versioning");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
}

#[test]
fn expires_previous_versions_and_abandoned_uploads_everywhere() {
    let rendered = rendered(r#"{"noncurrent_version_expiration_days": 30}"#);
    for id in ["LogsBucket", "AssetsBucket", "BackupsBucket"] {
        let rule = rule(&rendered, id);
        assert_eq!(rule["Status"], "Enabled");
        assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 30);
        assert_eq!(
            rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
            7
        );
    }
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), r#"{"kms": true}"#);
    assert_tagged_in(&production_ctx(), "{}");
}

#[test]
fn rejects_an_ia_transition_before_day_thirty() {
    let error = error_at(r#"{"transition_to_ia_days": 20}"#, "transition_to_ia_days");
    assert!(error.message.contains("STANDARD_IA"), "{}", error.message);
    assert!(error.message.contains("`20`"), "{}", error.message);
}

#[test]
fn rejects_a_glacier_transition_less_than_thirty_days_after_ia() {
    let error = error_at(
        r#"{"transition_to_ia_days": 60, "transition_to_glacier_days": 80}"#,
        "transition_to_glacier_days",
    );
    assert!(
        error.message.contains("after STANDARD_IA"),
        "{}",
        error.message
    );
    assert_eq!(
        error.help.as_deref(),
        Some("S3 keeps objects in STANDARD_IA 30 days before moving them on; use at least `90`")
    );
}

#[test]
fn rejects_a_glacier_transition_before_ia() {
    error_at(
        r#"{"transition_to_glacier_days": 10}"#,
        "transition_to_glacier_days",
    );
}

#[test]
fn rejects_backups_kept_less_than_a_week() {
    let error = error_at(r#"{"backup_retention_days": 3}"#, "backup_retention_days");
    assert_eq!(
        error.message,
        "backups must be kept at least 7 days, got `3`"
    );
}

#[test]
fn rejects_zero_day_retention() {
    error_at(r#"{"log_retention_days": 0}"#, "log_retention_days");
    error_at(
        r#"{"noncurrent_version_expiration_days": 0}"#,
        "noncurrent_version_expiration_days",
    );
}

#[test]
fn rejects_suffixes_s3_would_refuse() {
    for suffix in ["EU1", "-eu1", "eu1-", "eu--1", "eu_1", "eu.1"] {
        let error = error_at(&format!(r#"{{"name_suffix": "{suffix}"}}"#), "name_suffix");
        assert_eq!(
            error.message,
            format!("`{suffix}` is not a valid bucket name suffix")
        );
    }
    let error = error_at(r#"{"name_suffix": "My_Suffix"}"#, "name_suffix");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("e.g. `my-suffix`"),
        "{:?}",
        error.help
    );
}

#[test]
fn rejects_a_suffix_that_makes_a_name_longer_than_sixty_three() {
    let suffix = "a".repeat(46);
    let error = error_at(&format!(r#"{{"name_suffix": "{suffix}"}}"#), "name_suffix");
    assert!(error.message.contains("64 characters"), "{}", error.message);
    assert_eq!(
        error.help.as_deref(),
        Some("use a suffix of at most 45 characters")
    );
    rendered(&format!(r#"{{"name_suffix": "{}"}}"#, "a".repeat(45)));
}

#[test]
fn rejects_a_prefix_too_long_for_the_account_id() {
    let ctx = Context {
        project: "a-very-long-project-name-for-s3".into(),
        environment: "long-environment".into(),
        ..test_ctx()
    };
    let error = error_in(&ctx, "{}", "");
    assert!(error.message.contains("S3 allows 63"), "{}", error.message);
    rendered_in(&ctx, r#"{"name_suffix": "x1"}"#);
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"name_suffix": "Bad", "transition_to_ia_days": 1, "log_retention_days": 0,
            "backup_retention_days": 1, "noncurrent_version_expiration_days": 0}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "name_suffix",
            "transition_to_ia_days",
            "log_retention_days",
            "backup_retention_days",
            "noncurrent_version_expiration_days",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"retention_days": 7}"#, "retention_days");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"kms": "yes"}"#, "kms");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(8);
}

#[test]
fn logs_access_to_the_assets_and_backups_buckets_in_the_logs_bucket() {
    let rendered = rendered("{}");
    for bucket in ["Assets", "Backups"] {
        let logging = &rendered.template["Resources"][format!("{bucket}Bucket").as_str()]["Properties"]
            ["LoggingConfiguration"];
        assert_eq!(
            logging["DestinationBucketName"].to_string(),
            r#"{"Ref":"LogsBucket"}"#
        );
        assert_eq!(
            logging["LogFilePrefix"],
            format!("s3-access/{}/", bucket.to_lowercase())
        );
    }
    assert!(
        rendered.template["Resources"]["LogsBucket"]["Properties"]
            .get("LoggingConfiguration")
            .is_none()
    );
    let statements = logs_policy_statements(&rendered);
    let delivery = statements.last().expect("a statement");
    assert_eq!(delivery["Principal"]["Service"], "logging.s3.amazonaws.com");
    assert_eq!(
        delivery["Resource"].to_string(),
        r#"{"Fn::Sub":"${LogsBucket.Arn}/s3-access/*"}"#
    );
}
