//! The metric dimensions the alarms and the dashboard share, imported
//! once from the compute and database stacks.

use strata_sdk::{Template, Value};

use crate::config::{Database, Settings};

/// Imported dimension values; each `None` when its alarms are off.
#[derive(Debug, Default)]
pub struct Dimensions {
    /// `app/<name>/<id>` of the load balancer.
    pub load_balancer: Option<Value>,
    /// `targetgroup/<name>/<id>` of the target group.
    pub target_group: Option<Value>,
    /// The ECS cluster's name (when services are watched).
    pub cluster: Option<Value>,
    /// `(service, its ECS service name)`.
    pub services: Vec<(String, Value)>,
    /// The database and its identifier.
    pub database: Option<(Database, Value)>,
    /// `(stack, queue, ARN of its dead-letter queue)`.
    pub dead_letter_queues: Vec<(String, String, Value)>,
}

/// Import what the settings watch.
pub fn import(template: &mut Template, settings: &Settings) -> Dimensions {
    let compute = settings.compute_stack.as_str();
    let mut dimensions = Dimensions::default();
    if settings.load_balancer {
        dimensions.load_balancer = Some(template.import(compute, "alb-full-name"));
        dimensions.target_group = Some(template.import(compute, "target-group-full-name"));
    }
    if !settings.services.is_empty() {
        dimensions.cluster = Some(template.import(compute, "cluster-name"));
        dimensions.services = settings
            .services
            .iter()
            .map(|service| {
                let name = template.import(compute, &format!("{service}-service-name"));
                (service.clone(), name)
            })
            .collect();
    }
    if let Some(database) = &settings.database {
        let identifier = template.import(&database.stack, database.output());
        dimensions.database = Some((database.clone(), identifier));
    }
    for (stack, queue) in &settings.dead_letter_queues {
        let arn = template.import(stack, &format!("{queue}-dlq-arn"));
        dimensions
            .dead_letter_queues
            .push((stack.clone(), queue.clone(), arn));
    }
    dimensions
}
