//! [`ScriptedCloud`]: an in-memory [`Cloud`] that follows CloudFormation's
//! documented state machine, for tests.
//!
//! moto's server covers the happy path of real deploys, but it is
//! synchronous, never rolls back and knows nothing of exports in use,
//! replacements or throttling (`notes/moto.md`). This double keeps stacks in
//! a map and moves them through CloudFormation's statuses one step per
//! poll: `create_stack`, `execute_change_set` and `delete_stack` return with
//! the stack `*_IN_PROGRESS`, and every later `describe_stack` or
//! `stack_events` of that stack applies the next batch of events until the
//! stack settles. A test scripts what real CloudFormation would do (a
//! resource that fails, throttling, a stack busy with someone else's update,
//! a replacement), then reads back every call, and every operation's start
//! and settle, in order.
//!
//! Errors carry the kinds and messages the CloudFormation adapter produces
//! for the same situation, so one contract test can run over both.
//!
//! Parameters behave as in CloudFormation: a parameter left out takes its
//! `Default` (none and no value is refused), an unknown key is refused,
//! `UsePreviousValue` keeps the stack's value, `AllowedValues` and
//! `AllowedPattern` are enforced, and `NoEcho` values show as `****`. A
//! change set may keep the stack's template (`UsePreviousTemplate`); one
//! that changes only parameter values modifies the resources that refer to
//! them.
//!
//! Templates are evaluated as far as a test needs: `Ref` resolves to a
//! deterministic fake physical id (`{logical}-{8 hex}`), a parameter's value
//! or a pseudo parameter, `Fn::GetAtt` to `{physical}.{attribute}`, `Fn::ImportValue` to
//! the export's value, and `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
//! `Fn::GetAZs`, `Fn::If`, `Fn::FindInMap` and simple `Conditions` as
//! CloudFormation would. Resources are created in dependency order (`Ref`,
//! `Fn::GetAtt`, `Fn::Sub`, `DependsOn`), ties broken by logical id.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::{
    Capability, ChangeAction, ChangeSet, ChangeSetStatus, ChangeSetSummary, Cloud, CloudError,
    CreateChangeSet, CreateStack, DetectionStatus, DriftDetection, ErrorKind, ExecutionStatus,
    Export, NO_PREVIOUS_TEMPLATE, Output, Parameter, ParameterValue, Replacement, ResourceChange,
    ResourceDrift, ResourceDriftStatus, Stack, StackDriftStatus, StackEvent, StackStatus,
    TemplateSource, capabilities_for,
};

/// The account [`ScriptedCloud::new`] answers with (moto's too).
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// The region in stack ids and `AWS::Region` unless told otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How many polls an operation takes to settle unless told otherwise.
pub const DEFAULT_STEPS: usize = 3;

/// The resource type of events about the stack itself.
const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// CloudFormation's reason for a change set with nothing to do.
const NO_CHANGES: &str = "The submitted information didn't contain changes. Submit different information to create a change set.";

/// `TemplateBody` limit, in bytes.
const BODY_LIMIT: usize = 51_200;

/// Limit of a template read from S3, in bytes.
const URL_LIMIT: usize = 1_048_576;

/// `DescribeStackEvents` answers with one page of this many events.
const EVENTS_PAGE: usize = 100;

/// How many `DescribeStackDriftDetectionStatus` polls answer
/// `InProgress` before a detection completes.
pub const DETECTION_POLLS: usize = 2;

/// One API call the double received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// 1-based position among all calls, in the order they arrived.
    pub seq: u64,
    /// The API operation as CloudFormation names it (`CreateStack`,
    /// `DescribeStacks`; `GetCallerIdentity` and `PutObject` for STS and S3).
    pub operation: &'static str,
    /// What it was about: the stack name, `{stack}/{change set}` for change
    /// set calls, `s3://{bucket}/{key}` for uploads, "" for account-wide calls.
    pub subject: String,
}

/// A mutating operation accepted, or a stack settling, in the order they
/// happened: what tests read to check the order of a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A mutating operation was accepted and the stack went `*_IN_PROGRESS`.
    Started {
        /// Stack name.
        stack: String,
        /// `CreateStack`, `ExecuteChangeSet`, `DeleteStack`, or
        /// `UpdateStack` for an update made elsewhere ([`ScriptedCloud::busy`]).
        operation: &'static str,
    },
    /// The stack reached a settled status.
    Settled {
        /// Stack name.
        stack: String,
        /// `CREATE_COMPLETE`, `ROLLBACK_COMPLETE`, `DELETE_COMPLETE`, …
        status: StackStatus,
    },
}

/// An in-memory CloudFormation for tests (see the module docs).
///
/// Clones share one cloud: hand a clone to the code under test (or to
/// [`super::Retrying`]) and keep one to script situations and read the record.
#[derive(Clone, Default)]
pub struct ScriptedCloud {
    world: Arc<Mutex<World>>,
}

impl ScriptedCloud {
    /// An empty cloud in account [`DEFAULT_ACCOUNT`] and region
    /// [`DEFAULT_REGION`], without latency, whose operations settle after
    /// [`DEFAULT_STEPS`] polls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `account()` with `account` (and use it in stack ids).
    pub fn with_account(self, account: &str) -> Self {
        self.lock().settings.account = account.to_owned();
        self
    }

    /// Use `region` in stack ids, `AWS::Region` and `Fn::GetAZs`.
    pub fn with_region(self, region: &str) -> Self {
        self.lock().settings.region = region.to_owned();
        self
    }

    /// Sleep this long in every call, so that concurrent calls overlap as
    /// they do over the network.
    pub fn with_latency(self, latency: Duration) -> Self {
        self.lock().settings.latency = latency;
        self
    }

    /// Settle every operation after `steps` polls of its stack (at least one;
    /// a rollback or cleanup status is always seen by one poll of its own).
    pub fn with_steps(self, steps: usize) -> Self {
        self.lock().settings.steps = steps.max(1);
        self
    }

    /// The next operation on `stack` that creates, updates or deletes the
    /// resource `logical_id` fails there with `reason`: a create rolls back
    /// (`ROLLBACK_COMPLETE`), an update rolls back (`UPDATE_ROLLBACK_COMPLETE`,
    /// the old template, outputs and exports stay), a delete ends
    /// `DELETE_FAILED`. Operations that do not touch the resource leave the
    /// failure pending.
    pub fn fail_resource(&self, stack: &str, logical_id: &str, reason: &str) {
        self.lock().failures.push(ScriptedFailure {
            stack: stack.to_owned(),
            logical_id: logical_id.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// The next `times` calls of the API operation `operation` (as in
    /// [`Call::operation`]) fail with [`ErrorKind::Throttled`], "Rate exceeded".
    pub fn throttle(&self, operation: &str, times: u32) {
        *self
            .lock()
            .throttles
            .entry(operation.to_owned())
            .or_default() += times;
    }

    /// Someone else updates `stack` now: it shows `UPDATE_IN_PROGRESS` for
    /// `polls` describes, then `UPDATE_COMPLETE`. Mutating calls meanwhile
    /// fail with [`ErrorKind::InProgress`]; its executable change sets
    /// become obsolete.
    pub fn busy(&self, stack: &str, polls: usize) -> Result<(), CloudError> {
        self.lock().busy(stack, polls)
    }

    /// What change sets report as `Replacement` for a Modify of the resource
    /// `logical_id` of `stack` (otherwise `False`). A replaced resource gets
    /// a new physical id when the change set is executed.
    pub fn replacement(&self, stack: &str, logical_id: &str, replacement: Replacement) {
        self.lock()
            .replacements
            .insert((stack.to_owned(), logical_id.to_owned()), replacement);
    }

    /// A stack that already exists with `template_json` in the settled
    /// `status` (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`,
    /// `ROLLBACK_COMPLETE`, `DELETE_FAILED`, …); returns its id. Its
    /// resources exist unless the status says they were rolled back, and its
    /// outputs and exports are registered when the status is a complete one.
    pub fn seed_stack(
        &self,
        name: &str,
        template_json: &str,
        status: &str,
    ) -> Result<String, CloudError> {
        self.lock().seed(name, template_json, status)
    }

    /// Someone changes `stack` outside Strata (the console, `aws
    /// cloudformation update-stack`): its template becomes `template_json`
    /// when given, and each of `parameters` (key, value) takes that value.
    /// The stack ends `UPDATE_COMPLETE` at once; its resources, outputs and
    /// exports are left as they are, since only what `GetTemplate` and
    /// `DescribeStacks` show matters to the tests that use this.
    pub fn edit_out_of_band(
        &self,
        stack: &str,
        template_json: Option<&str>,
        parameters: &[(&str, &str)],
    ) -> Result<(), CloudError> {
        const OPERATION: &str = "UpdateStack";
        let mut world = self.lock();
        let key = world
            .live_key(stack)
            .ok_or_else(|| stack_missing(OPERATION, stack))?;
        let Some(record) = world.stacks.get_mut(&key) else {
            return Err(stack_missing(OPERATION, stack));
        };
        if record.status.is_in_progress() {
            return Err(record.in_progress(OPERATION));
        }
        if let Some(body) = template_json {
            record.template = parse_template(OPERATION, stack, body)?;
            record.body = body.to_owned();
        }
        for (parameter, value) in parameters {
            record
                .parameters
                .insert((*parameter).to_owned(), (*value).to_owned());
        }
        record.status = StackStatus::from("UPDATE_COMPLETE");
        record.reason = None;
        world.history.push(Happening::Started {
            stack: key.clone(),
            operation: OPERATION,
        });
        world.history.push(Happening::Settled {
            stack: key,
            status: StackStatus::from("UPDATE_COMPLETE"),
        });
        Ok(())
    }

    /// What drift detection of `stack` finds from now on: `drifts` (those
    /// `Modified` or `Deleted` make the stack `Drifted`); an empty list
    /// makes it in sync again. A detection reports `InProgress` for
    /// [`DETECTION_POLLS`] polls, then completes with what was scripted when
    /// it started.
    pub fn set_resource_drift(&self, stack: &str, drifts: Vec<ResourceDrift>) {
        let mut world = self.lock();
        if drifts.is_empty() {
            world.drifts.remove(stack);
        } else {
            world.drifts.insert(stack.to_owned(), drifts);
        }
    }

    /// Answer drift-detection calls as moto's server does: with an error of
    /// kind [`ErrorKind::Unsupported`].
    pub fn without_drift_detection(self) -> Self {
        self.lock().settings.drift_detection = false;
        self
    }

    /// Every API call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Every operation start and stack settle so far, in order.
    pub fn history(&self) -> Vec<Happening> {
        self.lock().history.clone()
    }

    /// The stack as `describe_stack` would show it, without advancing its
    /// operation or recording a call; `None` when it does not exist.
    pub fn stack(&self, name: &str) -> Option<Stack> {
        let world = self.lock();
        world
            .live_key(name)
            .and_then(|key| world.stacks.get(&key))
            .map(StackRecord::describe)
    }

    /// The stack's current template, without recording a call.
    pub fn template(&self, name: &str) -> Option<serde_json::Value> {
        let world = self.lock();
        world
            .live_key(name)
            .and_then(|key| world.stacks.get(&key))
            .map(|stack| stack.template.clone())
    }

    /// The world, even when a panicking test poisoned the lock (a
    /// `std::sync::Mutex`: every section is short and never awaits).
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The configured latency, slept outside the lock.
    async fn pause(&self) {
        let latency = self.lock().settings.latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
}

#[async_trait]
impl Cloud for ScriptedCloud {
    async fn account(&self) -> Result<String, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("GetCallerIdentity", "")?;
        Ok(world.settings.account.clone())
    }

    async fn describe_stack(&self, name: &str) -> Result<Option<Stack>, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("DescribeStacks", name)?;
        Ok(world.poll(name).map(StackRecord::describe))
    }

    async fn get_template(&self, name: &str) -> Result<Option<String>, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("GetTemplate", name)?;
        Ok(world
            .live_key(name)
            .and_then(|key| world.stacks.get(&key))
            .map(|stack| stack.body.clone()))
    }

    async fn create_stack(&self, request: &CreateStack) -> Result<String, CloudError> {
        const OPERATION: &str = "CreateStack";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, &request.name)?;
        if let Some(id) = world.repeated(&request.client_token, OPERATION, &request.name)? {
            return Ok(id);
        }
        let id = world.create(request)?;
        world.remember(&request.client_token, OPERATION, &request.name, &id);
        Ok(id)
    }

    async fn create_change_set(&self, request: &CreateChangeSet) -> Result<(), CloudError> {
        const OPERATION: &str = "CreateChangeSet";
        self.pause().await;
        let subject = format!("{}/{}", request.stack, request.change_set);
        let mut world = self.lock();
        world.call(OPERATION, &subject)?;
        if world
            .repeated(&request.client_token, OPERATION, &subject)?
            .is_some()
        {
            return Ok(());
        }
        world.create_change_set(request)?;
        world.remember(&request.client_token, OPERATION, &subject, "");
        Ok(())
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<Option<ChangeSet>, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("DescribeChangeSet", &format!("{stack}/{change_set}"))?;
        Ok(world.describe_change_set(stack, change_set))
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> Result<(), CloudError> {
        const OPERATION: &str = "ExecuteChangeSet";
        self.pause().await;
        let subject = format!("{stack}/{change_set}");
        let mut world = self.lock();
        world.call(OPERATION, &subject)?;
        if world.repeated(client_token, OPERATION, &subject)?.is_some() {
            return Ok(());
        }
        world.execute(stack, change_set)?;
        world.remember(client_token, OPERATION, &subject, "");
        Ok(())
    }

    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("DeleteChangeSet", &format!("{stack}/{change_set}"))?;
        world.delete_change_set(stack, change_set)
    }

    async fn list_change_sets(&self, stack: &str) -> Result<Vec<ChangeSetSummary>, CloudError> {
        const OPERATION: &str = "ListChangeSets";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, stack)?;
        let record = world
            .live_key(stack)
            .and_then(|key| world.stacks.get(&key))
            .ok_or_else(|| stack_missing(OPERATION, stack))?;
        Ok(record
            .change_sets
            .iter()
            .map(ChangeSetRecord::summary)
            .collect())
    }

    async fn delete_stack(&self, name: &str, client_token: &str) -> Result<(), CloudError> {
        const OPERATION: &str = "DeleteStack";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, name)?;
        if world.repeated(client_token, OPERATION, name)?.is_some() {
            return Ok(());
        }
        world.delete(name)?;
        world.remember(client_token, OPERATION, name, "");
        Ok(())
    }

    async fn stack_events(&self, name: &str) -> Result<Vec<StackEvent>, CloudError> {
        const OPERATION: &str = "DescribeStackEvents";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, name)?;
        world.poll(name);
        world
            .events(name)
            .ok_or_else(|| stack_missing(OPERATION, name))
    }

    async fn exports(&self) -> Result<Vec<Export>, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("ListExports", "")?;
        let mut exports: Vec<Export> = world
            .stacks
            .values()
            .flat_map(|stack| {
                stack.exports().map(|(name, value)| Export {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    exporting_stack: stack.id.clone(),
                })
            })
            .collect();
        exports.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(exports)
    }

    async fn set_termination_protection(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<(), CloudError> {
        const OPERATION: &str = "UpdateTerminationProtection";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, name)?;
        let key = world
            .live_key(name)
            .ok_or_else(|| stack_missing(OPERATION, name))?;
        if let Some(stack) = world.stacks.get_mut(&key) {
            stack.termination_protection = enabled;
        }
        Ok(())
    }

    async fn upload_template(
        &self,
        bucket: &str,
        key: &str,
        body: &str,
    ) -> Result<String, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("PutObject", &format!("s3://{bucket}/{key}"))?;
        let url = format!("https://{bucket}.s3.amazonaws.com/{key}");
        world.templates.insert(url.clone(), body.to_owned());
        Ok(url)
    }

    async fn list_stacks(&self) -> Result<Vec<Stack>, CloudError> {
        self.pause().await;
        let mut world = self.lock();
        world.call("DescribeStacks", "")?;
        let names: Vec<String> = world.stacks.keys().cloned().collect();
        Ok(names
            .iter()
            .filter_map(|name| world.poll(name).map(StackRecord::describe))
            .collect())
    }

    async fn detect_drift(&self, stack: &str) -> Result<String, CloudError> {
        const OPERATION: &str = "DetectStackDrift";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, stack)?;
        world.drift_supported(OPERATION)?;
        let key = world
            .live_key(stack)
            .ok_or_else(|| stack_missing(OPERATION, stack))?;
        if world
            .stacks
            .get(&key)
            .is_some_and(|record| record.status.is_in_progress())
        {
            return Err(validation(
                OPERATION,
                stack,
                format!(
                    "Drift detection is not supported for stacks in an in-progress state: {key}"
                ),
            ));
        }
        let id = format!(
            "{}-drift-{}",
            &digest(&key)[..8],
            world.detections.len() + 1
        );
        let found = world.drifts.get(&key).cloned().unwrap_or_default();
        world.detections.insert(
            id.clone(),
            Detection {
                stack: key,
                polls_left: DETECTION_POLLS,
                found,
            },
        );
        Ok(id)
    }

    async fn drift_detection(&self, id: &str) -> Result<DriftDetection, CloudError> {
        const OPERATION: &str = "DescribeStackDriftDetectionStatus";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, id)?;
        world.drift_supported(OPERATION)?;
        let Some(detection) = world.detections.get_mut(id) else {
            return Err(validation(
                OPERATION,
                id,
                format!("No drift detection found for id {id}"),
            ));
        };
        if detection.polls_left > 0 {
            detection.polls_left -= 1;
            return Ok(DriftDetection {
                status: DetectionStatus::InProgress,
                reason: None,
                stack_drift: StackDriftStatus::Unknown,
                drifted_resources: None,
            });
        }
        let drifted = detection
            .found
            .iter()
            .filter(|d| {
                matches!(
                    d.status,
                    ResourceDriftStatus::Modified | ResourceDriftStatus::Deleted
                )
            })
            .count();
        let (stack, found) = (detection.stack.clone(), detection.found.clone());
        world.detected.insert(stack, found);
        Ok(DriftDetection {
            status: DetectionStatus::Complete,
            reason: None,
            stack_drift: if drifted > 0 {
                StackDriftStatus::Drifted
            } else {
                StackDriftStatus::InSync
            },
            drifted_resources: u32::try_from(drifted).ok(),
        })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, CloudError> {
        const OPERATION: &str = "DescribeStackResourceDrifts";
        self.pause().await;
        let mut world = self.lock();
        world.call(OPERATION, stack)?;
        world.drift_supported(OPERATION)?;
        let key = world
            .live_key(stack)
            .ok_or_else(|| stack_missing(OPERATION, stack))?;
        Ok(world
            .detected
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|d| {
                matches!(
                    d.status,
                    ResourceDriftStatus::Modified | ResourceDriftStatus::Deleted
                )
            })
            .cloned()
            .collect())
    }
}

/// How the cloud is configured.
#[derive(Debug, Clone)]
struct Settings {
    account: String,
    region: String,
    steps: usize,
    latency: Duration,
    /// Drift detection is implemented (moto's is not).
    drift_detection: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            account: DEFAULT_ACCOUNT.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            steps: DEFAULT_STEPS,
            latency: Duration::ZERO,
            drift_detection: true,
        }
    }
}

/// Everything the cloud knows, behind one lock.
#[derive(Default)]
struct World {
    settings: Settings,
    /// Live stacks by name (a settled `DELETE_COMPLETE` moves to `deleted`).
    stacks: BTreeMap<String, StackRecord>,
    /// Deleted stacks, still found by id as CloudFormation does.
    deleted: Vec<StackRecord>,
    failures: Vec<ScriptedFailure>,
    throttles: BTreeMap<String, u32>,
    replacements: BTreeMap<(String, String), Replacement>,
    /// Accepted client tokens.
    tokens: BTreeMap<String, Accepted>,
    /// Uploaded templates by URL.
    templates: BTreeMap<String, String>,
    calls: Vec<Call>,
    history: Vec<Happening>,
    /// Stacks ever created, to make ids unique.
    created: u64,
    /// Scripted resource drift, by stack name.
    drifts: BTreeMap<String, Vec<ResourceDrift>>,
    /// Drift detections by id.
    detections: BTreeMap<String, Detection>,
    /// What each stack's latest completed detection found.
    detected: BTreeMap<String, Vec<ResourceDrift>>,
}

/// A drift detection running or done.
struct Detection {
    stack: String,
    /// Polls still answering `InProgress`.
    polls_left: usize,
    /// What it finds (the scripted drift when it started).
    found: Vec<ResourceDrift>,
}

/// A resource failure waiting for the next operation that touches it.
struct ScriptedFailure {
    stack: String,
    logical_id: String,
    reason: String,
}

/// A mutating request accepted with a client token.
struct Accepted {
    operation: &'static str,
    subject: String,
    /// What the call returned (the stack id of a create).
    result: String,
}

impl World {
    /// Fail a drift-detection call as moto does when the cloud is told to
    /// have none ([`ScriptedCloud::without_drift_detection`]); the message
    /// is the CloudFormation adapter's for moto's answer.
    fn drift_supported(&self, operation: &'static str) -> Result<(), CloudError> {
        if self.settings.drift_detection {
            return Ok(());
        }
        Err(CloudError::new(
            ErrorKind::Unsupported,
            operation,
            "",
            format!(
                "the endpoint does not implement {operation} (it answered HTTP 500 without an AWS error code), so drift detection is unavailable there"
            ),
        ))
    }

    /// Record a call, and fail it when it is scripted to be throttled.
    fn call(&mut self, operation: &'static str, subject: &str) -> Result<(), CloudError> {
        let seq = self.calls.last().map_or(1, |call| call.seq + 1);
        self.calls.push(Call {
            seq,
            operation,
            subject: subject.to_owned(),
        });
        if let Some(left) = self.throttles.get_mut(operation)
            && *left > 0
        {
            *left -= 1;
            return Err(CloudError::new(
                ErrorKind::Throttled,
                operation,
                subject,
                "Rate exceeded",
            ));
        }
        Ok(())
    }

    /// What an earlier request with the same client token returned, when
    /// this is a retry of it.
    fn repeated(
        &self,
        token: &str,
        operation: &'static str,
        subject: &str,
    ) -> Result<Option<String>, CloudError> {
        match self.tokens.get(token) {
            _ if token.is_empty() => Ok(None),
            None => Ok(None),
            Some(accepted) if accepted.operation == operation && accepted.subject == subject => {
                Ok(Some(accepted.result.clone()))
            }
            Some(accepted) => Err(CloudError::new(
                ErrorKind::TokenAlreadyUsed,
                operation,
                subject,
                format!(
                    "Another {} request for {} already used the token {token}",
                    accepted.operation, accepted.subject
                ),
            )),
        }
    }

    fn remember(&mut self, token: &str, operation: &'static str, subject: &str, result: &str) {
        if !token.is_empty() {
            self.tokens.insert(
                token.to_owned(),
                Accepted {
                    operation,
                    subject: subject.to_owned(),
                    result: result.to_owned(),
                },
            );
        }
    }

    /// The name of the live stack called (or with the id) `name_or_id`.
    fn live_key(&self, name_or_id: &str) -> Option<String> {
        if self.stacks.contains_key(name_or_id) {
            return Some(name_or_id.to_owned());
        }
        self.stacks
            .values()
            .find(|stack| stack.id == name_or_id)
            .map(|stack| stack.name.clone())
    }

    /// Advance the stack's operation by one step, as a poll does; the stack
    /// afterwards, unless it is gone.
    fn poll(&mut self, name_or_id: &str) -> Option<&StackRecord> {
        let key = self.live_key(name_or_id)?;
        self.advance(&key);
        self.stacks.get(&key)
    }

    /// The stack's events, newest first (one page); deleted stacks are found
    /// by id only, as CloudFormation does.
    fn events(&self, name_or_id: &str) -> Option<Vec<StackEvent>> {
        let stack = self
            .live_key(name_or_id)
            .and_then(|key| self.stacks.get(&key))
            .or_else(|| self.deleted.iter().rev().find(|s| s.id == name_or_id))?;
        Some(
            stack
                .events
                .iter()
                .rev()
                .take(EVENTS_PAGE)
                .cloned()
                .collect(),
        )
    }

    /// Every registered export: name → value.
    fn export_values(&self) -> BTreeMap<String, String> {
        self.stacks
            .values()
            .flat_map(StackRecord::exports)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    /// The stack (other than `except`) that exports `name`.
    fn exporter(&self, name: &str, except: &str) -> Option<&str> {
        self.stacks
            .values()
            .filter(|stack| stack.name != except)
            .find(|stack| stack.exports().any(|(export, _)| export == name))
            .map(|stack| stack.name.as_str())
    }

    /// Live stacks (other than `except`) whose template imports `export`,
    /// sorted.
    fn importers(&self, export: &str, except: &str) -> Vec<String> {
        let exports = self.export_values();
        self.stacks
            .values()
            .filter(|stack| stack.name != except && !stack.status.needs_delete_before_create())
            .filter(|stack| {
                stack
                    .scope(&self.settings, &stack.template, &exports)
                    .imports()
                    .iter()
                    .any(|import| import == export)
            })
            .map(|stack| stack.name.clone())
            .collect()
    }

    /// The first scripted failure of `stack` among `logical_ids` (in that
    /// order), consumed.
    fn take_failure(&mut self, stack: &str, logical_ids: &[&str]) -> Option<(String, String)> {
        logical_ids.iter().find_map(|logical_id| {
            let index = self
                .failures
                .iter()
                .position(|f| f.stack == stack && f.logical_id == *logical_id)?;
            let failure = self.failures.remove(index);
            Some((failure.logical_id, failure.reason))
        })
    }

    /// A new stack id (an ARN), unique per creation.
    fn stack_id(&mut self, name: &str) -> String {
        self.created += 1;
        let hash = digest(&format!("{name}/{}", self.created));
        format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/{}-{}-{}-{}-{}",
            self.settings.region,
            self.settings.account,
            &hash[..8],
            &hash[8..12],
            &hash[12..16],
            &hash[16..20],
            &hash[20..32],
        )
    }

    /// The template a request names, read and checked, with its text.
    /// [`TemplateSource::UsePrevious`] is the caller's to resolve; here it is
    /// refused, as `CreateStack` does.
    fn template(
        &self,
        operation: &'static str,
        subject: &str,
        source: &TemplateSource,
    ) -> Result<(Value, String), CloudError> {
        let body = match source {
            TemplateSource::UsePrevious => {
                return Err(validation(operation, subject, NO_PREVIOUS_TEMPLATE));
            }
            TemplateSource::Body(body) if body.len() > BODY_LIMIT => {
                return Err(validation(
                    operation,
                    subject,
                    format!(
                        "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to {BODY_LIMIT}"
                    ),
                ));
            }
            TemplateSource::Body(body) => body,
            TemplateSource::Url(url) => self.templates.get(url).ok_or_else(|| {
                validation(
                    operation,
                    subject,
                    format!(
                        "TemplateURL must reference a valid S3 object to which you have access: {url}"
                    ),
                )
            })?,
        };
        if body.len() > URL_LIMIT {
            return Err(validation(
                operation,
                subject,
                format!("Template may not exceed {URL_LIMIT} bytes in size."),
            ));
        }
        Ok((parse_template(operation, subject, body)?, body.clone()))
    }

    /// `CreateStack`, accepted: the stack exists, `CREATE_IN_PROGRESS`.
    fn create(&mut self, request: &CreateStack) -> Result<String, CloudError> {
        const OPERATION: &str = "CreateStack";
        let name = request.name.as_str();
        check_name(OPERATION, name, "stackName", name)?;
        if self.stacks.contains_key(name) {
            return Err(CloudError::new(
                ErrorKind::AlreadyExists,
                OPERATION,
                name,
                format!("Stack [{name}] already exists"),
            ));
        }
        let (template, body) = self.template(OPERATION, name, &request.template)?;
        check_capabilities(OPERATION, name, &template, &request.capabilities)?;
        let parameters = resolve_parameters(OPERATION, name, &template, &request.parameters, None)?;
        let id = self.stack_id(name);
        let exports = self.export_values();
        let (resources, new_exports) = {
            let scope = Scope::new(
                name,
                &id,
                &self.settings,
                &template,
                &parameters,
                &[],
                &exports,
            );
            if let Some(missing) = scope
                .imports()
                .into_iter()
                .find(|import| !exports.contains_key(import))
            {
                return Err(no_export(OPERATION, name, &missing));
            }
            (scope.resources(), scope.exports())
        };
        let taken = new_exports.iter().find_map(|(export, _)| {
            self.exporter(export, name).map(|owner| {
                format!("Export with name {export} is already exported by stack {owner}")
            })
        });
        let logical_ids: Vec<&str> = resources.iter().map(|r| r.logical_id.as_str()).collect();
        let failure = self.take_failure(name, &logical_ids);
        let (moments, succeeded) = create_script(name, &id, &resources, failure, taken);
        let settle = if succeeded {
            Settle::Adopt {
                template: template.clone(),
                body: body.clone(),
                parameters: parameters.clone(),
                tags: request.tags.clone(),
            }
        } else {
            Settle::Keep
        };
        let mut record = StackRecord::new(name, &id, template);
        record.body = body;
        record.parameters = parameters;
        record.tags = request.tags.clone();
        record.termination_protection = request.termination_protection;
        self.stacks.insert(name.to_owned(), record);
        self.start(name, OPERATION, moments, settle, None);
        Ok(id)
    }

    /// `CreateChangeSet`, accepted: the change set exists, pending until
    /// its first describe.
    fn create_change_set(&mut self, request: &CreateChangeSet) -> Result<(), CloudError> {
        const OPERATION: &str = "CreateChangeSet";
        let name = request.stack.as_str();
        let key = self
            .live_key(name)
            .ok_or_else(|| stack_missing(OPERATION, name))?;
        check_name(OPERATION, name, "changeSetName", &request.change_set)?;
        let Some(stack) = self.stacks.get(&key) else {
            return Err(stack_missing(OPERATION, name));
        };
        let (template, body) = match &request.template {
            TemplateSource::UsePrevious => (stack.template.clone(), stack.body.clone()),
            source => self.template(OPERATION, name, source)?,
        };
        check_capabilities(OPERATION, name, &template, &request.capabilities)?;
        let parameters = resolve_parameters(
            OPERATION,
            name,
            &template,
            &request.parameters,
            Some(&stack.parameters),
        )?;
        let exports = self.export_values();
        stack.check_updatable(OPERATION)?;
        if stack
            .change_sets
            .iter()
            .any(|c| c.name == request.change_set)
        {
            return Err(CloudError::new(
                ErrorKind::AlreadyExists,
                OPERATION,
                name,
                format!("ChangeSet [{}] already exists", request.change_set),
            ));
        }
        let proposed = Proposed {
            template,
            body,
            parameters,
        };
        let record = self.plan_change_set(stack, request, proposed, &exports);
        if let Some(stack) = self.stacks.get_mut(&key) {
            stack.change_sets.push(record);
        }
        Ok(())
    }

    /// What a change set of `stack` to the `proposed` template and
    /// parameters would do.
    fn plan_change_set(
        &self,
        stack: &StackRecord,
        request: &CreateChangeSet,
        proposed: Proposed,
        exports: &BTreeMap<String, String>,
    ) -> ChangeSetRecord {
        let Proposed {
            template,
            body,
            parameters,
        } = proposed;
        let mut record = ChangeSetRecord {
            name: request.change_set.clone(),
            template: Value::Null,
            body: String::new(),
            parameters: BTreeMap::new(),
            tags: request.tags.clone(),
            described: false,
            status: ChangeSetStatus::Failed,
            reason: None,
            execution: ExecutionStatus::Unavailable,
            changes: Vec::new(),
        };
        let changes = {
            let new = Scope::new(
                &stack.name,
                &stack.id,
                &self.settings,
                &template,
                &parameters,
                &stack.resources,
                exports,
            );
            if let Some(missing) = new
                .imports()
                .into_iter()
                .find(|import| !exports.contains_key(import))
            {
                record.reason = Some(format!("No export named {missing} found."));
                return record;
            }
            let old = stack.scope(&self.settings, &stack.template, exports);
            let changed_parameters = changed_keys(&stack.parameters, &parameters);
            self.diff(
                stack,
                &old.active_resources(),
                &new.active_resources(),
                &request.tags,
                &changed_parameters,
            )
        };
        if changes.is_empty()
            && template == stack.template
            && parameters == stack.parameters
            && same_tags(&request.tags, &stack.tags)
        {
            record.reason = Some(NO_CHANGES.to_owned());
            return record;
        }
        record.status = ChangeSetStatus::Complete;
        record.execution = ExecutionStatus::Available;
        record.changes = changes;
        record.template = template;
        record.body = body;
        record.parameters = parameters;
        record
    }

    /// Resource changes from `old` to `new`, by logical id; a resource that
    /// refers to a parameter in `changed_parameters` is modified even when
    /// its text is not.
    fn diff(
        &self,
        stack: &StackRecord,
        old: &BTreeMap<&str, &Value>,
        new: &BTreeMap<&str, &Value>,
        tags: &[(String, String)],
        changed_parameters: &BTreeSet<String>,
    ) -> Vec<ResourceChange> {
        let tags_changed = !same_tags(tags, &stack.tags);
        let logical_ids: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
        logical_ids
            .into_iter()
            .filter_map(|logical_id| {
                let physical_id = stack.physical_id(logical_id);
                let change = |action, body: &Value, replacement, scope| ResourceChange {
                    action,
                    logical_id: logical_id.to_owned(),
                    physical_id: physical_id.clone(),
                    resource_type: resource_type(body).to_owned(),
                    replacement,
                    scope,
                };
                match (old.get(logical_id), new.get(logical_id)) {
                    (None, Some(body)) => Some(ResourceChange {
                        physical_id: None,
                        ..change(ChangeAction::Add, body, None, Vec::new())
                    }),
                    (Some(body), None) => {
                        Some(change(ChangeAction::Remove, body, None, Vec::new()))
                    }
                    (Some(before), Some(after)) => {
                        let mut scope = scope_of(before, after);
                        if scope.is_empty() && refers_to_any(after, changed_parameters) {
                            scope.push("Properties".to_owned());
                        }
                        if scope.is_empty() && tags_changed {
                            scope.push("Tags".to_owned());
                        }
                        let replacement = self
                            .replacements
                            .get(&(stack.name.clone(), logical_id.to_owned()))
                            .copied()
                            .unwrap_or(Replacement::False);
                        (!scope.is_empty())
                            .then(|| change(ChangeAction::Modify, after, Some(replacement), scope))
                    }
                    (None, None) => None,
                }
            })
            .collect()
    }

    fn describe_change_set(&mut self, stack: &str, change_set: &str) -> Option<ChangeSet> {
        let key = self.live_key(stack)?;
        let record = self.stacks.get_mut(&key)?;
        let stack_name = record.name.clone();
        let change_set = record
            .change_sets
            .iter_mut()
            .find(|c| c.name == change_set)?;
        let described = change_set.describe(&stack_name);
        change_set.described = true;
        Some(described)
    }

    /// `ExecuteChangeSet`, accepted: the stack is `UPDATE_IN_PROGRESS`.
    fn execute(&mut self, name: &str, change_set: &str) -> Result<(), CloudError> {
        const OPERATION: &str = "ExecuteChangeSet";
        let missing = || {
            CloudError::new(
                ErrorKind::NotFound,
                OPERATION,
                name,
                format!("ChangeSet [{change_set}] does not exist"),
            )
        };
        let key = self.live_key(name).ok_or_else(missing)?;
        let exports = self.export_values();
        let Some(stack) = self.stacks.get(&key) else {
            return Err(missing());
        };
        let record = stack
            .change_sets
            .iter()
            .find(|c| c.name == change_set)
            .ok_or_else(missing)?;
        if stack.status.is_in_progress() {
            return Err(stack.in_progress(OPERATION));
        }
        let (_, execution) = record.visible();
        if execution != ExecutionStatus::Available {
            return Err(validation(
                OPERATION,
                name,
                format!(
                    "ChangeSet [{change_set}] cannot be executed in its current execution status of [{}]",
                    execution_name(execution)
                ),
            ));
        }
        let plan = self.plan_update(stack, record, &exports);
        let logical_ids: Vec<&str> = plan
            .steps
            .iter()
            .map(|step| step.resource.logical_id.as_str())
            .collect();
        let failure = self.take_failure(&key, &logical_ids);
        let (moments, succeeded) = update_script(&plan, failure);
        let Some(stack) = self.stacks.get_mut(&key) else {
            return Err(missing());
        };
        // CloudFormation deletes a stack's other change sets once one runs.
        stack.change_sets.retain(|c| c.name == change_set);
        let mut settle = Settle::Keep;
        if let Some(record) = stack.change_sets.first_mut() {
            record.execution = ExecutionStatus::InProgress;
            if succeeded {
                settle = Settle::Adopt {
                    template: record.template.clone(),
                    body: record.body.clone(),
                    parameters: record.parameters.clone(),
                    tags: record.tags.clone(),
                };
            }
        }
        self.start(
            &key,
            OPERATION,
            moments,
            settle,
            Some(change_set.to_owned()),
        );
        Ok(())
    }

    /// What executing `change_set` on `stack` does, resource by resource.
    fn plan_update(
        &self,
        stack: &StackRecord,
        change_set: &ChangeSetRecord,
        exports: &BTreeMap<String, String>,
    ) -> UpdatePlan {
        let changes: BTreeMap<&str, &ResourceChange> = change_set
            .changes
            .iter()
            .map(|c| (c.logical_id.as_str(), c))
            .collect();
        let ordered = Scope::new(
            &stack.name,
            &stack.id,
            &self.settings,
            &change_set.template,
            &change_set.parameters,
            &stack.resources,
            exports,
        )
        .resources();
        let mut steps = Vec::new();
        let mut after = Vec::new();
        for mut resource in ordered {
            match changes.get(resource.logical_id.as_str()) {
                Some(change) if change.action == ChangeAction::Add => steps.push(Step {
                    resource: resource.clone(),
                    previous: None,
                    replace: false,
                }),
                Some(change) if change.action == ChangeAction::Modify => {
                    let previous = stack.physical_id(&resource.logical_id);
                    let replace = change.replacement == Some(Replacement::True);
                    if replace && let Some(previous) = &previous {
                        resource.physical_id = replaced_physical_id(&stack.name, previous);
                    }
                    steps.push(Step {
                        resource: resource.clone(),
                        previous,
                        replace,
                    });
                }
                _ => {}
            }
            after.push(resource);
        }
        let removals = stack
            .resources
            .iter()
            .rev()
            .filter(|r| {
                changes
                    .get(r.logical_id.as_str())
                    .is_some_and(|c| c.action == ChangeAction::Remove)
            })
            .cloned()
            .collect();
        let new_exports = Scope::new(
            &stack.name,
            &stack.id,
            &self.settings,
            &change_set.template,
            &change_set.parameters,
            &after,
            exports,
        )
        .exports();
        UpdatePlan {
            stack: stack.name.clone(),
            id: stack.id.clone(),
            steps,
            removals,
            export_conflict: self.export_conflict(stack, &new_exports),
        }
    }

    /// Why an update of `stack` that ends with `new_exports` must roll back,
    /// if it must: an export another stack owns, or one in use that would be
    /// deleted or changed.
    fn export_conflict(
        &self,
        stack: &StackRecord,
        new_exports: &[(String, String)],
    ) -> Option<String> {
        let taken = new_exports.iter().find_map(|(export, _)| {
            self.exporter(export, &stack.name).map(|owner| {
                format!("Export with name {export} is already exported by stack {owner}")
            })
        });
        taken.or_else(|| {
            stack.exports().find_map(|(export, value)| {
                let verb = match new_exports.iter().find(|(name, _)| name == export) {
                    None => "delete",
                    Some((_, new_value)) if new_value != value => "update",
                    Some(_) => return None,
                };
                let importers = self.importers(export, &stack.name);
                (!importers.is_empty()).then(|| {
                    format!(
                        "Cannot {verb} export {export} as it is in use by {}",
                        importers.join(", ")
                    )
                })
            })
        })
    }

    fn delete_change_set(&mut self, stack: &str, change_set: &str) -> Result<(), CloudError> {
        const OPERATION: &str = "DeleteChangeSet";
        let Some(record) = self
            .live_key(stack)
            .and_then(|key| self.stacks.get_mut(&key))
        else {
            return Ok(());
        };
        if record
            .change_sets
            .iter()
            .any(|c| c.name == change_set && c.execution == ExecutionStatus::InProgress)
        {
            return Err(validation(
                OPERATION,
                change_set,
                format!("ChangeSet [{change_set}] cannot be deleted while it is being executed"),
            ));
        }
        record.change_sets.retain(|c| c.name != change_set);
        Ok(())
    }

    /// `DeleteStack`, accepted: the stack is `DELETE_IN_PROGRESS`. A missing
    /// stack, or one already being deleted, is not an error.
    fn delete(&mut self, name: &str) -> Result<(), CloudError> {
        const OPERATION: &str = "DeleteStack";
        let Some(key) = self.live_key(name) else {
            return Ok(());
        };
        let Some(stack) = self.stacks.get(&key) else {
            return Ok(());
        };
        if stack.termination_protection {
            return Err(validation(
                OPERATION,
                name,
                format!("Stack [{key}] cannot be deleted while TerminationProtection is enabled"),
            ));
        }
        if stack.status.as_str() == "DELETE_IN_PROGRESS" {
            return Ok(());
        }
        if stack.status.is_in_progress() {
            return Err(stack.in_progress(OPERATION));
        }
        let in_use = stack.exports().find_map(|(export, _)| {
            let importers = self.importers(export, &key);
            (!importers.is_empty()).then(|| {
                format!(
                    "Export {export} cannot be deleted as it is in use by {}",
                    importers.join(", ")
                )
            })
        });
        let id = stack.id.clone();
        let resources = stack.resources.clone();
        let logical_ids: Vec<&str> = resources
            .iter()
            .rev()
            .map(|r| r.logical_id.as_str())
            .collect();
        let failure = if in_use.is_none() {
            self.take_failure(&key, &logical_ids)
        } else {
            None
        };
        let (moments, gone) = delete_script(&key, &id, &resources, in_use, failure);
        let settle = if gone { Settle::Gone } else { Settle::Keep };
        self.start(&key, OPERATION, moments, settle, None);
        Ok(())
    }

    /// Someone else's update of `name` starts now.
    fn busy(&mut self, name: &str, polls: usize) -> Result<(), CloudError> {
        const OPERATION: &str = "UpdateStack";
        let key = self
            .live_key(name)
            .ok_or_else(|| stack_missing(OPERATION, name))?;
        let Some(stack) = self.stacks.get_mut(&key) else {
            return Err(stack_missing(OPERATION, name));
        };
        if stack.status.is_in_progress() {
            return Err(stack.in_progress(OPERATION));
        }
        for change_set in &mut stack.change_sets {
            if change_set.execution == ExecutionStatus::Available {
                change_set.execution = ExecutionStatus::Obsolete;
            }
        }
        let mut script = Script::new(&key, &stack.id);
        script.stack("UPDATE_IN_PROGRESS", Some("User Initiated"));
        script.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
        script.stack("UPDATE_COMPLETE", None);
        let mut moments = script.moments.into_iter();
        if let Some(first) = moments.next() {
            stack.apply(first);
        }
        let mut chunks: VecDeque<Vec<Moment>> = (0..polls).map(|_| Vec::new()).collect();
        chunks.push_back(moments.collect());
        stack.operation = Some(Operation {
            chunks,
            settle: Settle::Keep,
            change_set: None,
        });
        self.history.push(Happening::Started {
            stack: key,
            operation: OPERATION,
        });
        Ok(())
    }

    /// A stack that already exists.
    fn seed(&mut self, name: &str, template: &str, status: &str) -> Result<String, CloudError> {
        const OPERATION: &str = "SeedStack";
        check_name(OPERATION, name, "stackName", name)?;
        if self.stacks.contains_key(name) {
            return Err(CloudError::new(
                ErrorKind::AlreadyExists,
                OPERATION,
                name,
                format!("Stack [{name}] already exists"),
            ));
        }
        let status = StackStatus::from(status);
        if status.is_in_progress() || status.is_deleted() {
            return Err(validation(
                OPERATION,
                name,
                format!(
                    "a seeded stack needs a settled status of a stack that exists, got `{status}`\nhelp: `busy(..)` makes a stack show `UPDATE_IN_PROGRESS`"
                ),
            ));
        }
        let body = template.to_owned();
        let template = parse_template(OPERATION, name, template)?;
        let parameters = resolve_parameters(OPERATION, name, &template, &[], None)?;
        let id = self.stack_id(name);
        let exports = self.export_values();
        let rolled_back = status.needs_delete_before_create();
        let complete = status.as_str().ends_with("_COMPLETE") && !rolled_back;
        let mut record = StackRecord::new(name, &id, Value::Null);
        {
            let scope = Scope::new(
                name,
                &id,
                &self.settings,
                &template,
                &parameters,
                &[],
                &exports,
            );
            if !rolled_back {
                record.resources = scope.resources();
            }
            if complete {
                record.outputs = scope.outputs();
            }
        }
        record.template = template;
        record.body = body;
        record.parameters = parameters;
        let mut script = Script::new(name, &id);
        script.stack(status.as_str(), None);
        for moment in script.moments {
            record.apply(moment);
        }
        self.stacks.insert(name.to_owned(), record);
        Ok(id)
    }

    /// An accepted operation: apply its first event now, the rest one step
    /// per poll.
    fn start(
        &mut self,
        name: &str,
        operation: &'static str,
        moments: Vec<Moment>,
        settle: Settle,
        change_set: Option<String>,
    ) {
        let steps = self.settings.steps;
        let Some(stack) = self.stacks.get_mut(name) else {
            return;
        };
        let mut moments = moments.into_iter();
        if let Some(first) = moments.next() {
            stack.apply(first);
        }
        stack.operation = Some(Operation {
            chunks: schedule(moments.collect(), steps),
            settle,
            change_set,
        });
        self.history.push(Happening::Started {
            stack: name.to_owned(),
            operation,
        });
    }

    /// Apply the next step of the stack's operation, settling it after the last.
    fn advance(&mut self, name: &str) {
        let Some(stack) = self.stacks.get_mut(name) else {
            return;
        };
        let Some(operation) = stack.operation.as_mut() else {
            return;
        };
        let chunk = operation.chunks.pop_front().unwrap_or_default();
        let done = operation.chunks.is_empty();
        for moment in chunk {
            stack.apply(moment);
        }
        if done {
            self.settle(name);
        }
    }

    /// The operation is over: adopt its template, outputs and exports (or
    /// keep the old ones, or forget the stack), and record it.
    fn settle(&mut self, name: &str) {
        let exports = self.export_values();
        let Some(stack) = self.stacks.get_mut(name) else {
            return;
        };
        let Some(operation) = stack.operation.take() else {
            return;
        };
        let gone = matches!(operation.settle, Settle::Gone);
        if let Settle::Adopt {
            template,
            body,
            parameters,
            tags,
        } = operation.settle
        {
            let outputs = Scope::new(
                &stack.name,
                &stack.id,
                &self.settings,
                &template,
                &parameters,
                &stack.resources,
                &exports,
            )
            .outputs();
            stack.template = template;
            stack.body = body;
            stack.parameters = parameters;
            stack.tags = tags;
            stack.outputs = outputs;
        }
        if let Some(executed) = operation.change_set {
            let execution = if stack.status.is_failure() {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Complete
            };
            for change_set in stack.change_sets.iter_mut().filter(|c| c.name == executed) {
                change_set.execution = execution;
            }
        }
        let status = stack.status.clone();
        if gone && let Some(mut stack) = self.stacks.remove(name) {
            stack.outputs.clear();
            stack.change_sets.clear();
            self.deleted.push(stack);
        }
        self.history.push(Happening::Settled {
            stack: name.to_owned(),
            status,
        });
    }
}

/// One stack as the cloud keeps it.
struct StackRecord {
    name: String,
    id: String,
    /// The current template: the last one applied, or the one being created.
    template: Value,
    /// Its text, as submitted (what `GetTemplate` returns).
    body: String,
    /// Parameter values of the current template, defaults applied.
    parameters: BTreeMap<String, String>,
    status: StackStatus,
    reason: Option<String>,
    /// Outputs, with export names: the exports are registered while the
    /// stack lives.
    outputs: Vec<Output>,
    tags: Vec<(String, String)>,
    termination_protection: bool,
    /// Resources that exist, in creation order.
    resources: Vec<Resource>,
    /// Oldest first.
    events: Vec<StackEvent>,
    operation: Option<Operation>,
    change_sets: Vec<ChangeSetRecord>,
}

impl StackRecord {
    fn new(name: &str, id: &str, template: Value) -> Self {
        Self {
            name: name.to_owned(),
            id: id.to_owned(),
            template,
            body: String::new(),
            parameters: BTreeMap::new(),
            status: StackStatus::from("REVIEW_IN_PROGRESS"),
            reason: None,
            outputs: Vec::new(),
            tags: Vec::new(),
            termination_protection: false,
            resources: Vec::new(),
            events: Vec::new(),
            operation: None,
            change_sets: Vec::new(),
        }
    }

    fn describe(&self) -> Stack {
        Stack {
            name: self.name.clone(),
            id: self.id.clone(),
            status: self.status.clone(),
            status_reason: self.reason.clone(),
            outputs: self.outputs.clone(),
            tags: self.tags.clone(),
            termination_protection: self.termination_protection,
            parameters: self
                .parameters
                .iter()
                .map(|(key, value)| {
                    let shown = if no_echo(&self.template, key) {
                        "****".to_owned()
                    } else {
                        value.clone()
                    };
                    (key.clone(), shown)
                })
                .collect(),
        }
    }

    /// The stack's exports: (name, value).
    fn exports(&self) -> impl Iterator<Item = (&str, &str)> {
        self.outputs.iter().filter_map(|output| {
            output
                .export_name
                .as_deref()
                .map(|name| (name, output.value.as_str()))
        })
    }

    fn physical_id(&self, logical_id: &str) -> Option<String> {
        self.resources
            .iter()
            .find(|r| r.logical_id == logical_id)
            .map(|r| r.physical_id.clone())
    }

    /// Intrinsic functions of `template` as this stack resolves them, with
    /// its current parameter values.
    fn scope<'a>(
        &'a self,
        settings: &'a Settings,
        template: &'a Value,
        exports: &'a BTreeMap<String, String>,
    ) -> Scope<'a> {
        Scope::new(
            &self.name,
            &self.id,
            settings,
            template,
            &self.parameters,
            &self.resources,
            exports,
        )
    }

    /// CloudFormation's refusal of a mutating call while an operation runs.
    fn in_progress(&self, operation: &'static str) -> CloudError {
        CloudError::new(
            ErrorKind::InProgress,
            operation,
            &self.name,
            format!(
                "Stack:{} is in {} state and can not be updated.",
                self.id, self.status
            ),
        )
    }

    /// Whether a change set may be made now.
    fn check_updatable(&self, operation: &'static str) -> Result<(), CloudError> {
        if self.status.is_in_progress() {
            return Err(self.in_progress(operation));
        }
        match self.status.as_str() {
            "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE" => Ok(()),
            status => Err(validation(
                operation,
                &self.name,
                format!(
                    "Stack:{} is in {status} state and can not be updated.",
                    self.id
                ),
            )),
        }
    }

    /// Record one event, and what it means for the stack and its resources.
    fn apply(&mut self, moment: Moment) {
        let now = SystemTime::now();
        let timestamp = self
            .events
            .last()
            .map_or(now, |last| now.max(last.timestamp));
        if moment.resource_type == STACK_TYPE {
            // A rollback's end keeps the reason it started with.
            let keeps_reason = moment.reason.is_none() && moment.status.contains("ROLLBACK");
            self.status = StackStatus::from(moment.status.as_str());
            if !keeps_reason {
                self.reason.clone_from(&moment.reason);
            }
        } else if let Some(physical_id) = &moment.physical_id {
            match moment.effect {
                Effect::Exists => {
                    let resource = Resource {
                        logical_id: moment.logical_id.clone(),
                        resource_type: moment.resource_type.clone(),
                        physical_id: physical_id.clone(),
                    };
                    match self
                        .resources
                        .iter_mut()
                        .find(|r| r.logical_id == moment.logical_id)
                    {
                        Some(existing) => *existing = resource,
                        None => self.resources.push(resource),
                    }
                }
                Effect::Gone => self
                    .resources
                    .retain(|r| r.logical_id != moment.logical_id || r.physical_id != *physical_id),
                Effect::None => {}
            }
        }
        self.events.push(StackEvent {
            id: format!(
                "{}-{}-{}",
                moment.logical_id,
                moment.status,
                self.events.len() + 1
            ),
            logical_id: moment.logical_id,
            physical_id: moment.physical_id,
            resource_type: moment.resource_type,
            status: moment.status,
            reason: moment.reason,
            timestamp,
        });
    }
}

/// A resource that exists (or will).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resource {
    logical_id: String,
    resource_type: String,
    physical_id: String,
}

/// A running operation: the events still to come, a batch per poll.
struct Operation {
    chunks: VecDeque<Vec<Moment>>,
    settle: Settle,
    /// The change set being executed.
    change_set: Option<String>,
}

/// What the stack keeps when its operation settles.
enum Settle {
    /// The new template, parameters, tags, outputs and exports.
    Adopt {
        template: Value,
        body: String,
        parameters: BTreeMap<String, String>,
        tags: Vec<(String, String)>,
    },
    /// What it had (a rollback, a failed delete, someone else's update).
    Keep,
    /// Nothing: the stack is deleted.
    Gone,
}

/// One event still to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Moment {
    logical_id: String,
    resource_type: String,
    physical_id: Option<String>,
    status: String,
    reason: Option<String>,
    effect: Effect,
}

impl Moment {
    fn is_stack(&self) -> bool {
        self.resource_type == STACK_TYPE
    }
}

/// What an event does to the resource it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    None,
    /// The resource exists with this physical id.
    Exists,
    /// The resource with this physical id is gone.
    Gone,
}

/// A change set as the cloud keeps it.
struct ChangeSetRecord {
    name: String,
    /// The template it applies (`Null` when it failed).
    template: Value,
    /// Its text.
    body: String,
    /// The parameter values it applies, resolved.
    parameters: BTreeMap<String, String>,
    tags: Vec<(String, String)>,
    /// Described at least once: CloudFormation finished creating it.
    described: bool,
    /// Status, reason and execution status once created.
    status: ChangeSetStatus,
    reason: Option<String>,
    execution: ExecutionStatus,
    changes: Vec<ResourceChange>,
}

impl ChangeSetRecord {
    /// Status and execution status as callers see them now.
    fn visible(&self) -> (ChangeSetStatus, ExecutionStatus) {
        if self.described {
            (self.status, self.execution)
        } else {
            (ChangeSetStatus::Pending, ExecutionStatus::Unavailable)
        }
    }

    fn describe(&self, stack: &str) -> ChangeSet {
        let (status, execution_status) = self.visible();
        ChangeSet {
            name: self.name.clone(),
            stack: stack.to_owned(),
            status,
            status_reason: self.described.then(|| self.reason.clone()).flatten(),
            execution_status,
            changes: if self.described {
                self.changes.clone()
            } else {
                Vec::new()
            },
        }
    }

    fn summary(&self) -> ChangeSetSummary {
        let (status, execution_status) = self.visible();
        ChangeSetSummary {
            name: self.name.clone(),
            status,
            execution_status,
        }
    }
}

/// Events being written for one operation.
struct Script {
    stack: String,
    id: String,
    moments: Vec<Moment>,
}

impl Script {
    fn new(stack: &str, id: &str) -> Self {
        Self {
            stack: stack.to_owned(),
            id: id.to_owned(),
            moments: Vec::new(),
        }
    }

    /// An event of the stack itself.
    fn stack(&mut self, status: &str, reason: Option<&str>) {
        self.moments.push(Moment {
            logical_id: self.stack.clone(),
            resource_type: STACK_TYPE.to_owned(),
            physical_id: Some(self.id.clone()),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            effect: Effect::None,
        });
    }

    /// An event of `resource`, under `physical_id`.
    fn resource(
        &mut self,
        resource: &Resource,
        physical_id: Option<&str>,
        status: &str,
        reason: Option<&str>,
        effect: Effect,
    ) {
        self.moments.push(Moment {
            logical_id: resource.logical_id.clone(),
            resource_type: resource.resource_type.clone(),
            physical_id: physical_id.map(str::to_owned),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            effect,
        });
    }

    /// `DELETE_IN_PROGRESS`, `DELETE_COMPLETE` of `resource` under `physical_id`.
    fn delete(&mut self, resource: &Resource, physical_id: &str) {
        let physical_id = Some(physical_id);
        self.resource(
            resource,
            physical_id,
            "DELETE_IN_PROGRESS",
            None,
            Effect::None,
        );
        self.resource(resource, physical_id, "DELETE_COMPLETE", None, Effect::Gone);
    }
}

/// The events of a `CreateStack`, and whether it succeeds.
fn create_script(
    stack: &str,
    id: &str,
    resources: &[Resource],
    failure: Option<(String, String)>,
    stack_failure: Option<String>,
) -> (Vec<Moment>, bool) {
    let mut script = Script::new(stack, id);
    script.stack("CREATE_IN_PROGRESS", Some("User Initiated"));
    let mut created = Vec::new();
    let mut failed = None;
    for resource in resources {
        let physical_id = Some(resource.physical_id.as_str());
        script.resource(resource, None, "CREATE_IN_PROGRESS", None, Effect::None);
        if let Some((_, reason)) = failure
            .as_ref()
            .filter(|(logical_id, _)| *logical_id == resource.logical_id)
        {
            script.resource(
                resource,
                physical_id,
                "CREATE_FAILED",
                Some(reason.as_str()),
                Effect::None,
            );
            failed = Some(resource);
            break;
        }
        script.resource(
            resource,
            physical_id,
            "CREATE_COMPLETE",
            None,
            Effect::Exists,
        );
        created.push(resource);
    }
    let cause = match (failed, stack_failure) {
        (Some(resource), _) => Some(format!(
            "The following resource(s) failed to create: [{}].",
            resource.logical_id
        )),
        (None, cause) => cause,
    };
    let Some(cause) = cause else {
        script.stack("CREATE_COMPLETE", None);
        return (script.moments, true);
    };
    script.stack(
        "ROLLBACK_IN_PROGRESS",
        Some(&format!("{cause} Rollback requested by user.")),
    );
    for resource in failed.into_iter().chain(created.into_iter().rev()) {
        script.delete(resource, &resource.physical_id);
    }
    script.stack("ROLLBACK_COMPLETE", None);
    (script.moments, false)
}

/// What executing a change set does.
struct UpdatePlan {
    stack: String,
    id: String,
    /// Adds and modifies, in creation order of the new template.
    steps: Vec<Step>,
    /// Resources removed, in reverse creation order.
    removals: Vec<Resource>,
    /// Why the update must roll back once its resources are done.
    export_conflict: Option<String>,
}

/// One resource created or updated by an update.
struct Step {
    /// The resource as it will be (a replacement's new physical id).
    resource: Resource,
    /// Its physical id before (`None` for an Add).
    previous: Option<String>,
    replace: bool,
}

/// The events of an `ExecuteChangeSet`, and whether it succeeds.
fn update_script(plan: &UpdatePlan, failure: Option<(String, String)>) -> (Vec<Moment>, bool) {
    const REPLACING: &str =
        "Requested update requires the creation of a new physical resource; hence creating one.";
    let mut script = Script::new(&plan.stack, &plan.id);
    script.stack("UPDATE_IN_PROGRESS", Some("User Initiated"));
    let mut done = Vec::new();
    let mut failed = None;
    for step in &plan.steps {
        let resource = &step.resource;
        let new_id = Some(resource.physical_id.as_str());
        let (start, complete, fail, start_id, note) = match (&step.previous, step.replace) {
            (None, _) => (
                "CREATE_IN_PROGRESS",
                "CREATE_COMPLETE",
                "CREATE_FAILED",
                None,
                None,
            ),
            (Some(_), true) => (
                "UPDATE_IN_PROGRESS",
                "UPDATE_COMPLETE",
                "UPDATE_FAILED",
                new_id,
                Some(REPLACING),
            ),
            (Some(previous), false) => (
                "UPDATE_IN_PROGRESS",
                "UPDATE_COMPLETE",
                "UPDATE_FAILED",
                Some(previous.as_str()),
                None,
            ),
        };
        script.resource(resource, start_id, start, note, Effect::None);
        if let Some((_, reason)) = failure
            .as_ref()
            .filter(|(logical_id, _)| *logical_id == resource.logical_id)
        {
            script.resource(resource, new_id, fail, Some(reason.as_str()), Effect::None);
            failed = Some(step);
            break;
        }
        script.resource(resource, new_id, complete, None, Effect::Exists);
        done.push(step);
    }
    let cause = match (failed, &plan.export_conflict) {
        (Some(step), _) => Some(format!(
            "The following resource(s) failed to {}: [{}].",
            if step.previous.is_some() {
                "update"
            } else {
                "create"
            },
            step.resource.logical_id
        )),
        (None, conflict) => conflict.clone(),
    };
    let Some(cause) = cause else {
        script.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
        for step in done.iter().filter(|step| step.replace) {
            if let Some(previous) = &step.previous {
                script.delete(&step.resource, previous);
            }
        }
        for resource in &plan.removals {
            script.delete(resource, &resource.physical_id);
        }
        script.stack("UPDATE_COMPLETE", None);
        return (script.moments, true);
    };
    script.stack("UPDATE_ROLLBACK_IN_PROGRESS", Some(&cause));
    for step in done.iter().rev() {
        if let Some(previous) = &step.previous {
            let previous = Some(previous.as_str());
            script.resource(
                &step.resource,
                previous,
                "UPDATE_IN_PROGRESS",
                None,
                Effect::None,
            );
            script.resource(
                &step.resource,
                previous,
                "UPDATE_COMPLETE",
                None,
                Effect::Exists,
            );
        }
    }
    script.stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None);
    for step in failed.into_iter().chain(done.into_iter().rev()) {
        if step.previous.is_none() || step.replace {
            script.delete(&step.resource, &step.resource.physical_id);
        }
    }
    script.stack("UPDATE_ROLLBACK_COMPLETE", None);
    (script.moments, false)
}

/// The events of a `DeleteStack`, and whether the stack ends up gone.
fn delete_script(
    stack: &str,
    id: &str,
    resources: &[Resource],
    in_use: Option<String>,
    failure: Option<(String, String)>,
) -> (Vec<Moment>, bool) {
    let mut script = Script::new(stack, id);
    script.stack("DELETE_IN_PROGRESS", Some("User Initiated"));
    if let Some(reason) = in_use {
        script.stack("DELETE_FAILED", Some(&reason));
        return (script.moments, false);
    }
    for resource in resources.iter().rev() {
        let physical_id = Some(resource.physical_id.as_str());
        if let Some((_, reason)) = failure
            .as_ref()
            .filter(|(logical_id, _)| *logical_id == resource.logical_id)
        {
            script.resource(
                resource,
                physical_id,
                "DELETE_IN_PROGRESS",
                None,
                Effect::None,
            );
            script.resource(
                resource,
                physical_id,
                "DELETE_FAILED",
                Some(reason.as_str()),
                Effect::None,
            );
            script.stack(
                "DELETE_FAILED",
                Some(&format!(
                    "The following resource(s) failed to delete: [{}].",
                    resource.logical_id
                )),
            );
            return (script.moments, false);
        }
        script.delete(resource, &resource.physical_id);
    }
    script.stack("DELETE_COMPLETE", None);
    (script.moments, true)
}

/// Spread `moments` over about `steps` polls, the last moment in the last
/// poll. A stack status that is not the last gets a poll of its own, so
/// that `ROLLBACK_IN_PROGRESS` or `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` is
/// seen by a describe.
fn schedule(moments: Vec<Moment>, steps: usize) -> VecDeque<Vec<Moment>> {
    let total = moments.len();
    let steps = steps.max(1);
    let mut chunks: VecDeque<Vec<Moment>> = VecDeque::new();
    let mut shift = 0;
    let mut earliest = 0;
    for (index, moment) in moments.into_iter().enumerate() {
        let mut slot = ((index + 1) * steps).div_ceil(total) - 1 + shift;
        if slot < earliest {
            shift += earliest - slot;
            slot = earliest;
        }
        while chunks.len() <= slot {
            chunks.push_back(Vec::new());
        }
        if moment.is_stack() && index + 1 < total {
            earliest = slot + 1;
        }
        if let Some(chunk) = chunks.back_mut() {
            chunk.push(moment);
        }
    }
    chunks
}

/// A template body, parsed and checked as CloudFormation does first.
fn parse_template(operation: &'static str, subject: &str, body: &str) -> Result<Value, CloudError> {
    let template: Value = serde_json::from_str(body).map_err(|e| {
        validation(
            operation,
            subject,
            format!("Template format error: JSON not well-formed. ({e})"),
        )
    })?;
    let resources = template
        .get("Resources")
        .and_then(Value::as_object)
        .filter(|resources| !resources.is_empty())
        .ok_or_else(|| {
            validation(
                operation,
                subject,
                "Template format error: At least one Resources member must be defined.",
            )
        })?;
    if let Some((logical_id, _)) = resources
        .iter()
        .find(|(_, body)| body.get("Type").and_then(Value::as_str).is_none())
    {
        return Err(validation(
            operation,
            subject,
            format!(
                "Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            ),
        ));
    }
    Ok(template)
}

/// CloudFormation's pattern for stack and change set names.
fn check_name(
    operation: &'static str,
    subject: &str,
    field: &str,
    name: &str,
) -> Result<(), CloudError> {
    let valid = name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(validation(
            operation,
            subject,
            format!(
                "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
            ),
        ))
    }
}

/// Refuse a template whose IAM resources or transforms were not acknowledged.
fn check_capabilities(
    operation: &'static str,
    subject: &str,
    template: &Value,
    given: &[Capability],
) -> Result<(), CloudError> {
    let missing: Vec<&str> = capabilities_for(template)
        .into_iter()
        .filter(|needed| {
            // `CAPABILITY_NAMED_IAM` acknowledges unnamed IAM resources too.
            let covered = given.contains(needed)
                || (*needed == Capability::Iam && given.contains(&Capability::NamedIam));
            !covered
        })
        .map(Capability::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CloudError::new(
            ErrorKind::InsufficientCapabilities,
            operation,
            subject,
            format!("Requires capabilities : [{}]", missing.join(", ")),
        ))
    }
}

fn validation(operation: &'static str, subject: &str, message: impl Into<String>) -> CloudError {
    CloudError::new(ErrorKind::Validation, operation, subject, message)
}

fn stack_missing(operation: &'static str, name: &str) -> CloudError {
    CloudError::new(
        ErrorKind::NotFound,
        operation,
        name,
        format!("Stack [{name}] does not exist"),
    )
}

fn no_export(operation: &'static str, subject: &str, export: &str) -> CloudError {
    validation(
        operation,
        subject,
        format!("No export named {export} found."),
    )
}

fn execution_name(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Unavailable => "UNAVAILABLE",
        ExecutionStatus::Available => "AVAILABLE",
        ExecutionStatus::InProgress => "EXECUTE_IN_PROGRESS",
        ExecutionStatus::Complete => "EXECUTE_COMPLETE",
        ExecutionStatus::Failed => "EXECUTE_FAILED",
        ExecutionStatus::Obsolete => "OBSOLETE",
    }
}

/// A change set's template and parameter values, checked.
struct Proposed {
    template: Value,
    body: String,
    parameters: BTreeMap<String, String>,
}

/// The parameter values a request gives `template`, as CloudFormation
/// resolves them: a key the template does not declare is refused; a
/// parameter left out takes its `Default` (on an update too: only
/// `UsePreviousValue` keeps the stack's value, from `previous`); one with
/// neither is refused; values must satisfy `AllowedValues` and
/// `AllowedPattern`.
fn resolve_parameters(
    operation: &'static str,
    subject: &str,
    template: &Value,
    given: &[Parameter],
    previous: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, CloudError> {
    let declared = template
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let unknown: Vec<&str> = given
        .iter()
        .filter(|p| !declared.contains_key(&p.key))
        .map(|p| p.key.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(validation(
            operation,
            subject,
            format!(
                "Parameters: [{}] do not exist in the template",
                unknown.join(", ")
            ),
        ));
    }
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for (key, definition) in &declared {
        let value = match given.iter().rev().find(|p| &p.key == key).map(|p| &p.value) {
            Some(ParameterValue::Value(value)) => value.clone(),
            Some(ParameterValue::UsePrevious) => {
                match previous.and_then(|previous| previous.get(key)) {
                    Some(value) => {
                        values.insert(key.clone(), value.clone());
                        continue;
                    }
                    None => {
                        return Err(validation(
                            operation,
                            subject,
                            format!(
                                "Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key that has no previous value"
                            ),
                        ));
                    }
                }
            }
            None => match definition.get("Default") {
                Some(default) => text_of(default),
                None => {
                    missing.push(key.as_str());
                    continue;
                }
            },
        };
        check_constraints(operation, subject, key, definition, &value)?;
        values.insert(key.clone(), value);
    }
    if !missing.is_empty() {
        return Err(validation(
            operation,
            subject,
            format!("Parameters: [{}] must have values", missing.join(", ")),
        ));
    }
    Ok(values)
}

/// `AllowedValues` and `AllowedPattern` (the whole value must match).
fn check_constraints(
    operation: &'static str,
    subject: &str,
    key: &str,
    definition: &Value,
    value: &str,
) -> Result<(), CloudError> {
    if let Some(allowed) = definition.get("AllowedValues").and_then(Value::as_array)
        && !allowed.iter().any(|a| text_of(a) == value)
    {
        return Err(validation(
            operation,
            subject,
            format!("Parameter '{key}' must be one of AllowedValues"),
        ));
    }
    if let Some(pattern) = definition.get("AllowedPattern").and_then(Value::as_str)
        && let Ok(regex) = regex::Regex::new(&format!("^(?:{pattern})$"))
        && !regex.is_match(value)
    {
        return Err(validation(
            operation,
            subject,
            format!("Parameter '{key}' must match pattern {pattern}"),
        ));
    }
    Ok(())
}

/// Keys whose value differs between `old` and `new` (or that only one has).
fn changed_keys(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    old.keys()
        .chain(new.keys())
        .filter(|key| old.get(*key) != new.get(*key))
        .cloned()
        .collect()
}

/// Whether a resource refers (`Ref`, `Fn::Sub`) to any of `names`.
fn refers_to_any(body: &Value, names: &BTreeSet<String>) -> bool {
    if names.is_empty() {
        return false;
    }
    let mut found = BTreeSet::new();
    references(body, &mut found);
    found.iter().any(|name| names.contains(name))
}

/// Whether the template declares `key` with `NoEcho`.
fn no_echo(template: &Value, key: &str) -> bool {
    template
        .get("Parameters")
        .and_then(|parameters| parameters.get(key))
        .and_then(|parameter| parameter.get("NoEcho"))
        .is_some_and(|no_echo| text_of(no_echo).eq_ignore_ascii_case("true"))
}

/// Whether a parameter's `Ref` is a list (`CommaDelimitedList`, `List<…>`).
fn is_list(parameter: &Value) -> bool {
    parameter
        .get("Type")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind == "CommaDelimitedList" || kind.starts_with("List<"))
}

/// Stack tags compare as a set.
fn same_tags(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let set = |tags: &[(String, String)]| tags.iter().cloned().collect::<BTreeSet<_>>();
    set(a) == set(b)
}

fn resource_type(body: &Value) -> &str {
    body.get("Type").and_then(Value::as_str).unwrap_or_default()
}

/// What differs between two versions of a resource, as a change set's
/// `Scope` says: `Properties` (other than tags), `Tags`, `Metadata`.
fn scope_of(before: &Value, after: &Value) -> Vec<String> {
    let properties = |body: &Value| {
        body.get("Properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (mut old, mut new) = (properties(before), properties(after));
    let tags_differ = old.remove("Tags") != new.remove("Tags");
    let mut scope = Vec::new();
    if old != new {
        scope.push("Properties".to_owned());
    }
    if tags_differ {
        scope.push("Tags".to_owned());
    }
    if before.get("Metadata") != after.get("Metadata") {
        scope.push("Metadata".to_owned());
    }
    scope
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The fake physical id of a resource: `{logical}-{8 hex}`, the same for
/// the same stack and logical id.
fn physical_id(stack: &str, logical_id: &str) -> String {
    format!(
        "{logical_id}-{}",
        &digest(&format!("{stack}/{logical_id}"))[..8]
    )
}

/// The physical id of a replacement of `previous`.
fn replaced_physical_id(stack: &str, previous: &str) -> String {
    let logical_id = previous.rsplit_once('-').map_or(previous, |(l, _)| l);
    format!(
        "{logical_id}-{}",
        &digest(&format!("{stack}/{previous}"))[..8]
    )
}

/// The one key and value of an intrinsic function's object.
fn single(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((key, value)), None) => Some((key.as_str(), value)),
        _ => None,
    }
}

/// A resolved value as an output shows it: lists comma-separated.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The `${Name}` / `${Name.Attribute}` placeholders of a `Fn::Sub` string,
/// `${!Literal}` left out.
fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            names.push(name);
        }
        rest = &after[end + 1..];
    }
    names
}

/// The resources and parameters `value` refers to (`Ref`, `Fn::GetAtt`,
/// `Fn::Sub`).
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("Ref") {
                found.insert(target.clone());
            }
            match map.get("Fn::GetAtt") {
                Some(Value::Array(items)) => {
                    if let Some(Value::String(target)) = items.first() {
                        found.insert(target.clone());
                    }
                }
                Some(Value::String(dotted)) => {
                    let target = dotted.split_once('.').map_or(dotted.as_str(), |(l, _)| l);
                    found.insert(target.to_owned());
                }
                _ => {}
            }
            let sub = match map.get("Fn::Sub") {
                Some(Value::String(text)) => Some(text),
                Some(Value::Array(items)) => items.first().and_then(|t| match t {
                    Value::String(text) => Some(text),
                    _ => None,
                }),
                _ => None,
            };
            for name in sub.map(|text| placeholders(text)).unwrap_or_default() {
                let target = name.split_once('.').map_or(name, |(l, _)| l);
                found.insert(target.to_owned());
            }
            for child in map.values() {
                references(child, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                references(item, found);
            }
        }
        _ => {}
    }
}

/// `Fn::ImportValue` of an export no stack exports.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MissingExport(String);

/// What a template's intrinsic functions resolve against: one stack, its
/// resources' physical ids, the registered exports.
struct Scope<'a> {
    stack: &'a str,
    stack_id: &'a str,
    settings: &'a Settings,
    template: &'a Value,
    /// Parameter values, defaults applied.
    parameters: &'a BTreeMap<String, String>,
    /// Logical id → physical id, for every resource of the template.
    physical: BTreeMap<String, String>,
    exports: &'a BTreeMap<String, String>,
}

impl<'a> Scope<'a> {
    /// `existing` resources keep their physical ids; the others get the
    /// deterministic fake one.
    fn new(
        stack: &'a str,
        stack_id: &'a str,
        settings: &'a Settings,
        template: &'a Value,
        parameters: &'a BTreeMap<String, String>,
        existing: &[Resource],
        exports: &'a BTreeMap<String, String>,
    ) -> Self {
        let physical = template
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(logical_id, _)| {
                let id = existing
                    .iter()
                    .find(|r| r.logical_id == *logical_id)
                    .map_or_else(|| physical_id(stack, logical_id), |r| r.physical_id.clone());
                (logical_id.clone(), id)
            })
            .collect();
        Self {
            stack,
            stack_id,
            settings,
            template,
            parameters,
            physical,
            exports,
        }
    }

    /// The resources whose `Condition` holds, by logical id.
    fn active_resources(&self) -> BTreeMap<&'a str, &'a Value> {
        self.template
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, body)| self.included(body))
            .map(|(logical_id, body)| (logical_id.as_str(), body))
            .collect()
    }

    /// The resources to create, dependencies first (ties by logical id; a
    /// cycle is broken at its first resource).
    fn resources(&self) -> Vec<Resource> {
        let bodies = self.active_resources();
        let needs: BTreeMap<&str, BTreeSet<String>> = bodies
            .iter()
            .map(|(logical_id, body)| {
                let mut found = BTreeSet::new();
                references(body, &mut found);
                match body.get("DependsOn") {
                    Some(Value::String(target)) => {
                        found.insert(target.clone());
                    }
                    Some(Value::Array(targets)) => {
                        found.extend(targets.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
                found.retain(|target| target != logical_id && bodies.contains_key(target.as_str()));
                (*logical_id, found)
            })
            .collect();
        let mut placed: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::new();
        while order.len() < bodies.len() {
            let ready = needs.iter().find(|(logical_id, needed)| {
                !placed.contains(*logical_id) && needed.iter().all(|n| placed.contains(n.as_str()))
            });
            let next = ready
                .map(|(logical_id, _)| *logical_id)
                .or_else(|| bodies.keys().copied().find(|l| !placed.contains(l)));
            let Some(next) = next else { break };
            placed.insert(next);
            order.push(Resource {
                logical_id: next.to_owned(),
                resource_type: bodies
                    .get(next)
                    .map(|body| resource_type(body))
                    .unwrap_or_default()
                    .to_owned(),
                physical_id: self
                    .physical
                    .get(next)
                    .cloned()
                    .unwrap_or_else(|| physical_id(self.stack, next)),
            });
        }
        order
    }

    /// The outputs, resolved, with their export names.
    fn outputs(&self) -> Vec<Output> {
        self.template
            .get("Outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, output)| self.included(output))
            .map(|(key, output)| Output {
                key: key.clone(),
                value: output
                    .get("Value")
                    .map(|value| self.text(value).unwrap_or_default())
                    .unwrap_or_default(),
                export_name: output
                    .get("Export")
                    .and_then(|export| export.get("Name"))
                    .map(|name| self.text(name).unwrap_or_default()),
            })
            .collect()
    }

    /// The exports the outputs would register: (name, value).
    fn exports(&self) -> Vec<(String, String)> {
        self.outputs()
            .into_iter()
            .filter_map(|output| output.export_name.map(|name| (name, output.value)))
            .collect()
    }

    /// Every export name the template imports, in order of appearance.
    fn imports(&self) -> Vec<String> {
        let mut found = Vec::new();
        self.collect_imports(self.template, &mut found);
        found
    }

    fn collect_imports(&self, value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(argument) = map.get("Fn::ImportValue")
                    && let Ok(name) = self.text(argument)
                    && !found.contains(&name)
                {
                    found.push(name);
                }
                for child in map.values() {
                    self.collect_imports(child, found);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.collect_imports(item, found);
                }
            }
            _ => {}
        }
    }

    /// Whether a resource or output's `Condition` holds (no condition: yes).
    fn included(&self, body: &Value) -> bool {
        body.get("Condition")
            .and_then(Value::as_str)
            .is_none_or(|name| self.condition(name, 0))
    }

    /// A named condition; what cannot be evaluated holds.
    fn condition(&self, name: &str, depth: usize) -> bool {
        self.template
            .get("Conditions")
            .and_then(|conditions| conditions.get(name))
            .is_none_or(|condition| self.holds(condition, depth + 1))
    }

    fn holds(&self, condition: &Value, depth: usize) -> bool {
        let Some((function, argument)) = condition.as_object().and_then(single) else {
            return true;
        };
        if depth > 32 {
            return true;
        }
        let arguments = argument.as_array().map(Vec::as_slice).unwrap_or_default();
        match (function, arguments) {
            ("Fn::Equals", [a, b]) => self.text(a).ok() == self.text(b).ok(),
            ("Fn::Not", [inner]) => !self.holds(inner, depth + 1),
            ("Fn::And", all) => all.iter().all(|c| self.holds(c, depth + 1)),
            ("Fn::Or", any) => any.iter().any(|c| self.holds(c, depth + 1)),
            ("Condition", _) => argument
                .as_str()
                .is_none_or(|name| self.condition(name, depth + 1)),
            _ => true,
        }
    }

    /// `value` resolved, as text.
    fn text(&self, value: &Value) -> Result<String, MissingExport> {
        self.resolve(value).map(|v| text_of(&v))
    }

    /// `value` with its intrinsic functions resolved.
    fn resolve(&self, value: &Value) -> Result<Value, MissingExport> {
        match value {
            Value::Object(map) => match single(map) {
                Some((function, argument)) if function == "Ref" || function.starts_with("Fn::") => {
                    self.intrinsic(function, argument)
                }
                _ => map
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), self.resolve(value)?)))
                    .collect::<Result<Map<_, _>, _>>()
                    .map(Value::Object),
            },
            Value::Array(items) => items
                .iter()
                .map(|item| self.resolve(item))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn intrinsic(&self, function: &str, argument: &Value) -> Result<Value, MissingExport> {
        let arguments = argument.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(match (function, arguments) {
            ("Ref", _) => argument
                .as_str()
                .map_or(Value::Null, |name| self.reference(name)),
            ("Fn::GetAtt", [logical_id, attribute]) => {
                Value::String(self.attribute(&text_of(logical_id), &self.text(attribute)?))
            }
            ("Fn::GetAtt", _) => match argument.as_str().and_then(|s| s.split_once('.')) {
                Some((logical_id, attribute)) => {
                    Value::String(self.attribute(logical_id, attribute))
                }
                None => Value::Null,
            },
            ("Fn::ImportValue", _) => {
                let name = self.text(argument)?;
                match self.exports.get(&name) {
                    Some(value) => Value::String(value.clone()),
                    None => return Err(MissingExport(name)),
                }
            }
            ("Fn::Sub", _) => Value::String(self.substitute(argument)?),
            ("Fn::Join", [separator, items]) => {
                let separator = self.text(separator)?;
                Value::String(match self.resolve(items)? {
                    Value::Array(items) => items
                        .iter()
                        .map(text_of)
                        .collect::<Vec<_>>()
                        .join(&separator),
                    other => text_of(&other),
                })
            }
            ("Fn::Select", [index, items]) => {
                let index = self.text(index)?.parse::<usize>().ok();
                let items = self.resolve(items)?;
                index
                    .and_then(|i| items.as_array().and_then(|items| items.get(i)))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            ("Fn::Split", [separator, text]) => {
                let separator = self.text(separator)?;
                let text = self.text(text)?;
                if separator.is_empty() {
                    Value::Array(vec![Value::String(text)])
                } else {
                    Value::Array(
                        text.split(separator.as_str())
                            .map(|part| Value::String(part.to_owned()))
                            .collect(),
                    )
                }
            }
            ("Fn::GetAZs", _) => Value::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|zone| Value::String(format!("{}{zone}", self.settings.region)))
                    .collect(),
            ),
            ("Fn::If", [condition, then, otherwise]) => {
                if condition
                    .as_str()
                    .is_none_or(|name| self.condition(name, 0))
                {
                    self.resolve(then)?
                } else {
                    self.resolve(otherwise)?
                }
            }
            ("Fn::FindInMap", [map, top, second]) => {
                let (map, top, second) = (self.text(map)?, self.text(top)?, self.text(second)?);
                let found = self
                    .template
                    .get("Mappings")
                    .and_then(|m| m.get(&map))
                    .and_then(|m| m.get(&top))
                    .and_then(|m| m.get(&second));
                match found {
                    Some(value) => self.resolve(value)?,
                    None => Value::Null,
                }
            }
            ("Fn::Base64", _) => self.resolve(argument)?,
            // Anything else (`Fn::Cidr`, …) stays as written, arguments resolved.
            (function, _) => {
                let mut map = Map::new();
                map.insert(function.to_owned(), self.resolve(argument)?);
                Value::Object(map)
            }
        })
    }

    /// `Ref` of a pseudo parameter, a resource or a parameter.
    fn reference(&self, name: &str) -> Value {
        let text = |s: &str| Value::String(s.to_owned());
        match name {
            "AWS::Region" => text(&self.settings.region),
            "AWS::AccountId" => text(&self.settings.account),
            "AWS::StackName" => text(self.stack),
            "AWS::StackId" => text(self.stack_id),
            "AWS::Partition" => text("aws"),
            "AWS::URLSuffix" => text("amazonaws.com"),
            "AWS::NoValue" => Value::Null,
            "AWS::NotificationARNs" => Value::Array(Vec::new()),
            _ => {
                if let Some(physical_id) = self.physical.get(name) {
                    return text(physical_id);
                }
                let declared = self
                    .template
                    .get("Parameters")
                    .and_then(|parameters| parameters.get(name));
                let value = self.parameters.get(name).cloned().or_else(|| {
                    declared
                        .and_then(|parameter| parameter.get("Default"))
                        .map(text_of)
                });
                match (value, declared) {
                    (Some(value), Some(parameter)) if is_list(parameter) => Value::Array(
                        value
                            .split(',')
                            .map(|item| Value::String(item.trim().to_owned()))
                            .collect(),
                    ),
                    (Some(value), _) => Value::String(value),
                    (None, _) => text(name),
                }
            }
        }
    }

    /// `Fn::GetAtt`: `{physical}.{attribute}`.
    fn attribute(&self, logical_id: &str, attribute: &str) -> String {
        let physical_id = self
            .physical
            .get(logical_id)
            .map_or(logical_id, String::as_str);
        format!("{physical_id}.{attribute}")
    }

    /// `Fn::Sub`, in both forms.
    fn substitute(&self, argument: &Value) -> Result<String, MissingExport> {
        let (text, variables) = match argument {
            Value::String(text) => (text, None),
            Value::Array(items) => match items.as_slice() {
                [Value::String(text)] => (text, None),
                [Value::String(text), Value::Object(variables)] => (text, Some(variables)),
                _ => return Ok(text_of(argument)),
            },
            _ => return Ok(text_of(argument)),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                rest = &rest[start..];
                break;
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&self.text(value)?);
            } else if let Some((logical_id, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(logical_id, attribute));
            } else {
                out.push_str(&text_of(&self.reference(name)));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_scope<T>(template: &Value, exports: &[(&str, &str)], f: impl FnOnce(&Scope) -> T) -> T {
        let settings = Settings::default();
        let exports: BTreeMap<String, String> = exports
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let parameters = BTreeMap::new();
        let scope = Scope::new(
            "app",
            "arn:app",
            &settings,
            template,
            &parameters,
            &[],
            &exports,
        );
        f(&scope)
    }

    #[test]
    fn intrinsic_functions_resolve_like_cloudformation() {
        let template = json!({
            "Parameters": {
                "Size": {"Type": "Number", "Default": "3"},
                "Suffix": {"Type": "String", "Default": "VpcId"},
            },
            "Mappings": {"Sizes": {"small": {"Count": "2"}}},
            "Conditions": {
                "IsEast": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                "IsWest": {"Fn::Not": [{"Condition": "IsEast"}]},
            },
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}},
        });
        let queue = physical_id("app", "Queue");
        let cases: Vec<(Value, String)> = vec![
            (json!("plain"), "plain".into()),
            (json!({"Ref": "Queue"}), queue.clone()),
            (json!({"Ref": "AWS::StackName"}), "app".into()),
            (json!({"Ref": "AWS::AccountId"}), DEFAULT_ACCOUNT.into()),
            (json!({"Ref": "Size"}), "3".into()),
            (
                json!({"Fn::GetAtt": ["Queue", "Arn"]}),
                format!("{queue}.Arn"),
            ),
            (json!({"Fn::GetAtt": "Queue.Arn"}), format!("{queue}.Arn")),
            (json!({"Fn::ImportValue": "net-VpcId"}), "vpc-1".into()),
            (
                json!({"Fn::ImportValue": {"Fn::Sub": "net-${Suffix}"}}),
                "vpc-1".into(),
            ),
            (
                json!({"Fn::Sub": "${AWS::StackName}-${Queue}-${Queue.Arn}-${!Literal}"}),
                format!("app-{queue}-{queue}.Arn-${{Literal}}"),
            ),
            (
                json!({"Fn::Sub": ["${A}/${AWS::Region}", {"A": {"Ref": "Size"}}]}),
                "3/us-east-1".into(),
            ),
            (
                json!({"Fn::Join": [":", ["a", {"Ref": "Size"}]]}),
                "a:3".into(),
            ),
            (
                json!({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}),
                "y".into(),
            ),
            (
                json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
                "us-east-1a".into(),
            ),
            (json!({"Fn::If": ["IsEast", "east", "west"]}), "east".into()),
            (json!({"Fn::If": ["IsWest", "west", "east"]}), "east".into()),
            (
                json!({"Fn::FindInMap": ["Sizes", "small", "Count"]}),
                "2".into(),
            ),
        ];
        for (value, expected) in cases {
            let resolved = with_scope(&template, &[("net-VpcId", "vpc-1")], |scope| {
                scope.text(&value)
            });
            assert_eq!(
                resolved,
                Ok(expected),
                "{value} should resolve as CloudFormation would"
            );
        }
        let missing = with_scope(&template, &[], |scope| {
            scope.text(&json!({"Fn::ImportValue": "net-Missing"}))
        });
        assert_eq!(missing, Err(MissingExport("net-Missing".into())));
    }

    #[test]
    fn resources_are_created_dependencies_first() {
        let template = json!({"Resources": {
            "A": {"Type": "T", "Properties": {"Subnet": {"Ref": "Subnet"}}},
            "Subnet": {"Type": "T", "Properties": {"Vpc": {"Fn::GetAtt": ["Vpc", "Id"]}}},
            "Vpc": {"Type": "T", "Properties": {}},
            "Z": {"Type": "T", "DependsOn": "A", "Properties": {"N": {"Fn::Sub": "${Vpc}"}}},
        }});
        let order: Vec<String> = with_scope(&template, &[], |scope| scope.resources())
            .into_iter()
            .map(|r| r.logical_id)
            .collect();
        assert_eq!(order, ["Vpc", "Subnet", "A", "Z"]);
    }

    #[test]
    fn resources_whose_condition_fails_are_not_created() {
        let template = json!({
            "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
            "Resources": {
                "Kept": {"Type": "T"},
                "Skipped": {"Type": "T", "Condition": "Never"},
            },
        });
        let order: Vec<String> = with_scope(&template, &[], |scope| scope.resources())
            .into_iter()
            .map(|r| r.logical_id)
            .collect();
        assert_eq!(order, ["Kept"]);
    }

    #[test]
    fn every_stack_status_but_the_last_gets_a_poll_of_its_own() {
        let mut script = Script::new("app", "arn:app");
        let resource = Resource {
            logical_id: "Queue".into(),
            resource_type: "AWS::SQS::Queue".into(),
            physical_id: "Queue-1".into(),
        };
        script.resource(&resource, None, "UPDATE_IN_PROGRESS", None, Effect::None);
        script.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
        script.stack("UPDATE_COMPLETE", None);
        let chunks = schedule(script.moments, 1);
        let statuses: Vec<Vec<&str>> = chunks
            .iter()
            .map(|chunk| chunk.iter().map(|m| m.status.as_str()).collect())
            .collect();
        assert_eq!(
            statuses,
            vec![
                vec!["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"],
                vec!["UPDATE_COMPLETE"],
            ]
        );
    }

    #[test]
    fn steps_spread_events_with_the_last_in_the_last_poll() {
        let mut script = Script::new("app", "arn:app");
        for _ in 0..2 {
            script.resource(
                &Resource {
                    logical_id: "Q".into(),
                    resource_type: "T".into(),
                    physical_id: "Q-1".into(),
                },
                None,
                "CREATE_IN_PROGRESS",
                None,
                Effect::None,
            );
        }
        script.stack("CREATE_COMPLETE", None);
        let sizes: Vec<usize> = schedule(script.moments, 5).iter().map(Vec::len).collect();
        assert_eq!(sizes.len(), 5);
        assert_eq!(sizes.iter().sum::<usize>(), 3);
        assert_eq!(sizes.last(), Some(&1));
    }

    #[test]
    fn scope_tells_tags_from_properties() {
        let before =
            json!({"Type": "T", "Properties": {"A": 1, "Tags": [{"Key": "k", "Value": "1"}]}});
        let tags =
            json!({"Type": "T", "Properties": {"A": 1, "Tags": [{"Key": "k", "Value": "2"}]}});
        let properties =
            json!({"Type": "T", "Properties": {"A": 2, "Tags": [{"Key": "k", "Value": "1"}]}});
        assert_eq!(scope_of(&before, &tags), ["Tags"]);
        assert_eq!(scope_of(&before, &properties), ["Properties"]);
        assert!(
            scope_of(
                &json!({"Type": "T"}),
                &json!({"Type": "T", "Properties": {}})
            )
            .is_empty()
        );
    }
}
