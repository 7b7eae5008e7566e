//! `strata module new` and `strata module check`: the module author's
//! commands. `new` writes a module crate from the templates in
//! [`scaffold`]; `check` loads a built component as the host does and holds
//! it to what every stack module must guarantee ([`check`]). Neither needs a
//! config repository; `check` reads `strata.toml` under `--repo` when there
//! is one, for its sandbox limits and pins.

pub mod check;
pub mod scaffold;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::Exit;
use crate::config::Diagnostic;
use crate::config::diagnostic::{Report, Style};

/// Arguments of `strata module`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: ModuleCommand,
}

/// `strata module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create a stack module crate that builds for wasm32-wasip2, with tests, a README and an example environment.
    #[command(
        long_about = "Create a stack module crate in DIR/NAME (default ./NAME): a Cargo.toml (a cdylib with the \
release profile Strata's own modules use), rust-toolchain.toml pinning Strata's toolchain and the wasm32-wasip2 \
target, src/lib.rs with a small module (a typed, documented config; one tagged resource named \
{project}-{environment}-{stack}; exports by convention), native unit tests over strata_module_sdk::testing, a \
README (build, test, pin) and example.toml, an environment using the new stack type. NAME is the stack type: \
lowercase letters, digits and single hyphens, starting with a letter. An existing directory is never overwritten.",
        after_help = "Examples:\n  strata module new cognito\n  strata module new cognito --path ../modules\n  strata module new cognito --sdk ../strata/modules/sdk     depend on an SDK checkout\n\nExit codes: 0 created, 2 bad input (an invalid name, an existing directory)."
    )]
    New(NewArgs),

    /// Check a built module as the host would load it, and print its sha256 pin.
    #[command(
        long_about = "Load FILE.wasm as `strata render` does and check, each with a hint to fix it: the WIT version \
it was built against; `describe` (a stack type name, a valid JSON Schema of a sane size); that a pin in \
`--repo`'s strata.toml names it as it names itself; then, rendering each stack of its type in `--config` \
(an environment file such as the scaffold's example.toml; without it, an empty table when the schema \
requires no key): determinism over three renders, tags on every taggable resource, physical names under \
{project}-{environment}-, exports and imports by convention, CloudFormation's template limits (51,200 bytes \
inline, 1 MB from S3, 500 resources, 200 outputs), and time and memory per render against the sandbox \
limits. Ends with the `[modules.NAME]` pin for strata.toml.",
        after_help = "Examples:\n  strata module check target/wasm32-wasip2/release/strata_module_cognito.wasm --config example.toml\n  strata module check cognito.wasm --format json\n\nExit codes: 0 no errors (warnings allowed), 1 the module has errors, 2 bad input (an unreadable file or config)."
    )]
    Check(check::Args),
}

/// Arguments of `strata module new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The stack type, e.g. `cognito`: lowercase letters, digits and single hyphens.
    pub name: String,

    /// Where to create the crate: it goes in DIR/NAME.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,

    /// Depend on the SDK at this path (a checkout's `modules/sdk`) instead of crates.io's `strata-module-sdk`.
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// Run `strata module`. `repo` and `cache_dir` are the global options.
pub fn run(repo: &Path, cache_dir: Option<PathBuf>, args: &Args) -> Exit {
    match &args.command {
        ModuleCommand::New(args) => new(args),
        ModuleCommand::Check(args) => check::run(repo, cache_dir, args),
    }
}

fn new(args: &NewArgs) -> Exit {
    let dir = args.path.join(&args.name);
    match scaffold::write(&dir, &args.name, args.sdk.as_deref()) {
        Ok(created) => {
            let _ = write!(std::io::stdout(), "{}", created.next_steps());
            Exit::Ok
        }
        Err(diagnostic) => {
            print(&[diagnostic]);
            Exit::BadInput
        }
    }
}

/// Print diagnostics to stderr.
fn print(diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let report = Report::new(Style::for_stderr());
    let _ = write!(std::io::stderr(), "{}", report.render_all(diagnostics));
}
