//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, count_of, import_value, properties, resource};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "jobs");

const SEED_001: &str = r#"{
    "schedules": {
        "daily-cleanup": {"service": "worker", "schedule": "rate(1 day)", "command": ["node", "cleanup.js"]},
        "nightly-report": {"service": "reports", "schedule": "cron(0 3 * * ? *)", "timezone": "Europe/Berlin", "flexible_window_minutes": 15}
    },
    "rules": {
        "order-processor": {"service": "worker", "sources": ["com.myapp.orders"], "detail_types": ["Order Created"], "command": ["node", "orders.js"]}
    }
}"#;

#[test]
fn renders_seed_001s_scheduled_and_event_driven_tasks_tagged() {
    let ctx = test_ctx();
    let rendered = assert_tagged_in(&ctx, SEED_001);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(count_of(&rendered, "AWS::Scheduler::Schedule"), 2);
    assert_eq!(count_of(&rendered, "AWS::Scheduler::ScheduleGroup"), 1);
    assert_eq!(count_of(&rendered, "AWS::Events::Rule"), 1);
    assert_eq!(count_of(&rendered, "AWS::SQS::Queue"), 1);
    assert_eq!(count_of(&rendered, "AWS::IAM::Role"), 2);

    let schedule = properties(&rendered, "DailyCleanupSchedule");
    assert_eq!(schedule["Name"], "acme-test-daily-cleanup");
    assert_eq!(
        schedule["GroupName"].to_string(),
        r#"{"Ref":"ScheduleGroup"}"#
    );
    assert_eq!(schedule["ScheduleExpression"], "rate(1 day)");
    assert_eq!(schedule["ScheduleExpressionTimezone"], "UTC");
    assert_eq!(schedule["FlexibleTimeWindow"]["Mode"], "OFF");
    assert_eq!(schedule["State"], "ENABLED");
    let target = &schedule["Target"];
    assert_eq!(
        target["Arn"].to_string(),
        import_value(&ctx, "compute", "cluster-arn")
    );
    assert_eq!(
        target["Input"],
        r#"{"containerOverrides":[{"command":["node","cleanup.js"],"name":"worker"}]}"#
    );
    assert_eq!(target["RetryPolicy"]["MaximumRetryAttempts"], 3);
    assert_eq!(
        target["DeadLetterConfig"]["Arn"].to_string(),
        r#"{"Fn::GetAtt":["DeadLetterQueue","Arn"]}"#
    );
    let ecs = &target["EcsParameters"];
    assert_eq!(ecs["LaunchType"], "FARGATE");
    assert_eq!(
        ecs["TaskDefinitionArn"].to_string(),
        format!(
            r#"{{"Fn::Join":["",[{{"Fn::Sub":"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:task-definition/"}},{}]]}}"#,
            import_value(&ctx, "compute", "worker-task-family")
        )
    );
    let network = &ecs["NetworkConfiguration"]["AwsvpcConfiguration"];
    assert_eq!(network["AssignPublicIp"], "DISABLED");
    assert_eq!(
        network["SecurityGroups"][0].to_string(),
        import_value(&ctx, "security", "ecs-security-group-id")
    );

    let report = properties(&rendered, "NightlyReportSchedule");
    assert_eq!(report["ScheduleExpressionTimezone"], "Europe/Berlin");
    assert_eq!(
        report["FlexibleTimeWindow"].to_string(),
        r#"{"MaximumWindowInMinutes":15,"Mode":"FLEXIBLE"}"#
    );
    assert!(report["Target"].get("Input").is_none());
}

#[test]
fn matches_events_by_source_and_detail_type_and_passes_the_event_id() {
    let rendered = rendered(SEED_001);
    let rule = properties(&rendered, "OrderProcessorRule");
    assert_eq!(rule["Name"], "acme-test-order-processor");
    assert_eq!(rule["EventBusName"], "default");
    assert_eq!(
        rule["EventPattern"].to_string(),
        r#"{"detail-type":["Order Created"],"source":["com.myapp.orders"]}"#
    );
    let target = &rule["Targets"][0];
    assert_eq!(target["Id"], "order-processor");
    assert!(
        target["EcsParameters"]["NetworkConfiguration"]["AwsVpcConfiguration"].is_object(),
        "EventBridge spells it AwsVpcConfiguration"
    );
    let transformer = &target["InputTransformer"];
    assert_eq!(
        transformer["InputPathsMap"].to_string(),
        r#"{"detailType":"$.detail-type","id":"$.id"}"#
    );
    assert_eq!(
        transformer["InputTemplate"],
        r#"{"containerOverrides":[{"command":["node","orders.js"],"environment":[{"name":"EVENT_ID","value":"<id>"},{"name":"EVENT_DETAIL_TYPE","value":"<detailType>"}],"name":"worker"}]}"#
    );
}

#[test]
fn lets_the_roles_run_only_the_tasks_used_and_pass_only_their_roles() {
    let ctx = test_ctx();
    let rendered = rendered(SEED_001);
    let role = properties(&rendered, "SchedulerRole");
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(
        trust["Condition"]["ArnLike"]["aws:SourceArn"].to_string(),
        r#"{"Fn::Sub":"arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/acme-test-jobs/*"}"#
    );
    let statements = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(statements[0]["Action"], "ecs:RunTask");
    // worker and reports, each with and without a revision.
    assert_eq!(statements[0]["Resource"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        statements[0]["Condition"]["ArnEquals"]["ecs:cluster"].to_string(),
        import_value(&ctx, "compute", "cluster-arn")
    );
    assert_eq!(statements[1]["Action"], "iam:PassRole");
    assert_eq!(
        statements[1]["Resource"].to_string(),
        format!(
            "[{},{},{}]",
            import_value(&ctx, "compute", "execution-role-arn"),
            import_value(&ctx, "compute", "worker-task-role-arn"),
            import_value(&ctx, "compute", "reports-task-role-arn")
        )
    );
    assert_eq!(statements[3]["Action"], "sqs:SendMessage");

    let events = properties(&rendered, "EventsRole");
    assert_eq!(
        events["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"]
            .to_string(),
        r#"[{"Fn::Sub":"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/acme-test-*"},{"Fn::Sub":"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*/acme-test-*"}]"#
    );
    let statements = &events["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(statements[0]["Resource"].as_array().map(Vec::len), Some(2));
    assert!(!statements.to_string().contains("reports"));
    assert_eq!(statements.as_array().map(Vec::len), Some(3));
}

#[test]
fn keeps_failed_invocations_in_an_encrypted_dead_letter_queue() {
    let rendered = rendered(SEED_001);
    let queue = resource(&rendered, "DeadLetterQueue");
    assert_eq!(queue["Properties"]["QueueName"], "acme-test-jobs-dlq");
    assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true);
    assert_eq!(queue["Properties"]["MessageRetentionPeriod"], 1_209_600);
    assert_eq!(queue["DeletionPolicy"], "Delete");
    let policy = properties(&rendered, "DeadLetterQueuePolicy")["PolicyDocument"].to_string();
    assert!(policy.contains("aws:SecureTransport"), "{policy}");
    assert!(policy.contains("events.amazonaws.com"), "{policy}");
    assert!(
        policy.contains(r#"{"Fn::GetAtt":["OrderProcessorRule","Arn"]}"#),
        "{policy}"
    );
}

#[test]
fn retains_the_dead_letter_queue_in_production() {
    let rendered = assert_tagged_in(&production_ctx(), SEED_001);
    let queue = resource(&rendered, "DeadLetterQueue");
    assert_eq!(queue["DeletionPolicy"], "Retain");
    assert_eq!(queue["UpdateReplacePolicy"], "Retain");
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered(SEED_001);
    testing::assert_exports(&rendered, &test_ctx(), &exports(true, &["order-processor"]));
    assert_eq!(
        exports(true, &["order-processor"]),
        [
            "dead-letter-queue-arn",
            "dead-letter-queue-url",
            "dead-letter-queue-name",
            "schedule-group-name",
            "order-processor-rule-arn",
        ]
    );
    testing::assert_imports(
        &rendered,
        &[
            ("compute", "cluster-arn"),
            ("networking", "private-subnet-ids"),
            ("security", "ecs-security-group-id"),
            ("compute", "execution-role-arn"),
            ("compute", "worker-task-family"),
            ("compute", "worker-task-role-arn"),
            ("compute", "reports-task-family"),
            ("compute", "reports-task-role-arn"),
            ("monitoring", "critical-topic-arn"),
        ],
    );
}

#[test]
fn renders_rules_alone_without_a_schedule_group() {
    let rendered = rendered(
        r#"{"rules": {"on-upload": {"service": "worker", "sources": ["aws.s3"], "detail": {"bucket": {"name": ["uploads"]}}, "event_bus": "uploads", "enabled": false}}}"#,
    );
    assert_eq!(count_of(&rendered, "AWS::Scheduler::ScheduleGroup"), 0);
    assert_eq!(count_of(&rendered, "AWS::IAM::Role"), 1);
    let rule = properties(&rendered, "OnUploadRule");
    assert_eq!(rule["State"], "DISABLED");
    assert_eq!(rule["EventBusName"], "uploads");
    assert_eq!(
        rule["EventPattern"].to_string(),
        r#"{"detail":{"bucket":{"name":["uploads"]}},"source":["aws.s3"]}"#
    );
    // Without a command the task still learns which event started it.
    assert_eq!(
        rule["Targets"][0]["InputTransformer"]["InputTemplate"],
        r#"{"containerOverrides":[{"environment":[{"name":"EVENT_ID","value":"<id>"},{"name":"EVENT_DETAIL_TYPE","value":"<detailType>"}],"name":"worker"}]}"#
    );
}

#[test]
fn describes_every_option_in_the_schema() {
    let schema = testing::assert_documented::<Config>(9);
    assert!(schema["$defs"]["ScheduleConfig"].is_object());
}

#[test]
fn rejects_an_empty_table() {
    let error = error_at("{}", "schedules");
    assert_eq!(error.message, "the stack has no `schedules` and no `rules`");
}

#[test]
fn rejects_bad_schedules_at_their_keys() {
    let errors = errors(
        r#"{"schedules": {
            "Cleanup": {"service": "worker", "schedule": "rate(1 days)"},
            "report": {"schedule": "cron(0 3 * * *)", "timezone": "berlin", "flexible_window_minutes": 2000, "task_count": 0, "command": []}
        }}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "schedules.Cleanup",
            "schedules.Cleanup.schedule",
            "schedules.report.service",
            "schedules.report.command",
            "schedules.report.task_count",
            "schedules.report.schedule",
            "schedules.report.timezone",
            "schedules.report.flexible_window_minutes",
        ],
    );
    let schedule = errors
        .iter()
        .find(|e| e.path == "schedules.Cleanup.schedule")
        .expect("the schedule error");
    assert_eq!(
        schedule.message,
        "`rate(1 days)` is not a schedule expression: write `1 day`"
    );
}

#[test]
fn rejects_a_rule_that_matches_nothing_and_bad_limits() {
    let errors = errors(
        r#"{"retry_attempts": 200, "maximum_event_age_seconds": 10, "dead_letter_retention_days": 15,
            "rules": {"orders": {"service": "worker", "event_bus": "my bus"}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "retry_attempts",
            "maximum_event_age_seconds",
            "dead_letter_retention_days",
            "rules.orders",
            "rules.orders.event_bus",
        ],
    );
}

#[test]
fn rejects_a_name_too_long_for_eventbridge() {
    let key = "a".repeat(60);
    let error = error_at(
        &format!(
            r#"{{"schedules": {{"{key}": {{"service": "worker", "schedule": "rate(1 day)"}}}}}}"#
        ),
        &format!("schedules.{key}"),
    );
    assert!(error.message.contains("64 characters"), "{}", error.message);
}

#[test]
fn rejects_an_unknown_key_at_its_place() {
    let error = error_at(
        r#"{"schedules": {"x": {"service": "worker", "schedule": "rate(1 day)", "cron": "x"}}}"#,
        "schedules.x.cron",
    );
    assert!(
        error.message.contains("unknown field `cron`"),
        "{}",
        error.message
    );
}

#[test]
fn a_task_that_fails_every_retry_pages_the_critical_topic() {
    let rendered = rendered(SEED_001);
    let alarm = properties(&rendered, crate::DEAD_LETTER_ALARM);
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"][0]["Value"].to_string(),
        r#"{"Fn::GetAtt":["DeadLetterQueue","QueueName"]}"#
    );
    assert_eq!(
        alarm["AlarmActions"][0].to_string(),
        import_value(&test_ctx(), "monitoring", "critical-topic-arn")
    );
}

#[test]
fn without_a_monitoring_stack_the_dead_letter_queue_is_unwatched_and_says_so() {
    let config = SEED_001.replacen('{', r#"{"monitoring_stack": "","#, 1);
    let rendered = rendered(&config);
    assert_eq!(count_of(&rendered, "AWS::CloudWatch::Alarm"), 0);
    let [warning] = rendered.warnings.as_slice() else {
        panic!("{:#?}", rendered.warnings);
    };
    assert_eq!(warning.path, "monitoring_stack");
}
