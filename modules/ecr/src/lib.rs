//! The `ecr` stack type (work in progress).

use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, JsonSchema, Resource, Template, json};

/// Configuration of a `ecr` stack.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {}

/// Render a `ecr` stack.
pub fn render(ctx: &Context, _config: Config) -> Result<Template, Diagnostics> {
    let mut template = Template::new(ctx, "ecr (work in progress)");
    template.resource(
        "Placeholder",
        Resource::new("AWS::CloudFormation::WaitConditionHandle", json!({})),
    );
    Ok(template)
}

strata_sdk::module! {
    name: "ecr",
    description: "ecr (work in progress)",
    config: Config,
    render: render,
}
