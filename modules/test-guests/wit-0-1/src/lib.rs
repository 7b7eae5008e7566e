//! A module built against `strata:module@0.1.0` (the repository's
//! `wit/v0.1/`, the contract before resource traits), as a module published
//! before 0.2.0 was: the host must still load and render it, and plan its
//! risks from its own tables.
//!
//! Stack type `legacy-queue`, config `{"queue": "jobs"}`: one SQS queue
//! named `{project}-{environment}-{queue}`, exporting its URL as `queue-url`.

#![expect(unsafe_code, reason = "wit-bindgen's generated export glue")]

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "stack" });

use exports::strata::module::stack_module::{Context, Diagnostic, Guest, ModuleInfo, Rendered};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            name: "legacy-queue".into(),
            version: "0.1.0".into(),
            description: "An SQS queue, from a module built against strata:module@0.1.0".into(),
            config_schema: json!({
                "type": "object",
                "properties": { "queue": { "type": "string" } },
                "additionalProperties": false,
            })
            .to_string(),
        }
    }

    fn render(ctx: Context, config: String) -> Result<Rendered, Vec<Diagnostic>> {
        let config: Value = serde_json::from_str(&config).unwrap_or(Value::Null);
        let queue = config
            .get("queue")
            .and_then(Value::as_str)
            .unwrap_or("jobs");
        let tags: Vec<Value> = ctx
            .tags
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect();
        let prefix = format!("{}-{}", ctx.project, ctx.environment);
        let template = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {
                        "QueueName": format!("{prefix}-{queue}"),
                        "SqsManagedSseEnabled": true,
                        "Tags": tags,
                    },
                },
            },
            "Outputs": {
                "QueueUrl": {
                    "Value": { "Ref": "Queue" },
                    "Export": { "Name": format!("{prefix}-{}-queue-url", ctx.stack) },
                },
            },
        });
        Ok(Rendered {
            template: template.to_string(),
            exports: vec!["queue-url".into()],
            imports: Vec::new(),
            warnings: Vec::new(),
        })
    }
}

export!(Legacy);
