//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, error_paths, import_value, properties, resource, resources};

use crate::function::HANDLER;
use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "log-forwarder");

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    // 9, the failure queue, the invoke config and two alarms.
    assert_eq!(resources(&rendered).count(), 13);
    let function = properties(&rendered, "Function");
    assert_eq!(function["FunctionName"], "acme-test-log-forwarder");
    assert_eq!(function["Runtime"], "python3.12");
    assert_eq!(function["Handler"], "index.handler");
    assert_eq!(function["MemorySize"], 256);
    assert_eq!(function["Timeout"], 60);
    assert_eq!(function["TracingConfig"]["Mode"], "Active");
    assert!(function.get("ReservedConcurrentExecutions").is_none());
    let logs = resource(&rendered, "FunctionLogGroup");
    assert_eq!(
        logs["Properties"]["LogGroupName"],
        "/aws/lambda/acme-test-log-forwarder"
    );
    assert_eq!(logs["Properties"]["RetentionInDays"], 7);
    assert_eq!(logs["DeletionPolicy"], "Delete");
    assert_eq!(
        resource(&rendered, "Function")["DependsOn"],
        "FunctionLogGroup"
    );
}

#[test]
fn keeps_production_logs_longer_and_retains_them() {
    let rendered = rendered_in(&production_ctx(), "{}");
    let logs = resource(&rendered, "FunctionLogGroup");
    assert_eq!(logs["Properties"]["RetentionInDays"], 90);
    assert_eq!(logs["DeletionPolicy"], "Retain");
    assert_eq!(logs["UpdateReplacePolicy"], "Retain");
    let mut staging = test_ctx();
    staging.environment = "staging".into();
    let rendered = rendered_in(&staging, "{}");
    assert_eq!(
        properties(&rendered, "FunctionLogGroup")["RetentionInDays"],
        30
    );
}

#[test]
fn lets_explicit_settings_win() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"memory_mb": 512, "timeout_seconds": 120, "log_retention_days": 14, "reserved_concurrency": 5,
            "filter_pattern": "?ERROR ?WARN", "prefix": "logs/ecs"}"#,
    );
    let function = properties(&rendered, "Function");
    assert_eq!(function["MemorySize"], 512);
    assert_eq!(function["Timeout"], 120);
    assert_eq!(function["ReservedConcurrentExecutions"], 5);
    assert_eq!(function["Environment"]["Variables"]["PREFIX"], "logs/ecs");
    assert_eq!(
        properties(&rendered, "FunctionLogGroup")["RetentionInDays"],
        14
    );
    assert_eq!(
        properties(&rendered, "ApiSubscriptionFilter")["FilterPattern"],
        "?ERROR ?WARN"
    );
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    let outputs = testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    assert_eq!(
        outputs["FunctionArn"]["Value"].to_string(),
        r#"{"Fn::GetAtt":["Function","Arn"]}"#
    );
}

#[test]
fn imports_the_log_groups_and_the_logs_bucket() {
    let rendered = rendered(r#"{"compute_stack": "app", "s3_stack": "storage"}"#);
    testing::assert_imports(
        &rendered,
        &[
            ("storage", "logs-bucket-name"),
            ("storage", "logs-bucket-arn"),
            ("monitoring", "critical-topic-arn"),
            ("app", "api-log-group-name"),
            ("app", "worker-log-group-name"),
            ("app", "scheduler-log-group-name"),
        ],
    );
}

#[test]
fn subscribes_each_log_group_after_allowing_it_to_invoke() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"services": ["api"]}"#);
    assert_eq!(resources(&rendered).count(), 9);
    let permission = properties(&rendered, "ApiInvokePermission");
    assert_eq!(permission["Principal"], "logs.amazonaws.com");
    assert_eq!(permission["Action"], "lambda:InvokeFunction");
    assert_eq!(
        permission["SourceAccount"].to_string(),
        r#"{"Ref":"AWS::AccountId"}"#
    );
    assert_eq!(
        permission["SourceArn"].to_string(),
        format!(
            r#"{{"Fn::Sub":["arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{LogGroup}}:*",{{"LogGroup":{}}}]}}"#,
            import_value(&ctx, "compute", "api-log-group-name")
        )
    );
    let filter = resource(&rendered, "ApiSubscriptionFilter");
    assert_eq!(filter["DependsOn"], "ApiInvokePermission");
    assert_eq!(
        filter["Properties"]["LogGroupName"].to_string(),
        import_value(&ctx, "compute", "api-log-group-name")
    );
    assert_eq!(
        filter["Properties"]["DestinationArn"].to_string(),
        r#"{"Fn::GetAtt":["Function","Arn"]}"#
    );
    assert_eq!(filter["Properties"]["FilterPattern"], "");
}

#[test]
fn lets_the_role_write_only_its_logs_and_the_prefix() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let role = properties(&rendered, "FunctionRole");
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert!(role.get("ManagedPolicyArns").is_none());
    let statements = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(
        statements[0]["Action"].to_string(),
        r#"["logs:CreateLogStream","logs:PutLogEvents"]"#
    );
    assert_eq!(
        statements[0]["Resource"].to_string(),
        r#"{"Fn::GetAtt":["FunctionLogGroup","Arn"]}"#
    );
    assert_eq!(statements[1]["Action"], "s3:PutObject");
    assert_eq!(
        statements[1]["Resource"].to_string(),
        format!(
            r#"{{"Fn::Join":["",[{},"/forwarded/*"]]}}"#,
            import_value(&ctx, "s3", "logs-bucket-arn")
        )
    );
    assert_eq!(statements[2]["Action"], "sqs:SendMessage");
    assert_eq!(
        statements[2]["Resource"].to_string(),
        r#"{"Fn::GetAtt":["FailureQueue","Arn"]}"#
    );
    assert_eq!(
        statements[3]["Action"].to_string(),
        r#"["xray:PutTraceSegments","xray:PutTelemetryRecords"]"#
    );
    assert_eq!(statements.as_array().map(Vec::len), Some(4));
}

#[test]
fn passes_the_bucket_and_prefix_to_the_inline_handler() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let function = properties(&rendered, "Function");
    assert_eq!(function["Code"]["ZipFile"], HANDLER);
    assert_eq!(
        function["Environment"]["Variables"]["BUCKET"].to_string(),
        import_value(&ctx, "s3", "logs-bucket-name")
    );
    assert_eq!(function["Environment"]["Variables"]["PREFIX"], "forwarded");
    // Inline code is limited to 4096 characters.
    assert!(HANDLER.len() < 4096);
    for needle in [
        "def handler(event, context):",
        "base64.b64decode",
        "gzip.decompress",
        "DATA_MESSAGE",
        "put_object",
        "os.environ[\"BUCKET\"]",
        "os.environ[\"PREFIX\"]",
    ] {
        assert!(HANDLER.contains(needle), "handler lacks {needle}");
    }
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
    assert_tagged_in(&production_ctx(), "{}");
}

#[test]
fn rejects_memory_and_timeouts_lambda_does_not_offer() {
    error_at(r#"{"memory_mb": 64}"#, "memory_mb");
    error_at(r#"{"memory_mb": 20000}"#, "memory_mb");
    error_at(r#"{"timeout_seconds": 0}"#, "timeout_seconds");
    error_at(r#"{"timeout_seconds": 901}"#, "timeout_seconds");
}

#[test]
fn rejects_retention_periods_cloudwatch_does_not_offer() {
    let error = error_at(r#"{"log_retention_days": 100}"#, "log_retention_days");
    assert_eq!(
        error.help.as_deref(),
        Some("CloudWatch Logs keeps logs for set periods; use `90` or `120`")
    );
}

#[test]
fn rejects_a_reserved_concurrency_of_zero() {
    error_at(r#"{"reserved_concurrency": 0}"#, "reserved_concurrency");
}

#[test]
fn rejects_prefixes_that_would_widen_the_grant_or_break_keys() {
    for prefix in [
        "",
        "/forwarded",
        "forwarded/",
        "a//b",
        "logs/*",
        "a/../b",
        "with space",
    ] {
        error_at(&format!(r#"{{"prefix": "{prefix}"}}"#), "prefix");
    }
}

#[test]
fn rejects_a_filter_pattern_longer_than_cloudwatch_takes() {
    let long = "a".repeat(1025);
    error_at(
        &format!(r#"{{"filter_pattern": "{long}"}}"#),
        "filter_pattern",
    );
}

#[test]
fn rejects_missing_repeated_or_malformed_services() {
    error_at(r#"{"services": []}"#, "services");
    error_at(r#"{"services": ["Api"]}"#, "services.0");
    error_at(r#"{"services": ["api", "api"]}"#, "services.1");
    error_at(r#"{"services": ["api-2", "api2"]}"#, "services.1");
}

#[test]
fn rejects_stack_names_that_cannot_be_imported_from() {
    error_at(r#"{"compute_stack": ""}"#, "compute_stack");
    error_at(r#"{"s3_stack": "S3"}"#, "s3_stack");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"compute_stack": "", "s3_stack": "", "services": ["x_y"], "memory_mb": 1, "timeout_seconds": 0,
            "log_retention_days": 2, "reserved_concurrency": 0, "prefix": "/"}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "compute_stack",
            "s3_stack",
            "services.0",
            "memory_mb",
            "timeout_seconds",
            "log_retention_days",
            "reserved_concurrency",
            "prefix",
        ]
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"runtime": "python3.13"}"#, "runtime");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(10);
}

// The template review's findings: a failed batch is kept, and pages.

#[test]
fn sends_a_batch_that_exhausts_its_retries_to_the_failure_queue() {
    let rendered = rendered("{}");
    let config = properties(&rendered, "FunctionInvokeConfig");
    assert_eq!(config["FunctionName"].to_string(), r#"{"Ref":"Function"}"#);
    assert_eq!(config["MaximumRetryAttempts"], 2);
    assert_eq!(
        config["DestinationConfig"]["OnFailure"]["Destination"].to_string(),
        r#"{"Fn::GetAtt":["FailureQueue","Arn"]}"#
    );
    let queue = properties(&rendered, "FailureQueue");
    assert_eq!(queue["QueueName"], "acme-test-log-forwarder-failures");
    assert_eq!(queue["SqsManagedSseEnabled"], true);
}

#[test]
fn pages_the_critical_topic_on_errors_and_failed_batches() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    for (id, metric) in [
        ("ErrorsAlarm", "Errors"),
        ("FailureQueueAlarm", "ApproximateNumberOfMessagesVisible"),
    ] {
        let alarm = properties(&rendered, id);
        assert_eq!(alarm["MetricName"], metric);
        assert_eq!(
            alarm["AlarmActions"].to_string(),
            format!(
                "[{}]",
                import_value(&ctx, "monitoring", "critical-topic-arn")
            )
        );
    }
    let without = rendered_in(&ctx, r#"{"monitoring_stack": ""}"#);
    assert!(without.template["Resources"].get("ErrorsAlarm").is_none());
    assert_eq!(without.warnings.len(), 1);
    assert_eq!(without.warnings[0].path, "monitoring_stack");
}
