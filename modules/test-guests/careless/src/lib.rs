//! A module that renders well-formed templates breaking Strata's
//! guarantees, for `strata module check`'s tests: `{"flaw": "untagged"}`
//! leaves its user pool without tags, `{"flaw": "foreign-name"}` names its
//! queue `my-queue`, outside `{project}-{environment}-`. With no flaw it
//! passes every check.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, Resource, Template, cfn, json};

/// Which guarantee to break.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Flaw {
    /// None: a well-behaved module.
    #[default]
    None,
    /// A taggable resource without tags.
    Untagged,
    /// A physical name without the `{project}-{environment}-` prefix.
    ForeignName,
}

/// The careless module's table.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Which guarantee to break.
    pub flaw: Flaw,
}

fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let mut template = Template::new(ctx, "careless");
    let mut pool = json!({ "UserPoolName": ctx.name("users") });
    if config.flaw != Flaw::Untagged {
        pool["UserPoolTags"] = ctx.tag_map();
    }
    template.resource("UserPool", Resource::new("AWS::Cognito::UserPool", pool));
    let queue_name = match config.flaw {
        Flaw::ForeignName => "my-queue".to_owned(),
        Flaw::None | Flaw::Untagged => ctx.name("jobs"),
    };
    let queue = template.resource(
        "Queue",
        Resource::new(
            "AWS::SQS::Queue",
            json!({ "QueueName": queue_name, "SqsManagedSseEnabled": true, "Tags": ctx.tags() }),
        ),
    );
    template.export("queue-url", queue, "URL of the queue");
    template.export("user-pool-id", cfn::reference("UserPool"), "The user pool");
    Ok(template)
}

strata_sdk::module! {
    name: "careless",
    description: "Breaks the guarantees on request, for the checker's tests",
    config: Config,
    render: render,
}
