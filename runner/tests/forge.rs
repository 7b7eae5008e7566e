//! The GitHub forge against the fake GitHub: the one plan comment per pull
//! request (also across pages and after a 502), rate limits and retries,
//! GitHub's limits, permissions, reviews and approvals, team membership,
//! deployments and their statuses, the pull requests of a commit, a
//! commit's checks, GitHub Enterprise base URLs and authentication. Each
//! test starts its own fake on 127.0.0.1.

use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata::forge::fake::{FakeDeployment, FakeGitHub, Fault, FaultKind, LOGIN, PullRequestSeed};
use strata::forge::{
    Auth, Check, CheckState, CommentId, DeploymentId, DeploymentState, Forge, ForgeErrorKind,
    GitHub, GitHubConfig, NewDeployment, Permission, PullRequestState, Reaction, Repo, RetryPolicy,
    Review, ReviewState, StatusState,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TOKEN: &str = "ghs_test_token";
const MARKER: &str = "<!-- strata:pr -->";

/// Quick retries, so tests that exhaust them stay fast.
const QUICK: RetryPolicy = RetryPolicy {
    attempts: 3,
    base: Duration::from_millis(10),
    max_wait: Duration::from_secs(2),
};

fn repo() -> Result<Repo, strata::forge::InvalidRepo> {
    "octo-org/infra".parse()
}

/// A fake with pull request 7 open on `octo-org/infra`.
fn fake_with_pull_request() -> Result<FakeGitHub, Box<dyn std::error::Error>> {
    let fake = FakeGitHub::start()?;
    fake.add_pull_request(
        &repo()?,
        PullRequestSeed {
            number: 7,
            ..PullRequestSeed::default()
        },
    );
    Ok(fake)
}

fn github(fake: &FakeGitHub, retry: RetryPolicy) -> Result<GitHub, strata::forge::ForgeError> {
    GitHub::new(GitHubConfig {
        base_url: Some(fake.url().to_owned()),
        auth: Auth::Token(TOKEN.to_owned()),
        retry,
    })
}

fn plan(text: &str) -> String {
    format!("{MARKER}\n### Plan\n{text}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::test]
async fn reads_a_pull_request() -> TestResult {
    let fake = FakeGitHub::start()?;
    fake.add_pull_request(
        &repo()?,
        PullRequestSeed {
            number: 12,
            title: "Grow the database".to_owned(),
            author: "ana".to_owned(),
            head_sha: "a".repeat(40),
            head_ref: "bigger-db".to_owned(),
            base_sha: "b".repeat(40),
            merge_commit_sha: Some("c".repeat(40)),
            open: false,
            merged: true,
            mergeable: None,
            ..PullRequestSeed::default()
        },
    );
    let pr = github(&fake, QUICK)?.pull_request(&repo()?, 12).await?;
    assert_eq!(pr.number, 12);
    assert_eq!(pr.title, "Grow the database");
    assert_eq!(pr.state, PullRequestState::Closed);
    assert!(pr.merged);
    assert_eq!(pr.mergeable, None);
    assert_eq!(pr.head_sha, "a".repeat(40));
    assert_eq!(pr.head_ref, "bigger-db");
    assert_eq!(pr.base_ref, "main");
    assert_eq!(pr.base_sha, "b".repeat(40));
    assert_eq!(pr.merge_commit_sha, Some("c".repeat(40)));
    assert_eq!(pr.author, "ana");
    assert_eq!(pr.html_url, "https://github.com/octo-org/infra/pull/12");
    Ok(())
}

#[tokio::test]
async fn a_missing_pull_request_is_not_found_and_named() -> TestResult {
    let fake = fake_with_pull_request()?;
    let error = github(&fake, QUICK)?
        .pull_request(&repo()?, 99)
        .await
        .err()
        .ok_or("pull request 99 does not exist")?;
    assert_eq!(error.kind, ForgeErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "could not read pull request `octo-org/infra#99`: HTTP 404: Not Found"
    );
    Ok(())
}

#[tokio::test]
async fn upsert_creates_one_comment_then_edits_it() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    fake.add_comment(&repo()?, 7, "ana", "looks good");

    let first = forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("1 to add"))
        .await?;
    let second = forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("2 to add"))
        .await?;

    assert_eq!(first, second);
    let ours: Vec<_> = fake
        .comments(&repo()?, 7)
        .into_iter()
        .filter(|c| c.user == LOGIN)
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours.first().map(|c| c.id), Some(first.0));
    assert_eq!(ours.first().map(|c| c.body.clone()), Some(plan("2 to add")));
    assert_eq!(fake.comments(&repo()?, 7).len(), 2, "ana's comment stays");
    Ok(())
}

#[tokio::test]
async fn upsert_with_an_unchanged_body_writes_nothing() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("same"))
        .await?;
    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("same"))
        .await?;
    let writes = fake.requests().iter().filter(|r| r.method != "GET").count();
    assert_eq!(writes, 1);
    Ok(())
}

#[tokio::test]
async fn upsert_after_a_502_leaves_exactly_one_comment() -> TestResult {
    let fake = fake_with_pull_request()?;
    // The create is stored, but the answer is a proxy's 502.
    fake.inject(Fault::new(
        "POST",
        "/issues/7/comments",
        FaultKind::BadGateway,
    ));
    let forge = github(&fake, QUICK)?;

    let id = forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("1 to add"))
        .await?;

    let comments = fake.comments(&repo()?, 7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments.first().map(|c| CommentId(c.id)), Some(id));
    let requests = fake.requests();
    let creates = requests
        .iter()
        .filter(|r| r.is("POST", "/issues/7/comments"))
        .count();
    assert_eq!(creates, 1, "no second blind create");
    let lists = requests
        .iter()
        .filter(|r| r.is("GET", "/issues/7/comments"))
        .count();
    assert_eq!(lists, 2, "a look before the create and one after the 502");
    Ok(())
}

#[tokio::test]
async fn upsert_after_a_502_on_the_edit_edits_again() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("old"))
        .await?;
    fake.inject(Fault::new(
        "PATCH",
        "/issues/comments/",
        FaultKind::BadGateway,
    ));

    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("new"))
        .await?;

    let bodies: Vec<String> = fake
        .comments(&repo()?, 7)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(bodies, vec![plan("new")]);
    Ok(())
}

#[tokio::test]
async fn a_502_on_a_plain_comment_is_not_sent_again() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.inject(Fault::new(
        "POST",
        "/issues/7/comments",
        FaultKind::BadGateway,
    ));
    let error = github(&fake, QUICK)?
        .create_comment(&repo()?, 7, "The lock on `prod` is held by #5.")
        .await
        .err()
        .ok_or("a 502 must be reported")?;
    assert_eq!(error.kind, ForgeErrorKind::Transient);
    assert_eq!(fake.comments(&repo()?, 7).len(), 1);
    assert_eq!(fake.requests().len(), 1, "exactly one POST");
    Ok(())
}

#[tokio::test]
async fn finds_the_marker_comment_on_the_second_page() -> TestResult {
    let fake = fake_with_pull_request()?;
    for n in 0..130 {
        if n == 120 {
            fake.add_comment(&repo()?, 7, LOGIN, &plan("old"));
        } else {
            fake.add_comment(&repo()?, 7, "ana", &format!("comment {n}"));
        }
    }
    let forge = github(&fake, QUICK)?;

    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("new"))
        .await?;

    let comments = fake.comments(&repo()?, 7);
    assert_eq!(comments.len(), 130);
    assert_eq!(comments.get(120).map(|c| c.body.clone()), Some(plan("new")));
    let requests = fake.requests();
    let pages: Vec<Option<&str>> = requests
        .iter()
        .filter(|r| r.is("GET", "/issues/7/comments"))
        .map(|r| r.query.as_deref())
        .collect();
    assert_eq!(
        pages,
        vec![Some("per_page=100"), Some("per_page=100&page=2")]
    );
    assert!(!requests.iter().any(|r| r.is("POST", "/issues/7/comments")));
    Ok(())
}

#[tokio::test]
async fn honours_retry_after_on_429() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.inject(Fault::new(
        "GET",
        "/pulls/7",
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
    ));
    let forge = github(&fake, QUICK)?;

    let started = Instant::now();
    let pr = forge.pull_request(&repo()?, 7).await?;

    assert_eq!(pr.number, 7);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 200]);
    Ok(())
}

#[tokio::test]
async fn rate_limited_403_is_an_error_naming_the_reset() -> TestResult {
    let fake = fake_with_pull_request()?;
    let reset_at = unix_now() + 1;
    fake.inject(Fault::new("GET", "/pulls/7", FaultKind::Forbidden { reset_at }).times(10));
    let forge = github(
        &fake,
        RetryPolicy {
            attempts: 2,
            ..QUICK
        },
    )?;

    let error = forge
        .pull_request(&repo()?, 7)
        .await
        .err()
        .ok_or("the rate limit outlasts the attempts")?;

    assert!(
        matches!(error.kind, ForgeErrorKind::RateLimited { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("resets at unix time {reset_at}")),
        "{message}"
    );
    assert!(message.contains("gave up after 2 attempts"), "{message}");
    assert_eq!(fake.requests().len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_resetting_beyond_max_wait_fails_at_once() -> TestResult {
    let fake = fake_with_pull_request()?;
    let reset_at = unix_now() + 3600;
    fake.inject(Fault::new(
        "GET",
        "/pulls/7",
        FaultKind::Forbidden { reset_at },
    ));
    let started = Instant::now();
    let error = github(&fake, QUICK)?
        .pull_request(&repo()?, 7)
        .await
        .err()
        .ok_or("the reset is an hour away")?;
    assert!(matches!(
        error.kind,
        ForgeErrorKind::RateLimited {
            retry_after: Some(_)
        }
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_plain_comment_is_retried_after_a_429() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.inject(Fault::new(
        "POST",
        "/issues/7/comments",
        FaultKind::TooManyRequests {
            retry_after_secs: 0,
        },
    ));
    github(&fake, QUICK)?
        .create_comment(&repo()?, 7, "help")
        .await?;
    assert_eq!(fake.comments(&repo()?, 7).len(), 1);
    Ok(())
}

#[tokio::test]
async fn status_descriptions_are_cut_to_140_characters() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let sha = "b".repeat(40);
    let long = "prod: 3 stacks change, ".repeat(10);

    forge
        .set_status(
            &repo()?,
            &sha,
            "strata/prod",
            StatusState::Failure,
            &long,
            Some("https://strata.example/runs/1"),
        )
        .await?;
    forge
        .set_status(
            &repo()?,
            &sha,
            "strata/dev",
            StatusState::Success,
            "ok",
            None,
        )
        .await?;

    let statuses = fake.statuses(&repo()?, &sha);
    let prod = statuses.first().ok_or("the prod status is stored")?;
    let description = prod.description.clone().unwrap_or_default();
    assert_eq!(description.chars().count(), 140);
    assert!(description.ends_with('…'));
    assert!(long.starts_with(description.trim_end_matches('…')));
    assert_eq!(prod.state, "failure");
    assert_eq!(prod.context, "strata/prod");
    assert_eq!(
        prod.target_url.as_deref(),
        Some("https://strata.example/runs/1")
    );
    let dev = statuses.get(1).ok_or("the dev status is stored")?;
    assert_eq!(
        (
            dev.state.as_str(),
            dev.description.as_deref(),
            dev.target_url.as_deref()
        ),
        ("success", Some("ok"), None)
    );
    Ok(())
}

#[tokio::test]
async fn oversize_comment_is_refused_without_a_request() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let body = plan(&"x".repeat(65_536));

    let upsert = forge.upsert_comment(&repo()?, 7, MARKER, &body).await;
    let create = forge.create_comment(&repo()?, 7, &body).await;

    for result in [upsert, create] {
        let error = result.err().ok_or("an oversize body must be refused")?;
        assert_eq!(error.kind, ForgeErrorKind::Invalid);
        assert!(
            error.message.contains("GitHub keeps at most 65536"),
            "{error}"
        );
    }
    assert!(fake.requests().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_body_without_its_marker_is_refused() -> TestResult {
    let fake = fake_with_pull_request()?;
    let error = github(&fake, QUICK)?
        .upsert_comment(&repo()?, 7, MARKER, "### Plan")
        .await
        .err()
        .ok_or("the next upsert could not find this comment")?;
    assert_eq!(error.kind, ForgeErrorKind::Invalid);
    assert!(fake.requests().is_empty());
    Ok(())
}

#[test]
fn the_fake_refuses_what_github_refuses() -> TestResult {
    // The limits hold for any client, not only for ours.
    let fake = fake_with_pull_request()?;
    let too_long = serde_json::json!({ "body": "x".repeat(65_537) }).to_string();
    let comment = raw_request(
        &fake,
        "POST",
        "/repos/octo-org/infra/issues/7/comments",
        &too_long,
    )?;
    assert!(comment.starts_with("HTTP/1.1 422"), "{comment}");
    assert!(comment.contains("Body is too long (maximum is 65536 characters)"));

    let description = serde_json::json!({ "state": "success", "description": "x".repeat(141) });
    let status = raw_request(
        &fake,
        "POST",
        "/repos/octo-org/infra/statuses/abc",
        &description.to_string(),
    )?;
    assert!(status.starts_with("HTTP/1.1 422"), "{status}");

    let state = raw_request(
        &fake,
        "POST",
        "/repos/octo-org/infra/statuses/abc",
        r#"{"state":"done"}"#,
    )?;
    assert!(state.starts_with("HTTP/1.1 422"), "{state}");

    let deployment = raw_request(
        &fake,
        "POST",
        "/repos/octo-org/infra/deployments",
        r#"{"ref":"abc","environment":"prod"}"#,
    )?;
    assert!(deployment.starts_with("HTTP/1.1 201"), "{deployment}");
    let id = deployment_id_in(&deployment).ok_or("the reply names the deployment")?;
    let statuses = format!("/repos/octo-org/infra/deployments/{id}/statuses");
    let bad_state = raw_request(&fake, "POST", &statuses, r#"{"state":"done"}"#)?;
    assert!(bad_state.starts_with("HTTP/1.1 422"), "{bad_state}");
    let long = serde_json::json!({ "state": "success", "description": "x".repeat(141) });
    let long = raw_request(&fake, "POST", &statuses, &long.to_string())?;
    assert!(long.starts_with("HTTP/1.1 422"), "{long}");
    assert!(long.contains("description is too long (maximum is 140 characters)"));
    let unknown_deployment = raw_request(
        &fake,
        "POST",
        "/repos/octo-org/infra/deployments/1/statuses",
        r#"{"state":"success"}"#,
    )?;
    assert!(
        unknown_deployment.starts_with("HTTP/1.1 404"),
        "{unknown_deployment}"
    );
    let other_repo = raw_request(
        &fake,
        "POST",
        &format!("/repos/octo-org/other/deployments/{id}/statuses"),
        r#"{"state":"success"}"#,
    )?;
    assert!(other_repo.starts_with("HTTP/1.1 404"), "{other_repo}");
    let deployments = fake.deployments(&repo()?);
    assert_eq!(
        deployments.first().map(|d| d.statuses.len()),
        Some(0),
        "refused statuses are not stored"
    );

    let unknown = raw_request(&fake, "GET", "/repos/octo-org/infra/branches", "")?;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(fake.comments(&repo()?, 7).is_empty());
    Ok(())
}

#[tokio::test]
async fn permission_of_a_writer_and_of_a_stranger() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.set_permission(&repo()?, "ana", "write");
    fake.set_permission(&repo()?, "bo", "maintain");
    fake.set_permission(&repo()?, "cy", "triage");
    let forge = github(&fake, QUICK)?;

    let cases = [
        ("ana", Permission::Write, true),
        ("bo", Permission::Maintain, true),
        ("cy", Permission::Triage, false),
        ("stranger", Permission::None, false),
    ];
    for (user, permission, can_write) in cases {
        let got = forge.permission(&repo()?, user).await?;
        assert_eq!(got, permission, "{user}");
        assert_eq!(got.can_write(), can_write, "{user}");
    }
    Ok(())
}

#[tokio::test]
async fn approval_follows_each_reviewers_latest_review() -> TestResult {
    let fake = FakeGitHub::start()?;
    let repo = repo()?;
    for number in 1..=4 {
        fake.add_pull_request(
            &repo,
            PullRequestSeed {
                number,
                ..PullRequestSeed::default()
            },
        );
    }
    // 1: approved, then a comment that does not undo it.
    fake.add_review(&repo, 1, "ana", "APPROVED");
    fake.add_review(&repo, 1, "ana", "COMMENTED");
    // 2: changes requested, then approved by the same reviewer.
    fake.add_review(&repo, 2, "ana", "CHANGES_REQUESTED");
    fake.add_review(&repo, 2, "ana", "APPROVED");
    // 3: one approves, another still requests changes.
    fake.add_review(&repo, 3, "ana", "APPROVED");
    fake.add_review(&repo, 3, "bo", "CHANGES_REQUESTED");
    // 4: the only approval was dismissed.
    fake.add_review(&repo, 4, "ana", "APPROVED");
    fake.add_review(&repo, 4, "ana", "DISMISSED");
    let forge = github(&fake, QUICK)?;

    let mut verdicts = Vec::new();
    for number in 1..=4 {
        verdicts.push(forge.is_approved(&repo, number).await?);
    }
    assert_eq!(verdicts, vec![true, true, false, false]);
    Ok(())
}

#[tokio::test]
async fn approval_reads_every_page_of_reviews() -> TestResult {
    let fake = fake_with_pull_request()?;
    for n in 0..100 {
        fake.add_review(&repo()?, 7, &format!("reviewer-{n}"), "APPROVED");
    }
    fake.add_review(&repo()?, 7, "last-word", "CHANGES_REQUESTED");
    assert!(!github(&fake, QUICK)?.is_approved(&repo()?, 7).await?);
    let pages = fake
        .requests()
        .iter()
        .filter(|r| r.is("GET", "/pulls/7/reviews"))
        .count();
    assert_eq!(pages, 2);
    Ok(())
}

#[tokio::test]
async fn reactions_are_stored_once() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let comment = fake.add_comment(&repo()?, 7, "ana", "/strata apply prod");

    forge
        .react(&repo()?, CommentId(comment), Reaction::Eyes)
        .await?;
    forge
        .react(&repo()?, CommentId(comment), Reaction::Eyes)
        .await?;
    forge
        .react(&repo()?, CommentId(comment), Reaction::PlusOne)
        .await?;

    let contents: Vec<String> = fake
        .reactions(comment)
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(contents, vec!["eyes", "+1"]);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![201, 200, 201]);
    Ok(())
}

#[tokio::test]
async fn enterprise_base_url_keeps_its_path_prefix() -> TestResult {
    let fake = FakeGitHub::start_with_prefix("/api/v3")?;
    fake.add_pull_request(
        &repo()?,
        PullRequestSeed {
            number: 7,
            ..PullRequestSeed::default()
        },
    );
    for n in 0..101 {
        fake.add_comment(&repo()?, 7, "ana", &format!("comment {n}"));
    }
    assert!(fake.url().ends_with("/api/v3"));
    let forge = github(&fake, QUICK)?;

    forge.pull_request(&repo()?, 7).await?;
    forge
        .upsert_comment(&repo()?, 7, MARKER, &plan("new"))
        .await?;

    let requests = fake.requests();
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("GET", "/api/v3/repos/octo-org/infra/pulls/7"),
            ("GET", "/api/v3/repos/octo-org/infra/issues/7/comments"),
            ("GET", "/api/v3/repos/octo-org/infra/issues/7/comments"),
            ("POST", "/api/v3/repos/octo-org/infra/issues/7/comments"),
        ]
    );
    assert!(requests.iter().all(|r| r.status < 300));
    Ok(())
}

#[tokio::test]
async fn requests_carry_the_token() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    forge.pull_request(&repo()?, 7).await?;
    forge.create_comment(&repo()?, 7, "hello").await?;
    forge.permission(&repo()?, "ana").await?;

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{} {}",
            request.method,
            request.path
        );
    }
    Ok(())
}

#[test]
fn the_fake_answers_401_without_authorization() -> TestResult {
    let fake = fake_with_pull_request()?;
    let reply = raw_request_without_auth(&fake, "GET", "/repos/octo-org/infra/pulls/7")?;
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(reply.contains("Requires authentication"), "{reply}");
    let recorded = fake.requests();
    assert_eq!(recorded.first().map(|r| r.status), Some(401));
    Ok(())
}

#[tokio::test]
async fn a_base_url_without_the_api_is_not_found() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = GitHub::new(GitHubConfig {
        base_url: Some(format!("{}/nowhere", fake.url())),
        auth: Auth::Token(TOKEN.to_owned()),
        retry: QUICK,
    })?;
    let error = forge
        .pull_request(&repo()?, 7)
        .await
        .err()
        .ok_or("the fake has no API under /nowhere")?;
    assert_eq!(error.kind, ForgeErrorKind::NotFound);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_github_is_transient_after_the_retries() -> TestResult {
    let fake = FakeGitHub::start()?;
    let url = fake.url().to_owned();
    fake.shutdown();
    let forge = GitHub::new(GitHubConfig {
        base_url: Some(url),
        auth: Auth::Token(TOKEN.to_owned()),
        retry: QUICK,
    })?;
    let error = forge
        .pull_request(&repo()?, 7)
        .await
        .err()
        .ok_or("nothing listens any more")?;
    assert_eq!(error.kind, ForgeErrorKind::Transient);
    assert!(
        error.message.contains("gave up after 3 attempts"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn reviews_come_oldest_first_with_the_commit_they_saw() -> TestResult {
    let fake = fake_with_pull_request()?;
    let head = PullRequestSeed::default().head_sha;
    let older = "1".repeat(40);
    fake.add_review_at(&repo()?, 7, "ana", "APPROVED", &older);
    fake.add_review(&repo()?, 7, "bo", "COMMENTED");
    fake.add_review(&repo()?, 7, "cy", "CHANGES_REQUESTED");
    fake.add_review(&repo()?, 7, "cy", "DISMISSED");

    let reviews = github(&fake, QUICK)?.reviews(&repo()?, 7).await?;

    let review = |user: &str, state, commit: &str| Review {
        user: user.to_owned(),
        state,
        commit_id: Some(commit.to_owned()),
    };
    assert_eq!(
        reviews,
        vec![
            review("ana", ReviewState::Approved, &older),
            review("bo", ReviewState::Comment, &head),
            review("cy", ReviewState::ChangesRequested, &head),
            review("cy", ReviewState::Dismissed, &head),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn reviews_are_read_across_pages() -> TestResult {
    let fake = fake_with_pull_request()?;
    for n in 0..150 {
        fake.add_review(&repo()?, 7, &format!("reviewer-{n}"), "COMMENTED");
    }

    let reviews = github(&fake, QUICK)?.reviews(&repo()?, 7).await?;

    let users: Vec<String> = reviews.into_iter().map(|r| r.user).collect();
    let expected: Vec<String> = (0..150).map(|n| format!("reviewer-{n}")).collect();
    assert_eq!(users, expected);
    let requests = fake.requests();
    let pages: Vec<Option<&str>> = requests
        .iter()
        .filter(|r| r.is("GET", "/pulls/7/reviews"))
        .map(|r| r.query.as_deref())
        .collect();
    assert_eq!(
        pages,
        vec![Some("per_page=100"), Some("per_page=100&page=2")]
    );
    Ok(())
}

#[tokio::test]
async fn an_approval_from_a_deleted_account_does_not_count() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.add_review(&repo()?, 7, "ghost", "APPROVED");
    let forge = github(&fake, QUICK)?;
    assert!(!forge.is_approved(&repo()?, 7).await?);
    fake.add_review(&repo()?, 7, "ana", "APPROVED");
    assert!(forge.is_approved(&repo()?, 7).await?);
    Ok(())
}

#[tokio::test]
async fn reviews_of_a_missing_pull_request_are_not_found() -> TestResult {
    let fake = fake_with_pull_request()?;
    let error = github(&fake, QUICK)?
        .reviews(&repo()?, 99)
        .await
        .err()
        .ok_or("pull request 99 does not exist")?;
    assert_eq!(error.kind, ForgeErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "could not list reviews of `octo-org/infra#99`: HTTP 404: Not Found"
    );
    Ok(())
}

#[tokio::test]
async fn only_an_active_team_membership_counts() -> TestResult {
    let fake = FakeGitHub::start()?;
    fake.add_team_member("octo-org", "platform", "ana", "active");
    fake.add_team_member("octo-org", "platform", "bo", "pending");
    fake.add_team_member("octo-org", "security", "cy", "active");
    let forge = github(&fake, QUICK)?;

    let cases = [
        ("platform", "ana", true),
        ("platform", "bo", false),
        ("platform", "cy", false),
        ("platform", "stranger", false),
        ("no-such-team", "ana", false),
    ];
    for (team, user, member) in cases {
        assert_eq!(
            forge.team_member("octo-org", team, user).await?,
            member,
            "{user} in {team}"
        );
    }
    let requests = fake.requests();
    let answers: Vec<(&str, u16)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        answers,
        vec![
            ("/orgs/octo-org/teams/platform/memberships/ana", 200),
            ("/orgs/octo-org/teams/platform/memberships/bo", 200),
            ("/orgs/octo-org/teams/platform/memberships/cy", 404),
            ("/orgs/octo-org/teams/platform/memberships/stranger", 404),
            ("/orgs/octo-org/teams/no-such-team/memberships/ana", 404),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_team_membership_lookup_that_is_forbidden_is_an_error() -> TestResult {
    let fake = FakeGitHub::start()?;
    fake.inject(Fault::new(
        "GET",
        "/memberships/",
        FaultKind::Forbidden {
            reset_at: unix_now() + 3600,
        },
    ));
    let error = github(&fake, QUICK)?
        .team_member("octo-org", "platform", "ana")
        .await
        .err()
        .ok_or("a rate limit is not a no")?;
    assert!(matches!(error.kind, ForgeErrorKind::RateLimited { .. }));
    assert!(
        error
            .to_string()
            .starts_with("could not read the team membership of `ana in octo-org/platform`"),
        "{error}"
    );
    Ok(())
}

fn new_deployment(sha: &str, environment: &str, production: bool) -> NewDeployment {
    NewDeployment {
        sha: sha.to_owned(),
        environment: environment.to_owned(),
        description: format!("strata apply {environment}"),
        production,
        payload: serde_json::json!({ "run": 42, "stacks": ["network", "database"] }),
    }
}

#[tokio::test]
async fn a_deployment_and_its_statuses_show_on_the_repository() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let sha = "d".repeat(40);

    let id = forge
        .create_deployment(&repo()?, &new_deployment(&sha, "prod", true))
        .await?;
    forge
        .set_deployment_status(
            &repo()?,
            id,
            DeploymentState::Queued,
            "waiting for the lock",
            None,
        )
        .await?;
    forge
        .set_deployment_status(
            &repo()?,
            id,
            DeploymentState::InProgress,
            "wave 1 of 2",
            Some("https://strata.example/runs/42"),
        )
        .await?;
    forge
        .set_deployment_status(&repo()?, id, DeploymentState::Success, "2 stacks", None)
        .await?;

    let status = |state: &str, description: &str| (state.to_owned(), description.to_owned());
    assert_eq!(
        fake.deployments(&repo()?),
        vec![FakeDeployment {
            id: id.0,
            sha: sha.clone(),
            environment: "prod".to_owned(),
            description: "strata apply prod".to_owned(),
            production: true,
            payload: serde_json::json!({ "run": 42, "stacks": ["network", "database"] }),
            statuses: vec![
                status("queued", "waiting for the lock"),
                status("in_progress", "wave 1 of 2"),
                status("success", "2 stacks"),
            ],
        }]
    );
    let requests = fake.requests();
    let create = requests
        .iter()
        .find(|r| r.is("POST", "/repos/octo-org/infra/deployments"))
        .and_then(|r| r.json())
        .ok_or("the deployment was posted")?;
    assert_eq!(
        create,
        serde_json::json!({
            "ref": sha,
            "environment": "prod",
            "description": "strata apply prod",
            "auto_merge": false,
            "required_contexts": [],
            "production_environment": true,
            "transient_environment": false,
            "payload": { "run": 42, "stacks": ["network", "database"] },
        })
    );
    let statuses: Vec<serde_json::Value> = requests
        .iter()
        .filter(|r| r.is("POST", &format!("/deployments/{id}/statuses")))
        .filter_map(|r| r.json())
        .collect();
    assert_eq!(
        statuses.get(1),
        Some(&serde_json::json!({
            "state": "in_progress",
            "description": "wave 1 of 2",
            "log_url": "https://strata.example/runs/42",
            "auto_inactive": true,
        }))
    );
    assert_eq!(
        statuses.first().and_then(|s| s.get("log_url")),
        None,
        "no log URL is sent when there is none"
    );
    Ok(())
}

#[tokio::test]
async fn deployment_status_descriptions_are_cut_to_140_characters() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let id = forge
        .create_deployment(&repo()?, &new_deployment(&"d".repeat(40), "dev", false))
        .await?;
    let long = "stack `database` failed: ".repeat(10);

    forge
        .set_deployment_status(&repo()?, id, DeploymentState::Failure, &long, None)
        .await?;

    let deployments = fake.deployments(&repo()?);
    let (state, description) = deployments
        .first()
        .and_then(|d| d.statuses.first())
        .cloned()
        .ok_or("the status is stored")?;
    assert_eq!(state, "failure");
    assert_eq!(description.chars().count(), 140);
    assert!(description.ends_with('…'));
    assert!(long.starts_with(description.trim_end_matches('…')));
    Ok(())
}

#[tokio::test]
async fn a_successful_deployment_retires_the_previous_one_of_its_environment() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let mut ids = Vec::new();
    for (sha, environment) in [("1", "dev"), ("2", "prod"), ("3", "dev")] {
        let production = environment == "prod";
        let deployment = new_deployment(&sha.repeat(40), environment, production);
        let id = forge.create_deployment(&repo()?, &deployment).await?;
        forge
            .set_deployment_status(&repo()?, id, DeploymentState::Success, "done", None)
            .await?;
        ids.push(id);
    }

    let states: Vec<(String, Vec<String>)> = fake
        .deployments(&repo()?)
        .into_iter()
        .map(|d| {
            let states = d.statuses.into_iter().map(|(state, _)| state).collect();
            (d.environment, states)
        })
        .collect();
    let owned = |environment: &str, states: &[&str]| {
        let states = states.iter().map(|s| (*s).to_owned()).collect();
        (environment.to_owned(), states)
    };
    assert_eq!(
        states,
        vec![
            owned("dev", &["success", "inactive"]),
            owned("prod", &["success"]),
            owned("dev", &["success"]),
        ]
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    Ok(())
}

#[tokio::test]
async fn a_status_for_an_unknown_deployment_is_not_found() -> TestResult {
    let fake = fake_with_pull_request()?;
    let error = github(&fake, QUICK)?
        .set_deployment_status(
            &repo()?,
            DeploymentId(4242),
            DeploymentState::Success,
            "done",
            None,
        )
        .await
        .err()
        .ok_or("deployment 4242 does not exist")?;
    assert_eq!(error.kind, ForgeErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "could not set the status of `deployment 4242 in octo-org/infra`: HTTP 404: Not Found"
    );
    Ok(())
}

#[tokio::test]
async fn a_502_on_a_new_deployment_is_not_sent_again() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.inject(Fault::new("POST", "/deployments", FaultKind::BadGateway));
    let error = github(&fake, QUICK)?
        .create_deployment(&repo()?, &new_deployment(&"d".repeat(40), "prod", true))
        .await
        .err()
        .ok_or("a 502 must be reported")?;
    assert_eq!(error.kind, ForgeErrorKind::Transient);
    assert_eq!(fake.deployments(&repo()?).len(), 1, "GitHub stored it");
    assert_eq!(fake.requests().len(), 1, "exactly one POST");
    Ok(())
}

#[tokio::test]
async fn a_new_deployment_is_retried_after_a_429() -> TestResult {
    let fake = fake_with_pull_request()?;
    fake.inject(Fault::new(
        "POST",
        "/deployments",
        FaultKind::TooManyRequests {
            retry_after_secs: 0,
        },
    ));
    let id = github(&fake, QUICK)?
        .create_deployment(&repo()?, &new_deployment(&"d".repeat(40), "prod", true))
        .await?;
    let ids: Vec<u64> = fake.deployments(&repo()?).iter().map(|d| d.id).collect();
    assert_eq!(ids, vec![id.0]);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 201]);
    Ok(())
}

#[tokio::test]
async fn a_commit_leads_back_to_the_pull_requests_it_merged() -> TestResult {
    let fake = FakeGitHub::start()?;
    let merge = "e".repeat(40);
    let rebased = "f".repeat(40);
    let seeds = [
        (3, Some(merge.clone()), "3".repeat(40), true),
        (4, None, rebased.clone(), true),
        (5, None, merge.clone(), false),
    ];
    for (number, merge_commit_sha, head_sha, merged) in seeds {
        fake.add_pull_request(
            &repo()?,
            PullRequestSeed {
                number,
                merge_commit_sha,
                head_sha,
                merged,
                open: !merged,
                ..PullRequestSeed::default()
            },
        );
    }
    fake.link_commit(&repo()?, &merge, 9);
    let forge = github(&fake, QUICK)?;

    assert_eq!(forge.pulls_of_commit(&repo()?, &merge).await?, vec![3, 9]);
    assert_eq!(forge.pulls_of_commit(&repo()?, &rebased).await?, vec![4]);
    assert_eq!(
        forge.pulls_of_commit(&repo()?, &"0".repeat(40)).await?,
        Vec::<u64>::new(),
        "a direct push came from no pull request"
    );
    assert!(
        fake.requests()
            .first()
            .is_some_and(|r| r.path == format!("/repos/octo-org/infra/commits/{merge}/pulls"))
    );
    Ok(())
}

#[tokio::test]
async fn checks_gather_statuses_and_check_runs() -> TestResult {
    let fake = fake_with_pull_request()?;
    let forge = github(&fake, QUICK)?;
    let sha = "a".repeat(40);
    forge
        .set_status(
            &repo()?,
            &sha,
            "strata/prod",
            StatusState::Pending,
            "planning",
            None,
        )
        .await?;
    forge
        .set_status(
            &repo()?,
            &sha,
            "strata/prod",
            StatusState::Success,
            "planned",
            None,
        )
        .await?;
    fake.add_status(&repo()?, &sha, "ci/lint", "error");
    fake.add_status(&repo()?, &sha, "ci/docs", "pending");
    fake.add_check_run(&repo()?, &sha, "build", "completed", Some("success"));
    fake.add_check_run(&repo()?, &sha, "test", "completed", Some("failure"));
    fake.add_check_run(&repo()?, &sha, "test", "in_progress", None);
    fake.add_check_run(&repo()?, &sha, "audit", "completed", Some("skipped"));
    fake.add_check_run(&repo()?, &sha, "e2e", "completed", Some("timed_out"));
    fake.add_check_run(&repo()?, &"b".repeat(40), "build", "queued", None);

    let checks = forge.checks(&repo()?, &sha).await?;

    let check = |name: &str, state| Check {
        name: name.to_owned(),
        state,
    };
    assert_eq!(
        checks,
        vec![
            check("strata/prod", CheckState::Success),
            check("ci/lint", CheckState::Failure),
            check("ci/docs", CheckState::Pending),
            check("build", CheckState::Success),
            check("test", CheckState::Pending),
            check("audit", CheckState::Success),
            check("e2e", CheckState::Failure),
        ]
    );
    assert!(
        forge.checks(&repo()?, &"c".repeat(40)).await?.is_empty(),
        "a commit nobody checked has no checks"
    );
    Ok(())
}

#[tokio::test]
async fn checks_are_read_across_pages() -> TestResult {
    let fake = fake_with_pull_request()?;
    let sha = "a".repeat(40);
    for n in 0..120 {
        fake.add_status(&repo()?, &sha, &format!("ci/status-{n}"), "success");
        fake.add_check_run(
            &repo()?,
            &sha,
            &format!("run-{n}"),
            "completed",
            Some("success"),
        );
    }

    let checks = github(&fake, QUICK)?.checks(&repo()?, &sha).await?;

    assert_eq!(checks.len(), 240);
    assert_eq!(
        checks.get(119).map(|c| c.name.as_str()),
        Some("ci/status-119")
    );
    assert_eq!(checks.last().map(|c| c.name.as_str()), Some("run-119"));
    let requests = fake.requests();
    let queries: Vec<(&str, Option<&str>)> = requests
        .iter()
        .map(|r| (r.path.rsplit('/').next().unwrap_or(""), r.query.as_deref()))
        .collect();
    assert_eq!(
        queries,
        vec![
            ("status", Some("per_page=100")),
            ("status", Some("per_page=100&page=2")),
            ("check-runs", Some("filter=latest&per_page=100")),
            ("check-runs", Some("filter=latest&per_page=100&page=2")),
        ]
    );
    Ok(())
}

/// Sends one HTTP/1.1 request with a token over a plain socket and returns
/// the whole reply.
fn raw_request(fake: &FakeGitHub, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let headers = format!(
        "Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    exchange(
        fake,
        &format!("{method} {path} HTTP/1.1\r\n{headers}"),
        body,
    )
}

fn raw_request_without_auth(
    fake: &FakeGitHub,
    method: &str,
    path: &str,
) -> std::io::Result<String> {
    exchange(fake, &format!("{method} {path} HTTP/1.1\r\n"), "")
}

fn exchange(fake: &FakeGitHub, head: &str, body: &str) -> std::io::Result<String> {
    let authority = fake
        .url()
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{head}Host: {authority}\r\nConnection: close\r\n\r\n{body}"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The `id` in a raw reply's JSON body.
fn deployment_id_in(reply: &str) -> Option<u64> {
    let (_, body) = reply.split_once("\r\n\r\n")?;
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get("id")?
        .as_u64()
}

#[tokio::test]
async fn a_drift_issue_is_opened_once_edited_in_place_and_closed_with_a_comment() -> TestResult {
    let fake = fake_with_pull_request()?;
    let github = github(&fake, QUICK)?;
    let repo = repo()?;
    let marker = "<!-- strata:drift prod -->";
    let body = |text: &str| format!("{marker}\n{text}");

    let opened = github
        .upsert_issue(&repo, marker, "Drift in `prod`", &body("1 stack"))
        .await?;
    assert!(opened.number > 7, "issues and pull requests share numbers");
    assert!(opened.url.ends_with(&format!("/issues/{}", opened.number)));
    let edited = github
        .upsert_issue(&repo, marker, "Drift in `prod`", &body("2 stacks"))
        .await?;
    assert_eq!(edited, opened);
    let issues = fake.issues(&repo);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].body, body("2 stacks"));

    let closed = github
        .close_issue(&repo, marker, "The drift cleared.")
        .await?;
    assert_eq!(closed, Some(opened.clone()));
    assert_eq!(fake.issues(&repo)[0].state, "closed");
    assert_eq!(
        fake.comments(&repo, opened.number)
            .iter()
            .map(|c| c.body.as_str())
            .collect::<Vec<_>>(),
        ["The drift cleared."]
    );
    // Nothing open any more: nothing to close, and new drift is a new issue.
    assert_eq!(github.close_issue(&repo, marker, "again").await?, None);
    let reopened = github
        .upsert_issue(&repo, marker, "Drift in `prod`", &body("back"))
        .await?;
    assert_ne!(reopened.number, opened.number);
    Ok(())
}

#[tokio::test]
async fn an_issue_body_without_its_marker_is_refused_before_any_request() -> TestResult {
    let fake = fake_with_pull_request()?;
    let github = github(&fake, QUICK)?;
    let error = github
        .upsert_issue(&repo()?, "<!-- strata:drift prod -->", "Drift", "no marker")
        .await
        .err()
        .ok_or("a body without its marker was accepted")?;
    assert_eq!(error.kind, ForgeErrorKind::Invalid);
    assert!(fake.issues(&repo()?).is_empty());
    Ok(())
}
