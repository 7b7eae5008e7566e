//! `strata locks list|release`: the environment locks of `strata serve`,
//! read and released in its state database (an SQLite file, or the
//! PostgreSQL database its replicas share), from any machine that reaches it.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::Exit;
use crate::config::Diagnostic;
use crate::config::diagnostic::{Report, Style};
use crate::state::{Lock, State};

/// Arguments of `strata locks`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state database `strata serve` uses: an SQLite file or a
    /// `postgres://` address [default: ./strata-state.db].
    #[arg(long, value_name = "FILE|URL", env = "STRATA_STATE", global = true)]
    pub state: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `strata locks` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List every held lock: repository, environment, the pull request that
    /// holds it, who took it, since when; and, with replicas, which replica
    /// is applying what.
    List {
        /// Only this repository's locks (`OWNER/NAME`).
        #[arg(long, value_name = "OWNER/NAME")]
        repo_name: Option<String>,
        /// `text` (a table) or `json`.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Release the lock on an environment, whoever holds it (as
    /// `/strata unlock` does for its pull request's own).
    Release {
        /// The repository (`OWNER/NAME`, as the pull requests' URLs say).
        repo_name: String,
        /// The environment (`prod`).
        environment: String,
    },
}

/// Run `strata locks`.
pub fn run(args: &Args) -> Exit {
    match run_inner(args) {
        Ok(exit) => exit,
        Err(diagnostic) => {
            let report = Report::new(Style::for_stderr());
            let _ = write!(std::io::stderr(), "{}", report.render_all(&[diagnostic]));
            Exit::Failed
        }
    }
}

fn run_inner(args: &Args) -> Result<Exit, Diagnostic> {
    let location = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from("strata-state.db"));
    let text = location.to_string_lossy().into_owned();
    if !crate::state::is_address(&text) && !location.is_file() {
        return Err(
            Diagnostic::error(format!("no state database at `{}`", location.display())).with_help(
                "pass the file or address `strata serve --state` uses (or STRATA_STATE)",
            ),
        );
    }
    let state = State::connect(&text)
        .map_err(|e| Diagnostic::error(e.to_string()).with_help_opt(e.help()))?;
    let failed =
        |e: crate::state::StateError| Diagnostic::error(e.to_string()).with_help_opt(e.help());
    match &args.action {
        Action::List { repo_name, format } => {
            let locks = match repo_name {
                Some(repo) => state.locks(repo),
                None => state.all_locks(),
            }
            .map_err(failed)?;
            let leases = state.leases().map_err(failed)?;
            let now = SystemTime::now();
            let mut out = String::new();
            if format == "json" {
                let json = serde_json::json!({
                    "locks": locks.iter().map(|lock| serde_json::json!({
                        "repo": lock.repo,
                        "environment": lock.environment,
                        "pr": lock.holder.pr,
                        "url": lock.holder.url,
                        "user": lock.holder.user,
                        "head_sha": lock.holder.head_sha,
                        "age_seconds": age(lock, now).as_secs(),
                    })).collect::<Vec<_>>(),
                    "leases": leases.iter().map(|lease| serde_json::json!({
                        "name": lease.name,
                        "replica": lease.owner,
                        "held_seconds": now.duration_since(lease.acquired_at).unwrap_or_default().as_secs(),
                    })).collect::<Vec<_>>(),
                });
                out = format!("{json:#}\n");
            } else if locks.is_empty() {
                out.push_str("no locks held\n");
            } else {
                let rows: Vec<[String; 5]> = locks
                    .iter()
                    .map(|lock| {
                        [
                            lock.repo.clone(),
                            lock.environment.clone(),
                            format!("#{}", lock.holder.pr),
                            format!("@{}", lock.holder.user),
                            human(age(lock, now)),
                        ]
                    })
                    .collect();
                let header = ["REPOSITORY", "ENVIRONMENT", "HELD BY", "TAKEN BY", "AGE"];
                let widths: Vec<usize> = (0..5)
                    .map(|i| {
                        rows.iter()
                            .map(|r| r[i].chars().count())
                            .chain([header[i].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
                    let line: Vec<String> = row
                        .iter()
                        .zip(&widths)
                        .map(|(cell, width)| format!("{cell:<width$}"))
                        .collect();
                    out.push_str(line.join("  ").trim_end());
                    out.push('\n');
                }
            }
            if format != "json" {
                for lease in &leases {
                    out.push_str(&format!(
                        "replica `{}` holds `{}` (for {})\n",
                        lease.owner,
                        lease.name,
                        human(now.duration_since(lease.acquired_at).unwrap_or_default())
                    ));
                }
            }
            let _ = std::io::stdout().write_all(out.as_bytes());
            Ok(Exit::Ok)
        }
        Action::Release {
            repo_name,
            environment,
        } => {
            let held = state.lock_of(repo_name, environment).map_err(failed)?;
            let Some(lock) = held else {
                return Err(Diagnostic::error(format!(
                    "no lock on environment `{environment}` of `{repo_name}`"
                ))
                .with_help("`strata locks list` shows the locks held"));
            };
            state.unlock(repo_name, environment, None).map_err(failed)?;
            println!(
                "released `{environment}` of `{repo_name}`, held by #{} (@{}) for {}",
                lock.holder.pr,
                lock.holder.user,
                human(age(&lock, SystemTime::now()))
            );
            Ok(Exit::Ok)
        }
    }
}

fn age(lock: &Lock, now: SystemTime) -> Duration {
    now.duration_since(lock.acquired_at).unwrap_or_default()
}

/// `42s`, `3m`, `5h 2m`, `2d 3h`.
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d {}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_sensible_units() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(180)), "3m");
        assert_eq!(human(Duration::from_secs(5 * 3600 + 120)), "5h 2m");
        assert_eq!(human(Duration::from_secs(2 * 86_400 + 3 * 3600)), "2d 3h");
    }
}
