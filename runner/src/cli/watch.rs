//! `strata watch`: follow a config repository's default branch and deploy
//! what lands on it, as the workflows say, without webhooks.
//!
//! The watcher is the pull-request server's worker without the HTTP front:
//! the same promotions, stages and gates, the same state database, so
//! `strata serve --watch` and `strata watch` behave alike. GitHub is
//! optional here: with a token or a GitHub App (as for `serve`) statuses,
//! deployments and drift issues are posted; without, they are logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::serve::{
    Environment, credentials, default_clones, drain, read_settings, run_service, start_notifier,
    wait_for_signal,
};
use crate::config::Diagnostic;
use crate::forge::{Forge, GitHub, GitHubConfig, Offline, RetryPolicy};
use crate::host::Host;
use crate::server::metrics::Metrics;
use crate::server::worker::{AwsClouds, Polled, Settings, WatchTarget, Worker};
use crate::state::State;

/// How often the watcher polls when not told.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Arguments of `strata watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between two polls: `2s`, `500ms`, `5m` [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, env = "STRATA_WATCH_INTERVAL")]
    pub interval: Option<Duration>,
    /// The state database: last commit seen, what each environment runs, drift; an SQLite
    /// file or a `postgres://` address [default: ./strata-state.db].
    #[arg(long, value_name = "FILE|URL", env = "STRATA_STATE")]
    pub state: Option<PathBuf>,
    /// The branch to follow [default: the remote's default branch].
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// The repository's `owner/name` on GitHub (for statuses, deployments and drift issues) [default: from the URL].
    #[arg(long, value_name = "OWNER/NAME")]
    pub name: Option<String>,
    /// Where the repository is mirrored [default: $STRATA_CACHE_DIR/clones, ~/.cache/strata/clones].
    #[arg(long, value_name = "DIR", env = "STRATA_CLONES")]
    pub clones: Option<PathBuf>,
    /// The GitHub API, for GitHub Enterprise [default: https://api.github.com].
    #[arg(long, value_name = "URL", env = "STRATA_GITHUB_URL")]
    pub github_url: Option<String>,
    /// A settings file with a `[server]` table [default: strata.toml in --repo, when a directory].
    #[arg(long, value_name = "FILE", env = "STRATA_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Poll once, deploy what is new, and exit.
    #[arg(long)]
    pub once: bool,
    /// Forget the last commit seen: the branch's tip is taken as new (after an intended force-push).
    #[arg(long)]
    pub reset: bool,
    /// Let applies delete stacks removed from an environment file.
    #[arg(long)]
    pub allow_delete: bool,
    /// Stacks of one wave deployed at the same time [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: Option<u16>,
    /// S3 bucket for templates over 51,200 bytes.
    #[arg(long, value_name = "BUCKET", env = "STRATA_TEMPLATE_BUCKET")]
    pub template_bucket: Option<String>,
}

/// Parse a poll interval: `500ms`, or a duration as workflows write them
/// (`90s`, `5m`, `1h30m`).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return match ms.parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(format!(
                "`{text}` is not an interval: write e.g. `500ms`, `2s`, `5m`"
            )),
        };
    }
    if text.chars().any(|c| c.is_ascii_digit())
        && text.chars().filter(char::is_ascii_digit).all(|c| c == '0')
    {
        return Err(format!(
            "`{text}` is zero: the interval must be longer, e.g. `30s`"
        ));
    }
    crate::workflow::parse_duration(text)
}

struct Resolved {
    /// Limits of every module and policy call (`[sandbox]` of the settings file).
    limits: crate::host::Limits,
    target: WatchTarget,
    state: PathBuf,
    clones: PathBuf,
    github: Option<GitHubConfig>,
    settings: Settings,
}

/// Run `strata watch`.
pub fn run(repo: &Path, cache_dir: Option<PathBuf>, args: &Args) -> Exit {
    run_service(resolve(repo, args, &Environment::process()), |resolved| {
        watch(resolved, cache_dir, args)
    })
}

fn resolve(repo: &Path, args: &Args, env: &Environment) -> Result<Resolved, Vec<Diagnostic>> {
    let location = repo.to_string_lossy().into_owned();
    let settings_dir = if location.contains("://") {
        Path::new(".")
    } else {
        repo
    };
    let table = read_settings(settings_dir, args.config.as_deref())?;
    let interval = match (args.interval, table.watch_interval.as_deref()) {
        (Some(interval), _) => interval,
        (None, Some(text)) => parse_interval(text)
            .map_err(|e| vec![Diagnostic::error(format!("`[server] watch_interval`: {e}"))])?,
        (None, None) => DEFAULT_INTERVAL,
    };
    let target = WatchTarget::new(
        &location,
        args.name.as_deref().or(table.watch_name.as_deref()),
        args.branch.clone().or(table.watch_branch.clone()),
        interval,
    )
    .map_err(|e| {
        vec![Diagnostic::error(e).with_help(
            "--repo takes a path to a git repository (a work tree or a bare mirror) or its URL",
        )]
    })?;
    // The client itself is made inside the runtime.
    let github = credentials(env, &table)?.map(|auth| GitHubConfig {
        base_url: args.github_url.clone().or(table.github_url.clone()),
        auth,
        retry: RetryPolicy::default(),
    });
    let poll = env.poll();
    let settings = Settings {
        allow_delete: args.allow_delete || table.allow_delete.unwrap_or(false),
        concurrency: usize::from(args.concurrency.or(table.concurrency).unwrap_or(4).max(1)),
        template_bucket: args
            .template_bucket
            .clone()
            .or(table.template_bucket.clone()),
        poll,
        ..Settings::default()
    };
    let default_clones = default_clones();
    Ok(Resolved {
        limits: crate::workspace::limits(table.sandbox),
        target,
        state: args
            .state
            .clone()
            .or(table.state.clone())
            .unwrap_or_else(|| PathBuf::from("strata-state.db")),
        clones: args
            .clones
            .clone()
            .or(table.clones.clone())
            .unwrap_or(default_clones),
        github,
        settings,
    })
}

async fn watch(
    resolved: Resolved,
    cache_dir: Option<PathBuf>,
    args: &Args,
) -> Result<Exit, Diagnostic> {
    let state = State::connect(&resolved.state.to_string_lossy()).map_err(|e| {
        Diagnostic::error(e.to_string())
            .with_help_opt(e.help())
            .as_failure()
    })?;
    let forge: Arc<dyn Forge> = match resolved.github {
        Some(config) => Arc::new(GitHub::new(config).map_err(|e| {
            Diagnostic::error(e.to_string())
                .with_help("check --github-url and the credentials")
                .as_failure()
        })?),
        None => Arc::new(Offline),
    };
    let target = resolved.target;
    let full_name = target.repo.full_name();
    if args.reset {
        let reset = state
            .reset_watch(&full_name, target.branch.as_deref())
            .map_err(|e| Diagnostic::error(e.to_string()).as_failure())?;
        if reset {
            eprintln!(
                "strata watch: forgot the last commit seen of `{full_name}`; its tip is deployed as new"
            );
        }
    }
    let host = Host::new(resolved.limits, cache_dir)
        .map_err(|e| Diagnostic::error(e.to_string()).as_failure())?;
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::new());
    let mut worker = Worker::new(
        forge,
        state,
        Arc::new(AwsClouds::default()),
        Arc::new(host),
        resolved.clones,
        resolved.settings,
        shutdown.clone(),
    )
    .with_metrics(Arc::clone(&metrics));
    // Workflows' `[notify]` webhooks hear of applies, waiting gates, drift.
    let notifier = start_notifier(&metrics, &shutdown);
    if let Some(notifier) = &notifier {
        worker = worker.with_notifier(notifier.clone());
    }
    let worker = Arc::new(worker);
    worker.reconcile().await;
    let exit = run_watcher(&worker, target, args, &shutdown).await;
    drain(notifier.as_ref()).await;
    exit
}

async fn run_watcher(
    worker: &Arc<Worker>,
    target: WatchTarget,
    args: &Args,
    shutdown: &CancellationToken,
) -> Result<Exit, Diagnostic> {
    let full_name = target.repo.full_name();

    if args.once {
        return match worker.poll(&target).await {
            Ok(polled) => {
                eprintln!("strata watch: {}", describe(&full_name, &polled));
                Ok(match polled {
                    Polled::Refused { .. } => Exit::Failed,
                    _ => Exit::Ok,
                })
            }
            Err(failure) => {
                Err(Diagnostic::error(format!("cannot poll `{full_name}`: {failure}")).as_failure())
            }
        };
    }

    let signals = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: running applies finish their current CloudFormation operations");
        signals.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    // No webhooks here: the queue stays empty, the worker only ticks
    // (soak times, deploy windows) until the watcher stops.
    let (_jobs, queue) = mpsc::channel(1);
    let running = tokio::spawn(Arc::clone(worker).run(queue));
    // The test harness and scripts wait for this line on stderr.
    eprintln!(
        "strata watch: watching {} every {}",
        full_name,
        crate::workflow::format_duration(target.interval)
    );
    Arc::clone(worker).watch(target).await;
    let _ = running.await;
    tracing::info!("stopped");
    Ok(Exit::Ok)
}

fn describe(repo: &str, polled: &Polled) -> String {
    let short = |sha: &str| sha.chars().take(7).collect::<String>();
    match polled {
        Polled::Unchanged { tip } => format!("`{repo}` is at {} already", short(tip)),
        Polled::Landed { before: None, tip } => {
            format!("`{repo}` at {}: deployed as the workflows say", short(tip))
        }
        Polled::Landed {
            before: Some(before),
            tip,
        } => format!(
            "`{repo}` {}..{}: deployed as the workflows say",
            short(before),
            short(tip)
        ),
        Polled::Refused { last_seen, tip, .. } => format!(
            "refused `{repo}` at {}: it does not contain {}, the last commit deployed (a force-push); run with --reset to take it",
            short(tip),
            short(last_seen)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_milliseconds_and_workflow_durations() {
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_interval("0ms").is_err());
        assert_eq!(
            parse_interval("0s"),
            Err("`0s` is zero: the interval must be longer, e.g. `30s`".to_owned())
        );
        assert!(parse_interval("soon").is_err());
    }
}
