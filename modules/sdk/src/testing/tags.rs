//! Which property of a resource type holds its tags, and which types have
//! none: the table [`assert_tagged`](super::assert_tagged) checks against.
//!
//! The SDK ships a default table (the types Strata's own modules render, the
//! types CloudFormation names or shapes differently, and
//! `untaggable-types.txt`). A module that renders a type the table gets
//! wrong extends it in its own tests, with [`TagRules`]; nobody has to edit
//! the SDK.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{Context, Rendered};

/// Resource types CloudFormation gives no tags property, one per line (`#`
/// starts a comment): the SDK's default list of [`TagRules::is_untaggable`]
/// types. Add to it in your own tests with [`TagRules::untaggable`].
pub const UNTAGGABLE_TYPES_LIST: &str = include_str!("../untaggable-types.txt");

/// The form CloudFormation takes a resource type's tags in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagForm {
    /// `[{"Key": "..", "Value": ".."}]`, as [`Context::tags`] gives.
    List,
    /// `{"Key": "Value"}`, as [`Context::tag_map`] gives.
    Map,
}

/// Resource types whose tags are not a `Tags` list, one per line: `TYPE
/// PROPERTY FORM` (`#` starts a comment). `strata module check` reads the
/// same file.
pub const TAG_PROPERTIES_LIST: &str = include_str!("../tag-properties.txt");

/// The rows of [`TAG_PROPERTIES_LIST`]: (type, property, form).
fn known_tag_properties() -> impl Iterator<Item = (&'static str, &'static str, TagForm)> {
    TAG_PROPERTIES_LIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let kind = fields.next()?;
            let property = fields.next()?;
            let form = match fields.next()? {
                "map" => TagForm::Map,
                _ => TagForm::List,
            };
            Some((kind, property, form))
        })
}

/// The default table's tags property of `kind`.
pub(super) fn default_tags_property(kind: &str) -> &'static str {
    known_tag_properties()
        .find(|(known, _, _)| *known == kind)
        .map_or("Tags", |(_, property, _)| property)
}

/// Where each resource type keeps its tags, and which types have none.
///
/// [`TagRules::default`] knows the SDK's table: `Tags` for most types, the
/// types that name or shape it otherwise (`AWS::Cognito::UserPool` keeps a
/// map in `UserPoolTags`, `AWS::SSM::Parameter` a map in `Tags`,
/// `AWS::Route53::HostedZone` a list in `HostedZoneTags`, ...), and the
/// types with no tags at all ([`UNTAGGABLE_TYPES_LIST`]). Extend it in your
/// module's tests for the types you render:
///
/// ```
/// use strata_module_sdk::testing::TagRules;
///
/// let rules = TagRules::default()
///     .with_tag_map("AWS::Example::Widget", "WidgetTags")
///     .with_tag_property("AWS::Example::Gadget", "GadgetTags")
///     .untaggable("AWS::Example::Attachment");
/// assert_eq!(rules.tags_property("AWS::Example::Widget"), "WidgetTags");
/// assert_eq!(rules.tags_property("AWS::Cognito::UserPool"), "UserPoolTags");
/// assert!(rules.is_untaggable("AWS::Example::Attachment"));
/// ```
///
/// Then `rules.assert_tagged(&rendered, &ctx)`, or pass the rules to
/// [`crate::test_helpers!`] (`tag_rules: ...`) so its `assert_tagged_in`
/// uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRules {
    /// Type → (property, the form it must take; `None`: list or map).
    properties: BTreeMap<String, (String, Option<TagForm>)>,
    untaggable: BTreeSet<String>,
}

impl Default for TagRules {
    fn default() -> Self {
        let properties = known_tag_properties()
            .map(|(kind, property, form)| (kind.to_owned(), (property.to_owned(), Some(form))))
            .collect();
        let untaggable = UNTAGGABLE_TYPES_LIST
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect();
        Self {
            properties,
            untaggable,
        }
    }
}

impl TagRules {
    /// The SDK's table (the same as [`TagRules::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Resources of `kind` keep their tags in `property`, as a list or a
    /// map. Replaces what the table knew about `kind`.
    pub fn with_tag_property(mut self, kind: &str, property: &str) -> Self {
        self.untaggable.remove(kind);
        self.properties
            .insert(kind.to_owned(), (property.to_owned(), None));
        self
    }

    /// Resources of `kind` keep their tags in `property` as a map
    /// (`{"Key": "Value"}`, [`Context::tag_map`]); a list there fails.
    pub fn with_tag_map(mut self, kind: &str, property: &str) -> Self {
        self.untaggable.remove(kind);
        self.properties
            .insert(kind.to_owned(), (property.to_owned(), Some(TagForm::Map)));
        self
    }

    /// Resources of `kind` keep their tags in `property` as a list
    /// (`[{"Key": .., "Value": ..}]`, [`Context::tags`]); a map there fails.
    pub fn with_tag_list(mut self, kind: &str, property: &str) -> Self {
        self.untaggable.remove(kind);
        self.properties
            .insert(kind.to_owned(), (property.to_owned(), Some(TagForm::List)));
        self
    }

    /// CloudFormation gives resources of `kind` no tags property: they need
    /// none.
    pub fn untaggable(mut self, kind: &str) -> Self {
        self.properties.remove(kind);
        self.untaggable.insert(kind.to_owned());
        self
    }

    /// Whether resources of `kind` have no tags property.
    pub fn is_untaggable(&self, kind: &str) -> bool {
        self.untaggable.contains(kind)
    }

    /// The property resources of `kind` keep their tags in (`Tags` unless
    /// the table says otherwise).
    pub fn tags_property(&self, kind: &str) -> &str {
        self.properties
            .get(kind)
            .map_or("Tags", |(property, _)| property.as_str())
    }

    /// The form `kind`'s tags must take, when the table knows it. Types not
    /// in the table take either.
    pub fn tag_form(&self, kind: &str) -> Option<TagForm> {
        self.properties.get(kind).and_then(|(_, form)| *form)
    }

    /// Assert that every resource of `rendered` carries all of `ctx.tags`
    /// (key and value, except a `Name` tag, which is each resource's own;
    /// see [`Context::tags_named`]) in its tags property, in the form the
    /// table asks for, unless its type [`is_untaggable`](Self::is_untaggable).
    ///
    /// Panics naming the resource, the tag, and how to extend the table
    /// when the table is what is wrong.
    pub fn assert_tagged(&self, rendered: &Rendered, ctx: &Context) {
        for (id, resource) in super::resources(rendered) {
            let kind = resource["Type"].as_str().unwrap_or_default();
            if self.is_untaggable(kind) {
                continue;
            }
            let property = self.tags_property(kind);
            let tags = &resource["Properties"][property];
            match (tags, self.tag_form(kind)) {
                (Value::Null, _) => panic!(
                    "{id} ({kind}) has no `{property}` property\n\
                     help: if CloudFormation keeps {kind}'s tags in another property, or gives it \
                     none, tell your test, in your crate: \
                     `TagRules::default().with_tag_property(\"{kind}\", \"TheTagsProperty\")` or \
                     `TagRules::default().untaggable(\"{kind}\")`, then \
                     `rules.assert_tagged(&rendered, &ctx)` (or \
                     `strata_module_sdk::test_helpers!(Config, render, \"stack\", tag_rules: rules)`)"
                ),
                (Value::Array(_), Some(TagForm::Map)) => panic!(
                    "{id} ({kind}) has `{property}` as a list; CloudFormation takes {kind}'s tags \
                     as a map\nhelp: use `ctx.tag_map()`"
                ),
                (Value::Object(_), Some(TagForm::List)) => panic!(
                    "{id} ({kind}) has `{property}` as a map; CloudFormation takes {kind}'s tags \
                     as a list\nhelp: use `ctx.tags()`"
                ),
                (Value::Array(_) | Value::Object(_), _) => {}
                (other, _) => {
                    panic!("{id} ({kind}) has `{property}` in neither list nor map form: {other}")
                }
            }
            for (key, value) in ctx.tags.iter().filter(|(key, _)| key != "Name") {
                let found = match tags {
                    Value::Array(list) => list
                        .iter()
                        .find(|tag| tag["Key"] == *key)
                        .map(|tag| &tag["Value"]),
                    Value::Object(map) => map.get(key),
                    _ => None,
                };
                match found {
                    Some(found) if found == value => {}
                    Some(found) => {
                        panic!("{id} ({kind}) has tag {key} = {found}, expected {value:?}")
                    }
                    None => panic!("{id} ({kind}) lacks tag {key}"),
                }
            }
        }
    }
}
