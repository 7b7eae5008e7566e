//! A module that tries to reach outside its sandbox: `{"reach": "file"}`
//! reads `/etc/passwd`, `"clock"` the wall clock, `"env"` an environment
//! variable, `"random"` random bytes (via a `HashMap`'s seed). Every attempt
//! must trap, except the environment, which is empty; none may return data.

use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, JsonSchema, Resource, Template, json};

/// What to reach for.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `file`, `clock`, `env` or `random`.
    pub reach: String,
}

fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let loot = match config.reach.as_str() {
        "file" => std::fs::read_to_string("/etc/passwd").unwrap_or_else(|e| format!("error: {e}")),
        "clock" => format!("{:?}", std::time::SystemTime::now()),
        "env" => std::env::var("HOME").unwrap_or_else(|e| format!("error: {e}")),
        "random" => {
            let mut map = std::collections::HashMap::new();
            map.insert("k", 1);
            format!("{map:?}")
        }
        other => format!("nothing asked for: {other}"),
    };
    let mut template = Template::new(ctx, "escaping");
    template.resource(
        "Loot",
        Resource::new(
            "AWS::SSM::Parameter",
            json!({ "Type": "String", "Value": loot, "Tags": ctx.tag_map() }),
        ),
    );
    Ok(template)
}

strata_sdk::module! {
    name: "escaping",
    description: "Tries to leave the sandbox, for the sandbox tests",
    config: Config,
    render: render,
}
