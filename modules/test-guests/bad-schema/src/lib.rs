//! A module whose `describe` gives a config schema the host cannot use:
//! a `type` that is a number and a `pattern` that is no regular
//! expression. The host must refuse it when loading, not skip the checks.

use strata_sdk::bindings::exports::strata::module::stack_module::{
    Context, Diagnostic, Guest, ModuleInfo, Rendered,
};
use strata_sdk::json;

struct BadSchema;

impl Guest for BadSchema {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            name: "bad-schema".into(),
            version: "0.1.0".into(),
            description: "Describes its config with a broken schema".into(),
            config_schema: json!({
                "type": "object",
                "properties": {
                    "size": { "type": 42 },
                    "name": { "type": "string", "pattern": "([a-z" },
                },
            })
            .to_string(),
        }
    }

    fn render(_ctx: Context, _config: String) -> Result<Rendered, Vec<Diagnostic>> {
        Err(Vec::new())
    }
}

strata_sdk::bindings::__export_stack!(BadSchema with_types_in strata_sdk::bindings);
