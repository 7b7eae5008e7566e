//! Building a CloudFormation template, with exports and imports named by the
//! host's convention.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{Context, Diagnostic, Diagnostics, ResourceTraits, cfn};

/// What happens to a resource's physical object when it leaves the template
/// (`DeletionPolicy`) or is replaced (`UpdateReplacePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete it (CloudFormation's default).
    Delete,
    /// Keep it, detached from the stack.
    Retain,
    /// Take a final snapshot, then delete (databases, volumes, caches).
    Snapshot,
}

impl DeletionPolicy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Retain => "Retain",
            Self::Snapshot => "Snapshot",
        }
    }
}

/// One resource of a template.
#[derive(Debug, Clone)]
pub struct Resource {
    kind: String,
    properties: Value,
    depends_on: Vec<String>,
    deletion_policy: Option<DeletionPolicy>,
    update_replace_policy: Option<DeletionPolicy>,
    condition: Option<String>,
    stateful: bool,
    replaced_by: Vec<String>,
}

impl Resource {
    /// A resource of `kind` (e.g. `AWS::EC2::VPC`) with `properties`.
    pub fn new(kind: &str, properties: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            properties,
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            condition: None,
            stateful: false,
            replaced_by: Vec::new(),
        }
    }

    /// Declare that this resource holds data, so a plan that deletes or
    /// replaces it says the data goes with it. The SDK's table already knows
    /// the common types (databases, buckets, queues, …); use this for one it
    /// does not (`AWS::Cognito::UserPool`: its users).
    pub fn stateful(mut self) -> Self {
        self.stateful = true;
        self
    }

    /// Declare top-level properties whose change makes CloudFormation
    /// replace this resource ("Update requires: Replacement"), so a plan
    /// changing one shows a replacement. Adds to what the SDK's table knows
    /// of the type.
    pub fn replaced_by(mut self, properties: &[&str]) -> Self {
        self.replaced_by
            .extend(properties.iter().map(|p| (*p).to_owned()));
        self
    }

    /// What this resource declares to the host as `logical_id`: the SDK's
    /// table for its type, plus [`Resource::stateful`] and
    /// [`Resource::replaced_by`].
    pub fn traits(&self, logical_id: &str) -> ResourceTraits {
        let mut traits = ResourceTraits::of_kind(logical_id, &self.kind);
        traits.stateful |= self.stateful;
        traits.replaced_by.extend(self.replaced_by.iter().cloned());
        traits.replaced_by.sort();
        traits.replaced_by.dedup();
        traits
    }

    /// Set (or replace) one property, e.g. on a resource an [`crate::aws`]
    /// helper built. Properties that are not an object are left alone.
    ///
    /// ```
    /// use strata_module_sdk::{json, Context, Resource, Template};
    /// let ctx = Context::for_tests("s3");
    /// let mut template = Template::new(&ctx, "t");
    /// let bucket = Resource::new("AWS::S3::Bucket", json!({}))
    ///     .property("LoggingConfiguration", json!({ "LogFilePrefix": "s3-access/" }));
    /// template.resource("Bucket", bucket);
    /// let logging = &template.to_json()["Resources"]["Bucket"]["Properties"]["LoggingConfiguration"];
    /// assert_eq!(logging["LogFilePrefix"], "s3-access/");
    /// ```
    pub fn property(mut self, key: &str, value: Value) -> Self {
        if let Some(properties) = self.properties.as_object_mut() {
            properties.insert(key.to_owned(), value);
        }
        self
    }

    /// Create this resource only after `logical_id`.
    pub fn depends_on(mut self, logical_id: &str) -> Self {
        self.depends_on.push(logical_id.to_owned());
        self
    }

    /// Set `DeletionPolicy` and `UpdateReplacePolicy` together (what a
    /// stateful resource wants).
    pub fn retain_as(mut self, policy: DeletionPolicy) -> Self {
        self.deletion_policy = Some(policy);
        self.update_replace_policy = Some(policy);
        self
    }

    /// Create this resource only when `condition` holds.
    pub fn condition(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self
    }

    fn into_json(self) -> Value {
        let mut resource = Map::new();
        resource.insert("Type".into(), Value::String(self.kind));
        if let Some(condition) = self.condition {
            resource.insert("Condition".into(), Value::String(condition));
        }
        match self.depends_on.len() {
            0 => {}
            1 => {
                resource.insert("DependsOn".into(), Value::String(self.depends_on.concat()));
            }
            _ => {
                resource.insert("DependsOn".into(), json!(self.depends_on));
            }
        }
        if let Some(policy) = self.deletion_policy {
            resource.insert(
                "DeletionPolicy".into(),
                Value::String(policy.as_str().into()),
            );
        }
        if let Some(policy) = self.update_replace_policy {
            resource.insert(
                "UpdateReplacePolicy".into(),
                Value::String(policy.as_str().into()),
            );
        }
        // Always emit `Properties`, even empty: CloudFormation change sets
        // (and moto) report a resource without it as modified.
        resource.insert("Properties".into(), self.properties);
        Value::Object(resource)
    }
}

/// Another stack's output that a template imports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImportRef {
    /// The exporting stack's name in the environment file.
    pub stack: String,
    /// The output name, e.g. `vpc-id`.
    pub output: String,
}

/// A CloudFormation template under construction.
#[derive(Debug, Clone)]
pub struct Template {
    project: String,
    environment: String,
    stack: String,
    description: String,
    parameters: Map<String, Value>,
    conditions: Map<String, Value>,
    resources: Map<String, Value>,
    outputs: Map<String, Value>,
    transforms: Vec<String>,
    exports: Vec<String>,
    imports: Vec<ImportRef>,
    warnings: Vec<Diagnostic>,
    traits: BTreeMap<String, ResourceTraits>,
}

impl Template {
    /// An empty template for the stack in `ctx`.
    pub fn new(ctx: &Context, description: impl Into<String>) -> Self {
        Self {
            project: ctx.project.clone(),
            environment: ctx.environment.clone(),
            stack: ctx.stack.clone(),
            description: description.into(),
            parameters: Map::new(),
            conditions: Map::new(),
            resources: Map::new(),
            outputs: Map::new(),
            transforms: Vec::new(),
            exports: Vec::new(),
            imports: Vec::new(),
            warnings: Vec::new(),
            traits: BTreeMap::new(),
        }
    }

    /// Add a resource; returns `{"Ref": logical_id}` for wiring. Its
    /// [`Resource::traits`] go to the host with the render.
    pub fn resource(&mut self, logical_id: &str, resource: Resource) -> Value {
        let traits = resource.traits(logical_id);
        if traits.is_notable() {
            self.traits.insert(logical_id.to_owned(), traits);
        } else {
            self.traits.remove(logical_id);
        }
        self.resources
            .insert(logical_id.to_owned(), resource.into_json());
        cfn::reference(logical_id)
    }

    /// True when a resource with this logical id was added.
    pub fn has_resource(&self, logical_id: &str) -> bool {
        self.resources.contains_key(logical_id)
    }

    /// Add a template parameter.
    pub fn parameter(&mut self, name: &str, definition: Value) -> Value {
        self.parameters.insert(name.to_owned(), definition);
        cfn::reference(name)
    }

    /// Add a condition.
    pub fn condition(&mut self, name: &str, definition: Value) {
        self.conditions.insert(name.to_owned(), definition);
    }

    /// Add a macro the template needs (`Transform`), e.g.
    /// `AWS::SecretsManager-2020-07-23` for a `HostedRotationLambda`; the
    /// host then deploys with `CAPABILITY_AUTO_EXPAND`. Added once.
    ///
    /// ```
    /// use strata_module_sdk::{Context, Template};
    /// let ctx = Context::for_tests("database");
    /// let mut template = Template::new(&ctx, "t");
    /// template.transform("AWS::SecretsManager-2020-07-23");
    /// template.transform("AWS::SecretsManager-2020-07-23");
    /// assert_eq!(template.to_json()["Transform"], "AWS::SecretsManager-2020-07-23");
    /// ```
    pub fn transform(&mut self, name: &str) {
        if !self.transforms.iter().any(|t| t == name) {
            self.transforms.push(name.to_owned());
        }
    }

    /// Read another stack's output: returns `{"Fn::ImportValue": name}` and
    /// records the import so the host orders `stack` before this one and
    /// checks that `stack` exports `output`.
    pub fn import(&mut self, stack: &str, output: &str) -> Value {
        let import = ImportRef {
            stack: stack.to_owned(),
            output: output.to_owned(),
        };
        if !self.imports.contains(&import) {
            self.imports.push(import);
        }
        json!({ "Fn::ImportValue": format!("{}-{}-{stack}-{output}", self.project, self.environment) })
    }

    /// Export `value` as `output` under the name
    /// `{project}-{environment}-{stack}-{output}`, for other stacks to import.
    pub fn export(&mut self, output: &str, value: Value, description: &str) {
        let name = format!(
            "{}-{}-{}-{output}",
            self.project, self.environment, self.stack
        );
        self.outputs.insert(
            cfn::logical_id(output),
            json!({ "Description": description, "Value": value, "Export": { "Name": name } }),
        );
        self.exports.push(output.to_owned());
    }

    /// A plain output (shown by `describe-stacks`, not importable).
    pub fn output(&mut self, logical_id: &str, value: Value, description: &str) {
        self.outputs.insert(
            logical_id.to_owned(),
            json!({ "Description": description, "Value": value }),
        );
    }

    /// Attach a warning about `path` that does not stop the render.
    pub fn warn(&mut self, path: &str, message: impl Into<String>, help: Option<&str>) {
        self.warnings.push(Diagnostic {
            severity: crate::Severity::Warning,
            path: path.to_owned(),
            message: message.into(),
            help: help.map(str::to_owned),
        });
    }

    /// Merge warnings collected in a [`Diagnostics`] list.
    pub fn warn_all(&mut self, diagnostics: Diagnostics) {
        self.warnings.extend(diagnostics.into_vec());
    }

    /// The template as a JSON value (a copy; [`Template::finish`] moves).
    pub fn to_json(&self) -> Value {
        self.clone().into_json()
    }

    fn into_json(self) -> Value {
        let mut template = Map::new();
        template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        match self.transforms.as_slice() {
            [] => {}
            [one] => {
                template.insert("Transform".into(), Value::String(one.clone()));
            }
            many => {
                template.insert("Transform".into(), json!(many));
            }
        }
        template.insert("Description".into(), Value::String(self.description));
        if !self.parameters.is_empty() {
            template.insert("Parameters".into(), Value::Object(self.parameters));
        }
        if !self.conditions.is_empty() {
            template.insert("Conditions".into(), Value::Object(self.conditions));
        }
        template.insert("Resources".into(), Value::Object(self.resources));
        if !self.outputs.is_empty() {
            template.insert("Outputs".into(), Value::Object(self.outputs));
        }
        Value::Object(template)
    }

    /// Finish: the template JSON, the exports and imports, the warnings.
    pub fn finish(mut self) -> Rendered {
        let exports = std::mem::take(&mut self.exports);
        let imports = std::mem::take(&mut self.imports);
        let warnings = std::mem::take(&mut self.warnings);
        let resource_traits = std::mem::take(&mut self.traits).into_values().collect();
        Rendered {
            template: self.into_json(),
            exports,
            imports,
            warnings,
            resource_traits,
        }
    }
}

/// A finished render, as handed to the host.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The CloudFormation template.
    pub template: Value,
    /// Output names exported, in the order added.
    pub exports: Vec<String>,
    /// Imports, in the order first used.
    pub imports: Vec<ImportRef>,
    /// Warnings attached during the render.
    pub warnings: Vec<Diagnostic>,
    /// What the module declares about its resources (stateful, replacing
    /// properties), by logical id; resources with nothing to declare are
    /// left out.
    pub resource_traits: Vec<ResourceTraits>,
}
