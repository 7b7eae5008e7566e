//! What makes a change risky: properties whose change makes CloudFormation
//! replace the resource (a new physical resource, the old one deleted), and
//! resource types that hold data.
//!
//! Two sources, most specific first: what the module that rendered the
//! resource declared (`strata:module@0.2.0`'s resource traits, carried on
//! [`crate::render::RenderedStack::resource_traits`]), then the host's own table
//! (`modules/sdk/src/resource-traits.txt`, shared with the SDK) for resources
//! no module declared — every resource of a 0.1.x module. The table covers
//! the properties of common types that always replace (CloudFormation's
//! "Update requires: Replacement"). A change set (`strata plan --cloud`)
//! gives the authoritative answer; this is what a reviewer sees before any
//! cloud access.

use crate::host::ResourceTraits;

/// The table of resource traits, shared with the SDK (which declares them
/// for every resource a 0.2 module renders): `TYPE STATEFUL PROPERTY...`.
const RESOURCE_TRAITS: &str = include_str!("../../../modules/sdk/src/resource-traits.txt");

/// The table's line for `kind`: whether it holds data, and the properties
/// whose change replaces it.
fn traits_of(kind: &str) -> Option<(bool, std::str::SplitWhitespace<'static>)> {
    RESOURCE_TRAITS
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            if fields.next() != Some(kind) {
                return None;
            }
            let stateful = fields.next() == Some("stateful");
            Some((stateful, fields))
        })
}

/// Whether changing `property` (top-level) of a `kind` resource replaces it,
/// by the host's table.
pub fn forces_replacement(kind: &str, property: &str) -> bool {
    traits_of(kind).is_some_and(|(_, mut properties)| properties.any(|p| p == property))
}

/// Whether resources of `kind` hold data, by the host's table.
pub fn is_stateful(kind: &str) -> bool {
    traits_of(kind).is_some_and(|(stateful, _)| stateful)
}

/// Whether a resource of `kind` holds data: the module's declarations
/// (`declared`, from the base and the head render) or the host's table. A
/// declaration only adds risk: a module cannot make a table-stateful type
/// look harmless to the reviewer.
pub fn is_stateful_declared<'a>(
    kind: &str,
    declared: impl IntoIterator<Item = &'a ResourceTraits>,
) -> bool {
    is_stateful(kind) || declared.into_iter().any(|d| d.stateful)
}

/// Whether changing `property` (top-level) of a `kind` resource replaces it:
/// by the module's declarations or the host's table (either suffices).
pub fn forces_replacement_declared<'a>(
    kind: &str,
    property: &str,
    declared: impl IntoIterator<Item = &'a ResourceTraits>,
) -> bool {
    forces_replacement(kind, property)
        || declared
            .into_iter()
            .any(|d| d.replaced_by.iter().any(|p| p == property))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_engine_replaces_a_database_but_a_new_class_does_not() {
        assert!(forces_replacement("AWS::RDS::DBInstance", "Engine"));
        assert!(!forces_replacement(
            "AWS::RDS::DBInstance",
            "DBInstanceClass"
        ));
    }

    #[test]
    fn buckets_queues_and_keys_hold_data() {
        for kind in [
            "AWS::S3::Bucket",
            "AWS::SQS::Queue",
            "AWS::KMS::Key",
            "AWS::Logs::LogGroup",
        ] {
            assert!(is_stateful(kind), "{kind}");
        }
        assert!(!is_stateful("AWS::EC2::Route"));
        assert!(!is_stateful("AWS::EC2::VPC"));
    }

    #[test]
    fn a_declaration_makes_a_type_the_table_does_not_know_stateful() {
        let pool = ResourceTraits {
            stateful: true,
            replaced_by: vec!["UsernameAttributes".into()],
        };
        assert!(!is_stateful("AWS::Cognito::UserPool"));
        assert!(is_stateful_declared("AWS::Cognito::UserPool", [&pool]));
        assert!(forces_replacement_declared(
            "AWS::Cognito::UserPool",
            "UsernameAttributes",
            [&pool]
        ));
        assert!(!forces_replacement_declared(
            "AWS::Cognito::UserPool",
            "MfaConfiguration",
            [&pool]
        ));
    }

    #[test]
    fn a_declaration_cannot_hide_what_the_table_knows() {
        let harmless = ResourceTraits::default();
        assert!(is_stateful_declared("AWS::S3::Bucket", [&harmless]));
        assert!(forces_replacement_declared(
            "AWS::S3::Bucket",
            "BucketName",
            [&harmless]
        ));
    }
}
