//! Exactly what an environment file says, with spans, before validation.
//!
//! [`parse`] reads the TOML into a spanned tree (`toml::de::DeTable`) and walks
//! it by hand rather than through serde, so that every type error and unknown
//! key in the file is reported in one go, and every key inside a stack's
//! table keeps its span for diagnostics that modules report by key path.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use serde_json::{Map, Number, Value};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, SourceFile};
use super::fields::{At, Fields};

/// Top-level keys of an environment file.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "project",
    "environment",
    "region",
    "account",
    "protected",
    "tags",
    "stacks",
];

/// Keys of a stack's table that belong to Strata, not to the module.
pub const STACK_KEYS: &[&str] = &["type", "depends_on"];

/// An environment file as written.
#[derive(Debug)]
pub struct EnvironmentFile {
    /// The file, for snippets.
    pub source: Arc<SourceFile>,
    /// `project = "..."`.
    pub project: Option<At<String>>,
    /// `environment = "..."`.
    pub environment: Option<At<String>>,
    /// `region = "..."`.
    pub region: Option<At<String>>,
    /// `account = "..."`.
    pub account: Option<At<String>>,
    /// `protected = true`.
    pub protected: Option<At<bool>>,
    /// `[tags]`, in file order of keys (sorted).
    pub tags: Vec<(At<String>, At<String>)>,
    /// `[stacks.NAME]` tables.
    pub stacks: Vec<RawStack>,
}

/// One `[stacks.NAME]` table as written.
#[derive(Debug)]
pub struct RawStack {
    /// The stack's name, spanning the key in the header.
    pub name: At<String>,
    /// The table's span.
    pub span: Range<usize>,
    /// `type = "..."`.
    pub kind: Option<At<String>>,
    /// `depends_on = [...]`.
    pub depends_on: Vec<At<String>>,
    /// Every other key, as JSON: what the module receives.
    pub config: Value,
    /// Spans of the keys and values inside `config`, by dotted path.
    pub spans: ConfigSpans,
}

/// Where each key of a stack's config sits in the file, by dotted path
/// (`subnets.0.cidr`).
#[derive(Debug, Clone, Default)]
pub struct ConfigSpans {
    entries: BTreeMap<String, KeySpan>,
}

/// The spans of one key and its value.
#[derive(Debug, Clone)]
pub struct KeySpan {
    /// The key (absent for array items).
    pub key: Option<Range<usize>>,
    /// The value.
    pub value: Range<usize>,
}

impl ConfigSpans {
    /// The span for `path`, or for its closest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<&KeySpan> {
        let mut path = path;
        loop {
            if let Some(span) = self.entries.get(path) {
                return Some(span);
            }
            path = path.rsplit_once('.')?.0;
        }
    }

    /// The span of exactly `path`.
    pub fn get(&self, path: &str) -> Option<&KeySpan> {
        self.entries.get(path)
    }

    /// Every path whose value is the string `value` (for pointing at the
    /// config key that named another stack).
    pub fn paths_with_string<'a>(
        &'a self,
        config: &'a Value,
        value: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .keys()
            .map(String::as_str)
            .filter(move |path| lookup(config, path).and_then(Value::as_str) == Some(value))
    }
}

/// The value at a dotted path inside a JSON value.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.')
        .try_fold(value, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// Parse an environment file. Syntax errors stop at the first (the TOML is
/// unreadable past it); everything after that is collected.
pub fn parse(source: &Arc<SourceFile>) -> (Option<EnvironmentFile>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let document = match DeTable::parse(&source.text) {
        Ok(document) => document,
        Err(error) => {
            diagnostics.push(syntax_error(source, &error));
            return (None, diagnostics);
        }
    };
    let first_line = 0..source.text.find('\n').unwrap_or(source.text.len());
    let misplaced = misplaced_in_tags(source, document.get_ref(), &mut diagnostics);
    let mut fields = Fields::new(
        source,
        document.get_ref(),
        first_line,
        "the environment file",
    );
    // A key written under `[tags]` by mistake is reported there, not also
    // as missing.
    let mut required = |fields: &mut Fields<'_, '_>, key: &str, help: &str| {
        if misplaced.contains(&key) {
            fields.string(key, &mut diagnostics)
        } else {
            fields.required_string(key, help, &mut diagnostics)
        }
    };
    let project = required(
        &mut fields,
        "project",
        "add `project = \"my-app\"`: the prefix of every resource name",
    );
    let region = required(
        &mut fields,
        "region",
        "add `region = \"us-east-1\"` (the AWS region to deploy to)",
    );
    let mut file = EnvironmentFile {
        source: Arc::clone(source),
        project,
        environment: fields.string("environment", &mut diagnostics),
        region,
        account: None,
        protected: fields.boolean("protected", &mut diagnostics),
        tags: Vec::new(),
        stacks: Vec::new(),
    };
    file.account = account(source, &mut fields, &mut diagnostics);
    if let Some((tags, _)) = fields.table("tags", &mut diagnostics) {
        file.tags = read_tags(source, tags, &misplaced, &mut diagnostics);
    }
    if let Some((stacks, _)) = fields.table("stacks", &mut diagnostics) {
        for (name, table) in stacks.iter() {
            match table.get_ref().as_table() {
                Some(inner) => file.stacks.push(read_stack(
                    source,
                    name,
                    table.span(),
                    inner,
                    &mut diagnostics,
                )),
                None => diagnostics.push(
                    Diagnostic::error(format!("stack `{}` must be a table", name.get_ref()))
                        .at(source, table.span(), "expected a table")
                        .with_help(format!(
                            "write it as `[stacks.{}]` followed by `type = \"...\"`",
                            name.get_ref()
                        )),
                ),
            }
        }
    }
    fields.deny_unknown(TOP_LEVEL_KEYS, &mut diagnostics);
    (Some(file), diagnostics)
}

/// A TOML syntax error as a diagnostic.
pub fn syntax_error(source: &Arc<SourceFile>, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim_end_matches('\n').to_owned();
    let diagnostic = Diagnostic::error(format!("`{}` is not valid TOML", source.name));
    // Old Mac line ends: TOML reads the file as one line, so say so plainly
    // rather than point into it.
    if let Some(offset) = source
        .text
        .match_indices('\r')
        .map(|(i, _)| i)
        .find(|&i| source.text.as_bytes().get(i + 1) != Some(&b'\n'))
    {
        let line = source.text[..offset]
            .chars()
            .filter(|&c| c == '\n' || c == '\r')
            .count()
            + 1;
        return Diagnostic::error(format!(
            "`{}` ends its lines with a bare carriage return (CR), which TOML does not allow",
            source.name
        ))
        .with_note(format!("first at the end of line {line}"))
        .with_help("save the file with LF (Unix) or CRLF (Windows) line endings");
    }
    if message.contains("recursion limit") {
        // No span from the parser: point at the most deeply dotted line.
        let (offset, line) = source
            .text
            .split_inclusive('\n')
            .scan(0, |at, line| {
                let start = *at;
                *at += line.len();
                Some((start, line))
            })
            .max_by_key(|(_, line)| line.matches('.').count())
            .unwrap_or((0, ""));
        let key_end = line.find(['=', ']']).unwrap_or(line.trim_end().len());
        return Diagnostic::error(format!(
            "`{}` nests a dotted key or table header too deeply",
            source.name
        ))
        .at(source, offset..offset + key_end, "nested too deeply")
        .with_help("use fewer parts in this dotted key or table header");
    }
    match error.span() {
        Some(span) => diagnostic.at(source, span, message),
        None => diagnostic.with_note(message),
    }
}

fn account(
    source: &Arc<SourceFile>,
    fields: &mut Fields<'_, '_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<At<String>> {
    // An unquoted account id is a TOML integer, which would lose leading zeros.
    let mut probe = Vec::new();
    let value = fields.string("account", &mut probe);
    if let Some(error) = probe.into_iter().next() {
        diagnostics.push(
            Diagnostic::error("`account` must be a quoted string of 12 digits")
                .at(
                    source,
                    error.labels.first().map_or(0..0, |l| l.span.clone()),
                    "not a string",
                )
                .with_help(
                    "quote it, e.g. `account = \"012345678901\"`: an integer loses leading zeros",
                ),
        );
    }
    value
}

/// Settings of the file that only make sense at its top.
const SETTINGS: &[&str] = &["project", "environment", "region", "account", "protected"];

/// Settings written after `[tags]` (so TOML makes them tags): each is an
/// error at the key, saying where it belongs. Returns their names.
fn misplaced_in_tags(
    source: &Arc<SourceFile>,
    document: &DeTable<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<&'static str> {
    let Some(tags) = document.get("tags").and_then(|t| t.get_ref().as_table()) else {
        return Vec::new();
    };
    let mut misplaced = Vec::new();
    for (key, value) in tags.iter() {
        let Some(setting) = SETTINGS
            .iter()
            .copied()
            .find(|s| *s == key.get_ref().as_ref())
        else {
            continue;
        };
        if document.get(setting).is_some() {
            continue; // set at the top too: this one is a tag of that name
        }
        let written = source
            .text
            .get(key.span().start..value.span().end)
            .unwrap_or(setting);
        diagnostics.push(
            Diagnostic::error(format!(
                "`{setting}` is under `[tags]`, so it is a tag, not the environment's `{setting}`"
            ))
            .at(source, key.span(), "inside `[tags]`")
            .with_help(format!(
                "move `{written}` above `[tags]`: every key after a `[table]` header belongs to that table"
            )),
        );
        misplaced.push(setting);
    }
    misplaced
}

fn read_tags(
    source: &Arc<SourceFile>,
    tags: &DeTable<'_>,
    misplaced: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(At<String>, At<String>)> {
    let mut out = Vec::new();
    for (key, value) in tags.iter() {
        if misplaced.contains(&key.get_ref().as_ref()) {
            continue;
        }
        let key_at = Spanned::new(key.span(), key.get_ref().to_string());
        match value.get_ref().as_str() {
            Some(v) => out.push((key_at, Spanned::new(value.span(), v.to_owned()))),
            None => diagnostics.push(
                Diagnostic::error(format!(
                    "tag `{}` must be a string, got {}",
                    key.get_ref(),
                    super::fields::describe(value.get_ref())
                ))
                .at(source, value.span(), "expected a string")
                .with_help("quote the value: tag values are always strings"),
            ),
        }
    }
    out
}

fn read_stack(
    source: &Arc<SourceFile>,
    name: &Spanned<toml::de::DeString<'_>>,
    span: Range<usize>,
    table: &DeTable<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> RawStack {
    let stack_name = name.get_ref().to_string();
    let header = header_span(source, &span, &stack_name).unwrap_or_else(|| name.span());
    let what = format!("stack `{stack_name}`");
    let mut fields = Fields::new(source, table, header.clone(), what);
    let kind = fields.required_string(
        "type",
        "every stack names its stack type, e.g. `type = \"networking\"` (see `strata modules`)",
        diagnostics,
    );
    let depends_on = fields
        .strings("depends_on", diagnostics)
        .map(Spanned::into_inner)
        .unwrap_or_default();
    let mut config = Map::new();
    let mut spans = ConfigSpans::default();
    for (key, value) in fields.rest() {
        let key_name = key.get_ref().to_string();
        spans.entries.insert(
            key_name.clone(),
            KeySpan {
                key: Some(key.span()),
                value: value.span(),
            },
        );
        if let Some(json) = to_json(source, value, &key_name, &mut spans, diagnostics) {
            config.insert(key_name, json);
        }
    }
    RawStack {
        name: Spanned::new(name.span(), stack_name),
        span: header,
        kind,
        depends_on,
        config: Value::Object(config),
        spans,
    }
}

/// The `[stacks.NAME]` header line, when the table has one: the best place to
/// point at for "this stack is missing a key".
fn header_span(source: &SourceFile, table_span: &Range<usize>, name: &str) -> Option<Range<usize>> {
    let text = &source.text;
    let start = table_span.start.min(text.len());
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[start..line_end];
    (line.trim_start().starts_with('[') && line.contains(name)).then_some(start..line_end)
}

fn to_json(
    source: &Arc<SourceFile>,
    value: &Spanned<DeValue<'_>>,
    path: &str,
    spans: &mut ConfigSpans,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let json = match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Number(n.into()),
            Err(_) => {
                diagnostics.push(Diagnostic::error(format!("`{path}` is out of range")).at(
                    source,
                    value.span(),
                    "does not fit in a 64-bit integer",
                ));
                return None;
            }
        },
        DeValue::Float(f) => match f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
        {
            Some(n) => Value::Number(n),
            None => {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "`{path}` must be a finite number, got `{}`",
                        f.as_str()
                    ))
                    .at(source, value.span(), "not a finite number"),
                );
                return None;
            }
        },
        DeValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}.{index}");
                spans.entries.insert(
                    item_path.clone(),
                    KeySpan {
                        key: None,
                        value: item.span(),
                    },
                );
                out.extend(to_json(source, item, &item_path, spans, diagnostics));
            }
            Value::Array(out)
        }
        DeValue::Table(table) => {
            let mut out = Map::new();
            for (key, item) in table.iter() {
                let item_path = format!("{path}.{}", key.get_ref());
                spans.entries.insert(
                    item_path.clone(),
                    KeySpan {
                        key: Some(key.span()),
                        value: item.span(),
                    },
                );
                if let Some(json) = to_json(source, item, &item_path, spans, diagnostics) {
                    out.insert(key.get_ref().to_string(), json);
                }
            }
            Value::Object(out)
        }
    };
    Some(json)
}
