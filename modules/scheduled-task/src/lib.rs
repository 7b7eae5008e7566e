//! The `scheduled-task` stack type: ECS Fargate tasks started by
//! EventBridge, on a schedule or when an event matches.
//!
//! - [`config`] validates the stack's table: schedule expressions, time
//!   zones, event patterns, retry limits.
//! - This file adds the resources: an encrypted SQS dead-letter queue for
//!   invocations that fail every retry (and its policy), a schedule group
//!   and an EventBridge Scheduler schedule per schedule, an EventBridge
//!   rule per rule, and the roles Scheduler and EventBridge start the tasks
//!   with: `ecs:RunTask` on exactly the task families used, on the one
//!   cluster, and `iam:PassRole` on exactly those tasks' roles.
//!
//! The tasks are the compute stack's services' task definitions (their
//! latest revisions, by family), run in the private subnets behind the
//! security stack's ECS group, with the service's main container's command
//! replaced when `command` is set. The compute stack exports what this one
//! imports: `cluster-arn`, `execution-role-arn`, `{service}-task-family`
//! and `{service}-task-role-arn`.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{Rule, Schedule, Settings, Task};

/// Logical id of the dead-letter queue.
pub const DEAD_LETTER_QUEUE: &str = "DeadLetterQueue";
/// Logical id of the schedule group.
pub const SCHEDULE_GROUP: &str = "ScheduleGroup";
/// Logical id of the role EventBridge Scheduler runs tasks with.
pub const SCHEDULER_ROLE: &str = "SchedulerRole";
/// Logical id of the role EventBridge rules run tasks with.
pub const EVENTS_ROLE: &str = "EventsRole";
const QUEUE_POLICY: &str = "DeadLetterQueuePolicy";
const SECONDS_PER_DAY: u32 = 86_400;

/// The outputs a stack with these schedules and rules exports, in order.
pub fn exports(schedules: bool, rules: &[&str]) -> Vec<String> {
    let mut exports = vec![
        "dead-letter-queue-arn".to_owned(),
        "dead-letter-queue-url".to_owned(),
        "dead-letter-queue-name".to_owned(),
    ];
    if schedules {
        exports.push("schedule-group-name".to_owned());
    }
    exports.extend(rules.iter().map(|rule| format!("{rule}-rule-arn")));
    exports
}

/// Render a scheduled-task stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let settings = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} scheduled and {} event-driven ECS task(s) with a dead-letter queue",
            ctx.name(&ctx.stack),
            settings.schedules.len(),
            settings.rules.len()
        ),
    );
    let imports = Imports::new(&mut template, &settings);
    add_dead_letter_queue(&mut template, ctx, &settings);
    match &settings.monitoring_stack {
        Some(monitoring) => add_dead_letter_alarm(&mut template, ctx, monitoring),
        None => template.warn(
            "monitoring_stack",
            "no alarm: a task that fails every retry waits in the dead-letter queue and pages no one",
            Some("name the monitoring stack, e.g. `monitoring_stack = \"monitoring\"`, so its critical topic hears of it"),
        ),
    }
    if !settings.schedules.is_empty() {
        template.resource(
            SCHEDULE_GROUP,
            Resource::new(
                "AWS::Scheduler::ScheduleGroup",
                json!({ "Name": ctx.name(&ctx.stack), "Tags": ctx.tags() }),
            ),
        );
        add_role(&mut template, ctx, &settings, &imports, Invoker::Scheduler);
        for schedule in &settings.schedules {
            add_schedule(&mut template, &settings, &imports, schedule);
        }
    }
    if !settings.rules.is_empty() {
        add_role(&mut template, ctx, &settings, &imports, Invoker::Events);
        for rule in &settings.rules {
            add_rule(&mut template, ctx, &settings, &imports, rule);
        }
    }
    add_exports(&mut template, ctx, &settings);
    Ok(template)
}

/// What the tasks need from other stacks, imported once.
struct Imports {
    cluster: Value,
    subnets: Value,
    security_group: Value,
    execution_role: Value,
    /// Per service used: (name, task definition ARN without revision, task role ARN).
    services: Vec<(String, Value, Value)>,
}

impl Imports {
    fn new(template: &mut Template, settings: &Settings) -> Self {
        let compute = &settings.compute_stack;
        let cluster = template.import(compute, "cluster-arn");
        let subnets = cfn::split(
            ",",
            template.import(&settings.networking_stack, "private-subnet-ids"),
        );
        let security_group = template.import(&settings.security_stack, "ecs-security-group-id");
        let execution_role = template.import(compute, "execution-role-arn");
        let services = settings
            .services()
            .into_iter()
            .map(|service| {
                let family = template.import(compute, &format!("{service}-task-family"));
                let role = template.import(compute, &format!("{service}-task-role-arn"));
                (service.to_owned(), task_definition_arn(family), role)
            })
            .collect();
        Self {
            cluster,
            subnets,
            security_group,
            execution_role,
            services,
        }
    }

    fn task_definition(&self, service: &str) -> Value {
        self.services
            .iter()
            .find(|(name, _, _)| name == service)
            .map_or(Value::Null, |(_, arn, _)| arn.clone())
    }
}

/// `arn:…:task-definition/<family>`: without a revision, ECS runs the
/// family's latest active one, so a compute deploy needs no change here.
fn task_definition_arn(family: Value) -> Value {
    cfn::join(
        "",
        [
            cfn::sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"),
            family,
        ],
    )
}

/// Logical id of the alarm on the dead-letter queue.
pub const DEAD_LETTER_ALARM: &str = "DeadLetterQueueAlarm";

/// An invocation in the dead-letter queue pages the critical topic.
fn add_dead_letter_alarm(template: &mut Template, ctx: &Context, monitoring: &str) {
    let topic = template.import(monitoring, "critical-topic-arn");
    template.resource(
        DEAD_LETTER_ALARM,
        Resource::new(
            "AWS::CloudWatch::Alarm",
            json!({
                "AlarmName": ctx.name(&format!("{}-dead-letters", ctx.stack)),
                "AlarmDescription": "A scheduled or event-driven task failed to start after every retry (critical)",
                "ActionsEnabled": true,
                "AlarmActions": [topic.clone()],
                "OKActions": [topic],
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{ "Name": "QueueName", "Value": cfn::get_att(DEAD_LETTER_QUEUE, "QueueName") }],
                "Statistic": "Maximum",
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0,
                "Period": 300,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "Tags": ctx.tags(),
            }),
        ),
    );
}

fn add_dead_letter_queue(template: &mut Template, ctx: &Context, settings: &Settings) {
    let name = ctx.name(&format!("{}-dlq", ctx.stack));
    template.resource(
        DEAD_LETTER_QUEUE,
        Resource::new(
            "AWS::SQS::Queue",
            json!({
                "QueueName": name,
                "SqsManagedSseEnabled": true,
                "MessageRetentionPeriod": settings.dead_letter_retention_days * SECONDS_PER_DAY,
                "Tags": ctx.tags(),
            }),
        )
        .retain_as(aws::retain_if(ctx.is_production())),
    );
    let queue_arn = cfn::get_att(DEAD_LETTER_QUEUE, "Arn");
    let mut statements = vec![aws::deny_insecure_transport("sqs:*", queue_arn.clone())];
    if !settings.rules.is_empty() {
        // EventBridge rules deliver to a dead-letter queue as the service,
        // not as the target's role: only this stack's rules may.
        let rules: Vec<Value> = settings
            .rules
            .iter()
            .map(|rule| cfn::get_att(&rule_id(&rule.task), "Arn"))
            .collect();
        statements.push(json!({
            "Sid": "EventBridgeRulesSendFailedEvents",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rules } },
        }));
    }
    template.resource(
        QUEUE_POLICY,
        Resource::new(
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [cfn::reference(DEAD_LETTER_QUEUE)],
                "PolicyDocument": aws::policy_document(statements),
            }),
        ),
    );
}

/// Who starts the tasks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Invoker {
    Scheduler,
    Events,
}

fn add_role(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    imports: &Imports,
    invoker: Invoker,
) {
    let (id, principal, source, services): (_, _, _, Vec<&str>) = match invoker {
        Invoker::Scheduler => (
            SCHEDULER_ROLE,
            "scheduler.amazonaws.com",
            cfn::sub(&format!(
                "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/{}/*",
                ctx.name(&ctx.stack)
            )),
            settings
                .schedules
                .iter()
                .map(|s| s.task.service.as_str())
                .collect(),
        ),
        Invoker::Events => (
            EVENTS_ROLE,
            "events.amazonaws.com",
            // This environment's rules: `rule/<name>` on the default bus,
            // `rule/<bus>/<name>` on others.
            json!([
                cfn::sub(&format!(
                    "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{}-*",
                    ctx.name("").trim_end_matches('-')
                )),
                cfn::sub(&format!(
                    "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/*/{}-*",
                    ctx.name("").trim_end_matches('-')
                )),
            ]),
            settings
                .rules
                .iter()
                .map(|r| r.task.service.as_str())
                .collect(),
        ),
    };
    let mut task_definitions = Vec::new();
    let mut roles = vec![imports.execution_role.clone()];
    for (service, arn, role) in &imports.services {
        if services.contains(&service.as_str()) {
            task_definitions.push(arn.clone());
            task_definitions.push(cfn::join("", [arn.clone(), json!(":*")]));
            roles.push(role.clone());
        }
    }
    let mut statements = vec![
        json!({
            "Sid": "RunTheTasks",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": task_definitions,
            "Condition": { "ArnEquals": { "ecs:cluster": imports.cluster } },
        }),
        json!({
            "Sid": "PassTheTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": roles,
            "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
        }),
        json!({
            "Sid": "TagTheTasks",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": cfn::sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/*"),
            "Condition": { "StringEquals": { "ecs:CreateAction": "RunTask" } },
        }),
    ];
    if invoker == Invoker::Scheduler {
        // Scheduler delivers to the dead-letter queue as this role.
        statements.push(json!({
            "Sid": "SendFailedInvocations",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": cfn::get_att(DEAD_LETTER_QUEUE, "Arn"),
        }));
    }
    let what = match invoker {
        Invoker::Scheduler => "EventBridge Scheduler",
        Invoker::Events => "EventBridge rules",
    };
    template.resource(
        id,
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "Description": format!("Lets {what} start the ECS tasks of {}", ctx.name(&ctx.stack)),
                "AssumeRolePolicyDocument": aws::assume_role_policy(principal, Some(source)),
                "Policies": [aws::inline_policy("run-tasks", statements)],
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// The RunTask parameters both Scheduler and EventBridge take (their
/// network configuration keys are spelled differently).
fn ecs_parameters(imports: &Imports, task: &Task, vpc_key: &str) -> Value {
    json!({
        "TaskDefinitionArn": imports.task_definition(&task.service),
        "TaskCount": task.task_count,
        "LaunchType": "FARGATE",
        "PlatformVersion": "LATEST",
        "NetworkConfiguration": {
            vpc_key: {
                "Subnets": imports.subnets,
                "SecurityGroups": [imports.security_group],
                "AssignPublicIp": "DISABLED",
            },
        },
        "EnableECSManagedTags": true,
        "PropagateTags": "TASK_DEFINITION",
    })
}

/// RunTask overrides replacing the main container's command, as the JSON
/// text of a target's `Input`; extra `environment` entries for rules.
fn overrides(task: &Task, environment: &[(&str, &str)]) -> Option<String> {
    if task.command.is_none() && environment.is_empty() {
        return None;
    }
    let mut container = json!({ "name": task.service });
    if let Some(command) = &task.command {
        container["command"] = json!(command);
    }
    if !environment.is_empty() {
        container["environment"] = environment
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
    }
    Some(json!({ "containerOverrides": [container] }).to_string())
}

fn state(task: &Task) -> &'static str {
    if task.enabled { "ENABLED" } else { "DISABLED" }
}

fn add_schedule(
    template: &mut Template,
    settings: &Settings,
    imports: &Imports,
    schedule: &Schedule,
) {
    let task = &schedule.task;
    let mut target = json!({
        "Arn": imports.cluster,
        "RoleArn": cfn::get_att(SCHEDULER_ROLE, "Arn"),
        "EcsParameters": ecs_parameters(imports, task, "AwsvpcConfiguration"),
        "RetryPolicy": {
            "MaximumRetryAttempts": settings.retry_attempts,
            "MaximumEventAgeInSeconds": settings.maximum_event_age_seconds,
        },
        "DeadLetterConfig": { "Arn": cfn::get_att(DEAD_LETTER_QUEUE, "Arn") },
    });
    if let Some(input) = overrides(task, &[]) {
        target["Input"] = json!(input);
    }
    let window = if schedule.window_minutes == 0 {
        json!({ "Mode": "OFF" })
    } else {
        json!({ "Mode": "FLEXIBLE", "MaximumWindowInMinutes": schedule.window_minutes })
    };
    template.resource(
        &format!("{}Schedule", task.id),
        Resource::new(
            "AWS::Scheduler::Schedule",
            json!({
                "Name": task.name,
                "GroupName": cfn::reference(SCHEDULE_GROUP),
                "Description": task.description,
                "ScheduleExpression": schedule.expression,
                "ScheduleExpressionTimezone": schedule.timezone,
                "FlexibleTimeWindow": window,
                "State": state(task),
                "Target": target,
            }),
        ),
    );
}

/// Logical id of a rule.
fn rule_id(task: &Task) -> String {
    format!("{}Rule", task.id)
}

fn add_rule(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    imports: &Imports,
    rule: &Rule,
) {
    let task = &rule.task;
    let mut target = json!({
        "Id": task.key,
        "Arn": imports.cluster,
        "RoleArn": cfn::get_att(EVENTS_ROLE, "Arn"),
        "EcsParameters": ecs_parameters(imports, task, "AwsVpcConfiguration"),
        "RetryPolicy": {
            "MaximumRetryAttempts": settings.retry_attempts,
            "MaximumEventAgeInSeconds": settings.maximum_event_age_seconds,
        },
        "DeadLetterConfig": { "Arn": cfn::get_att(DEAD_LETTER_QUEUE, "Arn") },
    });
    // The task learns which event started it: its id and detail type.
    if let Some(template_text) = overrides(
        task,
        &[("EVENT_ID", "<id>"), ("EVENT_DETAIL_TYPE", "<detailType>")],
    ) {
        target["InputTransformer"] = json!({
            "InputPathsMap": { "id": "$.id", "detailType": "$.detail-type" },
            "InputTemplate": template_text,
        });
    }
    template.resource(
        &rule_id(task),
        Resource::new(
            "AWS::Events::Rule",
            json!({
                "Name": task.name,
                "Description": task.description,
                "EventBusName": rule.event_bus,
                "EventPattern": rule.pattern,
                "State": state(task),
                "Targets": [target],
                "Tags": ctx.tags(),
            }),
        ),
    );
}

fn add_exports(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.export(
        "dead-letter-queue-arn",
        cfn::get_att(DEAD_LETTER_QUEUE, "Arn"),
        "ARN of the queue of invocations that failed every retry",
    );
    template.export(
        "dead-letter-queue-url",
        cfn::reference(DEAD_LETTER_QUEUE),
        "URL of the dead-letter queue",
    );
    template.export(
        "dead-letter-queue-name",
        cfn::get_att(DEAD_LETTER_QUEUE, "QueueName"),
        "Name of the dead-letter queue (its CloudWatch dimension)",
    );
    if !settings.schedules.is_empty() {
        template.export(
            "schedule-group-name",
            cfn::reference(SCHEDULE_GROUP),
            &format!("Schedule group of {}", ctx.name(&ctx.stack)),
        );
    }
    for rule in &settings.rules {
        template.export(
            &format!("{}-rule-arn", rule.task.key),
            cfn::get_att(&rule_id(&rule.task), "Arn"),
            &format!("ARN of the {} rule", rule.task.name),
        );
    }
}

strata_sdk::module! {
    name: "scheduled-task",
    description: "ECS Fargate tasks run by EventBridge Scheduler schedules and EventBridge rules, with retries and a dead-letter queue",
    config: Config,
    render: render,
}
