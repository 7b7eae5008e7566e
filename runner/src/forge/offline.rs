//! A forge for running without one: `strata watch` on a plain git remote,
//! with no GitHub credentials. What would be posted (statuses, deployments,
//! drift issues) is logged instead; what would be read is empty, so gates
//! that need reviews or checks stay closed rather than passing by accident.

use async_trait::async_trait;

use super::{
    Check, CommentId, DeploymentId, DeploymentState, Forge, ForgeError, ForgeErrorKind, Issue,
    NewDeployment, Permission, PullRequest, Reaction, Repo, Review, StatusState,
};

/// The forge of a repository that has none: writes go to the log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Offline;

#[async_trait]
impl Forge for Offline {
    async fn pull_request(&self, repo: &Repo, number: u64) -> Result<PullRequest, ForgeError> {
        Err(ForgeError::new(
            ForgeErrorKind::NotFound,
            "read pull request",
            format!("{repo}#{number}"),
            "no forge is configured: pull requests are unknown",
        ))
    }

    async fn upsert_comment(
        &self,
        repo: &Repo,
        pr: u64,
        _marker: &str,
        body: &str,
    ) -> Result<CommentId, ForgeError> {
        tracing::info!(%repo, pr, chars = body.len(), "no forge: comment not posted");
        Ok(CommentId(0))
    }

    async fn create_comment(
        &self,
        repo: &Repo,
        pr: u64,
        body: &str,
    ) -> Result<CommentId, ForgeError> {
        tracing::info!(%repo, pr, chars = body.len(), "no forge: comment not posted");
        Ok(CommentId(0))
    }

    async fn set_status(
        &self,
        repo: &Repo,
        sha: &str,
        context: &str,
        state: StatusState,
        description: &str,
        _target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        tracing::info!(%repo, commit = %sha, context, state = state.name(), "{description}");
        Ok(())
    }

    async fn permission(&self, _repo: &Repo, _user: &str) -> Result<Permission, ForgeError> {
        Ok(Permission::None)
    }

    async fn reviews(&self, _repo: &Repo, _pr: u64) -> Result<Vec<Review>, ForgeError> {
        Ok(Vec::new())
    }

    async fn team_member(
        &self,
        _org: &str,
        _team_slug: &str,
        _user: &str,
    ) -> Result<bool, ForgeError> {
        Ok(false)
    }

    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<DeploymentId, ForgeError> {
        tracing::debug!(%repo, environment = %deployment.environment, commit = %deployment.sha, "no forge: deployment not recorded");
        Ok(DeploymentId(0))
    }

    async fn set_deployment_status(
        &self,
        _repo: &Repo,
        _id: DeploymentId,
        _state: DeploymentState,
        _description: &str,
        _log_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        Ok(())
    }

    async fn pulls_of_commit(&self, _repo: &Repo, _sha: &str) -> Result<Vec<u64>, ForgeError> {
        Ok(Vec::new())
    }

    async fn checks(&self, _repo: &Repo, _sha: &str) -> Result<Vec<Check>, ForgeError> {
        Ok(Vec::new())
    }

    async fn clone_token(&self) -> Result<Option<String>, ForgeError> {
        Ok(None)
    }

    async fn upsert_issue(
        &self,
        repo: &Repo,
        _marker: &str,
        title: &str,
        _body: &str,
    ) -> Result<Issue, ForgeError> {
        tracing::warn!(%repo, "no forge: issue not opened: {title}");
        Ok(Issue {
            number: 0,
            url: String::new(),
        })
    }

    async fn close_issue(
        &self,
        repo: &Repo,
        marker: &str,
        _comment: &str,
    ) -> Result<Option<Issue>, ForgeError> {
        tracing::info!(%repo, marker, "no forge: no issue to close");
        Ok(None)
    }

    async fn react(
        &self,
        _repo: &Repo,
        _comment: CommentId,
        _reaction: Reaction,
    ) -> Result<(), ForgeError> {
        Ok(())
    }
}
