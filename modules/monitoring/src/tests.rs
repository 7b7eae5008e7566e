//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, error_paths, ids_of, import_value, properties, resources};
use strata_sdk::{Context, Severity, Value, serde_json};

use crate::topics::{self, subscription_id};
use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "monitoring");

const EMAILS: &str = r#"{"critical_emails": ["oncall@example.com", "lead@example.com"], "warning_emails": ["team@example.com"]}"#;

#[test]
fn renders_an_empty_table_with_every_alarm_and_a_dashboard() {
    let rendered = rendered(r#"{"critical_emails": ["oncall@example.com"]}"#);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    // 15, the two database alarms on storage and memory, the subscription.
    assert_eq!(resources(&rendered).count(), 18);
    let mut alarms = ids_of(&rendered, "AWS::CloudWatch::Alarm");
    alarms.sort();
    assert_eq!(
        alarms,
        [
            "Alb5xxRateAlarm",
            "AlbLatencyP95Alarm",
            "AlbUnhealthyHostsAlarm",
            "ApiRunningTasksAlarm",
            "DbConnectionsAlarm",
            "DbCpuAlarm",
            "DbFreeStorageAlarm",
            "DbFreeableMemoryAlarm",
            "SchedulerRunningTasksAlarm",
            "WorkerRunningTasksAlarm",
        ]
    );
    assert_eq!(
        ids_of(&rendered, "AWS::CloudWatch::Dashboard"),
        ["Dashboard"]
    );
    assert!(ids_of(&rendered, "AWS::CloudTrail::Trail").is_empty());
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    assert_eq!(rendered.exports, exports(true));
    let outputs = testing::assert_exports(
        &rendered,
        &test_ctx(),
        &["critical-topic-arn", "warning-topic-arn", "dashboard-name"],
    );
    assert_eq!(
        outputs["CriticalTopicArn"]["Value"].to_string(),
        r#"{"Ref":"CriticalTopic"}"#
    );
    let without = rendered_in(&test_ctx(), r#"{"dashboard": false}"#);
    assert_eq!(without.exports, ["critical-topic-arn", "warning-topic-arn"]);
    assert!(ids_of(&without, "AWS::CloudWatch::Dashboard").is_empty());
}

#[test]
fn imports_the_dimensions_from_compute_and_the_database() {
    let rendered = rendered("{}");
    testing::assert_imports(
        &rendered,
        &[
            ("compute", "alb-full-name"),
            ("compute", "target-group-full-name"),
            ("compute", "cluster-name"),
            ("compute", "api-service-name"),
            ("compute", "worker-service-name"),
            ("compute", "scheduler-service-name"),
            ("database", "instance-id"),
        ],
    );
}

#[test]
fn imports_an_aurora_cluster_by_its_cluster_id() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"database_engine": "aurora", "database_stack": "db"}"#);
    assert!(
        rendered
            .imports
            .contains(&testing::import("db", "cluster-id"))
    );
    let capacity = properties(&rendered, "DbCapacityAlarm");
    assert_eq!(capacity["MetricName"], "ACUUtilization");
    assert_eq!(capacity["Threshold"], 90);
    assert_eq!(
        capacity["Dimensions"].to_string(),
        format!(
            r#"[{{"Name":"DBClusterIdentifier","Value":{}}}]"#,
            import_value(&ctx, "db", "cluster-id")
        )
    );
    assert_eq!(
        properties(&rendered, "DbCpuAlarm")["Dimensions"][0]["Name"],
        "DBClusterIdentifier"
    );
}

#[test]
fn watches_only_what_is_configured() {
    let rendered = rendered(
        r#"{"load_balancer": false, "services": [], "database_stack": "", "compute_stack": ""}"#,
    );
    assert!(rendered.imports.is_empty());
    assert!(ids_of(&rendered, "AWS::CloudWatch::Alarm").is_empty());
    // The dashboard keeps its header.
    assert_eq!(
        ids_of(&rendered, "AWS::CloudWatch::Dashboard"),
        ["Dashboard"]
    );
}

#[test]
fn encrypts_the_topics_with_a_key_cloudwatch_may_use() {
    let rendered = rendered("{}");
    for (id, name) in [
        ("CriticalTopic", "acme-test-critical"),
        ("WarningTopic", "acme-test-warning"),
    ] {
        let topic = properties(&rendered, id);
        assert_eq!(topic["TopicName"], name);
        assert_eq!(
            topic["KmsMasterKeyId"].to_string(),
            r#"{"Ref":"AlarmTopicKey"}"#
        );
    }
    let key = &rendered.template["Resources"][topics::KEY];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Delete");
    let statement = &key["Properties"]["KeyPolicy"]["Statement"][1];
    assert_eq!(
        statement["Principal"]["Service"],
        "cloudwatch.amazonaws.com"
    );
    assert_eq!(
        statement["Action"].to_string(),
        r#"["kms:Decrypt","kms:GenerateDataKey*"]"#
    );
    let prod = rendered_in(&production_ctx(), EMAILS);
    assert_eq!(
        prod.template["Resources"][topics::KEY]["DeletionPolicy"],
        "Retain"
    );
}

#[test]
fn lets_only_cloudwatch_publish_and_only_over_tls() {
    let rendered = rendered("{}");
    let policy = properties(&rendered, "CriticalTopicPolicy");
    assert_eq!(policy["Topics"].to_string(), r#"[{"Ref":"CriticalTopic"}]"#);
    let statements = &policy["PolicyDocument"]["Statement"];
    assert_eq!(
        statements[0]["Principal"]["Service"],
        "cloudwatch.amazonaws.com"
    );
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
}

#[test]
fn subscribes_each_address_to_its_topic() {
    let rendered = rendered(EMAILS);
    let subscriptions = ids_of(&rendered, "AWS::SNS::Subscription");
    assert_eq!(subscriptions.len(), 3);
    let id = subscription_id(topics::Severity::Critical, "oncall@example.com");
    assert!(id.starts_with("CriticalEmail"), "{id}");
    let subscription = properties(&rendered, &id);
    assert_eq!(subscription["Protocol"], "email");
    assert_eq!(subscription["Endpoint"], "oncall@example.com");
    assert_eq!(
        subscription["TopicArn"].to_string(),
        r#"{"Ref":"CriticalTopic"}"#
    );
    let warning = subscription_id(topics::Severity::Warning, "team@example.com");
    assert_eq!(
        properties(&rendered, &warning)["TopicArn"].to_string(),
        r#"{"Ref":"WarningTopic"}"#
    );
}

#[test]
fn keeps_subscription_ids_when_another_address_goes() {
    let both = rendered(EMAILS);
    let one = rendered(r#"{"critical_emails": ["lead@example.com"]}"#);
    let id = subscription_id(topics::Severity::Critical, "lead@example.com");
    assert!(ids_of(&both, "AWS::SNS::Subscription").contains(&id.as_str()));
    assert_eq!(ids_of(&one, "AWS::SNS::Subscription"), [id]);
}

#[test]
fn alarms_on_p95_latency_at_the_load_balancer() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"latency_p95_seconds": 1.5}"#);
    let alarm = properties(&rendered, "AlbLatencyP95Alarm");
    assert_eq!(alarm["AlarmName"], "acme-test-alb-latency-p95");
    assert_eq!(alarm["Namespace"], "AWS/ApplicationELB");
    assert_eq!(alarm["MetricName"], "TargetResponseTime");
    assert_eq!(alarm["ExtendedStatistic"], "p95");
    assert!(alarm.get("Statistic").is_none());
    assert_eq!(alarm["Threshold"], 1.5);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(
        alarm["Dimensions"].to_string(),
        format!(
            r#"[{{"Name":"LoadBalancer","Value":{}}}]"#,
            import_value(&ctx, "compute", "alb-full-name")
        )
    );
    assert_eq!(
        alarm["AlarmActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    assert_eq!(
        alarm["OKActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    assert_eq!(alarm["EvaluationPeriods"], 2);
    assert_eq!(alarm["DatapointsToAlarm"], 2);
    assert_eq!(alarm["Period"], 300);
}

#[test]
fn alarms_on_the_5xx_rate_with_guarded_metric_math() {
    let rendered = rendered("{}");
    let alarm = properties(&rendered, "Alb5xxRateAlarm");
    assert_eq!(alarm["Threshold"], 5.0);
    let metrics = alarm["Metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 3);
    assert_eq!(
        metrics[0]["MetricStat"]["Metric"]["MetricName"],
        "HTTPCode_Target_5XX_Count"
    );
    assert_eq!(metrics[0]["MetricStat"]["Stat"], "Sum");
    assert_eq!(
        metrics[1]["MetricStat"]["Metric"]["MetricName"],
        "RequestCount"
    );
    assert_eq!(
        metrics[2]["Expression"],
        "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    );
    assert_eq!(metrics[2]["ReturnData"], true);
    assert!(alarm.get("Namespace").is_none());
    assert!(alarm.get("Period").is_none());
}

#[test]
fn alarms_on_unhealthy_hosts_of_the_target_group() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let alarm = properties(&rendered, "AlbUnhealthyHostsAlarm");
    assert_eq!(alarm["MetricName"], "UnHealthyHostCount");
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(
        alarm["Dimensions"].to_string(),
        format!(
            r#"[{{"Name":"TargetGroup","Value":{}}},{{"Name":"LoadBalancer","Value":{}}}]"#,
            import_value(&ctx, "compute", "target-group-full-name"),
            import_value(&ctx, "compute", "alb-full-name")
        )
    );
}

#[test]
fn alarms_when_a_service_runs_fewer_tasks_than_desired() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"services": ["api"]}"#);
    let alarm = properties(&rendered, "ApiRunningTasksAlarm");
    assert_eq!(
        alarm["AlarmActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    let metrics = &alarm["Metrics"];
    assert_eq!(
        metrics[0]["MetricStat"]["Metric"]["Namespace"],
        "ECS/ContainerInsights"
    );
    assert_eq!(
        metrics[0]["MetricStat"]["Metric"]["MetricName"],
        "RunningTaskCount"
    );
    assert_eq!(
        metrics[1]["MetricStat"]["Metric"]["MetricName"],
        "DesiredTaskCount"
    );
    assert_eq!(
        metrics[0]["MetricStat"]["Metric"]["Dimensions"].to_string(),
        format!(
            r#"[{{"Name":"ClusterName","Value":{}}},{{"Name":"ServiceName","Value":{}}}]"#,
            import_value(&ctx, "compute", "cluster-name"),
            import_value(&ctx, "compute", "api-service-name")
        )
    );
    assert_eq!(metrics[2]["Expression"], "desired - running");
    assert_eq!(ids_of(&rendered, "AWS::CloudWatch::Alarm").len(), 8);
}

#[test]
fn warns_about_database_connections_and_cpu() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"db_connections_max": 250, "db_cpu_percent": 70}"#);
    let connections = properties(&rendered, "DbConnectionsAlarm");
    assert_eq!(connections["MetricName"], "DatabaseConnections");
    assert_eq!(connections["Threshold"], 250);
    assert_eq!(
        connections["AlarmActions"].to_string(),
        r#"[{"Ref":"WarningTopic"}]"#
    );
    assert_eq!(
        connections["Dimensions"].to_string(),
        format!(
            r#"[{{"Name":"DBInstanceIdentifier","Value":{}}}]"#,
            import_value(&ctx, "database", "instance-id")
        )
    );
    assert_eq!(properties(&rendered, "DbCpuAlarm")["Threshold"], 70);
    assert!(
        !rendered.template["Resources"]
            .as_object()
            .expect("resources")
            .contains_key("DbCapacityAlarm")
    );
}

#[test]
fn evaluates_every_minute_in_production() {
    let rendered = rendered_in(&production_ctx(), EMAILS);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(properties(&rendered, "DbCpuAlarm")["Period"], 60);
    let explicit = rendered_in(
        &production_ctx(),
        r#"{"period_seconds": 120, "evaluation_periods": 3, "critical_emails": ["a@example.com"]}"#,
    );
    let alarm = properties(&explicit, "DbCpuAlarm");
    assert_eq!(alarm["Period"], 120);
    assert_eq!(alarm["EvaluationPeriods"], 3);
}

#[test]
fn warns_when_production_emails_no_one_about_critical_alarms() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "critical_emails");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
}

#[test]
fn charts_the_imported_dimensions_on_the_dashboard() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"database_engine": "aurora"}"#);
    let dashboard = properties(&rendered, "Dashboard");
    assert_eq!(dashboard["DashboardName"], "acme-test-overview");
    let sub = dashboard["DashboardBody"]["Fn::Sub"]
        .as_array()
        .expect("Fn::Sub with a variable map");
    let body: Value = serde_json::from_str(sub[0].as_str().expect("body text")).expect("JSON body");
    let titles: Vec<&str> = body["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .filter_map(|w| w["properties"]["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Requests",
            "Target response time (s)",
            "5xx responses",
            "Service CPU (%)",
            "Service memory (%)",
            "Running tasks",
            "Database connections",
            "Database CPU (%)",
        ]
    );
    let text = sub[0].as_str().unwrap_or_default();
    for placeholder in [
        "${LoadBalancer}",
        "${Cluster}",
        "${Service0}",
        "${Service2}",
        "${Database}",
        "${AWS::Region}",
        "\"p99\"",
        "ACUUtilization",
        "DBClusterIdentifier",
    ] {
        assert!(text.contains(placeholder), "{placeholder} missing");
    }
    let variables = &sub[1];
    assert_eq!(
        variables["LoadBalancer"].to_string(),
        import_value(&ctx, "compute", "alb-full-name")
    );
    assert_eq!(
        variables["Service1"].to_string(),
        import_value(&ctx, "compute", "worker-service-name")
    );
    assert_eq!(
        variables["Database"].to_string(),
        import_value(&ctx, "database", "cluster-id")
    );
}

#[test]
fn records_api_calls_in_a_retained_encrypted_trail() {
    let rendered = rendered(r#"{"cloudtrail": true, "cloudtrail_retention_days": 730}"#);
    // 20, two more database alarms, the trail's log group and its role.
    assert_eq!(resources(&rendered).count(), 24);
    let trail = &rendered.template["Resources"]["Trail"];
    assert_eq!(trail["DependsOn"], "TrailBucketPolicy");
    let trail = &trail["Properties"];
    assert_eq!(trail["TrailName"], "acme-test-cloudtrail");
    assert_eq!(trail["IsMultiRegionTrail"], true);
    assert_eq!(trail["EnableLogFileValidation"], true);
    assert_eq!(trail["IsLogging"], true);
    assert_eq!(
        trail["KMSKeyId"].to_string(),
        r#"{"Fn::GetAtt":["TrailKey","Arn"]}"#
    );
    let key = &rendered.template["Resources"]["TrailKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    let key_policy = key["Properties"]["KeyPolicy"].to_string();
    assert!(key_policy.contains("cloudtrail.amazonaws.com"));
    let bucket = &rendered.template["Resources"]["TrailBucket"];
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let bucket = &bucket["Properties"];
    assert_eq!(
        bucket["BucketName"].to_string(),
        r#"{"Fn::Sub":"acme-test-cloudtrail-${AWS::AccountId}"}"#
    );
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"].to_string(),
        r#"{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}"#
    );
    assert!(bucket["BucketEncryption"].is_object());
    assert_eq!(
        bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
        730
    );
    let statements = &properties(&rendered, "TrailBucketPolicy")["PolicyDocument"]["Statement"];
    assert_eq!(statements[0]["Effect"], "Deny");
    assert_eq!(
        statements[0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    assert_eq!(statements[1]["Action"], "s3:GetBucketAcl");
    assert_eq!(statements[2]["Action"], "s3:PutObject");
}

#[test]
fn tags_every_taggable_resource() {
    testing::assert_tagged(
        &rendered(r#"{"cloudtrail": true, "critical_emails": ["a@example.com"]}"#),
        &test_ctx(),
    );
    assert_tagged_in(&production_ctx(), EMAILS);
}

#[test]
fn rejects_malformed_and_repeated_email_addresses() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"critical_emails": ["oncall", "a@example.com", "A@example.com"], "warning_emails": ["x@y"]}"#,
    );
    assert_eq!(
        error_paths(&errors),
        ["critical_emails.0", "critical_emails.2", "warning_emails.0"]
    );
    assert_eq!(errors[0].message, "`oncall` is not an email address");
}

#[test]
fn rejects_thresholds_out_of_range() {
    error_at(r#"{"latency_p95_seconds": 0}"#, "latency_p95_seconds");
    error_at(r#"{"latency_p95_seconds": -1}"#, "latency_p95_seconds");
    error_at(r#"{"error_rate_percent": 0}"#, "error_rate_percent");
    error_at(r#"{"error_rate_percent": 101}"#, "error_rate_percent");
    error_at(r#"{"db_connections_max": 0}"#, "db_connections_max");
    error_at(r#"{"db_cpu_percent": 0}"#, "db_cpu_percent");
    error_at(
        r#"{"database_engine": "aurora", "aurora_capacity_percent": 150}"#,
        "aurora_capacity_percent",
    );
}

#[test]
fn rejects_aurora_capacity_for_an_rds_instance() {
    let error = error_at(
        r#"{"aurora_capacity_percent": 80}"#,
        "aurora_capacity_percent",
    );
    assert!(error.message.contains("applies to Aurora"));
}

#[test]
fn suggests_the_engine_for_a_misspelling() {
    let error = error_at(r#"{"database_engine": "auroa"}"#, "database_engine");
    assert_eq!(error.help.as_deref(), Some("did you mean `aurora`?"));
}

#[test]
fn rejects_periods_cloudwatch_cannot_evaluate() {
    error_at(r#"{"period_seconds": 90}"#, "period_seconds");
    error_at(r#"{"period_seconds": 0}"#, "period_seconds");
    error_at(r#"{"evaluation_periods": 0}"#, "evaluation_periods");
    let error = error_at(
        r#"{"period_seconds": 3600, "evaluation_periods": 25}"#,
        "evaluation_periods",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("CloudWatch evaluates at most a day: use at most `24` periods")
    );
}

#[test]
fn rejects_service_names_the_compute_stack_cannot_export() {
    error_at(r#"{"services": ["Api"]}"#, "services.0");
    error_at(r#"{"services": ["api", "api"]}"#, "services.1");
    error_at(r#"{"services": ["api-2", "api2"]}"#, "services.1");
}

#[test]
fn rejects_stack_names_that_cannot_be_imported_from() {
    error_at(r#"{"compute_stack": ""}"#, "compute_stack");
    error_at(r#"{"database_stack": "Database"}"#, "database_stack");
}

#[test]
fn rejects_a_trail_whose_bucket_name_is_too_long() {
    let ctx = Context {
        project: "a-very-long-project-name-for-buckets".into(),
        ..test_ctx()
    };
    let errors = errors_in(
        &ctx,
        r#"{"cloudtrail": true, "critical_emails": ["a@example.com"]}"#,
    );
    testing::single_error(errors, "cloudtrail");
    let errors = errors_in(
        &test_ctx(),
        r#"{"cloudtrail": true, "cloudtrail_retention_days": 0, "critical_emails": ["a@example.com"]}"#,
    );
    testing::single_error(errors, "cloudtrail_retention_days");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"compute_stack": "X", "services": ["A"], "database_engine": "mysql", "critical_emails": ["no"],
            "warning_emails": ["nope"], "latency_p95_seconds": 0, "error_rate_percent": 0,
            "db_connections_max": 0, "db_cpu_percent": 200, "period_seconds": 7}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "compute_stack",
            "services.0",
            "database_engine",
            "critical_emails.0",
            "warning_emails.0",
            "latency_p95_seconds",
            "error_rate_percent",
            "db_connections_max",
            "db_cpu_percent",
            "period_seconds",
        ]
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"emails": []}"#, "emails");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(23);
}

// The template review's findings: alarms on storage, memory and
// dead-letter queues; a subscriber for critical alarms; the trail's logs.

fn alarm<'a>(rendered: &'a strata_sdk::Rendered, id: &str) -> &'a Value {
    &rendered.template["Resources"][id]["Properties"]
}

#[test]
fn pages_when_the_database_runs_low_on_storage_or_memory() {
    let rendered = rendered(r#"{"db_free_storage_gib": 10, "db_freeable_memory_mib": 256}"#);
    let storage = alarm(&rendered, "DbFreeStorageAlarm");
    assert_eq!(storage["MetricName"], "FreeStorageSpace");
    assert_eq!(storage["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(storage["Threshold"], 10_u64 * 1024 * 1024 * 1024);
    assert_eq!(
        storage["AlarmActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    let memory = alarm(&rendered, "DbFreeableMemoryAlarm");
    assert_eq!(memory["MetricName"], "FreeableMemory");
    assert_eq!(memory["Threshold"], 256_u64 * 1024 * 1024);
    assert_eq!(
        memory["AlarmActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    // Aurora's storage grows by itself: memory only.
    let aurora = rendered_in(&test_ctx(), r#"{"database_engine": "aurora"}"#);
    assert!(
        aurora.template["Resources"]
            .get("DbFreeStorageAlarm")
            .is_none()
    );
    assert_eq!(
        alarm(&aurora, "DbFreeableMemoryAlarm")["Dimensions"][0]["Name"],
        "DBClusterIdentifier"
    );
}

#[test]
fn pages_when_a_dead_letter_queue_holds_a_message() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"dead_letter_queues": ["sqs.background-jobs"]}"#);
    let dlq = alarm(&rendered, "SqsBackgroundJobsDlqAlarm");
    assert_eq!(dlq["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(dlq["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(dlq["Threshold"], 0);
    assert_eq!(
        dlq["AlarmActions"].to_string(),
        r#"[{"Ref":"CriticalTopic"}]"#
    );
    assert_eq!(
        dlq["Dimensions"][0]["Value"].to_string(),
        format!(
            r#"{{"Fn::Select":["5",{{"Fn::Split":[":",{}]}}]}}"#,
            import_value(&ctx, "sqs", "background-jobs-dlq-arn")
        )
    );
    let errors = errors_in(
        &ctx,
        r#"{"dead_letter_queues": ["jobs"], "critical_emails": ["a@example.com"]}"#,
    );
    testing::single_error(errors, "dead_letter_queues.0");
}

#[test]
fn warns_when_no_one_gets_critical_alarms_in_any_environment() {
    let rendered = rendered("{}");
    assert_eq!(rendered.warnings.len(), 1, "{:#?}", rendered.warnings);
    assert_eq!(rendered.warnings[0].path, "critical_emails");
    assert_eq!(
        rendered.warnings[0].message,
        "no one is emailed about critical alarms in environment `test`"
    );
}

#[test]
fn sends_the_trail_to_cloudwatch_logs_and_records_s3_data_events_on_request() {
    let rendered = rendered(r#"{"cloudtrail": true, "cloudtrail_s3_data_events": true}"#);
    let trail = alarm(&rendered, "Trail");
    assert_eq!(
        trail["CloudWatchLogsLogGroupArn"].to_string(),
        r#"{"Fn::GetAtt":["TrailLogGroup","Arn"]}"#
    );
    assert_eq!(
        trail["CloudWatchLogsRoleArn"].to_string(),
        r#"{"Fn::GetAtt":["TrailLogRole","Arn"]}"#
    );
    assert_eq!(
        trail["EventSelectors"][0]["DataResources"][0]["Type"],
        "AWS::S3::Object"
    );
    let group = &rendered.template["Resources"]["TrailLogGroup"];
    assert_eq!(
        group["Properties"]["LogGroupName"],
        "/aws/cloudtrail/acme-test-cloudtrail"
    );
    assert_eq!(group["DeletionPolicy"], "Delete");
    let without = rendered_in(
        &test_ctx(),
        r#"{"cloudtrail": true, "cloudtrail_cloudwatch_logs": false}"#,
    );
    assert!(
        alarm(&without, "Trail")
            .get("CloudWatchLogsLogGroupArn")
            .is_none()
    );
    assert!(alarm(&without, "Trail").get("EventSelectors").is_none());
}
