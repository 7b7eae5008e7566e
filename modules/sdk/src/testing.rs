//! Run a module's `render` natively, through the same config handling the
//! sandbox uses: unit tests of config errors need no WebAssembly runtime.
//! Plus the helpers and assertions every module's tests want.
//!
//! ```
//! use strata_module_sdk::{Context, Diagnostics, Template, Resource, json, testing};
//! # #[derive(serde::Deserialize)]
//! # struct Config { name: String }
//! fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
//!     let mut diagnostics = Diagnostics::new();
//!     strata_module_sdk::check::stack_name("name", &config.name, &mut diagnostics);
//!     diagnostics.check()?;
//!     let mut template = Template::new(ctx, "A bucket");
//!     template.resource("Bucket", Resource::new("AWS::S3::Bucket", json!({ "Tags": ctx.tags() })));
//!     Ok(template)
//! }
//!
//! let ctx = testing::production_context("storage");
//! let rendered = testing::rendered(&ctx, r#"{"name": "logs"}"#, render);
//! testing::assert_tagged(&rendered, &ctx);
//!
//! let errors = testing::errors(&ctx, r#"{"name": "Logs"}"#, render);
//! testing::single_error(errors, "name");
//! ```

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Context, Diagnostic, Diagnostics, ImportRef, Rendered, ResourceTraits, Severity, Template,
};

mod tags;

pub use tags::{TagForm, TagRules, UNTAGGABLE_TYPES_LIST};

/// Whether the SDK's default table ([`TagRules::default`]) says
/// CloudFormation gives resources of `kind` no tags property.
pub fn is_untaggable(kind: &str) -> bool {
    TagRules::default().is_untaggable(kind)
}

/// The property a resource type keeps its tags in, by the SDK's default
/// table ([`TagRules::default`]): `Tags`, except for the types that name it
/// otherwise (`AWS::Route53::HostedZone` → `HostedZoneTags`,
/// `AWS::Cognito::UserPool` → `UserPoolTags`).
pub fn tags_property(kind: &str) -> &'static str {
    tags::default_tags_property(kind)
}

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

/// [`render_json`] that must succeed: panics with the diagnostics when the
/// config does not render.
pub fn rendered<C: DeserializeOwned>(
    ctx: &Context,
    config: &str,
    render: impl FnOnce(&Context, C) -> Result<Template, Diagnostics>,
) -> Rendered {
    match render_json(ctx, config, render) {
        Ok(rendered) => rendered,
        Err(diagnostics) => {
            panic!("config {config} did not render, expected it to: {diagnostics:#?}")
        }
    }
}

/// [`render_json`] that must fail: the diagnostics (errors and any warnings,
/// in the order recorded). Panics when the config renders.
pub fn errors<C: DeserializeOwned>(
    ctx: &Context,
    config: &str,
    render: impl FnOnce(&Context, C) -> Result<Template, Diagnostics>,
) -> Vec<Diagnostic> {
    match render_json(ctx, config, render) {
        Ok(_) => panic!("config {config} rendered, expected errors"),
        Err(diagnostics) => diagnostics,
    }
}

/// The one diagnostic of `diagnostics`, asserting that there is exactly
/// one, that it is an error, and that it is at `path`. (Filter out warnings
/// first to ignore them.)
pub fn single_error(diagnostics: Vec<Diagnostic>, path: &str) -> Diagnostic {
    let [diagnostic] = <[Diagnostic; 1]>::try_from(diagnostics)
        .unwrap_or_else(|all| panic!("expected one error, got {all:#?}"));
    assert_eq!(diagnostic.path, path, "{diagnostic:#?}");
    assert_eq!(diagnostic.severity, Severity::Error, "{diagnostic:#?}");
    diagnostic
}

/// A context like [`Context::for_tests`], in environment `production`
/// (which [`Context::is_production`] recognises), with the `Environment`
/// tag to match.
///
/// ```
/// let ctx = strata_module_sdk::testing::production_context("database");
/// assert!(ctx.is_production());
/// assert_eq!(ctx.name("database"), "acme-production-database");
/// ```
pub fn production_context(stack: &str) -> Context {
    let mut ctx = Context::for_tests(stack);
    ctx.environment = "production".into();
    for (key, value) in &mut ctx.tags {
        if key == "Environment" {
            *value = ctx.environment.clone();
        }
    }
    ctx
}

/// The resources of a rendered template, as (logical id, resource), in
/// logical id order. Panics when the template has no `Resources` object.
pub fn resources(rendered: &Rendered) -> impl Iterator<Item = (&String, &Value)> {
    rendered.template["Resources"]
        .as_object()
        .expect("the template has a Resources object")
        .iter()
}

/// Assert that every resource of `rendered` carries all of `ctx.tags`, by
/// the SDK's default table: [`TagRules::assert_tagged`] of
/// [`TagRules::default`]. A module that renders a type the table does not
/// know extends it in its own tests ([`TagRules`]).
pub fn assert_tagged(rendered: &Rendered, ctx: &Context) {
    TagRules::default().assert_tagged(rendered, ctx);
}

/// The JSON Schema a module's config type describes itself with.
pub fn schema<C: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(C)).unwrap_or(serde_json::Value::Null)
}

/// Assert that the config type `C` has `keys` top-level keys, refuses
/// others (`additionalProperties: false`), and that every key, and every
/// property of the types it defines (`$defs`), has a description (the doc
/// comment `strata schema` shows). Returns the schema for further checks.
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     /// The bucket's name.
///     name: String,
/// }
/// strata_module_sdk::testing::assert_documented::<Config>(1);
/// ```
pub fn assert_documented<C: JsonSchema>(keys: usize) -> Value {
    let schema = schema::<C>();
    let properties = schema["properties"].as_object().expect("properties");
    assert_eq!(properties.len(), keys, "{:?}", properties.keys());
    for (key, property) in properties {
        assert!(
            property["description"].is_string(),
            "{key} has no description"
        );
    }
    assert_eq!(schema["additionalProperties"], false, "unknown keys pass");
    let definitions = schema["$defs"].as_object().into_iter().flatten();
    for (definition, body) in definitions {
        for (key, property) in body["properties"].as_object().into_iter().flatten() {
            assert!(
                property["description"].is_string(),
                "{definition}.{key} has no description"
            );
        }
    }
    schema
}

/// The resource `id` of a rendered template (`Type`, `Properties`, ...).
/// Panics when there is none: ask [`has_resource`] to check for absence.
pub fn resource<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    let resource = &rendered.template["Resources"][id];
    assert!(resource.is_object(), "no resource {id}");
    resource
}

/// Whether the rendered template has a resource `id`.
pub fn has_resource(rendered: &Rendered, id: &str) -> bool {
    rendered.template["Resources"][id].is_object()
}

/// The `Properties` of resource `id` (see [`resource`]).
pub fn properties<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &resource(rendered, id)["Properties"]
}

/// The logical ids of the resources of type `kind`, in logical id order.
pub fn ids_of<'a>(rendered: &'a Rendered, kind: &str) -> Vec<&'a str> {
    resources(rendered)
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, _)| id.as_str())
        .collect()
}

/// What the render declares to the host about resource `id` (stateful,
/// replacing properties): `None` when it declares nothing, because neither
/// the SDK's table nor the author (`Resource::stateful`,
/// `Resource::replaced_by`) knows anything risky about it.
///
/// ```
/// use strata_module_sdk::{Context, Resource, Template, json, testing};
/// let ctx = Context::for_tests("auth");
/// let mut template = Template::new(&ctx, "users");
/// template.resource(
///     "UserPool",
///     Resource::new("AWS::Cognito::UserPool", json!({}))
///         .stateful()
///         .replaced_by(&["UsernameAttributes"]),
/// );
/// let rendered = template.finish();
/// let pool = testing::traits(&rendered, "UserPool").expect("declared");
/// assert!(pool.stateful);
/// assert_eq!(pool.replaced_by, ["UsernameAttributes"]);
/// assert_eq!(testing::stateful_ids(&rendered), ["UserPool"]);
/// ```
pub fn traits<'a>(rendered: &'a Rendered, id: &str) -> Option<&'a ResourceTraits> {
    rendered.resource_traits.iter().find(|t| t.logical_id == id)
}

/// The logical ids the render declares stateful, in logical id order.
pub fn stateful_ids(rendered: &Rendered) -> Vec<&str> {
    rendered
        .resource_traits
        .iter()
        .filter(|t| t.stateful)
        .map(|t| t.logical_id.as_str())
        .collect()
}

/// Assert that the render declares exactly `ids` stateful (any order).
pub fn assert_stateful(rendered: &Rendered, ids: &[&str]) {
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(
        stateful_ids(rendered),
        expected,
        "the resources declared stateful"
    );
}

/// How many resources of type `kind` the rendered template has.
pub fn count_of(rendered: &Rendered, kind: &str) -> usize {
    ids_of(rendered, kind).len()
}

/// The JSON text of importing `stack`'s `output` in `ctx`
/// (`{"Fn::ImportValue":"acme-test-networking-vpc-id"}`), to compare with
/// a property's `to_string()`.
pub fn import_value(ctx: &Context, stack: &str, output: &str) -> String {
    format!(
        r#"{{"Fn::ImportValue":"{}"}}"#,
        ctx.export_name(stack, output)
    )
}

/// An [`ImportRef`] of `stack`'s `output`.
pub fn import(stack: &str, output: &str) -> ImportRef {
    ImportRef {
        stack: stack.into(),
        output: output.into(),
    }
}

/// Assert that the rendered template records exactly these imports, as
/// (stack, output), in order.
pub fn assert_imports(rendered: &Rendered, expected: &[(&str, &str)]) {
    let expected: Vec<ImportRef> = expected.iter().map(|(s, o)| import(s, o)).collect();
    assert_eq!(rendered.imports, expected);
}

/// The stacks of the rendered template's imports, in the order recorded
/// (one per import, so a stack may repeat).
pub fn imported_stacks(rendered: &Rendered) -> Vec<&str> {
    rendered.imports.iter().map(|i| i.stack.as_str()).collect()
}

/// Assert that the rendered template exports exactly `expected`, in order,
/// each as the output named after it ([`crate::cfn::logical_id`]) under the
/// export name [`Context::export_name`] gives in `ctx`, and that no other
/// output is exported. Returns the `Outputs` for further checks.
pub fn assert_exports<'a, S: AsRef<str>>(
    rendered: &'a Rendered,
    ctx: &Context,
    expected: &[S],
) -> &'a Value {
    let expected: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    assert_eq!(rendered.exports, expected);
    let outputs = &rendered.template["Outputs"];
    for name in &expected {
        let id = crate::cfn::logical_id(name);
        assert_eq!(
            outputs[&id]["Export"]["Name"],
            ctx.export_name(&ctx.stack, name),
            "output {id}"
        );
    }
    let exported = outputs
        .as_object()
        .expect("outputs")
        .values()
        .filter(|output| output.get("Export").is_some())
        .count();
    assert_eq!(exported, expected.len(), "exported outputs");
    outputs
}

/// Assert the `Value` of each named output of the rendered template, as
/// JSON text: `(logical id, text)`, e.g. `("VpcId", r#"{"Ref":"Vpc"}"#)`.
pub fn assert_output_values(rendered: &Rendered, expected: &[(&str, &str)]) {
    for (id, text) in expected {
        let value = &rendered.template["Outputs"][id]["Value"];
        assert_eq!(value.to_string(), *text, "output {id}");
    }
}

/// The paths of `diagnostics`, in order.
pub fn error_paths(diagnostics: &[Diagnostic]) -> Vec<&str> {
    diagnostics.iter().map(|d| d.path.as_str()).collect()
}

/// Assert that `diagnostics` are all errors, at exactly these paths in
/// this order.
pub fn assert_errors_at(diagnostics: &[Diagnostic], paths: &[&str]) {
    assert_eq!(error_paths(diagnostics), paths);
    for diagnostic in diagnostics {
        assert_eq!(diagnostic.severity, Severity::Error, "{diagnostic:#?}");
    }
}

/// Like [`single_error`], with any warnings left out first: the one error
/// of `diagnostics`, asserting it is at `path`.
pub fn only_error(diagnostics: Vec<Diagnostic>, path: &str) -> Diagnostic {
    let errors = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error);
    single_error(errors.collect(), path)
}

/// Defines a module's test helpers, bound to its config type, its `render`
/// and its stack name. Invoke it at the top of the module's
/// `#[cfg(test)] mod tests`; it defines:
///
/// - `test_ctx()`: [`Context::for_tests`] of the stack;
/// - `production_ctx()`: [`production_context`] of the stack;
/// - `rendered(config)` / `rendered_in(&ctx, config)`: [`rendered`];
/// - `errors(config)` / `errors_in(&ctx, config)`: [`errors`];
/// - `error_at(config, path)` / `error_in(&ctx, config, path)`: the single
///   error of the config, warnings aside, asserting it is at `path`
///   ([`only_error`]);
/// - `tag_rules()`: the [`TagRules`] the tag assertions use: the SDK's
///   default table, or the value of an optional fourth argument
///   `tag_rules: <expr>`, for a module that renders types the default table
///   does not know (see the second example);
/// - `assert_tagged_in(&ctx, config)`: renders the config in `ctx` and
///   asserts with `tag_rules()` that every resource is tagged
///   ([`TagRules::assert_tagged`]), returning the rendering.
///
/// ```
/// use strata_module_sdk::{Context, Diagnostics, Template};
/// # #[derive(serde::Deserialize)]
/// # struct Config { name: String }
/// fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
///     let mut diagnostics = Diagnostics::new();
///     strata_module_sdk::check::stack_name("name", &config.name, &mut diagnostics);
///     diagnostics.check()?;
///     Ok(Template::new(ctx, "Nothing yet"))
/// }
///
/// strata_module_sdk::test_helpers!(Config, render, "storage");
///
/// # fn main() {
/// assert!(rendered(r#"{"name": "logs"}"#).exports.is_empty());
/// error_at(r#"{"name": "Logs"}"#, "name");
/// assert_tagged_in(&production_ctx(), r#"{"name": "logs"}"#);
/// # }
/// ```
///
/// A module rendering a type the default table does not know tells its
/// tests where that type's tags live:
///
/// ```
/// use strata_module_sdk::{Context, Diagnostics, Resource, Template, json};
/// use strata_module_sdk::testing::TagRules;
/// # #[derive(serde::Deserialize)]
/// # struct Config {}
/// fn render(ctx: &Context, _: Config) -> Result<Template, Diagnostics> {
///     let mut template = Template::new(ctx, "A widget");
///     let widget = json!({ "WidgetLabels": ctx.tag_map() });
///     template.resource("Widget", Resource::new("AWS::Example::Widget", widget));
///     Ok(template)
/// }
///
/// strata_module_sdk::test_helpers!(
///     Config,
///     render,
///     "widgets",
///     tag_rules: TagRules::default().with_tag_map("AWS::Example::Widget", "WidgetLabels"),
/// );
///
/// # fn main() {
/// assert_tagged_in(&production_ctx(), "{}");
/// # }
/// ```
///
/// [`Context::for_tests`]: crate::Context::for_tests
#[macro_export]
macro_rules! test_helpers {
    ($config:ty, $render:path, $stack:expr $(,)?) => {
        $crate::test_helpers!(
            $config,
            $render,
            $stack,
            tag_rules: $crate::testing::TagRules::default(),
        );
    };
    ($config:ty, $render:path, $stack:expr, tag_rules: $rules:expr $(,)?) => {
        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn tag_rules() -> $crate::testing::TagRules {
            $rules
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn test_ctx() -> $crate::Context {
            $crate::Context::for_tests($stack)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn production_ctx() -> $crate::Context {
            $crate::testing::production_context($stack)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn rendered_in(ctx: &$crate::Context, config: &str) -> $crate::Rendered {
            $crate::testing::rendered::<$config>(ctx, config, $render)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn rendered(config: &str) -> $crate::Rendered {
            rendered_in(&test_ctx(), config)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn errors_in(ctx: &$crate::Context, config: &str) -> Vec<$crate::Diagnostic> {
            $crate::testing::errors::<$config>(ctx, config, $render)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn errors(config: &str) -> Vec<$crate::Diagnostic> {
            errors_in(&test_ctx(), config)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn error_in(ctx: &$crate::Context, config: &str, path: &str) -> $crate::Diagnostic {
            $crate::testing::only_error(errors_in(ctx, config), path)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn error_at(config: &str, path: &str) -> $crate::Diagnostic {
            error_in(&test_ctx(), config, path)
        }

        #[allow(dead_code, reason = "a module's tests use some of its helpers")]
        fn assert_tagged_in(ctx: &$crate::Context, config: &str) -> $crate::Rendered {
            let rendered = rendered_in(ctx, config);
            tag_rules().assert_tagged(&rendered, ctx);
            rendered
        }
    };
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;

    /// Renders the resources of `config` (a map of logical id to
    /// `[type, properties]`) as given.
    fn render(
        ctx: &Context,
        config: serde_json::Map<String, Value>,
    ) -> Result<Template, Diagnostics> {
        let mut template = Template::new(ctx, "test");
        for (id, resource) in config {
            let kind = resource[0].as_str().unwrap_or_default();
            template.resource(&id, Resource::new(kind, resource[1].clone()));
        }
        Ok(template)
    }

    fn rendered_with(ctx: &Context, resources: Value) -> Rendered {
        rendered(ctx, &resources.to_string(), render)
    }

    #[test]
    fn accepts_tags_in_list_and_map_form_and_untaggable_types() {
        let ctx = Context::for_tests("test");
        let rendered = rendered_with(
            &ctx,
            json!({
                "Vpc": ["AWS::EC2::VPC", { "Tags": ctx.tags_named("acme-test-vpc") }],
                "Bucket": ["AWS::S3::Bucket", { "Tags": ctx.tags() }],
                "Parameter": ["AWS::SSM::Parameter", { "Tags": ctx.tag_map() }],
                "Route": ["AWS::EC2::Route", {}],
                "Alias": ["AWS::KMS::Alias", {}],
            }),
        );
        assert_tagged(&rendered, &ctx);
    }

    #[test]
    #[should_panic(expected = "Bucket (AWS::S3::Bucket) has no `Tags` property")]
    fn requires_tags_on_taggable_types() {
        let ctx = Context::for_tests("test");
        assert_tagged(
            &rendered_with(&ctx, json!({ "Bucket": ["AWS::S3::Bucket", {}] })),
            &ctx,
        );
    }

    #[test]
    fn knows_that_a_user_pool_keeps_a_map_of_tags_in_user_pool_tags() {
        let ctx = Context::for_tests("auth");
        let rendered = rendered_with(
            &ctx,
            json!({ "Pool": ["AWS::Cognito::UserPool", { "UserPoolTags": ctx.tag_map() }] }),
        );
        assert_tagged(&rendered, &ctx);
        assert_eq!(tags_property("AWS::Cognito::UserPool"), "UserPoolTags");
    }

    #[test]
    #[should_panic(expected = "has `UserPoolTags` as a list; CloudFormation takes \
                               AWS::Cognito::UserPool's tags as a map")]
    fn rejects_user_pool_tags_in_list_form() {
        let ctx = Context::for_tests("auth");
        let rendered = rendered_with(
            &ctx,
            json!({ "Pool": ["AWS::Cognito::UserPool", { "UserPoolTags": ctx.tags() }] }),
        );
        assert_tagged(&rendered, &ctx);
    }

    #[test]
    #[should_panic(expected = "tell your test, in your crate: \
                               `TagRules::default().with_tag_property(\"AWS::Example::Widget\"")]
    fn tells_the_author_how_to_extend_the_table_in_their_own_crate() {
        let ctx = Context::for_tests("test");
        let rendered = rendered_with(
            &ctx,
            json!({ "Widget": ["AWS::Example::Widget", { "WidgetTags": ctx.tags() }] }),
        );
        assert_tagged(&rendered, &ctx);
    }

    #[test]
    fn learns_tag_properties_and_untaggable_types_from_the_author() {
        let ctx = Context::for_tests("test");
        let rendered = rendered_with(
            &ctx,
            json!({
                "Widget": ["AWS::Example::Widget", { "WidgetTags": ctx.tags() }],
                "Gadget": ["AWS::Example::Gadget", { "Labels": ctx.tag_map() }],
                "Link": ["AWS::Example::Link", {}],
            }),
        );
        TagRules::default()
            .with_tag_property("AWS::Example::Widget", "WidgetTags")
            .with_tag_map("AWS::Example::Gadget", "Labels")
            .untaggable("AWS::Example::Link")
            .assert_tagged(&rendered, &ctx);
    }

    #[test]
    #[should_panic(expected = "Route (AWS::EC2::Route) has no `Tags` property")]
    fn lets_the_author_say_a_listed_type_is_taggable_after_all() {
        let ctx = Context::for_tests("test");
        let rendered = rendered_with(&ctx, json!({ "Route": ["AWS::EC2::Route", {}] }));
        TagRules::default()
            .with_tag_property("AWS::EC2::Route", "Tags")
            .assert_tagged(&rendered, &ctx);
    }

    #[test]
    #[should_panic(expected = "Bucket (AWS::S3::Bucket) lacks tag CostCenter")]
    fn requires_every_tag() {
        let ctx = Context::for_tests("test");
        let tags = json!([{ "Key": "Application", "Value": "acme" }]);
        assert_tagged(
            &rendered_with(
                &ctx,
                json!({ "Bucket": ["AWS::S3::Bucket", { "Tags": tags }] }),
            ),
            &ctx,
        );
    }

    #[test]
    #[should_panic(expected = "has tag Environment = \"test\", expected \"production\"")]
    fn requires_the_tag_values_of_the_context() {
        let ctx = production_context("test");
        let tags = Context::for_tests("test").tag_map();
        assert_tagged(
            &rendered_with(
                &ctx,
                json!({ "Parameter": ["AWS::SSM::Parameter", { "Tags": tags }] }),
            ),
            &ctx,
        );
    }

    #[test]
    fn gives_production_its_own_environment_tag() {
        let ctx = production_context("networking");
        assert!(ctx.is_production());
        assert_eq!(ctx.stack, "networking");
        let environment = ctx.tags.iter().find(|(key, _)| key == "Environment");
        assert_eq!(environment.map(|(_, v)| v.as_str()), Some("production"));
        assert_eq!(ctx.tags.len(), Context::for_tests("networking").tags.len());
    }

    #[test]
    fn lists_resources_by_logical_id() {
        let ctx = Context::for_tests("test");
        let rendered = rendered_with(
            &ctx,
            json!({ "B": ["AWS::EC2::Route", {}], "A": ["AWS::KMS::Alias", {}] }),
        );
        let ids: Vec<&str> = resources(&rendered).map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["A", "B"]);
    }

    fn reject(_: &Context, _: serde_json::Map<String, Value>) -> Result<Template, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        diagnostics.warning("w", "a warning");
        diagnostics.error("e", "an error");
        Err(diagnostics)
    }

    #[test]
    fn returns_the_diagnostics_of_a_config_that_does_not_render() {
        let errors = errors(&Context::for_tests("test"), "{}", reject);
        let paths: Vec<&str> = errors.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["w", "e"]);
        let only = errors.into_iter().filter(|d| d.severity == Severity::Error);
        assert_eq!(single_error(only.collect(), "e").message, "an error");
    }

    #[test]
    #[should_panic(expected = "rendered, expected errors")]
    fn panics_when_a_config_expected_to_fail_renders() {
        errors(&Context::for_tests("test"), "{}", render);
    }

    #[test]
    #[should_panic(expected = "did not render")]
    fn panics_when_a_config_expected_to_render_fails() {
        rendered(&Context::for_tests("test"), "{}", reject);
    }

    #[test]
    #[should_panic(expected = "expected one error")]
    fn insists_on_a_single_error() {
        single_error(errors(&Context::for_tests("test"), "{}", reject), "e");
    }

    #[test]
    fn checks_exports_imports_and_resources() {
        let ctx = Context::for_tests("test");
        let mut template = Template::new(&ctx, "test");
        template.resource("Route", Resource::new("AWS::EC2::Route", json!({})));
        let vpc = template.import("networking", "vpc-id");
        template.export("vpc-id", vpc, "The VPC");
        template.output("Plain", json!("x"), "Not exported");
        let rendered = template.finish();
        assert_exports(&rendered, &ctx, &["vpc-id"]);
        assert_output_values(
            &rendered,
            &[("VpcId", &import_value(&ctx, "networking", "vpc-id"))],
        );
        assert_imports(&rendered, &[("networking", "vpc-id")]);
        assert_eq!(imported_stacks(&rendered), ["networking"]);
        assert_eq!(ids_of(&rendered, "AWS::EC2::Route"), ["Route"]);
        assert_eq!(count_of(&rendered, "AWS::EC2::VPC"), 0);
        assert!(has_resource(&rendered, "Route") && !has_resource(&rendered, "Vpc"));
        assert_eq!(properties(&rendered, "Route"), &json!({}));
    }

    #[test]
    #[should_panic(expected = "no resource Vpc")]
    fn panics_on_a_missing_resource() {
        resource(
            &rendered_with(&Context::for_tests("test"), json!({})),
            "Vpc",
        );
    }

    #[test]
    fn asserts_diagnostics_at_paths() {
        let errors = errors(&Context::for_tests("test"), "{}", reject);
        assert_eq!(error_paths(&errors), ["w", "e"]);
        assert_eq!(only_error(errors, "e").message, "an error");
    }

    #[test]
    #[should_panic(expected = "x has no description")]
    fn requires_a_description_of_every_key() {
        #[derive(JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[expect(dead_code, reason = "only its schema is used")]
        struct Undocumented {
            x: u8,
        }
        assert_documented::<Undocumented>(1);
    }

    #[test]
    fn reports_config_that_does_not_deserialize_at_its_key() {
        let strings = |_: &Context, _: std::collections::BTreeMap<String, String>| {
            Ok(Template::new(&Context::for_tests("test"), "never"))
        };
        let errors = errors(&Context::for_tests("test"), r#"{"A": 1}"#, strings);
        assert_eq!(single_error(errors, "A").severity, Severity::Error);
    }
}
