//! The command line: one file per subcommand. Each returns an [`Exit`]; this
//! file parses arguments, prints diagnostics and maps the result to the
//! process exit code (0 ok, 1 an operation failed, 2 bad input, 3 drift found).

mod apply;
mod drift;
mod graph;
mod locks;
pub mod module;
mod modules;
mod plan;
mod render;
mod run;
pub mod schema;
mod serve;
mod validate;
mod watch;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Diagnostic;
use crate::config::diagnostic::{Kind, Report, Style};
use crate::host::{self, Host};
use crate::workspace::Workspace;

/// Strata renders CloudFormation from per-environment TOML files through
/// sandboxed WebAssembly modules, and orders the stacks into deploy waves.
#[derive(Debug, Parser)]
#[command(
    name = "strata",
    bin_name = "strata",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  strata validate                      check every environment and workflow\n  strata render --env prod --out out/  write prod's templates and manifest\n  strata graph --env prod              show prod's deploy waves\n\nExit codes: 0 ok, 1 an operation failed, 2 bad input, 3 drift found (strata drift)."
)]
pub struct Cli {
    /// The config repository: holds `environments/` and, optionally, `strata.toml`.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = ".",
        env = "STRATA_REPO",
        help_heading = "Global options"
    )]
    pub repo: PathBuf,

    /// Where compiled modules are cached [default: $STRATA_CACHE_DIR, $XDG_CACHE_HOME/strata or ~/.cache/strata].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub cache_dir: Option<PathBuf>,

    /// Compile modules without reading or writing the cache.
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_cache: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check environment and workflow files: TOML, stack types, module configs, imports, cycles, stages and gates.
    #[command(
        long_about = "Check environment files as a whole: the TOML, every stack's table against its module's schema, \
what each module says about its config, that every import names an output another stack exports, \
and that the stacks form no dependency cycle. Then check every workflows/*.toml against the environments: \
triggers, cron schedules, inputs, stages, `after` order, gates, windows and time zones. Every problem is \
reported, not just the first.\n\n\
Renders every stack to do so, but writes nothing. With `--env`, only those environments are checked.",
        after_help = "Examples:\n  strata validate                 every environments/*.toml and workflows/*.toml\n  strata validate --env prod      only environments/prod.toml\n  strata validate --repo ../infra --env dev --env prod"
    )]
    Validate(validate::Args),

    /// Render environments' stacks to CloudFormation templates and manifests.
    #[command(
        long_about = "Render every stack of an environment into DIR/STACK.template.json (pretty JSON, keys sorted, \
byte-identical for the same input) plus DIR/manifest.json: the stacks, their deploy waves, exports, imports, \
and the name, version and sha256 of the module that rendered each. Stale templates in DIR are removed.\n\n\
Without `--env`, or with several, every environment renders (in parallel) into DIR/NAME/. Nothing is written \
unless every environment is valid.",
        after_help = "Examples:\n  strata render --env prod --out build/prod      one environment, into build/prod/\n  strata render --out build                      every environment, into build/NAME/"
    )]
    Render(render::Args),

    /// Show what a change does to every stack it reaches, from a base revision to the head.
    #[command(
        long_about = "Render the environments at a base revision and at the head, and show what changes: stacks and \
resources added, removed and modified (property by property), the risks (replacements, data deleted) first, errors \
CloudFormation would only report mid-deploy (an export removed while still imported), the stacks downstream of a \
changed export, and the waves the changes deploy in. Needs no cloud access: both sides are read straight from git.",
        after_help = "Examples:\n  strata plan                                   environments changed since the merge-base with main\n  strata plan --env prod --base HEAD~1          prod, against the previous commit\n  strata plan --env prod --base none            prod from nothing: everything is new\n  strata plan --format markdown > comment.md    a pull-request comment\n  strata plan --out plan.json                   also save the plan for a later apply\n\nExit codes: 0 a plan without errors, 1 the plan has errors, 2 bad input."
    )]
    Plan(plan::Args),

    /// Deploy an environment through CloudFormation, wave by wave.
    #[command(
        long_about = "Deploy an environment's stacks through CloudFormation in dependency waves: new stacks with \
CreateStack, existing ones through a change set (the reviewed one, with `--plan`), several stacks of a wave at once. \
Progress streams live; the first failure stops further stacks (running ones finish) and the summary says which \
resource failed and why. Checks first that the credentials belong to the environment's `account`.\n\n\
Credentials and region come from the standard AWS chain and the environment file; `AWS_ENDPOINT_URL` points at \
another endpoint (moto's server, for a local demo).",
        after_help = "Examples:\n  strata apply --env dev                           ask, then deploy dev\n  strata plan --env prod --cloud --out plan.json   review change sets first...\n  strata apply --env prod --plan plan.json --yes   ...then deploy exactly that\n  strata apply --env dev --allow-delete --yes      also delete stacks removed from the file\n\nExit codes: 0 deployed, 1 a stack failed (or the apply was refused), 2 bad input."
    )]
    Apply(apply::Args),

    /// Report drift: what runs in CloudFormation that differs from git, stack by stack.
    #[command(
        long_about = "Check each environment against git at the commit it was deployed from (the state database's \
record with `--state`, else the newest `strata:commit` tag on its stacks, else the working tree). Reported per stack: \
template drift (the deployed template, from GetTemplate, differs from the one Strata renders at the stack's own \
`strata:commit`: property paths, git's value -> the cloud's), parameter drift (a value other than the template's \
default or a code-only deploy's override; NoEcho parameters are never compared), resource drift (CloudFormation's \
DetectStackDrift, where the endpoint has it: moto does not, and the report says so), missing stacks (in git, not in \
the cloud) and extra stacks (tagged `strata:environment` for this environment, named with its prefix, not in git).\n\n\
Credentials and region come from the standard AWS chain and each environment file, as for `strata apply`; \
`AWS_ENDPOINT_URL` points at another endpoint. The JSON format is documented in docs/drift.md.",
        after_help = "Examples:\n  strata drift                                  every environment, for a terminal\n  strata drift --env prod --format json         prod, as a strata.drift/v1 document\n  strata drift --env prod --format markdown     the body of a GitHub issue\n  strata drift --state state.db --state-repo acme/infra   deployed commits from strata serve's state\n\nExit codes: 0 in sync, 1 a check failed, 2 bad input, 3 drift found."
    )]
    Drift(drift::Args),

    /// Dispatch a workflow: apply its stages in order, with inputs (a code-only deploy).
    #[command(
        long_about = "Dispatch `workflows/WORKFLOW.toml` at the checked-out commit, as `/strata run` does on a pull request. \
Inputs (`--input KEY=VALUE`) are checked against the workflow's `[inputs]`: required ones, patterns, unknown names. \
Each stage whose gates pass is applied environment by environment, like `strata apply`; a workflow with `code_only = true` \
changes only the CloudFormation parameters its inputs set, keeping each stack's deployed template. A soak time is waited \
out; a stage held by what a terminal cannot give (approvals, a closed deploy window, failed checks) stops the run and \
says what it waits for. Stages with `when = \"command\"` count as commanded: the dispatch is the command.",
        after_help = "Examples:\n  strata run deploy-code --input image_tag=1.42.0-def4567 --yes   a code-only deploy through every stage\n  strata run release --yes                                          promote the checked-out commit\n\nExit codes: 0 every stage ran, 1 a stage failed or is held, 2 bad input (an unknown workflow, a bad input)."
    )]
    Run(run::Args),

    /// Serve GitHub webhooks: plan pull requests, apply on command or merge, report on the PR.
    #[command(
        long_about = "Run the pull-request server. GitHub sends webhooks (pull requests, comments, pushes) to `http://ADDR/`; each delivery is verified with the webhook secret and queued. A pull request that changes environment files gets one plan comment, edited as it changes, and a commit status per environment (`strata/plan: prod`); each environment it plans is locked for it until it is merged or closed. Plans compare the tip of the base branch with the pull request merged into it. Writers comment `/strata apply [ENV]` to deploy (behind the gates of the base branch's workflows: by default an approving review and a pull request that merges cleanly), `/strata plan [ENV]`, `/strata run WORKFLOW k=v`, `/strata unlock [ENV]` or `/strata help`. A merge, or a push, starts the promotion its workflows say (`workflows/*.toml`, or the built-in default): stages applied in order behind their gates (approvals, windows, soak times), each environment planned from what it runs; `/strata apply ENV` and `/strata approve ENV` on the merged pull request release a waiting stage. Results are written back to the pull request as the waves progress, with a commit status per stage and a GitHub deployment per environment.\n\n\
Secrets come from the environment: STRATA_WEBHOOK_SECRET (required), and STRATA_GITHUB_TOKEN or a GitHub App (STRATA_GITHUB_APP_ID, STRATA_GITHUB_INSTALLATION_ID, STRATA_GITHUB_APP_KEY_FILE). Other settings may also sit in the `[server]` table of strata.toml; flags win over environment variables, which win over the table. SIGTERM stops accepting deliveries and lets running applies finish their current CloudFormation operation.\n\n\
Deliveries are queued in the state database before they are answered. With `--state postgres://USER@HOST/DB`, two or three replicas behind a load balancer share it: any replica takes any job (one pull request's jobs in order), an environment is applied by one replica at a time, and a replica that dies is taken over when its `--lease` runs out: its interrupted applies are reported with each stack's real state (see docs/replicas.md). `strata locks` lists and releases locks from any machine.\n\n\
Operations: `GET /metrics` is Prometheus' text format (deliveries by event and outcome, queue depth, jobs running, plans and applies by outcome with a duration histogram, drift per environment, last successful poll, notifications sent, failed and dropped); `GET /healthz` answers 200 with a small JSON body when the state database answers and every watched repository was polled within three intervals, 503 with the reasons otherwise. A workflow's `[notify]` table sends its applies, waiting gates and drift to a Slack-compatible incoming webhook (`url_env = \"SLACK_WEBHOOK_URL\"` names the variable holding the URL); a receiver that is down never delays a deploy. Logs go to stderr: text, or one JSON object per line with STRATA_LOG_FORMAT=json, each plan and apply in a span carrying `repo`, `env`, `pr` and `commit` (STRATA_LOG=debug for more).",
        after_help = "Examples:\n  STRATA_WEBHOOK_SECRET=... STRATA_GITHUB_TOKEN=... strata serve --listen 0.0.0.0:8080\n  strata serve --state /var/lib/strata/state.db --clones /var/cache/strata/clones\n  strata serve --github-url https://github.example.com/api/v3 --cloud-plan\n\nExit codes: 0 stopped by a signal, 1 could not keep running, 2 bad settings."
    )]
    Serve(serve::Args),

    /// Watch a config repository: poll its default branch and deploy new commits as the workflows say.
    #[command(
        long_about = "Follow a config repository without webhooks. Every --interval the default branch is fetched \
(`--repo` is a path to a work tree or bare repository, or a URL: https:// with the credentials `serve` uses, \
http://, file://, ssh://); each new commit starts the promotions its workflows' push triggers say, in order or \
collapsed to the tip (`commits = \"each\"` or `\"tip\"`), every environment planned from the commit it last \
deployed. The last commit seen, what each environment runs and drift results are kept in the state database, so \
a restart deploys what landed meanwhile and nothing twice. The workflows' `[[on.schedule]]` triggers run here too: \
drift checks (one GitHub issue per drifted environment, closed when it clears, healed when the schedule says \
`heal = true`) and scheduled applies.\n\n\
A force-push that drops the last commit seen is refused and reported once; `--reset` takes the new tip. A \
repository that cannot be fetched is retried with backoff (up to every 5 minutes) and reported when it fails and \
when it recovers. GitHub is optional: with STRATA_GITHUB_TOKEN or a GitHub App (as for `serve`) statuses, \
deployments and drift issues are posted; without, they are logged. `strata serve --watch URL` runs the same \
watcher beside the webhook server, and a push webhook then polls at once. SIGTERM stops after the running \
CloudFormation operations.",
        after_help = "Examples:\n  strata watch --repo /srv/git/infra.git --interval 30s\n  STRATA_GITHUB_TOKEN=... strata watch --repo https://github.com/acme/infra.git --state /var/lib/strata/state.db\n  strata watch --repo . --once                      deploy what is new, then exit\n  strata watch --repo . --reset --once              after an intended force-push\n\nExit codes: 0 stopped by a signal (or --once polled), 1 a poll failed or a force-push was refused, 2 bad settings."
    )]
    Watch(watch::Args),

    /// List and release the environment locks of `strata serve`, across replicas.
    #[command(
        long_about = "Read the state database `strata serve` uses (the SQLite file, or the PostgreSQL database its \
replicas share) and list every environment lock: the repository, the environment, the pull request holding it, \
who took it and how long ago; with replicas, also which replica holds which apply or promotion. `release` frees \
a lock whoever holds it, as an admin would; the pull request that held it is planned again when it is next pushed \
or commented on.",
        after_help = "Examples:\n  strata locks list --state postgres://strata@db.internal/strata\n  strata locks list --repo-name acme/infra --format json\n  strata locks release acme/infra prod --state /var/lib/strata/state.db\n\nExit codes: 0 done, 1 no such lock or the database cannot be read."
    )]
    Locks(locks::Args),

    /// Show an environment's dependency graph and deploy waves.
    #[command(
        long_about = "Show which stack needs which (imports and `depends_on`) and the waves a deploy runs in: \
every stack of a wave depends only on stacks of earlier waves.",
        after_help = "Examples:\n  strata graph --env prod\n  strata graph --env prod --format json\n  strata graph --env prod --format dot | dot -Tsvg > prod.svg"
    )]
    Graph(graph::Args),

    /// Write and check stack modules: `strata module new NAME`, `strata module check FILE.wasm`.
    #[command(
        after_help = "Examples:\n  strata module new cognito\n  strata module check cognito/target/wasm32-wasip2/release/strata_module_cognito.wasm --config cognito/example.toml"
    )]
    Module(module::Args),

    /// List the stack types available: built-in modules and those declared in strata.toml.
    #[command(
        after_help = "Example:\n  strata modules\n  strata modules --schema database   print the JSON Schema of `database`'s table"
    )]
    Modules(modules::Args),

    /// Print a JSON Schema of environment (or workflow) files, for editor completion and checks.
    #[command(
        long_about = "Print a JSON Schema of environment files, composed from every stack type's module schema, \
or with `--workflow` of workflow files. Editors that read JSON Schemas for TOML (Taplo, Even Better TOML) \
complete and check `environments/*.toml` when the file starts with `#:schema ../docs/environment.schema.json`, \
and `workflows/*.toml` with `#:schema ../docs/workflow.schema.json`.",
        after_help = "Examples:\n  strata schema > docs/environment.schema.json\n  strata schema --workflow > docs/workflow.schema.json"
    )]
    Schema(schema::Args),
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Ok,
    /// An operation failed.
    Failed,
    /// The input was bad.
    BadInput,
    /// The check worked and found drift (`strata drift`).
    Drifted,
}

impl Exit {
    /// The exit for a set of diagnostics: `Ok` without errors, `Failed` when
    /// any error is an operation failure, `BadInput` otherwise.
    pub fn from_diagnostics(diagnostics: &[Diagnostic]) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error());
        let mut exit = Self::Ok;
        for error in errors {
            match error.kind {
                Kind::Failure => return Self::Failed,
                Kind::Input => exit = Self::BadInput,
            }
        }
        exit
    }

    /// The worse of two exits.
    pub fn max(self, other: Self) -> Self {
        match (self, other) {
            (Self::Failed, _) | (_, Self::Failed) => Self::Failed,
            (Self::BadInput, _) | (_, Self::BadInput) => Self::BadInput,
            (Self::Drifted, _) | (_, Self::Drifted) => Self::Drifted,
            _ => Self::Ok,
        }
    }

    fn code(self) -> ExitCode {
        match self {
            Self::Ok => ExitCode::SUCCESS,
            Self::Failed => ExitCode::from(1),
            Self::BadInput => ExitCode::from(2),
            Self::Drifted => ExitCode::from(3),
        }
    }
}

/// `--env` takes an environment's name (`dev`) or its file as a shell
/// completes it (`environments/dev.toml`, `dev.toml`).
pub fn environment_name(value: &str) -> Result<String, String> {
    let name = value.strip_prefix("./").unwrap_or(value);
    let name = name.strip_prefix("environments/").unwrap_or(name);
    let name = name.strip_suffix(".toml").unwrap_or(name);
    if name.is_empty() || name.contains('/') || name.contains('\\') {
        return Err(format!(
            "`{value}` is not an environment: give its name, as in `--env dev` for `environments/dev.toml`"
        ));
    }
    Ok(name.to_owned())
}

/// Run the command line of this process.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(mut error) => {
            suggest_flag(&mut error, std::env::args().skip(1));
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    run(cli).code()
}

/// Give an unknown `--flag` a did-you-mean when clap found none (its
/// threshold misses transpositions like `--evn`): the closest long flag of
/// the subcommand within two edits.
fn suggest_flag(error: &mut clap::Error, args: impl Iterator<Item = String>) {
    use clap::CommandFactory as _;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument || error.get(ContextKind::SuggestedArg).is_some()
    {
        return;
    }
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else {
        return;
    };
    let Some(typed) = invalid.strip_prefix("--") else {
        return;
    };
    let typed = typed.split('=').next().unwrap_or(typed).to_owned();
    // The subcommands named on the line, outermost first.
    let mut command = Cli::command();
    for arg in args {
        if let Some(sub) = command.find_subcommand(&arg) {
            command = sub.clone();
        }
    }
    let mut flags: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    flags.extend(
        Cli::command()
            .get_arguments()
            .filter(|a| a.is_global_set())
            .filter_map(|a| a.get_long().map(str::to_owned)),
    );
    let best = flags
        .iter()
        .map(|flag| (strsim::damerau_levenshtein(&typed, flag), flag))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    if let Some((_, flag)) = best {
        error.insert(
            ContextKind::SuggestedArg,
            ContextValue::String(format!("--{flag}")),
        );
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Exit {
    // The server reads no environments of its own: it plans what webhooks name.
    if let Command::Serve(args) = &cli.command {
        let cache_dir = if cli.no_cache {
            None
        } else {
            cli.cache_dir.clone().or_else(host::default_cache_dir)
        };
        return serve::run(&cli.repo, cache_dir, args);
    }
    // Nor does the watcher: it deploys what lands on a branch.
    if let Command::Watch(args) = &cli.command {
        let cache_dir = if cli.no_cache {
            None
        } else {
            cli.cache_dir.clone().or_else(host::default_cache_dir)
        };
        return watch::run(&cli.repo, cache_dir, args);
    }
    // Nor do lock listings: they read the server's state database.
    if let Command::Locks(args) = &cli.command {
        return locks::run(args);
    }
    // Module authors work outside any config repository.
    if let Command::Module(args) = &cli.command {
        let cache_dir = if cli.no_cache {
            None
        } else {
            cli.cache_dir.clone().or_else(host::default_cache_dir)
        };
        return module::run(&cli.repo, cache_dir, args);
    }
    let context = match Context::new(&cli) {
        Ok(context) => context,
        Err(diagnostics) => {
            context_less_print(&diagnostics);
            return Exit::from_diagnostics(&diagnostics);
        }
    };
    match &cli.command {
        Command::Validate(args) => validate::run(&context, args),
        Command::Render(args) => render::run(&context, args),
        Command::Graph(args) => graph::run(&context, args),
        Command::Plan(args) => plan::run(&context, args),
        Command::Apply(args) => apply::run(&context, args),
        Command::Drift(args) => drift::run(&context, args),
        Command::Run(args) => run::run(&context, args),
        Command::Modules(args) => modules::run(&context, args),
        Command::Schema(args) => schema::run(&context, args),
        Command::Serve(_) | Command::Watch(_) | Command::Module(_) | Command::Locks(_) => Exit::Ok,
    }
}

/// The async runtime `apply` and `serve` run on: two worker threads are
/// plenty for CloudFormation polling and GitHub calls.
fn runtime() -> Result<tokio::runtime::Runtime, Diagnostic> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Diagnostic::error(format!("cannot start the runtime: {e}")).as_failure())
}

fn context_less_print(diagnostics: &[Diagnostic]) {
    let report = Report::new(Style::for_stderr());
    let _ = write!(std::io::stderr(), "{}", report.render_all(diagnostics));
}

/// What every command needs: the repository, the host, a way to print.
pub struct Context {
    /// The repository.
    pub workspace: Workspace,
    cache_dir: Option<PathBuf>,
    report: Report,
    /// Whether `strata.toml`'s policy settings were checked (and reported)
    /// already: once per command, not once per environment.
    policy_settings_checked: std::sync::atomic::AtomicBool,
}

impl Context {
    fn new(cli: &Cli) -> Result<Self, Vec<Diagnostic>> {
        // `validate` reports a bad `[sandbox]` value and still checks every
        // environment file; other commands stop at it.
        let workspace = if matches!(cli.command, Command::Validate(_)) {
            Workspace::load_lenient(&cli.repo)?
        } else {
            Workspace::load(&cli.repo)?
        };
        let cache_dir = if cli.no_cache {
            None
        } else {
            cli.cache_dir.clone().or_else(host::default_cache_dir)
        };
        Ok(Self {
            workspace,
            cache_dir,
            report: Report::new(Style::for_stderr()),
            policy_settings_checked: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A module host with the repository's sandbox limits; on failure the
    /// problem is printed and the exit to return given back.
    pub fn host(&self) -> Result<Host, Exit> {
        Host::new(self.workspace.limits(), self.cache_dir.clone()).map_err(|e| {
            self.print(&[Diagnostic::error(e.to_string()).as_failure()]);
            Exit::Failed
        })
    }

    /// Render environment `name` and print its diagnostics. On failure, a
    /// summary line says `failed` (e.g. "environment `prod` is invalid") and
    /// the exit to return is given back.
    pub fn rendered(
        &self,
        host: &Host,
        name: &str,
        failed: &str,
    ) -> Result<crate::render::RenderedEnvironment, Exit> {
        let (rendered, diagnostics) = self.render(host, name);
        self.print(&diagnostics);
        rendered.ok_or_else(|| {
            self.print_summary(failed, &diagnostics);
            Exit::from_diagnostics(&diagnostics).max(Exit::BadInput)
        })
    }

    /// Load environment `name` and render it: the environment when it is
    /// valid, and every diagnostic (warnings too).
    pub fn render(
        &self,
        host: &Host,
        name: &str,
    ) -> (Option<crate::render::RenderedEnvironment>, Vec<Diagnostic>) {
        let (environment, mut diagnostics) = match self.workspace.environment(name) {
            Ok(loaded) => loaded,
            Err(mut diagnostics) => {
                // The stacks' tables are checked too: every problem at once.
                if let Some(source) = diagnostics.iter().find_map(|d| d.source.clone()) {
                    let known: Vec<Diagnostic> = diagnostics.clone();
                    diagnostics.extend(
                        crate::render::schema_problems_of_invalid_file(
                            host,
                            &self.workspace.registry,
                            &source,
                        )
                        .into_iter()
                        .filter(|d| !known.iter().any(|k| k.message == d.message)),
                    );
                    crate::config::diagnostic::sort(&mut diagnostics);
                }
                return (None, diagnostics);
            }
        };
        let mut outcome =
            crate::render::render_environment(host, &self.workspace.registry, &environment);
        diagnostics.append(&mut outcome.diagnostics);
        // Every policy reads the stacks that rendered, even when others
        // failed; an error finding fails the environment.
        let policy = crate::policy::check(
            host,
            &self.workspace.registry,
            &self.workspace.repo,
            &outcome.partial,
        );
        let mut failed = policy.has_errors();
        diagnostics.extend(policy.diagnostics);
        // `strata.toml`'s policy settings, with the first environment only.
        if !self
            .policy_settings_checked
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            let problems = crate::policy::check_settings(
                host,
                &self.workspace.registry,
                &self.workspace.repo,
                &self.workspace.environment_names(),
            );
            failed |= problems.iter().any(Diagnostic::is_error);
            diagnostics.extend(problems);
        }
        let rendered = outcome.into_rendered().filter(|_| !failed);
        crate::config::diagnostic::sort(&mut diagnostics);
        (rendered, diagnostics)
    }

    /// The commit the working tree renders as: `HEAD`'s full SHA when no
    /// file a render reads (`strata.toml`, `environments/`) differs from
    /// it, else `None`. Other files (a saved plan, a README) change no
    /// template, and modules kept elsewhere are pinned by sha256 in
    /// `strata.toml`. Deploys tag stacks with it (`strata:commit`).
    pub fn working_tree_commit(&self) -> Option<String> {
        let repository = crate::repo::Repository::discover(&self.workspace.root).ok()?;
        let head = repository.head().ok()??;
        let changed = repository
            .changed_paths(Some(&head), &crate::repo::Side::WorkingTree)
            .ok()?;
        // Paths are relative to the git root; the config repository may sit
        // in a subdirectory of it.
        let prefix = repository
            .workdir()
            .and_then(|root| {
                let config = self.workspace.root.canonicalize().ok()?;
                let root = root.canonicalize().ok()?;
                config
                    .strip_prefix(&root)
                    .ok()
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
            })
            .unwrap_or_default();
        let read_by_render = |path: &str| {
            let path = match prefix.as_str() {
                "" => path,
                prefix => match path
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('/'))
                {
                    Some(rest) => rest,
                    None => return false,
                },
            };
            path == "strata.toml" || path.starts_with("environments/")
        };
        (!changed.iter().any(|path| read_by_render(path))).then_some(head.id)
    }

    /// Print diagnostics to stderr.
    pub fn print(&self, diagnostics: &[Diagnostic]) {
        if diagnostics.is_empty() {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{}", self.report.render_all(diagnostics));
    }

    /// Print a summary line of errors and warnings to stderr.
    pub fn print_summary(&self, subject: &str, diagnostics: &[Diagnostic]) {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = diagnostics.len() - errors;
        if errors > 0 {
            let _ = writeln!(
                std::io::stderr(),
                "error: {subject}: {errors} error{}{}",
                if errors == 1 { "" } else { "s" },
                if warnings > 0 {
                    format!(
                        ", {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
        }
    }
}
