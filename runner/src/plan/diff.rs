//! Differences between two JSON values, as property paths with before and
//! after values.
//!
//! Paths read like the template: `DBInstanceClass`, `VpcSecurityGroups[0]`,
//! `LoadBalancerAttributes[2].Value`. Tag lists (`[{"Key", "Value"}]`) are
//! compared by key (`Tags.Owner`), so adding one tag is one change, not a
//! shifted list.

use serde_json::Value;

/// One changed value inside a resource.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PropertyChange {
    /// Path inside the resource's `Properties` (or a resource attribute such
    /// as `DeletionPolicy`).
    pub path: String,
    /// The value at base; absent when added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value at head; absent when removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Changing it makes CloudFormation replace the resource.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// Every difference between `before` and `after`, with paths under `prefix`.
pub fn diff(prefix: &str, before: &Value, after: &Value, out: &mut Vec<PropertyChange>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(a), Value::Object(b)) if !is_intrinsic(a) && !is_intrinsic(b) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = join(prefix, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(&path, x, y, out),
                    (x, y) => out.push(change(path, x.cloned(), y.cloned())),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if is_tag_list(a) && is_tag_list(b) => {
            let keys: std::collections::BTreeSet<&str> = a
                .iter()
                .chain(b.iter())
                .filter_map(|t| t["Key"].as_str())
                .collect();
            for key in keys {
                let find = |list: &[Value]| {
                    list.iter()
                        .find(|t| t["Key"] == key)
                        .map(|t| t["Value"].clone())
                };
                let (x, y) = (find(a), find(b));
                if x != y {
                    out.push(change(format!("{prefix}.{key}"), x, y));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{prefix}[{index}]"), x, y, out);
            }
        }
        _ => out.push(change(
            prefix.to_owned(),
            Some(before.clone()),
            Some(after.clone()),
        )),
    }
}

fn change(path: String, before: Option<Value>, after: Option<Value>) -> PropertyChange {
    PropertyChange {
        path,
        before,
        after,
        forces_replacement: false,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// `{"Ref": ..}`, `{"Fn::GetAtt": ..}` and friends are values, not tables:
/// a change inside one is shown whole.
fn is_intrinsic(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
}

fn is_tag_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items.iter().all(|t| {
            t.get("Key").is_some_and(Value::is_string)
                && t.get("Value").is_some()
                && t.as_object().is_some_and(|o| o.len() == 2)
        })
}

/// A value for one line of text: compact JSON (strings unquoted), cut at
/// `limit` characters with the full size noted.
pub fn shorten(value: &Value, limit: usize) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let chars = text.chars().count();
    if chars <= limit {
        return text;
    }
    let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    format!("{kept}… ({chars} chars)")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(before: Value, after: Value) -> Vec<(String, Option<Value>, Option<Value>)> {
        let mut out = Vec::new();
        diff("", &before, &after, &mut out);
        out.into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect()
    }

    #[test]
    fn reports_a_changed_scalar_with_before_and_after() {
        assert_eq!(
            paths(
                json!({ "DBInstanceClass": "db.t4g.micro", "Engine": "postgres" }),
                json!({ "DBInstanceClass": "db.r6g.large", "Engine": "postgres" })
            ),
            [(
                "DBInstanceClass".into(),
                Some(json!("db.t4g.micro")),
                Some(json!("db.r6g.large"))
            )]
        );
    }

    #[test]
    fn compares_tag_lists_by_key() {
        let before =
            json!({ "Tags": [{ "Key": "A", "Value": "1" }, { "Key": "B", "Value": "2" }] });
        let after = json!({ "Tags": [{ "Key": "A", "Value": "1" }, { "Key": "Aa", "Value": "new" }, { "Key": "B", "Value": "2" }] });
        assert_eq!(
            paths(before, after),
            [("Tags.Aa".into(), None, Some(json!("new")))]
        );
    }

    #[test]
    fn shows_a_changed_intrinsic_whole() {
        let out = paths(
            json!({ "V": { "Fn::ImportValue": "a" } }),
            json!({ "V": { "Fn::ImportValue": "b" } }),
        );
        assert_eq!(out[0].0, "V");
    }

    #[test]
    fn indexes_lists_of_the_same_length() {
        let out = paths(json!({ "L": [1, 2, 3] }), json!({ "L": [1, 5, 3] }));
        assert_eq!(out[0].0, "L[1]");
    }

    #[test]
    fn shortens_long_values_and_says_how_long_they_were() {
        assert_eq!(
            shorten(&json!("x".repeat(100)), 10),
            format!("{}… (100 chars)", "x".repeat(9))
        );
        assert_eq!(shorten(&json!({ "Ref": "Vpc" }), 80), r#"{"Ref":"Vpc"}"#);
    }
}
