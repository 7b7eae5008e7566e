//! The worker's notifications: an apply that finished and a stage found
//! waiting on a gate, turned into [`crate::notify`]'s notes and handed to the
//! worker's [`Notifier`](crate::notify::Notifier) (when it has one) with the
//! `[notify]` of the workflow that ran them. Queueing never waits; the
//! notifier says each gate wait once.

use super::{ApplyRequest, Worker};
use crate::forge::Repo;
use crate::notify::{ApplyNote, GateNote};
use crate::state::{Promotion, RunId, RunStatus};
use crate::workflow::{self, RunDecision, Verdict, Wait};

/// The web page of pull request `number`, from the repository's HTTPS clone
/// URL (`https://github.com/acme/infra.git` → `.../acme/infra/pull/7`);
/// none for other URLs (a local path in tests).
fn pull_request_url(clone_url: &str, number: u64) -> Option<String> {
    let base = clone_url.strip_prefix("https://")?;
    let base = base.strip_suffix(".git").unwrap_or(base);
    // Credentials never go into a message.
    let base = base.rsplit_once('@').map_or(base, |(_, host)| host);
    Some(format!("https://{base}/pull/{number}"))
}

impl Worker {
    /// Announce the end of an apply to its workflow's `[notify]`.
    pub(super) fn announce_apply(
        &self,
        request: &ApplyRequest,
        run: RunId,
        status: RunStatus,
        summary: &str,
    ) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let repo = request.repo.full_name();
        notifier.apply_finished(
            request.notify.as_ref(),
            &ApplyNote {
                repo: &repo,
                environment: &request.environment,
                commit: &request.head_sha,
                outcome: status.as_str(),
                summary,
                run: run.0,
                trigger: &request.trigger,
                pr: request.pr.map(|number| {
                    (
                        number,
                        pull_request_url(&request.clone_url, number).unwrap_or_default(),
                    )
                }),
            },
        );
    }

    /// Announce every stage of `run` that waits on a gate (once per stage
    /// and reason: the notifier remembers).
    pub(super) fn announce_waits(
        &self,
        repo: &Repo,
        promotion: &Promotion,
        workflow: &workflow::Workflow,
        run: &RunDecision,
    ) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        if workflow.notify.is_none() {
            return;
        }
        let full_name = repo.full_name();
        for stage in &run.stages {
            let Verdict::Waiting(waits) = &stage.verdict else {
                continue;
            };
            let waits: Vec<String> = waits.iter().map(Wait::to_string).collect();
            notifier.gate_waiting(
                workflow.notify.as_ref(),
                &GateNote {
                    repo: &full_name,
                    workflow: &workflow.name,
                    commit: &promotion.commit,
                    stage: &stage.stage,
                    environments: &stage.environments,
                    waits_for: &waits,
                    pr: promotion.pr.map(|number| {
                        (
                            number,
                            pull_request_url(&promotion.clone_url, number).unwrap_or_default(),
                        )
                    }),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pull_request_url;

    #[test]
    fn pull_request_pages_come_from_https_clone_urls_without_credentials() {
        assert_eq!(
            pull_request_url("https://github.com/acme/infra.git", 7).as_deref(),
            Some("https://github.com/acme/infra/pull/7")
        );
        assert_eq!(
            pull_request_url("https://x-access-token:t@ghe.example/acme/infra.git", 7).as_deref(),
            Some("https://ghe.example/acme/infra/pull/7")
        );
        assert_eq!(pull_request_url("/tmp/remote.git", 7), None);
    }
}
