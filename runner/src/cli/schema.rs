//! `strata schema`: a JSON Schema of environment files (or, with
//! `--workflow`, of workflow files), for editors.
//!
//! Composed from the top-level keys Strata reads and, per stack type, the
//! schema its module describes its table with: editors (Taplo / Even Better
//! TOML, via a `#:schema` comment) then complete and check every key of
//! `environments/*.toml`. The repository keeps the output in
//! `docs/environment.schema.json` and `docs/workflow.schema.json`; a test
//! fails when either is stale.

use std::io::Write as _;

use serde_json::{Map, Value, json};

use super::{Context, Exit};
use crate::config::{Diagnostic, REQUIRED_TAGS};
use crate::host::Host;
use crate::modules::Registry;

/// Arguments of `strata schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the schema of workflow files (`workflows/*.toml`) instead.
    #[arg(long)]
    pub workflow: bool,
}

/// Run `strata schema`.
pub fn run(context: &Context, args: &Args) -> Exit {
    if args.workflow {
        let schema = crate::workflow::schema::workflow_schema();
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Exit::Ok;
    }
    let Ok(host) = context.host() else {
        return Exit::Failed;
    };
    match environment_schema(&host, &context.workspace.registry) {
        Ok(schema) => {
            let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            text.push('\n');
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Exit::Ok
        }
        Err(diagnostics) => {
            context.print(&diagnostics);
            Exit::Failed
        }
    }
}

/// The JSON Schema of an environment file with the stack types of `registry`.
pub fn environment_schema(host: &Host, registry: &Registry) -> Result<Value, Vec<Diagnostic>> {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    let mut problems = Vec::new();
    for source in registry.iter() {
        let module = match host.load(&source.name, &source.bytes, &source.sha256) {
            Ok(module) => module,
            Err(error) => {
                problems.push(Diagnostic::error(error.to_string()).as_failure());
                continue;
            }
        };
        let Ok(Value::Object(mut schema)) =
            serde_json::from_str::<Value>(&module.info.config_schema)
        else {
            problems.push(
                Diagnostic::error(format!(
                    "module `{}` describes its config with a schema that is not a JSON object",
                    source.name
                ))
                .as_failure(),
            );
            continue;
        };
        // Hoist the module's own definitions, renamed so modules cannot clash.
        let prefix = format!("{}.", source.name);
        if let Some(Value::Object(own)) = schema.remove("$defs") {
            for (name, mut definition) in own {
                rewrite_refs(&mut definition, &prefix);
                defs.insert(format!("{prefix}{name}"), definition);
            }
        }
        schema.remove("$schema");
        schema.remove("title");
        let mut schema = Value::Object(schema);
        rewrite_refs(&mut schema, &prefix);
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            properties.insert("type".into(), json!({ "const": source.name }));
            properties.insert("depends_on".into(), json!({ "$ref": "#/$defs/depends_on" }));
        }
        if schema.get("description").is_none() {
            schema["description"] = Value::String(module.info.description.clone());
        }
        defs.insert(source.name.clone(), schema);
        branches.push(json!({
            "if": { "properties": { "type": { "const": source.name } }, "required": ["type"] },
            "then": { "$ref": format!("#/$defs/{}", source.name) },
        }));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let types: Vec<&str> = registry.types();
    defs.insert(
        "depends_on".into(),
        json!({
            "description": "Stacks this one deploys after, besides those it imports from.",
            "type": "array",
            "items": { "type": "string" },
            "uniqueItems": true,
        }),
    );
    defs.insert(
        "stack".into(),
        json!({
            "type": "object",
            "required": ["type"],
            "properties": { "type": { "description": "The stack type: the module that renders this stack.", "enum": types } },
            "allOf": branches,
        }),
    );
    let identifier = "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$";
    Ok(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://strata.invalid/environment.schema.json",
        "title": "Strata environment file",
        "description": "One environment of a Strata config repository (`environments/NAME.toml`). Generated by `strata schema`.",
        "type": "object",
        "additionalProperties": false,
        "required": ["project", "region", "tags"],
        "properties": {
            "project": { "description": "Prefix of every resource name: `{project}-{environment}-{resource}`.", "type": "string", "pattern": identifier },
            "environment": { "description": "The environment's name in resources; defaults to the file stem.", "type": "string", "pattern": identifier },
            "region": { "description": "The AWS region to deploy to.", "type": "string" },
            "account": { "description": "The AWS account id deploys must match (12 digits, quoted).", "type": "string", "pattern": "^[0-9]{12}$" },
            "protected": { "description": "Deploys keep termination protection on.", "type": "boolean", "default": false },
            "tags": {
                "description": format!("Tags on every taggable resource. Strata adds Environment, ManagedBy and (unless set) Application; required: {}.", REQUIRED_TAGS.join(", ")),
                "type": "object",
                "additionalProperties": { "type": "string" },
                "required": ["CostCenter", "Owner"],
            },
            "stacks": {
                "description": "The stacks, by name (lowercase letters, digits and `-`).",
                "type": "object",
                "propertyNames": { "pattern": "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$" },
                "additionalProperties": { "$ref": "#/$defs/stack" },
            },
        },
        "$defs": defs,
    }))
}

/// Point `#/$defs/X` references at the hoisted `#/$defs/{prefix}X`.
fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "$ref" {
                    if let Value::String(reference) = inner
                        && let Some(name) = reference.strip_prefix("#/$defs/")
                    {
                        *reference = format!("#/$defs/{prefix}{name}");
                    }
                } else {
                    rewrite_refs(inner, prefix);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, prefix)),
        _ => {}
    }
}
