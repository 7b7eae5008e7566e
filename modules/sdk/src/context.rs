//! The stack being rendered, and the names and tags that follow from it.

use serde_json::{Value, json};

/// What the host tells a module about the stack it renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Naming prefix, e.g. `v3-backend`.
    pub project: String,
    /// Environment name as written in resource names, e.g. `production`.
    pub environment: String,
    /// This stack's name in the environment file, e.g. `networking`.
    pub stack: String,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// AWS account id, when the environment file pins one.
    pub account: Option<String>,
    /// Required tags merged with the environment's `[tags]`, sorted by key.
    pub tags: Vec<(String, String)>,
}

impl Context {
    /// A context for unit tests: project `acme`, environment `test`,
    /// region `us-east-1`, and the required tags.
    pub fn for_tests(stack: &str) -> Self {
        Self {
            project: "acme".into(),
            environment: "test".into(),
            stack: stack.into(),
            region: "us-east-1".into(),
            account: Some("123456789012".into()),
            tags: [
                ("Application", "acme"),
                ("CostCenter", "engineering"),
                ("Environment", "test"),
                ("ManagedBy", "strata"),
                ("Owner", "platform"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        }
    }

    /// The physical name of a resource: `{project}-{environment}-{resource}`.
    ///
    /// ```
    /// # let ctx = strata_module_sdk::Context::for_tests("networking");
    /// assert_eq!(ctx.name("vpc"), "acme-test-vpc");
    /// ```
    pub fn name(&self, resource: &str) -> String {
        format!("{}-{}-{resource}", self.project, self.environment)
    }

    /// The export name of another stack's output:
    /// `{project}-{environment}-{stack}-{output}`.
    pub fn export_name(&self, stack: &str, output: &str) -> String {
        format!("{}-{}-{stack}-{output}", self.project, self.environment)
    }

    /// The tags in CloudFormation's list form, `[{"Key": .., "Value": ..}]`.
    pub fn tags(&self) -> Value {
        Value::Array(
            self.tags
                .iter()
                .map(|(k, v)| json!({ "Key": k, "Value": v }))
                .collect(),
        )
    }

    /// The tags in list form with a `Name` tag first, for resources the
    /// console lists by name (VPCs, subnets, security groups).
    pub fn tags_named(&self, name: &str) -> Value {
        let mut tags = vec![json!({ "Key": "Name", "Value": name })];
        tags.extend(
            self.tags
                .iter()
                .filter(|(k, _)| k != "Name")
                .map(|(k, v)| json!({ "Key": k, "Value": v })),
        );
        Value::Array(tags)
    }

    /// The tags in map form, `{"Key": "Value"}`, for the resource types that
    /// take tags as a JSON object (e.g. `AWS::SSM::Parameter`).
    pub fn tag_map(&self) -> Value {
        Value::Object(
            self.tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// True for the environment names Strata treats as production
    /// (`prod`, `production`, `prd`).
    pub fn is_production(&self) -> bool {
        matches!(self.environment.as_str(), "prod" | "production" | "prd")
    }
}
