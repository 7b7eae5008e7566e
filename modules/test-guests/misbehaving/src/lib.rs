//! A module that misbehaves in the way its config asks, to prove each of the
//! host's limits. It implements the raw WIT interface (not the SDK's
//! builder), so it can return anything at all.
//!
//! Config: `{"misbehave": "<what>"}` with one of `nothing`, `loop`,
//! `grow-memory`, `panic`, `oversized-output`, `malformed-template`,
//! `no-resources`, `foreign-export`, `undeclared-export`, `undeclared-import`,
//! `stray-traits`, `flood-log`, `diagnostics`, `flood-diagnostics`,
//! `flood-warnings`, `flood-imports`, `many-exports`, `escapes`, `recurse`,
//! `plain-panic`.

use strata_sdk::bindings::exports::strata::module::stack_module::{
    Context, Diagnostic, Guest, ModuleInfo, Rendered,
};
use strata_sdk::bindings::strata::module::types::{ImportRef, ResourceTraits, Severity};
use strata_sdk::{Value, json};

struct Misbehaving;

fn template(ctx: &Context, outputs: Value) -> String {
    let tags: Vec<Value> = ctx
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        // Encrypted and tagged: a well-behaved render keeps the built-in
        // policy's guarantees.
        "Resources": { "Topic": { "Type": "AWS::SNS::Topic", "Properties": { "KmsMasterKeyId": "alias/aws/sns", "Tags": tags } } },
        "Outputs": outputs,
    })
    .to_string()
}

fn export_name(ctx: &Context, stack: &str, output: &str) -> String {
    format!("{}-{}-{stack}-{output}", ctx.project, ctx.environment)
}

fn rendered(template: String, exports: &[&str], imports: Vec<ImportRef>) -> Rendered {
    Rendered {
        template,
        exports: exports.iter().map(|e| (*e).to_owned()).collect(),
        imports,
        warnings: Vec::new(),
        resources: Vec::new(),
    }
}

impl Guest for Misbehaving {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            name: "misbehaving".into(),
            version: "0.1.0".into(),
            description: "Misbehaves on request, for the sandbox tests".into(),
            config_schema: json!({
                "type": "object",
                "properties": { "misbehave": { "type": "string" } },
                "additionalProperties": false,
            })
            .to_string(),
        }
    }

    fn render(ctx: Context, config: String) -> Result<Rendered, Vec<Diagnostic>> {
        strata_sdk::install_panic_hook();
        let config: Value = strata_sdk::serde_json::from_str(&config).unwrap_or(Value::Null);
        let what = config
            .get("misbehave")
            .and_then(Value::as_str)
            .unwrap_or("nothing");
        let own = |output: &str| export_name(&ctx, &ctx.stack, output);
        match what {
            "loop" => {
                let mut counter = 0u64;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "grow-memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
                }
            }
            "panic" => {
                strata_sdk::log("about to look for the answer");
                let answer: Option<u32> = std::hint::black_box(None);
                let _ = answer.expect("the stack table had no `answer` key");
                unreachable!()
            }
            "oversized-output" => {
                let padding = "x".repeat(5 << 20);
                Ok(rendered(
                    template(&ctx, json!({ "Padding": { "Value": padding } })),
                    &[],
                    vec![],
                ))
            }
            "malformed-template" => Ok(rendered("{\"Resources\": {".into(), &[], vec![])),
            "no-resources" => Ok(rendered("{\"Outputs\": {}}".into(), &[], vec![])),
            "foreign-export" => {
                // Claims the networking stack's export as its own.
                let outputs = json!({ "VpcId": { "Value": "vpc-1", "Export": { "Name": export_name(&ctx, "networking", "vpc-id") } } });
                Ok(rendered(template(&ctx, outputs), &["vpc-id"], vec![]))
            }
            "undeclared-export" => {
                let outputs = json!({
                    "TopicArn": { "Value": { "Ref": "Topic" }, "Export": { "Name": own("topic-arn") } },
                    "Hidden": { "Value": "x", "Export": { "Name": own("hidden") } },
                });
                Ok(rendered(template(&ctx, outputs), &["topic-arn"], vec![]))
            }
            "undeclared-import" => {
                let outputs = json!({ "Vpc": { "Value": { "Fn::ImportValue": export_name(&ctx, "networking", "vpc-id") } } });
                Ok(rendered(template(&ctx, outputs), &[], vec![]))
            }
            "missing-import" => {
                let outputs = json!({ "Vpc": { "Value": { "Fn::ImportValue": export_name(&ctx, "networking", "vpc-identifier") } } });
                let import = ImportRef {
                    stack: "networking".into(),
                    output: "vpc-identifier".into(),
                };
                Ok(rendered(template(&ctx, outputs), &[], vec![import]))
            }
            "stray-traits" => {
                // Declares a resource the template does not have.
                let mut answer = rendered(template(&ctx, json!({})), &[], vec![]);
                answer.resources.push(ResourceTraits {
                    logical_id: "Database".into(),
                    stateful: true,
                    replaced_by: Vec::new(),
                });
                Ok(answer)
            }
            "flood-log" => {
                for line in 0..100_000 {
                    strata_sdk::log(&format!("line {line}: {}", "y".repeat(100)));
                }
                Ok(rendered(template(&ctx, json!({})), &[], vec![]))
            }
            "flood-diagnostics" => Err((0..700_000)
                .map(|_| Diagnostic {
                    severity: Severity::Error,
                    path: String::new(),
                    message: String::new(),
                    help: None,
                })
                .collect()),
            "flood-warnings" => {
                let mut answer = rendered(template(&ctx, json!({})), &[], vec![]);
                answer.warnings = (0..700_000)
                    .map(|i| Diagnostic {
                        severity: Severity::Warning,
                        path: "misbehave".into(),
                        message: format!("warning {i}"),
                        help: None,
                    })
                    .collect();
                Ok(answer)
            }
            "flood-imports" => {
                let imports = (0..500_000)
                    .map(|i| ImportRef {
                        stack: "networking".into(),
                        output: format!("output-{i}"),
                    })
                    .collect();
                Ok(rendered(template(&ctx, json!({})), &[], imports))
            }
            "many-exports" => {
                let names: Vec<String> = (0..300).map(|i| format!("out-{i}")).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                Ok(rendered(template(&ctx, json!({})), &refs, vec![]))
            }
            "escapes" => {
                strata_sdk::log("\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}");
                Err(vec![Diagnostic {
                    severity: Severity::Error,
                    path: "misbehave".into(),
                    message: "\u{1b}[31mred\u{1b}[0m\rall is fine \u{202e}txt.exe".into(),
                    help: Some("\u{1b}]8;;https://evil.example\u{7}trust me\u{1b}]8;;\u{7}".into()),
                }])
            }
            "recurse" => {
                // Endless in practice: the depth comes from the config,
                // which never says how deep.
                fn deeper(n: u64, limit: u64, pad: [u64; 64]) -> u64 {
                    if n == limit {
                        return pad[0];
                    }
                    let mut next = pad;
                    next[(n % 64) as usize] = n;
                    deeper(n + 1, limit, next).wrapping_add(next[0])
                }
                let limit = config
                    .get("depth")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let sum = deeper(0, limit, [0; 64]);
                Ok(rendered(
                    template(&ctx, json!({ "Sum": { "Value": sum.to_string() } })),
                    &[],
                    vec![],
                ))
            }
            "plain-panic" => {
                // As a module without the SDK's hook would: the default hook.
                let _ = std::panic::take_hook();
                panic!("a plain std panic with its message");
            }
            "diagnostics" => Err(vec![
                Diagnostic {
                    severity: Severity::Error,
                    path: "misbehave".into(),
                    message: "`diagnostics` asks for two diagnostics".into(),
                    help: Some("pick `nothing`".into()),
                },
                Diagnostic {
                    severity: Severity::Error,
                    path: "".into(),
                    message: "the whole stack is wrong too".into(),
                    help: None,
                },
            ]),
            _ => {
                let outputs = json!({ "TopicArn": { "Value": { "Ref": "Topic" }, "Export": { "Name": own("topic-arn") } } });
                Ok(rendered(template(&ctx, outputs), &["topic-arn"], vec![]))
            }
        }
    }
}

strata_sdk::bindings::__export_stack!(Misbehaving with_types_in strata_sdk::bindings);
