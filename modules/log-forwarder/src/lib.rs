//! The `log-forwarder` stack type (seed 000's log processing Lambda): a
//! function subscribed to the compute services' log groups that copies
//! their events to the `s3` stack's logs bucket as gzip'd JSON lines, under
//! `<prefix>/<log group>/<yyyy>/<mm>/<dd>/`.
//!
//! - [`config`] validates the stack's table.
//! - [`function`] adds the function (Python 3.12, the inline handler in
//!   `handler.py`), its log group and its least-privilege role.
//! - [`subscriptions`] adds, per service, the invoke permission and the
//!   subscription filter.
//!
//! It imports each service's `{service}-log-group-name` from the compute
//! stack and the logs bucket from the s3 stack; it exports [`EXPORTS`].

pub mod config;
pub mod function;
pub mod subscriptions;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Template, cfn};

pub use config::Config;

/// The outputs this stack exports, in order.
pub const EXPORTS: [&str; 2] = ["function-arn", "function-name"];

/// Render a log-forwarder stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: forwards the logs of {} to the logs bucket",
            ctx.name("log-forwarder"),
            settings.services.join(", ")
        ),
    );
    template.warn_all(warnings);

    function::add(&mut template, ctx, &settings);
    subscriptions::add(&mut template, ctx, &settings);

    template.export(
        "function-arn",
        cfn::get_att(function::FUNCTION, "Arn"),
        "ARN of the log forwarding function",
    );
    template.export(
        "function-name",
        cfn::reference(function::FUNCTION),
        "Name of the log forwarding function",
    );
    Ok(template)
}

strata_sdk::module! {
    name: "log-forwarder",
    description: "A Lambda function subscribed to the compute services' log groups, copying their events to the logs bucket",
    config: Config,
    render: render,
}
