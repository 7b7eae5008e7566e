//! Deploys: an environment's stacks applied wave by wave through a
//! [`Cloud`], with bounded concurrency inside a wave, live progress, and a
//! stop on the first failure.
//!
//! New stacks are created with `CreateStack`; existing ones change only
//! through a change set (the reviewed one when the plan named it), so what
//! runs is what was shown. When a stack fails, no further stack starts, the
//! running ones finish, and every stack ends in the [`Report`]: created,
//! updated, unchanged, deleted, failed, rolled back or skipped. Stacks
//! removed from the file are deleted after the waves, dependents first.
//!
//! Every stack created or updated is tagged `strata:commit` with the commit
//! its template comes from ([`stack_tags`]). A stack the caller knows to be
//! deployed as is ([`Target::unchanged`]) is only described. A *code-only
//! deploy* ([`code_only`]) changes parameters of deployed stacks (an image
//! tag) and keeps their templates (`UsePreviousTemplate`), so git stays the
//! source of every template.
//!
//! Knows nothing of git, wasmtime or the command line: the caller renders
//! the templates and says what to deploy ([`Deployment`]).

pub mod preview;
pub mod progress;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::cloud::{
    Capability, ChangeSetStatus, Cloud, CloudError, CreateChangeSet, CreateStack, ErrorKind,
    ExecutionStatus, Parameter, ParameterValue, Stack, StackEvent, TemplateSource, client_token,
};
use crate::plan::EnvironmentPlan;
use crate::render::{RenderedEnvironment, TEMPLATE_INLINE_LIMIT};
pub use progress::{Progress, ProgressEvent};

/// One stack to create or update.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name in the environment file (`database`).
    pub stack: String,
    /// Its CloudFormation name (`v3-backend-production-database`).
    pub stack_name: String,
    /// The template, as rendered.
    pub template: String,
    /// sha256 of the template.
    pub template_sha256: String,
    /// IAM capabilities the template needs.
    pub capabilities: Vec<Capability>,
    /// The stacks it needs (imports and `depends_on`), for skip reasons.
    pub depends_on: Vec<String>,
    /// The change set a reviewed plan created for it, to execute as is.
    pub reviewed_change_set: Option<String>,
    /// Parameter values passed to `CreateStack` or the change set. Empty:
    /// none are passed, and the template's defaults apply.
    pub parameters: Vec<Parameter>,
    /// Keep the deployed template (`UsePreviousTemplate`) and change only
    /// parameters: a code-only deploy. A stack that does not exist yet
    /// fails, since it has no template to keep; the stack keeps its
    /// `strata:commit` tag, since its template still comes from that commit.
    pub keep_template: bool,
    /// The caller knows `template` is what is deployed (it planned from the
    /// deployed commit): an existing, settled stack is only described and
    /// reported [`Outcome::Unchanged`], without a change set (so without a
    /// tags-only update; termination protection is still turned on in a
    /// protected environment). A stack that does not exist is created as
    /// usual.
    pub unchanged: bool,
}

/// One stack to delete.
#[derive(Debug, Clone)]
pub struct Deletion {
    /// Its name in the environment file at the base.
    pub stack: String,
    /// Its CloudFormation name.
    pub stack_name: String,
}

/// What to deploy to one environment.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The environment file's stem (`prod`).
    pub environment: String,
    /// The account the environment file names: anything else is refused.
    pub account: Option<String>,
    /// Stack tags.
    pub tags: Vec<(String, String)>,
    /// Turn on termination protection (environments marked `protected`).
    pub protected: bool,
    /// The stacks, wave by wave.
    pub waves: Vec<Vec<Target>>,
    /// Stacks to delete, in order (dependents first), after the waves.
    pub deletions: Vec<Deletion>,
    /// Names new change sets: `strata-1a2b3c4` (the head commit).
    pub change_set_prefix: String,
    /// The full SHA of the commit deployed, tagged on every stack created
    /// or updated as `strata:commit`; `None` (an uncommitted working tree)
    /// leaves the tag out.
    pub commit: Option<String>,
}

/// How to deploy.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stacks of one wave deployed at the same time.
    pub concurrency: usize,
    /// Polling: the first delay after the immediate first look, and the longest.
    pub poll: (Duration, Duration),
    /// S3 bucket for templates over 51,200 bytes.
    pub template_bucket: Option<String>,
    /// Cancelled: start nothing new, let running operations finish.
    pub cancel: CancellationToken,
    /// Unique per apply: part of every client token, so retries inside this
    /// apply are recognised while a later apply is never taken for one.
    pub run_id: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll: (Duration::from_secs(1), Duration::from_secs(10)),
            template_bucket: None,
            cancel: CancellationToken::new(),
            run_id: format!("{:016x}", fastrand::u64(..)),
        }
    }
}

/// How a stack ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created.
    Created,
    /// Updated through a change set.
    Updated,
    /// Nothing to change.
    Unchanged,
    /// Deleted.
    Deleted,
    /// Failed and left as CloudFormation left it.
    Failed,
    /// Failed, and CloudFormation rolled it back.
    RolledBack,
    /// Not started, because another stack failed or the run was cancelled.
    Skipped,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Self; 7] = [
        Self::Created,
        Self::Updated,
        Self::Unchanged,
        Self::Deleted,
        Self::Failed,
        Self::RolledBack,
        Self::Skipped,
    ];

    /// True for outcomes that are not a failure.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Self::Created | Self::Updated | Self::Unchanged | Self::Deleted
        )
    }

    /// Lower-case words for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
            Self::RolledBack => "rolled back",
            Self::Skipped => "skipped",
        }
    }
}

/// How one stack went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackResult {
    /// Its name in the environment file.
    pub stack: String,
    /// Its CloudFormation name.
    pub stack_name: String,
    /// Its wave (1-based; 0 for deletions).
    pub wave: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The resource that failed (`DBInstance (AWS::RDS::DBInstance)`).
    pub resource: Option<String>,
    /// The change set executed, if any.
    pub change_set: Option<String>,
    /// Wall time of this stack's operation.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

/// The result of an apply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The environment.
    pub environment: String,
    /// Every stack, in the order they were planned (waves, then deletions).
    pub stacks: Vec<StackResult>,
    /// Waves run.
    pub waves: usize,
    /// Wall time of the whole apply.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl Report {
    /// True when no stack failed or was skipped.
    pub fn succeeded(&self) -> bool {
        self.stacks.iter().all(|s| s.outcome.is_success())
    }

    /// Stacks per outcome.
    pub fn counts(&self) -> BTreeMap<Outcome, usize> {
        let mut counts = BTreeMap::new();
        for stack in &self.stacks {
            *counts.entry(stack.outcome).or_insert(0) += 1;
        }
        counts
    }

    /// The sum of every stack's own time: what a one-at-a-time deploy would take.
    pub fn sum_of_stack_times(&self) -> Duration {
        self.stacks.iter().map(|s| s.duration).sum()
    }
}

/// Problems found before anything changed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    /// The credentials belong to another account.
    #[error(
        "the credentials are for account {actual}, but environment `{environment}` deploys to account {expected}"
    )]
    WrongAccount {
        /// The environment.
        environment: String,
        /// The environment file's `account`.
        expected: String,
        /// The caller's account.
        actual: String,
    },
    /// STS could not say who the caller is.
    #[error("cannot check the account before deploying: {0}")]
    Identity(CloudError),
}

/// Refuse to touch an account other than the environment file's.
pub async fn check_account(
    cloud: &dyn Cloud,
    environment: &str,
    expected: Option<&str>,
) -> Result<String, ApplyError> {
    let actual = cloud.account().await.map_err(ApplyError::Identity)?;
    match expected {
        Some(expected) if expected != actual => Err(ApplyError::WrongAccount {
            environment: environment.to_owned(),
            expected: expected.to_owned(),
            actual,
        }),
        _ => Ok(actual),
    }
}

struct Shared {
    cloud: Arc<dyn Cloud>,
    progress: Arc<dyn Progress>,
    deployment: Arc<Deployment>,
    options: Options,
    /// Set once a stack failed: nothing new starts.
    stop: AtomicBool,
}

/// Apply `deployment`: check the account, then deploy wave by wave,
/// then delete. Stops starting stacks after the first failure.
pub async fn apply(
    cloud: Arc<dyn Cloud>,
    deployment: Deployment,
    options: Options,
    progress: Arc<dyn Progress>,
) -> Result<Report, ApplyError> {
    check_account(
        cloud.as_ref(),
        &deployment.environment,
        deployment.account.as_deref(),
    )
    .await?;
    let started = Instant::now();
    let deployment = Arc::new(deployment);
    let shared = Arc::new(Shared {
        cloud,
        progress,
        deployment: Arc::clone(&deployment),
        options,
        stop: AtomicBool::new(false),
    });
    let mut results: Vec<StackResult> = Vec::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let mut waves_run = 0;

    for (index, wave) in deployment.waves.iter().enumerate() {
        let number = index + 1;
        if shared.stopped() {
            for target in wave {
                results.push(skipped(target, number, &failed, &shared));
            }
            continue;
        }
        waves_run += 1;
        shared.progress.report(&ProgressEvent::Wave {
            number,
            stacks: wave.iter().map(|t| t.stack.clone()).collect(),
        });
        let permits = Arc::new(Semaphore::new(shared.options.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (position, target) in wave.iter().enumerate() {
            let shared = Arc::clone(&shared);
            let permits = Arc::clone(&permits);
            let target = target.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                if shared.stopped() {
                    let result = shared.skip(StackResult {
                        stack: target.stack.clone(),
                        stack_name: target.stack_name.clone(),
                        wave: number,
                        outcome: Outcome::Skipped,
                        reason: Some(shared.stop_reason()),
                        resource: None,
                        change_set: None,
                        duration: Duration::ZERO,
                    });
                    return (position, result);
                }
                (position, deploy(&shared, &target, number).await)
            });
        }
        let mut wave_results: Vec<(usize, StackResult)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => wave_results.push(result),
                Err(e) => {
                    // A panic inside a task: never lose the stack from the report.
                    shared.stop.store(true, Ordering::SeqCst);
                    tracing::error!("a deploy task failed: {e}");
                }
            }
        }
        wave_results.sort_by_key(|(position, _)| *position);
        for target in wave {
            if !wave_results.iter().any(|(_, r)| r.stack == target.stack) {
                wave_results.push((
                    usize::MAX,
                    StackResult {
                        stack: target.stack.clone(),
                        stack_name: target.stack_name.clone(),
                        wave: number,
                        outcome: Outcome::Failed,
                        reason: Some("the deploy task stopped unexpectedly".into()),
                        resource: None,
                        change_set: None,
                        duration: Duration::ZERO,
                    },
                ));
            }
        }
        for (_, result) in wave_results {
            if !result.outcome.is_success() && result.outcome != Outcome::Skipped {
                failed.insert(result.stack.clone(), result.outcome.label().to_owned());
            }
            results.push(result);
        }
    }

    for deletion in &deployment.deletions {
        if shared.stopped() {
            results.push(shared.skip(StackResult {
                stack: deletion.stack.clone(),
                stack_name: deletion.stack_name.clone(),
                wave: 0,
                outcome: Outcome::Skipped,
                reason: Some(shared.stop_reason()),
                resource: None,
                change_set: None,
                duration: Duration::ZERO,
            }));
            continue;
        }
        let result = delete(&shared, deletion).await;
        if !result.outcome.is_success() {
            shared.stop.store(true, Ordering::SeqCst);
        }
        results.push(result);
    }

    Ok(Report {
        environment: deployment.environment.clone(),
        stacks: results,
        waves: waves_run,
        elapsed: started.elapsed(),
    })
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.options.cancel.is_cancelled()
    }

    fn stop_reason(&self) -> String {
        if self.options.cancel.is_cancelled() {
            "not started: the apply was interrupted".into()
        } else {
            "not started: an earlier stack failed".into()
        }
    }

    /// The client token of one request of this apply.
    fn token(&self, parts: &[&str]) -> String {
        let mut parts = parts.to_vec();
        parts.push(&self.options.run_id);
        client_token(&parts)
    }

    /// A stack that never started is finished too: every progress view
    /// (log lines, bars, the pull-request comment) hears of it.
    fn skip(&self, result: StackResult) -> StackResult {
        self.progress.report(&ProgressEvent::Finished {
            result: result.clone(),
        });
        result
    }

    fn note(&self, stack: &str, message: impl Into<String>) {
        self.progress.report(&ProgressEvent::Note {
            stack: stack.to_owned(),
            message: message.into(),
        });
    }
}

fn skipped(
    target: &Target,
    wave: usize,
    failed: &BTreeMap<String, String>,
    shared: &Shared,
) -> StackResult {
    let blocking: Vec<String> = target
        .depends_on
        .iter()
        .filter(|d| failed.contains_key(*d))
        .map(|d| format!("`{d}`"))
        .collect();
    let reason = if shared.options.cancel.is_cancelled() {
        "not started: the apply was interrupted".to_owned()
    } else if blocking.is_empty() {
        "not started: an earlier stack failed".to_owned()
    } else {
        format!(
            "not started: it needs {}, which failed",
            blocking.join(", ")
        )
    };
    shared.skip(StackResult {
        stack: target.stack.clone(),
        stack_name: target.stack_name.clone(),
        wave,
        outcome: Outcome::Skipped,
        reason: Some(reason),
        resource: None,
        change_set: None,
        duration: Duration::ZERO,
    })
}

/// What went wrong with one stack, before it is a [`StackResult`].
struct Failure {
    outcome: Outcome,
    reason: String,
    resource: Option<String>,
}

impl From<CloudError> for Failure {
    fn from(e: CloudError) -> Self {
        let help = match e.kind {
            ErrorKind::AccessDenied => {
                " (check the credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID, or `aws sso login`)"
            }
            ErrorKind::InProgress => " (another operation is running on the stack)",
            _ => "",
        };
        Self {
            outcome: Outcome::Failed,
            reason: format!("{e}{help}"),
            resource: None,
        }
    }
}

async fn deploy(shared: &Shared, target: &Target, wave: usize) -> StackResult {
    let started = Instant::now();
    let (outcome, failure, change_set) = match deploy_inner(shared, target).await {
        Ok((outcome, change_set)) => (outcome, None, change_set),
        Err(failure) => (failure.outcome, Some(failure), None),
    };
    if !outcome.is_success() {
        shared.stop.store(true, Ordering::SeqCst);
    }
    let result = StackResult {
        stack: target.stack.clone(),
        stack_name: target.stack_name.clone(),
        wave,
        outcome,
        reason: failure.as_ref().map(|f| f.reason.clone()),
        resource: failure.and_then(|f| f.resource),
        change_set,
        duration: started.elapsed(),
    };
    shared.progress.report(&ProgressEvent::Finished {
        result: result.clone(),
    });
    result
}

async fn deploy_inner(
    shared: &Shared,
    target: &Target,
) -> Result<(Outcome, Option<String>), Failure> {
    let cloud = shared.cloud.as_ref();
    let mut existing = cloud.describe_stack(&target.stack_name).await?;
    if let Some(stack) = &existing
        && stack.status.is_in_progress()
    {
        shared.note(
            &target.stack,
            format!(
                "{} is {}: waiting for that operation to finish first",
                target.stack_name, stack.status
            ),
        );
        let marker = newest_event(cloud, &target.stack_name).await;
        existing = wait_settled(shared, target, marker).await?;
    }
    if target.keep_template
        && existing
            .as_ref()
            .is_none_or(|stack| stack.status.needs_delete_before_create())
    {
        let state = match &existing {
            Some(stack) => format!("is {} from a failed create", stack.status),
            None => "does not exist yet".to_owned(),
        };
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: format!(
                "`{}` {state}: a code-only deploy changes parameters of a deployed stack; apply the environment first",
                target.stack
            ),
            resource: None,
        });
    }
    // A stack the caller knows is unchanged, or whose deployed template is
    // already the target's, is left alone: no change set, so no tags-only
    // update (its `strata:commit` keeps naming the commit that template came
    // from).
    if let Some(stack) = &existing
        && !stack.status.needs_delete_before_create()
        && (target.unchanged
            || (!target.keep_template
                && target.parameters.is_empty()
                && target.reviewed_change_set.is_none()
                && stack.status.is_settled()
                && !stack.status.is_failure()
                && deployed_template_is(shared, target).await))
    {
        shared.progress.report(&ProgressEvent::Started {
            stack: target.stack.clone(),
            creating: false,
        });
        protect(shared, target, stack).await?;
        return Ok((Outcome::Unchanged, None));
    }
    if let Some(stack) = &existing
        && stack.status.needs_delete_before_create()
    {
        shared.note(
            &target.stack,
            format!(
                "{} is {} from an earlier failed create: deleting it before creating it again",
                target.stack_name, stack.status
            ),
        );
        let marker = newest_event(cloud, &target.stack_name).await;
        cloud
            .delete_stack(
                &target.stack_name,
                &shared.token(&["delete-failed", &stack.id]),
            )
            .await?;
        if let Some(left) = wait_settled(shared, target, marker).await? {
            return Err(Failure {
                outcome: Outcome::Failed,
                reason: format!(
                    "could not delete the failed stack first: it is {}{}",
                    left.status,
                    left.status_reason
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                resource: None,
            });
        }
        existing = None;
    }
    shared.progress.report(&ProgressEvent::Started {
        stack: target.stack.clone(),
        creating: existing.is_none(),
    });
    match existing {
        None => {
            let template = template_source(shared, target).await?;
            create(shared, target, template).await
        }
        Some(stack) if target.keep_template => {
            let parameters = kept_template_parameters(shared, target).await?;
            let target = Target {
                parameters,
                ..target.clone()
            };
            update(shared, &target, TemplateSource::UsePrevious, &stack).await
        }
        Some(stack) => {
            let template = template_source(shared, target).await?;
            update(shared, target, template, &stack).await
        }
    }
}

/// The parameters of a code-only update, fitted to the template it keeps:
/// every parameter that template declares and the target does not set
/// keeps its value (CloudFormation would reset it to its default), and one
/// the target keeps but the template lacks is dropped. A value for a
/// parameter the template lacks is refused here, with the way out.
async fn kept_template_parameters(
    shared: &Shared,
    target: &Target,
) -> Result<Vec<Parameter>, Failure> {
    let Some(body) = shared.cloud.get_template(&target.stack_name).await? else {
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: format!(
                "`{}` disappeared before its template could be read",
                target.stack
            ),
            resource: None,
        });
    };
    // A template that is not JSON (YAML deployed by hand): pass the
    // parameters as given and let CloudFormation judge them.
    let Ok(template) = serde_json::from_str::<serde_json::Value>(&body) else {
        return Ok(target.parameters.clone());
    };
    let declared = crate::cloud::declared_parameters(&template);
    let unknown: Vec<String> = target
        .parameters
        .iter()
        .filter(|p| matches!(p.value, ParameterValue::Value(_)) && !declared.contains(&p.key))
        .map(|p| format!("`{}`", p.key))
        .collect();
    if !unknown.is_empty() {
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: format!(
                "the deployed template of `{}` has no parameter {}{}; apply the environment first so that it does",
                target.stack,
                unknown.join(", "),
                if declared.is_empty() {
                    " (it declares none)".to_owned()
                } else {
                    format!(
                        " (it declares {})",
                        declared
                            .iter()
                            .map(|d| format!("`{d}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            resource: None,
        });
    }
    let mut parameters: Vec<Parameter> = target
        .parameters
        .iter()
        .filter(|p| declared.contains(&p.key))
        .cloned()
        .collect();
    for key in declared {
        if !parameters.iter().any(|p| p.key == key) {
            parameters.push(Parameter::use_previous(key));
        }
    }
    Ok(parameters)
}

async fn template_source(shared: &Shared, target: &Target) -> Result<TemplateSource, Failure> {
    if target.template.len() <= TEMPLATE_INLINE_LIMIT {
        return Ok(TemplateSource::Body(target.template.clone()));
    }
    let Some(bucket) = &shared.options.template_bucket else {
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: format!(
                "the template is {} bytes, over CloudFormation's {TEMPLATE_INLINE_LIMIT}-byte inline limit, and no template bucket is set (pass `--template-bucket` or set STRATA_TEMPLATE_BUCKET)",
                target.template.len()
            ),
            resource: None,
        });
    };
    let key = format!(
        "strata/{}/{}/{}.json",
        shared.deployment.environment, target.stack, target.template_sha256
    );
    let url = shared
        .cloud
        .upload_template(bucket, &key, &target.template)
        .await?;
    shared.note(
        &target.stack,
        format!("template uploaded to s3://{bucket}/{key}"),
    );
    Ok(TemplateSource::Url(url))
}

/// Whether the stack's deployed template (`GetTemplate`) is `target`'s, as
/// JSON; `false` when it cannot be read (the change set then decides).
async fn deployed_template_is(shared: &Shared, target: &Target) -> bool {
    let Ok(Some(deployed)) = shared.cloud.get_template(&target.stack_name).await else {
        return false;
    };
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    match (parse(&deployed), parse(&target.template)) {
        (Some(deployed), Some(wanted)) => deployed == wanted,
        _ => false,
    }
}

/// The tags of a create or an update of `target`. A kept template
/// (a code-only deploy) keeps the stack's `strata:commit`: the template
/// still comes from that commit.
fn tags(shared: &Shared, target: &Target, existing: Option<&Stack>) -> Vec<(String, String)> {
    let commit = match existing {
        Some(stack) if target.keep_template => stack
            .tags
            .iter()
            .find(|(key, _)| key == COMMIT_TAG)
            .map(|(_, value)| value.as_str()),
        _ => shared.deployment.commit.as_deref(),
    };
    stack_tags(
        &shared.deployment.tags,
        &shared.deployment.environment,
        &target.stack,
        commit,
    )
}

/// The stack tag naming the commit a stack's template was deployed from.
pub const COMMIT_TAG: &str = "strata:commit";

/// A stack's tags: the environment's, plus `strata:environment` (the file
/// stem) and `strata:stack`, which tell Strata's stacks apart, and
/// `strata:commit`, the full SHA of the commit the template was rendered
/// from. The commit tag is left out when there is no commit (an
/// uncommitted working tree), so a stack never claims a commit it does not
/// match. Plans read it back to know what is deployed.
pub fn stack_tags(
    environment_tags: &[(String, String)],
    environment: &str,
    stack: &str,
    commit: Option<&str>,
) -> Vec<(String, String)> {
    let mut tags = environment_tags.to_vec();
    tags.push(("strata:environment".into(), environment.to_owned()));
    tags.push(("strata:stack".into(), stack.to_owned()));
    if let Some(commit) = commit {
        tags.push((COMMIT_TAG.into(), commit.to_owned()));
    }
    tags
}

async fn create(
    shared: &Shared,
    target: &Target,
    template: TemplateSource,
) -> Result<(Outcome, Option<String>), Failure> {
    let request = CreateStack {
        name: target.stack_name.clone(),
        template,
        parameters: target.parameters.clone(),
        tags: tags(shared, target, None),
        capabilities: target.capabilities.clone(),
        termination_protection: shared.deployment.protected,
        client_token: shared.token(&["create", &target.stack_name, &request_hash(target)]),
    };
    shared.cloud.create_stack(&request).await?;
    let settled = wait_settled(shared, target, None).await?;
    finish(shared, target, settled, Outcome::Created, None).await
}

async fn update(
    shared: &Shared,
    target: &Target,
    template: TemplateSource,
    stack: &Stack,
) -> Result<(Outcome, Option<String>), Failure> {
    let cloud = shared.cloud.as_ref();
    let name = match &target.reviewed_change_set {
        Some(reviewed) => reviewed.clone(),
        None => change_set_name(&shared.deployment.change_set_prefix, &request_hash(target)),
    };
    let found = match cloud.describe_change_set(&target.stack_name, &name).await? {
        // A reviewed change set runs as reviewed, or not at all.
        Some(existing) if target.reviewed_change_set.is_some() => Some(existing),
        // One of ours from an earlier run that can still run: the same template.
        Some(existing) if existing.execution_status == ExecutionStatus::Available => Some(existing),
        // Executed, failed or obsolete: make it again.
        Some(_) => {
            cloud.delete_change_set(&target.stack_name, &name).await?;
            None
        }
        None => None,
    };
    let change_set = match found {
        Some(existing) => existing,
        None if target.reviewed_change_set.is_some() => {
            return Err(Failure {
                outcome: Outcome::Failed,
                reason: format!(
                    "the reviewed change set `{name}` no longer exists; plan again with `strata plan --cloud`"
                ),
                resource: None,
            });
        }
        None => {
            let request = CreateChangeSet {
                stack: target.stack_name.clone(),
                change_set: name.clone(),
                template,
                parameters: target.parameters.clone(),
                tags: tags(shared, target, Some(stack)),
                capabilities: target.capabilities.clone(),
                description: if target.keep_template {
                    format!("strata code-only deploy of `{}`", target.stack)
                } else {
                    format!("strata apply of `{}`", target.stack)
                },
                client_token: shared.token(&["change-set", &target.stack_name, &name]),
            };
            match cloud.create_change_set(&request).await {
                Ok(()) => {}
                Err(e)
                    if e.kind == ErrorKind::Validation
                        && crate::cloud::reason_means_no_changes(&e.message) =>
                {
                    protect(shared, target, stack).await?;
                    return Ok((Outcome::Unchanged, None));
                }
                Err(e) => return Err(e.into()),
            }
            wait_change_set(shared, &target.stack_name, &name).await?
        }
    };
    // A change set that changes parameter values and no resource (moto
    // shows every parameter-only change so) still has to run: the stack
    // records the values, and plans read them back.
    let sets_values = change_set.status == ChangeSetStatus::Complete
        && change_set.execution_status == ExecutionStatus::Available
        && sets_new_values(target, stack);
    if change_set.has_no_changes() && !sets_values {
        let _ = cloud.delete_change_set(&target.stack_name, &name).await;
        protect(shared, target, stack).await?;
        return Ok((Outcome::Unchanged, None));
    }
    match change_set.execution_status {
        ExecutionStatus::Available => {}
        ExecutionStatus::Obsolete => {
            return Err(Failure {
                outcome: Outcome::Failed,
                reason: format!(
                    "change set `{name}` is obsolete: the stack changed after it was created; plan again"
                ),
                resource: None,
            });
        }
        status => {
            return Err(Failure {
                outcome: Outcome::Failed,
                reason: format!(
                    "change set `{name}` cannot be executed ({status:?}){}",
                    change_set
                        .status_reason
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                resource: None,
            });
        }
    }
    let marker = newest_event(cloud, &target.stack_name).await;
    cloud
        .execute_change_set(
            &target.stack_name,
            &name,
            &shared.token(&["execute", &target.stack_name, &name]),
        )
        .await?;
    let settled = wait_settled(shared, target, marker).await?;
    let (outcome, _) = finish(shared, target, settled, Outcome::Updated, Some(&name)).await?;
    Ok((outcome, Some(name)))
}

/// Whether `target` sets a parameter to a value `stack` does not show (a
/// `NoEcho` value, shown as `****`, counts as different).
fn sets_new_values(target: &Target, stack: &Stack) -> bool {
    target
        .parameters
        .iter()
        .any(|parameter| match &parameter.value {
            ParameterValue::Value(value) => stack
                .parameters
                .iter()
                .find(|(key, _)| *key == parameter.key)
                .is_none_or(|(_, current)| current != value),
            ParameterValue::UsePrevious => false,
        })
}

/// The deployment of an environment rendered at the head, with the plan
/// that tells which stacks were removed (deleted only when `allow_delete`)
/// and `reviewed` naming the change set a reviewed plan created per stack.
/// `head_short` names the change sets; `commit` is the full SHA tagged on
/// every stack (`None` for an uncommitted working tree: no tag).
pub fn deployment(
    rendered: &RenderedEnvironment,
    env_plan: &EnvironmentPlan,
    head_short: Option<&str>,
    commit: Option<&str>,
    allow_delete: bool,
    reviewed: impl Fn(&str) -> Option<String>,
) -> Deployment {
    let waves = rendered
        .waves
        .iter()
        .map(|wave| {
            wave.stacks
                .iter()
                .filter_map(|name| rendered.stacks.get(name))
                .map(|stack| Target {
                    reviewed_change_set: reviewed(stack.name.as_str()),
                    ..target(rendered, stack)
                })
                .collect()
        })
        .collect();
    let deletions = if allow_delete {
        env_plan
            .deletions
            .iter()
            .map(|stack| Deletion {
                stack: stack.clone(),
                stack_name: rendered.stack_name(stack),
            })
            .collect()
    } else {
        Vec::new()
    };
    envelope(
        rendered,
        waves,
        deletions,
        head_short.unwrap_or("uncommitted"),
        commit,
    )
}

/// A deployment of `rendered`'s environment: its account, tags and
/// protection around `waves` and `deletions`; change sets named
/// `strata-{short}-…`.
fn envelope(
    rendered: &RenderedEnvironment,
    waves: Vec<Vec<Target>>,
    deletions: Vec<Deletion>,
    short: &str,
    commit: Option<&str>,
) -> Deployment {
    let environment = &rendered.environment;
    Deployment {
        environment: environment.name.clone(),
        account: environment.account.clone(),
        tags: environment
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        protected: environment.protected,
        waves,
        deletions,
        change_set_prefix: format!("strata-{short}"),
        commit: commit.map(str::to_owned),
    }
}

/// A stack of `rendered` deployed as usual: its template, no parameters.
fn target(rendered: &RenderedEnvironment, stack: &crate::render::RenderedStack) -> Target {
    Target {
        stack: stack.name.to_string(),
        stack_name: rendered.stack_name(stack.name.as_str()),
        template: stack.compact().to_owned(),
        template_sha256: stack.sha256.clone(),
        capabilities: crate::cloud::capabilities_for(&stack.template()),
        depends_on: rendered
            .graph
            .dependencies(stack.name.as_str())
            .map(|(name, _)| name.to_string())
            .collect(),
        reviewed_change_set: None,
        parameters: Vec::new(),
        keep_template: false,
        unchanged: false,
    }
}

/// A code-only deploy of `stacks` of `rendered`: each keeps its deployed
/// template (`UsePreviousTemplate`) and gets the `parameters` given for it
/// (stack name → values, e.g. `ApiImageTag`), every other parameter its
/// template declares keeping its value (`UsePreviousValue`). Stacks run in
/// their usual waves; nothing is deleted. `commit` (the full SHA the run
/// was started from) names the change sets; the stacks keep their
/// `strata:commit` tag, because their templates do not change. A stack
/// that is not deployed yet fails: apply the environment first. Names in
/// `stacks` that `rendered` does not have are left out: the caller checks
/// them.
pub fn code_only(
    rendered: &RenderedEnvironment,
    stacks: &[String],
    parameters: &[(String, Vec<Parameter>)],
    commit: Option<&str>,
) -> Deployment {
    let waves = rendered
        .waves
        .iter()
        .map(|wave| {
            wave.stacks
                .iter()
                .filter(|name| stacks.iter().any(|s| s == name.as_str()))
                .filter_map(|name| rendered.stacks.get(name))
                .map(|stack| {
                    let mut values: Vec<Parameter> = parameters
                        .iter()
                        .filter(|(name, _)| name == stack.name.as_str())
                        .flat_map(|(_, values)| values.iter().cloned())
                        .collect();
                    for key in crate::cloud::declared_parameters(&stack.template()) {
                        if !values.iter().any(|p| p.key == key) {
                            values.push(Parameter::use_previous(key));
                        }
                    }
                    Target {
                        parameters: values,
                        keep_template: true,
                        ..target(rendered, stack)
                    }
                })
                .collect::<Vec<_>>()
        })
        .filter(|wave| !wave.is_empty())
        .collect();
    envelope(
        rendered,
        waves,
        Vec::new(),
        commit.map_or("uncommitted", |c| c.get(..7).unwrap_or(c)),
        commit,
    )
}

/// What a create or change set of `target` asks for, hashed: the template's
/// sha256 alone for a plain deploy (so `strata plan --cloud` and `strata
/// apply` name the same change set), else the template, whether it is kept
/// and the parameter values, so a change set made for other values is never
/// taken for this one.
fn request_hash(target: &Target) -> String {
    if target.parameters.is_empty() && !target.keep_template {
        return target.template_sha256.clone();
    }
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(target.template_sha256.as_bytes());
    hasher.update(if target.keep_template {
        b"\0keep"
    } else {
        b"\0body"
    });
    for parameter in &target.parameters {
        hasher.update([0]);
        hasher.update(parameter.key.as_bytes());
        match &parameter.value {
            ParameterValue::Value(value) => {
                hasher.update(b"=");
                hasher.update(value.as_bytes());
            }
            ParameterValue::UsePrevious => hasher.update(b"\0previous"),
        }
    }
    hex::encode(hasher.finalize())
}

/// A change set's name: the prefix (from the head commit) and the template's hash.
pub fn change_set_name(prefix: &str, template_sha256: &str) -> String {
    let short = template_sha256.get(..8).unwrap_or(template_sha256);
    format!("{prefix}-{short}")
}

async fn protect(shared: &Shared, target: &Target, stack: &Stack) -> Result<(), Failure> {
    if shared.deployment.protected && !stack.termination_protection {
        shared
            .cloud
            .set_termination_protection(&target.stack_name, true)
            .await?;
        shared.note(&target.stack, "termination protection turned on");
    }
    Ok(())
}

async fn finish(
    shared: &Shared,
    target: &Target,
    settled: Option<Stack>,
    success: Outcome,
    change_set: Option<&str>,
) -> Result<(Outcome, Option<String>), Failure> {
    let Some(stack) = settled else {
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: "the stack disappeared during the operation".into(),
            resource: None,
        });
    };
    if stack.status.is_failure() {
        return Err(failure_of(shared, target, &stack).await);
    }
    protect(shared, target, &stack).await?;
    Ok((success, change_set.map(str::to_owned)))
}

/// Why a settled stack failed: the first failed resource's reason, or the
/// stack's own.
async fn failure_of(shared: &Shared, target: &Target, stack: &Stack) -> Failure {
    let events = shared
        .cloud
        .stack_events(&target.stack_name)
        .await
        .unwrap_or_default();
    let cause = events.iter().rev().find(|e| {
        !e.is_stack_event()
            && e.status.ends_with("_FAILED")
            && e.reason
                .as_deref()
                .is_some_and(|r| !r.contains("cancelled") && !r.contains("canceled"))
    });
    let outcome = if stack.status.is_rolled_back() {
        Outcome::RolledBack
    } else {
        Outcome::Failed
    };
    match cause {
        Some(event) => Failure {
            outcome,
            reason: format!(
                "{} {}: {}",
                event.logical_id,
                event.status,
                event.reason.clone().unwrap_or_default()
            ),
            resource: Some(format!("{} ({})", event.logical_id, event.resource_type)),
        },
        None => Failure {
            outcome,
            reason: format!(
                "{}{}",
                stack.status,
                stack
                    .status_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            resource: None,
        },
    }
}

async fn delete(shared: &Shared, deletion: &Deletion) -> StackResult {
    let started = Instant::now();
    let target = Target {
        stack: deletion.stack.clone(),
        stack_name: deletion.stack_name.clone(),
        template: String::new(),
        template_sha256: String::new(),
        capabilities: Vec::new(),
        depends_on: Vec::new(),
        reviewed_change_set: None,
        parameters: Vec::new(),
        keep_template: false,
        unchanged: false,
    };
    shared.progress.report(&ProgressEvent::Deleting {
        stack: deletion.stack.clone(),
    });
    let outcome = delete_inner(shared, &target).await;
    let result = StackResult {
        stack: deletion.stack.clone(),
        stack_name: deletion.stack_name.clone(),
        wave: 0,
        outcome: match &outcome {
            Ok(()) => Outcome::Deleted,
            Err(f) => f.outcome,
        },
        reason: outcome.as_ref().err().map(|f| f.reason.clone()),
        resource: outcome.err().and_then(|f| f.resource),
        change_set: None,
        duration: started.elapsed(),
    };
    shared.progress.report(&ProgressEvent::Finished {
        result: result.clone(),
    });
    result
}

async fn delete_inner(shared: &Shared, target: &Target) -> Result<(), Failure> {
    let cloud = shared.cloud.as_ref();
    let Some(stack) = cloud.describe_stack(&target.stack_name).await? else {
        shared.note(&target.stack, "already gone");
        return Ok(());
    };
    if stack.termination_protection {
        return Err(Failure {
            outcome: Outcome::Failed,
            reason: format!(
                "{} has termination protection; turn it off first if it really should go (aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {})",
                target.stack_name, target.stack_name
            ),
            resource: None,
        });
    }
    let marker = newest_event(cloud, &target.stack_name).await;
    cloud
        .delete_stack(&target.stack_name, &shared.token(&["delete", &stack.id]))
        .await?;
    match wait_settled(shared, target, marker).await? {
        None => Ok(()),
        Some(left) if left.status.is_deleted() => Ok(()),
        Some(left) => {
            let mut failure = failure_of(shared, target, &left).await;
            failure.outcome = Outcome::Failed;
            Err(failure)
        }
    }
}

/// The id of the newest event of a stack, to tell new events from old.
async fn newest_event(cloud: &dyn Cloud, stack_name: &str) -> Option<String> {
    cloud
        .stack_events(stack_name)
        .await
        .ok()
        .and_then(|events| events.first().map(|e| e.id.clone()))
}

/// Poll until the stack settles (or is gone: `None`), reporting each new
/// event. The first look is immediate; then the delay grows by half each
/// time up to the longest.
async fn wait_settled(
    shared: &Shared,
    target: &Target,
    mut marker: Option<String>,
) -> Result<Option<Stack>, Failure> {
    let cloud = shared.cloud.as_ref();
    let (first, longest) = shared.options.poll;
    let mut delay = Duration::ZERO;
    loop {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        delay = if delay.is_zero() {
            first
        } else {
            (delay + delay / 2).min(longest)
        };
        let stack = cloud.describe_stack(&target.stack_name).await?;
        if let Ok(events) = cloud.stack_events(&target.stack_name).await {
            let fresh: Vec<&StackEvent> = events
                .iter()
                .take_while(|e| marker.as_deref() != Some(e.id.as_str()))
                .collect();
            if let Some(newest) = events.first() {
                marker = Some(newest.id.clone());
            }
            for event in fresh.into_iter().rev() {
                shared.progress.report(&ProgressEvent::Cloud {
                    stack: target.stack.clone(),
                    event: event.clone(),
                });
            }
        }
        match stack {
            None => return Ok(None),
            Some(stack) if stack.status.is_settled() => return Ok(Some(stack)),
            Some(_) => {}
        }
    }
}

/// Poll a change set until CloudFormation finished creating it.
async fn wait_change_set(
    shared: &Shared,
    stack_name: &str,
    name: &str,
) -> Result<crate::cloud::ChangeSet, Failure> {
    wait_for_change_set(shared.cloud.as_ref(), stack_name, name, shared.options.poll)
        .await
        .map_err(Failure::from)
}

/// Poll a change set until it is no longer being created.
pub async fn wait_for_change_set(
    cloud: &dyn Cloud,
    stack_name: &str,
    name: &str,
    (first, longest): (Duration, Duration),
) -> Result<crate::cloud::ChangeSet, CloudError> {
    let mut delay = Duration::ZERO;
    loop {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        delay = if delay.is_zero() {
            first.min(Duration::from_millis(500))
        } else {
            (delay + delay / 2).min(longest)
        };
        match cloud.describe_change_set(stack_name, name).await? {
            Some(change_set) if change_set.status != crate::cloud::ChangeSetStatus::Pending => {
                return Ok(change_set);
            }
            Some(_) => {}
            None => {
                return Err(CloudError::new(
                    ErrorKind::NotFound,
                    "DescribeChangeSet",
                    name,
                    "the change set disappeared while it was being created",
                ));
            }
        }
    }
}
