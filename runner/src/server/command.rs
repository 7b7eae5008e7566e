//! `/strata` commands typed in pull-request comments.
//!
//! A comment holds a command when one of its lines starts with `/strata`; the
//! first such line is the command, outside fenced code blocks (so pasting the
//! help text into a comment runs nothing) and not in a `>` quote (a line
//! starting with `>` does not start with `/strata`). The rest of the comment
//! is free text. [`Command::parse`] reads that line strictly: an unknown
//! subcommand or an extra argument is an error whose reply carries a
//! did-you-mean and [`Command::help_text`], rather than a guess that deploys
//! the wrong thing.

use std::fmt;

use crate::config::suggest;

/// The word that starts every command.
const PREFIX: &str = "/strata";

/// The subcommands, in the order the help lists them.
const SUBCOMMANDS: [&str; 6] = ["plan", "apply", "approve", "run", "unlock", "help"];

/// The longest environment name accepted (well past any file stem in use).
const MAX_ENVIRONMENT_LEN: usize = 64;

/// A command from a pull-request comment. `None` means every environment the
/// pull request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/strata plan [ENV]`: plan again.
    Plan(Option<String>),
    /// `/strata apply [ENV]`: deploy the pull request's plan.
    Apply(Option<String>),
    /// `/strata unlock [ENV]`: release the pull request's environment locks.
    Unlock(Option<String>),
    /// `/strata approve [ENV]`: approve the waiting stages of the promotion
    /// of a merged pull request (for gates that ask for approvals).
    Approve(Option<String>),
    /// `/strata run WORKFLOW [key=value]...`: dispatch a workflow with inputs.
    Run {
        /// The workflow (`deploy-code` for `workflows/deploy-code.toml`).
        workflow: String,
        /// Its inputs, in the order given.
        inputs: Vec<(String, String)>,
    },
    /// `/strata help` (or a bare `/strata`): reply with [`Command::help_text`].
    Help,
}

/// Why a `/strata` line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The word after `/strata` is no subcommand.
    #[error("unknown command `/strata {given}`")]
    UnknownSubcommand {
        /// The word as typed.
        given: String,
    },
    /// More words than the subcommand takes.
    #[error("`/strata {command}` takes {takes}, got an extra `{argument}`")]
    UnexpectedArgument {
        /// The subcommand.
        command: &'static str,
        /// What it takes (`no arguments`, `at most one environment`).
        takes: &'static str,
        /// The first word too many.
        argument: String,
    },
    /// `/strata run` without a workflow.
    #[error("`/strata run` needs a workflow")]
    MissingWorkflow,
    /// The workflow argument cannot be a workflow file's stem.
    #[error("`{name}` is not a workflow name: {rule}")]
    InvalidWorkflow {
        /// The argument as typed.
        name: String,
        /// Which rule it breaks.
        rule: &'static str,
    },
    /// A `/strata run` input not written `key=value`.
    #[error("`{given}` is not an input: write `key=value`")]
    InvalidInput {
        /// The word as typed.
        given: String,
    },
    /// The environment argument cannot be an environment file's stem.
    #[error("`{name}` is not an environment name: {rule}")]
    InvalidEnvironment {
        /// The argument as typed.
        name: String,
        /// Which rule it breaks.
        rule: &'static str,
    },
}

impl CommandError {
    /// What to type instead, when there is something to say: shown on its
    /// own `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::UnknownSubcommand { given } => {
                suggest::help_for(given, &SUBCOMMANDS, "commands are")
            }
            Self::UnexpectedArgument { command, .. } => Some(match *command {
                "help" => "type `/strata help` on its own".to_owned(),
                _ => {
                    format!("name one environment, as in `/strata {command} prod`, or none for all")
                }
            }),
            Self::MissingWorkflow | Self::InvalidWorkflow { .. } => Some(
                "name a file of `workflows/` without `.toml`, as in `/strata run deploy-code image_tag=1.42.0`"
                    .to_owned(),
            ),
            Self::InvalidInput { .. } => {
                Some("as in `/strata run deploy-code image_tag=1.42.0`".to_owned())
            }
            Self::InvalidEnvironment { name, .. } => {
                let lower = name.to_lowercase();
                (lower != *name && valid_environment(&lower).is_ok())
                    .then(|| format!("did you mean `{lower}`?"))
            }
        }
    }

    /// The pull-request reply: the error, its help line, then the command
    /// list, as Markdown.
    pub fn reply(&self) -> String {
        let mut reply = format!("**error:** {self}\n");
        if let Some(help) = self.help() {
            reply.push_str(&format!("**help:** {help}\n"));
        }
        reply.push('\n');
        reply.push_str(&Command::help_text());
        reply
    }
}

impl Command {
    /// The command in a comment: `Ok(None)` when no line starts with
    /// `/strata`, an error when that line is not a valid command.
    pub fn parse(body: &str) -> Result<Option<Self>, CommandError> {
        command_line(body).map(Self::parse_line).transpose()
    }

    /// Read one line that starts with `/strata`.
    fn parse_line(line: &str) -> Result<Self, CommandError> {
        let mut words = line.split_whitespace().skip(1);
        let Some(subcommand) = words.next() else {
            return Ok(Self::Help);
        };
        let (command, make): (&'static str, fn(Option<String>) -> Self) = match subcommand {
            "plan" => ("plan", Self::Plan),
            "apply" => ("apply", Self::Apply),
            "unlock" => ("unlock", Self::Unlock),
            "approve" => ("approve", Self::Approve),
            "run" => return Self::parse_run(words),
            "help" => {
                return match words.next() {
                    None => Ok(Self::Help),
                    Some(argument) => Err(CommandError::UnexpectedArgument {
                        command: "help",
                        takes: "no arguments",
                        argument: shown(argument),
                    }),
                };
            }
            other => {
                return Err(CommandError::UnknownSubcommand {
                    given: shown(other),
                });
            }
        };
        let argument = words.next();
        if let Some(extra) = words.next() {
            return Err(CommandError::UnexpectedArgument {
                command,
                takes: "at most one environment",
                argument: shown(extra),
            });
        }
        Ok(make(argument.map(environment).transpose()?))
    }

    /// `/strata run WORKFLOW key=value...`.
    fn parse_run<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Self, CommandError> {
        let Some(workflow) = words.next() else {
            return Err(CommandError::MissingWorkflow);
        };
        valid_environment(workflow).map_err(|rule| CommandError::InvalidWorkflow {
            name: shown(workflow),
            rule,
        })?;
        let mut inputs = Vec::new();
        for word in words {
            let Some((key, value)) = word.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                return Err(CommandError::InvalidInput { given: shown(word) });
            };
            inputs.push((key.to_owned(), value.to_owned()));
        }
        Ok(Self::Run {
            workflow: workflow.to_owned(),
            inputs,
        })
    }

    /// The environment it names, if any.
    pub fn environment(&self) -> Option<&str> {
        match self {
            Self::Plan(env) | Self::Apply(env) | Self::Unlock(env) | Self::Approve(env) => {
                env.as_deref()
            }
            Self::Run { .. } | Self::Help => None,
        }
    }

    /// The commands, as a Markdown table for a pull-request reply.
    pub fn help_text() -> String {
        [
            "**Strata commands** (comment on the pull request, the command on a line of its own):",
            "",
            "| command | what it does |",
            "| --- | --- |",
            "| `/strata plan [ENV]` | plan again every environment this pull request changes, or only `ENV` |",
            "| `/strata apply [ENV]` | deploy this pull request's plan for every environment it changes, or only `ENV`; after a merge, release the stage of `ENV` that waits for a command |",
            "| `/strata approve [ENV]` | after a merge: approve the stages waiting for approvals, or only `ENV`'s |",
            "| `/strata run WORKFLOW [key=value]...` | dispatch a workflow (`workflows/WORKFLOW.toml`) with inputs, e.g. `/strata run deploy-code image_tag=1.42.0` |",
            "| `/strata unlock [ENV]` | release the locks this pull request holds, on every environment or only `ENV` |",
            "| `/strata help` | show this list |",
            "",
            "`ENV` is an environment file's name without `.toml`: `prod` for `environments/prod.toml`.",
            "",
        ]
        .join("\n")
    }
}

impl fmt::Display for Command {
    /// The command as a user types it: `/strata apply prod`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Self::Plan(_) => "plan",
            Self::Apply(_) => "apply",
            Self::Unlock(_) => "unlock",
            Self::Approve(_) => "approve",
            Self::Run { workflow, inputs } => {
                write!(f, "{PREFIX} run {workflow}")?;
                for (key, value) in inputs {
                    write!(f, " {key}={value}")?;
                }
                return Ok(());
            }
            Self::Help => "help",
        };
        write!(f, "{PREFIX} {word}")?;
        match self.environment() {
            Some(env) => write!(f, " {env}"),
            None => Ok(()),
        }
    }
}

/// The first line of `body` that starts with `/strata` (as a word of its own,
/// after leading spaces), outside fenced code blocks; trimmed.
pub fn command_line(body: &str) -> Option<&str> {
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let line = line.trim();
        if let Some(open) = fence {
            if line.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if let Some(marker) = ["```", "~~~"].into_iter().find(|m| line.starts_with(m)) {
            fence = Some(marker);
            continue;
        }
        if let Some(rest) = line.strip_prefix(PREFIX)
            && (rest.is_empty() || rest.starts_with(char::is_whitespace))
        {
            return Some(line);
        }
    }
    None
}

fn environment(name: &str) -> Result<String, CommandError> {
    valid_environment(name).map_err(|rule| CommandError::InvalidEnvironment {
        name: shown(name),
        rule,
    })?;
    Ok(name.to_owned())
}

/// The longest word of a comment a reply quotes back.
const MAX_QUOTED_CHARS: usize = 40;

/// A word of the comment as a reply quotes it: at most
/// [`MAX_QUOTED_CHARS`] characters (then `…`), without control characters
/// or backticks that would break the reply's code span.
fn shown(word: &str) -> String {
    let mut out: String = word
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '`' { '\'' } else { c })
        .take(MAX_QUOTED_CHARS)
        .collect();
    if word.chars().filter(|c| !c.is_control()).count() > MAX_QUOTED_CHARS {
        out.push('…');
    }
    out
}

/// The rules an environment file's stem follows: lowercase ASCII letters,
/// digits, `-` and `_`, starting with a letter or digit (so it never reads as
/// an option), at most [`MAX_ENVIRONMENT_LEN`] long.
fn valid_environment(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_ENVIRONMENT_LEN {
        return Err("longer than 64 characters");
    }
    if name.starts_with(['-', '_']) {
        return Err("start with a lowercase letter or digit");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err("use lowercase letters, digits, `-` and `_`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        Some(name.to_owned())
    }

    #[test]
    fn reads_each_command() {
        let cases = [
            ("/strata plan", Command::Plan(None)),
            ("/strata plan staging", Command::Plan(env("staging"))),
            ("/strata apply prod", Command::Apply(env("prod"))),
            ("/strata apply", Command::Apply(None)),
            ("/strata unlock dev-eu_1", Command::Unlock(env("dev-eu_1"))),
            ("/strata unlock", Command::Unlock(None)),
            ("/strata help", Command::Help),
            ("/strata", Command::Help),
            ("  /strata   apply\tprod  ", Command::Apply(env("prod"))),
        ];
        for (body, expected) in cases {
            assert_eq!(Command::parse(body), Ok(Some(expected)), "{body:?}");
        }
    }

    #[test]
    fn reads_approvals_and_dispatches_with_inputs() {
        assert_eq!(
            Command::parse("/strata approve prod"),
            Ok(Some(Command::Approve(env("prod"))))
        );
        assert_eq!(
            Command::parse("/strata run deploy-code image_tag=1.42.0 note=a=b"),
            Ok(Some(Command::Run {
                workflow: "deploy-code".to_owned(),
                inputs: vec![
                    ("image_tag".to_owned(), "1.42.0".to_owned()),
                    ("note".to_owned(), "a=b".to_owned())
                ],
            }))
        );
        assert_eq!(
            Command::parse("/strata run"),
            Err(CommandError::MissingWorkflow)
        );
        assert_eq!(
            Command::parse("/strata run deploy-code image_tag"),
            Err(CommandError::InvalidInput {
                given: "image_tag".to_owned()
            })
        );
        assert_eq!(
            Command::parse("/strata run deploy-code image_tag=abc")
                .ok()
                .flatten()
                .map(|c| c.to_string()),
            Some("/strata run deploy-code image_tag=abc".to_owned())
        );
    }

    #[test]
    fn finds_the_first_command_line_after_free_text() {
        let body = "Looks good to me.\r\n\r\n/strata apply prod\r\n/strata apply dev\r\n";
        assert_eq!(Command::parse(body), Ok(Some(Command::Apply(env("prod")))));
    }

    #[test]
    fn ignores_comments_without_a_command_line() {
        let bodies = [
            "",
            "LGTM",
            "please run /strata apply prod when ready",
            "> /strata apply prod\n\nnot yet",
            "/stratafy everything",
            "```\n/strata apply prod\n```\nthat is how you deploy",
            "~~~text\n/strata apply prod\n~~~",
        ];
        for body in bodies {
            assert_eq!(Command::parse(body), Ok(None), "{body:?}");
        }
    }

    #[test]
    fn a_command_after_a_closed_fence_counts() {
        let body = "```\n/strata help\n```\n/strata plan dev";
        assert_eq!(Command::parse(body), Ok(Some(Command::Plan(env("dev")))));
    }

    #[test]
    fn a_misspelt_command_suggests_the_right_one() {
        let error = Command::parse("/strata aply prod");
        assert_eq!(
            error,
            Err(CommandError::UnknownSubcommand {
                given: "aply".to_owned()
            })
        );
        let help = error.err().and_then(|e| e.help());
        assert_eq!(help.as_deref(), Some("did you mean `apply`?"));
    }

    #[test]
    fn an_unrelated_word_lists_the_commands() {
        let help = Command::parse("/strata deploy prod")
            .err()
            .and_then(|e| e.help());
        assert_eq!(
            help.as_deref(),
            Some("commands are: `plan`, `apply`, `approve`, `run`, `unlock`, `help`")
        );
    }

    #[test]
    fn extra_arguments_are_refused() {
        assert_eq!(
            Command::parse("/strata apply prod staging"),
            Err(CommandError::UnexpectedArgument {
                command: "apply",
                takes: "at most one environment",
                argument: "staging".to_owned(),
            })
        );
        assert_eq!(
            Command::parse("/strata help me"),
            Err(CommandError::UnexpectedArgument {
                command: "help",
                takes: "no arguments",
                argument: "me".to_owned(),
            })
        );
    }

    #[test]
    fn environment_names_follow_the_file_stem_rules() {
        for name in ["Prod", "prod.toml", "../prod", "-p", "ü"] {
            let parsed = Command::parse(&format!("/strata plan {name}"));
            assert!(
                matches!(&parsed, Err(CommandError::InvalidEnvironment { name: n, .. }) if n == name),
                "{name}: {parsed:?}"
            );
        }
        let long = "a".repeat(65);
        assert!(Command::parse(&format!("/strata plan {long}")).is_err());
    }

    #[test]
    fn an_uppercase_environment_suggests_the_lowercase_one() {
        let help = Command::parse("/strata apply Prod")
            .err()
            .and_then(|e| e.help());
        assert_eq!(help.as_deref(), Some("did you mean `prod`?"));
    }

    #[test]
    fn the_reply_to_a_bad_command_carries_the_help_text() {
        let reply = Command::parse("/strata aply prod")
            .err()
            .map(|e| e.reply())
            .unwrap_or_default();
        assert!(reply.starts_with("**error:** unknown command `/strata aply`\n"));
        assert!(reply.contains("**help:** did you mean `apply`?"));
        assert!(reply.ends_with(&Command::help_text()));
    }

    #[test]
    fn a_huge_unknown_command_is_quoted_as_one_short_word() {
        let huge = format!("/strata {}", "x".repeat(65_536));
        let error = Command::parse(&huge).expect_err("unknown");
        let reply = error.reply();
        assert!(reply.len() < 4096, "{} bytes", reply.len());
        assert!(reply.starts_with(&format!(
            "**error:** unknown command `/strata {}…`",
            "x".repeat(40)
        )));
    }

    #[test]
    fn the_help_text_lists_every_command_and_runs_none_of_them() {
        let help = Command::help_text();
        for subcommand in SUBCOMMANDS {
            assert!(
                help.contains(&format!("`/strata {subcommand}")),
                "{subcommand}"
            );
        }
        assert_eq!(command_line(&help), None);
    }

    #[test]
    fn a_command_displays_as_typed() {
        assert_eq!(
            Command::Apply(env("prod")).to_string(),
            "/strata apply prod"
        );
        assert_eq!(Command::Help.to_string(), "/strata help");
    }
}
