//! Checking a stack's table against its module's JSON Schema, before render.
//!
//! A subset of JSON Schema 2020-12: the keywords schemars and hand-written
//! module schemas use (`type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `items`, `minItems`/`maxItems`, `uniqueItems`,
//! `minimum`/`maximum` and their exclusive forms, `minLength`/`maxLength`,
//! `pattern`, local `$ref`, `allOf`/`anyOf`/`oneOf`). Unknown keywords are
//! ignored, as the spec says. Written here rather than taken from a crate so
//! each failure carries a key path (for spans) and a did-you-mean.

use serde_json::{Map, Value};

use super::suggest;

/// Why a value failed its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A key the schema does not allow; point at the key.
    UnknownKey,
    /// A required key is absent; point at the table holding it.
    MissingKey,
    /// The value is wrong; point at the value.
    BadValue,
}

/// One failure, at a dotted key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Dotted path of the offending key (`subnets.0.cidr`); for
    /// [`Problem::MissingKey`] the path of the missing key.
    pub path: String,
    /// What kind of failure.
    pub problem: Problem,
    /// The message, lowercase, values in backticks.
    pub message: String,
    /// What to write instead.
    pub help: Option<String>,
}

/// The JSON types a schema's `type` may name.
const TYPE_NAMES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Keywords whose value is a schema.
const SUBSCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
];

/// Keywords whose value is a list of schemas.
const SUBSCHEMA_LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// Keywords whose value maps names to schemas.
const SUBSCHEMA_MAP_KEYWORDS: &[&str] =
    &["properties", "$defs", "definitions", "patternProperties"];

/// What makes `schema` unusable for [`validate`]: keywords this checker
/// relies on with values it cannot use (`"type": 42`, a `pattern` that is
/// not a regular expression, a `$ref` to nothing). Each problem names where
/// it is (a JSON pointer into the schema). Empty when the schema is usable;
/// at most `limit` problems.
pub fn lint(schema: &Value, limit: usize) -> Vec<String> {
    let mut problems = Vec::new();
    lint_at(schema, schema, "", &mut problems, limit, 0);
    problems
}

fn lint_at(
    root: &Value,
    schema: &Value,
    at: &str,
    problems: &mut Vec<String>,
    limit: usize,
    depth: usize,
) {
    if problems.len() >= limit {
        return;
    }
    if depth > 64 {
        problems.push(format!("`{at}` nests schemas more than 64 deep"));
        return;
    }
    let map = match schema {
        Value::Bool(_) => return,
        Value::Object(map) => map,
        other => {
            problems.push(format!(
                "`{}` is {}, not a schema (an object or a boolean)",
                pointer(at),
                describe_json(other)
            ));
            return;
        }
    };
    let mut problem = |text: String| {
        if problems.len() < limit {
            problems.push(text);
        }
    };
    if let Some(kind) = map.get("type") {
        let names: Vec<&Value> = match kind {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for name in names {
            if !name.as_str().is_some_and(|n| TYPE_NAMES.contains(&n)) {
                problem(format!(
                    "`{}/type` is {}, not one of {}",
                    pointer(at),
                    describe_json(name),
                    TYPE_NAMES.join(", ")
                ));
            }
        }
    }
    if let Some(pattern) = map.get("pattern") {
        match pattern.as_str() {
            Some(text) => {
                if let Err(error) = regex::Regex::new(text) {
                    let first = error.to_string();
                    let first = first.lines().last().unwrap_or_default().trim().to_owned();
                    problem(format!(
                        "`{}/pattern` is not a regular expression: {first}",
                        pointer(at)
                    ));
                }
            }
            None => problem(format!("`{}/pattern` is not a string", pointer(at))),
        }
    }
    if let Some(required) = map.get("required")
        && !required
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string))
    {
        problem(format!(
            "`{}/required` is not a list of key names",
            pointer(at)
        ));
    }
    if let Some(reference) = map.get("$ref") {
        let resolved = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p));
        if resolved.is_none() {
            problem(format!(
                "`{}/$ref` refers to {}, which the schema does not define",
                pointer(at),
                describe_json(reference)
            ));
        }
    }
    for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
        if map.get(keyword).is_some_and(|v| !v.is_number()) {
            problem(format!("`{}/{keyword}` is not a number", pointer(at)));
        }
    }
    for keyword in ["minLength", "maxLength", "minItems", "maxItems"] {
        if map.get(keyword).is_some_and(|v| v.as_u64().is_none()) {
            problem(format!("`{}/{keyword}` is not a whole number", pointer(at)));
        }
    }
    if map.get("enum").is_some_and(|v| !v.is_array()) {
        problem(format!("`{}/enum` is not a list", pointer(at)));
    }
    for keyword in SUBSCHEMA_KEYWORDS {
        if let Some(inner) = map.get(*keyword) {
            lint_at(
                root,
                inner,
                &format!("{at}/{keyword}"),
                problems,
                limit,
                depth + 1,
            );
        }
    }
    for keyword in SUBSCHEMA_LIST_KEYWORDS {
        match map.get(*keyword) {
            Some(Value::Array(items)) => {
                for (i, inner) in items.iter().enumerate() {
                    lint_at(
                        root,
                        inner,
                        &format!("{at}/{keyword}/{i}"),
                        problems,
                        limit,
                        depth + 1,
                    );
                }
            }
            Some(_) if problems.len() < limit => {
                problems.push(format!(
                    "`{}/{keyword}` is not a list of schemas",
                    pointer(at)
                ));
            }
            Some(_) => {}
            None => {}
        }
    }
    for keyword in SUBSCHEMA_MAP_KEYWORDS {
        match map.get(*keyword) {
            Some(Value::Object(entries)) => {
                for (name, inner) in entries {
                    let escaped = name.replace('~', "~0").replace('/', "~1");
                    lint_at(
                        root,
                        inner,
                        &format!("{at}/{keyword}/{escaped}"),
                        problems,
                        limit,
                        depth + 1,
                    );
                }
            }
            Some(_) if problems.len() < limit => {
                problems.push(format!("`{}/{keyword}` is not an object", pointer(at)));
            }
            Some(_) => {}
            None => {}
        }
    }
}

fn pointer(at: &str) -> &str {
    if at.is_empty() { "#" } else { at }
}

fn describe_json(value: &Value) -> String {
    match value {
        Value::Null => "`null`".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`\"{}\"`", s.chars().take(40).collect::<String>()),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Check `instance` against `schema`; every failure, in document order.
pub fn validate(schema: &Value, instance: &Value) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    Checker {
        root: schema,
        depth: 0,
    }
    .check(schema, instance, "", &mut errors);
    errors
}

struct Checker<'s> {
    root: &'s Value,
    depth: usize,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "the stack's table".to_owned()
    } else {
        format!("`{path}`")
    }
}

/// A value as a user wrote it in TOML.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("the string `\"{s}\"`"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

fn type_name(name: &str) -> &str {
    match name {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "`true` or `false`",
        "array" => "a list",
        "object" => "a table",
        "null" => "absent",
        other => other,
    }
}

fn matches_type(name: &str, value: &Value) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// A local reference (`#/$defs/Name`) inside the root schema.
fn resolve<'s>(root: &'s Value, reference: &str) -> Option<&'s Value> {
    root.pointer(reference.strip_prefix('#')?)
}

impl<'s> Checker<'s> {
    fn check(
        &mut self,
        schema: &'s Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errors.push(bad(
                    path,
                    format!("{} is not allowed here", shown(path)),
                    None,
                ));
                return;
            }
            Value::Object(schema) => schema,
            _ => return,
        };
        // Guard against `$ref` cycles in a malformed schema.
        if self.depth > 64 {
            return;
        }
        self.depth += 1;
        self.check_object_schema(schema, value, path, errors);
        self.depth -= 1;
    }

    fn check_object_schema(
        &mut self,
        schema: &'s Map<String, Value>,
        value: &Value,
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        let root = self.root;
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve(root, r))
        {
            self.check(target, value, path, errors);
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, value, path, errors);
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
                self.check_alternatives(branches, value, path, errors);
            }
        }

        if let Some(expected) = schema.get("type") {
            let names: Vec<&str> = match expected {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !names.is_empty() && !names.iter().any(|n| matches_type(n, value)) {
                let wanted: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| *n != "null")
                    .map(type_name)
                    .collect();
                errors.push(bad(
                    path,
                    format!(
                        "{} must be {}, got {}",
                        shown(path),
                        wanted.join(" or "),
                        describe(value)
                    ),
                    None,
                ));
                return;
            }
        }
        if let Some(constant) = schema.get("const")
            && constant != value
        {
            errors.push(bad(
                path,
                format!(
                    "{} must be {}, got {}",
                    shown(path),
                    plain(constant),
                    describe(value)
                ),
                None,
            ));
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(not_one_of(path, options.iter(), value));
        }
        match value {
            Value::Object(map) => self.check_table(schema, map, path, errors),
            Value::Array(items) => self.check_list(schema, items, path, errors),
            Value::Number(_) => check_number(schema, value, path, errors),
            Value::String(s) => check_string(schema, s, path, errors),
            _ => {}
        }
    }

    /// `anyOf` / `oneOf`: fine when any branch passes (`oneOf`'s "exactly
    /// one" is not enforced: module schemas use it for tagged choices, which
    /// cannot overlap). Otherwise report the closest branch's failures.
    fn check_alternatives(
        &mut self,
        branches: &'s [Value],
        value: &Value,
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        // A choice of constants (how schemars writes an enum whose variants
        // have doc comments: one `{"const": .., "description": ..}` branch
        // per variant) fails as one error listing every allowed value, not
        // as the closest branch's ``must be `off` ``.
        let choices: Option<Vec<&Value>> = branches
            .iter()
            .filter(|branch| !is_null_branch(branch))
            .map(constants)
            .try_fold(Vec::new(), |mut all, some| {
                all.extend(some?);
                Some(all)
            });
        if let Some(choices) = choices.filter(|c| !c.is_empty()) {
            let allowed = choices.contains(&value)
                || (value.is_null() && branches.iter().any(is_null_branch));
            if !allowed {
                errors.push(not_one_of(path, choices.into_iter(), value));
            }
            return;
        }
        let mut best: Option<Vec<SchemaError>> = None;
        for branch in branches {
            let mut branch_errors = Vec::new();
            self.check(branch, value, path, &mut branch_errors);
            if branch_errors.is_empty() {
                return;
            }
            if is_null_branch(branch) {
                continue;
            }
            if best.as_ref().is_none_or(|b| branch_errors.len() < b.len()) {
                best = Some(branch_errors);
            }
        }
        errors.extend(best.unwrap_or_default());
    }

    fn check_table(
        &mut self,
        schema: &'s Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    let help = properties
                        .and_then(|p| p.get(key))
                        .and_then(|p| p.get("description"))
                        .and_then(Value::as_str)
                        .map(|d| format!("`{key}`: {}", first_sentence(d)));
                    errors.push(SchemaError {
                        path: join(path, key),
                        problem: Problem::MissingKey,
                        message: format!(
                            "{} has no `{key}`, which is required",
                            if path.is_empty() {
                                "the stack".to_owned()
                            } else {
                                shown(path)
                            }
                        ),
                        help,
                    });
                }
            }
        }
        let additional = schema.get("additionalProperties");
        for (key, item) in map {
            let child = join(path, key);
            if let Some(property) = properties.and_then(|p| p.get(key)) {
                self.check(property, item, &child, errors);
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    errors.push(SchemaError {
                        path: child,
                        problem: Problem::UnknownKey,
                        message: format!(
                            "unknown key `{key}`{}",
                            if path.is_empty() {
                                String::new()
                            } else {
                                format!(" in {}", shown(path))
                            }
                        ),
                        help: suggest::help_for(key, &known, "known keys"),
                    });
                }
                Some(extra @ Value::Object(_)) => self.check(extra, item, &child, errors),
                _ => {}
            }
        }
    }

    fn check_list(
        &mut self,
        schema: &'s Map<String, Value>,
        items: &[Value],
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        let count = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            errors.push(bad(
                path,
                format!(
                    "{} must hold at least {min} item{}, got {count}",
                    shown(path),
                    plural(min)
                ),
                None,
            ));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            errors.push(bad(
                path,
                format!(
                    "{} must hold at most {max} item{}, got {count}",
                    shown(path),
                    plural(max)
                ),
                None,
            ));
        }
        if schema.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errors.push(bad(
                        &join(path, &i.to_string()),
                        format!("{} is listed twice in {}", plain(item), shown(path)),
                        None,
                    ));
                }
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &join(path, &i.to_string()), errors);
            }
        }
    }
}

fn check_number(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<SchemaError>,
) {
    let Some(n) = value.as_f64() else { return };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let shown_n = plain(value);
    if let Some(min) = bound("minimum").filter(|min| n < *min) {
        errors.push(bad(
            path,
            format!(
                "{} must be at least {}, got {shown_n}",
                shown(path),
                number(min)
            ),
            None,
        ));
    }
    // schemars gives Rust's integer types a `format` and no maximum: hold
    // the value to the type's range here, or the module's own parser
    // refuses it in words that point nowhere.
    let format_max = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => Some(f64::from(u8::MAX)),
        Some("uint16") => Some(f64::from(u16::MAX)),
        Some("uint32") => Some(f64::from(u32::MAX)),
        Some("int8") => Some(f64::from(i8::MAX)),
        Some("int16") => Some(f64::from(i16::MAX)),
        Some("int32") => Some(f64::from(i32::MAX)),
        _ => None,
    };
    let explicit_max = bound("maximum");
    if let Some(max) = format_max.filter(|max| n > *max && explicit_max.is_none_or(|m| m > *max)) {
        errors.push(bad(
            path,
            format!(
                "{} must be at most {}, got {shown_n}",
                shown(path),
                number(max)
            ),
            None,
        ));
    }
    if let Some(max) = explicit_max.filter(|max| n > *max) {
        errors.push(bad(
            path,
            format!(
                "{} must be at most {}, got {shown_n}",
                shown(path),
                number(max)
            ),
            None,
        ));
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|min| n <= *min) {
        errors.push(bad(
            path,
            format!(
                "{} must be greater than {}, got {shown_n}",
                shown(path),
                number(min)
            ),
            None,
        ));
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|max| n >= *max) {
        errors.push(bad(
            path,
            format!(
                "{} must be less than {}, got {shown_n}",
                shown(path),
                number(max)
            ),
            None,
        ));
    }
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<SchemaError>) {
    let length = s.chars().count() as u64;
    if let Some(min) = schema
        .get("minLength")
        .and_then(Value::as_u64)
        .filter(|min| length < *min)
    {
        errors.push(bad(
            path,
            format!(
                "{} must be at least {min} character{} long, got `{s}`",
                shown(path),
                plural(min)
            ),
            None,
        ));
    }
    if let Some(max) = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .filter(|max| length > *max)
    {
        errors.push(bad(
            path,
            format!(
                "{} must be at most {max} character{} long, got {length}",
                shown(path),
                plural(max)
            ),
            None,
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        // A pattern that does not compile is the module's bug, not the user's:
        // it is skipped rather than failing every render.
        if let Ok(regex) = regex::Regex::new(pattern)
            && !regex.is_match(s)
        {
            errors.push(bad(
                path,
                format!("{} must match `{pattern}`, got `{s}`", shown(path)),
                None,
            ));
        }
    }
}

/// Whether an `anyOf`/`oneOf` branch only allows nothing (`Option`'s `None`).
fn is_null_branch(branch: &Value) -> bool {
    branch.get("type").and_then(Value::as_str) == Some("null")
}

/// The values a branch allows when it is only a choice of constants:
/// `const` or `enum`, with at most a `type` and annotations beside it.
fn constants(branch: &Value) -> Option<Vec<&Value>> {
    const ANNOTATIONS: &[&str] = &[
        "type",
        "description",
        "title",
        "examples",
        "default",
        "deprecated",
        "$comment",
    ];
    let map = branch.as_object()?;
    if map
        .keys()
        .any(|key| key != "const" && key != "enum" && !ANNOTATIONS.contains(&key.as_str()))
    {
        return None;
    }
    match (map.get("const"), map.get("enum")) {
        (Some(constant), None) => Some(vec![constant]),
        (None, Some(Value::Array(options))) => Some(options.iter().collect()),
        _ => None,
    }
}

/// ``must be one of `a`, `b`, got ..``, with a did-you-mean.
fn not_one_of<'v>(
    path: &str,
    options: impl Iterator<Item = &'v Value>,
    value: &Value,
) -> SchemaError {
    let options: Vec<&Value> = options.collect();
    let names: Vec<String> = options.iter().map(|o| plain(o)).collect();
    let strings: Vec<&str> = options.iter().filter_map(|o| o.as_str()).collect();
    let help = value
        .as_str()
        .and_then(|v| suggest::did_you_mean(v, strings.iter().copied()))
        .map(|s| format!("did you mean `{s}`?"));
    bad(
        path,
        format!(
            "{} must be one of {}, got {}",
            shown(path),
            names.join(", "),
            describe(value)
        ),
        help,
    )
}

fn bad(path: &str, message: String, help: Option<String>) -> SchemaError {
    SchemaError {
        path: path.to_owned(),
        problem: Problem::BadValue,
        message,
        help,
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn first_sentence(text: &str) -> &str {
    let line = text.lines().next().unwrap_or(text);
    line.split_once(". ")
        .map_or(line, |(first, _)| first)
        .trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["cidr"],
            "properties": {
                "cidr": { "type": "string", "pattern": "^[0-9./]+$", "description": "The VPC's CIDR block. Ten dot." },
                "availability_zones": { "type": "integer", "minimum": 2, "maximum": 6 },
                "engine": { "enum": ["postgres", "mysql"] },
                "multi_az": { "type": ["boolean", "null"] },
                "endpoints": { "type": "array", "items": { "type": "string" }, "uniqueItems": true },
                "nested": { "$ref": "#/$defs/Nested" },
            },
            "$defs": { "Nested": { "type": "object", "properties": { "size": { "type": "integer" } }, "additionalProperties": false } },
        })
    }

    fn messages(instance: Value) -> Vec<(String, String)> {
        validate(&schema(), &instance)
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    #[test]
    fn accepts_a_valid_table() {
        assert!(
            messages(json!({ "cidr": "10.0.0.0/16", "availability_zones": 3, "multi_az": true }))
                .is_empty()
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let errors =
            messages(json!({ "cidr": 10, "availability_zones": 1, "engine": "postgress" }));
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn suggests_the_key_meant_for_an_unknown_key() {
        let errors = validate(
            &schema(),
            &json!({ "cidr": "10.0.0.0/16", "availabilty_zones": 2 }),
        );
        assert_eq!(errors[0].problem, Problem::UnknownKey);
        assert_eq!(
            errors[0].help.as_deref(),
            Some("did you mean `availability_zones`?")
        );
    }

    #[test]
    fn names_the_missing_required_key_with_its_description() {
        let errors = validate(&schema(), &json!({}));
        assert_eq!(errors[0].path, "cidr");
        assert_eq!(
            errors[0].help.as_deref(),
            Some("`cidr`: The VPC's CIDR block")
        );
    }

    #[test]
    fn follows_refs_into_nested_tables() {
        assert_eq!(
            messages(json!({ "cidr": "1", "nested": { "size": "big" } })),
            [(
                "nested.size".to_owned(),
                "`nested.size` must be a whole number, got the string `\"big\"`".to_owned()
            )]
        );
    }

    #[test]
    fn reports_list_items_by_index() {
        assert_eq!(
            messages(json!({ "cidr": "1", "endpoints": ["s3", 5, "s3"] })).len(),
            2
        );
    }

    /// An enum whose variants have doc comments, as schemars 1 writes it.
    fn documented_enum() -> Value {
        json!({
            "type": "object",
            "properties": {
                "mfa": { "$ref": "#/$defs/Mfa" },
                "backup": { "anyOf": [{ "$ref": "#/$defs/Mfa" }, { "type": "null" }] },
            },
            "$defs": { "Mfa": { "oneOf": [
                { "description": "No second factor.", "type": "string", "const": "off" },
                { "description": "Users may add one.", "type": "string", "const": "optional" },
                { "description": "Every user has one.", "type": "string", "const": "required" },
            ] } },
        })
    }

    #[test]
    fn lists_every_value_of_an_enum_with_documented_variants() {
        let errors = validate(&documented_enum(), &json!({ "mfa": "requried" }));
        let messages: Vec<(&str, &str, Option<&str>)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str(), e.help.as_deref()))
            .collect();
        assert_eq!(
            messages,
            [(
                "mfa",
                "`mfa` must be one of `off`, `optional`, `required`, got the string `\"requried\"`",
                Some("did you mean `required`?")
            )]
        );
    }

    #[test]
    fn accepts_each_documented_variant_and_nothing_where_optional() {
        for value in ["off", "optional", "required"] {
            let instance = json!({ "mfa": value, "backup": value });
            assert!(
                validate(&documented_enum(), &instance).is_empty(),
                "{value}"
            );
        }
        assert!(validate(&documented_enum(), &json!({ "backup": null })).is_empty());
        let errors = validate(&documented_enum(), &json!({ "backup": 3 }));
        assert_eq!(
            errors[0].message,
            "`backup` must be one of `off`, `optional`, `required`, got `3`"
        );
    }

    #[test]
    fn rejects_a_value_outside_an_enum_with_a_suggestion() {
        let errors = validate(&schema(), &json!({ "cidr": "1", "engine": "postgress" }));
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `postgres`?"));
    }
}
