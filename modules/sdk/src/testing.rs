//! Run a module's `render` natively, through the same config handling the
//! sandbox uses: unit tests of config errors need no WebAssembly runtime.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::{Context, Diagnostic, Diagnostics, Rendered, Severity, Template};

/// Deserialize `config` (the stack's table as JSON) into `C` and render it.
/// A config that does not deserialize gives one error diagnostic at the key
/// path serde stopped at.
pub fn render_json<C: DeserializeOwned>(
    ctx: &Context,
    config: &str,
    render: impl FnOnce(&Context, C) -> Result<Template, Diagnostics>,
) -> Result<Rendered, Vec<Diagnostic>> {
    let deserializer = &mut serde_json::Deserializer::from_str(config);
    let config: C = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        vec![Diagnostic {
            severity: Severity::Error,
            path: dotted_path(error.path()),
            message: error.inner().to_string(),
            help: None,
        }]
    })?;
    render(ctx, config)
        .map(Template::finish)
        .map_err(Diagnostics::into_vec)
}

/// The JSON Schema a module's config type describes itself with.
pub fn schema<C: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(C)).unwrap_or(serde_json::Value::Null)
}

fn dotted_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}
