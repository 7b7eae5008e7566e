//! Settings a user may give as text or as another stack's output.
//!
//! Anything a container or a resource reads as a string (an environment
//! variable first) can come from another stack: in the environment file,
//!
//! ```toml
//! [stacks.api.environment_variables]
//! LOG_LEVEL = "info"
//! USER_POOL_ID = { import = "auth.user-pool-id" }
//! ```
//!
//! The second renders `{"Fn::ImportValue": "{project}-{environment}-auth-user-pool-id"}`
//! and records the import, so the host deploys `auth` first and checks at
//! plan time that it exports `user-pool-id`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::check;
use crate::{Diagnostics, Template};

/// A string setting, or `{ import = "STACK.OUTPUT" }`: another stack's
/// exported output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrImport {
    /// The text itself.
    Text(String),
    /// Another stack's output.
    Import(Import),
}

/// `{ import = "STACK.OUTPUT" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// `STACK.OUTPUT`: a stack of the environment and one of its exported
    /// outputs, e.g. `auth.user-pool-id`. (Checked by
    /// [`StringOrImport::check`], which says what is wrong better than a
    /// schema pattern would.)
    pub import: String,
}

impl From<&str> for StringOrImport {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl StringOrImport {
    /// The stack and output imported, when this is an import whose
    /// `STACK.OUTPUT` is well formed.
    pub fn imported(&self) -> Option<(&str, &str)> {
        match self {
            Self::Text(_) => None,
            Self::Import(Import { import }) => import.split_once('.').filter(|(stack, output)| {
                check::is_stack_name(stack) && check::is_name(output, 64)
            }),
        }
    }

    /// Check an import's `STACK.OUTPUT` at key `path` (the setting's key;
    /// the error points at its `import`). Text is always fine.
    pub fn check(&self, path: &str, diagnostics: &mut Diagnostics) {
        if let Self::Import(Import { import }) = self
            && self.imported().is_none()
        {
            diagnostics
                .error(
                    format!("{path}.import"),
                    format!("`{import}` is not `STACK.OUTPUT`"),
                )
                .help("name a stack of this environment and an output it exports, e.g. `auth.user-pool-id`");
        }
    }

    /// The value to put in the template: the text, or
    /// `{"Fn::ImportValue": ...}` with the import recorded in `template`.
    /// A malformed import (see [`StringOrImport::check`]) gives `null`.
    pub fn resolve(&self, template: &mut Template) -> Value {
        match (self, self.imported()) {
            (Self::Text(text), _) => Value::String(text.clone()),
            (Self::Import(_), Some((stack, output))) => template.import(stack, output),
            (Self::Import(_), None) => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    fn parse(json: &str) -> StringOrImport {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn text_stays_text_and_an_import_reads_another_stacks_export() {
        let ctx = Context::for_tests("api");
        let mut template = Template::new(&ctx, "test");
        assert_eq!(
            parse(r#""info""#).resolve(&mut template),
            Value::from("info")
        );
        let pool = parse(r#"{"import": "auth.user-pool-id"}"#);
        assert_eq!(pool.imported(), Some(("auth", "user-pool-id")));
        let value = pool.resolve(&mut template);
        assert_eq!(
            value["Fn::ImportValue"]
                .as_str()
                .map(|name| name.ends_with("-auth-user-pool-id")),
            Some(true),
            "{value}"
        );
    }

    #[test]
    fn a_malformed_import_is_reported_at_its_key() {
        let mut diagnostics = Diagnostics::new();
        parse(r#"{"import": "auth"}"#).check("environment_variables.POOL", &mut diagnostics);
        let error = diagnostics.iter().next().expect("an error");
        assert_eq!(error.path, "environment_variables.POOL.import");
        assert!(error.message.contains("`auth`"), "{}", error.message);
        assert!(
            serde_json::from_str::<StringOrImport>(r#"{"import": "a.b", "extra": 1}"#).is_err(),
            "unknown keys are refused"
        );
    }
}
