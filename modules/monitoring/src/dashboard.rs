//! The `{project}-{environment}-overview` dashboard: requests, latency
//! percentiles and 5xx of the load balancer, CPU, memory and running tasks
//! of the services, connections and CPU of the database.
//!
//! The body is JSON text; the imported dimension values are spliced in by
//! `Fn::Sub` with a variable map (`${LoadBalancer}`, `${Cluster}`,
//! `${Service0}`, ..., `${Database}`), so the template stays valid JSON
//! and CloudFormation resolves the names at deploy time.

use strata_sdk::{Context, Resource, Template, Value, json};

use crate::config::Settings;
use crate::dimensions::Dimensions;

/// Logical id of the dashboard.
pub const DASHBOARD: &str = "Dashboard";

const WIDTH: u32 = 12;
const HEIGHT: u32 = 6;

/// Add the dashboard.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings, dimensions: &Dimensions) {
    let (body, variables) = body(ctx, settings, dimensions);
    template.resource(
        DASHBOARD,
        Resource::new(
            "AWS::CloudWatch::Dashboard",
            json!({
                "DashboardName": ctx.name("overview"),
                "DashboardBody": { "Fn::Sub": [body, Value::Object(variables)] },
            }),
        ),
    );
}

/// The body's text and the `Fn::Sub` variables it refers to.
fn body(
    ctx: &Context,
    settings: &Settings,
    dimensions: &Dimensions,
) -> (String, strata_sdk::serde_json::Map<String, Value>) {
    let mut variables = strata_sdk::serde_json::Map::new();
    let mut charts: Vec<(&str, Vec<Value>)> = Vec::new();

    if let Some(load_balancer) = &dimensions.load_balancer {
        variables.insert("LoadBalancer".into(), load_balancer.clone());
        let alb = |metric: &str, options: Value| {
            json!([
                "AWS/ApplicationELB",
                metric,
                "LoadBalancer",
                "${LoadBalancer}",
                options
            ])
        };
        charts.push((
            "Requests",
            vec![alb(
                "RequestCount",
                json!({ "stat": "Sum", "label": "requests" }),
            )],
        ));
        charts.push((
            "Target response time (s)",
            ["p50", "p95", "p99"]
                .map(|p| alb("TargetResponseTime", json!({ "stat": p, "label": p })))
                .to_vec(),
        ));
        charts.push((
            "5xx responses",
            vec![
                alb(
                    "HTTPCode_Target_5XX_Count",
                    json!({ "stat": "Sum", "label": "from targets" }),
                ),
                alb(
                    "HTTPCode_ELB_5XX_Count",
                    json!({ "stat": "Sum", "label": "from the load balancer" }),
                ),
            ],
        ));
    }
    if let Some(cluster) = &dimensions.cluster {
        variables.insert("Cluster".into(), cluster.clone());
        let mut cpu = Vec::new();
        let mut memory = Vec::new();
        let mut running = Vec::new();
        for (i, (service, name)) in dimensions.services.iter().enumerate() {
            let variable = format!("Service{i}");
            variables.insert(variable.clone(), name.clone());
            let series = |namespace: &str, metric: &str| {
                json!([namespace, metric, "ClusterName", "${Cluster}", "ServiceName",
                       format!("${{{variable}}}"), { "label": service }])
            };
            cpu.push(series("AWS/ECS", "CPUUtilization"));
            memory.push(series("AWS/ECS", "MemoryUtilization"));
            running.push(series("ECS/ContainerInsights", "RunningTaskCount"));
        }
        charts.push(("Service CPU (%)", cpu));
        charts.push(("Service memory (%)", memory));
        charts.push(("Running tasks", running));
    }
    if let Some((database, identifier)) = &dimensions.database {
        variables.insert("Database".into(), identifier.clone());
        let rds = |metric: &str, label: &str| json!(["AWS/RDS", metric, database.dimension(), "${Database}", { "label": label }]);
        charts.push((
            "Database connections",
            vec![rds("DatabaseConnections", "connections")],
        ));
        let mut cpu = vec![rds("CPUUtilization", "CPU (%)")];
        if database.aurora {
            cpu.push(rds("ACUUtilization", "capacity used (%)"));
        }
        charts.push(("Database CPU (%)", cpu));
    }

    let mut widgets = vec![json!({
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 2 * WIDTH,
        "height": 2,
        "properties": {
            "markdown": format!(
                "# {}\nAlarms notify `{}` (critical) and `{}` (warning).",
                ctx.name("overview"),
                ctx.name("critical"),
                ctx.name("warning")
            ),
        },
    })];
    for (i, (title, metrics)) in charts.into_iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        widgets.push(json!({
            "type": "metric",
            "x": (i % 2) * WIDTH,
            "y": 2 + (i / 2) * HEIGHT,
            "width": WIDTH,
            "height": HEIGHT,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "view": "timeSeries",
                "stacked": false,
                "period": settings.period_seconds,
                "stat": "Average",
                "metrics": metrics,
            },
        }));
    }
    let body = json!({ "widgets": widgets }).to_string();
    (body, variables)
}
