//! Strata: a GitOps runner for AWS infrastructure.
//!
//! A config repository holds one TOML file per environment
//! (`environments/prod.toml`). Each stack in it names a stack type; a
//! sandboxed WebAssembly module for that type renders the stack's table into a
//! CloudFormation template. Strata orders the stacks by their cross-stack
//! imports and deploys them in waves.
//!
//! The map, top to bottom (arrows point down, never back up):
//!
//! | module | owns |
//! | --- | --- |
//! | [`cli`] | one file per subcommand; wires the rest together |
//! | [`server`] | `strata serve`: webhooks, signatures, `/strata` commands, the job queue, the worker (plans, locks, applies) and the words of its PR comments |
//! | [`workspace`] | a config repository on disk: `strata.toml`, `environments/` |
//! | [`deploy`] | applies an environment wave by wave through a `Cloud`: change sets, progress, stop on failure; `plan --cloud` previews |
//! | [`drift`] | what runs vs what git says: template, parameter, resource drift, missing and extra stacks; terminal, Markdown, JSON |
//! | [`cloud`] | the `Cloud` trait (stacks, change sets, events, exports), retries, and its CloudFormation implementation |
//! | [`planner`] | both sides of a plan read from git, rendered and compared (shared by `plan`, `apply`, `serve`) |
//! | [`plan`] | diff of two rendered sides: changes, errors, risks, deploy order; terminal, Markdown, JSON |
//! | [`notify`] | chat notifications (applies, waiting gates, drift) to Slack-compatible incoming webhooks, queued and sent in the background |
//! | [`forge`] | the `Forge` trait (plan comments, commit statuses, permissions, approvals) and its GitHub implementation |
//! | [`policy`] | policy modules over rendered environments: findings, per-environment severity, diagnostics |
//! | [`render`] | runs every stack's module in parallel, checks exports and imports |
//! | [`repo`] | git: revisions, files at a revision or in the working tree, changed paths; bare mirrors fetched from a forge |
//! | [`host`] | wasmtime engine, compile cache, sandbox limits, WIT bindings |
//! | [`modules`] | which module renders which stack type (built in, or pinned in `strata.toml`) |
//! | [`graph`] | dependency graph, cycles, waves (pure) |
//! | [`state`] | the server's SQLite file: locks, saved plans, run history, webhook deliveries |
//! | [`workflow`] | `workflows/*.toml` and the policy they express: given an event and recorded facts, what to plan, which stages run, what each gate waits for (pure) |
//! | [`config`] | environment files and `strata.toml`: spans, validation, diagnostics (pure) |
//!
//! `config`, `graph`, `plan` and `workflow` know nothing of git, AWS or wasmtime; only `host` touches wasmtime,
//! only `repo` touches git, only `cloud` the AWS SDK and only `forge` octocrab.

pub mod cli;

/// Where `runner/build.rs` built the test guests (misbehaving modules and
/// policies the tests load by path).
#[doc(hidden)]
pub const TEST_GUESTS_DIR: &str = env!("STRATA_TEST_GUESTS");
pub mod cloud;
pub mod config;
pub mod conventions;
pub mod deploy;
pub mod drift;
pub mod forge;
pub mod graph;
pub mod host;
pub mod modules;
pub mod notify;
pub mod pins;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod render;
pub mod repo;
pub mod server;
pub mod state;
pub mod text;
pub mod workflow;
pub mod workspace;
