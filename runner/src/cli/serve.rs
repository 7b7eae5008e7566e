//! `strata serve`: the pull-request server.
//!
//! Settings come from flags, then environment variables, then the `[server]`
//! table of `strata.toml`, then defaults. Secrets (the webhook secret, a
//! token, an app's private key) come only from the environment or files, so
//! they never sit in a config repository or a process list.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::config::Diagnostic;
use crate::config::diagnostic::{Report, Style};
use crate::forge::{Auth, Forge, GitHub, GitHubConfig, RetryPolicy};
use crate::host::Host;
use crate::notify::{HttpSender, Notifier, Policy};
use crate::server::http::{Front, serve};
use crate::server::metrics::Metrics;
use crate::server::worker::{AwsClouds, DEFAULT_LEASE, Replication, Settings, WatchTarget, Worker};
use crate::state::State;

/// Arguments of `strata serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on for GitHub's webhooks [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "STRATA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The state database (locks, saved plans, runs, the job queue): an SQLite
    /// file for one server, or `postgres://USER@HOST:PORT/DB[?sslmode=require]`
    /// shared by several replicas; its password from STRATA_STATE_PASSWORD or
    /// STRATA_STATE_PASSWORD_FILE [default: ./strata-state.db].
    #[arg(long, value_name = "FILE|URL", env = "STRATA_STATE")]
    pub state: Option<PathBuf>,
    /// Replicas: how long a replica's jobs and leases stay its own without a
    /// heartbeat; a replica that dies is taken over after this [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = super::watch::parse_interval, env = "STRATA_LEASE")]
    pub lease: Option<Duration>,
    /// Where repositories are mirrored [default: $STRATA_CACHE_DIR/clones, ~/.cache/strata/clones].
    #[arg(long, value_name = "DIR", env = "STRATA_CLONES")]
    pub clones: Option<PathBuf>,
    /// The GitHub API, for GitHub Enterprise: `https://github.example.com/api/v3`
    /// [default: https://api.github.com].
    #[arg(long, value_name = "URL", env = "STRATA_GITHUB_URL")]
    pub github_url: Option<String>,
    /// A settings file with a `[server]` table [default: strata.toml in --repo, when present].
    #[arg(long, value_name = "FILE", env = "STRATA_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Let `/strata apply` run without an approving review.
    #[arg(long)]
    pub allow_unapproved: bool,
    /// Let `/strata apply` run on a pull request that does not merge cleanly.
    #[arg(long)]
    pub allow_unmergeable: bool,
    /// Add CloudFormation change sets to pull-request plans (needs AWS credentials).
    #[arg(long)]
    pub cloud_plan: bool,
    /// Let applies delete stacks removed from an environment file.
    #[arg(long)]
    pub allow_delete: bool,
    /// Stacks of one wave deployed at the same time [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: Option<u16>,
    /// S3 bucket for templates over 51,200 bytes.
    #[arg(long, value_name = "BUCKET", env = "STRATA_TEMPLATE_BUCKET")]
    pub template_bucket: Option<String>,
    /// Also watch this config repository (a path or URL): poll its default
    /// branch and deploy new commits as the workflows say, as `strata watch`.
    #[arg(long, value_name = "DIR|URL", env = "STRATA_WATCH")]
    pub watch: Option<String>,
    /// Time between two polls of --watch [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = super::watch::parse_interval)]
    pub watch_interval: Option<Duration>,
    /// The branch --watch follows [default: the remote's default branch].
    #[arg(long, value_name = "BRANCH")]
    pub watch_branch: Option<String>,
    /// The watched repository's `owner/name` on GitHub [default: from the URL].
    #[arg(long, value_name = "OWNER/NAME")]
    pub watch_name: Option<String>,
}

/// The `[server]` table of `strata.toml`: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerTable {
    pub(super) listen: Option<SocketAddr>,
    pub(super) state: Option<PathBuf>,
    pub(super) lease: Option<String>,
    pub(super) clones: Option<PathBuf>,
    pub(super) github_url: Option<String>,
    pub(super) app_id: Option<u64>,
    pub(super) installation_id: Option<u64>,
    pub(super) app_key_file: Option<PathBuf>,
    pub(super) require_approval: Option<bool>,
    pub(super) require_mergeable: Option<bool>,
    pub(super) cloud_plan: Option<bool>,
    pub(super) allow_delete: Option<bool>,
    pub(super) concurrency: Option<u16>,
    pub(super) template_bucket: Option<String>,
    pub(super) progress_interval_secs: Option<u64>,
    pub(super) watch: Option<String>,
    pub(super) watch_interval: Option<String>,
    pub(super) watch_branch: Option<String>,
    pub(super) watch_name: Option<String>,
    /// The file's `[sandbox]`: the limits of every module and policy call
    /// this server makes (never a pull request's own `strata.toml`, which
    /// could raise them).
    #[serde(skip)]
    pub(super) sandbox: crate::config::repo::SandboxSettings,
}

#[derive(Debug, Default, Deserialize)]
struct SettingsFile {
    #[serde(default)]
    server: ServerTable,
    // The rest of strata.toml is the repository's: not read here.
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

/// Everything `serve` needs, resolved.
struct Resolved {
    /// Limits of every module and policy call (`[sandbox]` of the settings file).
    limits: crate::host::Limits,
    listen: SocketAddr,
    state: PathBuf,
    lease: Duration,
    clones: PathBuf,
    github: GitHubConfig,
    secret: Vec<u8>,
    settings: Settings,
    watch: Option<WatchTarget>,
}

/// Run `strata serve`.
pub fn run(repo: &Path, cache_dir: Option<PathBuf>, args: &Args) -> Exit {
    run_service(
        resolve(repo, args, &Environment::process()),
        |resolved| async move {
            serve_until_stopped(resolved, cache_dir)
                .await
                .map(|()| Exit::Ok)
        },
    )
}

/// A long-running command (`serve`, `watch`): settings resolved (bad ones
/// exit 2), logging set up, `body` run on the runtime; a failure to keep
/// running exits 1.
pub(super) fn run_service<R, F, Fut>(resolved: Result<R, Vec<Diagnostic>>, body: F) -> Exit
where
    F: FnOnce(R) -> Fut,
    Fut: std::future::Future<Output = Result<Exit, Diagnostic>>,
{
    let report = Report::new(Style::for_stderr());
    let print = |diagnostics: &[Diagnostic]| {
        eprint!("{}", report.render_all(diagnostics));
    };
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(diagnostics) => {
            print(&diagnostics);
            return Exit::BadInput;
        }
    };
    init_logging();
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(diagnostic) => {
            print(&[diagnostic]);
            return Exit::Failed;
        }
    };
    match runtime.block_on(body(resolved)) {
        Ok(exit) => exit,
        Err(diagnostic) => {
            print(&[diagnostic]);
            Exit::Failed
        }
    }
}

/// The notifier of the workflows' `[notify]` webhooks, counted in
/// `metrics`; `None` (with a warning) when no HTTP client can be made.
pub(super) fn start_notifier(metrics: &Metrics, shutdown: &CancellationToken) -> Option<Notifier> {
    match HttpSender::new() {
        Ok(sender) => Some(Notifier::start(
            Arc::new(sender),
            Policy::default(),
            metrics.notifications(),
            shutdown.clone(),
        )),
        Err(error) => {
            tracing::warn!(%error, "notifications are off");
            None
        }
    }
}

/// Let what the last applies announced go out, within one attempt's time.
pub(super) async fn drain(notifier: Option<&Notifier>) {
    if let Some(notifier) = notifier
        && tokio::time::timeout(Policy::default().timeout, notifier.idle())
            .await
            .is_err()
    {
        tracing::warn!(
            unsent = notifier.pending(),
            "stopped before every notification was sent"
        );
    }
}

async fn serve_until_stopped(
    resolved: Resolved,
    cache_dir: Option<PathBuf>,
) -> Result<(), Diagnostic> {
    let state = State::connect(&resolved.state.to_string_lossy()).map_err(|e| {
        Diagnostic::error(e.to_string())
            .with_help_opt(e.help())
            .as_failure()
    })?;
    // Every server takes its jobs from the state database's queue, so a
    // delivery survives a crash; on PostgreSQL, several replicas share it.
    let replication = Replication::new(resolved.lease);
    let forge: Arc<dyn Forge> = Arc::new(GitHub::new(resolved.github).map_err(|e| {
        Diagnostic::error(e.to_string())
            .with_help("check --github-url and the credentials")
            .as_failure()
    })?);
    let host = Host::new(resolved.limits, cache_dir)
        .map_err(|e| Diagnostic::error(e.to_string()).as_failure())?;
    let listener = tokio::net::TcpListener::bind(resolved.listen)
        .await
        .map_err(|e| {
            Diagnostic::error(format!("cannot listen on {}: {e}", resolved.listen))
                .with_help("pick another address with --listen or STRATA_LISTEN")
                .as_failure()
        })?;
    let address = listener.local_addr().unwrap_or(resolved.listen);

    let shutdown = CancellationToken::new();
    let (jobs, queue) = mpsc::channel(256);
    let metrics = Arc::new(Metrics::new());
    let front = Arc::new(
        Front::new(resolved.secret, Arc::new(state.clone()), jobs)
            .with_metrics(Arc::clone(&metrics))
            .with_database(Arc::new(state.clone()))
            .with_queue(Arc::new(state.clone()), Arc::clone(&replication.wake)),
    );
    let mut worker = Worker::new(
        forge,
        state,
        Arc::new(AwsClouds::default()),
        Arc::new(host),
        resolved.clones.clone(),
        resolved.settings,
        shutdown.clone(),
    )
    .with_metrics(Arc::clone(&metrics))
    .with_replication(replication.clone());
    let notifier = start_notifier(&metrics, &shutdown);
    if let Some(notifier) = &notifier {
        worker = worker.with_notifier(notifier.clone());
    }
    let worker = Arc::new(worker);
    let state_shown = crate::state::redact(&resolved.state.to_string_lossy());

    // A last word when a signal arrives; the second one is not waited for.
    let signals = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutting down: no new deliveries; running applies finish their current CloudFormation operations"
        );
        signals.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });

    worker.reconcile().await;
    tracing::info!(
        %address,
        state = %state_shown,
        replica = %replication.replica.id,
        clones = %resolved.clones.display(),
        "listening for GitHub webhooks on http://{address}/"
    );
    // The test harness and scripts wait for this line on stderr.
    eprintln!("strata serve: listening on http://{address}/");

    let listening = tokio::spawn(serve(listener, front, shutdown.clone()));
    let watching = resolved
        .watch
        .map(|target| tokio::spawn(Arc::clone(&worker).watch(target)));
    Arc::clone(&worker).run(queue).await;
    if let Some(watching) = watching {
        let _ = watching.await;
    }
    let _ = listening.await;
    drain(notifier.as_ref()).await;
    tracing::info!("stopped");
    Ok(())
}

pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs go to stderr: text by default, one JSON object per line with
/// `STRATA_LOG_FORMAT=json` (each carrying the fields of the spans it is in:
/// `repo`, `env`, `pr`, `commit` of a plan or an apply). `STRATA_LOG` filters
/// (`info`, `strata=debug`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = || {
        EnvFilter::try_from_env("STRATA_LOG")
            .unwrap_or_else(|_| EnvFilter::new("info,octocrab=warn,aws=warn,hyper=warn"))
    };
    let format = std::env::var("STRATA_LOG_FORMAT").unwrap_or_default();
    match format.trim().to_ascii_lowercase().as_str() {
        "json" => {
            let _ = tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_env_filter(filter())
                .with_writer(std::io::stderr)
                .try_init();
        }
        other => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .try_init();
            if !other.is_empty() && other != "text" {
                tracing::warn!(
                    value = other,
                    "unknown `STRATA_LOG_FORMAT`; logging text (help: use `text` or `json`)"
                );
            }
        }
    }
}

/// The environment variables `serve` reads, so tests can give their own.
pub(super) struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    pub(super) fn process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// How often CloudFormation is polled during an apply (first, then
    /// at most): `STRATA_POLL_MS` for tests and demos, else the default.
    pub(super) fn poll(&self) -> (Duration, Duration) {
        match self
            .get("STRATA_POLL_MS")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(ms) => (Duration::from_millis(ms), Duration::from_millis(ms * 4)),
            None => Settings::default().poll,
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

fn resolve(repo: &Path, args: &Args, env: &Environment) -> Result<Resolved, Vec<Diagnostic>> {
    let table = read_settings(repo, args.config.as_deref())?;

    let Some(secret) = env.get("STRATA_WEBHOOK_SECRET") else {
        return Err(vec![
            Diagnostic::error("refusing to start without a webhook secret: anyone could send deliveries")
                .with_help("set STRATA_WEBHOOK_SECRET to the secret configured on the GitHub webhook (e.g. `openssl rand -hex 32`)"),
        ]);
    };

    let Some(auth) = credentials(env, &table)? else {
        return Err(vec![
            Diagnostic::error("no GitHub credentials: set a token or a GitHub App")
                .with_help("set STRATA_GITHUB_TOKEN, or STRATA_GITHUB_APP_ID, STRATA_GITHUB_INSTALLATION_ID and STRATA_GITHUB_APP_KEY_FILE"),
        ]);
    };

    let default_clones = default_clones();
    let listen = args
        .listen
        .or(table.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let concurrency = args.concurrency.or(table.concurrency).unwrap_or(4);
    if concurrency == 0 {
        return Err(vec![Diagnostic::error(
            "`[server] concurrency` must be at least 1",
        )]);
    }
    let poll = env.poll();
    let settings = Settings {
        require_approval: !args.allow_unapproved && table.require_approval.unwrap_or(true),
        require_mergeable: !args.allow_unmergeable && table.require_mergeable.unwrap_or(true),
        cloud_plan: args.cloud_plan || table.cloud_plan.unwrap_or(false),
        allow_delete: args.allow_delete || table.allow_delete.unwrap_or(false),
        concurrency: usize::from(concurrency),
        poll,
        template_bucket: args.template_bucket.clone().or(table.template_bucket),
        progress_interval: table
            .progress_interval_secs
            .map_or(Settings::default().progress_interval, Duration::from_secs),
    };
    let watch = match args.watch.clone().or(table.watch.clone()) {
        Some(location) => {
            let interval = match (args.watch_interval, table.watch_interval.as_deref()) {
                (Some(interval), _) => interval,
                (None, Some(text)) => super::watch::parse_interval(text).map_err(|e| {
                    vec![Diagnostic::error(format!("`[server] watch_interval`: {e}"))]
                })?,
                (None, None) => super::watch::DEFAULT_INTERVAL,
            };
            let target = WatchTarget::new(
                &location,
                args.watch_name.as_deref().or(table.watch_name.as_deref()),
                args.watch_branch.clone().or(table.watch_branch.clone()),
                interval,
            )
            .map_err(|e| {
                vec![Diagnostic::error(e).with_help(
                    "--watch takes a path to a git repository or its URL (https://github.com/OWNER/NAME.git)",
                )]
            })?;
            Some(target)
        }
        None => None,
    };
    let lease = match (args.lease, table.lease.as_deref()) {
        (Some(lease), _) => lease,
        (None, Some(text)) => super::watch::parse_interval(text).map_err(|e| {
            vec![
                Diagnostic::error(format!("`[server] lease`: {e}"))
                    .with_help("write it as a duration: `30s`, `2m`"),
            ]
        })?,
        (None, None) => DEFAULT_LEASE,
    };
    Ok(Resolved {
        limits: crate::workspace::limits(table.sandbox),
        watch,
        listen,
        state: args
            .state
            .clone()
            .or(table.state)
            .unwrap_or_else(|| PathBuf::from("strata-state.db")),
        lease,
        clones: args
            .clones
            .clone()
            .or(table.clones)
            .unwrap_or(default_clones),
        github: GitHubConfig {
            base_url: args.github_url.clone().or(table.github_url),
            auth,
            retry: RetryPolicy::default(),
        },
        secret: secret.as_bytes().to_vec(),
        settings,
    })
}

/// GitHub credentials from the environment (or the `[server]` table's app
/// settings): a token, or a complete GitHub App; `None` when none is set.
pub(super) fn credentials(
    env: &Environment,
    table: &ServerTable,
) -> Result<Option<Auth>, Vec<Diagnostic>> {
    let auth = if let Some(token) = env.get("STRATA_GITHUB_TOKEN") {
        Auth::Token(token.to_owned())
    } else {
        let app_id = env
            .get("STRATA_GITHUB_APP_ID")
            .map(|v| parse_number("STRATA_GITHUB_APP_ID", v))
            .transpose()?
            .or(table.app_id);
        let installation_id = env
            .get("STRATA_GITHUB_INSTALLATION_ID")
            .map(|v| parse_number("STRATA_GITHUB_INSTALLATION_ID", v))
            .transpose()?
            .or(table.installation_id);
        let key = match (
            env.get("STRATA_GITHUB_APP_KEY"),
            env.get("STRATA_GITHUB_APP_KEY_FILE"),
        ) {
            (Some(key), _) => Some(key.to_owned()),
            (None, Some(file)) => Some(read_key(Path::new(file))?),
            (None, None) => table.app_key_file.as_deref().map(read_key).transpose()?,
        };
        match (app_id, installation_id, key) {
            (Some(app_id), Some(installation_id), Some(private_key_pem)) => Auth::App {
                app_id,
                private_key_pem,
                installation_id,
            },
            (None, None, None) => return Ok(None),
            (app_id, installation_id, key) => {
                let missing: Vec<&str> = [
                    app_id.is_none().then_some("STRATA_GITHUB_APP_ID"),
                    installation_id
                        .is_none()
                        .then_some("STRATA_GITHUB_INSTALLATION_ID"),
                    key.is_none().then_some("STRATA_GITHUB_APP_KEY_FILE"),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(vec![
                    Diagnostic::error(format!(
                        "incomplete GitHub App credentials: {} missing",
                        missing.join(", ")
                    ))
                    .with_help(
                        "a GitHub App needs its id, the installation id and its private key (PEM)",
                    ),
                ]);
            }
        }
    };
    Ok(Some(auth))
}

/// Where repositories are mirrored when not told: `$STRATA_CACHE_DIR/clones`
/// (or the platform cache directory's).
pub(super) fn default_clones() -> PathBuf {
    crate::host::default_cache_dir()
        .map(|d| d.join("clones"))
        .unwrap_or_else(|| PathBuf::from(".strata-clones"))
}

fn parse_number(name: &str, value: &str) -> Result<u64, Vec<Diagnostic>> {
    value.trim().parse().map_err(|_| {
        vec![Diagnostic::error(format!(
            "{name} must be a number, not `{value}`"
        ))]
    })
}

fn read_key(path: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![
            Diagnostic::error(format!(
                "cannot read the GitHub App's private key `{}`: {e}",
                path.display()
            ))
            .with_help("download a private key from the app's settings page (a .pem file)"),
        ]
    })
}

pub(super) fn read_settings(
    repo: &Path,
    config: Option<&Path>,
) -> Result<ServerTable, Vec<Diagnostic>> {
    let (path, required) = match config {
        Some(path) => (path.to_path_buf(), true),
        None => (repo.join(crate::config::repo::FILE_NAME), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(ServerTable::default());
        }
        Err(e) => {
            return Err(vec![Diagnostic::error(format!(
                "cannot read `{}`: {e}",
                path.display()
            ))]);
        }
    };
    let file: SettingsFile = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start].matches('\n').count() + 1;
                let column = span.start - text[..span.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        vec![Diagnostic::error(format!(
            "`{}{at}`: {}",
            path.display(),
            e.message()
        ))
        .with_help("`[server]` takes listen, state, lease, clones, github_url, app_id, installation_id, app_key_file, require_approval, require_mergeable, cloud_plan, allow_delete, concurrency, template_bucket, progress_interval_secs, watch, watch_interval, watch_branch, watch_name")]
    })?;
    let mut table = file.server;
    // `[sandbox]`, checked as `validate` checks it.
    let source = crate::config::SourceFile::new(path.display().to_string(), text.clone());
    table.sandbox = crate::config::RepoConfig::parse(source)?.sandbox;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            listen: None,
            state: None,
            lease: None,
            clones: None,
            github_url: None,
            config: None,
            allow_unapproved: false,
            allow_unmergeable: false,
            cloud_plan: false,
            allow_delete: false,
            concurrency: None,
            template_bucket: None,
            watch: None,
            watch_interval: None,
            watch_branch: None,
            watch_name: None,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment {
            vars: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn messages(result: Result<Resolved, Vec<Diagnostic>>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.into_iter().map(|d| d.message).collect(),
        }
    }

    #[test]
    fn refuses_to_start_without_a_webhook_secret() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let found = messages(resolve(
            dir.path(),
            &args(),
            &env(&[("STRATA_GITHUB_TOKEN", "t")]),
        ));
        assert_eq!(
            found,
            ["refusing to start without a webhook secret: anyone could send deliveries"]
        );
    }

    #[test]
    fn names_the_missing_parts_of_app_credentials() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let found = messages(resolve(
            dir.path(),
            &args(),
            &env(&[
                ("STRATA_WEBHOOK_SECRET", "s"),
                ("STRATA_GITHUB_APP_ID", "12"),
            ]),
        ));
        assert_eq!(
            found,
            [
                "incomplete GitHub App credentials: STRATA_GITHUB_INSTALLATION_ID, STRATA_GITHUB_APP_KEY_FILE missing"
            ]
        );
    }

    #[test]
    fn flags_win_over_the_server_table_which_wins_over_defaults() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(
            dir.path().join("strata.toml"),
            "[sandbox]\ntimeout_ms = 1000\n\n[server]\nlisten = \"0.0.0.0:9000\"\nstate = \"/var/lib/strata/state.db\"\nrequire_approval = false\nconcurrency = 2\n",
        )
        .expect("write strata.toml");
        let mut flags = args();
        flags.concurrency = Some(8);
        let resolved = resolve(
            dir.path(),
            &flags,
            &env(&[("STRATA_WEBHOOK_SECRET", "s"), ("STRATA_GITHUB_TOKEN", "t")]),
        )
        .map_err(|d| d.into_iter().map(|d| d.message).collect::<Vec<_>>())
        .expect("resolves");
        assert_eq!(resolved.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(resolved.state, PathBuf::from("/var/lib/strata/state.db"));
        assert_eq!(resolved.settings.concurrency, 8);
        assert!(!resolved.settings.require_approval);
        assert!(resolved.settings.require_mergeable);
        // The file's `[sandbox]` sets the limits of the server's renders.
        assert_eq!(
            resolved.limits.timeout,
            std::time::Duration::from_millis(1000)
        );
        assert_eq!(resolved.limits.memory_bytes, 64 << 20, "the default");
    }

    #[test]
    fn a_sandbox_setting_out_of_range_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(
            dir.path().join("strata.toml"),
            "[sandbox]
memory_mib = 0
",
        )
        .expect("write strata.toml");
        let found = messages(resolve(
            dir.path(),
            &args(),
            &env(&[("STRATA_WEBHOOK_SECRET", "s"), ("STRATA_GITHUB_TOKEN", "t")]),
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("memory_mib"), "{found:?}");
    }

    #[test]
    fn an_unknown_server_key_is_named_with_its_place() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(
            dir.path().join("strata.toml"),
            "[server]\nlisten = \"127.0.0.1:1\"\nrequire_aproval = true\n",
        )
        .expect("write strata.toml");
        let found = messages(resolve(
            dir.path(),
            &args(),
            &env(&[("STRATA_WEBHOOK_SECRET", "s"), ("STRATA_GITHUB_TOKEN", "t")]),
        ));
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("strata.toml:3:1"), "{found:?}");
        assert!(found[0].contains("require_aproval"), "{found:?}");
    }
}
