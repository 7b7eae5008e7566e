//! The CloudWatch alarms. Each notifies its topic when it fires and when it
//! recovers, treats missing data as fine (a quiet load balancer has no
//! latency), and fires after `evaluation_periods` bad periods in a row.
//!
//! | alarm | metric | topic |
//! | --- | --- | --- |
//! | `alb-latency-p95` | p95 `TargetResponseTime` > `latency_p95_seconds` | critical |
//! | `alb-5xx-rate` | `HTTPCode_Target_5XX_Count / RequestCount` > `error_rate_percent` | critical |
//! | `alb-unhealthy-hosts` | `UnHealthyHostCount` > 0 | critical |
//! | `<service>-running-tasks` | `DesiredTaskCount - RunningTaskCount` > 0 (Container Insights) | critical |
//! | `db-connections` | `DatabaseConnections` > `db_connections_max` | warning |
//! | `db-cpu` | `CPUUtilization` > `db_cpu_percent` | warning |
//! | `db-capacity` | `ACUUtilization` > `aurora_capacity_percent` (Aurora) | warning |
//! | `db-free-storage` | `FreeStorageSpace` < `db_free_storage_gib` (RDS) | critical |
//! | `db-freeable-memory` | `FreeableMemory` < `db_freeable_memory_mib` | critical |
//! | `<stack>-<queue>-dlq` | `ApproximateNumberOfMessagesVisible` > 0 on a dead-letter queue | critical |

use strata_sdk::{Context, Resource, Template, Value, cfn, json};

use crate::config::Settings;
use crate::dimensions::Dimensions;
use crate::topics::Severity;

/// One alarm: what it watches and whom it tells.
struct Alarm {
    /// Suffix of its name and source of its logical id.
    name: String,
    description: String,
    severity: Severity,
    comparison: &'static str,
    threshold: Value,
    /// The metric properties: `Namespace`, `MetricName`, ... or `Metrics`.
    metric: Value,
}

/// Add every alarm the settings and the imported dimensions call for.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings, dimensions: &Dimensions) {
    let period = settings.period_seconds;
    let mut alarms = Vec::new();
    if let (Some(load_balancer), Some(target_group)) =
        (&dimensions.load_balancer, &dimensions.target_group)
    {
        alarms.extend(load_balancer_alarms(settings, load_balancer, target_group));
    }
    if let Some(cluster) = &dimensions.cluster {
        for (service, name) in &dimensions.services {
            let metric = |id: &str, metric: &str| {
                json!({
                    "Id": id,
                    "ReturnData": false,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "ECS/ContainerInsights",
                            "MetricName": metric,
                            "Dimensions": [
                                { "Name": "ClusterName", "Value": cluster },
                                { "Name": "ServiceName", "Value": name },
                            ],
                        },
                        "Period": period,
                        "Stat": "Average",
                    },
                })
            };
            alarms.push(Alarm {
                name: format!("{service}-running-tasks"),
                description: format!("The {service} service runs fewer tasks than it wants (tasks fail to start or keep stopping)"),
                severity: Severity::Critical,
                comparison: "GreaterThanThreshold",
                threshold: json!(0),
                metric: json!({
                    "Metrics": [
                        metric("running", "RunningTaskCount"),
                        metric("desired", "DesiredTaskCount"),
                        {
                            "Id": "missing",
                            "Expression": "desired - running",
                            "Label": "Tasks missing",
                            "ReturnData": true,
                        },
                    ],
                }),
            });
        }
    }
    if let Some((database, identifier)) = &dimensions.database {
        let metric = |name: &str, statistic: &str| {
            json!({
                "Namespace": "AWS/RDS",
                "MetricName": name,
                "Dimensions": [{ "Name": database.dimension(), "Value": identifier }],
                "Statistic": statistic,
                "Period": period,
            })
        };
        alarms.push(Alarm {
            name: "db-connections".into(),
            description: format!(
                "The database has more than {} connections",
                settings.db_connections_max
            ),
            severity: Severity::Warning,
            comparison: "GreaterThanThreshold",
            threshold: json!(settings.db_connections_max),
            metric: metric("DatabaseConnections", "Maximum"),
        });
        alarms.push(Alarm {
            name: "db-cpu".into(),
            description: format!("The database's CPU is above {}%", settings.db_cpu_percent),
            severity: Severity::Warning,
            comparison: "GreaterThanThreshold",
            threshold: json!(settings.db_cpu_percent),
            metric: metric("CPUUtilization", "Average"),
        });
        if !database.aurora {
            alarms.push(Alarm {
                name: "db-free-storage".into(),
                description: format!(
                    "The database has less than {} GiB of free storage",
                    settings.db_free_storage_gib
                ),
                severity: Severity::Critical,
                comparison: "LessThanThreshold",
                threshold: json!(u64::from(settings.db_free_storage_gib) * 1024 * 1024 * 1024),
                metric: metric("FreeStorageSpace", "Minimum"),
            });
        }
        alarms.push(Alarm {
            name: "db-freeable-memory".into(),
            description: format!(
                "The database has less than {} MiB of freeable memory",
                settings.db_freeable_memory_mib
            ),
            severity: Severity::Critical,
            comparison: "LessThanThreshold",
            threshold: json!(u64::from(settings.db_freeable_memory_mib) * 1024 * 1024),
            metric: metric("FreeableMemory", "Minimum"),
        });
        if database.aurora {
            alarms.push(Alarm {
                name: "db-capacity".into(),
                description: format!(
                    "The Aurora cluster uses more than {}% of its maximum capacity (ACUs)",
                    settings.aurora_capacity_percent
                ),
                severity: Severity::Warning,
                comparison: "GreaterThanThreshold",
                threshold: json!(settings.aurora_capacity_percent),
                metric: metric("ACUUtilization", "Average"),
            });
        }
    }
    for (stack, queue, arn) in &dimensions.dead_letter_queues {
        alarms.push(Alarm {
            name: format!("{stack}-{queue}-dlq"),
            description: format!("The dead-letter queue of {stack}'s {queue} queue holds messages that failed processing"),
            severity: Severity::Critical,
            comparison: "GreaterThanThreshold",
            threshold: json!(0),
            metric: json!({
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                // The queue's name is the ARN's last part.
                "Dimensions": [{ "Name": "QueueName", "Value": cfn::select(5, cfn::split(":", arn.clone())) }],
                "Statistic": "Maximum",
                "Period": period,
            }),
        });
    }
    for alarm in alarms {
        add_alarm(template, ctx, settings, alarm);
    }
}

fn load_balancer_alarms(
    settings: &Settings,
    load_balancer: &Value,
    target_group: &Value,
) -> [Alarm; 3] {
    let period = settings.period_seconds;
    let sum = |id: &str, metric: &str| {
        json!({
            "Id": id,
            "ReturnData": false,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": metric,
                    "Dimensions": [{ "Name": "LoadBalancer", "Value": load_balancer }],
                },
                "Period": period,
                "Stat": "Sum",
            },
        })
    };
    [
        Alarm {
            name: "alb-latency-p95".into(),
            description: format!(
                "95% of requests take longer than {} s at the targets",
                settings.latency_p95_seconds
            ),
            severity: Severity::Critical,
            comparison: "GreaterThanThreshold",
            threshold: json!(settings.latency_p95_seconds),
            metric: json!({
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "TargetResponseTime",
                "Dimensions": [{ "Name": "LoadBalancer", "Value": load_balancer }],
                "ExtendedStatistic": "p95",
                "Period": period,
            }),
        },
        Alarm {
            name: "alb-5xx-rate".into(),
            description: format!(
                "More than {}% of requests get a 5xx from the targets",
                settings.error_rate_percent
            ),
            severity: Severity::Critical,
            comparison: "GreaterThanThreshold",
            threshold: json!(settings.error_rate_percent),
            metric: json!({
                "Metrics": [
                    sum("errors", "HTTPCode_Target_5XX_Count"),
                    sum("requests", "RequestCount"),
                    {
                        "Id": "rate",
                        // No 5xx in a period publishes no datapoint: count it as 0.
                        "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                        "Label": "5xx rate (%)",
                        "ReturnData": true,
                    },
                ],
            }),
        },
        Alarm {
            name: "alb-unhealthy-hosts".into(),
            description: "A target of the load balancer fails its health check".into(),
            severity: Severity::Critical,
            comparison: "GreaterThanThreshold",
            threshold: json!(0),
            metric: json!({
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "UnHealthyHostCount",
                "Dimensions": [
                    { "Name": "TargetGroup", "Value": target_group },
                    { "Name": "LoadBalancer", "Value": load_balancer },
                ],
                "Statistic": "Maximum",
                "Period": period,
            }),
        },
    ]
}

/// The logical id of an alarm: `AlbLatencyP95Alarm`.
pub fn alarm_id(name: &str) -> String {
    format!("{}Alarm", cfn::logical_id(name))
}

fn add_alarm(template: &mut Template, ctx: &Context, settings: &Settings, alarm: Alarm) {
    let topic = alarm.severity.topic_arn();
    let mut properties = json!({
        "AlarmName": ctx.name(&alarm.name),
        "AlarmDescription": format!("{} ({})", alarm.description, alarm.severity.name()),
        "ActionsEnabled": true,
        "AlarmActions": [topic],
        "OKActions": [topic],
        "ComparisonOperator": alarm.comparison,
        "Threshold": alarm.threshold,
        "EvaluationPeriods": settings.evaluation_periods,
        "DatapointsToAlarm": settings.evaluation_periods,
        "TreatMissingData": "notBreaching",
        "Tags": ctx.tags(),
    });
    if let (Some(target), Value::Object(metric)) = (properties.as_object_mut(), alarm.metric) {
        target.extend(metric);
    }
    template.resource(
        &alarm_id(&alarm.name),
        Resource::new("AWS::CloudWatch::Alarm", properties),
    );
}
