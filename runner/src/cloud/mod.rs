//! The cloud: CloudFormation stacks (with their parameters and templates),
//! change sets, events and exports, behind the [`Cloud`] trait, so that
//! deploys run the same code against AWS, moto's server and the scripted
//! double used by tests.
//!
//! Everything in and out is our own types; [`cloudformation`] maps them to
//! and from the AWS SDK. [`Retrying`] wraps any `Cloud` with jittered
//! exponential backoff for throttling and transient errors: every mutating
//! request carries a client token, so a retried call never applies twice.

pub mod cloudformation;
#[cfg(any(test, feature = "test-util"))]
pub mod scripted;

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// A CloudFormation stack as `DescribeStacks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Stack name (`v3-backend-production-networking`).
    pub name: String,
    /// Stack id (an ARN).
    pub id: String,
    /// Current status.
    pub status: StackStatus,
    /// Why it has that status, when CloudFormation says.
    pub status_reason: Option<String>,
    /// Outputs, with the export name of those exported.
    pub outputs: Vec<Output>,
    /// Stack tags.
    pub tags: Vec<(String, String)>,
    /// Termination protection.
    pub termination_protection: bool,
    /// Parameter values (key, value) as `DescribeStacks` shows them; a
    /// `NoEcho` parameter shows as `****`, kept as given.
    pub parameters: Vec<(String, String)>,
}

/// One output of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Output key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// The export name, when exported.
    pub export_name: Option<String>,
}

/// A stack status (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …), kept
/// as CloudFormation spells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StackStatus(pub String);

impl StackStatus {
    /// The status as CloudFormation spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An operation is still running (`*_IN_PROGRESS`).
    pub fn is_in_progress(&self) -> bool {
        self.0.ends_with("_IN_PROGRESS")
    }

    /// A settled state: no operation running.
    pub fn is_settled(&self) -> bool {
        !self.is_in_progress()
    }

    /// The last operation failed (`*_FAILED`, or any rollback).
    pub fn is_failure(&self) -> bool {
        self.0.ends_with("_FAILED") || self.0.contains("ROLLBACK")
    }

    /// The last operation was rolled back to the previous state.
    pub fn is_rolled_back(&self) -> bool {
        self.0 == "ROLLBACK_COMPLETE" || self.0 == "UPDATE_ROLLBACK_COMPLETE"
    }

    /// A stack in this state can only be deleted (`ROLLBACK_COMPLETE`,
    /// `ROLLBACK_FAILED`, `CREATE_FAILED`): a new create needs it gone first.
    pub fn needs_delete_before_create(&self) -> bool {
        matches!(
            self.0.as_str(),
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED"
        )
    }

    /// `DELETE_COMPLETE`: the stack is gone.
    pub fn is_deleted(&self) -> bool {
        self.0 == "DELETE_COMPLETE"
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for StackStatus {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Where a template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The template text itself (at most 51,200 bytes).
    Body(String),
    /// An S3 URL (templates up to 1 MB).
    Url(String),
    /// Keep the stack's current template (`UsePreviousTemplate`): only a
    /// change set can, to change parameters or tags; `CreateStack` refuses
    /// it.
    UsePrevious,
}

/// Why `CreateStack` refuses [`TemplateSource::UsePrevious`] (the adapter
/// and the scripted double say the same).
const NO_PREVIOUS_TEMPLATE: &str =
    "a new stack has no previous template to keep: pass the template's body or URL";

/// A parameter passed to `CreateStack` or `CreateChangeSet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The parameter's name in the template's `Parameters`.
    pub key: String,
    /// Its value, or the one the stack has.
    pub value: ParameterValue,
}

impl Parameter {
    /// `key` set to `value`.
    pub fn value(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: ParameterValue::Value(value.into()),
        }
    }

    /// `key` keeps the value the stack has (`UsePreviousValue`).
    pub fn use_previous(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: ParameterValue::UsePrevious,
        }
    }
}

/// What a [`Parameter`] is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterValue {
    /// This value.
    Value(String),
    /// The value the stack has now (`UsePreviousValue=true`); only an
    /// update of a stack that has the parameter can.
    UsePrevious,
}

/// IAM capabilities a template needs acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `CAPABILITY_IAM`.
    Iam,
    /// `CAPABILITY_NAMED_IAM`.
    NamedIam,
    /// `CAPABILITY_AUTO_EXPAND` (macros, nested stacks).
    AutoExpand,
}

impl Capability {
    /// As CloudFormation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iam => "CAPABILITY_IAM",
            Self::NamedIam => "CAPABILITY_NAMED_IAM",
            Self::AutoExpand => "CAPABILITY_AUTO_EXPAND",
        }
    }
}

/// `CreateStack`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateStack {
    /// Stack name.
    pub name: String,
    /// The template.
    pub template: TemplateSource,
    /// Parameter values; a parameter left out takes its `Default`.
    pub parameters: Vec<Parameter>,
    /// Stack tags.
    pub tags: Vec<(String, String)>,
    /// Acknowledged capabilities.
    pub capabilities: Vec<Capability>,
    /// Turn termination protection on.
    pub termination_protection: bool,
    /// Idempotency token: a retry with the same token is not applied twice.
    pub client_token: String,
}

/// `CreateChangeSet` of type `UPDATE` on an existing stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateChangeSet {
    /// Stack name.
    pub stack: String,
    /// Change set name (`strata-1a2b3c4d`).
    pub change_set: String,
    /// The template, or [`TemplateSource::UsePrevious`] to keep the stack's.
    pub template: TemplateSource,
    /// Parameter values. As in CloudFormation, a parameter left out takes
    /// its `Default`, not its current value: keep that with
    /// [`ParameterValue::UsePrevious`].
    pub parameters: Vec<Parameter>,
    /// Stack tags.
    pub tags: Vec<(String, String)>,
    /// Acknowledged capabilities.
    pub capabilities: Vec<Capability>,
    /// Shown in the console.
    pub description: String,
    /// Idempotency token.
    pub client_token: String,
}

/// A change set's creation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetStatus {
    /// `CREATE_PENDING` / `CREATE_IN_PROGRESS`.
    Pending,
    /// `CREATE_COMPLETE`.
    Complete,
    /// `FAILED` (see the reason: it may just have no changes).
    Failed,
    /// `DELETE_*`.
    Deleted,
}

/// Whether a change set can be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// `UNAVAILABLE`: not (yet) executable.
    Unavailable,
    /// `AVAILABLE`.
    Available,
    /// `EXECUTE_IN_PROGRESS`.
    InProgress,
    /// `EXECUTE_COMPLETE`.
    Complete,
    /// `EXECUTE_FAILED`.
    Failed,
    /// `OBSOLETE`: the stack changed since it was created.
    Obsolete,
}

/// What a change set does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeAction {
    /// `Add`.
    Add,
    /// `Modify`.
    Modify,
    /// `Remove`.
    Remove,
    /// `Import`.
    Import,
    /// `Dynamic`: decided at execution.
    Dynamic,
}

/// CloudFormation's `Replacement` answer for a modified resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Replacement {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Conditional`: depends on a value known only at execution.
    Conditional,
}

/// One resource change of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// Add, Modify, Remove, …
    pub action: ChangeAction,
    /// Logical id.
    pub logical_id: String,
    /// Physical id, for existing resources.
    pub physical_id: Option<String>,
    /// Resource type.
    pub resource_type: String,
    /// Whether a Modify replaces the resource (absent on moto).
    pub replacement: Option<Replacement>,
    /// What changes: `Properties`, `Tags`, `Metadata`, … (absent on moto).
    pub scope: Vec<String>,
}

/// A change set, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// Its name.
    pub name: String,
    /// The stack it belongs to.
    pub stack: String,
    /// Creation status.
    pub status: ChangeSetStatus,
    /// Why it failed, when it did.
    pub status_reason: Option<String>,
    /// Whether it can be executed.
    pub execution_status: ExecutionStatus,
    /// Its resource changes.
    pub changes: Vec<ResourceChange>,
}

impl ChangeSet {
    /// True when this change set says "nothing to do", in either shape
    /// CloudFormation uses: `FAILED` with a "didn't contain changes" /
    /// "No updates are to be performed" reason, or complete with no changes.
    pub fn has_no_changes(&self) -> bool {
        match self.status {
            ChangeSetStatus::Failed => self
                .status_reason
                .as_deref()
                .is_some_and(reason_means_no_changes),
            ChangeSetStatus::Complete => self.changes.is_empty(),
            _ => false,
        }
    }
}

/// True when a CloudFormation message says there is nothing to change.
pub fn reason_means_no_changes(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("didn't contain changes")
        || reason.contains("did not contain changes")
        || reason.contains("no updates are to be performed")
}

/// One change set of a stack, as `ListChangeSets` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetSummary {
    /// Its name.
    pub name: String,
    /// Creation status.
    pub status: ChangeSetStatus,
    /// Whether it can be executed.
    pub execution_status: ExecutionStatus,
}

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// Event id, unique per stack.
    pub id: String,
    /// Logical id of the resource (the stack's own name for stack events).
    pub logical_id: String,
    /// Physical id, when known.
    pub physical_id: Option<String>,
    /// Resource type (`AWS::CloudFormation::Stack` for the stack itself).
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `CREATE_FAILED`, …
    pub status: String,
    /// Why, when CloudFormation says.
    pub reason: Option<String>,
    /// When it happened.
    pub timestamp: SystemTime,
}

impl StackEvent {
    /// True for an event about the stack itself rather than a resource.
    pub fn is_stack_event(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// One export of the account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The id of the stack that exports it.
    pub exporting_stack: String,
}

/// How a drift detection (`DetectStackDrift`) is getting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionStatus {
    /// `DETECTION_IN_PROGRESS`: poll again.
    InProgress,
    /// `DETECTION_COMPLETE`: the stack's drift status is known.
    Complete,
    /// `DETECTION_FAILED`: see the reason (some resources could not be
    /// checked; the stack's status may still be known).
    Failed,
}

/// A stack's drift status as the last detection found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackDriftStatus {
    /// `IN_SYNC`: every checked resource matches its template.
    InSync,
    /// `DRIFTED`: at least one resource was modified or deleted.
    Drifted,
    /// `NOT_CHECKED`: no resource could be checked.
    NotChecked,
    /// `UNKNOWN`, or a detection still running.
    Unknown,
}

/// `DescribeStackDriftDetectionStatus`: one drift detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftDetection {
    /// Whether it finished.
    pub status: DetectionStatus,
    /// Why it failed, when CloudFormation says.
    pub reason: Option<String>,
    /// What it found about the stack.
    pub stack_drift: StackDriftStatus,
    /// How many resources drifted, once known.
    pub drifted_resources: Option<u32>,
}

/// A resource's drift status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceDriftStatus {
    /// `MODIFIED`: a property differs from the template.
    Modified,
    /// `DELETED`: the resource no longer exists.
    Deleted,
    /// `IN_SYNC`.
    InSync,
    /// `NOT_CHECKED`: CloudFormation cannot check this resource type.
    NotChecked,
}

/// How a property differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DifferenceKind {
    /// `ADD`: a value was added (to a list or map).
    Add,
    /// `REMOVE`: a value was removed.
    Remove,
    /// `NOT_EQUAL`: the value changed.
    NotEqual,
}

/// One property of a drifted resource, expected → actual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDifference {
    /// CloudFormation's JSON pointer into the resource, kept as given
    /// (`/Properties/Tags/0/Value`).
    pub path: String,
    /// The value the template says (JSON text, as CloudFormation gives it).
    pub expected: String,
    /// The value the resource has.
    pub actual: String,
    /// Added, removed or changed.
    pub kind: DifferenceKind,
}

/// One resource that drifted, from `DescribeStackResourceDrifts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDrift {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical id.
    pub physical_id: String,
    /// Resource type (`AWS::SQS::Queue`).
    pub resource_type: String,
    /// Modified, deleted, …
    pub status: ResourceDriftStatus,
    /// The properties that differ (empty for a deleted resource).
    pub differences: Vec<PropertyDifference>,
}

/// What kind of failure a cloud call met; decides retries and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Rate limited (`Throttling`, `TooManyRequests`): retry with backoff.
    Throttled,
    /// A network error, a timeout or a 5xx: retry with backoff.
    Transient,
    /// The stack or change set does not exist.
    NotFound,
    /// It already exists.
    AlreadyExists,
    /// The request was refused as invalid (`ValidationError`).
    Validation,
    /// The stack is busy with another operation (`*_IN_PROGRESS`).
    InProgress,
    /// The template needs capabilities that were not acknowledged.
    InsufficientCapabilities,
    /// The credentials may not do this, or are missing or expired.
    AccessDenied,
    /// A token was reused for a different request.
    TokenAlreadyUsed,
    /// This endpoint cannot do what was asked (moto's server has no drift
    /// detection: it answers `DetectStackDrift` with an HTML 500).
    Unsupported,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Transient)
    }
}

/// A failed cloud call, naming the operation and its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The API operation (`CreateStack`).
    pub operation: &'static str,
    /// What it was about: a stack or change set name ("" when none).
    pub subject: String,
    /// CloudFormation's (or the transport's) message.
    pub message: String,
}

impl CloudError {
    /// A new error.
    pub fn new(
        kind: ErrorKind,
        operation: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            operation,
            subject: subject.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            write!(f, "{} failed: {}", self.operation, self.message)
        } else {
            write!(
                f,
                "{} of `{}` failed: {}",
                self.operation, self.subject, self.message
            )
        }
    }
}

impl std::error::Error for CloudError {}

/// CloudFormation, as Strata uses it. Implementations: [`cloudformation::CloudFormation`]
/// (AWS, or moto through `AWS_ENDPOINT_URL`) and, for tests, `scripted::ScriptedCloud`.
///
/// Calls do not retry; wrap an implementation in [`Retrying`] for that.
#[async_trait]
pub trait Cloud: Send + Sync {
    /// The account id of the caller's credentials (STS `GetCallerIdentity`).
    async fn account(&self) -> Result<String, CloudError>;

    /// `DescribeStacks` of one stack; `None` when it does not exist (or is
    /// deleted).
    async fn describe_stack(&self, name: &str) -> Result<Option<Stack>, CloudError>;

    /// `GetTemplate` (`TemplateStage=Original`): the stack's template as it
    /// was submitted; `None` when the stack does not exist.
    async fn get_template(&self, name: &str) -> Result<Option<String>, CloudError>;

    /// `CreateStack`; returns the stack id. Returns as soon as CloudFormation
    /// accepted the request: poll [`Cloud::describe_stack`] for the outcome.
    /// A [`TemplateSource::UsePrevious`] is refused (kind `Validation`).
    async fn create_stack(&self, request: &CreateStack) -> Result<String, CloudError>;

    /// `CreateChangeSet` (type `UPDATE`). A change set with nothing to do
    /// may come back as an error of kind `Validation` whose message
    /// [`reason_means_no_changes`].
    async fn create_change_set(&self, request: &CreateChangeSet) -> Result<(), CloudError>;

    /// `DescribeChangeSet`, every page of changes; `None` when it does not exist.
    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<Option<ChangeSet>, CloudError>;

    /// `ExecuteChangeSet`. Returns once accepted: poll the stack.
    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> Result<(), CloudError>;

    /// `DeleteChangeSet`.
    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), CloudError>;

    /// `ListChangeSets` of a stack.
    async fn list_change_sets(&self, stack: &str) -> Result<Vec<ChangeSetSummary>, CloudError>;

    /// `DeleteStack`. Returns once accepted: poll the stack.
    async fn delete_stack(&self, name: &str, client_token: &str) -> Result<(), CloudError>;

    /// `DescribeStackEvents`, newest first (the first page is enough to
    /// follow an operation when polled often).
    async fn stack_events(&self, name: &str) -> Result<Vec<StackEvent>, CloudError>;

    /// `ListExports`, every page.
    async fn exports(&self) -> Result<Vec<Export>, CloudError>;

    /// `UpdateTerminationProtection`.
    async fn set_termination_protection(&self, name: &str, enabled: bool)
    -> Result<(), CloudError>;

    /// Upload a template to S3 and return the URL CloudFormation reads it from.
    async fn upload_template(
        &self,
        bucket: &str,
        key: &str,
        body: &str,
    ) -> Result<String, CloudError>;

    /// `DescribeStacks` without a name: every stack of the account and
    /// region, every page, deleted stacks left out (tags, parameters and
    /// outputs come along).
    async fn list_stacks(&self) -> Result<Vec<Stack>, CloudError>;

    /// `DetectStackDrift`: start a drift detection of `stack`; returns the
    /// detection id to poll with [`Cloud::drift_detection`]. An endpoint
    /// without drift detection fails with [`ErrorKind::Unsupported`].
    async fn detect_drift(&self, stack: &str) -> Result<String, CloudError>;

    /// `DescribeStackDriftDetectionStatus` of a detection started by
    /// [`Cloud::detect_drift`].
    async fn drift_detection(&self, id: &str) -> Result<DriftDetection, CloudError>;

    /// `DescribeStackResourceDrifts` of the stack's latest detection, every
    /// page: the resources `MODIFIED` or `DELETED`, with their property
    /// differences.
    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, CloudError>;
}

/// How [`Retrying`] backs off.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first delay (before jitter); it doubles each time.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based): "full jitter",
    /// uniformly random between zero and the exponential bound.
    pub fn delay(&self, retry: u32) -> Duration {
        let bound = self
            .base
            .saturating_mul(1u32 << retry.min(16))
            .min(self.cap);
        let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// Wraps a [`Cloud`] and retries throttled and transient failures with
/// jittered exponential backoff. Mutating calls carry client tokens, so a
/// retry of a request that did reach CloudFormation is not applied twice.
pub struct Retrying<C> {
    inner: C,
    policy: RetryPolicy,
}

impl<C: Cloud> Retrying<C> {
    /// Wrap `inner`.
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The wrapped cloud.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    async fn retry<T, F, Fut>(&self, mut call: F) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, CloudError>> + Send,
        T: Send,
    {
        let mut retry = 0;
        loop {
            match call().await {
                Err(e) if e.kind.is_retryable() && retry + 1 < self.policy.attempts => {
                    tokio::time::sleep(self.policy.delay(retry)).await;
                    retry += 1;
                }
                result => return result,
            }
        }
    }
}

#[async_trait]
impl<C: Cloud> Cloud for Retrying<C> {
    async fn account(&self) -> Result<String, CloudError> {
        self.retry(|| self.inner.account()).await
    }
    async fn describe_stack(&self, name: &str) -> Result<Option<Stack>, CloudError> {
        self.retry(|| self.inner.describe_stack(name)).await
    }
    async fn get_template(&self, name: &str) -> Result<Option<String>, CloudError> {
        self.retry(|| self.inner.get_template(name)).await
    }
    async fn create_stack(&self, request: &CreateStack) -> Result<String, CloudError> {
        self.retry(|| self.inner.create_stack(request)).await
    }
    async fn create_change_set(&self, request: &CreateChangeSet) -> Result<(), CloudError> {
        self.retry(|| self.inner.create_change_set(request)).await
    }
    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<Option<ChangeSet>, CloudError> {
        self.retry(|| self.inner.describe_change_set(stack, change_set))
            .await
    }
    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> Result<(), CloudError> {
        self.retry(|| {
            self.inner
                .execute_change_set(stack, change_set, client_token)
        })
        .await
    }
    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), CloudError> {
        self.retry(|| self.inner.delete_change_set(stack, change_set))
            .await
    }
    async fn list_change_sets(&self, stack: &str) -> Result<Vec<ChangeSetSummary>, CloudError> {
        self.retry(|| self.inner.list_change_sets(stack)).await
    }
    async fn delete_stack(&self, name: &str, client_token: &str) -> Result<(), CloudError> {
        self.retry(|| self.inner.delete_stack(name, client_token))
            .await
    }
    async fn stack_events(&self, name: &str) -> Result<Vec<StackEvent>, CloudError> {
        self.retry(|| self.inner.stack_events(name)).await
    }
    async fn exports(&self) -> Result<Vec<Export>, CloudError> {
        self.retry(|| self.inner.exports()).await
    }
    async fn set_termination_protection(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<(), CloudError> {
        self.retry(|| self.inner.set_termination_protection(name, enabled))
            .await
    }
    async fn upload_template(
        &self,
        bucket: &str,
        key: &str,
        body: &str,
    ) -> Result<String, CloudError> {
        self.retry(|| self.inner.upload_template(bucket, key, body))
            .await
    }

    async fn list_stacks(&self) -> Result<Vec<Stack>, CloudError> {
        self.retry(|| self.inner.list_stacks()).await
    }
    async fn detect_drift(&self, stack: &str) -> Result<String, CloudError> {
        self.retry(|| self.inner.detect_drift(stack)).await
    }
    async fn drift_detection(&self, id: &str) -> Result<DriftDetection, CloudError> {
        self.retry(|| self.inner.drift_detection(id)).await
    }
    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, CloudError> {
        self.retry(|| self.inner.resource_drifts(stack)).await
    }
}

/// A client token for one logical request: the same inputs give the same
/// token, so a retry (even from a restarted process) is recognised by
/// CloudFormation. At most 128 characters of `[a-zA-Z0-9-]`.
pub fn client_token(parts: &[&str]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("strata-{}", &hex::encode(hasher.finalize())[..40])
}

/// The parameter names a template declares (its `Parameters`), sorted.
pub fn declared_parameters(template: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = template
        .get("Parameters")
        .and_then(serde_json::Value::as_object)
        .map(|parameters| parameters.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The capabilities a template needs: `CAPABILITY_NAMED_IAM` when it names
/// an IAM resource, `CAPABILITY_IAM` when it has unnamed ones,
/// `CAPABILITY_AUTO_EXPAND` for a `Transform`.
pub fn capabilities_for(template: &serde_json::Value) -> Vec<Capability> {
    let mut capabilities = Vec::new();
    let resources = template
        .get("Resources")
        .and_then(serde_json::Value::as_object);
    let mut iam = false;
    let mut named = false;
    for resource in resources.into_iter().flat_map(|r| r.values()) {
        let kind = resource
            .get("Type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        if !kind.starts_with("AWS::IAM::") {
            continue;
        }
        iam = true;
        let properties = resource.get("Properties");
        let has = |key: &str| properties.and_then(|p| p.get(key)).is_some();
        if has("RoleName")
            || has("UserName")
            || has("GroupName")
            || has("ManagedPolicyName")
            || has("InstanceProfileName")
        {
            named = true;
        }
    }
    if named {
        capabilities.push(Capability::NamedIam);
    } else if iam {
        capabilities.push(Capability::Iam);
    }
    if template.get("Transform").is_some() {
        capabilities.push(Capability::AutoExpand);
    }
    capabilities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_changes_is_recognised_in_every_shape() {
        let failed = |reason: &str| ChangeSet {
            name: "strata-1".into(),
            stack: "s".into(),
            status: ChangeSetStatus::Failed,
            status_reason: Some(reason.into()),
            execution_status: ExecutionStatus::Unavailable,
            changes: vec![],
        };
        assert!(failed("The submitted information didn't contain changes. Submit different information to create a change set.").has_no_changes());
        assert!(failed("No updates are to be performed.").has_no_changes());
        assert!(!failed("Template format error").has_no_changes());
        let mut empty = failed("");
        empty.status = ChangeSetStatus::Complete;
        assert!(empty.has_no_changes());
    }

    #[test]
    fn client_tokens_are_stable_and_valid() {
        let token = client_token(&["create", "v3-backend-production-networking", "abc"]);
        assert_eq!(
            token,
            client_token(&["create", "v3-backend-production-networking", "abc"])
        );
        assert_ne!(token, client_token(&["create", "other", "abc"]));
        assert!(token.len() <= 128);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        let policy = RetryPolicy::default();
        for retry in 0..40 {
            assert!(policy.delay(retry) <= policy.cap);
        }
    }

    #[test]
    fn named_iam_resources_need_the_named_capability() {
        let template = serde_json::json!({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}},
        }});
        assert_eq!(capabilities_for(&template), vec![Capability::NamedIam]);
        let template = serde_json::json!({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        }});
        assert_eq!(capabilities_for(&template), vec![Capability::Iam]);
        let template = serde_json::json!({"Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }});
        assert!(capabilities_for(&template).is_empty());
    }
}
