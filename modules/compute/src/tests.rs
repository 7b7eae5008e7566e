//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{
    self, count_of, error_paths, import_value, imported_stacks, properties, resource, resources,
};
use strata_sdk::{Context, Rendered, Severity, Value};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "compute");

fn staging_ctx() -> Context {
    let mut ctx = test_ctx();
    ctx.environment = "staging".into();
    ctx
}

fn main_container<'a>(rendered: &'a Rendered, service: &str) -> &'a Value {
    let id = format!("{}TaskDefinition", strata_sdk::cfn::logical_id(service));
    &properties(rendered, &id)["ContainerDefinitions"][0]
}

/// `Name` → `Value` of a container's `Environment`, as JSON text.
fn variable(container: &Value, name: &str) -> Option<String> {
    container["Environment"]
        .as_array()?
        .iter()
        .find(|v| v["Name"] == name)
        .map(|v| v["Value"].to_string())
}

const PRIVATE_ONLY: &str = r#"{"services": {"worker": {}}}"#;

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(resources(&rendered).count(), 24);
    assert_eq!(count_of(&rendered, "AWS::ECS::Service"), 3);
    assert_eq!(count_of(&rendered, "AWS::ECS::TaskDefinition"), 3);
    assert_eq!(count_of(&rendered, "AWS::Logs::LogGroup"), 3);
    assert_eq!(
        count_of(&rendered, "AWS::ApplicationAutoScaling::ScalableTarget"),
        2
    );
    let task = properties(&rendered, "ApiTaskDefinition");
    assert_eq!(task["Cpu"], "256");
    assert_eq!(task["Memory"], "512");
    assert_eq!(task["RuntimePlatform"]["CpuArchitecture"], "X86_64");
    let target = properties(&rendered, "ApiScalableTarget");
    assert_eq!(target["MinCapacity"], 1);
    assert_eq!(target["MaxCapacity"], 3);
    assert_eq!(properties(&rendered, "ApiService")["DesiredCount"], 1);
    let logs = resource(&rendered, "ApiLogGroup");
    assert_eq!(logs["Properties"]["LogGroupName"], "/ecs/acme-test-api");
    assert_eq!(logs["Properties"]["RetentionInDays"], 7);
    assert_eq!(logs["DeletionPolicy"], "Delete");
    assert_eq!(logs["UpdateReplacePolicy"], "Delete");
    let attributes = properties(&rendered, "LoadBalancer")["LoadBalancerAttributes"].to_string();
    assert!(attributes.contains(r#"{"Key":"deletion_protection.enabled","Value":"false"}"#));
}

#[test]
fn sizes_staging_between_development_and_production() {
    let rendered = rendered_in(&staging_ctx(), "{}");
    let task = properties(&rendered, "WorkerTaskDefinition");
    assert_eq!(task["Cpu"], "512");
    assert_eq!(task["Memory"], "1024");
    let target = properties(&rendered, "WorkerScalableTarget");
    assert_eq!(target["MinCapacity"], 2);
    assert_eq!(target["MaxCapacity"], 6);
    assert_eq!(
        properties(&rendered, "WorkerLogGroup")["RetentionInDays"],
        30
    );
}

#[test]
fn sizes_production_up_and_keeps_its_logs_and_load_balancer() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let task = properties(&rendered, "ApiTaskDefinition");
    assert_eq!(task["Cpu"], "1024");
    assert_eq!(task["Memory"], "2048");
    let target = properties(&rendered, "ApiScalableTarget");
    assert_eq!(target["MinCapacity"], 3);
    assert_eq!(target["MaxCapacity"], 20);
    assert_eq!(properties(&rendered, "ApiService")["DesiredCount"], 3);
    let logs = resource(&rendered, "ApiLogGroup");
    assert_eq!(logs["Properties"]["RetentionInDays"], 90);
    assert_eq!(logs["DeletionPolicy"], "Retain");
    assert_eq!(logs["UpdateReplacePolicy"], "Retain");
    let attributes = properties(&rendered, "LoadBalancer")["LoadBalancerAttributes"].to_string();
    assert!(attributes.contains(r#"{"Key":"deletion_protection.enabled","Value":"true"}"#));
}

#[test]
fn lets_explicit_settings_win_over_the_environment_defaults() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"cpu": 2048, "memory": 8192, "min_tasks": 4, "max_tasks": 8, "log_retention_days": 365,
            "alb_deletion_protection": true}"#,
    );
    let task = properties(&rendered, "ApiTaskDefinition");
    assert_eq!(task["Cpu"], "2048");
    assert_eq!(task["Memory"], "8192");
    let target = properties(&rendered, "ApiScalableTarget");
    assert_eq!(target["MinCapacity"], 4);
    assert_eq!(target["MaxCapacity"], 8);
    assert_eq!(properties(&rendered, "ApiLogGroup")["RetentionInDays"], 365);
}

#[test]
fn gives_cpu_alone_twice_its_memory() {
    let rendered = rendered(r#"{"cpu": 4096}"#);
    assert_eq!(properties(&rendered, "ApiTaskDefinition")["Memory"], "8192");
}

#[test]
fn moves_the_other_bound_when_one_is_written_alone() {
    let rendered = rendered(r#"{"min_tasks": 5}"#);
    let target = properties(&rendered, "ApiScalableTarget");
    assert_eq!(target["MinCapacity"], 5);
    assert_eq!(target["MaxCapacity"], 5);
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(
        &rendered,
        &test_ctx(),
        &[
            "cluster-name",
            "cluster-arn",
            "execution-role-arn",
            "alb-arn",
            "alb-dns-name",
            "alb-full-name",
            "alb-hosted-zone-id",
            "alb-canonical-hosted-zone-id",
            "alb-https-listener-arn",
            "target-group-full-name",
            "api-service-name",
            "api-log-group-name",
            "api-task-family",
            "api-task-role-arn",
            "api-target-group-full-name",
            "scheduler-service-name",
            "scheduler-log-group-name",
            "scheduler-task-family",
            "scheduler-task-role-arn",
            "worker-service-name",
            "worker-log-group-name",
            "worker-task-family",
            "worker-task-role-arn",
        ],
    );
    let (settings, _) = Config::default()
        .validate(&test_ctx())
        .expect("the defaults validate");
    assert_eq!(rendered.exports, exports(&settings));
    testing::assert_output_values(
        &rendered,
        &[
            (
                "AlbFullName",
                r#"{"Fn::GetAtt":["LoadBalancer","LoadBalancerFullName"]}"#,
            ),
            (
                "AlbHostedZoneId",
                r#"{"Fn::GetAtt":["LoadBalancer","CanonicalHostedZoneID"]}"#,
            ),
            (
                "TargetGroupFullName",
                r#"{"Fn::GetAtt":["TargetGroup","TargetGroupFullName"]}"#,
            ),
            ("ApiServiceName", r#"{"Fn::GetAtt":["ApiService","Name"]}"#),
            ("WorkerLogGroupName", r#"{"Ref":"WorkerLogGroup"}"#),
        ],
    );
}

#[test]
fn has_no_load_balancer_or_its_exports_without_a_public_service() {
    let rendered = rendered(PRIVATE_ONLY);
    assert_eq!(
        rendered.exports,
        [
            "cluster-name",
            "cluster-arn",
            "execution-role-arn",
            "worker-service-name",
            "worker-log-group-name",
            "worker-task-family",
            "worker-task-role-arn",
        ]
    );
    assert_eq!(
        count_of(&rendered, "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        0
    );
    assert_eq!(
        count_of(&rendered, "AWS::ElasticLoadBalancingV2::Listener"),
        0
    );
    let stacks: Vec<&str> = rendered.imports.iter().map(|i| i.output.as_str()).collect();
    for output in [
        "certificate-arn",
        "vpc-id",
        "public-subnet-ids",
        "alb-security-group-id",
        "logs-bucket-name",
    ] {
        assert!(!stacks.contains(&output), "{output} imported");
    }
}

#[test]
fn needs_no_certificate_stack_without_a_public_service() {
    let rendered = rendered(r#"{"certificate_stack": "", "services": {"worker": {}}}"#);
    assert!(!rendered.imports.iter().any(|i| i.stack == "certificate"));
}

#[test]
fn imports_from_every_default_stack() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    testing::assert_imports(
        &rendered,
        &[
            ("database", "endpoint-address"),
            ("database", "endpoint-port"),
            ("database", "app-secret-arn"),
            ("sqs", "background-jobs-queue-url"),
            ("sqs", "background-jobs-queue-arn"),
            ("sqs", "data-refresh-queue-url"),
            ("sqs", "data-refresh-queue-arn"),
            ("sqs", "notifications-queue-url"),
            ("sqs", "notifications-queue-arn"),
            ("sqs", "kms-key-arn"),
            ("secrets", "app-config-secret-arn"),
            ("secrets", "kms-key-arn"),
            ("s3", "assets-bucket-arn"),
            ("s3", "assets-bucket-name"),
            ("ecr", "api-repository-uri"),
            ("networking", "public-subnet-ids"),
            ("security", "alb-security-group-id"),
            ("s3", "logs-bucket-name"),
            ("networking", "vpc-id"),
            ("certificate", "certificate-arn"),
            ("networking", "private-subnet-ids"),
            ("security", "ecs-security-group-id"),
        ],
    );
    let service = properties(&rendered, "ApiService");
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"].to_string(),
        format!(
            r#"{{"Fn::Split":[",",{}]}}"#,
            import_value(&ctx, "networking", "private-subnet-ids")
        )
    );
    let listener = properties(&rendered, "HttpsListener");
    assert_eq!(
        listener["Certificates"][0]["CertificateArn"].to_string(),
        import_value(&ctx, "certificate", "certificate-arn")
    );
}

#[test]
fn imports_from_the_configured_stacks() {
    let rendered = rendered(
        r#"{"networking_stack": "vpc", "security_stack": "firewall", "certificate_stack": "tls",
            "database_stack": "", "sqs_stack": "", "secrets_stack": "", "s3_stack": "",
            "ecr_stack": "images", "repository": "backend"}"#,
    );
    let mut stacks = imported_stacks(&rendered);
    stacks.sort_unstable();
    stacks.dedup();
    assert_eq!(stacks, ["firewall", "images", "tls", "vpc"]);
    assert!(
        rendered
            .imports
            .iter()
            .any(|i| i.output == "backend-repository-uri")
    );
}

#[test]
fn turns_each_optional_stack_off_with_an_empty_name() {
    let rendered =
        rendered(r#"{"database_stack": "", "sqs_stack": "", "secrets_stack": "", "s3_stack": ""}"#);
    let mut stacks = imported_stacks(&rendered);
    stacks.sort_unstable();
    stacks.dedup();
    assert_eq!(stacks, ["certificate", "ecr", "networking", "security"]);
    let container = main_container(&rendered, "api");
    assert!(container.get("Environment").is_none());
    assert!(container.get("Secrets").is_none());
    let execution = properties(&rendered, "TaskExecutionRole");
    assert!(execution.get("Policies").is_none());
    assert!(
        properties(&rendered, "ApiTaskRole")
            .get("Policies")
            .is_none()
    );
}

/// The template's parameter `name`.
fn parameter<'a>(rendered: &'a Rendered, name: &str) -> &'a Value {
    &rendered.template["Parameters"][name]
}

#[test]
fn runs_images_from_the_repository_at_a_tag_parameter_defaulting_to_image_tag() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"image_tag": "1.41.8-abc123d"}"#);
    assert_eq!(
        main_container(&rendered, "worker")["Image"].to_string(),
        format!(
            r#"{{"Fn::Join":["",[{},":",{{"Ref":"WorkerImageTag"}}]]}}"#,
            import_value(&ctx, "ecr", "api-repository-uri")
        )
    );
    for name in ["ApiImageTag", "WorkerImageTag", "SchedulerImageTag"] {
        let parameter = parameter(&rendered, name);
        assert_eq!(parameter["Type"], "String", "{name}");
        assert_eq!(parameter["Default"], "1.41.8-abc123d", "{name}");
        assert_eq!(parameter["AllowedPattern"], crate::images::TAG_PATTERN);
        assert!(
            parameter["Description"]
                .as_str()
                .is_some_and(|d| d.contains("code-only deploy")),
            "{parameter}"
        );
    }
    let names: Vec<&String> = rendered.template["Parameters"]
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn lets_a_service_run_its_own_image_at_a_tag_parameter() {
    let rendered = rendered(
        r#"{"services": {"api": {"public": true, "image": "public.ecr.aws/nginx/nginx:1.27"}}}"#,
    );
    assert_eq!(
        main_container(&rendered, "api")["Image"].to_string(),
        r#"{"Fn::Join":["",["public.ecr.aws/nginx/nginx:",{"Ref":"ApiImageTag"}]]}"#
    );
    assert_eq!(parameter(&rendered, "ApiImageTag")["Default"], "1.27");
    assert!(
        !rendered
            .imports
            .iter()
            .any(|i| i.output == "api-repository-uri")
    );
}

#[test]
fn names_the_parameter_after_the_service_in_pascal_case() {
    let rendered = rendered(
        r#"{"ecr_stack": "", "services": {"order-sync": {"image": "registry.example.com:5000/team/sync:2.0-rc1"}}}"#,
    );
    assert_eq!(
        main_container(&rendered, "order-sync")["Image"].to_string(),
        r#"{"Fn::Join":["",["registry.example.com:5000/team/sync:",{"Ref":"OrderSyncImageTag"}]]}"#
    );
    assert_eq!(
        parameter(&rendered, "OrderSyncImageTag")["Default"],
        "2.0-rc1"
    );
}

#[test]
fn keeps_digests_untagged_images_and_sidecars_as_written() {
    let digest = "public.ecr.aws/nginx/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let config = format!(
        r#"{{"ecr_stack": "", "services": {{
            "pinned": {{"image": "{digest}"}},
            "plain": {{"image": "registry.example.com:5000/team/plain",
                "containers": [{{"name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest"}}]}}
        }}}}"#
    );
    let rendered = rendered(&config);
    assert_eq!(main_container(&rendered, "pinned")["Image"], digest);
    assert_eq!(
        main_container(&rendered, "plain")["Image"],
        "registry.example.com:5000/team/plain"
    );
    assert_eq!(
        properties(&rendered, "PlainTaskDefinition")["ContainerDefinitions"][1]["Image"],
        "public.ecr.aws/aws-observability/aws-otel-collector:latest"
    );
    assert!(rendered.template.get("Parameters").is_none());
}

#[test]
fn needs_no_ecr_stack_when_every_service_has_an_image() {
    let rendered = rendered(r#"{"ecr_stack": "", "services": {"worker": {"image": "busybox:1"}}}"#);
    assert!(!rendered.imports.iter().any(|i| i.stack == "ecr"));
}

#[test]
fn wires_the_database_queues_secrets_and_assets_into_the_main_container() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"environment_variables": {"LOG_LEVEL": "info"}}"#);
    let container = main_container(&rendered, "worker");
    assert_eq!(
        variable(container, "LOG_LEVEL").as_deref(),
        Some(r#""info""#)
    );
    assert_eq!(
        variable(container, "DB_HOST"),
        Some(import_value(&ctx, "database", "endpoint-address"))
    );
    assert_eq!(
        variable(container, "DB_PORT"),
        Some(import_value(&ctx, "database", "endpoint-port"))
    );
    assert_eq!(
        variable(container, "QUEUE_BACKGROUND_JOBS_URL"),
        Some(import_value(&ctx, "sqs", "background-jobs-queue-url"))
    );
    assert_eq!(
        variable(container, "ASSETS_BUCKET"),
        Some(import_value(&ctx, "s3", "assets-bucket-name"))
    );
    let names: Vec<&str> = container["Environment"]
        .as_array()
        .expect("environment")
        .iter()
        .filter_map(|v| v["Name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(
        container["Secrets"].to_string(),
        format!(
            r#"[{{"Name":"APP_CONFIG_SECRET","ValueFrom":{}}},{{"Name":"DB_SECRET","ValueFrom":{}}}]"#,
            import_value(&ctx, "secrets", "app-config-secret-arn"),
            import_value(&ctx, "database", "app-secret-arn")
        )
    );
}

#[test]
fn lets_the_execution_role_read_only_the_injected_secrets() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let role = properties(&rendered, "TaskExecutionRole");
    assert_eq!(
        role["ManagedPolicyArns"][0].to_string(),
        r#"{"Fn::Sub":"arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}"#
    );
    let statements = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(statements[0]["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(
        statements[0]["Resource"].to_string(),
        format!(
            "[{},{}]",
            import_value(&ctx, "secrets", "app-config-secret-arn"),
            import_value(&ctx, "database", "app-secret-arn")
        )
    );
    assert_eq!(statements[1]["Action"], "kms:Decrypt");
    assert_eq!(
        statements[1]["Resource"].to_string(),
        format!("[{}]", import_value(&ctx, "secrets", "kms-key-arn"))
    );
    // The app secret's key is the database stack's business: any key, but
    // only through Secrets Manager and only for that secret.
    assert_eq!(statements[2]["Resource"], "*");
    assert_eq!(
        statements[2]["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"].to_string(),
        format!("[{}]", import_value(&ctx, "database", "app-secret-arn"))
    );
    assert_eq!(statements.as_array().map(Vec::len), Some(3));
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "ecs-tasks.amazonaws.com");
    assert!(trust["Condition"]["StringEquals"]["aws:SourceAccount"].is_object());
}

#[test]
fn lets_the_task_role_use_the_queues_and_the_assets_bucket() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let statements =
        &properties(&rendered, "WorkerTaskRole")["Policies"][0]["PolicyDocument"]["Statement"];
    let sids: Vec<&str> = statements
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(
        sids,
        ["UseQueues", "UseQueueKey", "ListAssets", "ReadWriteAssets"]
    );
    assert_eq!(
        statements[0]["Action"].to_string(),
        r#"["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","sqs:ChangeMessageVisibility"]"#
    );
    assert_eq!(statements[0]["Resource"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        statements[1]["Action"].to_string(),
        r#"["kms:Decrypt","kms:GenerateDataKey"]"#
    );
    assert_eq!(
        statements[1]["Resource"].to_string(),
        import_value(&ctx, "sqs", "kms-key-arn")
    );
    assert_eq!(
        statements[3]["Resource"].to_string(),
        format!(
            r#"{{"Fn::Join":["",[{},"/*"]]}}"#,
            import_value(&ctx, "s3", "assets-bucket-arn")
        )
    );
}

#[test]
fn writes_access_logs_to_the_logs_bucket_under_alb() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let attributes = properties(&rendered, "LoadBalancer")["LoadBalancerAttributes"].to_string();
    assert!(attributes.contains(r#"{"Key":"access_logs.s3.enabled","Value":"true"}"#));
    assert!(attributes.contains(r#"{"Key":"access_logs.s3.prefix","Value":"alb"}"#));
    assert!(attributes.contains(&format!(
        r#"{{"Key":"access_logs.s3.bucket","Value":{}}}"#,
        import_value(&ctx, "s3", "logs-bucket-name")
    )));
    let off = rendered_in(&ctx, r#"{"alb_access_logs": false}"#);
    let attributes = properties(&off, "LoadBalancer")["LoadBalancerAttributes"].to_string();
    assert!(!attributes.contains("access_logs"));
    assert!(!off.imports.iter().any(|i| i.output == "logs-bucket-name"));
}

#[test]
fn serves_https_only_and_redirects_http() {
    let rendered = rendered("{}");
    let https = properties(&rendered, "HttpsListener");
    assert_eq!(https["Port"], 443);
    assert_eq!(https["Protocol"], "HTTPS");
    assert_eq!(https["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
    assert_eq!(
        https["DefaultActions"][0]["TargetGroupArn"].to_string(),
        r#"{"Ref":"TargetGroup"}"#
    );
    let http = properties(&rendered, "HttpListener");
    assert_eq!(http["Port"], 80);
    let redirect = &http["DefaultActions"][0];
    assert_eq!(redirect["Type"], "redirect");
    assert_eq!(redirect["RedirectConfig"]["Protocol"], "HTTPS");
    assert_eq!(redirect["RedirectConfig"]["Port"], "443");
    assert_eq!(redirect["RedirectConfig"]["StatusCode"], "HTTP_301");
    let alb = properties(&rendered, "LoadBalancer");
    assert_eq!(alb["Name"], "acme-test-alb");
    assert_eq!(alb["Scheme"], "internet-facing");
    assert!(
        alb["LoadBalancerAttributes"].to_string().contains(
            r#"{"Key":"routing.http.drop_invalid_header_fields.enabled","Value":"true"}"#
        )
    );
}

#[test]
fn checks_the_health_of_the_public_service_over_its_port() {
    let rendered = rendered(
        r#"{"services": {"web": {"public": true, "port": 3000, "health_check_path": "/ready"}}}"#,
    );
    let group = properties(&rendered, "TargetGroup");
    assert_eq!(group["TargetType"], "ip");
    assert_eq!(group["Port"], 3000);
    assert_eq!(group["HealthCheckPath"], "/ready");
    assert_eq!(group["HealthCheckIntervalSeconds"], 30);
    assert_eq!(group["HealthCheckTimeoutSeconds"], 5);
    assert_eq!(group["HealthyThresholdCount"], 2);
    assert_eq!(group["UnhealthyThresholdCount"], 3);
    assert_eq!(group["Matcher"]["HttpCode"], "200-399");
    assert_eq!(
        group["TargetGroupAttributes"].to_string(),
        r#"[{"Key":"deregistration_delay.timeout_seconds","Value":"30"}]"#
    );
    let service = resource(&rendered, "WebService");
    assert_eq!(service["DependsOn"], "HttpsListener");
    assert_eq!(
        service["Properties"]["LoadBalancers"].to_string(),
        r#"[{"ContainerName":"web","ContainerPort":3000,"TargetGroupArn":{"Ref":"TargetGroup"}}]"#
    );
    assert_eq!(service["Properties"]["HealthCheckGracePeriodSeconds"], 60);
    assert_eq!(
        main_container(&rendered, "web")["PortMappings"].to_string(),
        r#"[{"ContainerPort":3000,"Protocol":"tcp"}]"#
    );
}

#[test]
fn runs_services_privately_with_a_rolling_circuit_breaker() {
    let rendered = rendered("{}");
    let service = resource(&rendered, "WorkerService");
    assert!(service.get("DependsOn").is_none());
    let service = &service["Properties"];
    assert_eq!(service["ServiceName"], "acme-test-worker");
    assert_eq!(service["LaunchType"], "FARGATE");
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
        "DISABLED"
    );
    assert_eq!(
        service["DeploymentConfiguration"].to_string(),
        r#"{"DeploymentCircuitBreaker":{"Enable":true,"Rollback":true},"MaximumPercent":200,"MinimumHealthyPercent":100}"#
    );
    assert_eq!(service["PropagateTags"], "SERVICE");
    assert_eq!(service["EnableECSManagedTags"], true);
    assert!(service.get("LoadBalancers").is_none());
    assert!(
        main_container(&rendered, "worker")
            .get("PortMappings")
            .is_none()
    );
}

#[test]
fn describes_fargate_tasks_logging_to_their_log_group() {
    let rendered = rendered(r#"{"architecture": "ARM64"}"#);
    let task = properties(&rendered, "SchedulerTaskDefinition");
    assert_eq!(task["Family"], "acme-test-scheduler");
    assert_eq!(
        task["RequiresCompatibilities"].to_string(),
        r#"["FARGATE"]"#
    );
    assert_eq!(task["NetworkMode"], "awsvpc");
    assert_eq!(
        task["RuntimePlatform"].to_string(),
        r#"{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}"#
    );
    assert_eq!(
        task["ExecutionRoleArn"].to_string(),
        r#"{"Fn::GetAtt":["TaskExecutionRole","Arn"]}"#
    );
    assert_eq!(
        task["TaskRoleArn"].to_string(),
        r#"{"Fn::GetAtt":["SchedulerTaskRole","Arn"]}"#
    );
    let container = &task["ContainerDefinitions"][0];
    assert_eq!(container["Name"], "scheduler");
    assert_eq!(container["Essential"], true);
    assert_eq!(
        container["LogConfiguration"].to_string(),
        r#"{"LogDriver":"awslogs","Options":{"awslogs-group":{"Ref":"SchedulerLogGroup"},"awslogs-region":{"Ref":"AWS::Region"},"awslogs-stream-prefix":"scheduler"}}"#
    );
}

#[test]
fn runs_one_scheduler_task_without_autoscaling() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert_eq!(properties(&rendered, "SchedulerService")["DesiredCount"], 1);
    assert!(
        !rendered.template["Resources"]
            .as_object()
            .expect("resources")
            .contains_key("SchedulerScalableTarget")
    );
}

#[test]
fn scales_on_cpu_and_memory_through_the_service_linked_role() {
    let rendered = rendered(r#"{"cpu_target_percent": 60, "memory_target_percent": 75}"#);
    let target = properties(&rendered, "WorkerScalableTarget");
    assert_eq!(
        target["ResourceId"].to_string(),
        r#"{"Fn::Join":["/",["service",{"Ref":"Cluster"},{"Fn::GetAtt":["WorkerService","Name"]}]]}"#
    );
    assert_eq!(target["ScalableDimension"], "ecs:service:DesiredCount");
    assert_eq!(target["ServiceNamespace"], "ecs");
    assert!(target.get("RoleARN").is_none());
    for (id, metric, value) in [
        (
            "WorkerCpuScalingPolicy",
            "ECSServiceAverageCPUUtilization",
            60,
        ),
        (
            "WorkerMemoryScalingPolicy",
            "ECSServiceAverageMemoryUtilization",
            75,
        ),
    ] {
        let policy = properties(&rendered, id);
        assert_eq!(policy["PolicyType"], "TargetTrackingScaling");
        let config = &policy["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(
            config["PredefinedMetricSpecification"]["PredefinedMetricType"],
            metric
        );
        assert_eq!(config["TargetValue"], value);
        assert_eq!(config["ScaleInCooldown"], 300);
        assert_eq!(config["ScaleOutCooldown"], 60);
    }
}

#[test]
fn turns_container_insights_off_when_asked() {
    let on = rendered("{}");
    assert_eq!(
        properties(&on, "Cluster")["ClusterSettings"].to_string(),
        r#"[{"Name":"containerInsights","Value":"enabled"}]"#
    );
    assert_eq!(
        properties(&on, "Cluster")["ClusterName"],
        "acme-test-cluster"
    );
    let off = rendered(r#"{"container_insights": false}"#);
    assert_eq!(
        properties(&off, "Cluster")["ClusterSettings"][0]["Value"],
        "disabled"
    );
}

/// Seed 002: a frontend, a backend and a sidecar in one task.
const SIDECARS: &str = r#"{"services": {"app": {
    "public": true, "port": 80, "cpu": 1024, "memory": 2048, "command": ["nginx", "-g", "daemon off;"],
    "image": "public.ecr.aws/nginx/nginx:1.27",
    "containers": [
        {"name": "backend", "port": 3001, "essential": true, "cpu": 512, "memory": 1024},
        {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", "command": ["/entrypoint.sh"]}
    ]}},
    "environment_variables": {"NODE_ENV": "production"}}"#;

#[test]
fn runs_sidecars_in_the_service_task() {
    let config = SIDECARS.replace(
        r#"{"name": "backend","#,
        r#"{"name": "backend", "image": "example.com/backend:2","#,
    );
    let rendered = rendered(&config);
    let containers = &properties(&rendered, "AppTaskDefinition")["ContainerDefinitions"];
    let names: Vec<&str> = containers
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["Name"].as_str())
        .collect();
    assert_eq!(names, ["app", "backend", "log-router"]);
    let main = &containers[0];
    assert_eq!(
        main["Command"].to_string(),
        r#"["nginx","-g","daemon off;"]"#
    );
    let backend = &containers[1];
    assert_eq!(backend["Image"], "example.com/backend:2");
    assert_eq!(backend["Essential"], true);
    assert_eq!(backend["Cpu"], 512);
    assert_eq!(backend["Memory"], 1024);
    assert_eq!(
        backend["PortMappings"].to_string(),
        r#"[{"ContainerPort":3001,"Protocol":"tcp"}]"#
    );
    assert_eq!(
        backend["Environment"].to_string(),
        r#"[{"Name":"NODE_ENV","Value":"production"}]"#
    );
    assert!(backend.get("Secrets").is_none());
    let router = &containers[2];
    assert_eq!(router["Essential"], false);
    assert_eq!(
        router["LogConfiguration"]["Options"]["awslogs-stream-prefix"],
        "log-router"
    );
    assert_eq!(
        router["LogConfiguration"]["Options"]["awslogs-group"].to_string(),
        r#"{"Ref":"AppLogGroup"}"#
    );
}

#[test]
fn rejects_sidecars_without_names_or_images_and_with_taken_ports() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"services": {"app": {"public": true, "port": 80, "containers": [
            {"image": "a:1"},
            {"name": "app", "image": "b:1"},
            {"name": "db", "image": "c:1", "port": 80},
            {"name": "db", "image": "d:1", "memory": 4},
            {"name": "Side_Car"}
        ]}}}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "services.app.containers.0.name",
            "services.app.containers.1.name",
            "services.app.containers.2.port",
            "services.app.containers.3.name",
            "services.app.containers.3.memory",
            "services.app.containers.4.name",
            "services.app.containers.4.image",
        ]
    );
    assert_eq!(errors[2].message, "port `80` is taken by container `app`");
}

#[test]
fn rejects_sidecars_that_take_the_whole_task() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"services": {"worker": {"containers": [
            {"name": "a", "image": "a:1", "cpu": 256, "memory": 256},
            {"name": "b", "image": "b:1", "memory": 256}
        ]}}}"#,
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the sidecars reserve `256` of the task's `256` CPU units",
            "the sidecars take `512` of the task's `512` MiB",
        ]
    );
    assert!(
        errors
            .iter()
            .all(|e| e.path == "services.worker.containers")
    );
}

#[test]
fn lets_a_service_override_its_size_and_counts() {
    let rendered = rendered(
        r#"{"services": {"api": {"public": true, "cpu": 2048, "min_tasks": 2, "max_tasks": 10, "desired_count": 4},
            "reports": {"memory": 2048, "autoscale": false, "desired_count": 2}}}"#,
    );
    let api = properties(&rendered, "ApiTaskDefinition");
    assert_eq!(api["Cpu"], "2048");
    assert_eq!(api["Memory"], "4096");
    assert_eq!(properties(&rendered, "ApiService")["DesiredCount"], 4);
    assert_eq!(
        properties(&rendered, "ApiScalableTarget")["MaxCapacity"],
        10
    );
    let reports = properties(&rendered, "ReportsTaskDefinition");
    assert_eq!(reports["Cpu"], "256");
    assert_eq!(reports["Memory"], "2048");
    assert_eq!(properties(&rendered, "ReportsService")["DesiredCount"], 2);
    assert!(
        !rendered.template["Resources"]
            .as_object()
            .expect("resources")
            .contains_key("ReportsScalableTarget")
    );
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
    testing::assert_tagged(
        &rendered_in(
            &production_ctx(),
            SIDECARS
                .replace(
                    r#"{"name": "backend","#,
                    r#"{"name": "backend", "image": "example.com/backend:2","#,
                )
                .as_str(),
        ),
        &production_ctx(),
    );
}

#[test]
fn shortens_a_long_load_balancer_name_with_a_warning() {
    let ctx = Context {
        project: "a-rather-long-project-name".into(),
        ..test_ctx()
    };
    let rendered = rendered_in(&ctx, "{}");
    let name = properties(&rendered, "LoadBalancer")["Name"]
        .as_str()
        .expect("name")
        .to_owned();
    assert!(name.len() <= 32, "{name}");
    assert!(name.starts_with("a-rather-long-project-n"), "{name}");
    assert!(name.ends_with("-alb"), "{name}");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
    assert!(rendered.warnings[0].message.contains("32 characters"));
    // Deterministic: the same name every render.
    let again = rendered_in(&ctx, "{}");
    assert_eq!(properties(&again, "LoadBalancer")["Name"], name.as_str());
}

#[test]
fn rejects_a_public_service_without_a_certificate() {
    let error = error_at(r#"{"certificate_stack": ""}"#, "certificate_stack");
    assert_eq!(
        error.message,
        "service `api` is public, but `certificate_stack` is empty"
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .starts_with("HTTPS is enforced")
    );
}

#[test]
fn rejects_a_second_public_service_without_routing() {
    let error = error_at(
        r#"{"services": {"api": {"public": true}, "web": {"public": true}}}"#,
        "services.web.public",
    );
    assert_eq!(
        error.message,
        "`web` is public without routing, but `api` is the load balancer's default target already"
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("path_patterns")
    );
}

#[test]
fn rejects_turning_off_deletion_protection_in_production() {
    error_in(
        &production_ctx(),
        r#"{"alb_deletion_protection": false}"#,
        "alb_deletion_protection",
    );
}

#[test]
fn allows_turning_off_deletion_protection_outside_production() {
    rendered(r#"{"alb_deletion_protection": false}"#);
}

#[test]
fn rejects_a_production_public_service_with_one_task() {
    let error = error_in(&production_ctx(), r#"{"min_tasks": 1}"#, "min_tasks");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("two availability zones")
    );
    error_in(&production_ctx(), r#"{"max_tasks": 1}"#, "max_tasks");
    error_in(
        &production_ctx(),
        r#"{"services": {"api": {"public": true, "min_tasks": 1}}}"#,
        "services.api.min_tasks",
    );
    error_in(
        &production_ctx(),
        r#"{"services": {"api": {"public": true, "autoscale": false, "desired_count": 1}}}"#,
        "services.api.desired_count",
    );
    // Private services may run alone.
    rendered_in(
        &production_ctx(),
        r#"{"services": {"api": {"public": true}, "worker": {"min_tasks": 1}}}"#,
    );
}

#[test]
fn rejects_memory_that_does_not_fit_the_cpu() {
    let error = error_at(r#"{"cpu": 256, "memory": 4096}"#, "memory");
    assert_eq!(
        error.message,
        "`memory = 4096` does not fit `cpu = 256` on Fargate"
    );
    assert_eq!(
        error.help.as_deref(),
        Some(
            "with `cpu = 256` Fargate takes memory 512, 1024 or 2048, or set `cpu` to `512`, `1024` or `2048`"
        )
    );
    let error = error_at(r#"{"memory": 3000}"#, "memory");
    assert_eq!(
        error.help.as_deref(),
        Some("with `cpu = 256` Fargate takes memory 512, 1024 or 2048")
    );
}

#[test]
fn rejects_a_cpu_fargate_does_not_offer() {
    let error = error_at(r#"{"cpu": 300}"#, "cpu");
    assert_eq!(error.message, "`300` is not a Fargate CPU size");
    error_at(
        r#"{"services": {"worker": {"cpu": 3000}}}"#,
        "services.worker.cpu",
    );
    error_at(
        r#"{"services": {"worker": {"memory": 100000}}}"#,
        "services.worker.memory",
    );
}

#[test]
fn reports_an_inherited_size_only_where_it_is_written() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"cpu": 300, "services": {"worker": {"memory": 1024}}}"#,
    );
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["cpu"]);
}

#[test]
fn rejects_task_counts_out_of_order_or_range() {
    let error = error_at(r#"{"min_tasks": 5, "max_tasks": 3}"#, "min_tasks");
    assert_eq!(error.message, "`min_tasks = 5` is above `max_tasks = 3`");
    error_at(r#"{"max_tasks": 0}"#, "max_tasks");
    error_at(r#"{"max_tasks": 6000}"#, "max_tasks");
    error_at(
        r#"{"services": {"worker": {"min_tasks": 4, "max_tasks": 2}}}"#,
        "services.worker.min_tasks",
    );
    error_at(
        r#"{"services": {"worker": {"desired_count": 9}}}"#,
        "services.worker.desired_count",
    );
    error_at(
        r#"{"services": {"worker": {"autoscale": false, "desired_count": 9000}}}"#,
        "services.worker.desired_count",
    );
}

#[test]
fn rejects_scaling_bounds_on_a_service_that_does_not_autoscale() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"services": {"scheduler": {"min_tasks": 1, "max_tasks": 2}}}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "services.scheduler.min_tasks",
            "services.scheduler.max_tasks"
        ]
    );
}

#[test]
fn rejects_listener_keys_on_a_private_service() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"services": {"worker": {"port": 9000, "health_check_path": "/up"}}}"#,
    );
    assert_eq!(
        error_paths(&errors),
        ["services.worker.port", "services.worker.health_check_path"]
    );
}

#[test]
fn rejects_invalid_service_names_and_colliding_logical_ids() {
    for name in ["Api", "my_api", "2api", "api-", "a--b"] {
        error_at(
            &format!(r#"{{"services": {{"{name}": {{}}}}}}"#),
            &format!("services.{name}"),
        );
    }
    let error = error_at(
        r#"{"services": {"api-2": {}, "api2": {}}}"#,
        "services.api2",
    );
    assert!(error.message.contains("logical id `Api2`"));
}

#[test]
fn rejects_an_empty_services_table() {
    error_at(r#"{"services": {}}"#, "services");
}

#[test]
fn rejects_services_without_an_image_when_there_is_no_repository() {
    let error = error_at(r#"{"ecr_stack": ""}"#, "ecr_stack");
    assert!(error.message.contains("default services have no image"));
    error_at(
        r#"{"ecr_stack": "", "services": {"worker": {}}}"#,
        "services.worker",
    );
}

#[test]
fn rejects_malformed_images_ports_paths_and_commands() {
    error_at(
        r#"{"services": {"worker": {"image": "not an image"}}}"#,
        "services.worker.image",
    );
    error_at(
        r#"{"services": {"api": {"public": true, "port": 70000}}}"#,
        "services.api.port",
    );
    error_at(
        r#"{"services": {"api": {"public": true, "health_check_path": "health"}}}"#,
        "services.api.health_check_path",
    );
    error_at(
        r#"{"services": {"worker": {"command": []}}}"#,
        "services.worker.command",
    );
    error_at(r#"{"app_port": 0}"#, "app_port");
    error_at(r#"{"health_check_path": "/a b"}"#, "health_check_path");
}

#[test]
fn rejects_invalid_image_tags() {
    for tag in ["", "-latest", "v1 2", "a/b", &"a".repeat(129)] {
        error_at(&format!(r#"{{"image_tag": "{tag}"}}"#), "image_tag");
    }
}

#[test]
fn suggests_the_architecture_for_a_misspelling() {
    let error = error_at(r#"{"architecture": "arm64"}"#, "architecture");
    assert_eq!(error.help.as_deref(), Some("did you mean `ARM64`?"));
    let error = error_at(r#"{"architecture": "sparc"}"#, "architecture");
    assert_eq!(
        error.help.as_deref(),
        Some("use `X86_64`, or `ARM64` for Graviton")
    );
}

#[test]
fn rejects_retention_periods_cloudwatch_does_not_offer() {
    let error = error_at(r#"{"log_retention_days": 10}"#, "log_retention_days");
    assert_eq!(
        error.help.as_deref(),
        Some("CloudWatch Logs keeps logs for set periods; use `7` or `14`")
    );
}

#[test]
fn rejects_targets_and_timeouts_out_of_range() {
    error_at(r#"{"cpu_target_percent": 5}"#, "cpu_target_percent");
    error_at(r#"{"memory_target_percent": 100}"#, "memory_target_percent");
    error_at(
        r#"{"alb_idle_timeout_seconds": 0}"#,
        "alb_idle_timeout_seconds",
    );
    error_at(
        r#"{"alb_idle_timeout_seconds": 4001}"#,
        "alb_idle_timeout_seconds",
    );
}

#[test]
fn rejects_queue_secret_and_repository_names_that_cannot_be_imported() {
    error_at(r#"{"queues": ["Jobs"]}"#, "queues.0");
    error_at(r#"{"queues": ["jobs", "jobs"]}"#, "queues.1");
    error_at(r#"{"secrets": ["app_config"]}"#, "secrets.0");
    error_at(r#"{"repository": "team/api"}"#, "repository");
    // Without an ECR stack the repository is not read.
    rendered(
        r#"{"ecr_stack": "", "repository": "team/api", "services": {"worker": {"image": "a:1"}}}"#,
    );
}

#[test]
fn rejects_variables_the_module_sets_or_that_are_not_names() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"environment_variables": {"DB_HOST": "x", "QUEUE_NOTIFICATIONS_URL": "y", "1BAD": "z", "OK": "w"}}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "environment_variables.1BAD",
            "environment_variables.DB_HOST",
            "environment_variables.QUEUE_NOTIFICATIONS_URL",
        ]
    );
    assert_eq!(
        errors[1].message,
        "`DB_HOST` is set by the module from `database_stack`"
    );
    // Without the database, the name is free.
    rendered(r#"{"database_stack": "", "environment_variables": {"DB_HOST": "localhost"}}"#);
}

#[test]
fn rejects_a_secret_whose_variable_the_database_uses() {
    let error = error_at(r#"{"secrets": ["db"]}"#, "secrets.0");
    assert_eq!(
        error.message,
        "this gives the variable `DB_SECRET`, which `database_stack` sets already"
    );
}

#[test]
fn rejects_stack_names_that_cannot_be_imported_from() {
    error_at(r#"{"networking_stack": ""}"#, "networking_stack");
    error_at(r#"{"security_stack": "Security"}"#, "security_stack");
    for key in [
        "certificate_stack",
        "database_stack",
        "sqs_stack",
        "secrets_stack",
        "s3_stack",
        "ecr_stack",
    ] {
        error_at(&format!(r#"{{"{key}": "a b"}}"#), key);
    }
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &production_ctx(),
        r#"{"security_stack": "", "queues": ["Q"], "image_tag": "", "cpu": 256, "memory": 8192,
            "min_tasks": 9, "max_tasks": 2, "cpu_target_percent": 1, "log_retention_days": 2,
            "alb_deletion_protection": false, "alb_idle_timeout_seconds": 0, "health_check_path": "x",
            "app_port": 0, "architecture": "x86", "environment_variables": {"DB_PORT": "1"},
            "services": {"api": {"public": true}, "Web": {"public": true}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "security_stack",
            "queues.0",
            "image_tag",
            "memory",
            "min_tasks",
            "cpu_target_percent",
            "log_retention_days",
            "alb_deletion_protection",
            "alb_idle_timeout_seconds",
            "health_check_path",
            "app_port",
            "architecture",
            "environment_variables.DB_PORT",
            "services.Web",
            "services.api.public",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"desired_count": 2}"#, "desired_count");
    error_at(
        r#"{"services": {"worker": {"containers": [{"name": "a", "image": "b", "ports": [1]}]}}}"#,
        "services.worker.containers.0.ports",
    );
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(
        r#"{"services": {"api": {"public": "yes"}}}"#,
        "services.api.public",
    );
}

#[test]
fn describes_every_option_in_the_schema() {
    let schema = testing::assert_documented::<Config>(33);
    for definition in ["ServiceConfig", "ContainerConfig"] {
        let properties = &schema["$defs"][definition]["properties"];
        assert!(properties.is_object(), "{definition} is documented");
    }
}

#[test]
fn an_environment_variable_can_read_another_stacks_output() {
    let rendered = rendered(
        r#"{"environment_variables": {"LOG_LEVEL": "info", "USER_POOL_ID": {"import": "auth.user-pool-id"}}}"#,
    );
    assert!(
        imported_stacks(&rendered).contains(&"auth"),
        "the import is declared"
    );
    for service in ["api", "worker"] {
        let container = main_container(&rendered, service);
        assert_eq!(
            variable(container, "USER_POOL_ID").as_deref(),
            Some(r#"{"Fn::ImportValue":"acme-test-auth-user-pool-id"}"#)
        );
        assert_eq!(
            variable(container, "LOG_LEVEL").as_deref(),
            Some(r#""info""#)
        );
    }
}

#[test]
fn an_import_that_is_not_stack_dot_output_is_refused_at_its_key() {
    let errors = errors_in(
        &test_ctx(),
        r#"{"environment_variables": {"POOL": {"import": "auth"}}}"#,
    );
    assert_eq!(error_paths(&errors), ["environment_variables.POOL.import"]);
}

// Wave 2: routing, per-service roles, singletons, the app's database
// secret, the cache, Cloud Map and EFS.

const ROUTED: &str = r#"{"services": {
    "web": {"public": true},
    "api": {"path_patterns": ["/api/*"], "port": 3000, "health_check_path": "/api/health"},
    "admin": {"host_headers": ["admin.example.com"], "priority": 5},
    "worker": {}
}}"#;

#[test]
fn routes_several_public_services_through_one_load_balancer() {
    let rendered = rendered(ROUTED);
    assert_eq!(
        count_of(&rendered, "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        1
    );
    assert_eq!(
        count_of(&rendered, "AWS::ElasticLoadBalancingV2::TargetGroup"),
        3
    );
    let https = properties(&rendered, "HttpsListener");
    assert_eq!(
        https["DefaultActions"].to_string(),
        r#"[{"TargetGroupArn":{"Ref":"TargetGroup"},"Type":"forward"}]"#
    );
    let api = properties(&rendered, "ApiListenerRule");
    assert_eq!(api["Priority"], 20);
    assert_eq!(
        api["Conditions"].to_string(),
        r#"[{"Field":"path-pattern","PathPatternConfig":{"Values":["/api/*"]}}]"#
    );
    assert_eq!(
        api["Actions"][0]["TargetGroupArn"].to_string(),
        r#"{"Ref":"ApiTargetGroup"}"#
    );
    assert_eq!(properties(&rendered, "ApiTargetGroup")["Port"], 3000);
    assert_eq!(
        properties(&rendered, "ApiTargetGroup")["HealthCheckPath"],
        "/api/health"
    );
    let admin = properties(&rendered, "AdminListenerRule");
    assert_eq!(admin["Priority"], 5);
    assert_eq!(
        admin["Conditions"][0]["HostHeaderConfig"]["Values"][0],
        "admin.example.com"
    );
    let service = resource(&rendered, "ApiService");
    assert_eq!(service["DependsOn"], "ApiListenerRule");
    assert_eq!(
        service["Properties"]["LoadBalancers"][0]["TargetGroupArn"].to_string(),
        r#"{"Ref":"ApiTargetGroup"}"#
    );
    assert!(
        properties(&rendered, "WorkerService")
            .get("LoadBalancers")
            .is_none(),
        "a service without routing or `public` stays private"
    );
    for output in [
        "web-target-group-full-name",
        "api-target-group-full-name",
        "admin-target-group-full-name",
    ] {
        assert!(rendered.exports.iter().any(|e| e == output), "{output}");
    }
    assert!(
        !rendered
            .exports
            .iter()
            .any(|e| e == "worker-target-group-full-name")
    );
}

#[test]
fn answers_404_when_every_public_service_is_routed() {
    let rendered = rendered(
        r#"{"services": {"api": {"path_patterns": ["/api/*"]}, "docs": {"path_patterns": ["/docs/*"]}}}"#,
    );
    let action = &properties(&rendered, "HttpsListener")["DefaultActions"][0];
    assert_eq!(action["Type"], "fixed-response");
    assert_eq!(action["FixedResponseConfig"]["StatusCode"], "404");
    assert_eq!(properties(&rendered, "ApiListenerRule")["Priority"], 10);
    assert_eq!(properties(&rendered, "DocsListenerRule")["Priority"], 20);
    testing::assert_output_values(
        &rendered,
        &[(
            "TargetGroupFullName",
            r#"{"Fn::GetAtt":["ApiTargetGroup","TargetGroupFullName"]}"#,
        )],
    );
}

#[test]
fn rejects_two_routed_services_with_one_priority_at_the_later_key() {
    let error = error_at(
        r#"{"services": {"api": {"path_patterns": ["/api/*"], "priority": 7},
                         "docs": {"path_patterns": ["/docs/*"], "priority": 7}}}"#,
        "services.docs.priority",
    );
    assert_eq!(error.message, "`priority = 7` is taken by service `api`");
}

#[test]
fn rejects_an_explicit_priority_that_a_derived_one_takes() {
    // `api` is the first routed service: derived 10, which `docs` claims.
    let error = error_at(
        r#"{"services": {"api": {"path_patterns": ["/api/*"]},
                         "docs": {"path_patterns": ["/docs/*"], "priority": 10}}}"#,
        "services.docs.priority",
    );
    assert_eq!(error.message, "`priority = 10` is taken by service `api`");
}

#[test]
fn rejects_bad_routing_values_at_their_index() {
    let errors = errors(
        r#"{"services": {"api": {"path_patterns": ["api/*", "/x"], "host_headers": ["API.example.com"], "priority": 0},
                         "worker": {"priority": 3}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "services.api.path_patterns.0",
            "services.api.host_headers.0",
            "services.api.priority",
            "services.worker.priority",
        ],
    );
}

#[test]
fn rejects_more_than_five_condition_values() {
    let error = error_at(
        r#"{"services": {"api": {"path_patterns": ["/a", "/b", "/c", "/d", "/e", "/f"]}}}"#,
        "services.api.path_patterns",
    );
    assert!(error.message.contains("at most 5"), "{}", error.message);
}

#[test]
fn gives_each_service_its_own_task_role_with_only_what_it_is_given() {
    let ctx = test_ctx();
    let rendered = rendered(
        r#"{"services": {
            "api": {"public": true, "queues": ["notifications"], "secrets": []},
            "worker": {"queues": ["background-jobs", "data-refresh"], "assets_bucket": false, "database": false}
        }}"#,
    );
    assert_eq!(count_of(&rendered, "AWS::IAM::Role"), 3);
    let statements = |role: &str| {
        properties(&rendered, role)["Policies"][0]["PolicyDocument"]["Statement"].clone()
    };
    let api = statements("ApiTaskRole");
    assert_eq!(
        api[0]["Resource"].to_string(),
        format!("[{}]", import_value(&ctx, "sqs", "notifications-queue-arn"))
    );
    assert!(api.to_string().contains("ReadWriteAssets"));
    let worker = statements("WorkerTaskRole");
    assert_eq!(worker[0]["Resource"].as_array().map(Vec::len), Some(2));
    assert!(!worker.to_string().contains("notifications"));
    assert!(!worker.to_string().contains("Assets"));
    assert_eq!(
        properties(&rendered, "WorkerTaskDefinition")["TaskRoleArn"].to_string(),
        r#"{"Fn::GetAtt":["WorkerTaskRole","Arn"]}"#
    );
    let api_container = main_container(&rendered, "api");
    assert!(variable(api_container, "QUEUE_NOTIFICATIONS_URL").is_some());
    assert!(variable(api_container, "QUEUE_BACKGROUND_JOBS_URL").is_none());
    assert_eq!(
        api_container["Secrets"].to_string(),
        format!(
            r#"[{{"Name":"DB_SECRET","ValueFrom":{}}}]"#,
            import_value(&ctx, "database", "app-secret-arn")
        )
    );
    let worker_container = main_container(&rendered, "worker");
    assert!(variable(worker_container, "DB_HOST").is_none());
    assert!(variable(worker_container, "ASSETS_BUCKET").is_none());
    assert_eq!(
        worker_container["Secrets"].to_string(),
        format!(
            r#"[{{"Name":"APP_CONFIG_SECRET","ValueFrom":{}}}]"#,
            import_value(&ctx, "secrets", "app-config-secret-arn")
        )
    );
}

#[test]
fn rejects_a_service_queue_that_the_stack_does_not_list() {
    let error = error_at(
        r#"{"services": {"worker": {"queues": ["notificatons"]}}}"#,
        "services.worker.queues.0",
    );
    assert_eq!(
        error.message,
        "`notificatons` is not one of the top-level `queues`"
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `notifications`?"));
}

#[test]
fn deploys_a_singleton_without_ever_running_two_tasks() {
    let rendered = rendered("{}");
    let scheduler = &properties(&rendered, "SchedulerService")["DeploymentConfiguration"];
    assert_eq!(scheduler["MaximumPercent"], 100);
    assert_eq!(scheduler["MinimumHealthyPercent"], 0);
    assert_eq!(properties(&rendered, "SchedulerService")["DesiredCount"], 1);
    let worker = &properties(&rendered, "WorkerService")["DeploymentConfiguration"];
    assert_eq!(worker["MaximumPercent"], 200);
    assert_eq!(worker["MinimumHealthyPercent"], 100);

    let cron = crate::tests::rendered(r#"{"services": {"cron": {"singleton": true}}}"#);
    let deployment = &properties(&cron, "CronService")["DeploymentConfiguration"];
    assert_eq!(deployment["MaximumPercent"], 100);
    assert_eq!(deployment["MinimumHealthyPercent"], 0);
    assert_eq!(
        count_of(&cron, "AWS::ApplicationAutoScaling::ScalableTarget"),
        0
    );
}

#[test]
fn rejects_a_singleton_that_autoscales_or_runs_two_tasks() {
    let errors = errors(
        r#"{"services": {"cron": {"singleton": true, "autoscale": true, "desired_count": 2}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &["services.cron.autoscale", "services.cron.desired_count"],
    );
}

#[test]
fn never_injects_the_master_secret_by_default() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    assert!(
        !rendered
            .imports
            .iter()
            .any(|i| i.stack == "database" && i.output == "secret-arn"),
        "{:?}",
        rendered.imports
    );
    let text = rendered.template.to_string();
    assert!(!text.contains(&ctx.export_name("database", "secret-arn")));
    assert_eq!(
        variable(main_container(&rendered, "api"), "DB_SECRET"),
        None,
        "DB_SECRET is a secret, not a plain variable"
    );
}

#[test]
fn takes_the_app_database_secret_from_another_stack_or_none() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"database_secret": {"import": "secrets.db-app-secret-arn"}}"#);
    assert_eq!(
        main_container(&rendered, "worker")["Secrets"][1].to_string(),
        format!(
            r#"{{"Name":"DB_SECRET","ValueFrom":{}}}"#,
            import_value(&ctx, "secrets", "db-app-secret-arn")
        )
    );
    let none = crate::tests::rendered(r#"{"database_secret": ""}"#);
    assert!(!none.template.to_string().contains("DB_SECRET"));
    assert!(variable(main_container(&none, "worker"), "DB_HOST").is_some());
}

#[test]
fn warns_when_the_master_secret_is_chosen_explicitly() {
    let rendered = rendered(r#"{"database_secret": {"import": "database.secret-arn"}}"#);
    let [warning] = rendered.warnings.as_slice() else {
        panic!("{:#?}", rendered.warnings);
    };
    assert_eq!(warning.path, "database_secret");
    assert!(warning.message.contains("master"), "{}", warning.message);
}

#[test]
fn rejects_a_database_secret_that_is_not_an_arn() {
    let error = error_at(r#"{"database_secret": "db-password"}"#, "database_secret");
    assert_eq!(error.message, "`db-password` is not a secret ARN");
}

#[test]
fn gives_the_cache_endpoint_as_variables() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"cache_stack": "cache"}"#);
    let container = main_container(&rendered, "worker");
    assert_eq!(
        variable(container, "CACHE_ENDPOINT"),
        Some(import_value(&ctx, "cache", "primary-endpoint-address"))
    );
    assert_eq!(
        variable(container, "CACHE_PORT"),
        Some(import_value(&ctx, "cache", "primary-endpoint-port"))
    );
    assert_eq!(
        variable(container, "REDIS_URL"),
        Some(format!(
            r#"{{"Fn::Join":["",["rediss://",{},":",{}]]}}"#,
            import_value(&ctx, "cache", "primary-endpoint-address"),
            import_value(&ctx, "cache", "primary-endpoint-port")
        ))
    );
    let error = error_at(
        r#"{"cache_stack": "cache", "environment_variables": {"REDIS_URL": "x"}}"#,
        "environment_variables.REDIS_URL",
    );
    assert_eq!(
        error.message,
        "`REDIS_URL` is set by the module from `cache_stack`"
    );
}

#[test]
fn registers_every_service_in_a_private_namespace() {
    let ctx = test_ctx();
    let rendered = assert_tagged_in(&ctx, r#"{"service_discovery": true}"#);
    let namespace = properties(&rendered, "Namespace");
    assert_eq!(namespace["Name"], "test.acme.internal");
    assert_eq!(
        namespace["Vpc"].to_string(),
        import_value(&ctx, "networking", "vpc-id")
    );
    assert_eq!(count_of(&rendered, "AWS::ServiceDiscovery::Service"), 3);
    assert_eq!(
        properties(&rendered, "WorkerDiscoveryService")["Name"],
        "worker"
    );
    assert_eq!(
        properties(&rendered, "WorkerService")["ServiceRegistries"].to_string(),
        r#"[{"RegistryArn":{"Fn::GetAtt":["WorkerDiscoveryService","Arn"]}}]"#
    );
    assert_eq!(
        variable(
            main_container(&rendered, "api"),
            "SERVICE_DISCOVERY_NAMESPACE"
        )
        .as_deref(),
        Some(r#""test.acme.internal""#)
    );
    for output in [
        "namespace-id",
        "namespace-name",
        "worker-discovery-service-arn",
    ] {
        assert!(rendered.exports.iter().any(|e| e == output), "{output}");
    }
    let named =
        crate::tests::rendered(r#"{"service_discovery": true, "namespace": "svc.acme.local"}"#);
    assert_eq!(properties(&named, "Namespace")["Name"], "svc.acme.local");
}

#[test]
fn rejects_a_namespace_without_service_discovery_or_a_bad_one() {
    error_at(r#"{"namespace": "svc.acme.local"}"#, "namespace");
    error_at(
        r#"{"service_discovery": true, "namespace": "Svc.local"}"#,
        "namespace",
    );
}

#[test]
fn mounts_efs_volumes_with_tls_and_iam_authorization() {
    let ctx = test_ctx();
    let rendered = rendered(
        r#"{"services": {"worker": {"volumes": [
            {"name": "uploads", "efs": "shared-files", "access_point": "uploads", "path": "/mnt/uploads"},
            {"name": "reference", "efs": "shared-files", "path": "/mnt/reference", "read_only": true}
        ]}}}"#,
    );
    let task = properties(&rendered, "WorkerTaskDefinition");
    let volume = &task["Volumes"][0];
    assert_eq!(volume["Name"], "uploads");
    let efs = &volume["EFSVolumeConfiguration"];
    assert_eq!(
        efs["FilesystemId"].to_string(),
        import_value(&ctx, "shared-files", "file-system-id")
    );
    assert_eq!(efs["TransitEncryption"], "ENABLED");
    assert_eq!(efs["AuthorizationConfig"]["IAM"], "ENABLED");
    assert_eq!(
        efs["AuthorizationConfig"]["AccessPointId"].to_string(),
        import_value(&ctx, "shared-files", "access-point-uploads-id")
    );
    assert!(
        task["Volumes"][1]["EFSVolumeConfiguration"]["AuthorizationConfig"]
            .get("AccessPointId")
            .is_none()
    );
    assert_eq!(
        task["ContainerDefinitions"][0]["MountPoints"].to_string(),
        r#"[{"ContainerPath":"/mnt/uploads","ReadOnly":false,"SourceVolume":"uploads"},{"ContainerPath":"/mnt/reference","ReadOnly":true,"SourceVolume":"reference"}]"#
    );
    let statements =
        &properties(&rendered, "WorkerTaskRole")["Policies"][0]["PolicyDocument"]["Statement"];
    let mounts: Vec<&Value> = statements
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| {
            s["Sid"]
                .as_str()
                .is_some_and(|sid| sid.starts_with("MountFileSystem"))
        })
        .collect();
    assert_eq!(
        mounts[0]["Action"].to_string(),
        r#"["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]"#
    );
    assert!(mounts[0]["Condition"]["StringEquals"]["elasticfilesystem:AccessPointArn"].is_object());
    assert_eq!(
        mounts[1]["Action"].to_string(),
        r#"["elasticfilesystem:ClientMount"]"#
    );
}

#[test]
fn rejects_bad_volumes_at_their_keys() {
    let errors = errors(
        r#"{"services": {"worker": {"volumes": [
            {"name": "Uploads", "efs": "", "path": "mnt"},
            {"name": "b", "efs": "files", "access_point": "A P", "path": "/x"},
            {"name": "c", "efs": "files", "path": "/x"}
        ]}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "services.worker.volumes.0.name",
            "services.worker.volumes.0.efs",
            "services.worker.volumes.0.path",
            "services.worker.volumes.1.access_point",
            "services.worker.volumes.2.path",
        ],
    );
}

#[test]
fn injects_a_services_own_secret_variables_from_imports() {
    let ctx = test_ctx();
    let rendered = rendered(
        r#"{"services": {"api": {"public": true, "secret_variables": {"STRIPE_KEY": {"import": "payments.stripe-secret-arn"}}}}}"#,
    );
    let secrets = main_container(&rendered, "api")["Secrets"].to_string();
    assert!(
        secrets.contains(&format!(
            r#"{{"Name":"STRIPE_KEY","ValueFrom":{}}}"#,
            import_value(&ctx, "payments", "stripe-secret-arn")
        )),
        "{secrets}"
    );
    let error = error_at(
        r#"{"environment_variables": {"STRIPE_KEY": "x"}, "services": {"api": {"public": true, "secret_variables": {"STRIPE_KEY": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}}}}"#,
        "services.api.secret_variables.STRIPE_KEY",
    );
    assert!(
        error.message.contains("environment_variables"),
        "{}",
        error.message
    );
}

#[test]
fn exports_what_scheduled_tasks_and_api_gateways_import() {
    let rendered = rendered("{}");
    testing::assert_output_values(
        &rendered,
        &[
            ("WorkerTaskFamily", r#""acme-test-worker""#),
            (
                "WorkerTaskRoleArn",
                r#"{"Fn::GetAtt":["WorkerTaskRole","Arn"]}"#,
            ),
            (
                "ExecutionRoleArn",
                r#"{"Fn::GetAtt":["TaskExecutionRole","Arn"]}"#,
            ),
            ("AlbHttpsListenerArn", r#"{"Ref":"HttpsListener"}"#),
            (
                "AlbCanonicalHostedZoneId",
                r#"{"Fn::GetAtt":["LoadBalancer","CanonicalHostedZoneID"]}"#,
            ),
        ],
    );
}

#[test]
fn tags_every_resource_of_a_routed_discovered_production_stack() {
    let rendered = assert_tagged_in(
        &production_ctx(),
        r#"{"service_discovery": true, "cache_stack": "cache", "services": {
            "web": {"public": true},
            "api": {"path_patterns": ["/api/*"], "volumes": [{"name": "uploads", "efs": "files", "access_point": "uploads", "path": "/mnt/uploads"}]},
            "scheduler": {}
        }}"#,
    );
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let scheduler = &properties(&rendered, "SchedulerService")["DeploymentConfiguration"];
    assert_eq!(scheduler["MaximumPercent"], 100);
}

#[test]
fn says_so_when_no_s3_stack_receives_the_load_balancers_access_logs() {
    let rendered = rendered(r#"{"s3_stack": ""}"#);
    let [warning] = rendered.warnings.as_slice() else {
        panic!("{:#?}", rendered.warnings);
    };
    assert_eq!(warning.path, "s3_stack");
    assert!(
        warning.message.contains("access logs are off"),
        "{}",
        warning.message
    );
}
