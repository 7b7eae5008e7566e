//! The `monitoring` stack type (work in progress).

use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, JsonSchema, Resource, Template, json};

/// Configuration of a `monitoring` stack.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {}

/// Render a `monitoring` stack.
pub fn render(ctx: &Context, _config: Config) -> Result<Template, Diagnostics> {
    let mut template = Template::new(ctx, "monitoring (work in progress)");
    template.resource(
        "Placeholder",
        Resource::new("AWS::CloudFormation::WaitConditionHandle", json!({})),
    );
    Ok(template)
}

strata_sdk::module! {
    name: "monitoring",
    description: "monitoring (work in progress)",
    config: Config,
    render: render,
}
