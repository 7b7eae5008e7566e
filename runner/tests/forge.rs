//! The GitHub forge against the fake GitHub: the one plan comment per pull
//! request (also across pages and after a 502), rate limits and retries,
//! GitHub's limits, permissions, approvals, GitHub Enterprise base URLs and
//! authentication. Each test starts its own fake on 127.0.0.1.

use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata::forge::fake::{FakeGitHub, Fault, FaultKind, LOGIN, PullRequestSeed};
use strata::forge::{
    Auth, CommentId, Forge, ForgeErrorKind, GitHub, GitHubConfig, Permission, PullRequestState,
    Reaction, Repo, RetryPolicy, StatusState,
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
