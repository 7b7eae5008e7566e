//! The webhook front door from the outside: GitHub's signature test vector,
//! the real payloads vendored in `tests/fixtures/webhooks/` read into events,
//! `/strata` commands, and the listener on a real 127.0.0.1 port, spoken to in
//! raw HTTP/1.1 over a `TcpStream`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata::server::command::{Command, CommandError};
use strata::server::http::{Front, Job, MemoryDeliveries, serve};
use strata::server::webhook::{
    CommentAction, CommentEvent, Event, PrAction, PullRequestEvent, PushEvent, RepoInfo,
    SignatureError, sign, verify_signature,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The secret the listener under test is configured with.
const SECRET: &[u8] = b"a secret shared with GitHub";

/// How long any one exchange with the listener may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/webhooks")
            .join(name),
    )
}

// ---------------------------------------------------------------- signatures

#[test]
fn githubs_test_vector_verifies() -> TestResult {
    let secret = b"It's a Secret to Everybody";
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(sign(secret, body), expected);
    verify_signature(secret, body, Some(expected))?;
    Ok(())
}

#[test]
fn a_one_byte_change_to_the_body_breaks_the_signature() -> TestResult {
    let body = fixture("pull_request.opened.json")?;
    let signature = sign(SECRET, &body);
    verify_signature(SECRET, &body, Some(&signature))?;
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] ^= 1;
    assert_eq!(
        verify_signature(SECRET, &changed, Some(&signature)),
        Err(SignatureError::Mismatch)
    );
    Ok(())
}

#[test]
fn a_one_digit_change_to_the_signature_breaks_it() {
    let signature = sign(SECRET, b"{}");
    let flipped: String = signature
        .char_indices()
        .map(|(i, c)| match (i, c) {
            (10, '0') => '1',
            (10, _) => '0',
            _ => c,
        })
        .collect();
    assert_ne!(flipped, signature);
    assert_eq!(
        verify_signature(SECRET, b"{}", Some(&flipped)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn another_secret_or_no_signature_is_refused() {
    let body = b"{\"zen\":\"Design for failure.\",\"hook_id\":1}";
    assert_eq!(
        verify_signature(SECRET, body, Some(&sign(b"not the secret", body))),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(SECRET, body, None),
        Err(SignatureError::Missing)
    );
}

// ---------------------------------------------------------------- events

fn hello_world(default_branch: &str) -> RepoInfo {
    RepoInfo {
        full_name: "Codertocat/Hello-World".to_owned(),
        owner: "Codertocat".to_owned(),
        name: "Hello-World".to_owned(),
        clone_url: "https://github.com/Codertocat/Hello-World.git".to_owned(),
        default_branch: default_branch.to_owned(),
        html_url: "https://github.com/Codertocat/Hello-World".to_owned(),
    }
}

/// Pull request 2 of `Codertocat/Hello-World`, as every `pull_request`
/// fixture has it.
fn pull_request_2(action: PrAction, merged: bool) -> Event {
    Event::PullRequest(PullRequestEvent {
        action,
        number: 2,
        merged,
        head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821".to_owned(),
        head_ref: "changes".to_owned(),
        base_ref: "master".to_owned(),
        repo: hello_world("master"),
        html_url: "https://github.com/Codertocat/Hello-World/pull/2".to_owned(),
        sender: "Codertocat".to_owned(),
        head_repo_full_name: Some("Codertocat/Hello-World".to_owned()),
        installation_id: Some(1),
    })
}

fn comment_on_1(body: &str, is_pull_request: bool) -> Event {
    Event::IssueComment(CommentEvent {
        action: CommentAction::Created,
        pr_number: 1,
        is_pull_request,
        comment_id: 492_700_400,
        body: body.to_owned(),
        user: "Codertocat".to_owned(),
        repo: hello_world("master"),
        installation_id: Some(1),
    })
}

/// Every vendored payload, the event it is delivered as, and what it reads as.
fn fixtures() -> Vec<(&'static str, &'static str, Event)> {
    vec![
        (
            "pull_request.opened.json",
            "pull_request",
            pull_request_2(PrAction::Opened, false),
        ),
        (
            "pull_request.synchronize.json",
            "pull_request",
            pull_request_2(PrAction::Synchronize, false),
        ),
        (
            "pull_request.reopened.json",
            "pull_request",
            pull_request_2(PrAction::Reopened, false),
        ),
        (
            "pull_request.closed.json",
            "pull_request",
            pull_request_2(PrAction::Closed, false),
        ),
        (
            "pull_request.closed.merged.derived.json",
            "pull_request",
            pull_request_2(PrAction::Closed, true),
        ),
        (
            "issue_comment.created.json",
            "issue_comment",
            comment_on_1(
                "You are totally right! I'll get this fixed right away.",
                false,
            ),
        ),
        (
            "issue_comment.created.pull_request.derived.json",
            "issue_comment",
            comment_on_1("/strata apply prod", true),
        ),
        (
            "push.json",
            "push",
            Event::Push(PushEvent {
                git_ref: "refs/heads/master".to_owned(),
                before: "0000000000000000000000000000000000000000".to_owned(),
                after: "6113728f27ae82c7b1a177c8d03f9e96e0adf246".to_owned(),
                created: true,
                deleted: false,
                repo: hello_world("master"),
                pusher: "Codertocat".to_owned(),
                installation_id: Some(1),
            }),
        ),
        (
            "push.default_branch.derived.json",
            "push",
            Event::Push(PushEvent {
                git_ref: "refs/heads/main".to_owned(),
                before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e".to_owned(),
                after: "c4295bd74fb0f4fda03689c3df3f2803b658fd85".to_owned(),
                created: false,
                deleted: false,
                repo: hello_world("main"),
                pusher: "Codertocat".to_owned(),
                installation_id: Some(1),
            }),
        ),
        (
            "ping.json",
            "ping",
            Event::Ping {
                zen: "Anything added dilutes everything else.".to_owned(),
                hook_id: 109_948_940,
            },
        ),
    ]
}

#[test]
fn every_fixture_parses_into_the_expected_event() -> TestResult {
    for (file, name, expected) in fixtures() {
        let event = Event::parse(name, &fixture(file)?).map_err(|e| format!("{file}: {e}"))?;
        assert_eq!(event, expected, "{file}");
        assert_eq!(event.name(), name, "{file}");
    }
    Ok(())
}

#[test]
fn every_json_file_in_the_fixture_directory_is_covered() -> TestResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/webhooks");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    on_disk.retain(|name| name.ends_with(".json"));
    on_disk.sort();
    let mut covered: Vec<String> = fixtures()
        .into_iter()
        .map(|(file, ..)| file.to_owned())
        .collect();
    covered.sort();
    assert_eq!(on_disk, covered);
    Ok(())
}

#[test]
fn pull_request_changes_are_actionable_and_other_pull_request_actions_are_not() -> TestResult {
    for file in [
        "pull_request.opened.json",
        "pull_request.synchronize.json",
        "pull_request.reopened.json",
        "pull_request.closed.json",
        "pull_request.closed.merged.derived.json",
    ] {
        let event = Event::parse("pull_request", &fixture(file)?)?;
        assert!(event.is_actionable(), "{file}");
    }
    let mut labeled: serde_json::Value =
        serde_json::from_slice(&fixture("pull_request.opened.json")?)?;
    labeled["action"] = "labeled".into();
    let event = Event::parse("pull_request", &serde_json::to_vec(&labeled)?)?;
    assert_eq!(
        event.ignored_because().as_deref(),
        Some("pull request action `labeled`")
    );
    Ok(())
}

#[test]
fn a_strata_comment_on_a_pull_request_is_a_command_and_one_on_an_issue_is_not() -> TestResult {
    let on_pr = Event::parse(
        "issue_comment",
        &fixture("issue_comment.created.pull_request.derived.json")?,
    )?;
    assert!(on_pr.is_actionable());
    let Event::IssueComment(comment) = &on_pr else {
        return Err(format!("expected a comment, got {on_pr:?}").into());
    };
    assert_eq!(
        Command::parse(&comment.body),
        Ok(Some(Command::Apply(Some("prod".to_owned()))))
    );

    let on_issue = Event::parse("issue_comment", &fixture("issue_comment.created.json")?)?;
    assert_eq!(
        on_issue.ignored_because().as_deref(),
        Some("comment on issue #1, not a pull request")
    );
    Ok(())
}

#[test]
fn pushes_to_the_default_branch_are_actionable_and_tags_are_not() -> TestResult {
    let derived = Event::parse("push", &fixture("push.default_branch.derived.json")?)?;
    let Event::Push(push) = &derived else {
        return Err(format!("expected a push, got {derived:?}").into());
    };
    assert!(push.is_default_branch());
    assert!(derived.is_actionable());

    let mut tag: serde_json::Value = serde_json::from_slice(&fixture("push.json")?)?;
    tag["ref"] = "refs/tags/v1.0.0".into();
    let event = Event::parse("push", &serde_json::to_vec(&tag)?)?;
    assert_eq!(
        event.ignored_because().as_deref(),
        Some("push to `refs/tags/v1.0.0`, not the default branch `master`")
    );
    Ok(())
}

#[test]
fn a_payload_missing_a_field_names_it() -> TestResult {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&fixture("pull_request.synchronize.json")?)?;
    payload["pull_request"]["head"]
        .as_object_mut()
        .ok_or("no head")?
        .remove("sha");
    let error = Event::parse("pull_request", &serde_json::to_vec(&payload)?)
        .err()
        .ok_or("parsed without a head sha")?;
    assert_eq!(
        error.to_string(),
        "`pull_request` payload has no `pull_request.head.sha`"
    );
    Ok(())
}

// ---------------------------------------------------------------- commands

#[test]
fn strata_apply_prod_is_an_apply_of_prod() {
    assert_eq!(
        Command::parse("/strata apply prod"),
        Ok(Some(Command::Apply(Some("prod".to_owned()))))
    );
}

#[test]
fn strata_help_is_help() {
    assert_eq!(Command::parse("/strata help"), Ok(Some(Command::Help)));
}

#[test]
fn strata_aply_suggests_apply() {
    let error = Command::parse("/strata aply prod");
    assert_eq!(
        error,
        Err(CommandError::UnknownSubcommand {
            given: "aply".to_owned()
        })
    );
    let reply = error.err().map(|e| e.reply()).unwrap_or_default();
    assert!(reply.contains("did you mean `apply`?"), "{reply}");
    assert!(reply.contains("`/strata plan [ENV]`"), "{reply}");
}

// ---------------------------------------------------------------- listener

/// A listener on a free 127.0.0.1 port, its job queue's receiving end, and
/// the handle to stop it.
struct Listener {
    addr: SocketAddr,
    jobs: mpsc::Receiver<Job>,
    deliveries: Arc<MemoryDeliveries>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Listener {
    async fn start() -> std::io::Result<Self> {
        Self::with(Front::DEFAULT_MAX_BODY, 16).await
    }

    async fn with(max_body: usize, queue: usize) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, jobs) = mpsc::channel(queue);
        let deliveries = Arc::new(MemoryDeliveries::default());
        let mut front = Front::new(SECRET, Arc::clone(&deliveries) as _, sender);
        front.max_body = max_body;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, Arc::new(front), shutdown.clone()));
        Ok(Self {
            addr,
            jobs,
            deliveries,
            shutdown,
            task,
        })
    }

    async fn send(&self, request: &[u8]) -> Result<Reply, Box<dyn std::error::Error>> {
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.write_all(request).await?;
        Reply::read(stream).await
    }

    /// The one job queued so far; an error if there is none or more.
    fn only_job(&mut self) -> Result<Job, Box<dyn std::error::Error>> {
        let job = self.jobs.try_recv()?;
        self.assert_no_job()?;
        Ok(job)
    }

    /// Nothing queued (or the listener is gone, and with it the sender).
    fn assert_no_job(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        match self.jobs.try_recv() {
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Ok(()),
            other => Err(format!("expected no job, got {other:?}").into()),
        }
    }

    /// Cancel, and wait for `serve` to return.
    async fn stop(self) -> TestResult {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.task).await??;
        Ok(())
    }
}

/// An HTTP response, read to the end of the connection.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    async fn read(mut stream: TcpStream) -> Result<Self, Box<dyn std::error::Error>> {
        let mut raw = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await??;
        let text = String::from_utf8(raw)?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no end of headers in {text:?}"))?;
        let status = head
            .split(' ')
            .nth(1)
            .ok_or_else(|| format!("no status in {head:?}"))?
            .parse()?;
        Ok(Self {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        })
    }

    /// A header's value (names compared ignoring case).
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A raw HTTP/1.1 request; `Connection: close`, so the reply ends the stream.
struct Post {
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Post {
    /// A delivery as GitHub sends it: JSON, signed with [`SECRET`].
    fn delivery(event: &str, id: &str, body: Vec<u8>) -> Self {
        let signature = sign(SECRET, &body);
        Self {
            method: "POST",
            path: "/webhook",
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("User-Agent".to_owned(), "GitHub-Hookshot/test".to_owned()),
                ("X-GitHub-Event".to_owned(), event.to_owned()),
                ("X-GitHub-Delivery".to_owned(), id.to_owned()),
                ("X-Hub-Signature-256".to_owned(), signature),
            ],
            body,
        }
    }

    fn get(path: &'static str) -> Self {
        Self {
            method: "GET",
            path,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn to(mut self, method: &'static str, path: &'static str) -> Self {
        self.method = method;
        self.path = path;
        self
    }

    /// Set a header, replacing any of the same name.
    fn header(mut self, name: &str, value: &str) -> Self {
        self = self.without(name);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self
    }

    /// Headers (ending in the blank line) without `Content-Length` or body.
    fn head(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.into_bytes()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut request = self.head();
        request
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        request.extend_from_slice(&self.body);
        request
    }
}

fn opened(id: &str) -> Result<Post, std::io::Error> {
    Ok(Post::delivery(
        "pull_request",
        id,
        fixture("pull_request.opened.json")?,
    ))
}

#[tokio::test]
async fn a_signed_pull_request_is_queued_and_answered_202() -> TestResult {
    let mut listener = Listener::start().await?;
    let reply = listener.send(&opened("delivery-1")?.bytes()).await?;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(
        reply.body,
        "queued: pull_request `opened` Codertocat/Hello-World#2\n"
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let job = listener.only_job()?;
    assert_eq!(job.delivery, "delivery-1");
    assert_eq!(job.event, pull_request_2(PrAction::Opened, false));
    listener.stop().await
}

#[tokio::test]
async fn the_root_path_takes_deliveries_too() -> TestResult {
    let mut listener = Listener::start().await?;
    let reply = listener
        .send(&opened("delivery-root")?.to("POST", "/").bytes())
        .await?;
    assert_eq!(reply.status, 202, "{reply:?}");
    listener.only_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_forged_signature_is_refused_with_401_and_queues_nothing() -> TestResult {
    let mut listener = Listener::start().await?;
    let body = fixture("pull_request.opened.json")?;
    let forged = Post::delivery("pull_request", "forged", body.clone())
        .header("X-Hub-Signature-256", &sign(b"a guess", &body));
    let reply = listener.send(&forged.bytes()).await?;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(
        reply
            .body
            .starts_with("`X-Hub-Signature-256` does not match the body\n")
    );

    let unsigned = Post::delivery("pull_request", "unsigned", body).without("X-Hub-Signature-256");
    let reply = listener.send(&unsigned.bytes()).await?;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(
        reply
            .body
            .starts_with("missing `X-Hub-Signature-256` header\n")
    );

    listener.assert_no_job()?;
    assert!(listener.deliveries.is_empty());
    listener.stop().await
}

#[tokio::test]
async fn a_replayed_delivery_is_answered_200_and_not_queued_again() -> TestResult {
    let mut listener = Listener::start().await?;
    let first = listener.send(&opened("same-id")?.bytes()).await?;
    assert_eq!(first.status, 202, "{first:?}");
    let again = listener.send(&opened("same-id")?.bytes()).await?;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body, "already handled: delivery `same-id`\n");
    listener.only_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_content_length_over_the_cap_is_refused_with_413_before_the_body_arrives() -> TestResult {
    let mut listener = Listener::with(1024, 16).await?;
    // Announce 4 KiB and send none of it: a listener that read the body
    // first would wait for it and this test would time out.
    let mut request = opened("too-long")?.head();
    request.extend_from_slice(b"Content-Length: 4096\r\n\r\n");
    let reply = listener.send(&request).await?;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.body, "body larger than 1024 bytes\n");
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_chunked_body_streaming_past_the_cap_is_refused_with_413() -> TestResult {
    let mut listener = Listener::with(256, 16).await?;
    let mut request = Post::delivery("pull_request", "streamed", Vec::new()).head();
    request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for _ in 0..4 {
        request.extend_from_slice(b"80\r\n");
        request.extend_from_slice(&[b' '; 0x80]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let reply = listener.send(&request).await?;
    assert_eq!(reply.status, 413, "{reply:?}");
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_body_exactly_at_the_cap_is_read() -> TestResult {
    let body = fixture("pull_request.opened.json")?;
    let mut listener = Listener::with(body.len(), 16).await?;
    let reply = listener
        .send(&Post::delivery("pull_request", "at-cap", body).bytes())
        .await?;
    assert_eq!(reply.status, 202, "{reply:?}");
    listener.only_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_form_encoded_delivery_is_refused_with_415_saying_to_use_json() -> TestResult {
    let mut listener = Listener::start().await?;
    let form = Post::delivery("ping", "form", b"payload=%7B%7D".to_vec())
        .header("Content-Type", "application/x-www-form-urlencoded");
    let reply = listener.send(&form.bytes()).await?;
    assert_eq!(reply.status, 415, "{reply:?}");
    assert!(
        reply
            .body
            .contains("set the webhook's content type to `application/json`"),
        "{}",
        reply.body
    );
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn an_unrelated_event_is_answered_200_ignored() -> TestResult {
    let mut listener = Listener::start().await?;
    let star = Post::delivery(
        "star",
        "star-1",
        br#"{"action":"created","starred_at":"2019-05-15T15:20:40Z"}"#.to_vec(),
    );
    let reply = listener.send(&star.bytes()).await?;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ignored: event `star`\n");
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_comment_on_an_issue_is_ignored_and_a_command_on_a_pull_request_is_queued() -> TestResult
{
    let mut listener = Listener::start().await?;
    let on_issue = Post::delivery(
        "issue_comment",
        "comment-issue",
        fixture("issue_comment.created.json")?,
    );
    let reply = listener.send(&on_issue.bytes()).await?;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        "ignored: comment on issue #1, not a pull request\n"
    );
    listener.assert_no_job()?;

    let on_pr = Post::delivery(
        "issue_comment",
        "comment-pr",
        fixture("issue_comment.created.pull_request.derived.json")?,
    );
    let reply = listener.send(&on_pr.bytes()).await?;
    assert_eq!(reply.status, 202, "{reply:?}");
    let job = listener.only_job()?;
    assert_eq!(job.event, comment_on_1("/strata apply prod", true));
    listener.stop().await
}

#[tokio::test]
async fn a_ping_is_answered_pong() -> TestResult {
    let mut listener = Listener::start().await?;
    let reply = listener
        .send(&Post::delivery("ping", "ping-1", fixture("ping.json")?).bytes())
        .await?;
    assert_eq!((reply.status, reply.body.as_str()), (200, "pong\n"));
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn missing_github_headers_are_a_400() -> TestResult {
    let mut listener = Listener::start().await?;
    for header in ["X-GitHub-Event", "X-GitHub-Delivery"] {
        let reply = listener
            .send(&opened("no-header")?.without(header).bytes())
            .await?;
        assert_eq!(reply.status, 400, "{header}: {reply:?}");
        assert_eq!(reply.body, format!("missing `{header}` header\n"));
    }
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_signed_payload_missing_a_field_is_a_400_naming_it() -> TestResult {
    let mut listener = Listener::start().await?;
    let reply = listener
        .send(
            &Post::delivery(
                "pull_request",
                "partial",
                br#"{"action":"opened"}"#.to_vec(),
            )
            .bytes(),
        )
        .await?;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body, "`pull_request` payload has no `number`\n");
    listener.assert_no_job()?;
    listener.stop().await
}

#[tokio::test]
async fn a_full_queue_is_a_503_and_the_redelivery_runs_once_there_is_room() -> TestResult {
    let mut listener = Listener::with(Front::DEFAULT_MAX_BODY, 1).await?;
    let synchronize = Post::delivery(
        "pull_request",
        "second",
        fixture("pull_request.synchronize.json")?,
    );
    assert_eq!(listener.send(&opened("first")?.bytes()).await?.status, 202);
    let busy = listener.send(&synchronize.bytes()).await?;
    assert_eq!(busy.status, 503, "{busy:?}");
    assert_eq!(busy.header("retry-after"), Some("30"));

    assert_eq!(listener.only_job()?.delivery, "first");
    let redelivered = listener.send(&synchronize.bytes()).await?;
    assert_eq!(redelivered.status, 202, "{redelivered:?}");
    assert_eq!(listener.only_job()?.delivery, "second");
    listener.stop().await
}

#[tokio::test]
async fn health_routes_and_methods_answer_as_http_says() -> TestResult {
    let listener = Listener::start().await?;
    let health = listener.send(&Post::get("/healthz").bytes()).await?;
    assert_eq!(
        (health.status, health.body.as_str()),
        (
            200,
            "{\"database\":\"not checked\",\"status\":\"ok\",\"watch\":\"ok\"}\n"
        )
    );

    let get_webhook = listener.send(&Post::get("/webhook").bytes()).await?;
    assert_eq!(get_webhook.status, 405, "{get_webhook:?}");
    assert_eq!(get_webhook.header("allow"), Some("POST"));

    let elsewhere = listener
        .send(&opened("elsewhere")?.to("POST", "/hooks").bytes())
        .await?;
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    assert_eq!(elsewhere.body, "no route `/hooks`\n");
    listener.stop().await
}

#[tokio::test]
async fn shutdown_stops_accepting_and_closes_idle_connections() -> TestResult {
    let listener = Listener::start().await?;
    let addr = listener.addr;
    assert_eq!(
        listener.send(&Post::get("/healthz").bytes()).await?.status,
        200
    );
    // A client that connected and said nothing must not hold the shutdown up.
    let _idle = TcpStream::connect(addr).await?;
    listener.stop().await?;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "a connection was accepted after shutdown"
    );
    Ok(())
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() -> TestResult {
    let mut listener = Listener::start().await?;
    let request = opened("in-flight")?.bytes();
    let (start, end) = request.split_at(request.len() - 16);
    let mut stream = TcpStream::connect(listener.addr).await?;
    stream.write_all(start).await?;
    // Let the listener accept the connection and start reading the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    listener.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !listener.task.is_finished(),
        "serve returned with a request still being read"
    );
    stream.write_all(end).await?;
    let reply = Reply::read(stream).await?;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(listener.only_job()?.delivery, "in-flight");
    tokio::time::timeout(PATIENCE, listener.task).await??;
    Ok(())
}

// ---------------------------------------------------------------- operations

/// The state database as `/healthz` sees it when it does not answer.
struct FailingDatabase;

impl strata::server::http::Probe for FailingDatabase {
    fn probe(&self) -> Result<(), String> {
        Err("the state database `state.db` does not answer: disk I/O error".to_owned())
    }
}

async fn get(front: &Front, path: &str) -> (u16, String, String) {
    use http_body_util::BodyExt;
    let request = hyper::Request::get(path)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("a request");
    let response = strata::server::http::respond(front, request).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
        .unwrap_or_default();
    (status, content_type, body)
}

fn front() -> Front {
    let (sender, _jobs) = mpsc::channel(1);
    Front::new(SECRET, Arc::new(MemoryDeliveries::default()), sender)
}

#[tokio::test]
async fn healthz_is_ok_while_the_database_answers_and_polls_are_recent() -> TestResult {
    let front = front().with_database(Arc::new(strata::state::State::in_memory()?));
    front
        .metrics
        .watching("acme/infra", Duration::from_secs(60));
    let (status, content_type, body) = get(&front, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(
        json,
        serde_json::json!({ "status": "ok", "database": "ok", "watch": "ok" })
    );
    Ok(())
}

#[tokio::test]
async fn healthz_is_503_with_the_reasons_when_the_database_fails_or_a_poll_is_overdue() -> TestResult
{
    let front = front().with_database(Arc::new(FailingDatabase));
    let (status, _, body) = get(&front, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(json["database"], "failing");
    assert_eq!(
        json["reasons"][0],
        "the state database `state.db` does not answer: disk I/O error"
    );

    let front = self::front();
    front
        .metrics
        .watching("acme/infra", Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, _, body) = get(&front, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(json["watch"], "failing");
    let reason = json["reasons"][0].as_str().unwrap_or_default();
    assert!(
        reason.contains("`acme/infra` has not been polled successfully"),
        "{reason}"
    );
    Ok(())
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text_format() {
    let front = front();
    let (status, content_type, body) = get(&front, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        body.contains("# TYPE strata_webhook_deliveries_total counter\n"),
        "{body}"
    );
    assert!(body.contains("strata_job_queue_depth 0\n"), "{body}");
}
