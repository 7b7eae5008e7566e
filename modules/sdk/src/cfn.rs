//! CloudFormation intrinsic functions and pseudo parameters, as JSON.
//!
//! ```
//! use strata_module_sdk::cfn;
//! assert_eq!(cfn::get_att("Db", "Endpoint.Address").to_string(),
//!            r#"{"Fn::GetAtt":["Db","Endpoint.Address"]}"#);
//! ```

use serde_json::{Value, json};

/// `{"Ref": logical_id}`: a resource's primary id, or a parameter's value.
pub fn reference(logical_id: &str) -> Value {
    json!({ "Ref": logical_id })
}

/// `{"Fn::GetAtt": [logical_id, attribute]}`.
pub fn get_att(logical_id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical_id, attribute] })
}

/// `{"Fn::Sub": text}`, e.g. `sub("arn:${AWS::Partition}:s3:::${Bucket}/*")`.
pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// `{"Fn::Join": [separator, values]}`.
pub fn join(separator: &str, values: impl IntoIterator<Item = Value>) -> Value {
    json!({ "Fn::Join": [separator, values.into_iter().collect::<Vec<_>>()] })
}

/// `{"Fn::Split": [separator, value]}`: turns an imported comma-joined list
/// (such as subnet ids) back into a list.
pub fn split(separator: &str, value: Value) -> Value {
    json!({ "Fn::Split": [separator, value] })
}

/// `{"Fn::Select": [index, list]}`.
pub fn select(index: usize, list: Value) -> Value {
    json!({ "Fn::Select": [index.to_string(), list] })
}

/// `{"Fn::GetAZs": ""}`: the availability zones of the stack's region.
pub fn get_azs() -> Value {
    json!({ "Fn::GetAZs": "" })
}

/// The `index`th availability zone of the stack's region.
pub fn availability_zone(index: usize) -> Value {
    select(index, get_azs())
}

/// `{"Fn::If": [condition, then, otherwise]}`.
pub fn if_(condition: &str, then: Value, otherwise: Value) -> Value {
    json!({ "Fn::If": [condition, then, otherwise] })
}

/// `{"Ref": "AWS::Region"}`.
pub fn region() -> Value {
    reference("AWS::Region")
}

/// `{"Ref": "AWS::AccountId"}`.
pub fn account_id() -> Value {
    reference("AWS::AccountId")
}

/// `{"Ref": "AWS::Partition"}`.
pub fn partition() -> Value {
    reference("AWS::Partition")
}

/// `{"Ref": "AWS::StackName"}`.
pub fn stack_name() -> Value {
    reference("AWS::StackName")
}

/// `{"Ref": "AWS::NoValue"}`: leaves a property out.
pub fn no_value() -> Value {
    reference("AWS::NoValue")
}

/// The Output logical id of an export name: `private-subnet-ids` →
/// `PrivateSubnetIds` (CloudFormation logical ids are alphanumeric).
pub fn logical_id(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_pascal_case_of_output_names() {
        assert_eq!(logical_id("vpc-id"), "VpcId");
        assert_eq!(logical_id("private-subnet-ids"), "PrivateSubnetIds");
        assert_eq!(logical_id("db_subnet_group"), "DbSubnetGroup");
    }
}
