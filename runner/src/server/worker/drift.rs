//! Drift checks the watcher's schedules run (`[[on.schedule]]` with
//! `action = "drift"`): each environment compared with what git says at the
//! commit it last deployed, the result kept in the state database, one
//! GitHub issue per drifted environment (opened, edited in place, closed when
//! the drift clears), the workflow's `[notify]` told, and with `heal = true`
//! the environment applied again from that commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::watch::WatchTarget;
use super::{ApplyRequest, Failure, Worker};
use crate::drift::source::GitSource;
use crate::drift::{self, EnvironmentDrift, Overrides, Source as _};
use crate::forge::{MAX_COMMENT_CHARS, Repo};
use crate::state::DriftRecord;
use crate::workflow;

/// The hidden marker of `environment`'s drift issue.
pub fn issue_marker(environment: &str) -> String {
    format!("<!-- strata:drift {environment} -->")
}

impl Worker {
    /// A scheduled drift check of the workflow's environments.
    pub(super) async fn scheduled_drift(
        &self,
        target: &WatchTarget,
        scheduled: &workflow::Scheduled,
        tip: &str,
    ) -> Result<(), Failure> {
        let governing = self
            .governing(&target.repo, tip, tip, &scheduled.branch)
            .await?;
        let notify = governing
            .workflows
            .get(&scheduled.workflow)
            .and_then(|w| w.notify.clone());
        let mut failed = Vec::new();
        for environment in &scheduled.environments {
            let checked = self
                .drift_check(
                    &target.repo,
                    &target.url,
                    environment,
                    tip,
                    scheduled.heal,
                    notify.as_ref(),
                )
                .await;
            if let Err(failure) = checked {
                tracing::error!(environment = %environment, %failure, "drift check failed");
                failed.push(format!("`{environment}`: {failure}"));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Failure(failed.join("; ")))
        }
    }

    /// Check `environment` of `repo` for drift (healing it when `heal`),
    /// record the result, and keep its issue and notifications in step.
    pub async fn drift_check(
        &self,
        repo: &Repo,
        clone_url: &str,
        environment: &str,
        tip: &str,
        heal: bool,
        notify: Option<&workflow::Notify>,
    ) -> Result<EnvironmentDrift, Failure> {
        let full_name = repo.full_name();
        let deployed = self.state.deployed(&full_name, environment)?;
        let mut report = self
            .drift_report(repo, environment, tip, deployed.as_ref())
            .await?;
        let mut healed = None;
        if heal
            && report.is_drifted()
            && let Some(deployed) = &deployed
        {
            // Said first, so the issue (and the notification) keep what was
            // found even when the heal clears it at once.
            self.report_drift(repo, &report, None, notify).await?;
            tracing::info!(environment, commit = %deployed.commit, "healing drift: applying what git says again");
            let ok = self
                .apply(ApplyRequest {
                    repo: repo.clone(),
                    clone_url: clone_url.to_owned(),
                    pr: None,
                    environment: environment.to_owned(),
                    head_sha: deployed.commit.clone(),
                    status_sha: deployed.commit.clone(),
                    base: deployed.commit.clone(),
                    reviewed: None,
                    reviewed_is_hint: true,
                    trusted_base: false,
                    stacks: workflow::StackFilter::All,
                    overrides: None,
                    trigger: "a drift check (`heal = true`)".to_owned(),
                    heal: true,
                    notify: notify.cloned(),
                })
                .await?;
            healed = Some(ok);
            let after = self.state.deployed(&full_name, environment)?;
            report = self
                .drift_report(repo, environment, tip, after.as_ref())
                .await?;
        }
        self.report_drift(repo, &report, healed, notify).await?;
        Ok(report)
    }

    /// The drift of `environment`, checked at the commit it runs.
    async fn drift_report(
        &self,
        repo: &Repo,
        environment: &str,
        tip: &str,
        deployed: Option<&crate::state::Deployed>,
    ) -> Result<EnvironmentDrift, Failure> {
        let mirror = self.mirrors.path(&repo.owner, &repo.name);
        let commit = deployed.map(|d| d.commit.clone());
        let mut overrides: Overrides = BTreeMap::new();
        for o in deployed.map(|d| d.overrides.as_slice()).unwrap_or_default() {
            overrides
                .entry(o.stack.clone())
                .or_default()
                .insert(o.parameter.clone(), o.value.clone());
        }
        // The environment's region, from the files at its commit (or the tip).
        let scope = {
            let host = Arc::clone(&self.host);
            let mirror = mirror.clone();
            let at = commit.clone().unwrap_or_else(|| tip.to_owned());
            let environment = environment.to_owned();
            super::blocking(move || {
                GitSource::at(&host, &mirror, &at)
                    .scope(&environment)
                    .map_err(Failure)
            })
            .await?
        };
        let cloud = self.clouds.cloud(&scope.region).await;
        let host = Arc::clone(&self.host);
        let environment = environment.to_owned();
        let at = commit.clone().unwrap_or_else(|| tip.to_owned());
        let options = drift::Options {
            poll_interval: self.settings.poll.0,
            concurrency: self.settings.concurrency,
            ..drift::Options::default()
        };
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let source = GitSource::at(&host, &mirror, &at);
            handle.block_on(drift::check_environment(
                cloud.as_ref(),
                &source,
                &drift::Request {
                    environment: &environment,
                    commit: commit.as_deref(),
                    overrides: &overrides,
                },
                &options,
            ))
        })
        .await
        .map_err(|e| Failure(format!("the drift check stopped: {e}")))
    }

    /// Record `report`, keep the environment's issue in step (open or edit
    /// it while drifted, close it when clear) and notify on changes.
    async fn report_drift(
        &self,
        repo: &Repo,
        report: &EnvironmentDrift,
        healed: Option<bool>,
        notify: Option<&workflow::Notify>,
    ) -> Result<(), Failure> {
        let full_name = repo.full_name();
        let environment = report.name.as_str();
        let before = self.state.drift(&full_name, environment)?;
        let was_drifted = before.as_ref().is_some_and(|b| b.drifted);
        let fingerprint = report.fingerprint();
        let stacks: Vec<String> = {
            let mut stacks: Vec<String> = report.drifted.iter().map(|d| d.stack.clone()).collect();
            stacks.dedup();
            stacks
        };
        self.metrics
            .set_drift(&full_name, environment, stacks.len());
        let marker = issue_marker(environment);
        let mut issue = before.as_ref().and_then(|b| b.issue);
        if report.is_drifted() {
            let mut body = format!("{marker}\n");
            body.push_str(&drift::render::markdown(report, MAX_COMMENT_CHARS - 600));
            if healed == Some(false) {
                body.push_str("\n\nStrata tried to heal it (`heal = true`) and the apply failed; see the logs.\n");
            }
            let title = format!(
                "Drift in `{environment}`: {} stack{} changed outside Strata",
                stacks.len(),
                if stacks.len() == 1 { "" } else { "s" }
            );
            let url = match self.forge.upsert_issue(repo, &marker, &title, &body).await {
                Ok(opened) => {
                    if opened.number != 0 {
                        issue = Some(opened.number);
                    }
                    (!opened.url.is_empty()).then_some(opened.url)
                }
                Err(error) => {
                    tracing::warn!(%error, environment, "cannot open the drift issue");
                    None
                }
            };
            // Said when it is news: new drift, or drift that changed.
            let news = before
                .as_ref()
                .is_none_or(|b| b.fingerprint != fingerprint || !b.drifted);
            if news && let Some(notifier) = &self.notifier {
                notifier.notify_drift(
                    notify,
                    &full_name,
                    environment,
                    &stacks,
                    url.as_deref(),
                    false,
                );
            }
        } else if !report.errors.is_empty() {
            // An unfinished check proves nothing: the issue stays as it is.
            tracing::warn!(environment, errors = ?report.errors, "the drift check did not finish; nothing is closed");
        } else if was_drifted || issue.is_some() {
            // Cleared (or an earlier close that failed, tried again).
            let how = match healed {
                Some(true) => "healed by applying what git says again",
                _ => "the cloud matches git again",
            };
            let comment = format!(
                "No drift in `{environment}` any more ({how}); checked at {}.",
                report.checked_at
            );
            let url = match self.forge.close_issue(repo, &marker, &comment).await {
                Ok(closed) => {
                    issue = None;
                    closed.map(|i| i.url).filter(|u| !u.is_empty())
                }
                Err(error) => {
                    tracing::warn!(%error, environment, "cannot close the drift issue; trying again at the next check");
                    None
                }
            };
            if was_drifted && let Some(notifier) = &self.notifier {
                notifier.notify_drift(notify, &full_name, environment, &[], url.as_deref(), true);
            }
        }
        tracing::info!(
            environment,
            drifted = report.is_drifted(),
            stacks = stacks.len(),
            errors = report.errors.len(),
            "drift checked"
        );
        self.state.record_drift(&DriftRecord {
            repo: full_name,
            environment: environment.to_owned(),
            drifted: report.is_drifted() || (was_drifted && !report.errors.is_empty()),
            fingerprint,
            issue,
            report: serde_json::to_string(report).unwrap_or_default(),
            checked_at: SystemTime::now(),
        })?;
        Ok(())
    }
}
