//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resources};
use strata_sdk::{Context, Rendered, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "waf");

fn context_in(environment: &str) -> Context {
    Context {
        environment: environment.into(),
        ..test_ctx()
    }
}

fn web_acl(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["WebAcl"]["Properties"]
}

fn rule_names(rendered: &Rendered) -> Vec<String> {
    web_acl(rendered)["Rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| rule["Name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn ids(rendered: &Rendered) -> Vec<&str> {
    resources(rendered).map(|(id, _)| id.as_str()).collect()
}

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    assert_eq!(
        ids(&rendered),
        ["WafLogGroup", "WafLogging", "WebAcl", "WebAclAssociation"]
    );
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let acl = web_acl(&rendered);
    assert_eq!(acl["Name"], "acme-test-web-acl");
    assert_eq!(acl["Scope"], "REGIONAL");
    assert_eq!(acl["DefaultAction"].to_string(), r#"{"Allow":{}}"#);
    assert_eq!(acl["VisibilityConfig"]["MetricName"], "acme-test-web-acl");
    assert_eq!(
        rule_names(&rendered),
        [
            "rate-limit",
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesSQLiRuleSet",
        ]
    );
    let log_group = &rendered.template["Resources"]["WafLogGroup"];
    assert_eq!(log_group["Properties"]["RetentionInDays"], 7);
    assert_eq!(log_group["DeletionPolicy"], "Delete");
}

#[test]
fn blocks_ips_above_the_rate_limit() {
    let rendered = rendered(r#"{"rate_limit": 500}"#);
    let rule = &web_acl(&rendered)["Rules"][0];
    assert_eq!(rule["Priority"], 0);
    assert_eq!(rule["Action"].to_string(), r#"{"Block":{}}"#);
    let statement = &rule["Statement"]["RateBasedStatement"];
    assert_eq!(statement["Limit"], 500);
    assert_eq!(statement["AggregateKeyType"], "IP");
    assert_eq!(statement["EvaluationWindowSec"], 300);
    assert_eq!(
        rule["VisibilityConfig"]["MetricName"],
        "acme-test-web-acl-rate-limit"
    );
}

#[test]
fn applies_managed_groups_with_their_own_actions() {
    let rendered = rendered("{}");
    let rule = &web_acl(&rendered)["Rules"][1];
    assert_eq!(rule["Priority"], 10);
    assert_eq!(rule["OverrideAction"].to_string(), r#"{"None":{}}"#);
    assert!(rule.get("Action").is_none());
    assert_eq!(
        rule["Statement"].to_string(),
        r#"{"ManagedRuleGroupStatement":{"Name":"AWSManagedRulesCommonRuleSet","VendorName":"AWS"}}"#
    );
    assert_eq!(
        rule["VisibilityConfig"]["MetricName"],
        "acme-test-web-acl-AWSManagedRulesCommonRuleSet"
    );
}

#[test]
fn blocks_countries_when_given() {
    let rendered = rendered(
        r#"{"blocked_countries": ["RU", "KP"], "managed_rule_groups": ["AWSManagedRulesCommonRuleSet"]}"#,
    );
    assert_eq!(
        rule_names(&rendered),
        [
            "rate-limit",
            "blocked-countries",
            "AWSManagedRulesCommonRuleSet"
        ]
    );
    let rule = &web_acl(&rendered)["Rules"][1];
    assert_eq!(rule["Priority"], 1);
    assert_eq!(rule["Action"].to_string(), r#"{"Block":{}}"#);
    assert_eq!(
        rule["Statement"].to_string(),
        r#"{"GeoMatchStatement":{"CountryCodes":["RU","KP"]}}"#
    );
    assert_eq!(web_acl(&rendered)["Rules"][2]["Priority"], 10);
}

#[test]
fn configures_bot_control_inspection() {
    let rendered = rendered(r#"{"managed_rule_groups": ["AWSManagedRulesBotControlRuleSet"]}"#);
    let statement = &web_acl(&rendered)["Rules"][1]["Statement"]["ManagedRuleGroupStatement"];
    assert_eq!(
        statement["ManagedRuleGroupConfigs"].to_string(),
        r#"[{"AWSManagedRulesBotControlRuleSet":{"InspectionLevel":"COMMON"}}]"#
    );
}

#[test]
fn associates_the_load_balancer_of_the_compute_stack() {
    let rendered = rendered(r#"{"compute_stack": "app"}"#);
    testing::assert_imports(&rendered, &[("app", "alb-arn")]);
    let association = &rendered.template["Resources"]["WebAclAssociation"]["Properties"];
    assert_eq!(
        association["ResourceArn"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-app-alb-arn"}"#
    );
    assert_eq!(
        association["WebACLArn"].to_string(),
        r#"{"Fn::GetAtt":["WebAcl","Arn"]}"#
    );
}

#[test]
fn leaves_the_web_acl_unassociated_without_a_compute_stack() {
    let rendered = rendered(r#"{"compute_stack": ""}"#);
    assert!(rendered.imports.is_empty());
    assert_eq!(ids(&rendered), ["WafLogGroup", "WafLogging", "WebAcl"]);
}

#[test]
fn logs_to_a_log_group_waf_accepts() {
    let rendered = rendered("{}");
    assert_eq!(
        rendered.template["Resources"]["WafLogGroup"]["Properties"]["LogGroupName"],
        "aws-waf-logs-acme-test"
    );
    let logging = &rendered.template["Resources"]["WafLogging"]["Properties"];
    assert_eq!(
        logging["ResourceArn"].to_string(),
        r#"{"Fn::GetAtt":["WebAcl","Arn"]}"#
    );
    assert_eq!(
        logging["LogDestinationConfigs"].to_string(),
        r#"[{"Fn::Sub":"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${WafLogGroup}"}]"#
    );
    assert_eq!(
        logging["RedactedFields"].to_string(),
        r#"[{"SingleHeader":{"Name":"authorization"}},{"SingleHeader":{"Name":"cookie"}}]"#
    );
}

#[test]
fn keeps_logs_by_environment() {
    for (environment, days) in [
        ("dev", 7),
        ("staging", 30),
        ("development", 7),
        ("prod", 90),
        ("production", 90),
    ] {
        let rendered = rendered_in(&context_in(environment), "{}");
        assert_eq!(
            rendered.template["Resources"]["WafLogGroup"]["Properties"]["RetentionInDays"], days,
            "{environment}"
        );
    }
    let rendered = rendered(r#"{"log_retention_days": 365}"#);
    assert_eq!(
        rendered.template["Resources"]["WafLogGroup"]["Properties"]["RetentionInDays"],
        365
    );
}

#[test]
fn retains_the_log_group_in_production() {
    let rendered = rendered_in(&production_ctx(), "{}");
    let log_group = &rendered.template["Resources"]["WafLogGroup"];
    assert_eq!(log_group["DeletionPolicy"], "Retain");
    assert_eq!(log_group["UpdateReplacePolicy"], "Retain");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn renders_no_logging_when_turned_off() {
    let rendered = rendered(r#"{"logging": false}"#);
    assert_eq!(ids(&rendered), ["WebAcl", "WebAclAssociation"]);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn warns_about_logging_off_in_production_and_an_unused_retention() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"logging": false, "log_retention_days": 30}"#,
    );
    let paths: Vec<&str> = rendered.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["log_retention_days", "logging"]);
}

#[test]
fn warns_about_no_managed_rules_in_production() {
    let rendered = rendered_in(&production_ctx(), r#"{"managed_rule_groups": []}"#);
    assert_eq!(rule_names(&rendered), ["rate-limit"]);
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "managed_rule_groups");
}

#[test]
fn warns_when_the_rules_exceed_the_included_capacity() {
    let rendered = rendered(
        r#"{"managed_rule_groups": ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesLinuxRuleSet", "AWSManagedRulesWindowsRuleSet",
            "AWSManagedRulesPHPRuleSet", "AWSManagedRulesAdminProtectionRuleSet"]}"#,
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(
        rendered.warnings[0].message,
        "the rules use 1702 capacity units (WCUs), above the 1500 the base price includes"
    );
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            ("WebAclArn", r#"{"Fn::GetAtt":["WebAcl","Arn"]}"#),
            ("WebAclId", r#"{"Fn::GetAtt":["WebAcl","Id"]}"#),
        ],
    );
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
    assert_tagged_in(&production_ctx(), "{}");
}

#[test]
fn rejects_a_rate_limit_below_one_hundred() {
    let error = error_at(r#"{"rate_limit": 99}"#, "rate_limit");
    assert_eq!(error.message, "`99` requests per 5 minutes is below 100");
}

#[test]
fn rejects_a_rate_limit_above_wafs_limit() {
    error_at(r#"{"rate_limit": 2000000001}"#, "rate_limit");
}

#[test]
fn suggests_the_managed_group_meant() {
    let error = error_at(
        r#"{"managed_rule_groups": ["AWSManagedRulesCommonRuleset"]}"#,
        "managed_rule_groups.0",
    );
    assert_eq!(
        error.message,
        "`AWSManagedRulesCommonRuleset` is not an AWS managed rule group this module knows"
    );
    assert_eq!(
        error.help.as_deref(),
        Some("did you mean `AWSManagedRulesCommonRuleSet`?")
    );
    let error = error_at(
        r#"{"managed_rule_groups": ["SQLiRuleSet"]}"#,
        "managed_rule_groups.0",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("did you mean `AWSManagedRulesSQLiRuleSet`?")
    );
    let error = error_at(
        r#"{"managed_rule_groups": ["MyOwnRules"]}"#,
        "managed_rule_groups.0",
    );
    assert!(
        error
            .help
            .unwrap_or_default()
            .starts_with("use an AWS managed rule group")
    );
}

#[test]
fn rejects_groups_that_need_configuration() {
    let error = error_at(
        r#"{"managed_rule_groups": ["AWSManagedRulesATPRuleSet"]}"#,
        "managed_rule_groups.0",
    );
    assert!(error.message.contains("needs configuration"));
}

#[test]
fn rejects_a_group_listed_twice() {
    error_at(
        r#"{"managed_rule_groups": ["AWSManagedRulesSQLiRuleSet", "AWSManagedRulesSQLiRuleSet"]}"#,
        "managed_rule_groups.1",
    );
}

#[test]
fn rejects_country_codes_that_are_not_uppercase_iso_codes() {
    let error = error_at(r#"{"blocked_countries": ["ru"]}"#, "blocked_countries.0");
    assert_eq!(error.help.as_deref(), Some("write `RU`"));
    let error = error_at(r#"{"blocked_countries": ["UK"]}"#, "blocked_countries.0");
    assert_eq!(
        error.help.as_deref(),
        Some("the United Kingdom's code is `GB`")
    );
    for code in ["XX", "RUS", ""] {
        error_at(
            &format!(r#"{{"blocked_countries": ["{code}"]}}"#),
            "blocked_countries.0",
        );
    }
    error_at(
        r#"{"blocked_countries": ["RU", "RU"]}"#,
        "blocked_countries.1",
    );
}

#[test]
fn rejects_a_log_retention_cloudwatch_does_not_offer() {
    let error = error_at(r#"{"log_retention_days": 10}"#, "log_retention_days");
    assert_eq!(
        error.help.as_deref(),
        Some("CloudWatch Logs keeps logs for set periods; use `7` or `14`")
    );
}

#[test]
fn rejects_a_compute_stack_that_is_not_a_stack_name() {
    let error = error_at(r#"{"compute_stack": "Compute"}"#, "compute_stack");
    assert!(error.help.unwrap_or_default().ends_with("e.g. `compute`"));
}

#[test]
fn rejects_a_name_waf_would_refuse() {
    let ctx = Context {
        project: "p".repeat(90),
        ..test_ctx()
    };
    let errors = testing::errors::<Config>(&ctx, "{}", render);
    let error = testing::single_error(errors, "");
    assert!(error.message.contains("cannot name a web ACL"));
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"compute_stack": "Bad", "rate_limit": 5, "managed_rule_groups": ["Nope"],
            "blocked_countries": ["zz"], "log_retention_days": 8}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "compute_stack",
            "rate_limit",
            "managed_rule_groups.0",
            "blocked_countries.0",
            "log_retention_days",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"rate_limits": 100}"#, "rate_limits");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(7);
}

// Per-rule overrides (the template review's finding: bodies over 8 KB were
// blocked with no way out).

#[test]
fn overrides_the_action_of_single_rules_of_a_managed_group() {
    let rendered = rendered(
        r#"{"rule_overrides": {"AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY": "count", "NoUserAgent_HEADER": "challenge"}}}"#,
    );
    let rules = &rendered.template["Resources"]["WebAcl"]["Properties"]["Rules"];
    let common = rules
        .as_array()
        .into_iter()
        .flatten()
        .find(|rule| rule["Name"] == "AWSManagedRulesCommonRuleSet")
        .expect("the common rule set");
    assert_eq!(
        common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"].to_string(),
        r#"[{"ActionToUse":{"Challenge":{}},"Name":"NoUserAgent_HEADER"},{"ActionToUse":{"Count":{}},"Name":"SizeRestrictions_BODY"}]"#
    );
    assert_eq!(common["OverrideAction"].to_string(), r#"{"None":{}}"#);
    let others = rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["Name"] != "AWSManagedRulesCommonRuleSet");
    for rule in others {
        assert!(
            rule["Statement"]["ManagedRuleGroupStatement"]
                .get("RuleActionOverrides")
                .is_none()
        );
    }
}

#[test]
fn rejects_overrides_of_unlisted_groups_and_unknown_actions() {
    let error = error_at(
        r#"{"rule_overrides": {"AWSManagedRulesLinuxRuleSet": {"LFI_URIPATH": "count"}}}"#,
        "rule_overrides.AWSManagedRulesLinuxRuleSet",
    );
    assert_eq!(
        error.message,
        "`AWSManagedRulesLinuxRuleSet` is not in `managed_rule_groups`"
    );
    let error = error_at(
        r#"{"rule_overrides": {"AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY": "ignore"}}}"#,
        "rule_overrides.AWSManagedRulesCommonRuleSet.SizeRestrictions_BODY",
    );
    assert_eq!(error.message, "`ignore` is not a rule action");
}
