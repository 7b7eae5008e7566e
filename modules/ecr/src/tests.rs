//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resource, resources};
use strata_sdk::{Rendered, Severity, Value};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "ecr");

fn repository<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &resource(rendered, id)["Properties"]
}

fn lifecycle(rendered: &Rendered, id: &str) -> Value {
    let text = repository(rendered, id)["LifecyclePolicy"]["LifecyclePolicyText"]
        .as_str()
        .expect("policy text");
    serde_json_from(text)
}

fn serde_json_from(text: &str) -> Value {
    strata_sdk::serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn renders_an_empty_table_with_the_api_repository() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 1);
    let api = repository(&rendered, "ApiRepository");
    assert_eq!(api["RepositoryName"], "acme-test-api");
    assert_eq!(api["ImageTagMutability"], "MUTABLE");
    assert_eq!(api["ImageScanningConfiguration"]["ScanOnPush"], true);
    assert_eq!(api["EncryptionConfiguration"]["EncryptionType"], "AES256");
    assert_eq!(api["EmptyOnDelete"], true);
    assert!(rendered.warnings.is_empty());
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(
        &rendered,
        &test_ctx(),
        &[
            "api-repository-uri",
            "api-repository-arn",
            "api-repository-name",
        ],
    );
    assert_eq!(rendered.exports, exports(&["api"]));
    testing::assert_output_values(
        &rendered,
        &[
            (
                "ApiRepositoryUri",
                r#"{"Fn::GetAtt":["ApiRepository","RepositoryUri"]}"#,
            ),
            (
                "ApiRepositoryArn",
                r#"{"Fn::GetAtt":["ApiRepository","Arn"]}"#,
            ),
            ("ApiRepositoryName", r#"{"Ref":"ApiRepository"}"#),
        ],
    );
}

#[test]
fn writes_separators_as_hyphens_in_export_names() {
    let rendered = rendered(r#"{"repositories": ["api", "team/worker.v2"]}"#);
    assert_eq!(rendered.exports, exports(&["api", "team-worker-v2"]));
    let worker = repository(&rendered, "TeamWorkerV2Repository");
    assert_eq!(worker["RepositoryName"], "acme-test-team/worker.v2");
}

#[test]
fn imports_nothing() {
    assert!(rendered("{}").imports.is_empty());
}

#[test]
fn expires_untagged_images_and_keeps_the_last_images() {
    let rendered = rendered(r#"{"keep_last_images": 50, "untagged_expiry_days": 3}"#);
    let policy = lifecycle(&rendered, "ApiRepository");
    let rules = policy["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["rulePriority"], 1);
    assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
    assert_eq!(rules[0]["selection"]["countType"], "sinceImagePushed");
    assert_eq!(rules[0]["selection"]["countUnit"], "days");
    assert_eq!(rules[0]["selection"]["countNumber"], 3);
    assert_eq!(rules[1]["rulePriority"], 2);
    assert_eq!(rules[1]["selection"]["tagStatus"], "any");
    assert_eq!(rules[1]["selection"]["countType"], "imageCountMoreThan");
    assert_eq!(rules[1]["selection"]["countNumber"], 50);
    assert_eq!(rules[1]["action"]["type"], "expire");
}

#[test]
fn makes_tags_immutable_and_retains_repositories_in_production() {
    let rendered = rendered_in(&production_ctx(), "{}");
    let resource = resource(&rendered, "ApiRepository");
    assert_eq!(resource["DeletionPolicy"], "Retain");
    assert_eq!(resource["UpdateReplacePolicy"], "Retain");
    assert_eq!(resource["Properties"]["ImageTagMutability"], "IMMUTABLE");
    assert_eq!(resource["Properties"]["EmptyOnDelete"], false);
    assert!(rendered.warnings.is_empty());
}

#[test]
fn deletes_repositories_with_their_images_outside_production() {
    let rendered = rendered("{}");
    let resource = resource(&rendered, "ApiRepository");
    assert_eq!(resource["DeletionPolicy"], "Delete");
    assert_eq!(resource["UpdateReplacePolicy"], "Delete");
}

#[test]
fn lets_explicit_mutability_win_and_warns_about_mutable_tags_in_production() {
    let rendered = rendered_in(&production_ctx(), r#"{"image_tag_mutability": "MUTABLE"}"#);
    assert_eq!(
        repository(&rendered, "ApiRepository")["ImageTagMutability"],
        "MUTABLE"
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "image_tag_mutability");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
    let dev = self::rendered(r#"{"image_tag_mutability": "IMMUTABLE"}"#);
    assert_eq!(
        repository(&dev, "ApiRepository")["ImageTagMutability"],
        "IMMUTABLE"
    );
}

#[test]
fn encrypts_with_the_aws_managed_kms_key_when_asked() {
    let rendered = rendered(r#"{"kms": true, "scan_on_push": false}"#);
    let api = repository(&rendered, "ApiRepository");
    assert_eq!(api["EncryptionConfiguration"]["EncryptionType"], "KMS");
    assert!(api["EncryptionConfiguration"].get("KmsKey").is_none());
    assert_eq!(api["ImageScanningConfiguration"]["ScanOnPush"], false);
}

#[test]
fn tags_every_taggable_resource() {
    let config = r#"{"repositories": ["api", "worker"]}"#;
    assert_tagged_in(&test_ctx(), config);
    assert_tagged_in(&production_ctx(), config);
}

#[test]
fn suggests_the_mutability_meant_by_a_typo() {
    for (typo, meant) in [
        ("immutable", "IMMUTABLE"),
        ("IMUTABLE", "IMMUTABLE"),
        ("mutable", "MUTABLE"),
    ] {
        let error = error_at(
            &format!(r#"{{"image_tag_mutability": "{typo}"}}"#),
            "image_tag_mutability",
        );
        assert_eq!(
            error.message,
            format!("`{typo}` is not an image tag mutability")
        );
        assert_eq!(
            error.help.as_deref(),
            Some(format!("did you mean `{meant}`?").as_str())
        );
    }
    let error = error_at(
        r#"{"image_tag_mutability": "frozen"}"#,
        "image_tag_mutability",
    );
    assert_eq!(error.help.as_deref(), Some("use `IMMUTABLE` or `MUTABLE`"));
}

#[test]
fn rejects_an_empty_repository_list() {
    error_at(r#"{"repositories": []}"#, "repositories");
}

#[test]
fn rejects_names_ecr_would_refuse_at_their_index() {
    for name in ["Api", "api/", "a//b", "a..b", "-api", "my api", ""] {
        let error = error_at(
            &format!(r#"{{"repositories": ["ok", "{name}"]}}"#),
            "repositories.1",
        );
        assert_eq!(
            error.message,
            format!("`{name}` is not an ECR repository name")
        );
    }
    let error = error_at(r#"{"repositories": ["My API"]}"#, "repositories.0");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("e.g. `my-api`"),
        "{:?}",
        error.help
    );
}

#[test]
fn rejects_a_repository_listed_twice() {
    let error = error_at(r#"{"repositories": ["api", "api"]}"#, "repositories.1");
    assert_eq!(error.message, "repository `api` is listed twice");
}

#[test]
fn rejects_repositories_that_would_share_export_names() {
    let error = error_at(
        r#"{"repositories": ["team/api", "team-api"]}"#,
        "repositories.1",
    );
    assert!(
        error.message.contains("`team-api-repository-*`"),
        "{}",
        error.message
    );
}

#[test]
fn rejects_a_repository_name_longer_than_ecr_allows() {
    let name = format!("{}/{}", "a".repeat(200), "b".repeat(50));
    error_at(
        &format!(r#"{{"repositories": ["{name}"]}}"#),
        "repositories.0",
    );
}

#[test]
fn rejects_keeping_no_images_or_too_many() {
    error_at(r#"{"keep_last_images": 0}"#, "keep_last_images");
    error_at(r#"{"keep_last_images": 1001}"#, "keep_last_images");
}

#[test]
fn rejects_expiring_untagged_images_on_push() {
    error_at(r#"{"untagged_expiry_days": 0}"#, "untagged_expiry_days");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &production_ctx(),
        r#"{"repositories": ["Bad", "ok", "ok"], "image_tag_mutability": "immutable",
            "keep_last_images": 0, "untagged_expiry_days": 0}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "repositories.0",
            "repositories.2",
            "image_tag_mutability",
            "keep_last_images",
            "untagged_expiry_days",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"scan_on_pushes": true}"#, "scan_on_pushes");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"keep_last_images": "30"}"#, "keep_last_images");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(6);
}
