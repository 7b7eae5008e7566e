//! A module built with the SDK against `strata:module@0.2.0` that declares
//! what only it knows: its Cognito user pool (a type the host's table does
//! not know) holds data, and changing how users sign in
//! (`UsernameAttributes`) replaces it. A plan changing `sign_in` must show a
//! replacement that loses data.
//!
//! Stack type `user-pool`, config `{"sign_in": "email" | "phone"}`.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, Resource, Template, cfn, json};

/// What users sign in with.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignIn {
    /// Their email address.
    #[default]
    Email,
    /// Their phone number.
    Phone,
}

/// The `user-pool` stack's table.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// What users sign in with; changing it replaces the pool.
    pub sign_in: SignIn,
}

/// One user pool, declared stateful and replaced by `UsernameAttributes`.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let attribute = match config.sign_in {
        SignIn::Email => "email",
        SignIn::Phone => "phone_number",
    };
    let mut template = Template::new(ctx, "A user pool whose users are data");
    let pool = template.resource(
        "UserPool",
        Resource::new(
            "AWS::Cognito::UserPool",
            json!({
                "UserPoolName": ctx.name("users"),
                "UsernameAttributes": [attribute],
                "UserPoolTags": ctx.tag_map(),
            }),
        )
        .stateful()
        .replaced_by(&["UsernameAttributes"]),
    );
    template.export("user-pool-id", pool, "Id of the user pool");
    template.export(
        "user-pool-arn",
        cfn::get_att("UserPool", "Arn"),
        "ARN of the user pool",
    );
    Ok(template)
}

strata_sdk::module! {
    name: "user-pool",
    description: "A Cognito user pool, declared stateful",
    config: Config,
    render: render,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_sdk::testing;

    strata_sdk::test_helpers!(Config, render, "auth");

    #[test]
    fn declares_the_user_pool_stateful_and_replaced_by_its_username_attributes() {
        let rendered = rendered_in(&test_ctx(), "{}");
        testing::assert_stateful(&rendered, &["UserPool"]);
        let pool = testing::traits(&rendered, "UserPool").expect("declared");
        assert_eq!(pool.replaced_by, ["UsernameAttributes"]);
    }
}
