//! [`Cloud`] over the AWS SDK: CloudFormation, STS for the caller's account,
//! S3 for templates too large to pass inline.
//!
//! Credentials and endpoints come from the standard chain (environment,
//! profile, SSO, container and instance roles); `AWS_ENDPOINT_URL` points
//! every client at another endpoint, such as moto's server in tests. The
//! SDK's own retries are off: [`super::Retrying`] retries with client
//! tokens, and moto answers some template errors with a 500 that a blind
//! retry would turn into `AlreadyExistsException`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_cloudformation as cfn;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use cfn::types;

use super::{
    ChangeAction, ChangeSet, ChangeSetStatus, ChangeSetSummary, Cloud, CloudError, CreateChangeSet,
    CreateStack, DetectionStatus, DifferenceKind, DriftDetection, ErrorKind, ExecutionStatus,
    Export, Output, Parameter, ParameterValue, PropertyDifference, Replacement, ResourceChange,
    ResourceDrift, ResourceDriftStatus, Stack, StackDriftStatus, StackEvent, StackStatus,
    TemplateSource,
};

/// CloudFormation in one region, with the credentials of the standard chain.
pub struct CloudFormation {
    cfn: cfn::Client,
    sts: aws_sdk_sts::Client,
    s3: aws_sdk_s3::Client,
    region: String,
    endpoint: Option<String>,
}

impl CloudFormation {
    /// Clients for `region`, with the standard credential chain and
    /// `AWS_ENDPOINT_URL` honoured.
    pub async fn connect(region: &str) -> Self {
        Self::build(region, None).await
    }

    /// Clients for `region` at `endpoint` (moto's server, a local demo) with
    /// fixed credentials, ignoring the environment.
    pub async fn at_endpoint(region: &str, endpoint: &str, key_id: &str, secret: &str) -> Self {
        Self::build(
            region,
            Some((
                endpoint.to_owned(),
                cfn::config::Credentials::new(key_id, secret, None, None, "strata"),
            )),
        )
        .await
    }

    async fn build(region: &str, endpoint: Option<(String, cfn::config::Credentials)>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let mut explicit = None;
        if let Some((url, credentials)) = endpoint {
            loader = loader.endpoint_url(&url).credentials_provider(credentials);
            explicit = Some(url);
        }
        let config = loader
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await;
        let endpoint = explicit.or_else(|| {
            std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok()
                .filter(|e| !e.is_empty())
        });
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(endpoint.is_some())
            .build();
        Self {
            cfn: cfn::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            region: region.to_owned(),
            endpoint,
        }
    }
}

/// Map an SDK error to our kinds, keeping CloudFormation's message.
fn error<E>(operation: &'static str, subject: &str, e: SdkError<E>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (kind, message) = match &e {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("");
            let message = service
                .err()
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{code} (HTTP {status})"));
            (classify(code, &message, status), message)
        }
        SdkError::TimeoutError(_) => (ErrorKind::Transient, "the request timed out".to_owned()),
        SdkError::DispatchFailure(failure) => {
            let text = describe(&e);
            if failure.is_io() || failure.is_timeout() {
                (ErrorKind::Transient, text)
            } else if text.contains("credentials") {
                (ErrorKind::AccessDenied, text)
            } else {
                (ErrorKind::Other, text)
            }
        }
        SdkError::ResponseError(response) => {
            // A reply the SDK cannot parse (moto answers some template
            // errors with an HTML 500): never retry it blindly.
            let status = response.raw().status().as_u16();
            let body = response
                .raw()
                .body()
                .bytes()
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            (
                ErrorKind::Other,
                format!("unreadable reply (HTTP {status}): {}", body.trim()),
            )
        }
        _ => {
            let text = describe(&e);
            let kind = if text.contains("credentials") {
                ErrorKind::AccessDenied
            } else {
                ErrorKind::Other
            };
            (kind, text)
        }
    };
    CloudError::new(kind, operation, subject, message)
}

/// The error and its sources, one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn classify(code: &str, message: &str, status: u16) -> ErrorKind {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown" => ErrorKind::Throttled,
        "AlreadyExistsException" => ErrorKind::AlreadyExists,
        "ChangeSetNotFound" | "ChangeSetNotFoundException" | "StackNotFoundException" => {
            ErrorKind::NotFound
        }
        "InsufficientCapabilitiesException" => ErrorKind::InsufficientCapabilities,
        "TokenAlreadyExistsException" => ErrorKind::TokenAlreadyUsed,
        "OperationInProgressException" | "OperationIdAlreadyExistsException" => {
            ErrorKind::InProgress
        }
        "AccessDenied"
        | "AccessDeniedException"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch" => ErrorKind::AccessDenied,
        "ValidationError" if message.contains("does not exist") => ErrorKind::NotFound,
        "ValidationError"
            if message.contains("_IN_PROGRESS state") || message.contains("in progress") =>
        {
            ErrorKind::InProgress
        }
        "ValidationError" => ErrorKind::Validation,
        _ if status >= 500 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// `TemplateBody`, `TemplateURL` and `UsePreviousTemplate` of a request.
fn template_fields(template: &TemplateSource) -> (Option<String>, Option<String>, Option<bool>) {
    match template {
        TemplateSource::Body(body) => (Some(body.clone()), None, None),
        TemplateSource::Url(url) => (None, Some(url.clone()), None),
        TemplateSource::UsePrevious => (None, None, Some(true)),
    }
}

/// Parameters; `None` for none, so a request without any sends no list.
fn parameters(parameters: &[Parameter]) -> Option<Vec<types::Parameter>> {
    if parameters.is_empty() {
        return None;
    }
    Some(
        parameters
            .iter()
            .map(|p| {
                let builder = types::Parameter::builder().parameter_key(&p.key);
                match &p.value {
                    ParameterValue::Value(value) => builder.parameter_value(value),
                    ParameterValue::UsePrevious => builder.use_previous_value(true),
                }
                .build()
            })
            .collect(),
    )
}

/// Stack tags; `None` for none, because an empty list would remove the
/// stack's existing tags.
fn tags(tags: &[(String, String)]) -> Option<Vec<types::Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| types::Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

fn capabilities(capabilities: &[super::Capability]) -> Vec<types::Capability> {
    capabilities
        .iter()
        .map(|c| types::Capability::from(c.as_str()))
        .collect()
}

fn stack(stack: &types::Stack) -> Stack {
    Stack {
        name: stack.stack_name().unwrap_or_default().to_owned(),
        id: stack.stack_id().unwrap_or_default().to_owned(),
        status: StackStatus(
            stack
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        ),
        status_reason: stack.stack_status_reason().map(str::to_owned),
        outputs: stack
            .outputs()
            .iter()
            .map(|o| Output {
                key: o.output_key().unwrap_or_default().to_owned(),
                value: o.output_value().unwrap_or_default().to_owned(),
                export_name: o.export_name().map(str::to_owned),
            })
            .collect(),
        tags: stack
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
        parameters: stack
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_owned(),
                    p.parameter_value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }
}

fn change_set_status(status: Option<&types::ChangeSetStatus>) -> ChangeSetStatus {
    match status.map(types::ChangeSetStatus::as_str) {
        Some("CREATE_COMPLETE") => ChangeSetStatus::Complete,
        Some("FAILED") => ChangeSetStatus::Failed,
        Some(s) if s.starts_with("DELETE") => ChangeSetStatus::Deleted,
        _ => ChangeSetStatus::Pending,
    }
}

fn execution_status(status: Option<&types::ExecutionStatus>) -> ExecutionStatus {
    match status.map(types::ExecutionStatus::as_str) {
        Some("AVAILABLE") => ExecutionStatus::Available,
        Some("EXECUTE_IN_PROGRESS") => ExecutionStatus::InProgress,
        Some("EXECUTE_COMPLETE") => ExecutionStatus::Complete,
        Some("EXECUTE_FAILED") => ExecutionStatus::Failed,
        Some("OBSOLETE") => ExecutionStatus::Obsolete,
        _ => ExecutionStatus::Unavailable,
    }
}

fn resource_change(change: &types::ResourceChange) -> ResourceChange {
    ResourceChange {
        action: match change.action().map(types::ChangeAction::as_str) {
            Some("Add") => ChangeAction::Add,
            Some("Remove") => ChangeAction::Remove,
            Some("Import") => ChangeAction::Import,
            Some("Dynamic") => ChangeAction::Dynamic,
            _ => ChangeAction::Modify,
        },
        logical_id: change.logical_resource_id().unwrap_or_default().to_owned(),
        physical_id: change.physical_resource_id().map(str::to_owned),
        resource_type: change.resource_type().unwrap_or_default().to_owned(),
        replacement: change.replacement().and_then(|r| match r.as_str() {
            "True" => Some(Replacement::True),
            "False" => Some(Replacement::False),
            "Conditional" => Some(Replacement::Conditional),
            _ => None,
        }),
        scope: change
            .scope()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    }
}

fn time(t: Option<&aws_sdk_cloudformation::primitives::DateTime>) -> SystemTime {
    t.and_then(|t| SystemTime::try_from(*t).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// An error of a drift-detection call, where an endpoint that does not
/// implement the operation is told apart: moto's server answers
/// `DetectStackDrift` and friends with an HTML 500 ("The … action has not
/// been implemented" in its log); another endpoint may say `NotImplemented`,
/// `InvalidAction` or answer 404 / 501. Those become
/// [`ErrorKind::Unsupported`], which is not retried.
fn drift_error<E>(operation: &'static str, subject: &str, e: SdkError<E>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (status, code) = match &e {
        SdkError::ServiceError(service) => (
            Some(service.raw().status().as_u16()),
            service.err().code().unwrap_or("").to_owned(),
        ),
        SdkError::ResponseError(response) => {
            (Some(response.raw().status().as_u16()), String::new())
        }
        _ => (None, String::new()),
    };
    let mut error = error(operation, subject, e);
    if unsupported(status, &code, &error.message) {
        error.kind = ErrorKind::Unsupported;
        let answer = match (code.as_str(), status) {
            ("", Some(status)) => format!("HTTP {status} without an AWS error code"),
            ("", None) => error.message.trim().to_owned(),
            (code, _) => format!("`{code}`"),
        };
        error.message = format!(
            "the endpoint does not implement {operation} (it answered {answer}), so drift detection is unavailable there"
        );
    }
    error
}

/// Whether a reply says the operation does not exist at this endpoint.
fn unsupported(status: Option<u16>, code: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    matches!(
        code,
        "NotImplemented" | "InvalidAction" | "UnknownOperationException" | "UnsupportedOperation"
    ) || matches!(status, Some(404 | 501))
        || message.contains("not been implemented")
        || message.contains("not implemented")
        // An HTML page instead of an AWS error document: moto's crash page.
        || (status == Some(500) && (code.is_empty() || message.contains("<html") || message.contains("<!doctype")))
}

fn detection_status(status: Option<&types::StackDriftDetectionStatus>) -> DetectionStatus {
    match status.map(types::StackDriftDetectionStatus::as_str) {
        Some("DETECTION_COMPLETE") => DetectionStatus::Complete,
        Some("DETECTION_FAILED") => DetectionStatus::Failed,
        _ => DetectionStatus::InProgress,
    }
}

fn stack_drift_status(status: Option<&types::StackDriftStatus>) -> StackDriftStatus {
    match status.map(types::StackDriftStatus::as_str) {
        Some("IN_SYNC") => StackDriftStatus::InSync,
        Some("DRIFTED") => StackDriftStatus::Drifted,
        Some("NOT_CHECKED") => StackDriftStatus::NotChecked,
        _ => StackDriftStatus::Unknown,
    }
}

fn resource_drift(drift: &types::StackResourceDrift) -> ResourceDrift {
    ResourceDrift {
        logical_id: drift.logical_resource_id().unwrap_or_default().to_owned(),
        physical_id: drift.physical_resource_id().unwrap_or_default().to_owned(),
        resource_type: drift.resource_type().unwrap_or_default().to_owned(),
        status: match drift
            .stack_resource_drift_status()
            .map(types::StackResourceDriftStatus::as_str)
        {
            Some("MODIFIED") => ResourceDriftStatus::Modified,
            Some("DELETED") => ResourceDriftStatus::Deleted,
            Some("IN_SYNC") => ResourceDriftStatus::InSync,
            _ => ResourceDriftStatus::NotChecked,
        },
        differences: drift
            .property_differences()
            .iter()
            .map(|d| PropertyDifference {
                path: d.property_path().unwrap_or_default().to_owned(),
                expected: d.expected_value().unwrap_or_default().to_owned(),
                actual: d.actual_value().unwrap_or_default().to_owned(),
                kind: match d.difference_type().map(types::DifferenceType::as_str) {
                    Some("ADD") => DifferenceKind::Add,
                    Some("REMOVE") => DifferenceKind::Remove,
                    _ => DifferenceKind::NotEqual,
                },
            })
            .collect(),
    }
}

#[async_trait]
impl Cloud for CloudFormation {
    async fn account(&self) -> Result<String, CloudError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| error("GetCallerIdentity", "", e))?;
        identity.account().map(str::to_owned).ok_or_else(|| {
            CloudError::new(
                ErrorKind::Other,
                "GetCallerIdentity",
                "",
                "the reply names no account",
            )
        })
    }

    async fn describe_stack(&self, name: &str) -> Result<Option<Stack>, CloudError> {
        match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(reply) => Ok(reply
                .stacks()
                .first()
                .map(stack)
                .filter(|s| !s.status.is_deleted())),
            Err(e) => {
                let e = error("DescribeStacks", name, e);
                if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn get_template(&self, name: &str) -> Result<Option<String>, CloudError> {
        match self
            .cfn
            .get_template()
            .stack_name(name)
            .template_stage(types::TemplateStage::Original)
            .send()
            .await
        {
            Ok(reply) => Ok(Some(reply.template_body().unwrap_or_default().to_owned())),
            Err(e) => {
                let e = error("GetTemplate", name, e);
                if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn create_stack(&self, request: &CreateStack) -> Result<String, CloudError> {
        let (body, url, previous) = template_fields(&request.template);
        if previous.is_some() {
            return Err(CloudError::new(
                ErrorKind::Validation,
                "CreateStack",
                &request.name,
                super::NO_PREVIOUS_TEMPLATE,
            ));
        }
        let reply = self
            .cfn
            .create_stack()
            .stack_name(&request.name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(parameters(&request.parameters))
            .set_tags(tags(&request.tags))
            .set_capabilities(Some(capabilities(&request.capabilities)))
            .enable_termination_protection(request.termination_protection)
            .client_request_token(&request.client_token)
            .send()
            .await
            .map_err(|e| error("CreateStack", &request.name, e))?;
        Ok(reply.stack_id().unwrap_or(&request.name).to_owned())
    }

    async fn create_change_set(&self, request: &CreateChangeSet) -> Result<(), CloudError> {
        let (body, url, previous) = template_fields(&request.template);
        self.cfn
            .create_change_set()
            .stack_name(&request.stack)
            .change_set_name(&request.change_set)
            .change_set_type(types::ChangeSetType::Update)
            .set_template_body(body)
            .set_template_url(url)
            .set_use_previous_template(previous)
            .set_parameters(parameters(&request.parameters))
            .set_tags(tags(&request.tags))
            .set_capabilities(Some(capabilities(&request.capabilities)))
            .description(&request.description)
            .client_token(&request.client_token)
            .send()
            .await
            .map_err(|e| error("CreateChangeSet", &request.stack, e))?;
        Ok(())
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<Option<ChangeSet>, CloudError> {
        let mut changes = Vec::new();
        let mut next = None;
        loop {
            let reply = match self
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                .set_next_token(next.take())
                .send()
                .await
            {
                Ok(reply) => reply,
                Err(e) => {
                    let e = error("DescribeChangeSet", change_set, e);
                    return if e.kind == ErrorKind::NotFound {
                        Ok(None)
                    } else {
                        Err(e)
                    };
                }
            };
            changes.extend(
                reply
                    .changes()
                    .iter()
                    .filter_map(types::Change::resource_change)
                    .map(resource_change),
            );
            match reply.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => {
                    return Ok(Some(ChangeSet {
                        name: change_set.to_owned(),
                        stack: stack.to_owned(),
                        status: change_set_status(reply.status()),
                        status_reason: reply.status_reason().map(str::to_owned),
                        execution_status: execution_status(reply.execution_status()),
                        changes,
                    }));
                }
            }
        }
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> Result<(), CloudError> {
        self.cfn
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .client_request_token(client_token)
            .send()
            .await
            .map_err(|e| error("ExecuteChangeSet", stack, e))?;
        Ok(())
    }

    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), CloudError> {
        match self
            .cfn
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error("DeleteChangeSet", change_set, e) {
                e if e.kind == ErrorKind::NotFound => Ok(()),
                e => Err(e),
            },
        }
    }

    async fn list_change_sets(&self, stack: &str) -> Result<Vec<ChangeSetSummary>, CloudError> {
        let mut summaries = Vec::new();
        let mut next = None;
        loop {
            let reply = self
                .cfn
                .list_change_sets()
                .stack_name(stack)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| error("ListChangeSets", stack, e))?;
            summaries.extend(
                reply
                    .summaries()
                    .iter()
                    // moto ignores `StackName`: keep this stack's own.
                    .filter(|s| {
                        s.stack_name().is_none_or(|n| n == stack)
                            || s.stack_id()
                                .is_some_and(|id| id.contains(&format!("/{stack}/")))
                    })
                    .map(|s| ChangeSetSummary {
                        name: s.change_set_name().unwrap_or_default().to_owned(),
                        status: change_set_status(s.status()),
                        execution_status: execution_status(s.execution_status()),
                    }),
            );
            match reply.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(summaries),
            }
        }
    }

    async fn delete_stack(&self, name: &str, client_token: &str) -> Result<(), CloudError> {
        self.cfn
            .delete_stack()
            .stack_name(name)
            .client_request_token(client_token)
            .send()
            .await
            .map_err(|e| error("DeleteStack", name, e))?;
        Ok(())
    }

    async fn stack_events(&self, name: &str) -> Result<Vec<StackEvent>, CloudError> {
        let reply = self
            .cfn
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| error("DescribeStackEvents", name, e))?;
        Ok(reply
            .stack_events()
            .iter()
            .map(|e| StackEvent {
                id: e.event_id().unwrap_or_default().to_owned(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                physical_id: e.physical_resource_id().map(str::to_owned),
                resource_type: e.resource_type().unwrap_or_default().to_owned(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_owned),
                timestamp: time(e.timestamp()),
            })
            .collect())
    }

    async fn exports(&self) -> Result<Vec<Export>, CloudError> {
        let mut exports = Vec::new();
        let mut next = None;
        loop {
            let reply = self
                .cfn
                .list_exports()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| error("ListExports", "", e))?;
            exports.extend(reply.exports().iter().map(|e| Export {
                name: e.name().unwrap_or_default().to_owned(),
                value: e.value().unwrap_or_default().to_owned(),
                exporting_stack: e.exporting_stack_id().unwrap_or_default().to_owned(),
            }));
            match reply.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(exports),
            }
        }
    }

    async fn set_termination_protection(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<(), CloudError> {
        self.cfn
            .update_termination_protection()
            .stack_name(name)
            .enable_termination_protection(enabled)
            .send()
            .await
            .map_err(|e| error("UpdateTerminationProtection", name, e))?;
        Ok(())
    }

    async fn upload_template(
        &self,
        bucket: &str,
        key: &str,
        body: &str,
    ) -> Result<String, CloudError> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(
                body.as_bytes().to_vec(),
            ))
            .send()
            .await
            .map_err(|e| error("PutObject", &format!("s3://{bucket}/{key}"), e))?;
        Ok(match &self.endpoint {
            Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        })
    }

    async fn list_stacks(&self) -> Result<Vec<Stack>, CloudError> {
        let mut stacks = Vec::new();
        let mut next = None;
        loop {
            let reply = self
                .cfn
                .describe_stacks()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| error("DescribeStacks", "", e))?;
            stacks.extend(
                reply
                    .stacks()
                    .iter()
                    .map(stack)
                    .filter(|s| !s.status.is_deleted()),
            );
            match reply.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(stacks),
            }
        }
    }

    async fn detect_drift(&self, stack: &str) -> Result<String, CloudError> {
        let reply = self
            .cfn
            .detect_stack_drift()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| drift_error("DetectStackDrift", stack, e))?;
        reply
            .stack_drift_detection_id()
            .map(str::to_owned)
            .ok_or_else(|| {
                CloudError::new(
                    ErrorKind::Other,
                    "DetectStackDrift",
                    stack,
                    "the reply names no detection id",
                )
            })
    }

    async fn drift_detection(&self, id: &str) -> Result<DriftDetection, CloudError> {
        let reply = self
            .cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|e| drift_error("DescribeStackDriftDetectionStatus", id, e))?;
        Ok(DriftDetection {
            status: detection_status(reply.detection_status()),
            reason: reply.detection_status_reason().map(str::to_owned),
            stack_drift: stack_drift_status(reply.stack_drift_status()),
            drifted_resources: reply
                .drifted_stack_resource_count()
                .and_then(|count| u32::try_from(count).ok()),
        })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, CloudError> {
        let mut drifts = Vec::new();
        let mut next = None;
        loop {
            let reply = self
                .cfn
                .describe_stack_resource_drifts()
                .stack_name(stack)
                .stack_resource_drift_status_filters(types::StackResourceDriftStatus::Modified)
                .stack_resource_drift_status_filters(types::StackResourceDriftStatus::Deleted)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| drift_error("DescribeStackResourceDrifts", stack, e))?;
            drifts.extend(reply.stack_resource_drifts().iter().map(resource_drift));
            match reply.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(drifts),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_without_drift_detection_is_unsupported() {
        assert!(unsupported(
            Some(500),
            "",
            "unreadable reply (HTTP 500): <!doctype html>"
        ));
        assert!(unsupported(
            Some(400),
            "InvalidAction",
            "Could not find operation"
        ));
        assert!(unsupported(Some(501), "", "(HTTP 501)"));
        assert!(!unsupported(
            Some(400),
            "ValidationError",
            "Stack with id x does not exist"
        ));
        assert!(!unsupported(
            Some(500),
            "InternalFailure",
            "internal failure"
        ));
    }

    #[test]
    fn throttling_codes_are_retryable_and_validation_is_not() {
        assert!(classify("Throttling", "Rate exceeded", 400).is_retryable());
        assert!(classify("InternalFailure", "", 500).is_retryable());
        assert!(!classify("ValidationError", "Template format error", 400).is_retryable());
        assert_eq!(
            classify("ValidationError", "Stack with id x does not exist", 400),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(
                "ValidationError",
                "Stack:x is in UPDATE_IN_PROGRESS state and can not be updated.",
                400
            ),
            ErrorKind::InProgress
        );
    }
}
