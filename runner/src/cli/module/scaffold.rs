//! The files `strata module new` writes: templates embedded in the binary
//! (`scaffold/*.in`, with `{{name}}`, `{{crate}}` and `{{sdk}}` filled in)
//! plus this repository's own `rust-toolchain.toml`, so a new module builds
//! with the toolchain and target Strata's modules are built with.

use std::path::{Path, PathBuf};

use crate::config::{Diagnostic, StackName};

/// The toolchain Strata's own modules build with.
const TOOLCHAIN: &str = include_str!("../../../../rust-toolchain.toml");

/// The files of a new module: (path in the crate, template).
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.in")),
    (".gitignore", include_str!("scaffold/gitignore.in")),
    ("README.md", include_str!("scaffold/README.md.in")),
    ("example.toml", include_str!("scaffold/example.toml.in")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.in")),
    ("src/tests.rs", include_str!("scaffold/tests.rs.in")),
    ("rust-toolchain.toml", TOOLCHAIN),
];

/// The dependency line when no `--sdk` is given.
const SDK_FROM_CRATES_IO: &str = "# Until `strata-module-sdk` is published on crates.io, point at a checkout of\n\
# Strata instead: strata-module-sdk = { path = \"../strata/modules/sdk\" }\n\
strata-module-sdk = \"0.2\"";

/// A module crate `strata module new` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The stack type.
    pub name: String,
    /// The crate's directory.
    pub dir: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<String>,
}

impl Created {
    /// Where the release build puts the component, relative to the crate.
    pub fn wasm_path(&self) -> String {
        format!(
            "target/wasm32-wasip2/release/strata_module_{}.wasm",
            crate_ident(&self.name)
        )
    }

    /// What to tell the author: what was created and what to run next.
    pub fn next_steps(&self) -> String {
        let dir = self.dir.display();
        format!(
            "created stack module `{name}` in `{dir}`\n\n\
             next steps:\n  \
             cd {dir}\n  \
             cargo test                                      # native unit tests\n  \
             cargo build --release --target wasm32-wasip2    # the component\n  \
             strata module check {wasm} --config example.toml\n\n\
             then copy the .wasm into your config repository and pin it in strata.toml with the\n\
             lines `strata module check` prints\n",
            name = self.name,
            wasm = self.wasm_path(),
        )
    }
}

/// Write a new module crate for stack type `name` into `dir`, which must not
/// exist. `sdk` is a path to the SDK crate to depend on instead of the
/// published one.
pub fn write(dir: &Path, name: &str, sdk: Option<&Path>) -> Result<Created, Diagnostic> {
    if let Err(rule) = StackName::parse(name) {
        let suggestion = crate::config::identifier_suggestion(name);
        let help = if suggestion.is_empty() || suggestion == name {
            "use lowercase letters, digits and single hyphens, starting with a letter, e.g. `cognito`"
                .to_owned()
        } else {
            format!("try `strata module new {suggestion}`")
        };
        return Err(Diagnostic::error(format!(
            "`{name}` is not a valid stack type name: it {rule}"
        ))
        .with_help(help));
    }
    if dir.exists() {
        return Err(Diagnostic::error(format!(
            "`{}` already exists; `strata module new` never overwrites",
            dir.display()
        ))
        .with_help(format!(
            "pick another directory with `--path DIR` (the crate goes in DIR/{name}), or remove `{}` first",
            dir.display()
        )));
    }
    let sdk = match sdk {
        None => SDK_FROM_CRATES_IO.to_owned(),
        Some(path) => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            if !absolute.join("Cargo.toml").is_file() {
                return Err(Diagnostic::error(format!(
                    "`--sdk {}` is not a crate: it has no `Cargo.toml`",
                    path.display()
                ))
                .with_help("point `--sdk` at a checkout's `modules/sdk`"));
            }
            format!(
                "strata-module-sdk = {{ path = {} }}",
                toml_string(&absolute.display().to_string())
            )
        }
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_ident(name))
            .replace("{{sdk}}", &sdk)
    };
    let mut files = Vec::new();
    for (relative, template) in FILES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Diagnostic::error(format!("cannot create `{}`: {e}", parent.display())).as_failure()
            })?;
        }
        std::fs::write(&path, fill(template)).map_err(|e| {
            Diagnostic::error(format!("cannot write `{}`: {e}", path.display())).as_failure()
        })?;
        files.push((*relative).to_owned());
    }
    Ok(Created {
        name: name.to_owned(),
        dir: dir.to_path_buf(),
        files,
    })
}

/// The crate's name as a Rust identifier: `log-shipper` → `log_shipper`.
fn crate_ident(name: &str) -> String {
    name.replace('-', "_")
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_name_that_is_not_a_stack_type_name_and_suggests_one() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let error = write(&dir.path().join("x"), "Cognito_Pool", None).expect_err("refused");
        assert_eq!(
            error.message,
            "`Cognito_Pool` is not a valid stack type name: it must start with a lowercase letter"
        );
        assert_eq!(
            error.help.as_deref(),
            Some("try `strata module new cognito-pool`")
        );
    }

    #[test]
    fn never_overwrites_an_existing_directory() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let error = write(dir.path(), "cognito", None).expect_err("refused");
        assert!(
            error.message.contains("already exists"),
            "{}",
            error.message
        );
        assert_eq!(std::fs::read_dir(dir.path()).expect("the dir").count(), 0);
    }

    #[test]
    fn writes_a_crate_depending_on_the_published_sdk_by_default() {
        let parent = tempfile::tempdir().expect("a temp dir");
        let dir = parent.path().join("log-shipper");
        let created = write(&dir, "log-shipper", None).expect("written");
        assert_eq!(created.files.len(), FILES.len());
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        assert!(manifest.contains("name = \"strata-module-log-shipper\""));
        assert!(manifest.contains("\nstrata-module-sdk = \"0.2\"\n"));
        let toolchain =
            std::fs::read_to_string(dir.join("rust-toolchain.toml")).expect("rust-toolchain.toml");
        assert_eq!(toolchain, TOOLCHAIN);
        assert!(
            created
                .wasm_path()
                .ends_with("strata_module_log_shipper.wasm")
        );
    }
}
