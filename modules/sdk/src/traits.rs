//! What makes a change to a resource risky, declared to the host with the
//! render (`strata:module@0.2.0`'s `rendered.resources`): whether the
//! resource holds data, and which top-level properties replace it when they
//! change. The plan's risk table shows them to the reviewer.
//!
//! [`Template::resource`](crate::Template::resource) declares them for every
//! resource from the SDK's table ([`RESOURCE_TRAITS_LIST`], which the host
//! reads too), plus what the author adds with
//! [`Resource::stateful`](crate::Resource::stateful) and
//! [`Resource::replaced_by`](crate::Resource::replaced_by) for types the
//! table does not know.

/// The SDK's table of resource traits by type, one per line: `TYPE STATEFUL
/// PROPERTY...` (STATEFUL is `stateful` or `-`; `#` starts a comment).
/// Strata's plan reads the same file for resources no module declared.
pub const RESOURCE_TRAITS_LIST: &str = include_str!("resource-traits.txt");

/// What a module declares about one resource of its template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTraits {
    /// The resource's logical id.
    pub logical_id: String,
    /// It holds data: deleting or replacing it loses that data.
    pub stateful: bool,
    /// Top-level properties whose change replaces it, sorted.
    pub replaced_by: Vec<String>,
}

impl ResourceTraits {
    /// The table's traits of `kind` for the resource `logical_id` (nothing
    /// stateful or replacing when the table does not know the type).
    pub fn of_kind(logical_id: &str, kind: &str) -> Self {
        let mut traits = Self {
            logical_id: logical_id.to_owned(),
            ..Self::default()
        };
        let row = RESOURCE_TRAITS_LIST
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .map(str::split_whitespace)
            .find_map(|mut fields| (fields.next() == Some(kind)).then_some(fields));
        if let Some(mut fields) = row {
            traits.stateful = fields.next() == Some("stateful");
            traits.replaced_by = fields.map(str::to_owned).collect();
            traits.replaced_by.sort();
        }
        traits
    }

    /// Whether there is anything to declare.
    pub fn is_notable(&self) -> bool {
        self.stateful || !self.replaced_by.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_databases_hold_data_and_a_new_engine_replaces_them() {
        let db = ResourceTraits::of_kind("Database", "AWS::RDS::DBInstance");
        assert!(db.stateful);
        assert!(db.replaced_by.iter().any(|p| p == "Engine"));
        let vpc = ResourceTraits::of_kind("Vpc", "AWS::EC2::VPC");
        assert!(!vpc.stateful);
        assert_eq!(vpc.replaced_by, ["CidrBlock", "InstanceTenancy"]);
        assert!(!ResourceTraits::of_kind("Route", "AWS::EC2::Route").is_notable());
    }

    #[test]
    fn a_template_declares_the_tables_traits_and_the_authors_and_leaves_out_the_rest() {
        use crate::{Context, Resource, Template, json, testing};
        let ctx = Context::for_tests("storage");
        let mut template = Template::new(&ctx, "storage");
        template.resource("Bucket", Resource::new("AWS::S3::Bucket", json!({})));
        template.resource(
            "Widget",
            Resource::new("AWS::Example::Widget", json!({})).replaced_by(&["Shape", "Colour"]),
        );
        template.resource("Policy", Resource::new("AWS::S3::BucketPolicy", json!({})));
        let rendered = template.finish();
        testing::assert_stateful(&rendered, &["Bucket"]);
        let bucket = testing::traits(&rendered, "Bucket").expect("declared");
        assert_eq!(bucket.replaced_by, ["BucketName", "ObjectLockEnabled"]);
        let widget = testing::traits(&rendered, "Widget").expect("declared");
        assert!(!widget.stateful);
        assert_eq!(widget.replaced_by, ["Colour", "Shape"]);
        assert_eq!(testing::traits(&rendered, "Policy"), None);
    }
}
