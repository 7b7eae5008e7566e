//! The glue between the WIT bindings and a module's typed `render` function.
//! [`crate::module!`] expands to calls of these.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::bindings::exports::strata::module::stack_module as wit;
use crate::bindings::strata::module::types::{
    ImportRef as WitImportRef, ResourceTraits as WitResourceTraits, Severity as WitSeverity,
};
use crate::{Context, Diagnostic, Diagnostics, Severity, Template};

/// Build the `describe` answer: name, version, description and the config's
/// JSON Schema.
pub fn describe<C: JsonSchema>(name: &str, version: &str, description: &str) -> wit::ModuleInfo {
    install_panic_hook();
    let schema = schemars::schema_for!(C);
    wit::ModuleInfo {
        name: name.to_owned(),
        version: version.to_owned(),
        description: description.to_owned(),
        config_schema: serde_json::to_string(&schema).unwrap_or_else(|_| "true".to_owned()),
    }
}

/// Run a typed `render` on the host's arguments.
pub fn render<C: DeserializeOwned>(
    ctx: wit::Context,
    config: &str,
    render: impl FnOnce(&Context, C) -> Result<Template, Diagnostics>,
) -> Result<wit::Rendered, Vec<wit::Diagnostic>> {
    install_panic_hook();
    let ctx = Context {
        project: ctx.project,
        environment: ctx.environment,
        stack: ctx.stack,
        region: ctx.region,
        account: ctx.account,
        tags: ctx.tags,
    };
    let rendered = crate::testing::render_json(&ctx, config, render)
        .map_err(|diagnostics| diagnostics.into_iter().map(to_wit).collect::<Vec<_>>())?;
    let template = rendered.template.to_string();
    // The sandbox is thrown away after this call: freeing the template tree
    // node by node would cost a fifth of the render for nothing.
    std::mem::forget(rendered.template);
    Ok(wit::Rendered {
        template,
        exports: rendered.exports,
        imports: rendered
            .imports
            .into_iter()
            .map(|i| WitImportRef {
                stack: i.stack,
                output: i.output,
            })
            .collect(),
        warnings: rendered.warnings.into_iter().map(to_wit).collect(),
        resources: rendered
            .resource_traits
            .into_iter()
            .map(|t| WitResourceTraits {
                logical_id: t.logical_id,
                stateful: t.stateful,
                replaced_by: t.replaced_by,
            })
            .collect(),
    })
}

fn to_wit(d: Diagnostic) -> wit::Diagnostic {
    wit::Diagnostic {
        severity: match d.severity {
            Severity::Error => WitSeverity::Error,
            Severity::Warning => WitSeverity::Warning,
        },
        path: d.path,
        message: d.message,
        help: d.help,
    }
}

/// Send panic messages through the host's `log` before the module aborts,
/// so the host can say *why* a module panicked. (Rust's default hook reads
/// `RUST_BACKTRACE` and writes to stderr, neither of which a sandboxed module
/// has.) [`crate::module!`] calls this; a module that implements the WIT
/// interface by hand should call it first thing in every export.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.payload_as_str().unwrap_or("(no message)");
            match info.location() {
                Some(at) => log(&format!(
                    "panicked: {message} (at {}:{}:{})",
                    at.file(),
                    at.line(),
                    at.column()
                )),
                None => log(&format!("panicked: {message}")),
            }
        }));
    });
}

/// Write a line to the operator's log (`strata -v`). The host keeps the last
/// lines and attaches them to the diagnostic when the module traps.
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::strata::module::host::log(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[module] {message}");
}
