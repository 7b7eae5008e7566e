//! Reading typed fields out of a spanned TOML table, collecting every
//! problem instead of stopping at the first (which is all serde can do).

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, SourceFile};
use super::suggest;

/// A value with the byte range it came from.
pub type At<T> = Spanned<T>;

/// The fields of one TOML table, read one key at a time.
pub struct Fields<'a, 'i> {
    source: &'a Arc<SourceFile>,
    table: &'a DeTable<'i>,
    span: Range<usize>,
    /// How the table is called in messages: "the environment file", "stack `db`".
    what: String,
    used: BTreeSet<String>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// Read `table` (spanning `span` of `source`), called `what` in messages.
    pub fn new(
        source: &'a Arc<SourceFile>,
        table: &'a DeTable<'i>,
        span: Range<usize>,
        what: impl Into<String>,
    ) -> Self {
        Self {
            source,
            table,
            span,
            what: what.into(),
            used: BTreeSet::new(),
        }
    }

    fn get(
        &mut self,
        key: &str,
    ) -> Option<(
        &'a Spanned<toml::de::DeString<'i>>,
        &'a Spanned<DeValue<'i>>,
    )> {
        self.used.insert(key.to_owned());
        self.table.get_key_value(key)
    }

    fn type_error(&self, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) -> Diagnostic {
        Diagnostic::error(format!(
            "`{key}` must be {expected}, got {}",
            describe(value.get_ref())
        ))
        .at(self.source, value.span(), format!("expected {expected}"))
    }

    /// An optional string.
    pub fn string(&mut self, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<At<String>> {
        let (_, value) = self.get(key)?;
        match value.get_ref().as_str() {
            Some(s) => Some(Spanned::new(value.span(), s.to_owned())),
            None => {
                diagnostics.push(self.type_error(key, value, "a string"));
                None
            }
        }
    }

    /// A string that must be present; `help` says what to write.
    pub fn required_string(
        &mut self,
        key: &str,
        help: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<At<String>> {
        if self.table.contains_key(key) {
            return self.string(key, diagnostics);
        }
        self.used.insert(key.to_owned());
        diagnostics.push(
            Diagnostic::error(format!("{} has no `{key}`", self.what))
                .at(
                    self.source,
                    self.span.clone(),
                    format!("`{key}` missing here"),
                )
                .with_help(help.to_owned()),
        );
        None
    }

    /// An optional boolean.
    pub fn boolean(&mut self, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<At<bool>> {
        let (_, value) = self.get(key)?;
        match value.get_ref().as_bool() {
            Some(b) => Some(Spanned::new(value.span(), b)),
            None => {
                diagnostics.push(self.type_error(key, value, "`true` or `false`"));
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub fn integer(&mut self, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<At<u64>> {
        let (_, value) = self.get(key)?;
        let parsed = value
            .get_ref()
            .as_integer()
            .and_then(|i| u64::from_str_radix(i.as_str(), i.radix()).ok());
        match parsed {
            Some(n) => Some(Spanned::new(value.span(), n)),
            None => {
                diagnostics.push(self.type_error(key, value, "a whole number ≥ 0"));
                None
            }
        }
    }

    /// An optional list of strings; each item keeps its span.
    pub fn strings(
        &mut self,
        key: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<At<Vec<At<String>>>> {
        let (_, value) = self.get(key)?;
        let Some(array) = value.get_ref().as_array() else {
            diagnostics.push(self.type_error(key, value, "a list of strings"));
            return None;
        };
        let mut items = Vec::new();
        for item in array.iter() {
            match item.get_ref().as_str() {
                Some(s) => items.push(Spanned::new(item.span(), s.to_owned())),
                None => diagnostics.push(
                    Diagnostic::error(format!(
                        "`{key}` must hold strings, got {}",
                        describe(item.get_ref())
                    ))
                    .at(self.source, item.span(), "expected a string"),
                ),
            }
        }
        Some(Spanned::new(value.span(), items))
    }

    /// An optional sub-table, with the span of its value.
    pub fn table(
        &mut self,
        key: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<(&'a DeTable<'i>, Range<usize>)> {
        let (_, value) = self.get(key)?;
        match value.get_ref().as_table() {
            Some(table) => Some((table, value.span())),
            None => {
                diagnostics.push(self.type_error(key, value, "a table"));
                None
            }
        }
    }

    /// The key and value of `key` as written, marked as read (for values
    /// that are read by hand, or keys that get their own diagnostic).
    pub fn value(
        &mut self,
        key: &str,
    ) -> Option<(
        &'a Spanned<toml::de::DeString<'i>>,
        &'a Spanned<DeValue<'i>>,
    )> {
        self.get(key)
    }

    /// An optional list of tables (`[[stages]]`), each with its span.
    pub fn tables(
        &mut self,
        key: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Vec<(&'a DeTable<'i>, Range<usize>)>> {
        let (_, value) = self.get(key)?;
        let Some(array) = value.get_ref().as_array() else {
            diagnostics.push(
                self.type_error(key, value, "a list of tables")
                    .with_help(format!("write each one under its own `[[{key}]]` header")),
            );
            return None;
        };
        let mut tables = Vec::new();
        for item in array.iter() {
            match item.get_ref().as_table() {
                Some(table) => tables.push((table, item.span())),
                None => diagnostics.push(
                    Diagnostic::error(format!(
                        "`{key}` must hold tables, got {}",
                        describe(item.get_ref())
                    ))
                    .at(self.source, item.span(), "expected a table"),
                ),
            }
        }
        Some(tables)
    }

    /// The keys not read yet, with their values.
    pub fn rest(
        &self,
    ) -> impl Iterator<
        Item = (
            &'a Spanned<toml::de::DeString<'i>>,
            &'a Spanned<DeValue<'i>>,
        ),
    > + '_ {
        self.table
            .iter()
            .filter(|(k, _)| !self.used.contains(k.get_ref().as_ref()))
    }

    /// Report every key not read as unknown, suggesting the closest of `known`.
    pub fn deny_unknown(self, known: &[&str], diagnostics: &mut Vec<Diagnostic>) {
        for (key, _) in self.rest() {
            let name = key.get_ref().as_ref();
            let help = suggest::help_for(name, known, "known keys");
            diagnostics.push(
                Diagnostic::error(format!("unknown key `{name}` in {}", self.what))
                    .at(self.source, key.span(), "not a known key")
                    .with_help_opt(help),
            );
        }
    }
}

/// How a TOML value is called in a type error: its type and, for scalars, the value.
pub fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string `{s}`"),
        DeValue::Integer(i) => format!("the integer `{}`", i.as_str()),
        DeValue::Float(f) => format!("the float `{}`", f.as_str()),
        DeValue::Boolean(b) => format!("`{b}`"),
        DeValue::Datetime(d) => format!("the datetime `{d}`"),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}
